//! Roll-ups: usage summed per minute, hour and day (UTC buckets), kept in
//! two tables. `usage_by_consumer` has every dimension (app, key, API,
//! operation, status class) and answers developers' questions, which name
//! their apps; `usage_by_operation` drops the consumer and answers owners'
//! and admins', which would otherwise sum thousands of consumers' rows.
//!
//! A batch is summed in memory first, so a transaction upserts each group
//! once; latency sketches merge inside SQLite (`sketch_merge`).

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{Transaction, params};

use super::log::UsageRecord;
use super::sketch::LatencySketch;

/// The size of a roll-up's buckets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One-minute buckets.
    Minute,
    /// One-hour buckets.
    Hour,
    /// One-day buckets (UTC days).
    Day,
}

impl Granularity {
    /// Every granularity, finest first.
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    /// A bucket's length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Granularity::Minute => 60_000,
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// The start of the bucket holding `at_ms`.
    pub fn bucket(self, at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(self.millis())
    }
}

/// What a roll-up row sums.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Bytes served.
    pub bytes: u64,
    /// Their latencies, in microseconds.
    pub latency: LatencySketch,
}

impl Totals {
    fn add(&mut self, record: &UsageRecord) {
        self.calls += record.calls;
        self.errors += record.errors;
        self.bytes += record.bytes;
        if let Some(micros) = record.latency_us {
            self.latency.add(micros, record.calls);
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ConsumerRow {
    granularity: Granularity,
    bucket_ms: i64,
    app_id: i64,
    key_id: i64,
    api_ref: Arc<str>,
    operation: Arc<str>,
    status_class: u16,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct OperationRow {
    granularity: Granularity,
    bucket_ms: i64,
    api_ref: Arc<str>,
    operation: Arc<str>,
    status_class: u16,
}

/// A batch's roll-ups, summed in memory.
#[derive(Debug, Default)]
pub struct Rollups {
    by_consumer: HashMap<ConsumerRow, Totals>,
    by_operation: HashMap<OperationRow, Totals>,
}

impl Rollups {
    /// Adds a record to its buckets of every granularity.
    pub fn add(&mut self, record: &UsageRecord) {
        let empty: Arc<str> = Arc::from("");
        let api_ref = record.api_ref.clone().unwrap_or_else(|| empty.clone());
        let operation = record.operation.clone().unwrap_or(empty);
        let status_class = record.status / 100;
        for granularity in Granularity::ALL {
            let bucket_ms = granularity.bucket(record.at_ms);
            self.by_consumer
                .entry(ConsumerRow {
                    granularity,
                    bucket_ms,
                    app_id: record.app_id.unwrap_or(0),
                    key_id: record.key_id.unwrap_or(0),
                    api_ref: api_ref.clone(),
                    operation: operation.clone(),
                    status_class,
                })
                .or_default()
                .add(record);
            self.by_operation
                .entry(OperationRow {
                    granularity,
                    bucket_ms,
                    api_ref: api_ref.clone(),
                    operation: operation.clone(),
                    status_class,
                })
                .or_default()
                .add(record);
        }
    }

    /// Upserts every row into the roll-up tables.
    pub fn write(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let mut consumer = tx.prepare_cached(
            "INSERT INTO usage_by_consumer (granularity, bucket_ms, app_id, key_id, api_ref,
                 operation, status_class, calls, errors, bytes, latency)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,
                 errors = errors + excluded.errors, bytes = bytes + excluded.bytes,
                 latency = sketch_merge(latency, excluded.latency)",
        )?;
        for (row, totals) in &self.by_consumer {
            consumer.execute(params![
                row.granularity.as_str(),
                row.bucket_ms,
                row.app_id,
                row.key_id,
                &*row.api_ref,
                &*row.operation,
                row.status_class,
                totals.calls as i64,
                totals.errors as i64,
                totals.bytes as i64,
                totals.latency.encode()
            ])?;
        }
        let mut operation = tx.prepare_cached(
            "INSERT INTO usage_by_operation (granularity, bucket_ms, api_ref, operation,
                 status_class, calls, errors, bytes, latency)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,
                 errors = errors + excluded.errors, bytes = bytes + excluded.bytes,
                 latency = sketch_merge(latency, excluded.latency)",
        )?;
        for (row, totals) in &self.by_operation {
            operation.execute(params![
                row.granularity.as_str(),
                row.bucket_ms,
                &*row.api_ref,
                &*row.operation,
                row.status_class,
                totals.calls as i64,
                totals.errors as i64,
                totals.bytes as i64,
                totals.latency.encode()
            ])?;
        }
        Ok(())
    }
}
