//! The usage writer: one thread with its own connection, appending records
//! to `usage_events` in batches (with the quota counters and each app's
//! first successful call) and keeping the roll-ups.
//!
//! Roll-ups are summed in memory and written when the queue falls idle, or
//! every [`FLUSH`] under load: at 50,000 calls a second most roll-up rows are
//! touched many times a second, and writing each once per flush instead of
//! once per batch is what lets one core keep up. Dashboards are then at most
//! [`FLUSH`] behind under load, and current when it is quiet.
//!
//! Nothing is lost in between: a flush records the last event it covers
//! (`usage_rollup_watermark`) in its own transaction, and a writer that
//! starts re-adds the events after the watermark, so every event is rolled
//! up exactly once across crashes and restarts.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::log::{Source, UsageRecord};
use super::rollup::Rollups;
use super::sketch;

/// Records written per transaction, at most.
const BATCH: usize = 32_768;
/// How long records gather between batches while they keep coming.
const GATHER: Duration = Duration::from_millis(10);
/// How long roll-ups are summed in memory while records keep coming.
pub const FLUSH: Duration = Duration::from_secs(5);
/// `latency_us` of an event whose latency is unknown.
const UNKNOWN_LATENCY: i64 = -1;

/// The writer: its connection and the roll-ups not yet written.
pub struct Writer {
    conn: Connection,
    pending: Rollups,
    /// The last event the pending roll-ups cover.
    last_event: i64,
    /// When the oldest pending record was added.
    pending_since: Option<Instant>,
}

impl Writer {
    /// Opens a writer on the database at `path`, with the roll-ups of the
    /// events written after the last flush re-added.
    pub fn open(path: &Path) -> rusqlite::Result<Writer> {
        let conn = Connection::open(path)?;
        // A long batch holds the database's write lock, never the shared
        // connection every request reads through.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        sketch::register_sql_merge(&conn)?;
        let mut writer = Writer {
            conn,
            pending: Rollups::default(),
            last_event: 0,
            pending_since: None,
        };
        writer.replay()?;
        Ok(writer)
    }

    /// The writer's connection (for tests and benchmarks).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Writes batches from `receiver` until every sender is gone, then
    /// flushes what is pending.
    pub fn run(mut self, receiver: &Receiver<UsageRecord>) {
        let mut batch = Vec::with_capacity(BATCH);
        // Parked in `recv` only while idle. Under load the writer sleeps and
        // then drains what gathered: a sender finds no receiver parked and
        // wakes nobody. Waking it for every event (a futex call and a context
        // switch per verification) was the largest single cost of verifying keys.
        while let Ok(first) = receiver.recv() {
            batch.push(first);
            loop {
                std::thread::sleep(GATHER);
                batch.extend(receiver.try_iter().take(BATCH - batch.len()));
                if batch.is_empty() {
                    break;
                }
                if let Err(error) = self.append(&batch) {
                    let calls = batch.iter().map(|r| r.calls).sum();
                    metrics::counter!("portico_usage_dropped_total").increment(calls);
                    tracing::error!(%error, records = batch.len(), "cannot write usage");
                }
                batch.clear();
                if self.pending_since.is_some_and(|t| t.elapsed() >= FLUSH) {
                    self.flush_logged();
                }
            }
            // Quiet: the roll-ups catch up at once.
            self.flush_logged();
        }
        self.flush_logged();
    }

    fn flush_logged(&mut self) {
        if let Err(error) = self.flush() {
            tracing::error!(%error, "cannot write usage roll-ups; they are tried again");
        }
    }

    /// Appends a batch of records, with the quota counters and first calls
    /// they move, in one transaction; their roll-ups wait for [`flush`](Self::flush).
    pub fn append(&mut self, batch: &[UsageRecord]) -> rusqlite::Result<()> {
        let mut quotas: HashMap<(i64, i64), u64> = HashMap::new();
        let mut first_calls: HashMap<i64, i64> = HashMap::new();
        for record in batch {
            if let Some(counter) = record.quota {
                *quotas.entry(counter).or_default() += record.calls;
            }
            if let Some(app) = record.app_id
                && record.status / 100 == 2
            {
                let first = first_calls.entry(app).or_insert(record.at_ms);
                *first = (*first).min(record.at_ms);
            }
        }
        let tx = self.conn.transaction()?;
        let mut last = self.last_event;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO usage_events (at_ms, source, key_id, app_id, api_ref, operation, status,
                     latency_us, calls, errors, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for r in batch {
                insert.execute(params![
                    r.at_ms,
                    r.source.name(),
                    r.key_id,
                    r.app_id,
                    r.api_ref.as_deref(),
                    r.operation.as_deref(),
                    r.status,
                    r.latency_us.map_or(UNKNOWN_LATENCY, |l| l as i64),
                    r.calls as i64,
                    r.errors as i64,
                    r.bytes as i64
                ])?;
            }
            last = last.max(tx.last_insert_rowid());
            let mut first_call = tx.prepare_cached(
                "UPDATE apps SET first_call_at = ?2
                 WHERE id = ?1 AND (first_call_at IS NULL OR first_call_at > ?2)",
            )?;
            for (app, at_ms) in first_calls {
                first_call.execute(params![app, at_ms])?;
            }
            let mut count = tx.prepare_cached(
                "INSERT INTO quota_usage (subscription_id, period_start, used) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subscription_id, period_start) DO UPDATE SET used = used + excluded.used",
            )?;
            for ((subscription, period), n) in quotas {
                // A subscription deleted meanwhile has nothing left to count.
                match count.execute(params![subscription, period, n as i64]) {
                    Err(rusqlite::Error::SqliteFailure(f, _))
                        if f.code == rusqlite::ErrorCode::ConstraintViolation => {}
                    other => {
                        other?;
                    }
                }
            }
        }
        tx.commit()?;
        for record in batch {
            self.pending.add(record);
        }
        self.last_event = last;
        self.pending_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Writes the pending roll-ups and moves the watermark past the events
    /// they cover, in one transaction.
    pub fn flush(&mut self) -> rusqlite::Result<()> {
        if self.pending_since.is_none() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        self.pending.write(&tx)?;
        tx.execute(
            "INSERT INTO usage_rollup_watermark (id, event_id) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET event_id = excluded.event_id",
            [self.last_event],
        )?;
        tx.commit()?;
        self.pending = Rollups::default();
        self.pending_since = None;
        Ok(())
    }

    /// Re-adds the events after the watermark: written before a crash or
    /// stop, not yet rolled up.
    fn replay(&mut self) -> rusqlite::Result<()> {
        let watermark: i64 = self
            .conn
            .query_row(
                "SELECT event_id FROM usage_rollup_watermark WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let mut statement = self.conn.prepare(
            "SELECT id, at_ms, source, key_id, app_id, api_ref, operation, status, latency_us,
                    calls, errors, bytes
             FROM usage_events WHERE id > ?1 ORDER BY id",
        )?;
        let mut rows = statement.query([watermark])?;
        let mut replayed = Rollups::default();
        let mut last = watermark;
        let mut count = 0usize;
        while let Some(r) = rows.next()? {
            last = r.get(0)?;
            let latency: i64 = r.get(8)?;
            let source: String = r.get(2)?;
            replayed.add(&UsageRecord {
                at_ms: r.get(1)?,
                // Roll-ups do not keep the source.
                source: Source::parse(&source).unwrap_or(Source::Verify),
                key_id: r.get(3)?,
                app_id: r.get(4)?,
                api_ref: r.get::<_, Option<String>>(5)?.map(Arc::from),
                operation: r.get::<_, Option<String>>(6)?.map(Arc::from),
                status: r.get(7)?,
                calls: r.get::<_, i64>(9)? as u64,
                errors: r.get::<_, i64>(10)? as u64,
                latency_us: (latency != UNKNOWN_LATENCY).then_some(latency as f64),
                bytes: r.get::<_, i64>(11)? as u64,
                quota: None,
            });
            count += 1;
        }
        drop(rows);
        drop(statement);
        if count > 0 {
            tracing::info!(
                events = count,
                "usage written before the last stop is rolled up now"
            );
            self.pending = replayed;
            self.last_event = last;
            self.pending_since = Some(Instant::now());
            self.flush()?;
        }
        Ok(())
    }
}

/// Appends a batch and writes its roll-ups at once (tests and tools).
pub fn write(writer: &mut Writer, batch: &[UsageRecord]) -> rusqlite::Result<()> {
    writer.append(batch)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at_ms: i64) -> UsageRecord {
        UsageRecord {
            at_ms,
            source: Source::Gateway(Arc::from("edge")),
            key_id: Some(7),
            app_id: None,
            api_ref: Some(Arc::from("api:default/a")),
            operation: None,
            status: 200,
            calls: 3,
            errors: 0,
            latency_us: None,
            bytes: 10,
            quota: None,
        }
    }

    fn rolled_up_calls(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT coalesce(sum(calls), 0) FROM usage_by_consumer WHERE granularity = 'day'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn events_appended_before_a_crash_are_rolled_up_once_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.db");
        portico_catalog::Database::open(&path).unwrap();
        let mut writer = Writer::open(&path).unwrap();
        write(&mut writer, &[record(1_000)]).unwrap();
        // Appended, then the process dies before the flush.
        writer.append(&[record(2_000), record(3_000)]).unwrap();
        assert_eq!(rolled_up_calls(writer.conn()), 3);
        drop(writer);
        let writer = Writer::open(&path).unwrap();
        assert_eq!(rolled_up_calls(writer.conn()), 9);
        drop(writer);
        // A second start finds nothing left to replay.
        let writer = Writer::open(&path).unwrap();
        assert_eq!(rolled_up_calls(writer.conn()), 9);
        // Unknown latency stays unknown across the replay.
        let timed: i64 = writer
            .conn()
            .query_row(
                "SELECT count(*) FROM usage_events WHERE latency_us >= 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(timed, 0);
    }

    #[test]
    fn the_log_rolls_up_at_once_when_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.db");
        let db = portico_catalog::Database::open(&path).unwrap();
        let log = super::super::UsageLog::start(&db);
        log.record_window(record(5_000));
        drop(log);
        let deadline = Instant::now() + Duration::from_secs(10);
        let conn = Connection::open(&path).unwrap();
        // The writer stops after flushing what it was sent.
        while rolled_up_calls(&conn) < 3 {
            assert!(Instant::now() < deadline, "the roll-up arrives");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(rolled_up_calls(&conn), 3);
    }
}
