//! Request handling: counting and logging, fault injection, authentication,
//! then one handler per [`Route`].
//!
//! Order of checks: instance (404), token (401), route (404/405),
//! permission (403), then the request itself (400, 404, 409, 412).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header;
use http::request::Parts;
use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{Map, Value};
use zeyos_schema::Entity;

use super::response::{self, empty, json, with_etag, Resp};
use super::router::{self, Route};
use super::{body, AppState, DropConnection, LOG_CAPACITY};
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
        return Ok(response::text(StatusCode::OK, "ok"));
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
            return Ok(response::error(&err));
        }
    };
    record(&state, &parts, &bytes);
    let _handling = InFlight::enter(&state);
    let (latency, fault) = state.faults.roll();
    if latency > Duration::ZERO {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Fault::Drop => return Err(DropConnection),
        Fault::Error(status) => return Ok(response::error(&ApiError::Injected(status))),
        Fault::None => {}
    }
    let response = match dispatch(&state, &parts, bytes).await {
        Ok(r) => r,
        Err(e) => {
            if let ApiError::Internal(detail) = &e {
                tracing::error!(method = %parts.method, path = %parts.uri.path(), %detail, "internal error");
            }
            response::error(&e)
        }
    };
    tracing::debug!(method = %parts.method, path = %parts.uri.path(), status = response.status().as_u16(), "request");
    Ok(response)
}

/// One request counted in [`AppState::in_flight`] until dropped (also
/// when its connection is dropped mid-request).
struct InFlight<'s>(&'s AppState);

impl<'s> InFlight<'s> {
    fn enter(state: &'s AppState) -> InFlight<'s> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = state.in_flight.fetch_add(1, SeqCst) + 1;
        state.max_in_flight.fetch_max(now, SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Counts the request and appends it to the bounded log.
fn record(state: &AppState, parts: &Parts, bytes: &Bytes) {
    state
        .served
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
        body: String::from_utf8_lossy(bytes).into_owned(),
    });
}

async fn dispatch(state: &Arc<AppState>, parts: &Parts, bytes: Bytes) -> ApiResult<Resp> {
    let path = parts.uri.path();
    let principal = if router::is_api(path, &state.instance) {
        Some(authenticate(state, parts).await?)
    } else {
        None
    };
    let route = router::resolve(&parts.method, path, &state.instance)?;
    let principal = match (route.needs_token(), principal) {
        (false, _) => None,
        (true, Some(p)) => Some(p),
        (true, None) => return Err(ApiError::Unauthorized(auth::INVALID_TOKEN.into())),
    };
    if let (Some((entity, write)), Some(p)) = (route.access(), &principal) {
        if !p.may(&entity.name, write) {
            return Err(ApiError::Forbidden);
        }
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let user = principal.as_ref().map_or(0, |p| p.user);
    match route {
        Route::Login => login(state, content_type, &bytes).await,
        Route::Config => Ok(json(StatusCode::OK, &config_json(state))),
        Route::Settings => {
            let mut m = Map::new();
            let app = principal.as_ref().and_then(|p| p.application);
            m.insert("application".into(), app.map_or(Value::Null, Value::from));
            m.insert("settings".into(), Value::Object(Map::new()));
            Ok(json(StatusCode::OK, &Value::Object(m)))
        }
        Route::List(entity) => {
            let params = body::parse_object(content_type, &bytes)?;
            let req = ListRequest::parse(&params)?;
            if !req.count {
                let cut = state.faults.cut_lists_after();
                let streamed = super::stream::list(state, entity, req, cut).await?;
                return if state.buffer_lists {
                    response::gathered(streamed).await
                } else {
                    Ok(streamed)
                };
            }
            let v = state.db.read(move |c| list::count(c, entity, &req)).await?;
            Ok(json(StatusCode::OK, &v))
        }
        Route::Create(entity) => {
            let gp = get_params(parts, entity)?;
            let params = body::parse_object(content_type, &bytes)?;
            let w = state
                .db
                .write(move |c| write::create(c, entity, user, params, &gp.expand))
                .await?;
            Ok(with_etag(
                json(StatusCode::CREATED, &Value::Object(w.record)),
                &w.etag,
            ))
        }
        Route::Get(entity, id) | Route::Head(entity, id) => {
            let head = matches!(route, Route::Head(..));
            get(state, parts, entity, id, head).await
        }
        Route::Update(entity, id) => {
            let gp = get_params(parts, entity)?;
            let if_match = header_str(parts, header::IF_MATCH);
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
        Route::Delete(entity, id) => {
            let if_match = header_str(parts, header::IF_MATCH);
            state
                .db
                .write(move |c| write::delete(c, entity, id, if_match.as_deref()))
                .await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
    }
}

async fn login(state: &Arc<AppState>, content_type: Option<&str>, bytes: &[u8]) -> ApiResult<Resp> {
    let params = body::parse_object(content_type, bytes)?;
    let login = Login::from_params(&params)?;
    let secret = state.app_secret.clone();
    let v = state
        .db
        .write(move |c| auth::login(c, &login, secret.as_deref()))
        .await?;
    Ok(json(StatusCode::OK, &v))
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

/// `GET`/`HEAD /{entity}/{ID}` with `If-None-Match`, `expand`, `extdata`,
/// `tags`.
async fn get(
    state: &Arc<AppState>,
    parts: &Parts,
    entity: &'static Entity,
    id: i64,
    head: bool,
) -> ApiResult<Resp> {
    let gp = get_params(parts, entity)?;
    let if_none_match = header_str(parts, header::IF_NONE_MATCH);
    enum Found {
        Missing,
        NotModified(String),
        Record(Option<Map<String, Value>>, String),
    }
    let found = state
        .db
        .read(move |c| {
            let Some(rec) = records::load(c, entity, id)? else {
                return Ok(Found::Missing);
            };
            if let Some(h) = &if_none_match {
                if etag_matches(h, &rec.etag, true) {
                    return Ok(Found::NotModified(rec.etag));
                }
            }
            if head {
                return Ok(Found::Record(None, rec.etag));
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
            Ok(Found::Record(Some(m), rec.etag))
        })
        .await?;
    match found {
        Found::Missing => Err(ApiError::NotFound(format!(
            "{} {id} does not exist",
            entity.name
        ))),
        Found::NotModified(etag) => Ok(with_etag(empty(StatusCode::NOT_MODIFIED), &etag)),
        Found::Record(None, etag) => Ok(with_etag(empty(StatusCode::NO_CONTENT), &etag)),
        Found::Record(Some(m), etag) => {
            Ok(with_etag(json(StatusCode::OK, &Value::Object(m)), &etag))
        }
    }
}

/// Query parameters of single-record requests.
struct GetParams {
    expand: Vec<String>,
    extdata: bool,
    tags: bool,
}

/// Reads `expand` (`?expand=a,b` or `?expand[]=a`), `extdata=1`, `tags=1`;
/// expanding an unknown field is a 400.
fn get_params(parts: &Parts, entity: &Entity) -> ApiResult<GetParams> {
    let q = body::parse_form(parts.uri.query().unwrap_or("").as_bytes())?;
    let flag = |k: &str| matches!(q.get(k), Some(Value::String(s)) if s == "1" || s.eq_ignore_ascii_case("true"));
    let expand: Vec<String> = match q.get("expand") {
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
    if let Some(e) = expand.iter().find(|e| entity.field(e).is_none()) {
        return Err(ApiError::bad(format!(
            "Unknown field '{e}' in expand of entity {}",
            entity.name
        )));
    }
    Ok(GetParams {
        expand,
        extdata: flag("extdata"),
        tags: flag("tags"),
    })
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
