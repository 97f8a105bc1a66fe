//! The accept loop: hyper connections, the tower layers, graceful stop.
//!
//! Layers, outermost first: request logging (one line per request with
//! method, path, status, upstream calls and duration; never headers, so no
//! credentials), then response compression when the client accepts it,
//! then the gateway itself. Entity tags of compressed bodies are made weak
//! on the way out (see [`conditional::weaken_if_encoded`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use super::body::Body;
use super::conditional;
use super::gateway::{elapsed_ms, Gateway};

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

    /// Stops accepting connections and waits for the accept loop to end.
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
    let (stop, mut stopped) = watch::channel(false);
    let compression = compression(gateway.config.compression_level);
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.changed() => break,
            };
            let (stream, _peer) = match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let gateway = gateway.clone();
            let service = ServiceBuilder::new()
                .map_response(|mut r: Response<_>| {
                    conditional::weaken_if_encoded(r.headers_mut());
                    r
                })
                .layer(compression.clone())
                .service(tower::service_fn(move |req: Request<Incoming>| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, Infallible>(handle_logged(&gateway, req).await) }
                }));
            let mut conn_stop = stopped.clone();
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    }
                    _ = conn_stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
    });
    Ok(Server { addr, stop, task })
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
