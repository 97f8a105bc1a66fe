//! Counts of answered requests by status, and how long their heads took,
//! for `/metrics`.
//!
//! An operator in front of a business system watches two things first: how
//! many requests fail, and on which side (4xx: the clients; 502/503/504:
//! ZeyOS or the gate in front of it), and whether answers get slower. The
//! request log says both line by line; these counters say it to a
//! Prometheus scraper. Only counts: no paths, principals or query text.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds: from a
/// cached entity (well under a millisecond) to a wide page from a slow
/// ZeyOS (seconds).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The lowest and highest status code counted one by one; anything else
/// (no valid response has one) is not counted.
const FIRST_STATUS: u16 = 100;
const LAST_STATUS: u16 = 599;

/// Request counters since start-up.
#[derive(Debug)]
pub struct RequestMetrics {
    by_status: Vec<AtomicU64>,
    /// Requests whose head took at most `BUCKETS[i]` (not cumulative; the
    /// rendering adds them up), and one more for the rest.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Total time to the response heads, in microseconds.
    micros: AtomicU64,
    /// Streamed responses that broke off after their head had been sent
    /// (and counted with its status): ZeyOS failed mid-page.
    cut: AtomicU64,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            by_status: (FIRST_STATUS..=LAST_STATUS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            buckets: Default::default(),
            micros: AtomicU64::new(0),
            cut: AtomicU64::new(0),
        }
    }
}

impl RequestMetrics {
    /// Counts one answered request: its status, and the time from its
    /// arrival to its response head (a streamed page's body follows).
    pub fn record(&self, status: u16, elapsed: Duration) {
        if let Some(c) = status
            .checked_sub(FIRST_STATUS)
            .and_then(|i| self.by_status.get(usize::from(i)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts a response that broke off after its head: its status said
    /// success, so without this counter a dashboard would show none of
    /// the refreshes that failed mid-page.
    pub fn record_cut(&self) {
        self.cut.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP zeyos_odata_requests_total Requests answered, by status code ($batch counts once)."
        );
        let _ = writeln!(out, "# TYPE zeyos_odata_requests_total counter");
        for (status, count) in (FIRST_STATUS..=LAST_STATUS).zip(&self.by_status) {
            let n = count.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(out, "zeyos_odata_requests_total{{code=\"{status}\"}} {n}");
            }
        }
        let name = "zeyos_odata_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a request's arrival to its response head."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            match BUCKETS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let seconds = self.micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {seconds}");
        let _ = writeln!(out, "{name}_count {cumulative}");
        let cut = "zeyos_odata_responses_cut_total";
        let _ = writeln!(
            out,
            "# HELP {cut} Streamed responses broken off after their head (counted above with its status), because ZeyOS failed mid-page."
        );
        let _ = writeln!(out, "# TYPE {cut} counter");
        let _ = writeln!(out, "{cut} {}", self.cut.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_statuses_and_fills_cumulative_buckets() {
        let m = RequestMetrics::default();
        m.record(200, Duration::from_micros(800));
        m.record(200, Duration::from_millis(30));
        m.record(503, Duration::from_secs(11));
        m.record(42, Duration::from_millis(1));
        m.record_cut();
        let mut out = String::new();
        m.render(&mut out);
        for line in [
            "zeyos_odata_requests_total{code=\"200\"} 2",
            "zeyos_odata_requests_total{code=\"503\"} 1",
            "zeyos_odata_request_duration_seconds_bucket{le=\"0.001\"} 2",
            "zeyos_odata_request_duration_seconds_bucket{le=\"0.025\"} 2",
            "zeyos_odata_request_duration_seconds_bucket{le=\"0.05\"} 3",
            "zeyos_odata_request_duration_seconds_bucket{le=\"10\"} 3",
            "zeyos_odata_request_duration_seconds_bucket{le=\"+Inf\"} 4",
            "zeyos_odata_request_duration_seconds_count 4",
            "# TYPE zeyos_odata_request_duration_seconds histogram",
            "zeyos_odata_responses_cut_total 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing:\n{out}");
        }
        assert!(!out.contains("code=\"42\""), "{out}");
        assert!(!out.contains("code=\"404\""), "{out}");
        let sum = out
            .lines()
            .find_map(|l| l.strip_prefix("zeyos_odata_request_duration_seconds_sum "))
            .and_then(|v| v.parse::<f64>().ok());
        assert!(sum.is_some_and(|s| (s - 11.0318).abs() < 1e-6), "{out}");
    }
}
