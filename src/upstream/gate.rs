//! How many requests the gateway has at ZeyOS at once.
//!
//! Every client request may fan out (a `$count` beside its page, a batch's
//! reads side by side, expanded entities per batch of parents), and nothing
//! else bounds how many requests a crowd of Power BI refreshes puts on the
//! business system behind the gateway. The gate admits a configured number
//! of upstream requests at a time; the rest wait their turn in arrival
//! order, and one that has waited its limit is refused (503 with
//! `Retry-After`, after which Power Query retries up to three times)
//! rather than queued without end.
//!
//! A request holds its place until its whole body is read, so a page that
//! ZeyOS streams counts for as long as ZeyOS works on it. No holder ever
//! waits for a second place: a list read's body is drained by a task of its
//! own whatever its reader does (`exec::feed`), and everything
//! else reads its answer whole. So the gate cannot deadlock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::client::UpstreamError;

/// The admission control in front of ZeyOS.
#[derive(Debug)]
pub struct UpstreamGate {
    places: Semaphore,
    limit: usize,
    queue_timeout: Duration,
    waiting: AtomicU64,
    refused: AtomicU64,
}

/// What the gate is doing, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateStats {
    /// Places in use: requests at ZeyOS now.
    pub in_flight: u64,
    /// Requests waiting for a place.
    pub waiting: u64,
    /// Requests refused since start because no place came free in time.
    pub refused: u64,
    /// The number of places.
    pub limit: u64,
}

impl UpstreamGate {
    /// A gate with `limit` places (at least one) where a request waits at
    /// most `queue_timeout` for one.
    pub fn new(limit: usize, queue_timeout: Duration) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        UpstreamGate {
            places: Semaphore::new(limit),
            limit,
            queue_timeout,
            waiting: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// A place at ZeyOS, held until the permit is dropped. With none free
    /// within the queue timeout, [`UpstreamError::Busy`].
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>, UpstreamError> {
        // The common case takes no timer and is not counted as waiting.
        if let Ok(permit) = self.places.try_acquire() {
            return Ok(permit);
        }
        let _waiting = Counted::new(&self.waiting);
        match tokio::time::timeout(self.queue_timeout, self.places.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; treated as full all the same.
            Ok(Err(_)) | Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(UpstreamError::Busy {
                    limit: self.limit,
                    waited: self.queue_timeout,
                })
            }
        }
    }

    /// The gate's counters now.
    pub fn stats(&self) -> GateStats {
        let free = self.places.available_permits();
        GateStats {
            in_flight: (self.limit.saturating_sub(free)) as u64,
            waiting: self.waiting.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            limit: self.limit as u64,
        }
    }
}

/// One more in a gauge for as long as it lives, also when the waiting
/// future is dropped because its client went away.
struct Counted<'a>(&'a AtomicU64);

impl<'a> Counted<'a> {
    fn new(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Counted(gauge)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admits_up_to_its_limit_and_refuses_after_the_queue_timeout() {
        let gate = UpstreamGate::new(2, Duration::from_millis(30));
        let a = gate.enter().await.unwrap();
        let b = gate.enter().await.unwrap();
        assert_eq!(gate.stats().in_flight, 2);
        let refused = gate.enter().await;
        assert!(
            matches!(refused, Err(UpstreamError::Busy { limit: 2, .. })),
            "{refused:?}"
        );
        assert_eq!(gate.stats().refused, 1);
        assert_eq!(gate.stats().waiting, 0);
        drop(a);
        let c = gate.enter().await.unwrap();
        drop((b, c));
        assert_eq!(
            gate.stats(),
            GateStats {
                in_flight: 0,
                waiting: 0,
                refused: 1,
                limit: 2
            }
        );
    }

    #[tokio::test]
    async fn a_waiting_request_gets_the_place_freed_before_its_timeout() {
        let gate = std::sync::Arc::new(UpstreamGate::new(1, Duration::from_secs(10)));
        let held = gate.enter().await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.map(drop) })
        };
        while gate.stats().waiting == 0 {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
        assert_eq!(gate.stats().waiting, 0);
        assert_eq!(gate.stats().refused, 0);
    }

    #[tokio::test]
    async fn a_waiter_whose_client_left_is_no_longer_counted() {
        let gate = UpstreamGate::new(1, Duration::from_secs(10));
        let _held = gate.enter().await.unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(10), gate.enter()).await;
        assert!(gave_up.is_err());
        assert_eq!(gate.stats().waiting, 0);
        assert_eq!(gate.stats().refused, 0);
    }
}
