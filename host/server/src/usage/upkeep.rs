//! Usage upkeep, one round every `[usage] upkeep_interval_secs`: pulls usage
//! from gateways whose connectors offer `collect-usage`, deletes what
//! outlived its retention, and issues invoices for billing periods that
//! ended. Each step works on its own and logs its failure; none stops the
//! others.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use portico_runtime::CallError;
use portico_runtime::worlds::PluginError;
use rusqlite::params;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ingest::{self, GatewayIndex};
use super::log::{Source, now_ms};
use crate::config::UsageSettings;
use crate::gateways::Gateway;
use crate::state::AppState;

/// Records asked for per pull.
const PULL_PAGE: u32 = 1000;
/// Pages pulled from one gateway per round, at most.
const PULL_PAGES: usize = 20;
const DAY_MS: i64 = 86_400_000;

/// Starts the upkeep rounds; they end when `stop` fires.
pub fn spawn(state: AppState, stop: oneshot::Receiver<()>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_secs(state.config().usage.upkeep_interval_secs);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Gateways whose connector answered `unsupported`: not asked again.
        let mut no_pull = HashSet::new();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticks.tick() => round(&state, &mut no_pull).await,
            }
        }
    })
}

/// One round: pulls, retention, invoices.
pub async fn round(state: &AppState, no_pull: &mut HashSet<String>) {
    for gateway in state.gateways().all() {
        if !no_pull.contains(&gateway.settings.name)
            && let Err(Unsupported) = pull(state, gateway).await
        {
            no_pull.insert(gateway.settings.name.clone());
        }
    }
    let settings = state.config().usage.clone();
    let path = state.db().path().to_owned();
    match tokio::task::spawn_blocking(move || apply_retention(&path, &settings, now_ms())).await {
        Ok(Ok(deleted)) if deleted > 0 => {
            tracing::debug!(deleted, "usage past its retention deleted")
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::error!(%error, "cannot apply usage retention"),
        Err(error) => tracing::error!(%error, "cannot apply usage retention"),
    }
    crate::billing::issue_due(state).await;
}

/// A connector without `collect-usage`.
struct Unsupported;

/// Pulls what a gateway recorded since the last pull, page by page.
async fn pull(state: &AppState, gateway: &Arc<Gateway>) -> Result<(), Unsupported> {
    let name = gateway.settings.name.clone();
    let source = Source::Gateway(Arc::from(name.as_str())).name();
    let Ok(instance) = gateway.instance(state.plugins()) else {
        return Ok(());
    };
    let db = state.db().clone();
    let log = state.verifier().usage().clone();
    for _ in 0..PULL_PAGES {
        let cursor = {
            let (db, source) = (db.clone(), source.clone());
            tokio::task::spawn_blocking(move || ingest::cursor(&db.conn(), &source))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        };
        let batch = match tokio::time::timeout(
            gateway.settings.timeout.0,
            instance.collect_usage(cursor.as_deref(), PULL_PAGE),
        )
        .await
        {
            Ok(Ok(batch)) => batch,
            Ok(Err(CallError::Plugin {
                error: PluginError::Unsupported(_),
                ..
            })) => return Err(Unsupported),
            Ok(Err(error)) => {
                record_refusal(&db, &source, &format!("pulling usage failed: {error}")).await;
                return Ok(());
            }
            Err(_) => {
                record_refusal(&db, &source, "pulling usage took too long").await;
                return Ok(());
            }
        };
        let (db2, name2, source2, log2) = (db.clone(), name.clone(), source.clone(), log.clone());
        let next = batch.cursor.clone();
        let stored = tokio::task::spawn_blocking(move || -> rusqlite::Result<()> {
            let conn = db2.conn();
            let records = GatewayIndex::load(&conn, &name2)?.records(&name2, &batch.records);
            ingest::count(&conn, &source2, Ok(records.len()))?;
            for record in records {
                log2.record_window(record);
            }
            ingest::set_cursor(&conn, &source2, Some(&next))
        })
        .await;
        if !matches!(stored, Ok(Ok(()))) {
            tracing::error!(gateway = %name, "cannot store pulled usage");
            return Ok(());
        }
        if !batch.more {
            break;
        }
    }
    Ok(())
}

async fn record_refusal(db: &portico_catalog::Database, source: &str, why: &str) {
    tracing::warn!(source, error = why, "usage pull failed");
    let (db, source, why) = (db.clone(), source.to_owned(), why.to_owned());
    let _ =
        tokio::task::spawn_blocking(move || ingest::count(&db.conn(), &source, Err(&why))).await;
}

/// Deletes events and roll-ups older than their retention; returns the rows deleted.
pub fn apply_retention(
    path: &std::path::Path,
    settings: &UsageSettings,
    now: i64,
) -> rusqlite::Result<usize> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let before = |days: u32| now - i64::from(days) * DAY_MS;
    let mut deleted = 0;
    if settings.events_retention_days > 0 {
        deleted += conn.execute(
            "DELETE FROM usage_events WHERE at_ms < ?1",
            [before(settings.events_retention_days)],
        )?;
    }
    for (granularity, days) in settings.rollup_retention() {
        if days == 0 {
            continue;
        }
        for table in ["usage_by_consumer", "usage_by_operation"] {
            deleted += conn.execute(
                &format!("DELETE FROM {table} WHERE granularity = ?1 AND bucket_ms < ?2"),
                params![granularity.as_str(), before(days)],
            )?;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::log::UsageRecord;
    use crate::usage::writer::{Writer, write};

    #[test]
    fn each_granularity_is_kept_as_long_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.db");
        portico_catalog::Database::open(&path).unwrap();
        let now = 100 * DAY_MS;
        let record = |days_ago: i64| UsageRecord {
            at_ms: now - days_ago * DAY_MS,
            source: Source::Verify,
            key_id: None,
            app_id: None,
            api_ref: None,
            operation: None,
            status: 200,
            calls: 1,
            errors: 0,
            latency_us: Some(10.0),
            bytes: 0,
            quota: None,
        };
        let mut writer = Writer::open(&path).unwrap();
        write(&mut writer, &[record(1), record(5), record(50)]).unwrap();
        let conn = writer.conn();
        let settings = UsageSettings {
            events_retention_days: 3,
            minute_retention_days: 3,
            hour_retention_days: 10,
            day_retention_days: 0,
            ..UsageSettings::default()
        };
        apply_retention(&path, &settings, now).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM usage_events"), 1);
        let rows = |g: &str| {
            count(&format!(
                "SELECT count(*) FROM usage_by_consumer WHERE granularity = '{g}'"
            ))
        };
        assert_eq!((rows("minute"), rows("hour"), rows("day")), (1, 2, 3));
        assert_eq!(
            count("SELECT count(*) FROM usage_by_operation WHERE granularity = 'hour'"),
            2
        );
    }
}
