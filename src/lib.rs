//! zeyos-odata: an OData 4.01 gateway in front of the ZeyOS REST API.
//!
//! A request flows through stages that each turn one type into the next:
//! parse (`odata-syntax`) → bind → plan → execute → serialize. See
//! `README.md` for the architecture.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bind;
pub mod cache;
pub mod config;
pub mod edm;
pub mod error;
pub mod exec;
pub mod plan;
pub mod serialize;
pub mod server;
pub mod upstream;
pub mod values;
