//! The HTTP side: routing, negotiation, and turning results and errors into
//! responses.

pub mod negotiate;
