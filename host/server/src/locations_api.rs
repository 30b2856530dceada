//! Backstage's location routes under `/api/catalog/locations`, with its request
//! and response shapes: list, read, register (with `dryRun`), delete, and the
//! location of an entity. Who may write is decided in `identity::access`;
//! every write is audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portico_catalog::{EntityJson, EntityRef, Problem as ImportProblem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::catalog_api::with_store;
use crate::identity::Caller;
use crate::identity::audit::record_result;
use crate::locations::{self, Location, LocationError, Registration};
use crate::problem::{ApiError, JsonBody, Problem};
use crate::query::QueryParams;
use crate::state::AppState;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_locations, create_location))
        .routes(routes!(get_location, delete_location))
        .routes(routes!(location_by_entity))
}

impl From<LocationError> for ApiError {
    fn from(e: LocationError) -> Self {
        match e {
            LocationError::Refused(why) => ApiError::BadRequest(why),
            LocationError::Exists(why) => ApiError::Conflict(why),
            LocationError::Store(e) => e.into(),
            LocationError::Scratch(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

/// One item of `GET /locations`.
#[derive(Serialize, ToSchema)]
struct LocationItem {
    /// The location.
    data: Location,
}

/// `GET /api/catalog/locations`: every source of the catalogue.
#[utoipa::path(get, path = "/api/catalog/locations", tag = "catalog",
    responses((status = 200, description = "Every location", body = Vec<LocationItem>)))]
async fn list_locations(
    State(state): State<AppState>,
) -> Result<Json<Vec<LocationItem>>, ApiError> {
    let sources = with_store(&state, |store| store.sources()).await?;
    Ok(Json(
        sources
            .into_iter()
            .map(|s| LocationItem { data: s.into() })
            .collect(),
    ))
}

/// `GET /api/catalog/locations/{id}`.
#[utoipa::path(get, path = "/api/catalog/locations/{id}", tag = "catalog",
    params(("id" = String, Path, description = "The location's id")),
    responses(
        (status = 200, description = "The location", body = Location),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json")))]
async fn get_location(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Location>, ApiError> {
    let wanted = id.clone();
    with_store(&state, move |store| {
        locations::find_source(store, |s| s.id == wanted)
    })
    .await?
    .map(|s| Json(s.into()))
    .ok_or_else(|| ApiError::NotFound(format!("no location with id {id}")))
}

/// `GET /api/catalog/locations/by-entity/{kind}/{namespace}/{name}`: the
/// location that provides an entity.
#[utoipa::path(get, path = "/api/catalog/locations/by-entity/{kind}/{namespace}/{name}", tag = "catalog",
    params(("kind" = String, Path), ("namespace" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "The entity's location", body = Location),
        (status = 404, description = "No such entity", body = Problem, content_type = "application/problem+json")))]
async fn location_by_entity(
    State(state): State<AppState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<Location>, ApiError> {
    let entity_ref = EntityRef::new(kind, namespace, name);
    let shown = entity_ref.to_string();
    let found = with_store(&state, move |store| {
        let Some(stored) = store.entity(&entity_ref)? else {
            return Ok(None);
        };
        locations::find_source(store, |s| s.source == stored.source)
    })
    .await?;
    found
        .map(|s| Json(s.into()))
        .ok_or_else(|| ApiError::NotFound(format!("no location provides {shown}")))
}

/// The body of `POST /locations`.
#[derive(Deserialize, ToSchema)]
struct LocationInput {
    /// `url` or `file`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(url|file)$")]
    kind: String,
    /// The URL, or the path (within `[catalog] roots`).
    target: String,
}

/// The query of `POST /locations`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CreateQuery {
    /// Check and read the location without registering it.
    #[serde(rename = "dryRun", default)]
    dry_run: bool,
}

/// The answer of `POST /locations`.
#[derive(Serialize, ToSchema)]
struct CreatedLocation {
    /// The location (in a dry run, with the id `type:target`).
    location: Location,
    /// The entities it provides.
    #[schema(value_type = Vec<Object>)]
    entities: Vec<EntityJson>,
    /// Whether the location was already registered.
    exists: bool,
    /// What in the location was not imported, and why (a Portico addition).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    rejected: Vec<ImportProblem>,
}

/// `POST /api/catalog/locations`: registers a location and imports it at once.
///
/// A `file` target must lie in `[catalog] roots`, a `url` target on `[catalog]
/// allowed_hosts`. With `dryRun=true` the location is read into a scratch
/// catalogue and nothing is registered. Needs `Authorization: Bearer <admin_token>`.
#[utoipa::path(post, path = "/api/catalog/locations", tag = "catalog",
    params(CreateQuery),
    request_body = LocationInput,
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 201, description = "Registered (or, in a dry run, read) with its entities", body = CreatedLocation),
        (status = 400, description = "A bad type or target, a target outside the allowed hosts or roots, or one that cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in, or not a valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No `catalog.write` permission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The location is already registered", body = Problem, content_type = "application/problem+json")))]
async fn create_location(
    caller: Caller,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<CreateQuery>,
    JsonBody(input): JsonBody<LocationInput>,
) -> Result<(StatusCode, Json<CreatedLocation>), ApiError> {
    let target = format!("{}:{}", input.kind, input.target.trim());
    let dry_run = query.dry_run;
    let result = create(&state, query, input).await;
    // A dry run changes nothing, so it is not audited.
    if !dry_run {
        record_result(state.db(), &caller, "location.create", target, &result).await;
    }
    result
}

async fn create(
    state: &AppState,
    query: CreateQuery,
    input: LocationInput,
) -> Result<(StatusCode, Json<CreatedLocation>), ApiError> {
    let settings = &state.config().catalog;
    let reader = state.url_reader();
    let target = locations::check(settings, reader, &input.kind, input.target.trim()).await?;
    let options = locations::import_options(settings, reader, settings.roots.clone());
    let _registering = state.locations_lock().lock().await;
    let store = state.catalog().clone();
    let dry_run = query.dry_run;
    let registration: Registration = tokio::task::spawn_blocking(move || {
        locations::register(store.as_ref(), &target, &options, dry_run)
    })
    .await
    .map_err(ApiError::internal)??;
    if !dry_run {
        tracing::info!(location = %registration.location.id, target = %registration.location.target,
            entities = registration.entities.len(), "location registered");
    }
    Ok((
        StatusCode::CREATED,
        Json(CreatedLocation {
            location: registration.location,
            entities: registration.entities,
            exists: registration.exists,
            rejected: registration.rejected,
        }),
    ))
}

/// `DELETE /api/catalog/locations/{id}`: forgets a location; its entities are
/// orphaned or deleted as `[catalog] orphans` says. Needs `catalog.write`.
#[utoipa::path(delete, path = "/api/catalog/locations/{id}", tag = "catalog",
    params(("id" = String, Path, description = "The location's id")),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in, or not a valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No `catalog.write` permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json")))]
async fn delete_location(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let orphans = state.config().catalog.orphans;
    let _deleting = state.locations_lock().lock().await;
    let shown = id.clone();
    let result = with_store(&state, move |store| locations::delete(store, &id, orphans)).await;
    record_result(
        state.db(),
        &caller,
        "location.delete",
        shown.clone(),
        &result,
    )
    .await;
    let outcome = result?;
    tracing::info!(location = %shown, orphaned = outcome.orphaned.len(),
        deleted = outcome.deleted.len(), "location deleted");
    Ok(StatusCode::NO_CONTENT)
}
