//! Which writes happened since a response was read from ZeyOS.
//!
//! Dropping the affected entries is not enough on its own: a read that was
//! already on its way to ZeyOS when the write happened may bring back the
//! old data and store it afterwards. So every invalidation gets a number
//! (an epoch) and is remembered per entity and per record; every entry
//! remembers the epoch at which its upstream read began, and is usable only
//! if none of its dependencies was invalidated after that. With no
//! invalidation since an entry's read, the check is one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::key::Deps;

/// How many invalidated records are remembered at once. Beyond this (a
/// million writes within one retention period) the record memory is
/// reset, and every record read before the reset counts as invalidated:
/// it costs a revalidation, never a stale answer.
const MAX_REMEMBERED_RECORDS: usize = 1_000_000;

/// The invalidation epochs of entities and records.
pub struct InvalidationLog {
    /// The epoch of the last invalidation (0: none yet).
    epoch: AtomicU64,
    state: RwLock<State>,
    retention: Duration,
}

#[derive(Default)]
struct State {
    /// Per entity: the epoch of the last write of any of its records. The
    /// number of entities is fixed by the ZeyOS schema.
    entities: HashMap<Arc<str>, u64>,
    /// Per record: the epoch and time of its last write, kept as long as an
    /// entry loaded before that write could still be alive.
    records: HashMap<(Arc<str>, i64), (u64, Instant)>,
    /// Records read before this epoch count as invalidated (see
    /// [`MAX_REMEMBERED_RECORDS`]).
    records_floor: u64,
    /// When `records` was last pruned.
    pruned: Option<Instant>,
}

impl std::fmt::Debug for InvalidationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidationLog")
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl InvalidationLog {
    /// A log remembering record writes for `retention`: the longest an
    /// entry can live after its upstream read began (its TTL plus the
    /// upstream timeout).
    pub fn new(retention: Duration) -> Self {
        InvalidationLog {
            epoch: AtomicU64::new(0),
            state: RwLock::new(State::default()),
            retention,
        }
    }

    /// The current epoch: reads that begin now record it.
    pub fn current(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records a write of `entity` record `id` and returns its epoch.
    pub fn record_write(&self, entity: &str, id: i64) -> u64 {
        let entity: Arc<str> = Arc::from(entity);
        let now = Instant::now();
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let epoch = self.epoch.load(Ordering::Relaxed) + 1;
        state.entities.insert(entity.clone(), epoch);
        state.records.insert((entity, id), (epoch, now));
        self.prune(&mut state, now, epoch);
        // Published last, under the lock: a reader that sees the new epoch
        // finds the entries above.
        self.epoch.store(epoch, Ordering::Release);
        epoch
    }

    /// Records that everything was invalidated.
    pub fn record_clear(&self) -> u64 {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let epoch = self.epoch.load(Ordering::Relaxed) + 1;
        state.entities.insert(Arc::from(ALL), epoch);
        self.epoch.store(epoch, Ordering::Release);
        epoch
    }

    /// Forgets record writes no entry can predate any more, at most once
    /// per second of writes.
    fn prune(&self, state: &mut State, now: Instant, epoch: u64) {
        let due = state
            .pruned
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if due {
            let retention = self.retention;
            state
                .records
                .retain(|_, (_, at)| now.duration_since(*at) < retention);
            state.pruned = Some(now);
        }
        if state.records.len() > MAX_REMEMBERED_RECORDS {
            state.records.clear();
            state.records_floor = epoch;
        }
    }

    /// Whether a response with these dependencies, read from epoch
    /// `loaded` on, is still unaffected by every write recorded since.
    pub fn is_current(&self, deps: &Deps, loaded: u64) -> bool {
        if loaded >= self.current() {
            return true;
        }
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let after = |name: &str| state.entities.get(name).is_some_and(|e| *e > loaded);
        if after(ALL) {
            return false;
        }
        match deps {
            Deps::Record { entity, id } => {
                loaded >= state.records_floor
                    && state
                        .records
                        .get(&(entity.clone(), *id))
                        .is_none_or(|(e, _)| *e <= loaded)
            }
            Deps::Entities {
                entities: names,
                any,
            } => {
                if *any {
                    // Depends on every entity: any write since counts.
                    return false;
                }
                !names.iter().any(|n| after(n))
            }
        }
    }
}

/// The pseudo-entity of [`InvalidationLog::record_clear`].
const ALL: &str = "\0all";

#[cfg(test)]
mod tests {
    use super::*;

    fn record(entity: &str, id: i64) -> Deps {
        Deps::Record {
            entity: entity.into(),
            id,
        }
    }

    fn list(entities: &[&str]) -> Deps {
        Deps::Entities {
            entities: entities.iter().map(|e| Arc::from(*e)).collect(),
            any: false,
        }
    }

    #[test]
    fn reads_before_a_write_are_stale_reads_after_it_are_not() {
        let log = InvalidationLog::new(Duration::from_secs(60));
        let before = log.current();
        assert!(log.is_current(&record("accounts", 1), before));
        log.record_write("accounts", 1);
        assert!(!log.is_current(&record("accounts", 1), before));
        assert!(log.is_current(&record("accounts", 2), before));
        assert!(log.is_current(&record("contacts", 1), before));
        assert!(!log.is_current(&list(&["accounts"]), before));
        assert!(!log.is_current(&list(&["contacts", "accounts"]), before));
        assert!(log.is_current(&list(&["contacts"]), before));
        let after = log.current();
        assert!(log.is_current(&record("accounts", 1), after));
        assert!(log.is_current(&list(&["accounts"]), after));
    }

    #[test]
    fn unresolved_dependencies_are_stale_after_any_write() {
        let log = InvalidationLog::new(Duration::from_secs(60));
        let before = log.current();
        let any = Deps::Entities {
            entities: vec![Arc::from("accounts")].into(),
            any: true,
        };
        assert!(log.is_current(&any, before));
        log.record_write("tickets", 9);
        assert!(!log.is_current(&any, before));
    }

    #[test]
    fn old_record_writes_are_forgotten() {
        let log = InvalidationLog::new(Duration::from_millis(1));
        let before = log.current();
        log.record_write("accounts", 1);
        std::thread::sleep(Duration::from_millis(5));
        log.state.write().unwrap().pruned = None;
        log.record_write("accounts", 2);
        let state = log.state.read().unwrap();
        assert_eq!(state.records.len(), 1);
        drop(state);
        // Still stale for a reader from before: entries that old are gone
        // from the cache by now, but the list check is unaffected anyway.
        assert!(!log.is_current(&record("accounts", 2), before));
    }

    #[test]
    fn clear_makes_everything_stale() {
        let log = InvalidationLog::new(Duration::from_secs(60));
        let before = log.current();
        log.record_clear();
        assert!(!log.is_current(&record("accounts", 1), before));
        assert!(!log.is_current(&list(&["contacts"]), before));
        assert!(log.is_current(&list(&["contacts"]), log.current()));
    }
}
