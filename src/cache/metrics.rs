//! Cache and upstream counters and their Prometheus text form.
//!
//! Only counts and sizes: no keys, principals or request text, so `/metrics`
//! can be served without authentication.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::upstream::GateStats;

/// Counters of cache events since start-up.
#[derive(Debug, Default)]
pub struct CacheMetrics {
    /// Reads answered from memory without asking ZeyOS.
    pub hits: AtomicU64,
    /// Reads that needed a full upstream read (absent, expired, invalidated,
    /// changed on revalidation, or forced by the client).
    pub misses: AtomicU64,
    /// Revalidations ZeyOS answered with 304: served from memory after one
    /// conditional request.
    pub revalidations: AtomicU64,
    /// Reads that shared another read's upstream request.
    pub coalesced: AtomicU64,
    /// Entries dropped to stay within the memory budget.
    pub evictions: AtomicU64,
    /// Entries dropped because their time to live ran out.
    pub expirations: AtomicU64,
    /// Calls of the invalidation API.
    pub invalidations: AtomicU64,
    /// Responses not stored because they alone would take too much of the
    /// budget.
    pub oversized: AtomicU64,
}

impl CacheMetrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A point-in-time copy of the counters and sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// See [`CacheMetrics::hits`].
    pub hits: u64,
    /// See [`CacheMetrics::misses`].
    pub misses: u64,
    /// See [`CacheMetrics::revalidations`].
    pub revalidations: u64,
    /// See [`CacheMetrics::coalesced`].
    pub coalesced: u64,
    /// See [`CacheMetrics::evictions`].
    pub evictions: u64,
    /// See [`CacheMetrics::expirations`].
    pub expirations: u64,
    /// See [`CacheMetrics::invalidations`].
    pub invalidations: u64,
    /// See [`CacheMetrics::oversized`].
    pub oversized: u64,
    /// Current weighted size (estimated bytes) of the entries.
    pub bytes: u64,
    /// The budget.
    pub max_bytes: u64,
    /// Entries held.
    pub entries: u64,
}

impl MetricsSnapshot {
    /// Reads the counters.
    pub fn of(m: &CacheMetrics, bytes: u64, max_bytes: u64, entries: u64) -> Self {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            hits: get(&m.hits),
            misses: get(&m.misses),
            revalidations: get(&m.revalidations),
            coalesced: get(&m.coalesced),
            evictions: get(&m.evictions),
            expirations: get(&m.expirations),
            invalidations: get(&m.invalidations),
            oversized: get(&m.oversized),
            bytes,
            max_bytes,
            entries,
        }
    }
}

/// Writes the Prometheus text exposition (format 0.0.4) of the cache
/// metrics (all zero when the cache is off) and the upstream request count.
pub fn render(
    out: &mut String,
    cache: Option<&MetricsSnapshot>,
    upstream_requests: u64,
    gate: GateStats,
) {
    let zero = MetricsSnapshot::default();
    let m = cache.unwrap_or(&zero);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    metric(
        "zeyos_odata_cache_enabled",
        "gauge",
        "Whether the response cache is on (1) or off (0).",
        u64::from(cache.is_some()),
    );
    metric(
        "zeyos_odata_cache_hits_total",
        "counter",
        "Upstream reads answered from the cache without asking ZeyOS.",
        m.hits,
    );
    metric(
        "zeyos_odata_cache_misses_total",
        "counter",
        "Upstream reads that needed a full response from ZeyOS.",
        m.misses,
    );
    metric(
        "zeyos_odata_cache_revalidations_total",
        "counter",
        "Cached records confirmed unchanged by ZeyOS (If-None-Match answered 304).",
        m.revalidations,
    );
    metric(
        "zeyos_odata_cache_coalesced_total",
        "counter",
        "Upstream reads that shared an identical read already in flight.",
        m.coalesced,
    );
    metric(
        "zeyos_odata_cache_evictions_total",
        "counter",
        "Entries evicted to stay within the memory budget.",
        m.evictions,
    );
    metric(
        "zeyos_odata_cache_expirations_total",
        "counter",
        "Entries dropped when their time to live ran out.",
        m.expirations,
    );
    metric(
        "zeyos_odata_cache_invalidations_total",
        "counter",
        "Calls of the invalidation API (writes of a record).",
        m.invalidations,
    );
    metric(
        "zeyos_odata_cache_oversized_total",
        "counter",
        "Responses not cached because they alone exceed an eighth of the budget.",
        m.oversized,
    );
    metric(
        "zeyos_odata_cache_bytes",
        "gauge",
        "Estimated memory held by cached responses, in bytes.",
        m.bytes,
    );
    metric(
        "zeyos_odata_cache_max_bytes",
        "gauge",
        "The cache's memory budget, in bytes.",
        m.max_bytes,
    );
    metric(
        "zeyos_odata_cache_entries",
        "gauge",
        "Cached responses.",
        m.entries,
    );
    metric(
        "zeyos_odata_upstream_requests_total",
        "counter",
        "HTTP requests sent to ZeyOS (logins included).",
        upstream_requests,
    );
    metric(
        "zeyos_odata_upstream_in_flight",
        "gauge",
        "Requests at ZeyOS now.",
        gate.in_flight,
    );
    metric(
        "zeyos_odata_upstream_max_in_flight",
        "gauge",
        "Most requests at ZeyOS at once (upstream.max_concurrent_requests).",
        gate.limit,
    );
    metric(
        "zeyos_odata_upstream_waiting",
        "gauge",
        "Requests waiting for their turn at ZeyOS.",
        gate.waiting,
    );
    metric(
        "zeyos_odata_upstream_refused_total",
        "counter",
        "Requests answered 503 because ZeyOS had no place for them within upstream.queue_timeout_ms.",
        gate.refused,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_with_help_and_type() {
        let m = CacheMetrics::default();
        CacheMetrics::inc(&m.hits);
        CacheMetrics::inc(&m.hits);
        let snap = MetricsSnapshot::of(&m, 1234, 5000, 3);
        let mut out = String::new();
        let gate = GateStats {
            in_flight: 3,
            waiting: 1,
            refused: 4,
            limit: 32,
        };
        render(&mut out, Some(&snap), 7, gate);
        for line in [
            "zeyos_odata_cache_hits_total 2",
            "zeyos_odata_cache_misses_total 0",
            "zeyos_odata_cache_revalidations_total 0",
            "zeyos_odata_cache_evictions_total 0",
            "zeyos_odata_cache_bytes 1234",
            "zeyos_odata_upstream_requests_total 7",
            "zeyos_odata_upstream_in_flight 3",
            "zeyos_odata_upstream_max_in_flight 32",
            "zeyos_odata_upstream_waiting 1",
            "zeyos_odata_upstream_refused_total 4",
            "# TYPE zeyos_odata_cache_hits_total counter",
            "# TYPE zeyos_odata_cache_bytes gauge",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing:\n{out}");
        }
        let mut off = String::new();
        render(&mut off, None, 0, GateStats::default());
        assert!(off.contains("zeyos_odata_cache_enabled 0"));
    }
}
