//! Streaming a list answer while SQLite produces its records.
//!
//! A page of a thousand wide records takes the simulator milliseconds to
//! read and encode. Sent whole, the client gets nothing until the last
//! record is encoded; streamed, it can decode and pass on the first records
//! while later ones are still being read — as it would while a real
//! ZeyOS's answer crosses a network. The status is settled before the
//! first byte: errors in the request (unknown fields, bad filters) come
//! before the first record and are answered as usual; a failure after that
//! can only cut the body off, which the client sees as an invalid answer.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::sync::{mpsc, oneshot};
use zeyos_schema::Entity;

use super::response::{BodyError, Resp};
use super::AppState;
use crate::error::{ApiError, ApiResult};
use crate::query::list;
use crate::query::request::ListRequest;

/// Bytes gathered before they are sent as one chunk: large enough that
/// chunking costs little, small enough that the first records leave early.
const CHUNK_BYTES: usize = 32 * 1024;

/// Chunks encoded ahead of the client. When the client stops reading, the
/// scan waits, holding its database connection; when it goes away, the
/// scan stops.
const CHUNKS_AHEAD: usize = 4;

/// Answers a list request (without `count`) with its records streamed;
/// with `cut`, the body breaks off once that many bytes are sent (an
/// injected fault).
pub async fn list(
    state: &Arc<AppState>,
    entity: &'static Entity,
    req: ListRequest,
    cut: Option<usize>,
) -> ApiResult<Resp> {
    let (started_tx, started_rx) = oneshot::channel::<ApiResult<()>>();
    let (chunks_tx, chunks_rx) = mpsc::channel::<Result<Bytes, BodyError>>(CHUNKS_AHEAD);
    let db = Arc::clone(&state.db);
    tokio::spawn(async move {
        let scan = db.read(move |conn| {
            scan(conn, entity, &req, cut, started_tx, &chunks_tx);
            Ok(())
        });
        if let Err(e) = scan.await {
            tracing::error!(error = %e, "streamed list did not run");
        }
    });
    // A scan that could not start drops `started_tx` unanswered.
    match started_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ApiError::Internal("the list scan did not start".into())),
    }
    let mut r = hyper::Response::new(ChunkBody(chunks_rx).boxed());
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(r)
}

/// Reads the records and sends them as chunks of a JSON array. The first
/// chunk (or an error before it) answers `started`; a later error ends the
/// body with an error frame, so the client cannot take a truncated array
/// for a whole one.
fn scan(
    conn: &rusqlite::Connection,
    entity: &Entity,
    req: &ListRequest,
    cut: Option<usize>,
    started: oneshot::Sender<ApiResult<()>>,
    chunks: &mpsc::Sender<Result<Bytes, BodyError>>,
) {
    let mut started = Some(started);
    let mut buf = Vec::with_capacity(CHUNK_BYTES * 2);
    buf.push(b'[');
    let mut first = true;
    let mut sent = 0usize;
    let send = |buf: &mut Vec<u8>, started: &mut Option<oneshot::Sender<ApiResult<()>>>| {
        if let Some(s) = started.take() {
            // The handler may have gone (client disconnected): nothing to do.
            let _ = s.send(Ok(()));
        }
        let chunk = Bytes::from(std::mem::replace(buf, Vec::with_capacity(CHUNK_BYTES * 2)));
        let len = chunk.len();
        chunks
            .blocking_send(Ok(chunk))
            .map_err(|_| ApiError::Internal("the client went away".into()))?;
        Ok(len)
    };
    let result = list::for_each(conn, entity, req, &mut |record| {
        if !first {
            buf.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut buf, &record)
            .map_err(|e| ApiError::Internal(format!("encoding a record: {e}")))?;
        if buf.len() >= CHUNK_BYTES {
            sent += send(&mut buf, &mut started)?;
            if cut.is_some_and(|limit| sent >= limit) {
                return Err(ApiError::Internal(
                    "injected fault: the answer breaks off".into(),
                ));
            }
        }
        Ok(())
    })
    .and_then(|()| {
        buf.push(b']');
        send(&mut buf, &mut started).map(|_| ())
    });
    if let Err(e) = result {
        match started.take() {
            Some(s) => {
                let _ = s.send(Err(e));
            }
            None => {
                tracing::warn!(error = %e, "a streamed list broke off");
                let _ = chunks.blocking_send(Err(e.to_string().into()));
            }
        }
    }
}

/// The body fed by [`scan`].
struct ChunkBody(mpsc::Receiver<Result<Bytes, BodyError>>);

impl hyper::body::Body for ChunkBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|r| r.map(Frame::data)))
    }
}
