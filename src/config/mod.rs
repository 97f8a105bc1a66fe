//! `config.toml`: what the gateway listens on, which ZeyOS instance it
//! fronts, and which OData services it exposes.
//!
//! The file is parsed and validated once at start-up ([`Config::load`]):
//! TOML syntax, unknown keys, value ranges, URLs, identifiers, and, by
//! building every service's model, every ZeyOS entity and field name. Any
//! problem stops start-up with a [`ConfigError`] naming the file, the line
//! and the problem. After that the `Config` is shared read-only.

pub mod error;
mod raw;
pub mod service;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use error::{ConfigError, Hint, Location, Problem, Source};
pub use service::{
    BaseFilterConfig, EntitySetConfig, FilterValue, PropertyConfig, ServiceConfig, TypeOverride,
    UnsupportedConfig,
};

use crate::edm::ServiceModel;

/// The `config.toml` shipped at the repository root, embedded so that the
/// demo mode runs without a file.
pub const SHIPPED_CONFIG: &str = include_str!("../../config.toml");

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub file: String,
    /// Where the gateway accepts connections.
    pub listen: SocketAddr,
    /// Absolute URL prefix clients reach the gateway under (behind a
    /// proxy), without trailing slash; `None`: derived from each request.
    pub public_url: Option<String>,
    /// gzip/deflate level for responses to clients that accept them (1
    /// fastest .. 9 smallest; 0 never compresses). Power Query always asks
    /// for gzip, and on a 1,000-row page compressing at level 6 costs about
    /// as much CPU as translating the page, so the default is the fastest
    /// level.
    pub compression_level: u32,
    /// How long a client may take to send a request's head, and how long
    /// an idle keep-alive connection is kept waiting for the next one.
    /// Without it, clients that connect and send nothing (or a byte a
    /// minute) would hold sockets and memory for ever.
    pub header_read_timeout: Duration,
    /// On SIGTERM or Ctrl-C, how long requests already being answered may
    /// take to finish (a Power BI refresh streaming a large page, for one)
    /// before their connections are closed. New connections are refused
    /// from the start, so a load balancer sends them elsewhere.
    pub shutdown_grace: Duration,
    /// How many client requests are answered at once, counted until their
    /// response bodies are sent; one more is answered 503 with
    /// `Retry-After`. Bounds the memory that slow clients hold (a page
    /// each, decoded while they read).
    pub max_requests_in_progress: u32,
    /// The ZeyOS instance.
    pub upstream: UpstreamConfig,
    /// Server-driven paging.
    pub paging: PagingConfig,
    /// The response cache.
    pub cache: CacheConfig,
    /// Request size and complexity limits.
    pub limits: LimitsConfig,
    /// The OData services, in file order.
    pub services: Vec<ServiceConfig>,
}

/// The ZeyOS instance and how it behaves.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Scheme, host and optional path prefix, without trailing slash, e.g.
    /// `https://cloud.zeyos.com`; the API is at `{base_url}/{instance}/api/v1/`.
    pub base_url: String,
    /// The ZeyOS instance name.
    pub instance: String,
    /// The application secret sent at login, if the instance requires one.
    pub appsecret: Option<Secret>,
    /// The device identifier sent at login.
    pub identifier: String,
    /// TCP connect timeout in milliseconds.
    pub connect_timeout_ms: u64,
    /// Timeout for a whole upstream response in milliseconds.
    pub read_timeout_ms: u64,
    /// ZeyOS's largest `limit` per list request.
    pub max_limit: u32,
    /// Whether upstream string comparison and sorting is code-point order
    /// (then `$orderby`/`$filter` on strings can be pushed down exactly).
    pub string_ordering: StringOrdering,
    /// Whether ZeyOS is asked for gzip-compressed responses: a page of
    /// wide rows shrinks about sevenfold, which a link to a cloud instance
    /// feels far more than the gateway's CPU does inflating it.
    pub accept_gzip: bool,
    /// Most requests the gateway has at ZeyOS at once, whatever the number
    /// of clients: the business system behind it is protected from a crowd
    /// of refreshes. Further requests wait their turn.
    pub max_concurrent_requests: u32,
    /// How long a request waits for its turn at ZeyOS before the client
    /// gets 503 with `Retry-After`, in milliseconds.
    pub queue_timeout_ms: u64,
    /// Login token caching.
    pub auth: AuthConfig,
}

/// How the upstream orders strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringOrdering {
    /// By Unicode code point, as OData specifies.
    Binary,
    /// By a locale collation: string order and ranges are not pushed down.
    Collated,
}

/// Caching of ZeyOS login tokens per client credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthConfig {
    /// How long a token obtained at login is reused, in seconds.
    pub token_ttl_secs: u64,
    /// How many tokens are cached at most.
    pub max_tokens: u64,
}

/// Server-driven paging.
#[derive(Debug, Clone)]
pub struct PagingConfig {
    /// Page size when the client sends no `odata.maxpagesize`.
    pub default_page_size: u32,
    /// Largest page size a client may ask for.
    pub max_page_size: u32,
    /// Rows the gateway may read for a filter it evaluates itself before it
    /// refuses the request.
    pub max_residual_scan: u64,
    /// HMAC key for `$skiptoken`s; `None`: a random key per process (next
    /// links then do not survive a restart).
    pub skiptoken_secret: Option<Secret>,
}

/// The response cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Whether responses are cached at all.
    pub enabled: bool,
    /// Memory budget in bytes.
    pub max_bytes: u64,
    /// How long a single entity stays cached, in seconds.
    pub entity_ttl_secs: u64,
    /// How long a cached entity is served without revalidation, in seconds.
    pub entity_fresh_secs: u64,
    /// How long a collection page stays cached, in seconds.
    pub collection_ttl_secs: u64,
}

/// Request size and complexity limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Longest accepted request target, in bytes.
    pub max_url_length: usize,
    /// Deepest nesting of a `$filter`/`$orderby` expression.
    pub max_expression_depth: u32,
    /// Most nodes in one expression.
    pub max_expression_nodes: u32,
    /// Deepest `$expand` nesting (advertised as `ExpandRestrictions/MaxLevels`).
    pub max_expand_depth: u32,
    /// Most navigation properties expanded at one level.
    pub max_expand_breadth: u32,
    /// How many keys one upstream request for expanded entities carries.
    pub expand_batch_size: u32,
    /// Most requests in one `$batch`.
    pub max_batch_requests: u32,
    /// How many reads of one `$batch` run at once: a UI5 page's batch of
    /// independent reads then waits for its slowest, not for their sum.
    pub batch_parallelism: u32,
    /// Bytes of answers one `$batch` holds before its later requests are
    /// refused (413): the batch's response is written only once every
    /// request is answered, so this bounds the memory a batch takes.
    pub max_batch_answer_bytes: usize,
}

/// A secret value (literal or read from `env:VAR`), never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        Self::from_str(&text, &file)
    }

    /// Parses and validates configuration text; `file_name` is used in
    /// messages.
    #[allow(clippy::should_implement_trait)] // it needs the file name too
    pub fn from_str(text: &str, file_name: &str) -> Result<Self, ConfigError> {
        let source = Source::new(file_name, text);
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            location: e
                .span()
                .map_or_else(|| Location::file_only(file_name), |s| source.locate(&s)),
            message: e.message().trim_end().to_owned(),
        })?;
        let config = validate::config(raw, &source)?;
        config.service_models()?;
        Ok(config)
    }

    /// The shipped `config.toml` pointed at another upstream, e.g. an
    /// in-process zeyos-sim for the demo mode.
    pub fn default_for_demo(upstream_base_url: &str) -> Result<Self, ConfigError> {
        Self::from_str(SHIPPED_CONFIG, "config.toml")?.with_upstream_base_url(upstream_base_url)
    }

    /// This configuration with another upstream base URL (validated like
    /// the file's).
    pub fn with_upstream_base_url(mut self, base_url: &str) -> Result<Self, ConfigError> {
        let source = Source::new("upstream base URL override", "");
        self.upstream.base_url =
            validate::http_url(&source, &(0..0), "upstream.base_url", base_url)?;
        Ok(self)
    }

    /// Builds the model of every service against the ZeyOS schema.
    pub fn service_models(&self) -> Result<Vec<ServiceModel>, ConfigError> {
        let schema = zeyos_schema::schema();
        self.services
            .iter()
            .map(|s| ServiceModel::build(schema, s, &self.limits))
            .collect()
    }

    /// The service with this name.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name.get_ref() == name)
    }
}
