//! Per-plugin health: calls, failures by kind, call times, peak memory, the
//! last errors with their times, and a circuit breaker.
//!
//! A plugin that faults (trap, timeout, out of memory) `threshold` times in a
//! row is switched off for a cool-down; then one trial call is let through,
//! and a success switches it back on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::error::FaultKind;
use crate::stats::CallStats;

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
    /// Median call time in microseconds (within 1/16), none before the first call.
    pub p50_call_us: Option<u64>,
    /// 99th percentile call time in microseconds (within 1/16).
    pub p99_call_us: Option<u64>,
    /// The most linear memory one call held, in bytes.
    pub peak_memory_bytes: u64,
    /// Log lines dropped because calls went over the per-call log quota.
    pub log_lines_dropped: u64,
    /// The last errors, newest last.
    pub last_errors: Vec<RecentError>,
}

/// One recent failure of a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecentError {
    /// When it happened, RFC 3339 in UTC.
    pub at: String,
    /// Its kind.
    pub kind: FaultKind,
    /// The error, naming the plugin and the function.
    pub message: String,
}

#[derive(Debug, Default)]
struct Counters {
    calls: u64,
    failures: BTreeMap<FaultKind, u64>,
    consecutive_faults: u32,
    total_call_time: Duration,
    open_until: Option<Instant>,
    trial_in_flight: bool,
    last_errors: VecDeque<RecentError>,
}

/// Health counters and breaker of one plugin.
#[derive(Debug)]
pub(crate) struct HealthTracker {
    threshold: u32,
    cool_down: Duration,
    counters: Mutex<Counters>,
    /// Call times, peak memory and dropped log lines, recorded without the
    /// lock (calls share it through their plugin's context).
    pub(crate) stats: Arc<CallStats>,
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
            stats: Arc::default(),
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
        self.stats.record_time(elapsed);
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
                remember(&mut c.last_errors, kind, message);
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

    /// Counts a call refused before it ran (open breaker, full queue); not
    /// kept among the last errors, so refusals never hide the faults behind them.
    pub(crate) fn record_refused(&self, kind: FaultKind) {
        *self.lock().failures.entry(kind).or_default() += 1;
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
        let times = self.stats.call_times();
        Health {
            state,
            calls: c.calls,
            failures: c.failures.clone(),
            consecutive_faults: c.consecutive_faults,
            mean_call_us,
            p50_call_us: times.quantile(0.5),
            p99_call_us: times.quantile(0.99),
            peak_memory_bytes: self.stats.peak_memory(),
            log_lines_dropped: self.stats.log_lines_dropped(),
            last_errors: c.last_errors.iter().cloned().collect(),
        }
    }
}

/// Keeps the last [`RECENT_ERRORS`] errors, with the time they happened.
fn remember(errors: &mut VecDeque<RecentError>, kind: FaultKind, message: String) {
    if errors.len() == RECENT_ERRORS {
        errors.pop_front();
    }
    errors.push_back(RecentError {
        at: rfc3339(SystemTime::now()),
        kind,
        message,
    });
}

/// `2026-11-27T13:14:27Z`: UTC, whole seconds.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
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

    #[test]
    fn snapshot_reports_call_time_percentiles_and_the_last_five_errors_with_times() {
        let h = HealthTracker::new();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms), Ok(()));
        }
        for i in 0..7 {
            h.record(
                Duration::from_millis(1),
                Err((FaultKind::PluginError, format!("error {i}"))),
            );
        }
        let s = h.snapshot();
        assert_eq!(s.calls, 107);
        let p50 = s.p50_call_us.unwrap();
        assert!((45_000..=55_000).contains(&p50), "{p50}");
        let p99 = s.p99_call_us.unwrap();
        assert!((93_000..=105_000).contains(&p99), "{p99}");
        let messages: Vec<_> = s.last_errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            ["error 2", "error 3", "error 4", "error 5", "error 6"]
        );
        assert!(s.last_errors[0].at.ends_with('Z') && s.last_errors[0].at.len() == 20);
    }

    #[test]
    fn refused_calls_are_counted_but_do_not_push_out_the_last_faults() {
        let h = HealthTracker::new();
        h.record(Duration::ZERO, fault());
        for _ in 0..10 {
            h.record_refused(FaultKind::Overloaded);
        }
        let s = h.snapshot();
        assert_eq!(s.failures[&FaultKind::Overloaded], 10);
        assert_eq!(s.last_errors.len(), 1);
        assert_eq!(s.last_errors[0].kind, FaultKind::Trap);
    }

    #[test]
    fn times_are_formatted_as_rfc3339_utc() {
        let at = |secs| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_785_267), "2026-11-27T13:14:27Z");
    }
}
