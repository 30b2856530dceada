//! The audit log: who (and what kind of actor) did what to which target,
//! when, from where, with which request id, and how it ended. Append-only:
//! this module only inserts and reads, and SQLite triggers refuse any UPDATE
//! or DELETE of the table.

use portico_catalog::Database;
use rusqlite::params;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ActorKind, Caller};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was done.
    Success,
    /// It was tried and failed (bad input, a wrong password).
    Failure,
    /// It was refused (too many attempts, not allowed).
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    /// Success or failure from a handler's result.
    pub fn of<T, E>(result: &Result<T, E>) -> Outcome {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Increasing id; also the cursor.
    pub id: i64,
    /// When, RFC 3339 in UTC.
    pub at: String,
    /// `user:<id>`, `system:admin-token`, `anonymous`.
    pub actor_id: String,
    /// The username, or a description.
    pub actor_name: String,
    /// `person`, `api-key`, `agent`, `system` or `anonymous`.
    pub actor_kind: String,
    /// What was done, e.g. `auth.login`, `plugin.disable`.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The client's address.
    pub source_ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's `x-request-id`.
    pub request_id: Option<String>,
    /// More about it.
    #[schema(value_type = Object)]
    pub details: Value,
}

/// Appends an entry for a request's caller.
pub fn record(
    db: &Database,
    caller: &Caller,
    action: &str,
    target: &str,
    outcome: Outcome,
    details: Value,
) {
    record_for(
        db,
        caller,
        (&caller.actor.id, &caller.actor.name, caller.kind().as_str()),
        action,
        target,
        outcome,
        details,
    );
}

/// Appends an entry whose actor is not the caller's (a sign-in names the
/// account it was for). A failure to write is logged, never shown.
pub fn record_for(
    db: &Database,
    caller: &Caller,
    (actor_id, actor_name, actor_kind): (&str, &str, &str),
    action: &str,
    target: &str,
    outcome: Outcome,
    details: Value,
) {
    let written = db.conn().execute(
        "INSERT INTO audit_log (actor_id, actor_name, actor_kind, action, target, outcome,
             source_ip, user_agent, request_id, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            actor_id,
            actor_name,
            actor_kind,
            action,
            target,
            outcome.as_str(),
            caller.ip.map(|ip| ip.to_string()),
            caller.user_agent,
            caller.request_id,
            details.to_string(),
        ],
    );
    if let Err(error) = written {
        tracing::error!(%error, action, target, "cannot write the audit log");
    }
}

/// Appends an entry for the outcome of a handler's work, off the async
/// threads; a failure's public message goes into the details.
pub async fn record_result<T>(
    db: &Database,
    caller: &Caller,
    action: &'static str,
    target: String,
    result: &Result<T, crate::problem::ApiError>,
) {
    let details = match result {
        Ok(_) => serde_json::json!({}),
        Err(error) => serde_json::json!({ "error": error.to_string() }),
    };
    record_off_thread(db, caller, action, target, Outcome::of(result), details).await;
}

/// [`record`], off the async threads (the insert is blocking SQLite work).
pub async fn record_off_thread(
    db: &Database,
    caller: &Caller,
    action: &'static str,
    target: String,
    outcome: Outcome,
    details: Value,
) {
    let db = db.clone();
    let caller = caller.clone();
    let _ = tokio::task::spawn_blocking(move || {
        record(&db, &caller, action, &target, outcome, details)
    })
    .await;
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// An actor id or name.
    pub actor: Option<String>,
    /// An action, or a prefix ending in `.` (`plugin.`).
    pub action: Option<String>,
    /// Only this kind of actor.
    pub kind: Option<ActorKind>,
    /// Leave out the `http.request` entries.
    pub skip_requests: bool,
    /// From this time on (RFC 3339, inclusive).
    pub from: Option<String>,
    /// Before this time (exclusive).
    pub to: Option<String>,
    /// Entries older than this id (the previous page's cursor).
    pub before: Option<i64>,
    /// The most entries.
    pub limit: usize,
}

/// Entries newest first.
pub fn query(db: &Database, q: &AuditQuery) -> Result<Vec<AuditEntry>, rusqlite::Error> {
    let action_prefix = q
        .action
        .as_deref()
        .filter(|a| a.ends_with('.'))
        .map(|a| format!("{}%", a.replace(['%', '_'], "")));
    let action_exact = q.action.as_deref().filter(|a| !a.ends_with('.'));
    let conn = db.conn();
    // Written out, so that SQLite reads changes through their partial index.
    let changes_only = if q.skip_requests {
        "action <> 'http.request' AND"
    } else {
        ""
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, at, actor_id, actor_name, actor_kind, action, target, outcome,
                source_ip, user_agent, request_id, details
         FROM audit_log
         WHERE {changes_only} (?1 IS NULL OR actor_id = ?1 OR actor_name = ?1)
           AND (?2 IS NULL OR action = ?2)
           AND (?3 IS NULL OR action LIKE ?3)
           AND (?4 IS NULL OR at >= ?4)
           AND (?5 IS NULL OR at < ?5)
           AND (?6 IS NULL OR id < ?6)
           AND (?8 IS NULL OR actor_kind = ?8)
         ORDER BY id DESC LIMIT ?7"
    ))?;
    let rows = stmt.query_map(
        params![
            q.actor,
            action_exact,
            action_prefix,
            q.from,
            q.to,
            q.before,
            q.limit as i64,
            q.kind.map(ActorKind::as_str),
        ],
        |r| {
            let details: String = r.get(11)?;
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor_id: r.get(2)?,
                actor_name: r.get(3)?,
                actor_kind: r.get(4)?,
                action: r.get(5)?,
                target: r.get(6)?,
                outcome: r.get(7)?,
                source_ip: r.get(8)?,
                user_agent: r.get(9)?,
                request_id: r.get(10)?,
                details: serde_json::from_str(&details).unwrap_or(Value::Null),
            })
        },
    )?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthSettings;
    use crate::identity::{Actor, roles::Roles};

    fn caller() -> Caller {
        Caller {
            actor: Actor::admin_token(&Roles::new(&AuthSettings::default())),
            ip: Some([127, 0, 0, 1].into()),
            user_agent: Some("test".into()),
            request_id: Some("req-1".into()),
            csrf: None,
            agent: None,
        }
    }

    #[test]
    fn entries_read_back_newest_first_with_filters_and_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        let c = caller();
        record(
            &db,
            &c,
            "plugin.disable",
            "hello",
            Outcome::Success,
            serde_json::json!({}),
        );
        record(
            &db,
            &c,
            "plugin.enable",
            "hello",
            Outcome::Failure,
            serde_json::json!({"why": "x"}),
        );
        record(
            &db,
            &c,
            "location.create",
            "file:/a",
            Outcome::Success,
            Value::Null,
        );
        let all = query(
            &db,
            &AuditQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].action, "location.create");
        assert_eq!(all[2].actor_kind, "system");
        assert_eq!(all[2].request_id.as_deref(), Some("req-1"));
        let plugins = AuditQuery {
            action: Some("plugin.".into()),
            limit: 1,
            ..Default::default()
        };
        let page = query(&db, &plugins).unwrap();
        assert_eq!(page[0].action, "plugin.enable");
        let next = query(
            &db,
            &AuditQuery {
                before: Some(page[0].id),
                ..plugins
            },
        )
        .unwrap();
        assert_eq!(next[0].action, "plugin.disable");
        let by_actor = AuditQuery {
            actor: Some("someone-else".into()),
            limit: 10,
            ..Default::default()
        };
        assert!(query(&db, &by_actor).unwrap().is_empty());
    }

    #[test]
    fn the_table_refuses_updates_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        record(
            &db,
            &caller(),
            "auth.login",
            "ada",
            Outcome::Success,
            Value::Null,
        );
        let conn = db.conn();
        let update = conn.execute("UPDATE audit_log SET outcome = 'failure'", []);
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = conn.execute("DELETE FROM audit_log", []);
        assert!(delete.unwrap_err().to_string().contains("append-only"));
        let count: i64 = conn
            .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
    }
}
