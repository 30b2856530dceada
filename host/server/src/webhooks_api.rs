//! An app's webhook under `/api/v1/apps/{id}/webhook`: its endpoint, its
//! signing secret (the owner's to verify with, so shown to them, but never
//! logged or audited), rotation, and the recent deliveries. Ownership rules
//! are those of the other app routes: anyone else gets 404.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::{AppsError, check_app_access, with_db};
use crate::apps_api::audited;
use crate::identity::Caller;
use crate::problem::{ApiError, ApiPath, JsonBody, Problem};
use crate::state::AppState;
use crate::webhooks::events::EVENTS;
use crate::webhooks::{policy, store};

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_webhook, set_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
}

/// Deliveries listed, newest first.
const RECENT: u32 = 50;

const PROBLEM: &str = "application/problem+json";

/// An app's webhook. Not `Debug`: it holds the secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret (`whsec_…`, Standard Webhooks) to verify deliveries with.
    pub secret: String,
    /// The events the endpoint receives.
    pub events: Vec<&'static str>,
}

impl From<store::Webhook> for WebhookView {
    fn from(w: store::Webhook) -> WebhookView {
        WebhookView {
            url: w.url,
            secret: w.secret.expose().to_owned(),
            events: EVENTS.to_vec(),
        }
    }
}

/// The body of `PUT /api/v1/apps/{id}/webhook`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    /// The endpoint: https, on a public address.
    #[schema(max_length = 2048)]
    url: String,
}

fn no_webhook(id: i64) -> AppsError {
    AppsError::NotFound(format!("app {id} has no webhook"))
}

/// `GET /api/v1/apps/{id}/webhook`: the app's webhook with its secret.
#[utoipa::path(get, path = "/api/v1/apps/{id}/webhook", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's, or it has no webhook", body = Problem, content_type = PROBLEM)))]
async fn get_webhook(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<WebhookView>, ApiError> {
    let found = with_db(&state, move |conn| {
        check_app_access(conn, &caller, id)?;
        store::get(conn, id)?.ok_or_else(|| no_webhook(id))
    })
    .await?;
    Ok(Json(found.into()))
}

/// `PUT /api/v1/apps/{id}/webhook`: sets the endpoint; the first time, a
/// signing secret is made (a changed URL keeps it).
#[utoipa::path(put, path = "/api/v1/apps/{id}/webhook", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    request_body = WebhookBody,
    security(("session" = [])),
    responses(
        (status = 200, description = "The webhook, with its secret", body = WebhookView),
        (status = 400, description = "A malformed body, or a URL that is not public https", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's", body = Problem, content_type = PROBLEM)))]
async fn set_webhook(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(set(&state, &caller, id, &body.url).await?))
}

/// Sets an app's endpoint after the URL policy, audited with its host only
/// (a URL's query may carry a token).
pub(crate) async fn set(
    state: &AppState,
    caller: &Caller,
    app_id: i64,
    url: &str,
) -> Result<WebhookView, ApiError> {
    let url = policy::check_url(url, state.config().webhooks.allow_insecure)
        .map_err(ApiError::BadRequest)?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let checker = caller.clone();
    let webhook = with_db(state, move |conn| {
        check_app_access(conn, &checker, app_id)?;
        Ok(store::set(conn, app_id, url.as_str())?)
    })
    .await?;
    audited(
        state,
        caller,
        "webhook.set",
        format!("app:{app_id}"),
        serde_json::json!({ "host": host }),
    )
    .await;
    Ok(webhook.into())
}

/// `DELETE /api/v1/apps/{id}/webhook`: removes the webhook; pending
/// deliveries are given up.
#[utoipa::path(delete, path = "/api/v1/apps/{id}/webhook", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    security(("session" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's, or it has no webhook", body = Problem, content_type = PROBLEM)))]
async fn delete_webhook(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    remove(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes an app's webhook, audited.
pub(crate) async fn remove(state: &AppState, caller: &Caller, app_id: i64) -> Result<(), ApiError> {
    let checker = caller.clone();
    with_db(state, move |conn| {
        check_app_access(conn, &checker, app_id)?;
        if store::delete(conn, app_id)? {
            Ok(())
        } else {
            Err(no_webhook(app_id))
        }
    })
    .await?;
    audited(
        state,
        caller,
        "webhook.delete",
        format!("app:{app_id}"),
        serde_json::json!({}),
    )
    .await;
    Ok(())
}

/// `POST /api/v1/apps/{id}/webhook/rotate-secret`: a new signing secret
/// replaces the old one at once.
#[utoipa::path(post, path = "/api/v1/apps/{id}/webhook/rotate-secret", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The webhook with its new secret", body = WebhookView),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's, or it has no webhook", body = Problem, content_type = PROBLEM)))]
async fn rotate_secret(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(rotate(&state, &caller, id).await?))
}

/// Rotates an app's signing secret, audited (without the secret).
pub(crate) async fn rotate(
    state: &AppState,
    caller: &Caller,
    app_id: i64,
) -> Result<WebhookView, ApiError> {
    let checker = caller.clone();
    let webhook = with_db(state, move |conn| {
        check_app_access(conn, &checker, app_id)?;
        store::rotate(conn, app_id)?.ok_or_else(|| no_webhook(app_id))
    })
    .await?;
    audited(
        state,
        caller,
        "webhook.rotate_secret",
        format!("app:{app_id}"),
        serde_json::json!({}),
    )
    .await;
    Ok(webhook.into())
}

/// `GET /api/v1/apps/{id}/webhook/deliveries`: the app's 50 most recent
/// deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/apps/{id}/webhook/deliveries", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The deliveries, newest first", body = Vec<store::DeliveryView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's", body = Problem, content_type = PROBLEM)))]
async fn list_deliveries(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<store::DeliveryView>>, ApiError> {
    let found = with_db(&state, move |conn| {
        check_app_access(conn, &caller, id)?;
        Ok(store::deliveries(conn, id, RECENT)?)
    })
    .await?;
    Ok(Json(found))
}
