//! Fault injection for tests: latency, errors, dropped connections and
//! list answers cut off mid-body.
//!
//! All off by default. The dice are a seeded PRNG, so a test that sets the
//! same faults and sends the same sequence of requests sees the same faults.

use std::sync::Mutex;
use std::time::Duration;

use http::StatusCode;

use crate::rng::Rng;

/// What to inject into API requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every API request before it is handled.
    pub latency: Duration,
    /// Probability (0..=1) of answering 500 or 503 with a text body instead
    /// of handling the request.
    pub error_rate: f64,
    /// Probability (0..=1) of closing the connection without any response.
    pub drop_rate: f64,
    /// Streamed list answers break off (the body ends with an error, so
    /// the connection closes without the final chunk) once this many bytes
    /// of them are sent: ZeyOS failing in the middle of a page.
    pub cut_lists_after: Option<usize>,
    /// Seed of the dice.
    pub seed: u64,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Handle it normally.
    None,
    /// Answer with this status instead.
    Error(StatusCode),
    /// Close the connection without a response.
    Drop,
}

/// The current faults and their dice.
pub struct FaultState(Mutex<(Faults, Rng)>);

impl FaultState {
    /// Starts with `faults`.
    pub fn new(faults: Faults) -> Self {
        let rng = Rng::new(faults.seed);
        FaultState(Mutex::new((faults, rng)))
    }

    /// Replaces the faults (and reseeds the dice).
    pub fn set(&self, faults: Faults) {
        let rng = Rng::new(faults.seed);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = (faults, rng);
    }

    /// Where streamed list answers break off, if they do.
    pub fn cut_lists_after(&self) -> Option<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .cut_lists_after
    }

    /// Rolls the dice for one request: the latency to add and the fault.
    pub fn roll(&self) -> (Duration, Fault) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (faults, rng) = &mut *g;
        let latency = faults.latency;
        if faults.drop_rate > 0.0 && rng.chance(faults.drop_rate) {
            return (latency, Fault::Drop);
        }
        if faults.error_rate > 0.0 && rng.chance(faults.error_rate) {
            let status = if rng.chance(0.5) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            return (latency, Fault::Error(status));
        }
        (latency, Fault::None)
    }
}
