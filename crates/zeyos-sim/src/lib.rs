//! `zeyos-sim`: a reference ZeyOS backend on SQLite.
//!
//! It serves the ZeyOS Standard REST API (`/{instance}/api/v1/...` and
//! `/{instance}/auth/v1/login`) over HTTP from a real SQLite database seeded
//! with deterministic, realistic data. Tables and routes are generated from
//! [`zeyos_schema::schema()`]; nothing is written per entity. It follows the
//! ZeyOS reference and, where the reference is silent, PostgreSQL semantics
//! (three-valued logic, LIKE/ILIKE, NULLS LAST/FIRST, C collation). See the
//! crate README for the decisions in detail.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = zeyos_sim::start(zeyos_sim::SimConfig { scale: 50, ..Default::default() }).await?;
//! let token = sim.login("demo", "demo").await?;
//! println!("{} {token}", sim.api_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod db;
pub mod error;
pub mod faults;
mod http;
mod model;
mod query;
mod rng;
mod write;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::{ApiError, SimError};
pub use faults::Faults;

use db::Db;
use http::AppState;

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Number of accounts; every other entity is sized from it (see README).
    pub scale: usize,
    /// Database file; `None` for a temporary database deleted on shutdown.
    /// An existing file written by zeyos-sim is reused without reseeding.
    pub db: Option<PathBuf>,
    /// The instance name in the URL (`/demo/api/v1`).
    pub instance: String,
    /// Fault injection (off by default).
    pub faults: Faults,
    /// Seed of the data generator: the same seed and scale give the same data.
    pub seed: u64,
    /// The application secret `login` requires; `None` accepts any
    /// non-empty `appsecret`.
    pub app_secret: Option<String>,
    /// Gzip response bodies for clients that send `Accept-Encoding: gzip`,
    /// as a ZeyOS behind a compressing web server does (off by default).
    pub gzip: bool,
    /// Send list answers whole, once the last record is encoded, as a
    /// server that builds its answer before sending does; by default they
    /// are streamed while SQLite produces the records.
    pub buffer_lists: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            scale: 1000,
            db: None,
            instance: "demo".into(),
            faults: Faults::default(),
            seed: 1,
            app_secret: None,
            gzip: false,
            buffer_lists: false,
        }
    }
}

/// One API request as received (for tests that assert on upstream calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query string.
    pub path: String,
    /// Body as text (lossy UTF-8).
    pub body: String,
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    instance: String,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

/// Builds or loads the database (seeding a new one), binds the listener and
/// serves in the background on the current tokio runtime.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    let SimConfig {
        listen,
        scale,
        db,
        instance,
        faults,
        seed,
        app_secret,
        gzip,
        buffer_lists,
    } = config;
    let inst = instance.clone();
    let db = tokio::task::spawn_blocking(move || Db::open(db.as_deref(), scale, seed, &inst))
        .await
        .map_err(|e| SimError::Task(e.to_string()))??;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(AppState {
        db: Arc::new(db),
        instance: instance.clone(),
        app_secret,
        faults: faults::FaultState::new(faults),
        served: Default::default(),
        in_flight: Default::default(),
        max_in_flight: Default::default(),
        log: Mutex::new(VecDeque::new()),
        tokens: Default::default(),
        gzip,
        gzipped: Default::default(),
        buffer_lists,
    });
    let (tx, rx) = watch::channel(false);
    let server = tokio::spawn(http::serve(listener, Arc::clone(&state), rx));
    tracing::info!(%addr, "zeyos-sim listening");
    Ok(SimHandle {
        addr,
        instance,
        state,
        shutdown: tx,
        server: Some(server),
    })
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/{instance}/api/v1`.
    pub fn api_url(&self) -> String {
        format!("{}/{}/api/v1", self.base_url(), self.instance)
    }

    /// `http://127.0.0.1:PORT/{instance}/auth/v1`.
    pub fn auth_url(&self) -> String {
        format!("{}/{}/auth/v1", self.base_url(), self.instance)
    }

    /// The SQLite file behind the sim (a temporary one unless configured),
    /// for tests that check results with their own SQL.
    pub fn db_path(&self) -> PathBuf {
        self.state.db.path().to_path_buf()
    }

    /// API requests served (health checks excluded), including those
    /// answered or dropped by fault injection.
    pub fn requests_served(&self) -> u64 {
        self.state.served.load(Ordering::SeqCst)
    }

    /// Responses sent gzipped (with [`SimConfig::gzip`] on).
    pub fn gzipped_responses(&self) -> u64 {
        self.state.gzipped.load(Ordering::SeqCst)
    }

    /// The most API requests handled at once (each from its arrival until
    /// its response begins, injected latency included) since start or the
    /// last [`Self::reset_request_count`]: how tests see whether a client
    /// of the simulator sends requests side by side or one after another.
    pub fn max_concurrent_requests(&self) -> u64 {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Resets [`Self::requests_served`] to 0, clears the request log and
    /// starts [`Self::max_concurrent_requests`] afresh.
    pub fn reset_request_count(&self) {
        self.state.served.store(0, Ordering::SeqCst);
        self.state.max_in_flight.store(
            self.state.in_flight.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The most recent API requests (at most 10,000), oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The most recent request to a REST API endpoint (`/api/v1/...`, not
    /// the login), so that tools can replay exactly what a client sent.
    pub fn last_api_request(&self) -> Option<LoggedRequest> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .rev()
            .find(|r| r.path.contains("/api/v1/"))
            .cloned()
    }

    /// Replaces the fault injection settings.
    pub fn set_faults(&self, faults: Faults) {
        self.state.faults.set(faults);
    }

    /// Every row of `entity` with every scalar field as the API returns
    /// them, ordered by ID, read straight from SQLite: the test oracle.
    /// Unknown entities yield an empty list.
    pub fn rows(&self, entity: &str) -> Vec<Map<String, Value>> {
        let Some(e) = zeyos_schema::schema().entity(entity) else {
            return Vec::new();
        };
        self.state
            .db
            .read_blocking(|c| db::records::all_rows(c, e))
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, entity, "rows() failed");
                Vec::new()
            })
    }

    /// Logs in directly (no HTTP request, not counted) and returns a token.
    pub async fn login(&self, user: &str, password: &str) -> Result<String, ApiError> {
        let login = auth::Login {
            name: user.to_string(),
            password: password.to_string(),
            identifier: Some("zeyos-sim".into()),
            appsecret: Some(
                self.state
                    .app_secret
                    .clone()
                    .unwrap_or_else(|| "zeyos-sim".into()),
            ),
        };
        let v = self
            .state
            .db
            .write(move |c| auth::login(c, &login, None))
            .await?;
        v.get("token")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| ApiError::Internal("login returned no token".into()))
    }

    /// Stops accepting connections, closes open ones and waits for the
    /// server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
