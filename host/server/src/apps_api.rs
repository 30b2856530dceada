//! The developer's side under `/api/v1/apps`: apps, their subscriptions to
//! product plans, and their API keys (created, rotated with an overlap,
//! revoked; the key shown once). A caller reaches only their own apps (an
//! admin every app); anyone else's answers 404. Every change is audited
//! without the key, and forgets the verifier's cache at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::keys::{self, KeyDraft, KeyView};
use crate::apps::provision::{self, KeyOwner};
use crate::apps::subscriptions::{self, App, AppDraft, Subscription};
use crate::apps::{AppsError, account, check_app_access, products, with_db};
use crate::identity::Caller;
use crate::identity::audit::{self, Outcome};
use crate::problem::{ApiError, ApiPath, JsonBody, Problem};
use crate::state::AppState;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, create_app))
        .routes(routes!(get_app, delete_app))
        .routes(routes!(subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(rotate_key))
}

/// A key just created: the key itself, shown this once, and its details.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    /// The API key. It is not stored and cannot be shown again.
    pub key: String,
    /// The key's details.
    #[serde(flatten)]
    pub details: KeyView,
}

/// The body of `POST /api/v1/apps/{id}/subscriptions`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SubscribeBody {
    /// The plan to subscribe to.
    plan_id: i64,
}

/// The body of `POST /api/v1/apps/{id}/keys/{key_id}/rotate`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    /// How long the old key keeps working, in seconds (0 to 30 days; default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2_592_000)]
    overlap_secs: i64,
}

const PROBLEM: &str = "application/problem+json";

/// `GET /api/v1/apps`: the caller's apps with their subscriptions.
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps",
    security(("session" = [])),
    responses(
        (status = 200, description = "The caller's apps, by name", body = Vec<App>),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission, or not a person", body = Problem, content_type = PROBLEM)))]
async fn list_apps(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Vec<App>>, ApiError> {
    let owner = account(&caller)?;
    Ok(Json(
        with_db(&state, move |conn| subscriptions::apps_of(conn, owner)).await?,
    ))
}

/// `POST /api/v1/apps`: creates an app for the caller.
#[utoipa::path(post, path = "/api/v1/apps", tag = "apps",
    request_body = AppDraft,
    security(("session" = [])),
    responses(
        (status = 201, description = "The app", body = App),
        (status = 400, description = "A malformed body or name", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission, or not a person", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The caller has an app of that name", body = Problem, content_type = PROBLEM)))]
async fn create_app(
    caller: Caller,
    State(state): State<AppState>,
    JsonBody(draft): JsonBody<AppDraft>,
) -> Result<(StatusCode, Json<App>), ApiError> {
    let owner = account(&caller)?;
    let app = with_db(&state, move |conn| {
        subscriptions::create_app(conn, owner, &draft)
    })
    .await?;
    audited(
        &state,
        &caller,
        "app.create",
        format!("app:{}", app.id),
        serde_json::json!({ "name": app.name }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(app)))
}

/// `GET /api/v1/apps/{id}`: one of the caller's apps.
#[utoipa::path(get, path = "/api/v1/apps/{id}", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The app", body = App),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's", body = Problem, content_type = PROBLEM)))]
async fn get_app(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<App>, ApiError> {
    let app = with_db(&state, move |conn| {
        check_app_access(conn, &caller, id)?;
        subscriptions::app(conn, id)?.ok_or_else(|| AppsError::NotFound(format!("no app {id}")))
    })
    .await?;
    Ok(Json(app))
}

/// `DELETE /api/v1/apps/{id}`: deletes an app; its keys stop working at once
/// and are deleted from the gateways they were provisioned on.
#[utoipa::path(delete, path = "/api/v1/apps/{id}", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    security(("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's", body = Problem, content_type = PROBLEM)))]
async fn delete_app(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let checker = caller.clone();
    // Revoked first, so the gateways are told while the credentials are on record.
    let revoked = with_db(&state, move |conn| {
        check_app_access(conn, &checker, id)?;
        let ids: Vec<i64> = keys::list(conn, id)?.into_iter().map(|k| k.id).collect();
        for key in &ids {
            keys::revoke(conn, *key)?;
        }
        Ok(ids)
    })
    .await?;
    state.verifier().forget();
    provision::revoke(&state, &revoked).await;
    with_db(&state, move |conn| subscriptions::delete_app(conn, id)).await?;
    state.verifier().forget();
    audited(
        &state,
        &caller,
        "app.delete",
        format!("app:{id}"),
        serde_json::json!({ "keys_revoked": revoked.len() }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/apps/{id}/subscriptions`: asks for a plan of a product the
/// caller may see; an auto-approve plan answers `approved`, a manual one
/// `requested` until the owner decides.
#[utoipa::path(post, path = "/api/v1/apps/{id}/subscriptions", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    request_body = SubscribeBody,
    security(("session" = [])),
    responses(
        (status = 201, description = "The subscription, approved or requested", body = Subscription),
        (status = 400, description = "A malformed body", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's, or no such plan the caller may see", body = Problem, content_type = PROBLEM)))]
async fn subscribe(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    JsonBody(body): JsonBody<SubscribeBody>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let checker = caller.clone();
    let subscription = with_db(&state, move |conn| {
        check_app_access(conn, &checker, id)?;
        let hidden = || AppsError::NotFound(format!("no plan {}", body.plan_id));
        let (product_id, _) = products::plan(conn, body.plan_id)?.ok_or_else(hidden)?;
        let product = products::get(conn, product_id)?.ok_or_else(hidden)?;
        if !product.visible_to(&checker.actor.audience()) {
            return Err(hidden());
        }
        subscriptions::subscribe(conn, id, body.plan_id)
    })
    .await?;
    state.verifier().forget();
    audited(
        &state,
        &caller,
        "subscription.request",
        format!("app:{id}"),
        serde_json::json!({ "subscription": subscription.id, "product": subscription.product, "plan": subscription.plan, "status": subscription.status }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(subscription)))
}

/// `DELETE /api/v1/apps/{id}/subscriptions/{subscription_id}`: ends a
/// subscription; the app's keys stop working for that product at once.
#[utoipa::path(delete, path = "/api/v1/apps/{id}/subscriptions/{subscription_id}", tag = "apps",
    params(("id" = i64, Path, description = "The app's id"), ("subscription_id" = i64, Path, description = "The subscription's id")),
    security(("session" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app or subscription of the caller's", body = Problem, content_type = PROBLEM)))]
async fn unsubscribe(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((id, subscription_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let checker = caller.clone();
    with_db(&state, move |conn| {
        check_app_access(conn, &checker, id)?;
        if subscriptions::app_of(conn, subscription_id)? != id {
            return Err(AppsError::NotFound(format!(
                "no subscription {subscription_id}"
            )));
        }
        subscriptions::cancel(conn, subscription_id)
    })
    .await?;
    state.verifier().forget();
    audited(
        &state,
        &caller,
        "subscription.cancel",
        format!("app:{id}"),
        serde_json::json!({ "subscription": subscription_id }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/apps/{id}/keys`: the app's keys, newest first (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/apps/{id}/keys", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The keys, newest first", body = Vec<KeyView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's", body = Problem, content_type = PROBLEM)))]
async fn list_keys(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let found = with_db(&state, move |conn| {
        check_app_access(conn, &caller, id)?;
        keys::list(conn, id)
    })
    .await?;
    Ok(Json(found))
}

/// `POST /api/v1/apps/{id}/keys`: creates a key, answered once with the key
/// itself; it is provisioned to the gateways of the app's approved products.
#[utoipa::path(post, path = "/api/v1/apps/{id}/keys", tag = "apps",
    params(("id" = i64, Path, description = "The app's id")),
    request_body = KeyDraft,
    security(("session" = [])),
    responses(
        (status = 201, description = "The key, shown this once, with its details", body = CreatedKey),
        (status = 400, description = "A malformed body, scope or expiry", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app of the caller's", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The app holds the most working keys it may", body = Problem, content_type = PROBLEM)))]
async fn create_key(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    JsonBody(draft): JsonBody<KeyDraft>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let created = issue_key(&state, &caller, id, draft).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Creates a key for an app the caller may act on, provisions it, audits it.
pub(crate) async fn issue_key(
    state: &AppState,
    caller: &Caller,
    app_id: i64,
    draft: KeyDraft,
) -> Result<CreatedKey, ApiError> {
    let checker = caller.clone();
    let (view, key, owner) = with_db(state, move |conn| {
        check_app_access(conn, &checker, app_id)?;
        let (view, key) = keys::create(conn, app_id, &draft)?;
        Ok((view, key, app_owner(conn, app_id)?))
    })
    .await?;
    state.verifier().forget();
    provision::provision(state, &view, &key, &owner).await;
    audited(
        state,
        caller,
        "key.create",
        format!("key:{}", view.id),
        serde_json::json!({ "app": app_id, "prefix": view.prefix, "environment": view.environment, "scopes": view.scopes }),
    )
    .await;
    let details = reread(state, view.id).await?;
    Ok(CreatedKey {
        key: key.expose().to_owned(),
        details,
    })
}

fn app_owner(conn: &rusqlite::Connection, app_id: i64) -> Result<KeyOwner, AppsError> {
    Ok(conn.query_row(
        "SELECT u.username, u.email FROM apps a JOIN users u ON u.id = a.owner_id WHERE a.id = ?1",
        [app_id],
        |r| {
            Ok(KeyOwner {
                username: r.get(0)?,
                email: r.get(1)?,
            })
        },
    )?)
}

async fn reread(state: &AppState, key_id: i64) -> Result<KeyView, ApiError> {
    with_db(state, move |conn| {
        keys::get(conn, key_id)?.ok_or_else(|| AppsError::NotFound(format!("no key {key_id}")))
    })
    .await
}

/// Finds a key of an app the caller may act on.
fn check_key(
    conn: &rusqlite::Connection,
    caller: &Caller,
    app_id: i64,
    key_id: i64,
) -> Result<(), AppsError> {
    check_app_access(conn, caller, app_id)?;
    if keys::app_of(conn, key_id)? != app_id {
        return Err(AppsError::NotFound(format!("no key {key_id}")));
    }
    Ok(())
}

/// `DELETE /api/v1/apps/{id}/keys/{key_id}`: revokes a key at once, here and
/// on the gateways it was provisioned on.
#[utoipa::path(delete, path = "/api/v1/apps/{id}/keys/{key_id}", tag = "apps",
    params(("id" = i64, Path, description = "The app's id"), ("key_id" = i64, Path, description = "The key's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The revoked key", body = KeyView),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such key of the caller's", body = Problem, content_type = PROBLEM)))]
async fn revoke_key(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((id, key_id)): ApiPath<(i64, i64)>,
) -> Result<Json<KeyView>, ApiError> {
    let view = revoke(&state, &caller, id, key_id).await?;
    Ok(Json(view))
}

/// Revokes a key of an app the caller may act on, on its gateways too, audited.
pub(crate) async fn revoke(
    state: &AppState,
    caller: &Caller,
    app_id: i64,
    key_id: i64,
) -> Result<KeyView, ApiError> {
    let checker = caller.clone();
    with_db(state, move |conn| {
        check_key(conn, &checker, app_id, key_id)?;
        keys::revoke(conn, key_id)
    })
    .await?;
    state.verifier().forget();
    provision::revoke(state, &[key_id]).await;
    audited(
        state,
        caller,
        "key.revoke",
        format!("key:{key_id}"),
        serde_json::json!({ "app": app_id }),
    )
    .await;
    reread(state, key_id).await
}

/// `POST /api/v1/apps/{id}/keys/{key_id}/rotate`: a new key replaces this
/// one, which keeps working for `overlap_secs`; the new key is shown once.
#[utoipa::path(post, path = "/api/v1/apps/{id}/keys/{key_id}/rotate", tag = "apps",
    params(("id" = i64, Path, description = "The app's id"), ("key_id" = i64, Path, description = "The key's id")),
    request_body = RotateBody,
    security(("session" = [])),
    responses(
        (status = 201, description = "The new key, shown this once, with its details", body = CreatedKey),
        (status = 400, description = "A malformed body or overlap", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such key of the caller's", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The key is revoked, expired or rotated already", body = Problem, content_type = PROBLEM)))]
async fn rotate_key(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((id, key_id)): ApiPath<(i64, i64)>,
    JsonBody(body): JsonBody<RotateBody>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let created = rotate(&state, &caller, id, key_id, body.overlap_secs).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Rotates a key of an app the caller may act on: the new key is provisioned,
/// and the old one is deleted from gateways when it stops at once.
pub(crate) async fn rotate(
    state: &AppState,
    caller: &Caller,
    app_id: i64,
    key_id: i64,
    overlap_secs: i64,
) -> Result<CreatedKey, ApiError> {
    let checker = caller.clone();
    let (view, key, owner) = with_db(state, move |conn| {
        check_key(conn, &checker, app_id, key_id)?;
        let (view, key) = keys::rotate(conn, key_id, overlap_secs)?;
        Ok((view, key, app_owner(conn, app_id)?))
    })
    .await?;
    state.verifier().forget();
    provision::provision(state, &view, &key, &owner).await;
    if overlap_secs == 0 {
        provision::revoke(state, &[key_id]).await;
    }
    audited(
        state,
        caller,
        "key.rotate",
        format!("key:{key_id}"),
        serde_json::json!({ "app": app_id, "new_key": view.id, "prefix": view.prefix, "overlap_secs": overlap_secs }),
    )
    .await;
    let details = reread(state, view.id).await?;
    Ok(CreatedKey {
        key: key.expose().to_owned(),
        details,
    })
}

/// Records a successful change in the audit log.
pub(crate) async fn audited(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    target: String,
    details: serde_json::Value,
) {
    audit::record_off_thread(
        state.db(),
        caller,
        action,
        target,
        Outcome::Success,
        details,
    )
    .await;
}
