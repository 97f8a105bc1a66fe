//! Planning: which part of a request ZeyOS answers and which the gateway.

pub mod casefold;
pub mod collection;
pub mod pushdown;
