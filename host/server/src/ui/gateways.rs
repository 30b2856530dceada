//! The gateways admin page: every configured gateway with its connector,
//! schedule, hosts and last sync, its recent runs with their counts and
//! errors, and (for those allowed to) a button that syncs one now.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{Chrome, error_page, render};
use crate::gateways::{self, Run, Status, Trigger, runs};
use crate::gateways_api::{GatewayView, views};
use crate::identity::Caller;
use crate::identity::audit::{self, Outcome};
use crate::identity::roles::GATEWAYS_SYNC;
use crate::state::AppState;

/// Runs shown per gateway.
const RECENT_RUNS: usize = 10;

/// Routes of the gateways page.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/gateways", get(gateways_page))
        .route("/admin/gateways/{name}/sync", post(sync_now))
}

#[derive(Template)]
#[template(path = "gateways.html")]
struct GatewaysPage {
    chrome: Chrome,
    gateways: Vec<GatewaySection>,
    /// The CSRF token, when the caller may sync.
    sync: Option<String>,
    notice: Option<String>,
    problem: Option<String>,
}

/// One gateway with its recent runs.
struct GatewaySection {
    gateway: GatewayView,
    runs: Vec<RunRow>,
}

/// One run as a table row.
struct RunRow {
    id: i64,
    trigger: &'static str,
    status: &'static str,
    status_class: &'static str,
    started_at: String,
    duration: String,
    counts: String,
    error: Option<String>,
    problems: Vec<String>,
}

impl RunRow {
    fn new(run: Run) -> RunRow {
        let (status, status_class) = match run.status {
            Status::Running => ("Running", "badge-neutral"),
            Status::Succeeded => ("Succeeded", "badge-good"),
            Status::Failed => ("Failed", "badge-bad"),
        };
        RunRow {
            id: run.id,
            trigger: match run.trigger {
                Trigger::Schedule => "schedule",
                Trigger::Api => "on demand",
                Trigger::Cli => "command line",
            },
            status,
            status_class,
            duration: format!(
                "{} ms in the connector, {} ms writing",
                run.plugin_ms, run.store_ms
            ),
            counts: format!(
                "{} found: {} added, {} updated, {} unchanged, {} orphaned, {} deleted, {} not written",
                run.discovered,
                run.added,
                run.updated,
                run.unchanged,
                run.orphaned,
                run.deleted,
                run.rejected
            ),
            started_at: run.started_at,
            error: run.error,
            problems: run.problems,
        }
    }
}

async fn gateways_page(caller: Caller, State(state): State<AppState>) -> Response {
    page(&state, &caller, None, None).await
}

/// Syncs one gateway, then shows the page with how it went.
async fn sync_now(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Response {
    let result = gateways::sync(&state, &name, Trigger::Api).await;
    let (outcome, details, notice, problem) = match &result {
        Ok(run) if run.status == Status::Succeeded => (
            Outcome::Success,
            serde_json::json!({ "run": run.id }),
            Some(format!(
                "Synced {name}: {} found, {} added, {} updated, {} orphaned.",
                run.discovered, run.added, run.updated, run.orphaned
            )),
            None,
        ),
        Ok(run) => (
            Outcome::Failure,
            serde_json::json!({ "run": run.id, "error": run.error }),
            None,
            Some(format!(
                "The sync of {name} failed: {}",
                run.error.as_deref().unwrap_or("no reason recorded")
            )),
        ),
        Err(error) => (
            Outcome::Failure,
            serde_json::json!({ "error": error.to_string() }),
            None,
            Some(error.to_string()),
        ),
    };
    audit::record_off_thread(state.db(), &caller, "gateway.sync", name, outcome, details).await;
    let status = match result {
        Err(gateways::SyncError::Unknown(_)) => StatusCode::NOT_FOUND,
        Err(gateways::SyncError::Busy(_)) => StatusCode::CONFLICT,
        _ => StatusCode::OK,
    };
    let mut response = page(&state, &caller, notice, problem).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

async fn page(
    state: &AppState,
    caller: &Caller,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    let loaded = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            views(&state)?
                .into_iter()
                .map(|gateway| {
                    let runs = runs::list(state.db(), &gateway.name, RECENT_RUNS)
                        .map_err(crate::problem::ApiError::internal)?;
                    Ok(GatewaySection {
                        gateway,
                        runs: runs.into_iter().map(RunRow::new).collect(),
                    })
                })
                .collect::<Result<Vec<_>, crate::problem::ApiError>>()
        })
        .await
    };
    let gateways = match loaded {
        Ok(Ok(gateways)) => gateways,
        Ok(Err(error)) => return error_page(state, &error),
        Err(error) => return error_page(state, &error),
    };
    render(&GatewaysPage {
        chrome: Chrome::new(state.branding(), "Gateways", ""),
        gateways,
        sync: caller
            .actor
            .can(GATEWAYS_SYNC)
            .then(|| caller.csrf.clone().unwrap_or_default()),
        notice,
        problem,
    })
    .into_response()
}
