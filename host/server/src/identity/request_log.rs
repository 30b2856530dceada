//! Every request in the audit log (`http.request`), with its actor kind:
//! person, API key, agent or visitor, so the log tells agents from humans.
//!
//! The request path never waits for the database: entries go through a
//! bounded channel to one writer thread, which inserts them in batches of one
//! transaction each. When the channel is full (the disk cannot keep up) an
//! entry is dropped and counted in `portico_request_log_dropped_total`.
//! Health probes, metrics scrapes and static assets are not recorded.
//! Request entries older than `[audit] request_retention_days` are deleted
//! (they alone may be: the database refuses to delete any other entry).

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use portico_catalog::Database;
use rusqlite::params;

use super::Caller;
use crate::config::AuditSettings;

/// How often old request entries are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Entries waiting for the writer, at most.
const QUEUE: usize = 16_384;
/// Entries written per transaction, at most.
const BATCH: usize = 512;

/// Routes not worth a record: probes, scrapes and static files.
const QUIET_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics", "/assets/{file}"];

/// One request, as the log keeps it.
#[derive(Debug, Clone)]
pub struct RequestEntry {
    /// Who, from where, with which agent.
    pub caller: Caller,
    /// `GET /apis/default/petstore` (the path, without the query).
    pub target: String,
    /// The route template it matched.
    pub route: String,
    /// The answer's status.
    pub status: u16,
    /// How long the answer took, in milliseconds.
    pub elapsed_ms: u64,
}

/// The sending side, cheap to clone; recording never blocks.
#[derive(Clone)]
pub struct RequestLog {
    /// None when `[audit] record_requests` is off.
    sender: Option<SyncSender<RequestEntry>>,
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestLog(..)")
    }
}

impl RequestLog {
    /// Starts the writer thread for this database. It ends when the last
    /// [`RequestLog`] is dropped, after writing what is queued.
    pub fn start(db: Database, settings: &AuditSettings) -> RequestLog {
        if !settings.record_requests {
            return RequestLog { sender: None };
        }
        let (sender, receiver) = sync_channel(QUEUE);
        let retention =
            (settings.request_retention_days > 0).then_some(settings.request_retention_days);
        let started = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || write_batches(&db, &receiver, retention));
        if let Err(error) = started {
            tracing::error!(%error, "cannot start the request log writer; requests go unrecorded");
        }
        RequestLog {
            sender: Some(sender),
        }
    }

    /// Queues a request; drops it (counted) when the writer is behind.
    pub fn record(&self, entry: RequestEntry) {
        let Some(sender) = &self.sender else {
            return;
        };
        if QUIET_ROUTES.contains(&entry.route.as_str()) {
            return;
        }
        match sender.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("portico_request_log_dropped_total").increment(1);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn write_batches(db: &Database, receiver: &Receiver<RequestEntry>, retention_days: Option<u32>) {
    let mut pruned: Option<Instant> = None;
    while let Ok(first) = receiver.recv() {
        if let Some(days) = retention_days
            && pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY)
        {
            pruned = Some(Instant::now());
            match prune(db, days) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    entries = n,
                    days,
                    "request entries aged out of the audit log"
                ),
                Err(error) => tracing::error!(%error, "cannot delete old request entries"),
            }
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.recv_timeout(Duration::from_millis(2)) {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        if let Err(error) = write(db, &batch) {
            tracing::error!(%error, entries = batch.len(), "cannot write requests to the audit log");
        }
    }
}

/// Deletes request entries older than `days`; returns how many.
fn prune(db: &Database, days: u32) -> Result<usize, rusqlite::Error> {
    db.conn().execute(
        "DELETE FROM audit_log WHERE action = 'http.request'
             AND at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)",
        [format!("-{days} days")],
    )
}

fn write(db: &Database, batch: &[RequestEntry]) -> Result<(), rusqlite::Error> {
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit_log (actor_id, actor_name, actor_kind, action, target, outcome,
                 source_ip, user_agent, request_id, details)
             VALUES (?1, ?2, ?3, 'http.request', ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for entry in batch {
            let caller = &entry.caller;
            let outcome = match entry.status {
                401 | 403 | 429 => "denied",
                s if s >= 400 => "failure",
                _ => "success",
            };
            let mut details = serde_json::json!({
                "status": entry.status,
                "elapsed_ms": entry.elapsed_ms,
                "route": entry.route,
            });
            if let Some(agent) = &caller.agent {
                details["agent"] = agent.clone().into();
            }
            insert.execute(params![
                caller.actor.id,
                caller.actor.name,
                caller.kind().as_str(),
                entry.target,
                outcome,
                caller.ip.map(|ip| ip.to_string()),
                caller.user_agent,
                caller.request_id,
                details.to_string(),
            ])?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::audit::{self, AuditQuery};

    fn entry(caller: Caller, route: &str, status: u16) -> RequestEntry {
        RequestEntry {
            caller,
            target: format!("GET {route}"),
            route: route.into(),
            status,
            elapsed_ms: 1,
        }
    }

    #[test]
    fn probes_and_assets_are_not_queued() {
        let (sender, receiver) = sync_channel(8);
        let log = RequestLog {
            sender: Some(sender),
        };
        for route in ["/healthz", "/assets/{file}", "/catalog"] {
            log.record(entry(Caller::system("x", "x"), route, 200));
        }
        let queued: Vec<String> = receiver.try_iter().map(|e| e.route).collect();
        assert_eq!(queued, ["/catalog"]);
    }

    #[test]
    fn requests_are_written_with_their_actor_kind_and_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("portal.db")).unwrap();
        let mut agent = Caller::system("x", "x");
        agent.agent = Some("ClaudeBot".into());
        let batch = [
            entry(agent, "/apis/{namespace}/{name}", 200),
            entry(Caller::system("z", "z"), "/api/v1/audit", 403),
        ];
        write(&db, &batch).unwrap();
        let entries = audit::query(
            &db,
            &AuditQuery {
                action: Some("http.request".into()),
                limit: 10,
                ..AuditQuery::default()
            },
        )
        .unwrap();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(
            (entries[0].actor_kind.as_str(), entries[0].outcome.as_str()),
            ("system", "denied")
        );
        assert_eq!(entries[1].actor_kind, "agent");
        assert_eq!(entries[1].details["agent"], "ClaudeBot");
        assert_eq!(entries[1].target, "GET /apis/{namespace}/{name}");

        // Old request entries age out; no other entry can be deleted.
        db.conn()
            .execute(
                "INSERT INTO audit_log (actor_id, actor_kind, action, outcome, at)
                 VALUES ('a', 'anonymous', 'http.request', 'success', '2000-01-01T00:00:00Z'),
                        ('a', 'anonymous', 'auth.login', 'success', '2000-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
        assert_eq!(prune(&db, 30).unwrap(), 1);
        let refused = db
            .conn()
            .execute("DELETE FROM audit_log WHERE action = 'auth.login'", []);
        assert!(refused.is_err());
    }
}
