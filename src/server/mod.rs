//! The HTTP side: routing, negotiation, and turning results and errors into
//! responses.

pub mod body;
pub mod conditional;
pub mod gateway;
pub mod negotiate;
pub mod serve;
pub mod skiptoken;
