//! `config.toml` as written: serde structs that keep the byte span of every
//! value a later check may need to point at. Unknown keys are rejected here,
//! so a misspelt key is reported with its line rather than ignored.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub listen: Option<Spanned<String>>,
    pub public_url: Option<Spanned<String>>,
    pub compression_level: Option<Spanned<i64>>,
    pub header_read_timeout_ms: Option<Spanned<i64>>,
    pub shutdown_grace_ms: Option<Spanned<i64>>,
    pub max_requests_in_progress: Option<Spanned<i64>>,
    #[serde(default)]
    pub upstream: RawUpstream,
    #[serde(default)]
    pub paging: RawPaging,
    #[serde(default)]
    pub cache: RawCache,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default, rename = "service")]
    pub services: Vec<RawService>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub base_url: Option<Spanned<String>>,
    pub instance: Option<Spanned<String>>,
    pub appsecret: Option<Spanned<String>>,
    pub identifier: Option<Spanned<String>>,
    pub connect_timeout_ms: Option<Spanned<i64>>,
    pub read_timeout_ms: Option<Spanned<i64>>,
    pub max_limit: Option<Spanned<i64>>,
    pub string_ordering: Option<Spanned<String>>,
    pub accept_gzip: Option<bool>,
    pub max_concurrent_requests: Option<Spanned<i64>>,
    pub queue_timeout_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub auth: RawAuth,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    pub token_ttl_secs: Option<Spanned<i64>>,
    pub max_tokens: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPaging {
    pub default_page_size: Option<Spanned<i64>>,
    pub max_page_size: Option<Spanned<i64>>,
    pub max_residual_scan: Option<Spanned<i64>>,
    pub skiptoken_secret: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCache {
    pub enabled: Option<bool>,
    pub max_bytes: Option<Spanned<i64>>,
    pub entity_ttl_secs: Option<Spanned<i64>>,
    pub entity_fresh_secs: Option<Spanned<i64>>,
    pub collection_ttl_secs: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub max_url_length: Option<Spanned<i64>>,
    pub max_expression_depth: Option<Spanned<i64>>,
    pub max_expression_nodes: Option<Spanned<i64>>,
    pub max_expand_depth: Option<Spanned<i64>>,
    pub max_expand_breadth: Option<Spanned<i64>>,
    pub expand_batch_size: Option<Spanned<i64>>,
    pub max_batch_requests: Option<Spanned<i64>>,
    pub batch_parallelism: Option<Spanned<i64>>,
    pub max_batch_answer_bytes: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub name: Spanned<String>,
    pub root: Spanned<String>,
    pub namespace: Option<Spanned<String>>,
    pub container: Option<Spanned<String>>,
    pub title: Option<String>,
    pub expose: Option<Spanned<String>>,
    #[serde(default)]
    pub exclude_entities: Vec<Spanned<String>>,
    #[serde(default)]
    pub async_requests: bool,
    #[serde(default, rename = "entity_set")]
    pub entity_sets: Vec<RawEntitySet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntitySet {
    pub name: Spanned<String>,
    pub entity: Spanned<String>,
    #[serde(rename = "type")]
    pub type_name: Option<Spanned<String>>,
    pub description: Option<String>,
    #[serde(default)]
    pub base_filter: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub properties: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    pub include: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    #[serde(default)]
    pub unsupported: BTreeMap<Spanned<String>, String>,
}
