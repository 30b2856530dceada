//! The operational and plugin endpoints: health, readiness, metrics, plugins.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use portico_runtime::PluginInfo;
use serde_json::json;

use crate::problem::ApiError;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/plugins", get(list_plugins))
        .route("/api/v1/plugins/{id}", get(get_plugin))
}

/// Liveness: the process answers.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({ "status": "ok", "uptime_s": state.uptime_s() }))
}

/// Readiness: start-up finished and the database answers.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    if !state.is_ready() {
        return Err(ApiError::Unavailable("still starting".into()));
    }
    let db = state.db().clone();
    let db_ok = tokio::task::spawn_blocking(move || db.ping())
        .await
        .unwrap_or(false);
    if !db_ok {
        return Err(ApiError::Unavailable("the database does not answer".into()));
    }
    Ok(Json(
        json!({ "status": "ready", "plugins": state.plugins().len() }),
    ))
}

/// Prometheus metrics, with plugin health sampled at scrape time.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    for plugin in state.plugins().all() {
        let health = plugin.health();
        let id = plugin.id().to_owned();
        metrics::gauge!("portico_plugin_calls", "plugin" => id.clone()).set(health.calls as f64);
        metrics::gauge!("portico_plugin_switched_off", "plugin" => id.clone()).set(f64::from(
            u8::from(health.state == portico_runtime::HealthState::SwitchedOff),
        ));
        for (kind, count) in &health.failures {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            metrics::gauge!("portico_plugin_failures", "plugin" => id.clone(), "kind" => kind.unwrap_or_default())
                .set(*count as f64);
        }
    }
    metrics::gauge!("portico_plugins_loaded").set(state.plugins().len() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
}

/// Every loaded plugin: id, version, world, WIT version, capabilities, limits, health.
async fn list_plugins(State(state): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(state.plugins().infos())
}

/// One plugin.
async fn get_plugin(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    state
        .plugins()
        .get(&id)
        .map(|p| Json(p.info()))
        .ok_or_else(|| ApiError::NotFound(format!("no plugin with id `{id}`")))
}
