//! `[usage]`: how long usage is kept at each granularity, and how often it
//! is pulled from gateways whose connectors offer `collect-usage`. Raw events
//! go first; day roll-ups, which invoices and long charts read, last.

use anyhow::bail;
use serde::Deserialize;

/// Usage retention and upkeep.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageSettings {
    /// Days raw events are kept; 0 keeps them for ever.
    pub events_retention_days: u32,
    /// Days minute roll-ups are kept; 0 keeps them for ever.
    pub minute_retention_days: u32,
    /// Days hour roll-ups are kept; 0 keeps them for ever.
    pub hour_retention_days: u32,
    /// Days day roll-ups are kept; 0 keeps them for ever.
    pub day_retention_days: u32,
    /// Seconds between upkeep rounds: retention, pulls from gateways, and
    /// invoices for billing periods that ended.
    pub upkeep_interval_secs: u64,
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            events_retention_days: 7,
            minute_retention_days: 2,
            hour_retention_days: 90,
            day_retention_days: 800,
            upkeep_interval_secs: 60,
        }
    }
}

impl UsageSettings {
    /// Refuses values that cannot work, naming the key.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.upkeep_interval_secs == 0 {
            bail!("usage.upkeep_interval_secs must be at least 1");
        }
        let coarser_lasts = |fine: u32, coarse: u32| coarse == 0 || (fine != 0 && fine <= coarse);
        if !coarser_lasts(self.minute_retention_days, self.hour_retention_days)
            || !coarser_lasts(self.hour_retention_days, self.day_retention_days)
        {
            bail!(
                "usage: a coarser roll-up must be kept at least as long as a finer one \
                 (minute_retention_days <= hour_retention_days <= day_retention_days; 0 is for ever)"
            );
        }
        Ok(())
    }

    /// The retention of each roll-up granularity, in days (0: for ever).
    pub fn rollup_retention(&self) -> [(crate::usage::rollup::Granularity, u32); 3] {
        use crate::usage::rollup::Granularity;
        [
            (Granularity::Minute, self.minute_retention_days),
            (Granularity::Hour, self.hour_retention_days),
            (Granularity::Day, self.day_retention_days),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarser_roll_ups_must_outlive_finer_ones() {
        assert!(UsageSettings::default().check().is_ok());
        let bad = UsageSettings {
            hour_retention_days: 1000,
            ..UsageSettings::default()
        };
        assert!(bad.check().unwrap_err().to_string().contains("coarser"));
        let forever = UsageSettings {
            day_retention_days: 0,
            ..UsageSettings::default()
        };
        assert!(forever.check().is_ok());
    }
}
