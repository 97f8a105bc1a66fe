//! Turns the raw file into a [`Config`]: defaults, ranges, URLs, addresses,
//! identifiers and secrets. Checks that need the ZeyOS schema (entity and
//! field names) happen when the service models are built.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::error::{ConfigError, Location, Problem, Source};
use super::raw::{RawConfig, RawEntitySet, RawService};
use super::service::{
    BaseFilterConfig, EntitySetConfig, FilterValue, PropertyConfig, ServiceConfig, TypeOverride,
    UnsupportedConfig,
};
use super::{
    AuthConfig, CacheConfig, Config, LimitsConfig, PagingConfig, Secret, StringOrdering,
    UpstreamConfig,
};
use crate::edm::naming::identifier_problem;

/// Names CSDL reserves for its own namespaces.
const RESERVED_NAMESPACES: &[&str] = &["Edm", "odata", "System", "Transient"];

pub(crate) fn config(raw: RawConfig, source: &Arc<Source>) -> Result<Config, ConfigError> {
    let listen = match &raw.listen {
        Some(s) => listen_address(source, s)?,
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let public_url = raw
        .public_url
        .as_ref()
        .map(|s| http_url(source, &s.span(), "public_url", s.get_ref()))
        .transpose()?;
    let compression_level = number(source, &raw.compression_level, "compression_level", 1, 0, 9)?;
    let header_read_timeout = Duration::from_millis(number(
        source,
        &raw.header_read_timeout_ms,
        "header_read_timeout_ms",
        30_000,
        100,
        3_600_000,
    )?);
    let shutdown_grace = Duration::from_millis(number(
        source,
        &raw.shutdown_grace_ms,
        "shutdown_grace_ms",
        30_000,
        0,
        3_600_000,
    )?);
    let max_requests_in_progress = number(
        source,
        &raw.max_requests_in_progress,
        "max_requests_in_progress",
        128,
        1,
        100_000,
    )?;

    let up = &raw.upstream;
    let upstream = UpstreamConfig {
        base_url: match &up.base_url {
            Some(s) => http_url(source, &s.span(), "upstream.base_url", s.get_ref())?,
            None => "http://127.0.0.1:8091".to_owned(),
        },
        instance: match &up.instance {
            Some(s) => instance(source, s)?,
            None => "demo".to_owned(),
        },
        appsecret: up
            .appsecret
            .as_ref()
            .map(|s| secret(source, s, "upstream.appsecret", 1))
            .transpose()?,
        identifier: up
            .identifier
            .as_ref()
            .map_or_else(|| "zeyos-odata".to_owned(), |s| s.get_ref().clone()),
        connect_timeout_ms: number(
            source,
            &up.connect_timeout_ms,
            "upstream.connect_timeout_ms",
            5_000,
            1,
            600_000,
        )?,
        read_timeout_ms: number(
            source,
            &up.read_timeout_ms,
            "upstream.read_timeout_ms",
            30_000,
            1,
            3_600_000,
        )?,
        max_limit: number(
            source,
            &up.max_limit,
            "upstream.max_limit",
            10_000,
            1,
            10_000,
        )?,
        string_ordering: choice(
            source,
            &up.string_ordering,
            "upstream.string_ordering",
            StringOrdering::Binary,
            &[
                ("binary", StringOrdering::Binary),
                ("collated", StringOrdering::Collated),
            ],
        )?,
        accept_gzip: up.accept_gzip.unwrap_or(true),
        max_concurrent_requests: number(
            source,
            &up.max_concurrent_requests,
            "upstream.max_concurrent_requests",
            32,
            1,
            10_000,
        )?,
        queue_timeout_ms: number(
            source,
            &up.queue_timeout_ms,
            "upstream.queue_timeout_ms",
            10_000,
            0,
            600_000,
        )?,
        auth: AuthConfig {
            token_ttl_secs: number(
                source,
                &up.auth.token_ttl_secs,
                "upstream.auth.token_ttl_secs",
                900,
                1,
                86_400 * 30,
            )?,
            max_tokens: number(
                source,
                &up.auth.max_tokens,
                "upstream.auth.max_tokens",
                10_000,
                1,
                10_000_000,
            )?,
        },
    };

    let pg = &raw.paging;
    let paging = PagingConfig {
        default_page_size: number(
            source,
            &pg.default_page_size,
            "paging.default_page_size",
            1_000,
            1,
            1_000_000,
        )?,
        max_page_size: number(
            source,
            &pg.max_page_size,
            "paging.max_page_size",
            10_000,
            1,
            1_000_000,
        )?,
        max_residual_scan: number(
            source,
            &pg.max_residual_scan,
            "paging.max_residual_scan",
            100_000,
            0,
            i64::MAX,
        )?,
        skiptoken_secret: pg
            .skiptoken_secret
            .as_ref()
            .map(|s| secret(source, s, "paging.skiptoken_secret", 16))
            .transpose()?,
    };
    if paging.default_page_size > paging.max_page_size {
        let span = pg.default_page_size.as_ref().map_or(0..0, Spanned::span);
        return Err(source.error(
            &span,
            Problem::BadNumber {
                key: "paging.default_page_size".into(),
                value: i64::from(paging.default_page_size),
                reason: format!(
                    "must not exceed paging.max_page_size ({})",
                    paging.max_page_size
                ),
            },
        ));
    }

    let ch = &raw.cache;
    let cache = CacheConfig {
        enabled: ch.enabled.unwrap_or(true),
        max_bytes: number(
            source,
            &ch.max_bytes,
            "cache.max_bytes",
            64 << 20,
            0,
            i64::MAX,
        )?,
        entity_ttl_secs: number(
            source,
            &ch.entity_ttl_secs,
            "cache.entity_ttl_secs",
            60,
            0,
            86_400,
        )?,
        entity_fresh_secs: number(
            source,
            &ch.entity_fresh_secs,
            "cache.entity_fresh_secs",
            5,
            0,
            86_400,
        )?,
        collection_ttl_secs: number(
            source,
            &ch.collection_ttl_secs,
            "cache.collection_ttl_secs",
            10,
            0,
            86_400,
        )?,
    };
    if cache.entity_fresh_secs > cache.entity_ttl_secs {
        let span = ch.entity_fresh_secs.as_ref().map_or(0..0, Spanned::span);
        return Err(source.error(
            &span,
            Problem::BadNumber {
                key: "cache.entity_fresh_secs".into(),
                value: i64::try_from(cache.entity_fresh_secs).unwrap_or(i64::MAX),
                reason: format!(
                    "must not exceed cache.entity_ttl_secs ({})",
                    cache.entity_ttl_secs
                ),
            },
        ));
    }

    let lm = &raw.limits;
    let limits = LimitsConfig {
        max_url_length: number(
            source,
            &lm.max_url_length,
            "limits.max_url_length",
            8_192,
            256,
            1 << 20,
        )?,
        max_expression_depth: number(
            source,
            &lm.max_expression_depth,
            "limits.max_expression_depth",
            64,
            1,
            1_000,
        )?,
        max_expression_nodes: number(
            source,
            &lm.max_expression_nodes,
            "limits.max_expression_nodes",
            1_000,
            1,
            1_000_000,
        )?,
        max_expand_depth: number(
            source,
            &lm.max_expand_depth,
            "limits.max_expand_depth",
            3,
            0,
            32,
        )?,
        max_expand_breadth: number(
            source,
            &lm.max_expand_breadth,
            "limits.max_expand_breadth",
            16,
            0,
            1_000,
        )?,
        expand_batch_size: number(
            source,
            &lm.expand_batch_size,
            "limits.expand_batch_size",
            100,
            1,
            10_000,
        )?,
        max_batch_requests: number(
            source,
            &lm.max_batch_requests,
            "limits.max_batch_requests",
            100,
            1,
            1_000,
        )?,
        batch_parallelism: number(
            source,
            &lm.batch_parallelism,
            "limits.batch_parallelism",
            4,
            1,
            64,
        )?,
        max_batch_answer_bytes: number(
            source,
            &lm.max_batch_answer_bytes,
            "limits.max_batch_answer_bytes",
            64 << 20,
            1,
            1 << 30,
        )?,
    };

    if raw.services.is_empty() {
        return Err(ConfigError::Invalid {
            location: Location::file_only(&source.file),
            problem: Problem::BadValue {
                key: "service".into(),
                reason: "at least one [[service]] is required".into(),
            },
        });
    }
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut roots: HashMap<String, Range<usize>> = HashMap::new();
    let mut services = Vec::with_capacity(raw.services.len());
    for raw_service in raw.services {
        unique(source, &mut names, &raw_service.name, "service name")?;
        unique(source, &mut roots, &raw_service.root, "service root")?;
        services.push(service(source, raw_service)?);
    }

    Ok(Config {
        file: source.file.clone(),
        listen,
        public_url,
        compression_level,
        header_read_timeout,
        shutdown_grace,
        max_requests_in_progress,
        upstream,
        paging,
        cache,
        limits,
        services,
    })
}

fn service(source: &Arc<Source>, raw: RawService) -> Result<ServiceConfig, ConfigError> {
    if raw.name.get_ref().trim().is_empty() {
        return Err(bad_value(
            source,
            &raw.name.span(),
            "service.name",
            "must not be empty",
        ));
    }
    root_path(source, &raw.root)?;
    let namespace = raw
        .namespace
        .unwrap_or_else(|| Spanned::new(0..0, "ZeyOS".to_owned()));
    namespace_name(source, &namespace)?;
    let container = raw
        .container
        .unwrap_or_else(|| Spanned::new(0..0, "Container".to_owned()));
    identifier(source, &container, "container name")?;
    let expose_all = match &raw.expose {
        None => false,
        Some(s) => match s.get_ref().as_str() {
            "all" => true,
            "listed" => false,
            other => {
                return Err(bad_value(
                    source,
                    &s.span(),
                    "service.expose",
                    &format!("`{other}` is neither \"all\" nor \"listed\""),
                ))
            }
        },
    };
    if !expose_all && !raw.exclude_entities.is_empty() {
        return Err(bad_value(
            source,
            &raw.exclude_entities[0].span(),
            "service.exclude_entities",
            "only applies with expose = \"all\"",
        ));
    }
    if !expose_all && raw.entity_sets.is_empty() {
        return Err(bad_value(
            source,
            &raw.name.span(),
            "service",
            "exposes no entity set: set expose = \"all\" or add [[service.entity_set]] tables",
        ));
    }
    let entity_sets = raw
        .entity_sets
        .into_iter()
        .map(|s| entity_set(source, s))
        .collect::<Result<_, _>>()?;
    Ok(ServiceConfig {
        name: raw.name,
        root: raw.root,
        namespace,
        container,
        title: raw.title,
        expose_all,
        exclude_entities: raw.exclude_entities,
        async_requests: raw.async_requests,
        entity_sets,
        source: Arc::clone(source),
    })
}

fn entity_set(source: &Source, raw: RawEntitySet) -> Result<EntitySetConfig, ConfigError> {
    identifier(source, &raw.name, "entity set name")?;
    if let Some(t) = &raw.type_name {
        identifier(source, t, "entity type name")?;
    }
    let base_filter = raw
        .base_filter
        .into_iter()
        .map(|(field, value)| {
            let span = value.span();
            let values = match value.into_inner() {
                toml::Value::Array(items) => {
                    if items.is_empty() {
                        return Err(bad_value(
                            source,
                            &span,
                            "base_filter",
                            "an empty list matches nothing",
                        ));
                    }
                    items
                        .into_iter()
                        .map(|v| filter_value(source, &span, v))
                        .collect::<Result<Vec<_>, _>>()?
                }
                v => vec![filter_value(source, &span, v)?],
            };
            Ok(BaseFilterConfig {
                field,
                values: Spanned::new(span, values),
            })
        })
        .collect::<Result<_, ConfigError>>()?;
    let properties = raw
        .properties
        .into_iter()
        .map(|(name, value)| property(source, name, value))
        .collect::<Result<_, _>>()?;
    let unsupported = raw
        .unsupported
        .into_iter()
        .map(|(name, message)| {
            for part in name.get_ref().split('/') {
                if let Some(reason) = identifier_problem(part) {
                    return Err(source.error(
                        &name.span(),
                        Problem::InvalidIdentifier {
                            what: "unsupported name",
                            name: name.get_ref().clone(),
                            reason,
                        },
                    ));
                }
            }
            Ok(UnsupportedConfig { name, message })
        })
        .collect::<Result<_, _>>()?;
    Ok(EntitySetConfig {
        name: raw.name,
        entity: raw.entity,
        type_name: raw.type_name,
        description: raw.description,
        base_filter,
        properties,
        include: raw.include,
        exclude: raw.exclude,
        unsupported,
    })
}

fn property(
    source: &Source,
    name: Spanned<String>,
    value: Spanned<toml::Value>,
) -> Result<PropertyConfig, ConfigError> {
    identifier(source, &name, "property name")?;
    let span = value.span();
    let (field, type_override) = match value.into_inner() {
        toml::Value::String(field) => (field, None),
        toml::Value::Table(mut table) => {
            let field = match table.remove("field") {
                Some(toml::Value::String(f)) => f,
                _ => {
                    return Err(bad_value(
                        source,
                        &span,
                        name.get_ref(),
                        "a property table needs `field = \"<ZeyOS field>\"`",
                    ))
                }
            };
            let ty = match table.remove("type") {
                None => None,
                Some(toml::Value::String(t)) => Some(match t.as_str() {
                    "Edm.Date" => TypeOverride::Date,
                    "Edm.DateTimeOffset" => TypeOverride::DateTimeOffset,
                    other => {
                        return Err(bad_value(
                            source,
                            &span,
                            name.get_ref(),
                            &format!("type `{other}` is not supported; use \"Edm.Date\" or \"Edm.DateTimeOffset\""),
                        ))
                    }
                }),
                Some(_) => {
                    return Err(bad_value(source, &span, name.get_ref(), "`type` must be a string"))
                }
            };
            if let Some(key) = table.keys().next() {
                return Err(bad_value(
                    source,
                    &span,
                    name.get_ref(),
                    &format!("unknown key `{key}` (expected `field` and optionally `type`)"),
                ));
            }
            (field, ty.map(|t| Spanned::new(span.clone(), t)))
        }
        _ => {
            return Err(bad_value(
                source,
                &span,
                name.get_ref(),
                "expected \"<ZeyOS field>\" or { field = \"...\", type = \"...\" }",
            ))
        }
    };
    Ok(PropertyConfig {
        name,
        field: Spanned::new(span, field),
        type_override,
    })
}

fn filter_value(
    source: &Source,
    span: &Range<usize>,
    value: toml::Value,
) -> Result<FilterValue, ConfigError> {
    Ok(match value {
        toml::Value::String(s) => FilterValue::String(s),
        toml::Value::Integer(i) => FilterValue::Integer(i),
        toml::Value::Float(f) => FilterValue::Float(f),
        toml::Value::Boolean(b) => FilterValue::Boolean(b),
        other => {
            return Err(bad_value(
                source,
                span,
                "base_filter",
                &format!(
                    "a {} cannot be compared with a ZeyOS field",
                    other.type_str()
                ),
            ))
        }
    })
}

fn bad_value(source: &Source, span: &Range<usize>, key: &str, reason: &str) -> ConfigError {
    source.error(
        span,
        Problem::BadValue {
            key: key.to_owned(),
            reason: reason.to_owned(),
        },
    )
}

fn unique(
    source: &Source,
    seen: &mut HashMap<String, Range<usize>>,
    name: &Spanned<String>,
    what: &'static str,
) -> Result<(), ConfigError> {
    if let Some(first) = seen.get(name.get_ref()) {
        return Err(source.error(
            &name.span(),
            Problem::DuplicateName {
                what,
                name: name.get_ref().clone(),
                earlier: format!(" (first used at line {})", source.locate(first).line),
            },
        ));
    }
    seen.insert(name.get_ref().clone(), name.span());
    Ok(())
}

pub(crate) fn identifier(
    source: &Source,
    name: &Spanned<String>,
    what: &'static str,
) -> Result<(), ConfigError> {
    match identifier_problem(name.get_ref()) {
        None => Ok(()),
        Some(reason) => Err(source.error(
            &name.span(),
            Problem::InvalidIdentifier {
                what,
                name: name.get_ref().clone(),
                reason,
            },
        )),
    }
}

fn namespace_name(source: &Source, name: &Spanned<String>) -> Result<(), ConfigError> {
    let invalid = |reason| {
        source.error(
            &name.span(),
            Problem::InvalidIdentifier {
                what: "namespace",
                name: name.get_ref().clone(),
                reason,
            },
        )
    };
    if RESERVED_NAMESPACES.contains(&name.get_ref().as_str()) {
        return Err(invalid("it is reserved by CSDL"));
    }
    if name.get_ref().len() > 511 {
        return Err(invalid("it is longer than 511 characters"));
    }
    for part in name.get_ref().split('.') {
        if let Some(reason) = identifier_problem(part) {
            return Err(invalid(reason));
        }
    }
    Ok(())
}

fn root_path(source: &Source, root: &Spanned<String>) -> Result<(), ConfigError> {
    let r = root.get_ref();
    let reason = if !r.starts_with('/') || !r.ends_with('/') {
        Some("must start and end with `/`, e.g. \"/odata/\"".to_owned())
    } else if r.contains("//") && r != "/" {
        Some("must not contain empty segments".to_owned())
    } else {
        r.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/-._~".contains(*c)))
            .map(|c| format!("character `{c}` is not allowed in a path segment"))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(bad_value(source, &root.span(), "service.root", &reason)),
    }
}

fn instance(source: &Source, value: &Spanned<String>) -> Result<String, ConfigError> {
    let v = value.get_ref();
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(bad_value(
            source,
            &value.span(),
            "upstream.instance",
            "must be a non-empty instance name of letters, digits, `-`, `_` or `.`",
        ));
    }
    Ok(v.clone())
}

fn listen_address(source: &Source, value: &Spanned<String>) -> Result<SocketAddr, ConfigError> {
    value.get_ref().parse::<SocketAddr>().map_err(|e| {
        source.error(
            &value.span(),
            Problem::BadListenAddress {
                value: value.get_ref().clone(),
                reason: format!(
                    "{e}; expected IP:port such as \"127.0.0.1:8080\" or \"[::]:8080\""
                ),
            },
        )
    })
}

/// Validates an absolute `http`/`https` URL and returns it without
/// trailing slash.
pub(crate) fn http_url(
    source: &Source,
    span: &Range<usize>,
    key: &'static str,
    url: &str,
) -> Result<String, ConfigError> {
    let bad = |reason: String| {
        source.error(
            span,
            Problem::BadUrl {
                key,
                url: url.to_owned(),
                reason,
            },
        )
    };
    let uri: http::Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(bad(format!("scheme `{other}` is not http or https"))),
        None => {
            return Err(bad(
                "it is not absolute (expected http://host[:port][/path])".into(),
            ))
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(bad("it has no host".into()));
    };
    if authority.host().is_empty() {
        return Err(bad("it has no host".into()));
    }
    if authority.as_str().contains('@') {
        return Err(bad("credentials do not belong in the URL".into()));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(bad("it must not have a query or fragment".into()));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn secret(
    source: &Source,
    value: &Spanned<String>,
    key: &'static str,
    min_len: usize,
) -> Result<Secret, ConfigError> {
    let v = value.get_ref();
    let resolved = match v.strip_prefix("env:") {
        Some(var) => std::env::var(var).map_err(|_| {
            source.error(
                &value.span(),
                Problem::MissingEnv {
                    key,
                    var: var.to_owned(),
                },
            )
        })?,
        None => v.clone(),
    };
    if resolved.len() < min_len {
        return Err(bad_value(
            source,
            &value.span(),
            key,
            &format!("must be at least {min_len} characters long"),
        ));
    }
    Ok(Secret::new(resolved))
}

fn number<T: TryFrom<i64>>(
    source: &Source,
    value: &Option<Spanned<i64>>,
    key: &str,
    default: T,
    min: i64,
    max: i64,
) -> Result<T, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let v = *value.get_ref();
    let err = |reason: String| {
        source.error(
            &value.span(),
            Problem::BadNumber {
                key: key.to_owned(),
                value: v,
                reason,
            },
        )
    };
    if v < min || v > max {
        return Err(err(if max == i64::MAX {
            format!("must be at least {min}")
        } else {
            format!("must be between {min} and {max}")
        }));
    }
    T::try_from(v).map_err(|_| err("out of range".into()))
}

fn choice<T: Copy>(
    source: &Source,
    value: &Option<Spanned<String>>,
    key: &str,
    default: T,
    options: &[(&str, T)],
) -> Result<T, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    options
        .iter()
        .find(|(name, _)| name == value.get_ref())
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            bad_value(
                source,
                &value.span(),
                key,
                &format!("`{}` is not one of {}", value.get_ref(), names.join(", ")),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Arc<Source> {
        Source::new("t.toml", "x = 1\n")
    }

    #[test]
    fn urls() {
        let s = src();
        let ok = |u: &str| http_url(&s, &(0..1), "k", u);
        assert_eq!(
            ok("http://127.0.0.1:8091/").unwrap(),
            "http://127.0.0.1:8091"
        );
        assert_eq!(
            ok("https://cloud.zeyos.com/base").unwrap(),
            "https://cloud.zeyos.com/base"
        );
        for bad in [
            "localhost:8091",
            "ftp://x",
            "http://",
            "http://u:p@x",
            "http://x/?q",
            "not a url",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roots_and_namespaces() {
        let s = src();
        let span = |v: &str| Spanned::new(0..1, v.to_owned());
        assert!(root_path(&s, &span("/odata/")).is_ok());
        assert!(root_path(&s, &span("/")).is_ok());
        for bad in ["odata/", "/odata", "/a//b/", "/a b/"] {
            assert!(root_path(&s, &span(bad)).is_err(), "{bad}");
        }
        assert!(namespace_name(&s, &span("ZeyOS.Model")).is_ok());
        for bad in ["Edm", "a..b", "1a", ""] {
            assert!(namespace_name(&s, &span(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_are_range_checked() {
        let s = src();
        let v = Some(Spanned::new(0..1, 0_i64));
        let err = number::<u32>(&s, &v, "k", 5, 1, 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.toml:1:1: bad value 0 for `k`: must be between 1 and 10"
        );
        assert_eq!(number::<u32>(&s, &None, "k", 5, 1, 10).unwrap(), 5);
    }
}
