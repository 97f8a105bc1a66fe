//! How many client requests the gateway answers at once.
//!
//! Every request in progress holds memory until its last byte is sent: a
//! list read decodes ZeyOS's page whatever pace its client reads at (so
//! that ZeyOS's connection and the place at the gate are freed early,
//! `exec::feed`), which for a page of 10,000 wide rows is about 13 MB. The
//! upstream gate bounds the requests at ZeyOS, not the pages waiting for
//! slow clients; without a bound here, thirty throttled clients held
//! 388 MB. The limit is counted from a request's arrival to the end (or
//! abandonment) of its response body, and a request beyond it is answered
//! 503 with `Retry-After` at once, which Power Query retries, rather than
//! queued behind clients that may never read.
//!
//! `/metrics` is never refused, so an operator can see the saturation.

use std::fmt::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::{Body, BodyError};

/// The places for client requests.
#[derive(Debug)]
pub struct Admission {
    places: Arc<Semaphore>,
    limit: u32,
    refused: AtomicU64,
}

/// A request's place, held until its response body is done with; dropping
/// it frees the place.
#[derive(Debug)]
pub struct Place {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    /// Room for `limit` requests at once (at least one).
    pub fn new(limit: u32) -> Self {
        let limit = limit.clamp(1, u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Admission {
            places: Arc::new(Semaphore::new(limit as usize)),
            limit,
            refused: AtomicU64::new(0),
        }
    }

    /// The configured number of places.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// A place if one is free; `None` (and counted) if all are taken.
    pub fn try_admit(&self) -> Option<Place> {
        match self.places.clone().try_acquire_owned() {
            Ok(permit) => Some(Place { _permit: permit }),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Appends the gauges and the refusal counter in the Prometheus text
    /// format.
    pub fn render(&self, out: &mut String) {
        let in_progress =
            self.limit as usize - self.places.available_permits().min(self.limit as usize);
        for (name, kind, help, value) in [
            (
                "zeyos_odata_requests_in_progress",
                "gauge",
                "Client requests being answered (until their response bodies are sent).",
                in_progress as u64,
            ),
            (
                "zeyos_odata_requests_in_progress_limit",
                "gauge",
                "Most client requests answered at once (max_requests_in_progress).",
                u64::from(self.limit),
            ),
            (
                "zeyos_odata_requests_refused_busy_total",
                "counter",
                "Client requests answered 503 because max_requests_in_progress were in progress.",
                self.refused.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

/// The largest frame handed to hyper at once. hyper asks for the next
/// frame when it has written the last one, so a body of one large frame
/// (a `$batch` answer of 20 MB, a page written whole) would be taken,
/// and its place freed, while nearly all of it still waits in hyper's
/// buffer for a slow client. Handed out in slices of this size (no
/// copies: `Bytes` slices share the buffer), the body lives, and holds
/// its place, until its last slice is taken.
const FRAME_BYTES: usize = 64 * 1024;

/// `body`, holding `place` until the body has been sent or dropped.
pub fn holding(body: Body, place: Place) -> Body {
    Holding {
        body,
        rest: Bytes::new(),
        _place: place,
    }
    .boxed()
}

struct Holding {
    body: Body,
    /// What is left of a frame larger than [`FRAME_BYTES`].
    rest: Bytes,
    _place: Place,
}

impl HttpBody for Holding {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if self.rest.is_empty() {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => self.rest = data,
                    Err(other) => return Poll::Ready(Some(Ok(other))),
                },
                other => return other,
            }
        }
        let take = self.rest.len().min(FRAME_BYTES);
        let slice = self.rest.split_to(take);
        Poll::Ready(Some(Ok(Frame::data(slice))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let rest = self.rest.len() as u64;
        let inner = self.body.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::body;

    #[tokio::test]
    async fn a_place_is_free_again_once_its_body_is_done() {
        let admission = Admission::new(1);
        let place = admission.try_admit();
        assert!(place.is_some());
        assert!(admission.try_admit().is_none());
        let held = holding(body::full("{}"), place.expect("admitted above"));
        assert_eq!(held.size_hint().exact(), Some(2));
        assert!(admission.try_admit().is_none());
        let bytes = held.collect().await.map(|c| c.to_bytes());
        assert_eq!(bytes.ok().as_deref(), Some(&b"{}"[..]));
        assert!(admission.try_admit().is_some());

        // A large body is handed out in slices, and its place held until
        // the last one is taken.
        let big = holding(
            body::full(vec![b'x'; 2 * FRAME_BYTES + 5]),
            admission.try_admit().expect("the place is free"),
        );
        assert_eq!(big.size_hint().exact(), Some(2 * FRAME_BYTES as u64 + 5));
        let mut big = big;
        let mut sizes = Vec::new();
        while let Some(frame) = big.frame().await {
            let data = frame
                .ok()
                .and_then(|f| f.into_data().ok())
                .unwrap_or_default();
            sizes.push(data.len());
            assert!(
                admission.try_admit().is_none(),
                "the place is held while frames remain"
            );
        }
        assert_eq!(sizes, vec![FRAME_BYTES, FRAME_BYTES, 5]);
        drop(big);
        assert!(admission.try_admit().is_some());

        let mut out = String::new();
        admission.render(&mut out);
        for line in [
            "zeyos_odata_requests_in_progress 0",
            "zeyos_odata_requests_in_progress_limit 1",
            "zeyos_odata_requests_refused_busy_total 5",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing:\n{out}");
        }
    }
}
