//! The record of gateway syncs (table `gateway_runs`): a run is written as
//! `running` when it starts and completed once, with its counts, timings and
//! error, when it ends. Runs a stopped portal left `running` are closed as
//! failed at the next start.

use portico_catalog::Database;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

/// What started a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The gateway's `sync_interval`.
    Schedule,
    /// `POST /api/v1/gateways/{name}/sync` or the admin page.
    Api,
    /// `portico gateway sync`.
    Cli,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Cli => "cli",
        }
    }
}

/// How a run ended, or that it has not yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still going.
    Running,
    /// Everything discovered was written (some entities may be rejected: see `problems`).
    Succeeded,
    /// Nothing was written: see `error`.
    Failed,
}

/// One sync of one gateway.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Run {
    /// Increasing id.
    pub id: i64,
    /// The gateway's name.
    pub gateway: String,
    /// What started it.
    pub trigger: Trigger,
    /// How it ended.
    pub status: Status,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Pages of `discover` read.
    pub pages: u64,
    /// APIs the connector reported.
    pub discovered: u64,
    /// Entities new to the catalogue.
    pub added: u64,
    /// Entities whose content changed (or that came back from orphanhood).
    pub updated: u64,
    /// Entities the same as before.
    pub unchanged: u64,
    /// Entities the gateway stopped reporting, kept and flagged.
    pub orphaned: u64,
    /// Entities the gateway stopped reporting, deleted (`[catalog] orphans = "delete"`).
    pub deleted: u64,
    /// APIs not written (see `problems`).
    pub rejected: u64,
    /// Time spent in the connector's calls, in milliseconds.
    pub plugin_ms: u64,
    /// Time spent writing the catalogue, in milliseconds.
    pub store_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// What was not written, and why.
    pub problems: Vec<String>,
}

/// What a finished run records.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// None: succeeded; else why it failed.
    pub error: Option<String>,
    /// Pages read.
    pub pages: u64,
    /// APIs reported.
    pub discovered: u64,
    /// Catalogue counts: added, updated, unchanged, orphaned, deleted, rejected.
    pub counts: [u64; 6],
    /// Time in plugin calls, ms.
    pub plugin_ms: u64,
    /// Time writing the catalogue, ms.
    pub store_ms: u64,
    /// What was not written, and why.
    pub problems: Vec<String>,
}

const COLUMNS: &str = "id, gateway, trigger, status, started_at, finished_at, pages, discovered, \
    added, updated, unchanged, orphaned, deleted, rejected, plugin_ms, store_ms, error, problems";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Run> {
    let trigger = match row.get::<_, String>(2)?.as_str() {
        "schedule" => Trigger::Schedule,
        "cli" => Trigger::Cli,
        _ => Trigger::Api,
    };
    let status = match row.get::<_, String>(3)?.as_str() {
        "running" => Status::Running,
        "succeeded" => Status::Succeeded,
        _ => Status::Failed,
    };
    let count = |i: usize| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
    let problems: String = row.get(17)?;
    Ok(Run {
        id: row.get(0)?,
        gateway: row.get(1)?,
        trigger,
        status,
        started_at: row.get(4)?,
        finished_at: row.get(5)?,
        pages: count(6)?,
        discovered: count(7)?,
        added: count(8)?,
        updated: count(9)?,
        unchanged: count(10)?,
        orphaned: count(11)?,
        deleted: count(12)?,
        rejected: count(13)?,
        plugin_ms: count(14)?,
        store_ms: count(15)?,
        error: row.get(16)?,
        problems: serde_json::from_str(&problems).unwrap_or_default(),
    })
}

/// Records the start of a run; returns its id.
pub fn start(db: &Database, gateway: &str, trigger: Trigger) -> rusqlite::Result<i64> {
    let conn = db.conn();
    conn.execute(
        "INSERT INTO gateway_runs (gateway, trigger, status) VALUES (?1, ?2, 'running')",
        params![gateway, trigger.as_str()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Records how a run ended and returns it.
pub fn finish(db: &Database, id: i64, outcome: &Outcome) -> rusqlite::Result<Run> {
    let conn = db.conn();
    let [added, updated, unchanged, orphaned, deleted, rejected] = outcome.counts;
    let status = if outcome.error.is_some() {
        "failed"
    } else {
        "succeeded"
    };
    let problems = serde_json::to_string(&outcome.problems).unwrap_or_else(|_| "[]".into());
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    conn.execute(
        "UPDATE gateway_runs SET status = ?2,
             finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
             pages = ?3, discovered = ?4, added = ?5, updated = ?6, unchanged = ?7,
             orphaned = ?8, deleted = ?9, rejected = ?10, plugin_ms = ?11, store_ms = ?12,
             error = ?13, problems = ?14
         WHERE id = ?1",
        params![
            id,
            status,
            n(outcome.pages),
            n(outcome.discovered),
            n(added),
            n(updated),
            n(unchanged),
            n(orphaned),
            n(deleted),
            n(rejected),
            n(outcome.plugin_ms),
            n(outcome.store_ms),
            outcome.error,
            problems,
        ],
    )?;
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM gateway_runs WHERE id = ?1"),
        [id],
        from_row,
    )
}

/// A gateway's runs, newest first.
pub fn list(db: &Database, gateway: &str, limit: usize) -> rusqlite::Result<Vec<Run>> {
    let conn = db.conn();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM gateway_runs WHERE gateway = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    stmt.query_map(params![gateway, limit], from_row)?.collect()
}

/// A gateway's latest run.
pub fn last(db: &Database, gateway: &str) -> rusqlite::Result<Option<Run>> {
    db.conn()
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM gateway_runs WHERE gateway = ?1 ORDER BY id DESC LIMIT 1"
            ),
            [gateway],
            from_row,
        )
        .optional()
}

/// Closes the runs a stopped portal left running; returns how many.
pub fn close_interrupted(db: &Database) -> rusqlite::Result<usize> {
    db.conn().execute(
        "UPDATE gateway_runs SET status = 'failed',
             finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
             error = 'interrupted: the portal stopped before the sync ended; nothing was written'
         WHERE status = 'running'",
        [],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_recorded_running_then_finished_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        let first = start(&db, "edge", Trigger::Schedule).unwrap();
        assert_eq!(last(&db, "edge").unwrap().unwrap().status, Status::Running);
        let run = finish(
            &db,
            first,
            &Outcome {
                pages: 2,
                discovered: 3,
                counts: [2, 1, 0, 1, 0, 1],
                problems: vec!["api x: clash".into()],
                ..Outcome::default()
            },
        )
        .unwrap();
        assert_eq!(run.status, Status::Succeeded);
        assert_eq!((run.added, run.updated, run.orphaned), (2, 1, 1));
        assert_eq!(run.problems, ["api x: clash"]);
        assert!(run.finished_at.is_some());
        let second = start(&db, "edge", Trigger::Api).unwrap();
        start(&db, "other", Trigger::Cli).unwrap();
        assert_eq!(close_interrupted(&db).unwrap(), 2);
        let runs = list(&db, "edge", 10).unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [second, first]
        );
        assert_eq!(runs[0].status, Status::Failed);
        assert!(runs[0].error.as_deref().unwrap().starts_with("interrupted"));
        assert!(last(&db, "nowhere").unwrap().is_none());
    }
}
