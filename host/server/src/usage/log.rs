//! Usage records and the log they are sent to: every call the portal sees
//! (a key verification, a try-it or sandbox call) and every window of calls
//! a gateway reports.
//!
//! The request path never waits: records go through a bounded channel to
//! one writer thread (`writer.rs`). When the channel is full a record is
//! dropped and counted in `portico_usage_dropped_total` (the in-memory quota
//! still counts it).

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{SystemTime, UNIX_EPOCH};

use portico_catalog::Database;
use rusqlite::{Connection, params};

use super::writer::Writer;

/// Records waiting for the writer, at most.
const QUEUE: usize = 262_144;

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
    /// A stored name read back; none for a name no source has.
    pub fn parse(name: &str) -> Option<Source> {
        match name {
            "verify" => Some(Source::Verify),
            "try-it" => Some(Source::TryIt),
            "sandbox" => Some(Source::Sandbox),
            _ => name
                .strip_prefix("gateway:")
                .map(|g| Source::Gateway(Arc::from(g))),
        }
    }

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
            .spawn(move || match Writer::open(&path) {
                Ok(writer) => writer.run(&receiver),
                Err(error) => {
                    tracing::error!(%error, "cannot open the usage writer; usage goes unrecorded");
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
