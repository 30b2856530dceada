//! Usage events: one per key verification and per try-it or sandbox call,
//! appended to `usage_events` for analytics, and the quota counters that
//! verification keeps in memory written through to `quota_usage`.
//!
//! Like the request log, the request path never waits: events go through a
//! bounded channel to one writer thread that inserts them in batches. When
//! the channel is full an event is dropped and counted in
//! `portico_usage_dropped_total` (the in-memory quota still counts it).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portico_catalog::Database;
use rusqlite::params;

/// Events waiting for the writer, at most.
const QUEUE: usize = 65_536;
/// Events written per transaction, at most.
const BATCH: usize = 4096;
/// How long events gather between batches while they keep coming.
const GATHER: Duration = Duration::from_millis(10);

/// Where an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `POST /api/v1/keys/verify`, asked by a gateway.
    Verify,
    /// A try-it call proxied to a declared server.
    TryIt,
    /// A try-it call answered by the synthetic sandbox.
    Sandbox,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Verify => "verify",
            Source::TryIt => "try-it",
            Source::Sandbox => "sandbox",
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

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The sending side, cheap to clone; recording never blocks.
#[derive(Clone)]
pub struct UsageLog {
    sender: SyncSender<UsageEvent>,
}

impl std::fmt::Debug for UsageLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UsageLog(..)")
    }
}

impl UsageLog {
    /// Starts the writer thread for this database. It ends when the last
    /// [`UsageLog`] is dropped, after writing what is queued.
    pub fn start(db: Database) -> UsageLog {
        let (sender, receiver) = sync_channel(QUEUE);
        let started = std::thread::Builder::new()
            .name("usage-log".into())
            .spawn(move || write_batches(&db, &receiver));
        if let Err(error) = started {
            tracing::error!(%error, "cannot start the usage writer; usage goes unrecorded");
        }
        UsageLog { sender }
    }

    /// Queues an event; drops it (counted) when the writer is behind.
    pub fn record(&self, event: UsageEvent) {
        match self.sender.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("portico_usage_dropped_total").increment(1);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn write_batches(db: &Database, receiver: &Receiver<UsageEvent>) {
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
            if let Err(error) = write(db, &batch) {
                metrics::counter!("portico_usage_dropped_total").increment(batch.len() as u64);
                tracing::error!(%error, events = batch.len(), "cannot write usage events");
            }
            batch.clear();
        }
    }
}

fn write(db: &Database, batch: &[UsageEvent]) -> Result<(), rusqlite::Error> {
    let mut quotas: HashMap<(i64, i64), i64> = HashMap::new();
    for event in batch {
        if let Some(counter) = event.quota {
            *quotas.entry(counter).or_default() += 1;
        }
    }
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO usage_events (at_ms, source, key_id, app_id, api_ref, operation, status, latency_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for e in batch {
            insert.execute(params![
                e.at_ms,
                e.source.as_str(),
                e.key_id,
                e.app_id,
                e.api_ref.as_deref(),
                e.operation.as_deref(),
                e.status,
                e.latency_us as i64
            ])?;
        }
        let mut count = tx.prepare_cached(
            "INSERT INTO quota_usage (subscription_id, period_start, used) VALUES (?1, ?2, ?3)
             ON CONFLICT (subscription_id, period_start) DO UPDATE SET used = used + excluded.used",
        )?;
        for ((subscription, period), n) in quotas {
            // A subscription deleted meanwhile has nothing left to count.
            match count.execute(params![subscription, period, n]) {
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
    db: &Database,
    subscription: i64,
    period_start: i64,
) -> Result<u64, rusqlite::Error> {
    use rusqlite::OptionalExtension as _;
    Ok(db
        .conn()
        .query_row(
            "SELECT used FROM quota_usage WHERE subscription_id = ?1 AND period_start = ?2",
            params![subscription, period_start],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64)
}
