//! Usage from gateways: records a connector made of a pushed payload (Kong's
//! http-log plugin, single or batched) or pulled (`collect-usage`), matched to
//! the portal's keys and APIs and handed to the usage writer.
//!
//! A credential is matched through `key_credentials` (what the portal
//! provisioned there); an API through the catalogue's gateway annotations.
//! Each source's accepted and refused payloads are counted in
//! `usage_sources`, with the last error, so a misconfigured log plugin shows
//! on `/api/v1/usage/sources` instead of vanishing.

use std::collections::HashMap;
use std::sync::Arc;

use portico_runtime::worlds::UsageRecord as GatewayRecord;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::log::{Source, UsageRecord, now_ms};
use crate::gateways::entities::{GATEWAY_ANNOTATION, GATEWAY_API_ID_ANNOTATION};

/// What one gateway's records are matched against.
#[derive(Debug, Default)]
pub struct GatewayIndex {
    /// The connector's credential reference → (key, app).
    credentials: HashMap<String, (i64, i64)>,
    /// The gateway's API id → `api:namespace/name`.
    apis: HashMap<String, Arc<str>>,
}

impl GatewayIndex {
    /// Reads the keys provisioned to `gateway` and the APIs found on it.
    pub fn load(conn: &Connection, gateway: &str) -> rusqlite::Result<GatewayIndex> {
        let mut credentials = HashMap::new();
        let mut statement = conn.prepare_cached(
            "SELECT c.credential_ref, k.id, k.app_id FROM key_credentials c
             JOIN api_keys k ON k.id = c.key_id
             WHERE c.gateway = ?1 AND c.credential_ref IS NOT NULL",
        )?;
        let rows = statement.query_map([gateway], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
        })?;
        for row in rows {
            let (reference, ids) = row?;
            credentials.insert(reference, ids);
        }
        let mut apis = HashMap::new();
        // The catalogue stores kinds lowercase.
        let mut statement = conn.prepare_cached(
            "SELECT namespace, name, json_extract(body, '$.metadata.annotations.\"' || ?2 || '\"')
             FROM entities
             WHERE kind = 'api' AND json_extract(body, '$.metadata.annotations.\"' || ?3 || '\"') = ?1",
        )?;
        let rows = statement.query_map(
            params![gateway, GATEWAY_API_ID_ANNOTATION, GATEWAY_ANNOTATION],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )?;
        for row in rows {
            if let (namespace, name, Some(id)) = row? {
                apis.insert(id, Arc::from(format!("api:{namespace}/{name}")));
            }
        }
        Ok(GatewayIndex { credentials, apis })
    }

    /// The usage records of a gateway's records. A record that names no
    /// status counts its failures as 5xx and the rest as 2xx.
    pub fn records(&self, gateway: &str, records: &[GatewayRecord]) -> Vec<UsageRecord> {
        let source = Source::Gateway(Arc::from(gateway));
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let (key_id, app_id) = r
                .credential_ref
                .as_ref()
                .and_then(|c| self.credentials.get(c))
                .map_or((None, None), |&(k, a)| (Some(k), Some(a)));
            let operation = match (&r.method, &r.route) {
                (Some(method), Some(route)) => Some(Arc::from(format!("{method} {route}"))),
                (None, Some(route)) => Some(Arc::from(route.as_str())),
                _ => None,
            };
            let at_ms = i64::try_from(r.window_start_ms).unwrap_or(i64::MAX);
            let base = UsageRecord {
                at_ms,
                source: source.clone(),
                key_id,
                app_id,
                api_ref: r.api_id.as_ref().and_then(|id| self.apis.get(id)).cloned(),
                operation,
                status: 0,
                calls: 0,
                errors: 0,
                latency_us: r
                    .latency_ms_avg
                    .filter(|l| l.is_finite() && *l >= 0.0)
                    .map(|l| l * 1000.0),
                bytes: r.bytes.unwrap_or(0),
                quota: None,
            };
            match r.status {
                Some(status) => out.push(UsageRecord {
                    status,
                    calls: r.requests,
                    errors: if super::log::is_error(status) {
                        r.requests
                    } else {
                        r.errors.min(r.requests)
                    },
                    ..base
                }),
                None => {
                    let errors = r.errors.min(r.requests);
                    if r.requests > errors {
                        out.push(UsageRecord {
                            status: 200,
                            calls: r.requests - errors,
                            ..base.clone()
                        });
                    }
                    if errors > 0 {
                        out.push(UsageRecord {
                            status: 500,
                            calls: errors,
                            errors,
                            bytes: 0,
                            ..base
                        });
                    }
                }
            }
        }
        out
    }
}

/// Counts a payload a source sent: accepted, or refused with why.
pub fn count(
    conn: &Connection,
    source: &str,
    outcome: Result<usize, &str>,
) -> rusqlite::Result<()> {
    let (accepted, rejected, error) = match outcome {
        Ok(records) => (records as i64, 0, None),
        Err(why) => (0, 1, Some(why)),
    };
    conn.execute(
        "INSERT INTO usage_sources (source, accepted, rejected, last_error, last_error_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 IS NULL THEN NULL ELSE ?5 END, ?5)
         ON CONFLICT (source) DO UPDATE SET accepted = accepted + excluded.accepted,
             rejected = rejected + excluded.rejected,
             last_error = coalesce(excluded.last_error, last_error),
             last_error_at = coalesce(excluded.last_error_at, last_error_at),
             last_seen_at = excluded.last_seen_at",
        params![source, accepted, rejected, error, now_ms()],
    )?;
    Ok(())
}

/// What a source sent, as `/api/v1/usage/sources` shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SourceStats {
    /// `verify`, `try-it`, `sandbox` or `gateway:<name>`.
    pub source: String,
    /// Records accepted.
    pub accepted: i64,
    /// Payloads refused.
    pub rejected: i64,
    /// Why the last refused payload was refused.
    pub last_error: Option<String>,
    /// When (milliseconds since the epoch).
    pub last_error_at: Option<i64>,
    /// When the source last sent anything.
    pub last_seen_at: Option<i64>,
}

/// Every gateway source's counts.
pub fn sources(conn: &Connection) -> rusqlite::Result<Vec<SourceStats>> {
    let mut statement = conn.prepare(
        "SELECT source, accepted, rejected, last_error, last_error_at, last_seen_at
         FROM usage_sources ORDER BY source",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(SourceStats {
            source: r.get(0)?,
            accepted: r.get(1)?,
            rejected: r.get(2)?,
            last_error: r.get(3)?,
            last_error_at: r.get(4)?,
            last_seen_at: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// Where the next pull of `source` starts.
pub fn cursor(conn: &Connection, source: &str) -> rusqlite::Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT cursor FROM usage_sources WHERE source = ?1",
            [source],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// Stores where the next pull of `source` starts.
pub fn set_cursor(conn: &Connection, source: &str, cursor: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO usage_sources (source, cursor) VALUES (?1, ?2)
         ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor",
        params![source, cursor],
    )?;
    Ok(())
}
