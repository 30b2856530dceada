//! Per-plugin health: call and failure counters, call times, and a circuit breaker.
//!
//! A plugin that faults (trap, timeout, out of memory) `threshold` times in a
//! row is switched off for a cool-down; then one trial call is let through,
//! and a success switches it back on.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::FaultKind;

/// Faults in a row that open the breaker.
const DEFAULT_THRESHOLD: u32 = 5;
/// How long an open breaker waits before a trial call.
const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(30);
/// How many recent errors are kept for operators.
const RECENT_ERRORS: usize = 5;

/// The state shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// Working.
    Healthy,
    /// The last call faulted, but the breaker is still closed.
    Degraded,
    /// Switched off by the circuit breaker.
    SwitchedOff,
}

/// A snapshot of a plugin's health.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// The current state.
    pub state: HealthState,
    /// Calls made.
    pub calls: u64,
    /// Failures by kind.
    pub failures: BTreeMap<FaultKind, u64>,
    /// Faults in a row.
    pub consecutive_faults: u32,
    /// Mean call time in microseconds.
    pub mean_call_us: u64,
    /// The last errors, newest last.
    pub last_errors: Vec<String>,
}

#[derive(Debug, Default)]
struct Counters {
    calls: u64,
    failures: BTreeMap<FaultKind, u64>,
    consecutive_faults: u32,
    total_call_time: Duration,
    open_until: Option<Instant>,
    trial_in_flight: bool,
    last_errors: Vec<String>,
}

/// Health counters and breaker of one plugin.
#[derive(Debug)]
pub(crate) struct HealthTracker {
    threshold: u32,
    cool_down: Duration,
    counters: Mutex<Counters>,
}

/// Whether a call may go ahead.
pub(crate) enum Admission {
    /// Go ahead.
    Allowed,
    /// The breaker is open.
    Refused { faults: u32, retry_in: Duration },
}

impl HealthTracker {
    pub(crate) fn new() -> Self {
        Self::with_breaker(DEFAULT_THRESHOLD, DEFAULT_COOL_DOWN)
    }

    pub(crate) fn with_breaker(threshold: u32, cool_down: Duration) -> Self {
        HealthTracker {
            threshold,
            cool_down,
            counters: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        // A poisoned lock only means a panic elsewhere mid-update; counters stay usable.
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides whether a call may start; lets one trial through after the cool-down.
    pub(crate) fn admit(&self) -> Admission {
        let mut c = self.lock();
        let Some(until) = c.open_until else {
            return Admission::Allowed;
        };
        let now = Instant::now();
        if now >= until && !c.trial_in_flight {
            c.trial_in_flight = true;
            return Admission::Allowed;
        }
        Admission::Refused {
            faults: c.consecutive_faults,
            retry_in: until.saturating_duration_since(now),
        }
    }

    /// Records a finished call.
    pub(crate) fn record(&self, elapsed: Duration, outcome: Result<(), (FaultKind, String)>) {
        let mut c = self.lock();
        c.calls += 1;
        c.total_call_time += elapsed;
        c.trial_in_flight = false;
        match outcome {
            Ok(()) => {
                c.consecutive_faults = 0;
                c.open_until = None;
            }
            Err((kind, message)) => {
                *c.failures.entry(kind).or_default() += 1;
                if c.last_errors.len() == RECENT_ERRORS {
                    c.last_errors.remove(0);
                }
                c.last_errors.push(message);
                if kind.is_fault() {
                    c.consecutive_faults += 1;
                    if c.consecutive_faults >= self.threshold {
                        c.open_until = Some(Instant::now() + self.cool_down);
                    }
                } else {
                    // An expected error shows the plugin is alive and answering.
                    c.consecutive_faults = 0;
                    c.open_until = None;
                }
            }
        }
    }

    /// Counts a call refused by the open breaker.
    pub(crate) fn record_refused(&self) {
        *self
            .lock()
            .failures
            .entry(FaultKind::CircuitOpen)
            .or_default() += 1;
    }

    /// A snapshot for operators.
    pub(crate) fn snapshot(&self) -> Health {
        let c = self.lock();
        let state = if c.open_until.is_some() {
            HealthState::SwitchedOff
        } else if c.consecutive_faults > 0 {
            HealthState::Degraded
        } else {
            HealthState::Healthy
        };
        let mean_call_us = match c.calls {
            0 => 0,
            n => (c.total_call_time.as_micros() / u128::from(n)) as u64,
        };
        Health {
            state,
            calls: c.calls,
            failures: c.failures.clone(),
            consecutive_faults: c.consecutive_faults,
            mean_call_us,
            last_errors: c.last_errors.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault() -> Result<(), (FaultKind, String)> {
        Err((FaultKind::Trap, "boom".into()))
    }

    #[test]
    fn breaker_opens_after_threshold_faults_and_recovers_after_a_good_trial() {
        let h = HealthTracker::with_breaker(3, Duration::ZERO);
        for _ in 0..2 {
            h.record(Duration::ZERO, fault());
        }
        assert_eq!(h.snapshot().state, HealthState::Degraded);
        h.record(Duration::ZERO, fault());
        assert_eq!(h.snapshot().state, HealthState::SwitchedOff);
        // Cool-down of zero: one trial call is admitted, a second one is not.
        assert!(matches!(h.admit(), Admission::Allowed));
        assert!(matches!(h.admit(), Admission::Refused { .. }));
        h.record(Duration::ZERO, Ok(()));
        assert_eq!(h.snapshot().state, HealthState::Healthy);
    }

    #[test]
    fn breaker_refuses_during_cool_down() {
        let h = HealthTracker::with_breaker(1, Duration::from_secs(60));
        h.record(Duration::ZERO, fault());
        assert!(matches!(h.admit(), Admission::Refused { faults: 1, .. }));
    }

    #[test]
    fn expected_errors_do_not_trip_the_breaker() {
        let h = HealthTracker::with_breaker(1, Duration::from_secs(60));
        h.record(
            Duration::ZERO,
            Err((FaultKind::PluginError, "not found".into())),
        );
        assert_eq!(h.snapshot().state, HealthState::Healthy);
        assert_eq!(h.snapshot().failures[&FaultKind::PluginError], 1);
    }
}
