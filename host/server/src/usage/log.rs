//! The usage writer: every call the portal sees (a key verification, a
//! try-it or sandbox call) and every window of calls a gateway reports is
//! appended to `usage_events` and added to the roll-ups, per minute, hour
//! and day, in the same transaction, so dashboards are current within a
//! batch. The quota counters that verification keeps in memory are written
//! through to `quota_usage` on the way.
//!
//! The request path never waits: records go through a bounded channel to one
//! writer thread with its own connection, which writes them in batches; a
//! batch grows while the previous one is written, so the writer keeps up by
//! writing fewer, larger transactions. When the channel is full a record is
//! dropped and counted in `portico_usage_dropped_total` (the in-memory quota
//! still counts it).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portico_catalog::Database;
use rusqlite::{Connection, params};

use super::rollup::Rollups;
use super::sketch;

/// Records waiting for the writer, at most.
const QUEUE: usize = 131_072;
/// Records written per transaction, at most.
const BATCH: usize = 32_768;
/// How long records gather between batches while they keep coming.
const GATHER: Duration = Duration::from_millis(10);

/// Where usage was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `/api/v1/keys/verify`, asked by a gateway.
    Verify,
    /// A try-it call proxied to a declared server.
    TryIt,
    /// A try-it call answered by the synthetic sandbox.
    Sandbox,
    /// A `[[gateways]]` instance, by name: pushed or pulled.
    Gateway(Arc<str>),
}

impl Source {
    /// The name stored with the event and shown per source.
    pub fn name(&self) -> String {
        match self {
            Source::Verify => "verify".into(),
            Source::TryIt => "try-it".into(),
            Source::Sandbox => "sandbox".into(),
            Source::Gateway(name) => format!("gateway:{name}"),
        }
    }
}

/// One call, as usage analytics keep it.
#[derive(Debug, Clone)]
pub struct UsageEvent {
    /// When (milliseconds since the epoch).
    pub at_ms: i64,
    /// Where it was seen.
    pub source: Source,
    /// The key used, when one was recognised.
    pub key_id: Option<i64>,
    /// The key's app.
    pub app_id: Option<i64>,
    /// The API called (`api:namespace/name`), when known.
    pub api_ref: Option<Arc<str>>,
    /// The operation (`GET /pets/{petId}`), when known.
    pub operation: Option<Arc<str>>,
    /// The answer's status (for a verification: the verdict's).
    pub status: u16,
    /// How long the answer took, in microseconds.
    pub latency_us: u64,
    /// The quota counter it used: (subscription, period start).
    pub quota: Option<(i64, i64)>,
}

/// Calls in a window with one status (class), as a gateway reports them; a
/// single call is a window of one.
#[derive(Debug, Clone)]
pub struct UsageRecord {
    /// Start of the window (milliseconds since the epoch).
    pub at_ms: i64,
    /// Where it was seen.
    pub source: Source,
    /// The key used, when known.
    pub key_id: Option<i64>,
    /// The key's app, when known.
    pub app_id: Option<i64>,
    /// The API called (`api:namespace/name`), when known.
    pub api_ref: Option<Arc<str>>,
    /// The operation, when known.
    pub operation: Option<Arc<str>>,
    /// The status (a class's first status, 500, when only the class is known).
    pub status: u16,
    /// How many calls.
    pub calls: u64,
    /// How many of them failed.
    pub errors: u64,
    /// Their (mean) latency in microseconds, when known.
    pub latency_us: Option<f64>,
    /// Bytes served.
    pub bytes: u64,
    /// The quota counter the calls used: (subscription, period start).
    pub quota: Option<(i64, i64)>,
}

impl From<UsageEvent> for UsageRecord {
    fn from(e: UsageEvent) -> Self {
        UsageRecord {
            at_ms: e.at_ms,
            source: e.source,
            key_id: e.key_id,
            app_id: e.app_id,
            api_ref: e.api_ref,
            operation: e.operation,
            status: e.status,
            calls: 1,
            errors: u64::from(is_error(e.status)),
            latency_us: Some(e.latency_us as f64),
            bytes: 0,
            quota: e.quota,
        }
    }
}

/// Whether a status counts as a failed call: the caller's mistakes and the
/// server's alike, as a developer reads an error rate.
pub fn is_error(status: u16) -> bool {
    status >= 400
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The sending side, cheap to clone; recording never blocks.
#[derive(Clone)]
pub struct UsageLog {
    sender: SyncSender<UsageRecord>,
}

impl std::fmt::Debug for UsageLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UsageLog(..)")
    }
}

impl UsageLog {
    /// Starts the writer thread for this database. It ends when the last
    /// [`UsageLog`] is dropped, after writing what is queued.
    pub fn start(db: &Database) -> UsageLog {
        let (sender, receiver) = sync_channel(QUEUE);
        let path = db.path().to_owned();
        let started = std::thread::Builder::new()
            .name("usage-log".into())
            .spawn(move || match writer_connection(&path) {
                Ok(conn) => write_batches(conn, &receiver),
                Err(error) => {
                    tracing::error!(%error, "cannot open the usage writer's connection; usage goes unrecorded");
                }
            });
        if let Err(error) = started {
            tracing::error!(%error, "cannot start the usage writer; usage goes unrecorded");
        }
        UsageLog { sender }
    }

    /// Queues a call; drops it (counted) when the writer is behind.
    pub fn record(&self, event: UsageEvent) {
        self.record_window(event.into());
    }

    /// Queues a window of calls; drops it (counted) when the writer is behind.
    pub fn record_window(&self, record: UsageRecord) {
        match self.sender.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(record)) => {
                metrics::counter!("portico_usage_dropped_total").increment(record.calls);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The writer's own connection: a long batch holds the database's write
/// lock, never the shared connection every request reads through.
pub(crate) fn writer_connection(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    sketch::register_sql_merge(&conn)?;
    Ok(conn)
}

fn write_batches(mut conn: Connection, receiver: &Receiver<UsageRecord>) {
    let mut batch = Vec::with_capacity(BATCH);
    // Parked in `recv` only while idle. Under load the writer sleeps and then
    // drains what gathered: a sender finds no receiver parked and wakes
    // nobody. Waking it for every event (a futex call and a context switch
    // per verification) was the largest single cost of verifying keys.
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        loop {
            std::thread::sleep(GATHER);
            batch.extend(receiver.try_iter().take(BATCH - batch.len()));
            if batch.is_empty() {
                break;
            }
            if let Err(error) = write(&mut conn, &batch) {
                let calls = batch.iter().map(|r| r.calls).sum();
                metrics::counter!("portico_usage_dropped_total").increment(calls);
                tracing::error!(%error, records = batch.len(), "cannot write usage");
            }
            batch.clear();
        }
    }
}

/// Writes one batch: the events, their roll-ups and quota counts, at once.
pub(crate) fn write(conn: &mut Connection, batch: &[UsageRecord]) -> Result<(), rusqlite::Error> {
    let mut quotas: std::collections::HashMap<(i64, i64), u64> = Default::default();
    let mut first_calls: std::collections::HashMap<i64, i64> = Default::default();
    let mut rollups = Rollups::default();
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
        rollups.add(record);
    }
    let tx = conn.transaction()?;
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
                r.latency_us.map_or(0, |l| l as i64),
                r.calls as i64,
                r.errors as i64,
                r.bytes as i64
            ])?;
        }
        rollups.write(&tx)?;
        let mut first_call = tx.prepare_cached(
            "UPDATE apps SET first_call_at = ?2 WHERE id = ?1 AND (first_call_at IS NULL OR first_call_at > ?2)",
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
    tx.commit()
}

/// The stored count of a quota counter.
pub fn quota_used(
    conn: &Connection,
    subscription: i64,
    period_start: i64,
) -> Result<u64, rusqlite::Error> {
    use rusqlite::OptionalExtension as _;
    Ok(conn
        .query_row(
            "SELECT used FROM quota_usage WHERE subscription_id = ?1 AND period_start = ?2",
            params![subscription, period_start],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64)
}
