//! Webhooks and their deliveries in SQLite: an app's endpoint with its
//! secret, the deliveries the owner reads, and the dispatcher's side (claim
//! what is due under a lease, record each attempt). State lives in the
//! database only, so deliveries survive restarts.

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::signing::Secret;

/// An app's endpoint.
pub struct Webhook {
    /// Where deliveries go.
    pub url: String,
    /// What they are signed with.
    pub secret: Secret,
}

/// What the error of a delivery to an app without a webhook says.
const REMOVED: &str = "the app's webhook was removed";

/// An app's webhook, if it has one.
pub fn get(conn: &Connection, app_id: i64) -> rusqlite::Result<Option<Webhook>> {
    conn.query_row(
        "SELECT url, secret FROM webhooks WHERE app_id = ?1",
        [app_id],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )
    .optional()
    .map(|found| {
        found.and_then(|(url, secret)| {
            Some(Webhook {
                url,
                secret: Secret::parse(&secret)?,
            })
        })
    })
}

/// Sets an app's endpoint; a new webhook gets a new secret, a changed URL keeps its own.
pub fn set(conn: &Connection, app_id: i64, url: &str) -> rusqlite::Result<Webhook> {
    let secret = Secret::generate();
    conn.execute(
        "INSERT INTO webhooks (app_id, url, secret) VALUES (?1, ?2, ?3)
         ON CONFLICT (app_id) DO UPDATE SET url = excluded.url,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        params![app_id, url, secret.expose()],
    )?;
    get(conn, app_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Gives an app's webhook a new secret; `None` when it has no webhook.
pub fn rotate(conn: &Connection, app_id: i64) -> rusqlite::Result<Option<Webhook>> {
    let secret = Secret::generate();
    let changed = conn.execute(
        "UPDATE webhooks SET secret = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE app_id = ?1",
        params![app_id, secret.expose()],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    get(conn, app_id)
}

/// Removes an app's webhook and gives up its pending deliveries; `false`
/// when it had none.
pub fn delete(conn: &mut Connection, app_id: i64) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let removed = tx.execute("DELETE FROM webhooks WHERE app_id = ?1", [app_id])? > 0;
    tx.execute(
        "UPDATE webhook_deliveries SET status = 'failed', last_error = ?2, next_attempt_ms = NULL
         WHERE app_id = ?1 AND status = 'pending'",
        params![app_id, REMOVED],
    )?;
    tx.commit()?;
    Ok(removed)
}

/// One delivery as its app's owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery's id.
    pub id: i64,
    /// The event's id (`evt_…`), as in the payload.
    pub event_id: String,
    /// `api.breaking_change` or `api.deprecated`.
    pub event: String,
    /// `pending` (waiting for an attempt), `delivered` or `failed` (given up).
    pub status: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The HTTP status of the last attempt, if the endpoint answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the next attempt is due (RFC 3339), while pending.
    pub next_attempt_at: Option<String>,
    /// When the delivery was made (RFC 3339).
    pub created_at: String,
    /// When the endpoint accepted it (RFC 3339).
    pub delivered_at: Option<String>,
}

/// An app's most recent deliveries, newest first.
pub fn deliveries(
    conn: &Connection,
    app_id: i64,
    limit: u32,
) -> rusqlite::Result<Vec<DeliveryView>> {
    conn.prepare_cached(
        "SELECT id, event_id, event_type, status, attempts, last_status, last_error,
                next_attempt_ms, created_at, delivered_at
         FROM webhook_deliveries WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?
    .query_map(params![app_id, limit], |r| {
        let next: Option<i64> = r.get(7)?;
        let status: String = r.get(3)?;
        Ok(DeliveryView {
            id: r.get(0)?,
            event_id: r.get(1)?,
            event: r.get(2)?,
            attempts: r.get(4)?,
            last_status: r.get(5)?,
            last_error: r.get(6)?,
            next_attempt_at: next
                .filter(|_| status == "pending")
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            status,
            created_at: r.get(8)?,
            delivered_at: r.get(9)?,
        })
    })?
    .collect()
}

/// A delivery claimed for one attempt.
pub struct Due {
    /// The delivery's id.
    pub id: i64,
    /// The app it goes to.
    pub app_id: i64,
    /// Its event's id.
    pub event_id: String,
    /// The event's type, for logs and metrics.
    pub event_type: String,
    /// The frozen JSON body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// Claims up to `limit` deliveries due at `now_ms`: their next attempt moves
/// to `lease_until_ms`, so a crash mid-attempt retries them after the lease.
pub fn claim_due(
    conn: &Connection,
    now_ms: i64,
    lease_until_ms: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Due>> {
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET next_attempt_ms = ?2
         WHERE id IN (SELECT id FROM webhook_deliveries
                      WHERE status = 'pending' AND next_attempt_ms <= ?1
                      ORDER BY next_attempt_ms, id LIMIT ?3)
         RETURNING id, app_id, event_id, event_type, payload, attempts",
    )?
    .query_map(params![now_ms, lease_until_ms, limit as i64], |r| {
        Ok(Due {
            id: r.get(0)?,
            app_id: r.get(1)?,
            event_id: r.get(2)?,
            event_type: r.get(3)?,
            payload: r.get(4)?,
            attempts: r.get(5)?,
        })
    })?
    .collect()
}

/// When the earliest pending delivery is due (unix ms), if any is pending.
pub fn next_due_ms(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT min(next_attempt_ms) FROM webhook_deliveries WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// It did not; `retry_at_ms` is none when no attempt is left.
    Failed {
        /// Its status, if it answered.
        status: Option<u16>,
        /// What went wrong, for the owner.
        error: String,
        /// When to try again (unix ms).
        retry_at_ms: Option<i64>,
    },
    /// The app has no webhook any more.
    NoWebhook,
}

/// Records an attempt of a claimed delivery.
pub fn record(conn: &Connection, id: i64, attempt: &Attempt) -> rusqlite::Result<()> {
    match attempt {
        Attempt::Delivered { status } => conn.execute(
            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,
                 last_status = ?2, last_error = NULL, next_attempt_ms = NULL,
                 delivered_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1",
            params![id, status],
        )?,
        Attempt::Failed {
            status,
            error,
            retry_at_ms,
        } => conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?2,
                 last_error = ?3, next_attempt_ms = ?4,
                 status = CASE WHEN ?4 IS NULL THEN 'failed' ELSE 'pending' END
             WHERE id = ?1",
            params![id, status, error, retry_at_ms],
        )?,
        Attempt::NoWebhook => conn.execute(
            "UPDATE webhook_deliveries SET status = 'failed', last_error = ?2,
                 next_attempt_ms = NULL
             WHERE id = ?1",
            params![id, REMOVED],
        )?,
    };
    Ok(())
}
