//! One sync of one gateway: read every page of its connector's `discover`
//! (and the specs it can export) within the gateway's timeout, write the
//! result to the catalogue in one transaction, and record the run.
//!
//! A failure anywhere before the write (the gateway down, slow or answering
//! garbage; a cursor that loops) writes nothing, so a passing outage never
//! orphans a gateway's APIs.

use std::time::{Duration, Instant};

use portico_runtime::PluginInstance;
use portico_runtime::worlds::PluginError;
use portico_runtime::{CallError, worlds::connector::DiscoveryPage};

use super::entities::{self, Found};
use super::runs::{self, Outcome, Run, Trigger};
use super::{Gateway, SyncError};
use crate::state::AppState;

/// More pages than this means a connector that never says it is done.
const MAX_PAGES: u64 = 10_000;

/// Syncs `gateway` now; fails at once if a sync of it is already running.
pub(crate) async fn run(
    state: &AppState,
    gateway: &Gateway,
    trigger: Trigger,
) -> Result<Run, SyncError> {
    let name = gateway.settings.name.clone();
    let _running = gateway
        .running
        .try_lock()
        .map_err(|_| SyncError::Busy(format!("a sync of gateway `{name}` is already running")))?;
    let db = state.db().clone();
    let started_name = name.clone();
    let id = blocking(move || runs::start(&db, &started_name, trigger)).await?;
    tracing::info!(gateway = %name, run = id, ?trigger, "gateway sync started");

    let mut outcome = Outcome::default();
    match gateway.instance(state.plugins()) {
        Err(reason) => outcome.error = Some(reason),
        Ok(instance) => {
            let limit = gateway.settings.timeout;
            match tokio::time::timeout(limit.0, discover_all(&instance, &mut outcome)).await {
                Err(_) => {
                    outcome.error = Some(format!(
                        "the sync did not finish within its timeout of {limit} (gateways.{name}.timeout); nothing was written"
                    ));
                }
                Ok(Err(reason)) => outcome.error = Some(format!("{reason}; nothing was written")),
                Ok(Ok(found)) => write(state, gateway, found, &mut outcome).await,
            }
        }
    }
    match &outcome.error {
        None => tracing::info!(gateway = %name, run = id, discovered = outcome.discovered,
            added = outcome.counts[0], updated = outcome.counts[1], orphaned = outcome.counts[3],
            rejected = outcome.counts[5], "gateway sync succeeded"),
        Some(error) => tracing::warn!(gateway = %name, run = id, %error, "gateway sync failed"),
    }
    let db = state.db().clone();
    blocking(move || runs::finish(&db, id, &outcome)).await
}

/// Every page of `discover`, and the specs the connector can export; times
/// the plugin calls into `outcome`.
async fn discover_all(
    instance: &PluginInstance,
    outcome: &mut Outcome,
) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    let mut cursors_seen = std::collections::HashSet::new();
    loop {
        let page_number = outcome.pages + 1;
        let started = Instant::now();
        let page: Result<DiscoveryPage, CallError> = instance.discover(cursor.as_deref()).await;
        outcome.plugin_ms += millis(started.elapsed());
        let page = page.map_err(|e| format!("discover (page {page_number}): {e}"))?;
        outcome.pages = page_number;
        outcome.discovered += page.apis.len() as u64;
        for api in page.apis {
            let spec = if api.spec_available {
                let started = Instant::now();
                let spec = instance.fetch_spec(&api.id, None).await;
                outcome.plugin_ms += millis(started.elapsed());
                match spec {
                    Ok(spec) => spec,
                    Err(CallError::Plugin {
                        error: PluginError::Unsupported(_),
                        ..
                    }) => None,
                    Err(e) => return Err(format!("fetch-spec of `{}`: {e}", api.id)),
                }
            } else {
                None
            };
            found.push(Found { api, spec });
        }
        match page.next {
            None => return Ok(found),
            Some(next) if !cursors_seen.insert(next.clone()) => {
                return Err(format!(
                    "discover (page {page_number}) returned the cursor `{next}` a second time"
                ));
            }
            Some(_) if page_number >= MAX_PAGES => {
                return Err(format!("discover did not finish within {MAX_PAGES} pages"));
            }
            Some(next) => cursor = Some(next),
        }
    }
}

/// Writes what was found as the gateway's complete source, in one transaction.
async fn write(state: &AppState, gateway: &Gateway, found: Vec<Found>, outcome: &mut Outcome) {
    let orphans = state.config().catalog.orphans;
    let (sync, mut problems) = entities::batch(&gateway.settings, found, orphans);
    let store = state.catalog().clone();
    let started = Instant::now();
    let written = tokio::task::spawn_blocking(move || store.sync_source(&sync, &mut |_, _| {}))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    outcome.store_ms = millis(started.elapsed());
    match written {
        Ok(done) => {
            problems.extend(
                done.rejected
                    .iter()
                    .map(|r| format!("{}: {}; not written", r.entity, r.reason)),
            );
            let not_written = problems
                .iter()
                .filter(|p| p.ends_with("not written"))
                .count();
            outcome.counts = [
                done.added.len() as u64,
                done.changed.len() as u64,
                done.unchanged.len() as u64,
                done.orphaned.len() as u64,
                done.deleted.len() as u64,
                not_written as u64,
            ];
            outcome.problems = problems;
        }
        Err(error) => {
            tracing::error!(gateway = %gateway.settings.name, %error, "writing a gateway's APIs failed");
            outcome.error = Some("the catalogue could not be written; nothing was".into());
        }
    }
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SyncError::Store(e.to_string()))?
        .map_err(|e| SyncError::Store(e.to_string()))
}
