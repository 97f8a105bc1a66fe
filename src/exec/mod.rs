//! Execution: upstream requests, residual evaluation, paging.

pub mod eval;
