//! The accept loop: hyper connections, the tower layers, graceful stop
//! (refuse new connections, finish the responses under way, give up after
//! a grace period).
//!
//! Layers, outermost first: request logging (one line per request with
//! method, path, status, upstream calls and duration; never headers, so no
//! credentials), then response compression when the client accepts it,
//! then the gateway itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceBuilder;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use super::body::Body;
use super::gateway::{elapsed_ms, Gateway};

/// The address a request's connection was accepted on: the authority of
/// the URLs the gateway writes (`@odata.context`, nextLinks) when neither
/// `public_url` nor a usable `Host` header gives one, rather than the
/// configured listen address, whose port may be 0 and whose IP may be the
/// unspecified `0.0.0.0`.
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits until the open ones have
    /// finished their responses (at most the configured shutdown grace).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Response compression at the configured level; level 0 offers no
/// encoding, so every response goes out as it is.
fn compression(level: u32) -> CompressionLayer {
    let layer = CompressionLayer::new();
    match i32::try_from(level) {
        Ok(level @ 1..) => layer.quality(CompressionLevel::Precise(level)),
        _ => layer.no_gzip().no_deflate(),
    }
}

/// Binds `addr` (port 0 picks a free port) and serves the gateway.
pub async fn serve(gateway: Arc<Gateway>, addr: SocketAddr) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(gateway, listener, stopped));
    Ok(Server { addr, stop, task })
}

/// Accepts connections until told to stop, then drains: the listener is
/// closed at once (new connections are refused, so a load balancer moves
/// them to another instance), every open connection finishes the response
/// it is sending and closes, and whatever is still open after
/// `shutdown_grace` is aborted.
async fn accept_loop(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
) {
    let compression = compression(gateway.config.compression_level);
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            // Reap finished connections so the set stays as large as the
            // number of open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = stopped.changed() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, most often: pause rather than
                // spin until connections close.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            gateway.clone(),
            stream,
            compression.clone(),
            stopped.clone(),
        ));
    }
    drop(listener);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "stopping: letting open connections finish");
    }
    let drained = tokio::time::timeout(gateway.config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace_ms = gateway.config.shutdown_grace.as_millis() as u64,
            "closing connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
}

/// Serves one connection until the client closes it, or, once the server
/// stops, until the response under way has been sent.
async fn serve_connection(
    gateway: Arc<Gateway>,
    stream: TcpStream,
    compression: CompressionLayer,
    mut stop: watch::Receiver<bool>,
) {
    let header_read_timeout = gateway.config.header_read_timeout;
    let local = stream.local_addr().ok().map(LocalAddr);
    let service = ServiceBuilder::new()
        .layer(compression)
        .service(tower::service_fn(move |mut req: Request<Incoming>| {
            if let Some(local) = local {
                req.extensions_mut().insert(local);
            }
            let gateway = gateway.clone();
            async move { Ok::<_, Infallible>(handle_logged(&gateway, req).await) }
        }));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error while stopping");
            }
        }
    }
}

async fn handle_logged(gateway: &Gateway, req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (response, stats) = gateway.handle(req).await;
    gateway
        .requests
        .record(response.status().as_u16(), start.elapsed());
    tracing::info!(
        %method,
        path = %path,
        status = response.status().as_u16(),
        upstream_calls = stats.upstream_calls,
        ms = format!("{:.1}", elapsed_ms(start)),
        "request"
    );
    response
}
