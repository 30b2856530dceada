//! Changelogs and deprecations in the portal's API: an API's changelog and the portal's
//! (newest first, only what the caller may see), the owner's edit of an entry's summary, and
//! deprecating a version with a sunset date and migration note (or withdrawing it). Writes need
//! `catalog.write` and are audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portico_catalog::{ChangelogEntry, Deprecation, EntityRef, LoggedChange};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::catalog_api::with_store;
use crate::changelog_feed::entry_href;
use crate::identity::Caller;
use crate::identity::audit::record_result;
use crate::problem::{ApiError, JsonBody, Problem};
use crate::query::QueryParams;
use crate::state::AppState;

/// The most entries `GET /api/v1/changelog` answers.
pub(crate) const MAX_LIMIT: usize = 200;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_changelog))
        .routes(routes!(edit_entry))
        .routes(routes!(portal_changelog))
        .routes(routes!(deprecate, undeprecate))
}

/// One changelog entry.
#[derive(Serialize, ToSchema)]
pub(crate) struct EntryView {
    /// The API, `api:namespace/name`.
    api: String,
    /// `version` (a version published) or `deprecation`.
    kind: String,
    /// The version.
    version: String,
    /// The version it was compared with.
    previous_version: Option<String>,
    /// When (RFC 3339).
    published_at: String,
    /// Changes that can break clients.
    breaking: usize,
    /// Changes that cannot.
    non_breaking: usize,
    /// Breaking changes while the major version did not increase.
    unbumped_breaking: bool,
    /// The summary shown (markdown): the owner's, else the generated one.
    summary: String,
    /// Whether `summary` is the owner's.
    edited: bool,
    /// Who edited it, and when.
    edited_by: Option<String>,
    /// When it was edited (RFC 3339).
    edited_at: Option<String>,
    /// The generated summary (markdown).
    generated_summary: String,
    /// Why the documents could not be compared, if they could not.
    diff_error: Option<String>,
    /// The changes, breaking first.
    changes: Vec<ChangeView>,
    /// The entry on its API's changelog page.
    html_url: String,
}

/// One change between two versions.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChangeView {
    /// The rule's stable id (docs/spec-diff.md).
    rule: String,
    /// `breaking` or `non-breaking`.
    severity: String,
    /// Where, from the operation down.
    location: String,
    /// What changed.
    message: String,
}

impl From<LoggedChange> for ChangeView {
    fn from(c: LoggedChange) -> Self {
        ChangeView {
            rule: c.rule,
            severity: c.severity,
            location: c.location,
            message: c.message,
        }
    }
}

impl From<ChangelogEntry> for EntryView {
    fn from(e: ChangelogEntry) -> Self {
        EntryView {
            html_url: entry_href(&e),
            summary: e.text().to_owned(),
            edited: e.summary.is_some(),
            api: e.api,
            kind: e.kind.as_str().to_owned(),
            version: e.version,
            previous_version: e.previous_version,
            published_at: e.published_at,
            breaking: e.breaking,
            non_breaking: e.non_breaking,
            unbumped_breaking: e.unbumped_breaking,
            edited_by: e.edited_by,
            edited_at: e.edited_at,
            generated_summary: e.generated,
            diff_error: e.diff_error,
            changes: e.changes.into_iter().map(ChangeView::from).collect(),
        }
    }
}

/// A list of entries, newest first.
#[derive(Serialize, ToSchema)]
struct ChangelogAnswer {
    /// The entries.
    entries: Vec<EntryView>,
}

/// The owner's summary of an entry.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SummaryInput {
    /// Markdown; empty or null restores the generated summary.
    summary: Option<String>,
}

/// A deprecation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeprecationInput {
    /// The day the version stops working (`YYYY-MM-DD`).
    sunset: Option<String>,
    /// How to move off it (markdown).
    migration: Option<String>,
}

/// `?limit=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    /// How many entries (default 50, at most 200).
    #[serde(default, deserialize_with = "crate::query::count")]
    limit: Option<usize>,
}

fn api_ref(namespace: String, name: String) -> EntityRef {
    EntityRef::new("api", namespace, name)
}

fn no_api(api: &EntityRef) -> ApiError {
    ApiError::NotFound(format!("no API {}/{}", api.namespace, api.name))
}

/// An API's changelog when the caller may see the API; `None` otherwise.
pub(crate) async fn visible_changelog(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
) -> Result<Option<(portico_catalog::StoredEntity, Vec<ChangelogEntry>)>, ApiError> {
    let wanted = api.clone();
    let audience = caller.actor.audience();
    with_store(state, move |store| {
        let Some(stored) = store.visible_entity(&wanted, &audience)? else {
            return Ok(None);
        };
        Ok(Some((stored, store.changelog(&wanted)?)))
    })
    .await
}

/// `GET /api/v1/apis/{namespace}/{name}/changelog`: the API's changelog, newest first.
#[utoipa::path(get, path = "/api/v1/apis/{namespace}/{name}/changelog", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "Entries newest first: versions published (with their changes) and deprecations", body = ChangelogAnswer),
        (status = 404, description = "No such API", body = Problem, content_type = "application/problem+json")))]
async fn api_changelog(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<ChangelogAnswer>, ApiError> {
    let api = api_ref(namespace, name);
    let (_, entries) = visible_changelog(&state, &caller, &api)
        .await?
        .ok_or_else(|| no_api(&api))?;
    Ok(Json(ChangelogAnswer {
        entries: entries.into_iter().map(EntryView::from).collect(),
    }))
}

/// `GET /api/v1/changelog`: the portal's changelog, newest first, over the APIs the caller sees.
#[utoipa::path(get, path = "/api/v1/changelog", tag = "apis",
    params(LimitQuery),
    responses(
        (status = 200, description = "Entries newest first", body = ChangelogAnswer),
        (status = 400, description = "A malformed parameter", body = Problem, content_type = "application/problem+json")))]
async fn portal_changelog(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<LimitQuery>,
) -> Result<Json<ChangelogAnswer>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let audience = caller.actor.audience();
    let entries = with_store(&state, move |store| {
        store.recent_changelog(&audience, limit)
    })
    .await?;
    Ok(Json(ChangelogAnswer {
        entries: entries.into_iter().map(EntryView::from).collect(),
    }))
}

/// `PUT /api/v1/apis/{namespace}/{name}/changelog/{version}`: the owner's summary of a
/// version's entry. Needs `catalog.write`.
#[utoipa::path(put, path = "/api/v1/apis/{namespace}/{name}/changelog/{version}", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    request_body = SummaryInput,
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The entry as it now reads", body = EntryView),
        (status = 400, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such API or entry", body = Problem, content_type = "application/problem+json")))]
async fn edit_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
    JsonBody(input): JsonBody<SummaryInput>,
) -> Result<Json<EntryView>, ApiError> {
    let api = api_ref(namespace, name);
    let target = format!("{api}@{version}");
    let by = caller.actor.name.clone();
    let audience = caller.actor.audience();
    let result = with_store(&state, move |store| {
        if store.visible_entity(&api, &audience)?.is_none() {
            return Err(portico_catalog::CatalogError::NotFound(format!(
                "no API {}/{}",
                api.namespace, api.name
            )));
        }
        store.edit_changelog(&api, &version, input.summary.as_deref(), &by)
    })
    .await
    .map(|entry| Json(EntryView::from(entry)));
    record_result(state.db(), &caller, "api.changelog.edit", target, &result).await;
    result
}

/// `PUT /api/v1/apis/{namespace}/{name}/versions/{version}/deprecation`: deprecates a version
/// (kept across re-imports until withdrawn). Needs `catalog.write`.
#[utoipa::path(put, path = "/api/v1/apis/{namespace}/{name}/versions/{version}/deprecation", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    request_body = DeprecationInput,
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deprecated"),
        (status = 400, description = "A malformed body or sunset date", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such API or version", body = Problem, content_type = "application/problem+json")))]
async fn deprecate(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
    JsonBody(input): JsonBody<DeprecationInput>,
) -> Result<StatusCode, ApiError> {
    let api = api_ref(namespace, name);
    let target = format!("{api}@{version}");
    let by = caller.actor.name.clone();
    let audience = caller.actor.audience();
    let deprecation = Deprecation {
        sunset: input.sunset.filter(|s| !s.trim().is_empty()),
        migration: input.migration,
    };
    let result = with_store(&state, move |store| {
        if store.visible_entity(&api, &audience)?.is_none() {
            return Err(portico_catalog::CatalogError::NotFound(format!(
                "no API {}/{}",
                api.namespace, api.name
            )));
        }
        store.deprecate_version(&api, &version, &deprecation, &by)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT);
    // Subscribers hear of it now rather than at the dispatcher's next poll.
    state.webhooks().wake();
    record_result(
        state.db(),
        &caller,
        "api.version.deprecate",
        target,
        &result,
    )
    .await;
    result
}

/// `DELETE /api/v1/apis/{namespace}/{name}/versions/{version}/deprecation`: withdraws a
/// deprecation made through the portal. Needs `catalog.write`.
#[utoipa::path(delete, path = "/api/v1/apis/{namespace}/{name}/versions/{version}/deprecation", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 204, description = "No portal deprecation any more (the descriptor's, if any, stays)"),
        (status = 404, description = "No such API or version", body = Problem, content_type = "application/problem+json")))]
async fn undeprecate(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let api = api_ref(namespace, name);
    let target = format!("{api}@{version}");
    let audience = caller.actor.audience();
    let result = with_store(&state, move |store| {
        if store.visible_entity(&api, &audience)?.is_none() {
            return Err(portico_catalog::CatalogError::NotFound(format!(
                "no API {}/{}",
                api.namespace, api.name
            )));
        }
        store.undeprecate_version(&api, &version)
    })
    .await
    .map(|_| StatusCode::NO_CONTENT);
    record_result(
        state.db(),
        &caller,
        "api.version.undeprecate",
        target,
        &result,
    )
    .await;
    result
}
