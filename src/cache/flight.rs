//! Request coalescing: concurrent reads of one key share one upstream
//! request.
//!
//! The first reader of a key that is not usable in the cache starts a
//! flight: a spawned task that reads from ZeyOS, stores the answer and
//! leaves the table. Readers arriving meanwhile await the same task. The
//! task is spawned, not driven by its first reader, so that a reader who
//! goes away (a closed connection) neither cancels the others' read nor
//! leaves a half-done flight in the table. Errors reach every reader of
//! the flight and are never stored: the next reader after the flight tries
//! again.
//!
//! (`moka`'s `try_get_with` coalesces too, but only loads of absent keys; a
//! stale record must be revalidated with its old entity tag, and readers
//! must not join a flight that began before a write they have seen, so the
//! table is kept here.)

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::oneshot;

use super::entry::Entry;
use super::key::CacheKey;
use super::CacheError;

/// What a flight ends with.
pub type FlightResult = Result<Arc<Entry>, CacheError>;

type Table = Mutex<HashMap<CacheKey, Flight>>;

struct Flight {
    id: u64,
    /// The invalidation epoch when the flight began.
    epoch: u64,
    result: Shared<BoxFuture<'static, FlightResult>>,
}

/// The flights in progress.
#[derive(Default)]
pub struct Flights {
    table: Arc<Table>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights").finish_non_exhaustive()
    }
}

/// A flight's place in the table; dropping it (when the task ends, however
/// it ends) takes the flight out.
pub struct Ticket {
    table: Arc<Table>,
    key: CacheKey,
    id: u64,
    /// The invalidation epoch when the flight began: what its entry records.
    pub epoch: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        // A newer flight may have replaced this one (after a write).
        if table.get(&self.key).is_some_and(|f| f.id == self.id) {
            table.remove(&self.key);
        }
    }
}

/// Whether a reader started the flight it awaits or joined another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This reader's call started the upstream read.
    Leader,
    /// The reader shares a read already in flight.
    Joined,
}

impl Flights {
    /// Awaits the flight for `key`, starting one with `start` unless one is
    /// in progress that `may_join` accepts (given the epoch it began at).
    pub async fn run<F, Fut>(
        &self,
        key: CacheKey,
        epoch: u64,
        may_join: impl FnOnce(u64) -> bool,
        start: F,
    ) -> (FlightResult, Role)
    where
        F: FnOnce(Ticket) -> Fut,
        Fut: Future<Output = FlightResult> + Send + 'static,
    {
        let (result, leader) = {
            let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            match table.get(&key) {
                Some(f) if may_join(f.epoch) => (f.result.clone(), None),
                _ => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let (tx, rx) = oneshot::channel::<FlightResult>();
                    let result = async move {
                        rx.await.unwrap_or_else(|_| {
                            Err(CacheError::Internal(
                                "the upstream read ended without an answer".into(),
                            ))
                        })
                    }
                    .boxed()
                    .shared();
                    table.insert(
                        key,
                        Flight {
                            id,
                            epoch,
                            result: result.clone(),
                        },
                    );
                    let ticket = Ticket {
                        table: self.table.clone(),
                        key,
                        id,
                        epoch,
                    };
                    (result, Some((ticket, tx)))
                }
            }
        };
        // Started outside the table's lock: the ticket takes it when it is
        // dropped, which `start` may do at once.
        let role = match leader {
            Some((ticket, tx)) => {
                let read = start(ticket);
                tokio::spawn(async move {
                    let _ = tx.send(read.await);
                });
                Role::Leader
            }
            None => Role::Joined,
        };
        (result.await, role)
    }

    /// Flights in progress (for tests and metrics).
    pub fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no flight is in progress.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::Payload;
    use crate::cache::key::{Deps, KeyScope};
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn entry() -> Arc<Entry> {
        Arc::new(Entry::new(
            Payload::Count(1),
            Deps::Record {
                entity: "accounts".into(),
                id: 1,
            },
            0,
            Instant::now(),
        ))
    }

    fn key(text: &str) -> CacheKey {
        KeyScope {
            principal: "p",
            instance: "i",
            service: "s",
        }
        .key(text)
    }

    #[tokio::test]
    async fn concurrent_readers_share_one_task() {
        let flights = Arc::new(Flights::default());
        let started = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let flights = flights.clone();
            let started = started.clone();
            tasks.push(tokio::spawn(async move {
                flights
                    .run(
                        key("k"),
                        0,
                        |_| true,
                        move |ticket| async move {
                            started.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            drop(ticket);
                            Ok(entry())
                        },
                    )
                    .await
            }));
        }
        let mut leaders = 0;
        for t in tasks {
            let (r, role) = t.await.unwrap();
            assert!(r.is_ok());
            leaders += usize::from(role == Role::Leader);
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(leaders, 1);
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn errors_are_shared_but_not_kept() {
        let flights = Flights::default();
        let (r, _) = flights
            .run(
                key("k"),
                0,
                |_| true,
                |_t| async { Err(CacheError::Internal("boom".into())) },
            )
            .await;
        assert!(r.is_err());
        assert!(flights.is_empty());
        let (r, role) = flights
            .run(key("k"), 0, |_| true, |_t| async { Ok(entry()) })
            .await;
        assert!(r.is_ok());
        assert_eq!(role, Role::Leader);
    }

    #[tokio::test]
    async fn a_refused_join_starts_a_new_flight() {
        let flights = Arc::new(Flights::default());
        let f2 = flights.clone();
        let slow = tokio::spawn(async move {
            f2.run(
                key("k"),
                0,
                |_| true,
                |t| async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    drop(t);
                    Ok(entry())
                },
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (_, role) = flights
            .run(key("k"), 1, |epoch| epoch >= 1, |_t| async { Ok(entry()) })
            .await;
        assert_eq!(role, Role::Leader);
        let (_, role) = slow.await.unwrap();
        assert_eq!(role, Role::Leader);
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn a_reader_that_goes_away_does_not_cancel_the_read() {
        let flights = Arc::new(Flights::default());
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let f2 = flights.clone();
        let leader = tokio::spawn(async move {
            f2.run(
                key("k"),
                0,
                |_| true,
                move |t| async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    d.fetch_add(1, Ordering::SeqCst);
                    drop(t);
                    Ok(entry())
                },
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        leader.abort();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(done.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty());
    }
}
