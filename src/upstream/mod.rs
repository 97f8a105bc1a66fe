//! Everything that talks to ZeyOS: the filter language, list requests, the
//! HTTP client and the credential exchange.

pub mod auth;
pub mod client;
pub mod filter;
pub mod list_body;
pub mod request;
pub mod rows;

pub use auth::{Authenticator, Credential, CredentialError, Principal};
pub use client::{GetResponse, Record, Row, UpstreamClient, UpstreamError, UpstreamSettings};
pub use filter::{escape_like, Filter, Op};
pub use request::{ListRequest, SortKey};
