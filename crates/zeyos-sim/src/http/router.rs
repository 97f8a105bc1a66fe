//! Routing and handlers: `/{instance}/auth/v1/login`,
//! `/{instance}/api/v1/{config|settings}`, `/{instance}/api/v1/{entity}`
//! and `/{instance}/api/v1/{entity}/{ID}`, generated from the schema's
//! endpoint list for each entity.
//!
//! Order of checks: instance (404), token (401), route (404/405),
//! permission (403), then the request itself (400, 404, 409, 412).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{Map, Value};
use zeyos_schema::Entity;

use super::{body, AppState, DropConnection, Resp, LOG_CAPACITY};
use crate::auth::{self, Login, Principal};
use crate::db::records;
use crate::error::{ApiError, ApiResult};
use crate::faults::Fault;
use crate::query::list;
use crate::query::request::ListRequest;
use crate::write::{self, etag_matches};
use crate::LoggedRequest;

/// Largest accepted request body.
const MAX_BODY: usize = 32 << 20;

/// Serves one request. Errors become text responses; only an injected drop
/// makes hyper close the connection.
pub async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    if req.uri().path() == "/health" {
        return Ok(text(StatusCode::OK, "ok"));
    }
    let (parts, incoming) = req.into_parts();
    let bytes = match Limited::new(incoming, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            let err = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::PayloadTooLarge(MAX_BODY)
            } else {
                ApiError::bad(format!("could not read request body: {e}"))
            };
            return Ok(error_response(&err));
        }
    };
    state
        .served
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    {
        let mut log = state.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(LoggedRequest {
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_string(), |pq| pq.to_string()),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    let (latency, fault) = state.faults.roll();
    if latency > Duration::ZERO {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Fault::Drop => return Err(DropConnection),
        Fault::Error(status) => return Ok(error_response(&ApiError::Injected(status))),
        Fault::None => {}
    }
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let response = match route(&state, &parts, bytes).await {
        Ok(r) => r,
        Err(e) => {
            if let ApiError::Internal(detail) = &e {
                tracing::error!(%method, %path, %detail, "internal error");
            }
            error_response(&e)
        }
    };
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    Ok(response)
}

async fn route(state: &Arc<AppState>, parts: &Parts, bytes: Bytes) -> ApiResult<Resp> {
    let path = parts.uri.path();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match segs.as_slice() {
        [inst, "auth", "v1", "login"] => {
            check_instance(state, inst)?;
            if parts.method != Method::POST {
                return Err(not_allowed(parts, vec!["POST"]));
            }
            let params = body::parse_object(content_type, &bytes)?;
            let login = Login::from_params(&params)?;
            let secret = state.app_secret.clone();
            let v = state
                .db
                .write(move |c| auth::login(c, &login, secret.as_deref()))
                .await?;
            Ok(json(StatusCode::OK, &v))
        }
        [inst, "api", "v1", rest @ ..] => {
            check_instance(state, inst)?;
            let principal = authenticate(state, parts).await?;
            api(state, parts, rest, &principal, content_type, bytes).await
        }
        [inst, ..] => {
            check_instance(state, inst)?;
            Err(ApiError::NotFound(format!("No route for {path}")))
        }
        [] => Err(ApiError::NotFound(format!("No route for {path}"))),
    }
}

fn check_instance(state: &AppState, inst: &str) -> ApiResult<()> {
    if inst == state.instance {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("Unknown instance '{inst}'")))
    }
}

async fn authenticate(state: &Arc<AppState>, parts: &Parts) -> ApiResult<Arc<Principal>> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = auth::bearer(header)
        .ok_or_else(|| ApiError::Unauthorized(auth::INVALID_TOKEN.into()))?
        .to_string();
    if let Some(p) = state.tokens.get(&token) {
        return Ok(p);
    }
    let t = token.clone();
    let found = state.db.read(move |c| auth::lookup(c, &t)).await?;
    let p = Arc::new(found.ok_or_else(|| ApiError::Unauthorized(auth::INVALID_TOKEN.into()))?);
    state.tokens.put(token, Arc::clone(&p));
    Ok(p)
}

fn not_allowed(parts: &Parts, allow: Vec<&'static str>) -> ApiError {
    ApiError::MethodNotAllowed {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        allow,
    }
}

/// GET query parameters of single-record requests.
struct GetParams {
    expand: Vec<String>,
    extdata: bool,
    tags: bool,
}

fn get_params(parts: &Parts) -> ApiResult<GetParams> {
    let q = body::parse_form(parts.uri.query().unwrap_or("").as_bytes())?;
    let flag = |k: &str| matches!(q.get(k), Some(Value::String(s)) if s == "1" || s.eq_ignore_ascii_case("true"));
    let expand = match q.get("expand") {
        None => Vec::new(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(_) => return Err(ApiError::bad("expand must be a list of field names")),
    };
    Ok(GetParams {
        expand,
        extdata: flag("extdata"),
        tags: flag("tags"),
    })
}

fn check_expand(entity: &Entity, expand: &[String]) -> ApiResult<()> {
    for e in expand {
        if entity.field(e).is_none() {
            return Err(ApiError::bad(format!(
                "Unknown field '{e}' in expand of entity {}",
                entity.name
            )));
        }
    }
    Ok(())
}

async fn api(
    state: &Arc<AppState>,
    parts: &Parts,
    rest: &[&str],
    principal: &Principal,
    content_type: Option<&str>,
    bytes: Bytes,
) -> ApiResult<Resp> {
    let schema = zeyos_schema::schema();
    match rest {
        ["config"] => {
            if parts.method != Method::GET {
                return Err(not_allowed(parts, vec!["GET"]));
            }
            Ok(json(StatusCode::OK, &config_json(state)))
        }
        ["settings"] => {
            if parts.method != Method::GET {
                return Err(not_allowed(parts, vec!["GET"]));
            }
            let mut m = Map::new();
            m.insert(
                "application".into(),
                principal.application.map_or(Value::Null, Value::from),
            );
            m.insert("settings".into(), Value::Object(Map::new()));
            Ok(json(StatusCode::OK, &Value::Object(m)))
        }
        [name] => {
            let entity: &'static Entity = schema
                .entity(name)
                .ok_or_else(|| ApiError::NotFound(format!("Unknown entity '{name}'")))?;
            let mut allow = Vec::new();
            if entity.endpoints.list {
                allow.push("POST");
            }
            if entity.endpoints.create {
                allow.push("PUT");
            }
            let method = parts.method.clone();
            if !(method == Method::POST && entity.endpoints.list
                || method == Method::PUT && entity.endpoints.create)
            {
                return Err(not_allowed(parts, allow));
            }
            let write = method == Method::PUT;
            if !principal.may(&entity.name, write) {
                return Err(ApiError::Forbidden);
            }
            let params = body::parse_object(content_type, &bytes)?;
            if write {
                let gp = get_params(parts)?;
                check_expand(entity, &gp.expand)?;
                let user = principal.user;
                let w = state
                    .db
                    .write(move |c| write::create(c, entity, user, params, &gp.expand))
                    .await?;
                Ok(with_etag(
                    json(StatusCode::CREATED, &Value::Object(w.record)),
                    &w.etag,
                ))
            } else {
                let req = ListRequest::parse(&params)?;
                let v = state.db.read(move |c| list::run(c, entity, &req)).await?;
                Ok(json(StatusCode::OK, &v))
            }
        }
        [name, id] => {
            let entity: &'static Entity = schema
                .entity(name)
                .ok_or_else(|| ApiError::NotFound(format!("Unknown entity '{name}'")))?;
            let ep = entity.endpoints;
            let mut allow = Vec::new();
            for (on, m) in [
                (ep.get, "GET"),
                (ep.head, "HEAD"),
                (ep.update, "PATCH"),
                (ep.delete, "DELETE"),
            ] {
                if on {
                    allow.push(m);
                }
            }
            let method = parts.method.clone();
            let supported = (method == Method::GET && ep.get)
                || (method == Method::HEAD && ep.head)
                || (method == Method::PATCH && ep.update)
                || (method == Method::DELETE && ep.delete);
            if !supported {
                return Err(not_allowed(parts, allow));
            }
            let write = method == Method::PATCH || method == Method::DELETE;
            if !principal.may(&entity.name, write) {
                return Err(ApiError::Forbidden);
            }
            let id: i64 = id
                .parse()
                .map_err(|_| ApiError::NotFound(format!("Invalid {} ID '{id}'", entity.name)))?;
            let if_match = header_str(parts, header::IF_MATCH);
            let if_none_match = header_str(parts, header::IF_NONE_MATCH);
            match method {
                Method::GET | Method::HEAD => {
                    let gp = get_params(parts)?;
                    check_expand(entity, &gp.expand)?;
                    let head = method == Method::HEAD;
                    let found = state
                        .db
                        .read(move |c| {
                            let Some(rec) = records::load(c, entity, id)? else {
                                return Ok(None);
                            };
                            if let Some(h) = &if_none_match {
                                if etag_matches(h, &rec.etag, true) {
                                    return Ok(Some((None, rec.etag)));
                                }
                            }
                            if head {
                                return Ok(Some((Some(Map::new()), rec.etag)));
                            }
                            let mut m = records::render(c, entity, &rec, &gp.expand)?;
                            if gp.extdata && entity.extdata {
                                m.insert(
                                    "extdata".into(),
                                    records::extdata_json(c, &entity.name, id)?,
                                );
                            }
                            if gp.tags && entity.tags {
                                let tags = records::tags(c, &entity.name, id)?;
                                m.insert("tags".into(), Value::from(tags));
                            }
                            Ok(Some((Some(m), rec.etag)))
                        })
                        .await?;
                    match found {
                        None => Err(ApiError::NotFound(format!(
                            "{} {id} does not exist",
                            entity.name
                        ))),
                        Some((None, etag)) => Ok(with_etag(empty(StatusCode::NOT_MODIFIED), &etag)),
                        Some((Some(_), etag)) if head => {
                            Ok(with_etag(empty(StatusCode::NO_CONTENT), &etag))
                        }
                        Some((Some(m), etag)) => {
                            Ok(with_etag(json(StatusCode::OK, &Value::Object(m)), &etag))
                        }
                    }
                }
                Method::PATCH => {
                    let gp = get_params(parts)?;
                    check_expand(entity, &gp.expand)?;
                    let params = body::parse_object(content_type, &bytes)?;
                    let w = state
                        .db
                        .write(move |c| {
                            write::update(c, entity, id, if_match.as_deref(), params, &gp.expand)
                        })
                        .await?;
                    Ok(with_etag(
                        json(StatusCode::OK, &Value::Object(w.record)),
                        &w.etag,
                    ))
                }
                _ => {
                    state
                        .db
                        .write(move |c| write::delete(c, entity, id, if_match.as_deref()))
                        .await?;
                    Ok(empty(StatusCode::NO_CONTENT))
                }
            }
        }
        _ => Err(ApiError::NotFound(format!(
            "No route for {}",
            parts.uri.path()
        ))),
    }
}

fn header_str(parts: &Parts, name: header::HeaderName) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn config_json(state: &AppState) -> Value {
    serde_json::json!({
        "instance": state.instance,
        "version": concat!("zeyos-sim ", env!("CARGO_PKG_VERSION")),
        "language": "en",
        "country": "DE",
        "currency": "EUR",
        "timezone": "UTC",
    })
}

fn json(status: StatusCode, v: &Value) -> Resp {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn text(status: StatusCode, msg: &str) -> Resp {
    let mut r = hyper::Response::new(Full::new(Bytes::from(msg.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn empty(status: StatusCode) -> Resp {
    let mut r = hyper::Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

fn with_etag(mut r: Resp, etag: &str) -> Resp {
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The one mapping from [`ApiError`] to a response: status, text body, and
/// the headers some statuses require.
pub fn error_response(e: &ApiError) -> Resp {
    let mut r = text(e.status(), &e.message());
    match e {
        ApiError::Unauthorized(_) => {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ZeyOS\""),
            );
        }
        ApiError::MethodNotAllowed { allow, .. } => {
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                r.headers_mut().insert(header::ALLOW, v);
            }
        }
        _ => {}
    }
    r
}
