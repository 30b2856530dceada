//! `[webhooks]`: how apps' webhooks are delivered. The defaults suit a portal
//! on the internet (https to public addresses only, retries over about a day);
//! `allow_insecure` exists for tests and local development.

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

/// The webhook dispatcher's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Allow `http://` endpoints and private, loopback or link-local
    /// destinations; for tests and local development only.
    pub allow_insecure: bool,
    /// The delay before the first retry, in seconds (fractions allowed);
    /// each later retry waits twice as long, with jitter.
    pub retry_base_secs: f64,
    /// The longest wait between two attempts, in seconds.
    pub retry_cap_secs: u64,
    /// Attempts (the first included) before a delivery is marked failed.
    pub max_attempts: u32,
    /// How often new changelog entries and due retries are looked for, in
    /// milliseconds, besides the wake-up a deprecation through the API gives.
    pub poll_interval_ms: u64,
    /// Deliveries sent at once; a slow receiver holds one slot only.
    pub max_concurrent: usize,
    /// The portal's public base URL (`https://portal.example.com`), for the
    /// `changelog_url` of payloads; none: the link is a path.
    pub public_url: Option<String>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_insecure: false,
            retry_base_secs: 30.0,
            retry_cap_secs: 6 * 3600,
            max_attempts: 8,
            poll_interval_ms: 5000,
            max_concurrent: 8,
            public_url: None,
        }
    }
}

impl WebhookSettings {
    /// Refuses values that cannot work, naming the key.
    pub fn check(&self) -> anyhow::Result<()> {
        if !(self.retry_base_secs.is_finite() && self.retry_base_secs > 0.0) {
            bail!("webhooks.retry_base_secs must be a positive number of seconds");
        }
        if self.retry_cap_secs == 0 {
            bail!("webhooks.retry_cap_secs must be at least 1");
        }
        if !(1..=100).contains(&self.max_attempts) {
            bail!("webhooks.max_attempts must be between 1 and 100");
        }
        if self.poll_interval_ms < 10 {
            bail!("webhooks.poll_interval_ms must be at least 10");
        }
        if self.max_concurrent == 0 {
            bail!("webhooks.max_concurrent must be at least 1");
        }
        if let Some(public) = &self.public_url {
            let valid = url::Url::parse(public)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !valid {
                bail!("webhooks.public_url: `{public}` is not an http(s) URL");
            }
        }
        Ok(())
    }

    /// The delay before the first retry.
    pub fn retry_base(&self) -> Duration {
        Duration::from_secs_f64(self.retry_base_secs)
    }

    /// The longest wait between two attempts.
    pub fn retry_cap(&self) -> Duration {
        Duration::from_secs(self.retry_cap_secs)
    }

    /// How often the dispatcher looks for work when nothing wakes it.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_impossible_values_are_named() {
        assert!(WebhookSettings::default().check().is_ok());
        let zero = WebhookSettings {
            retry_base_secs: 0.0,
            ..Default::default()
        };
        assert!(
            zero.check()
                .unwrap_err()
                .to_string()
                .contains("retry_base_secs")
        );
        let bad_url = WebhookSettings {
            public_url: Some("portal.example.com".into()),
            ..Default::default()
        };
        assert!(
            bad_url
                .check()
                .unwrap_err()
                .to_string()
                .contains("public_url")
        );
    }
}
