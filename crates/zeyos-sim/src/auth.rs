//! Authentication (`POST /{instance}/auth/v1/login`), bearer tokens and
//! permissions.
//!
//! Users and their permissions live in side tables (`_auth`, `_grants`);
//! tokens in `_tokens`, so a file database keeps them across restarts.
//! Tokens are 40 hex characters of OS randomness (no expiry: `expdate` is
//! null). Passwords are stored as SHA-256 hex: this is a simulator, not a
//! vault.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// The message ZeyOS sends with every 401.
pub const INVALID_TOKEN: &str = "Invalid token for bearer authentication";

/// An authenticated user and what they may do.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user's ID.
    pub user: i64,
    /// The application the token was issued for.
    pub application: Option<i64>,
    /// Administrators may read and write every entity.
    pub admin: bool,
    /// Entity → writable, for non-administrators.
    pub grants: HashMap<String, bool>,
}

impl Principal {
    /// Whether the user may read (`write == false`) or write the entity.
    pub fn may(&self, entity: &str, write: bool) -> bool {
        self.admin
            || self
                .grants
                .get(entity)
                .is_some_and(|writable| !write || *writable)
    }
}

/// SHA-256 hex of a password.
pub fn hash_password(password: &str) -> String {
    Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random token: 160 bits from `RandomState`, whose keys the
/// standard library draws from the operating system's RNG.
fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(40);
    for part in 0..3u64 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(part);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        h.write_u64(nanos);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(40);
    out
}

/// The login parameters.
pub struct Login {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
    /// Device identifier, echoed back.
    pub identifier: Option<String>,
    /// Application secret.
    pub appsecret: Option<String>,
}

impl Login {
    /// Reads the parameters from a JSON or form body; `name` and `password`
    /// are required (400).
    pub fn from_params(params: &Map<String, Value>) -> ApiResult<Login> {
        let get = |k: &str| match params.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let name = get("name").filter(|s| !s.is_empty());
        let password = get("password").filter(|s| !s.is_empty());
        match (name, password) {
            (Some(name), Some(password)) => Ok(Login {
                name,
                password,
                identifier: get("identifier"),
                appsecret: get("appsecret"),
            }),
            (None, _) => Err(ApiError::bad("Missing parameter: name")),
            (_, None) => Err(ApiError::bad("Missing parameter: password")),
        }
    }
}

/// Checks credentials and issues a token; returns the login response.
pub fn login(conn: &Connection, login: &Login, app_secret: Option<&str>) -> ApiResult<Value> {
    match (app_secret, login.appsecret.as_deref()) {
        (_, None | Some("")) => {
            return Err(ApiError::bad("Missing parameter: appsecret"));
        }
        (Some(expected), Some(given)) if expected != given => {
            return Err(ApiError::Unauthorized("Invalid application secret".into()));
        }
        _ => {}
    }
    let user: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT u.\"ID\", a.password FROM \"users\" AS u JOIN _auth AS a ON a.user = u.\"ID\" \
             WHERE u.\"name\" = ?1 AND u.\"activity\" = 0",
        )?
        .query_row([&login.name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let user = match user {
        Some((id, hash)) if hash == hash_password(&login.password) => id,
        _ => {
            return Err(ApiError::Unauthorized(
                "Invalid user name or password".into(),
            ))
        }
    };
    let application: Option<i64> = conn
        .query_row(
            "SELECT \"ID\" FROM \"applications\" WHERE \"activity\" = 0 ORDER BY \"ID\" LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let token = new_token();
    let now = crate::write::now();
    conn.prepare_cached(
        "INSERT INTO _tokens (token, user, application, identifier, created) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![token, user, application, login.identifier, now])?;
    conn.prepare_cached("UPDATE \"users\" SET \"lastlogin\" = ?1 WHERE \"ID\" = ?2")?
        .execute(rusqlite::params![now, user])?;
    let mut m = Map::new();
    m.insert("user".into(), Value::from(user));
    m.insert(
        "application".into(),
        application.map_or(Value::Null, Value::from),
    );
    m.insert("token".into(), Value::String(token));
    m.insert(
        "identifier".into(),
        login.identifier.clone().map_or(Value::Null, Value::String),
    );
    m.insert("expdate".into(), Value::Null);
    Ok(Value::Object(m))
}

/// Looks a token up; `None` if unknown or the user is no longer active.
pub fn lookup(conn: &Connection, token: &str) -> ApiResult<Option<Principal>> {
    let row: Option<(i64, Option<i64>, i64)> = conn
        .prepare_cached(
            "SELECT t.user, t.application, a.admin FROM _tokens AS t \
             JOIN _auth AS a ON a.user = t.user JOIN \"users\" AS u ON u.\"ID\" = t.user \
             WHERE t.token = ?1 AND u.\"activity\" = 0",
        )?
        .query_row([token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((user, application, admin)) = row else {
        return Ok(None);
    };
    let mut grants = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT entity, writable FROM _grants WHERE user = ?1")?;
    for g in stmt.query_map([user], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })? {
        let (entity, writable) = g?;
        grants.insert(entity, writable != 0);
    }
    Ok(Some(Principal {
        user,
        application,
        admin: admin != 0,
        grants,
    }))
}

/// Resolved tokens, so that most requests need no token query.
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<String, Arc<Principal>>>);

impl TokenCache {
    /// A cached principal.
    pub fn get(&self, token: &str) -> Option<Arc<Principal>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// Remembers a principal.
    pub fn put(&self, token: String, p: Arc<Principal>) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 100_000 {
            m.clear();
        }
        m.insert(token, p);
    }
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}
