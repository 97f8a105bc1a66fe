//! The HTTP server: accept loop, connections, and the shared state.

pub mod body;
pub mod handlers;
pub mod response;
pub mod router;
pub mod stream;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth::TokenCache;
use crate::db::Db;
use crate::faults::FaultState;
use crate::LoggedRequest;

/// How many requests the log keeps.
pub const LOG_CAPACITY: usize = 10_000;

/// Everything a request handler needs.
pub struct AppState {
    /// The database.
    pub db: Arc<Db>,
    /// The instance name served (`demo`).
    pub instance: String,
    /// A configured application secret, if any.
    pub app_secret: Option<String>,
    /// Fault injection.
    pub faults: FaultState,
    /// API requests served so far.
    pub served: AtomicU64,
    /// API requests being handled now (received, response not begun).
    pub in_flight: AtomicU64,
    /// The most of them handled at once since the last reset.
    pub max_in_flight: AtomicU64,
    /// The most recent API requests.
    pub log: Mutex<VecDeque<LoggedRequest>>,
    /// Resolved tokens.
    pub tokens: TokenCache,
    /// Whether bodies are gzipped for clients that accept it.
    pub gzip: bool,
    /// Responses sent gzipped so far.
    pub gzipped: AtomicU64,
    /// Whether list answers are sent whole instead of streamed.
    pub buffer_lists: bool,
}

/// The error a handler returns to make hyper close the connection without
/// sending a response (fault injection).
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// Accepts connections until `shutdown` turns true; each connection is
/// served with HTTP/1.1 keep-alive on its own task, and all are aborted on
/// shutdown.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                conns.spawn(async move {
                    let svc = service_fn(move |req| respond(Arc::clone(&state), req));
                    if let Err(e) = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                    {
                        tracing::debug!(error = %e, "connection ended");
                    }
                });
            }
            // Reap finished connection tasks so the set does not grow.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

/// Answers one request, gzipping the body when the simulator is configured
/// to and the client accepts it.
async fn respond(
    state: Arc<AppState>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<response::Resp, DropConnection> {
    let gzip = state.gzip && response::accepts_gzip(req.headers());
    let resp = handlers::handle(Arc::clone(&state), req).await?;
    if !gzip {
        return Ok(resp);
    }
    let resp = match response::gzip(resp).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "a streamed body broke off; closing the connection");
            return Err(DropConnection);
        }
    };
    if resp.headers().contains_key(http::header::CONTENT_ENCODING) {
        state.gzipped.fetch_add(1, Ordering::Relaxed);
    }
    Ok(resp)
}
