//! The HTTP side: routing, negotiation, and turning results and errors into
//! responses.

pub mod admission;
mod batch;
pub mod body;
pub mod conditional;
pub mod gateway;
pub mod negotiate;
mod query_in_body;
mod read_collection;
mod read_entity;
mod request;
pub mod request_metrics;
mod response;
pub mod serve;
pub mod skiptoken;
mod version;
