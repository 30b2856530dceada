//! The operational endpoints: health, readiness, metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The answer of `/healthz`.
#[derive(Serialize, ToSchema)]
struct Liveness {
    /// Always `ok`.
    status: &'static str,
    /// Seconds since start.
    uptime_s: u64,
}

/// The answer of `/readyz`.
#[derive(Serialize, ToSchema)]
struct Readiness {
    /// Always `ready`.
    status: &'static str,
    /// Plugins loaded.
    plugins: usize,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Liveness)))]
async fn healthz(State(state): State<AppState>) -> Json<Liveness> {
    Json(Liveness {
        status: "ok",
        uptime_s: state.uptime_s(),
    })
}

/// Readiness: start-up finished and the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready to serve", body = Readiness),
    (status = 503, description = "Starting, or the database does not answer", body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
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
    Ok(Json(Readiness {
        status: "ready",
        plugins: state.plugins().len(),
    }))
}

/// Prometheus metrics, with plugin health sampled at scrape time.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain")))]
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
