//! zeyos-odata: an OData 4.01 gateway in front of the ZeyOS REST API.
//!
//! A request flows through stages that each turn one type into the next:
//! parse (`odata-syntax`) → bind → plan → execute → serialize. See
//! `README.md` for the architecture.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod edm;
