//! The gateways API under `/api/v1/gateways`: the configured gateway
//! instances with their last sync, each one's runs, and a sync on demand
//! (audited). Who may call which is decided in `identity::access`.

use axum::Json;
use axum::extract::{Path, State};
use portico_runtime::Health;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateways::{self, Gateway, Run, Status, SyncError, Trigger, runs};
use crate::identity::Caller;
use crate::identity::audit::{self, Outcome};
use crate::problem::{ApiError, Problem};
use crate::query::QueryParams;
use crate::state::AppState;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_gateways))
        .routes(routes!(list_runs))
        .routes(routes!(sync_gateway))
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Unknown(why) => ApiError::NotFound(why),
            SyncError::Busy(why) => ApiError::Conflict(why),
            SyncError::Store(why) => ApiError::internal(why),
        }
    }
}

/// A gateway as the API shows it: its settings without secret values.
#[derive(Serialize, ToSchema)]
pub(crate) struct GatewayView {
    /// Its name; its APIs' source is `gateway:<name>`.
    pub(crate) name: String,
    /// The gateway-connector plugin that talks to it.
    pub(crate) connector: String,
    /// How often it is synced (`5m`), or `off`.
    pub(crate) sync_interval: String,
    /// The longest one sync may take.
    pub(crate) timeout: String,
    /// The owner of its APIs, unless the connector says otherwise.
    pub(crate) owner: String,
    /// Where its connector may connect.
    pub(crate) allowed_outbound_hosts: Vec<String>,
    /// The names of the secrets it is given (never their values).
    pub(crate) secrets: Vec<String>,
    /// Its connector instance's health, when the connector is loaded.
    pub(crate) health: Option<Health>,
    /// Its latest run.
    pub(crate) last_run: Option<Run>,
}

/// The views of every gateway, with their last runs (blocking work).
pub(crate) fn views(state: &AppState) -> Result<Vec<GatewayView>, ApiError> {
    state
        .gateways()
        .all()
        .map(|gateway| view(state, gateway))
        .collect()
}

fn view(state: &AppState, gateway: &Gateway) -> Result<GatewayView, ApiError> {
    let s = &gateway.settings;
    let instance = gateway.instance(state.plugins()).ok();
    Ok(GatewayView {
        name: s.name.clone(),
        connector: s.connector.clone(),
        sync_interval: s.sync_interval.to_string(),
        timeout: s.timeout.to_string(),
        owner: s.owner.clone(),
        allowed_outbound_hosts: instance.as_ref().map_or_else(
            || s.outbound_hosts(),
            |i| i.grants().outbound_hosts.granted.clone(),
        ),
        secrets: s.secrets.keys().cloned().collect(),
        health: instance.map(|i| i.health()),
        last_run: runs::last(state.db(), &s.name).map_err(ApiError::internal)?,
    })
}

/// `GET /api/v1/gateways`: every configured gateway with its last run.
#[utoipa::path(get, path = "/api/v1/gateways", tag = "gateways",
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The gateways, by name", body = Vec<GatewayView>),
        (status = 401, description = "Not signed in, or not a valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No `gateways.read` permission", body = Problem, content_type = "application/problem+json")))]
async fn list_gateways(State(state): State<AppState>) -> Result<Json<Vec<GatewayView>>, ApiError> {
    let views = tokio::task::spawn_blocking(move || views(&state))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(views))
}

/// The query of `GET /runs`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RunsQuery {
    /// At most this many runs, newest first (default 20, at most 500).
    #[serde(default, deserialize_with = "crate::query::count")]
    limit: Option<usize>,
}

/// `GET /api/v1/gateways/{name}/runs`: a gateway's syncs, newest first.
#[utoipa::path(get, path = "/api/v1/gateways/{name}/runs", tag = "gateways",
    params(("name" = String, Path, description = "The gateway's name"), RunsQuery),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Its runs, newest first", body = Vec<Run>),
        (status = 400, description = "A malformed query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in, or not a valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No `gateways.read` permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such gateway", body = Problem, content_type = "application/problem+json")))]
async fn list_runs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    QueryParams(query): QueryParams<RunsQuery>,
) -> Result<Json<Vec<Run>>, ApiError> {
    if state.gateways().get(&name).is_none() {
        return Err(ApiError::NotFound(format!("no gateway called `{name}`")));
    }
    let limit = query.limit.unwrap_or(20).clamp(1, 500);
    let db = state.db().clone();
    let runs = tokio::task::spawn_blocking(move || runs::list(&db, &name, limit))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(runs))
}

/// `POST /api/v1/gateways/{name}/sync`: syncs a gateway now and answers with
/// the run once it ends, within the gateway's timeout. A sync that failed
/// (the gateway down, slow or answering garbage) is a run with status
/// `failed` and its error; nothing of it was written.
#[utoipa::path(post, path = "/api/v1/gateways/{name}/sync", tag = "gateways",
    params(("name" = String, Path, description = "The gateway's name")),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The run, succeeded or failed", body = Run),
        (status = 401, description = "Not signed in, or not a valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No `gateways.sync` permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such gateway", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A sync of this gateway is already running", body = Problem, content_type = "application/problem+json")))]
async fn sync_gateway(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Run>, ApiError> {
    let result = gateways::sync(&state, &name, Trigger::Api).await;
    let (outcome, details) = match &result {
        Ok(run) if run.status == Status::Succeeded => {
            (Outcome::Success, serde_json::json!({ "run": run.id }))
        }
        Ok(run) => (
            Outcome::Failure,
            serde_json::json!({ "run": run.id, "error": run.error }),
        ),
        Err(error) => (
            Outcome::Failure,
            serde_json::json!({ "error": error.to_string() }),
        ),
    };
    audit::record_off_thread(state.db(), &caller, "gateway.sync", name, outcome, details).await;
    Ok(Json(result?))
}
