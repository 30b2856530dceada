//! Webhooks for subscribers: an app's owner sets an endpoint, and when an API
//! of a product the app is approved for gets a breaking version or a
//! deprecation, the endpoint receives a signed event (Standard Webhooks),
//! retried with exponential backoff until it answers 2xx or attempts run out.

pub mod dispatch;
pub mod events;
pub mod policy;
pub mod signing;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

/// Wakes the dispatcher when the changelog may have grown, so events leave
/// at once rather than at the next poll; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    /// Asks the dispatcher to look for work now (kept if it is busy).
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits until [`Waker::wake`] is called.
    pub(crate) async fn woken(&self) {
        self.0.notified().await;
    }
}

/// The wait before attempt `attempts + 1`, after `attempts` failed ones:
/// `base × 2^(attempts − 1)`, times a jitter factor in [0.75, 1.25) drawn
/// from `jitter` in [0, 1), never above `cap`.
pub fn retry_delay(attempts: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let doubling = 2f64.powi(attempts.saturating_sub(1).min(62) as i32);
    let nominal = (base.as_secs_f64() * doubling).min(cap.as_secs_f64());
    let jittered = nominal * (0.75 + 0.5 * jitter.clamp(0.0, 1.0));
    Duration::from_secs_f64(jittered.min(cap.as_secs_f64()))
}

/// A random number in [0, 1), for jitter.
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_retries_back_off_exponentially_with_jitter_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(6 * 3600);
        let at = |n, j| retry_delay(n, base, cap, j).as_secs_f64();
        // The middle of the jitter range is the nominal schedule.
        assert_eq!(at(1, 0.5), 30.0);
        assert_eq!(at(2, 0.5), 60.0);
        assert_eq!(at(3, 0.5), 120.0);
        assert_eq!(at(7, 0.5), 1920.0);
        for n in 1..=8 {
            let nominal = (30.0 * 2f64.powi(n as i32 - 1)).min(21_600.0);
            assert!(at(n, 0.0) >= nominal * 0.75 - 1e-9);
            assert!(at(n, 0.999_999) < nominal * 1.25);
        }
        assert_eq!(at(20, 0.9), 21_600.0);
        assert_eq!(at(u32::MAX, 0.0), 16_200.0);
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
