//! The ZeyOS data model as data.
#![forbid(unsafe_code)]
