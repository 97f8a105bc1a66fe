//! Execution: upstream requests, residual evaluation, paging.

pub mod collection;
pub mod eval;
pub mod expand;
pub mod feed;
pub mod items;
pub mod join_access;
pub mod semijoin;
