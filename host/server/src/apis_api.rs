//! The portal's own API over APIs, under `/api/v1/apis`: search with facets,
//! one API with its versions (newest first) and its latest version's
//! operations, one version, and a version's spec document exactly as stored.
//!
//! Store calls are blocking SQLite work and run on the blocking pool.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_catalog::{
    ApiVersion, EntityRef, OperationRow, SearchQuery, SearchResults, StoredEntity,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::catalog_api::{all, number, one, page_size, pairs, with_store};
use crate::identity::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_apis))
        .routes(routes!(get_api))
        .routes(routes!(get_version))
        .routes(routes!(get_spec))
}

/// `GET /api/v1/apis`: search over APIs with facets, exact name matches first.
#[utoipa::path(get, path = "/api/v1/apis", tag = "apis",
    params(
        ("q" = Option<String>, Query, description = "Free text"),
        ("type" = Option<Vec<String>>, Query, description = "Facet selections; also lifecycle, owner, tag, source"),
        ("limit" = Option<usize>, Query, description = "Page size (default 20)"),
        ("offset" = Option<usize>, Query, description = "Hits to skip"),
    ),
    responses(
        (status = 200, description = "Hits and facet counts", body = Object),
        (status = 400, description = "A malformed parameter", body = Problem, content_type = "application/problem+json")))]
async fn search_apis(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchResults>, ApiError> {
    let pairs = pairs(query);
    let mut filters = vec![("kind".to_owned(), "api".to_owned())];
    for (facet, _) in portico_catalog::SEARCH_FACETS
        .iter()
        .filter(|(f, _)| *f != "kind")
    {
        filters.extend(
            all(&pairs, facet)
                .into_iter()
                .map(|v| ((*facet).to_owned(), v.to_owned())),
        );
    }
    let search = SearchQuery {
        text: one(&pairs, "q").unwrap_or_default().to_owned(),
        filters,
        limit: page_size(&pairs)?,
        offset: number(&pairs, "offset")?.unwrap_or(0),
        audience: caller.actor.audience(),
    };
    Ok(Json(
        with_store(&state, move |store| store.search(&search)).await?,
    ))
}

/// One API: its entity summary, versions and the latest version's operations.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiAnswer {
    /// `api:namespace/name`.
    entity_ref: String,
    /// Namespace.
    namespace: String,
    /// Name.
    name: String,
    /// `metadata.title`, if any.
    title: Option<String>,
    /// `metadata.description`, if any.
    description: Option<String>,
    /// `spec.type` (`openapi`, `asyncapi`, `graphql`, ...).
    spec_type: Option<String>,
    /// `spec.lifecycle` as written.
    lifecycle: Option<String>,
    /// The owner's full entity ref.
    owner: Option<String>,
    /// Tags.
    tags: Vec<String>,
    /// The source that reported it (`gateway:<name>` for APIs found on a gateway).
    source: String,
    /// Where it is served, as its entity says (`spec.environments`): the base
    /// URLs of an API found on a gateway, whether or not it has a spec.
    environments: Vec<EnvironmentView>,
    /// The newest version, if it has any.
    latest_version: Option<String>,
    /// Its versions, newest first (semver where every version allows, else by publication).
    versions: Vec<VersionView>,
    /// The latest version's operations (the entity's operation index).
    operations: Vec<OperationView>,
}

/// One version of an API.
#[derive(Serialize, ToSchema)]
struct VersionView {
    /// The version as written.
    version: String,
    /// `experimental`, `production` or `deprecated`.
    lifecycle: String,
    /// The day a deprecated version stops working (`YYYY-MM-DD`).
    sunset: Option<String>,
    /// How to move off it.
    migration: Option<String>,
    /// When it was deprecated (RFC 3339), for a deprecated version.
    deprecated_at: Option<String>,
    /// When the catalogue first saw it (RFC 3339).
    published_at: String,
    /// When its document, lifecycle or environments last changed (RFC 3339).
    updated_at: String,
    /// Where it is served.
    environments: Vec<EnvironmentView>,
    /// The SHA-256 of its spec document.
    spec_hash: String,
    /// `openapi2`, `openapi30`, `openapi31`, `asyncapi`, `graphql` or `other`.
    spec_format: String,
    /// Where to fetch the document.
    spec_url: String,
    /// The catalogue source that published it.
    source: String,
}

/// One place a version is served.
#[derive(Serialize, ToSchema)]
struct EnvironmentView {
    /// `production`, `sandbox`, `staging`, ...
    name: String,
    /// The server URL as written.
    url: String,
    /// Its description.
    description: Option<String>,
}

/// One operation of a version.
#[derive(Serialize, ToSchema)]
struct OperationView {
    /// `GET`, `POST`, `publish`, `query`, ...
    method: String,
    /// Path, channel or field.
    path: String,
    /// `operationId`, if any.
    operation_id: Option<String>,
    /// One-line summary, if any.
    summary: Option<String>,
    /// Tags.
    tags: Vec<String>,
}

/// One version with its operations.
#[derive(Serialize, ToSchema)]
struct VersionAnswer {
    /// The API's `api:namespace/name`.
    api: String,
    /// The version.
    #[serde(flatten)]
    version: VersionView,
    /// Its document's operations.
    operations: Vec<OperationView>,
}

impl VersionView {
    fn new(api: &EntityRef, v: ApiVersion) -> VersionView {
        let spec_url = format!(
            "/api/v1/apis/{}/{}/versions/{}/spec",
            encode(&api.namespace),
            encode(&api.name),
            encode(&v.version)
        );
        VersionView {
            lifecycle: match &v.lifecycle {
                portico_catalog::spec::VersionLifecycle::Experimental => "experimental",
                portico_catalog::spec::VersionLifecycle::Production => "production",
                portico_catalog::spec::VersionLifecycle::Deprecated { .. } => "deprecated",
            }
            .to_owned(),
            sunset: v.lifecycle.sunset().map(str::to_owned),
            version: v.version,
            migration: v.migration,
            deprecated_at: v.deprecated_at,
            published_at: v.published_at,
            updated_at: v.updated_at,
            environments: v
                .environments
                .into_iter()
                .map(|e| EnvironmentView {
                    name: e.name,
                    url: e.url,
                    description: e.description,
                })
                .collect(),
            spec_hash: v.spec_hash,
            spec_format: v.spec_format,
            spec_url,
            source: v.source,
        }
    }
}

impl From<OperationRow> for OperationView {
    fn from(op: OperationRow) -> Self {
        OperationView {
            method: op.method,
            path: op.path,
            operation_id: op.operation_id,
            summary: op.summary,
            tags: op.tags,
        }
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn api_ref(namespace: String, name: String) -> EntityRef {
    EntityRef::new("api", namespace, name)
}

fn no_api(api: &EntityRef) -> ApiError {
    ApiError::NotFound(format!("no API {}/{}", api.namespace, api.name))
}

fn summary(stored: &StoredEntity) -> ApiAnswer {
    let entity = &stored.entity;
    let me = entity.entity_ref();
    let owner = entity
        .relations
        .iter()
        .find(|r| r.relation_type == "ownedBy")
        .map(|r| r.target.to_string())
        .or_else(|| entity.owner().map(str::to_owned));
    ApiAnswer {
        entity_ref: me.to_string(),
        namespace: me.namespace,
        name: me.name,
        title: entity.metadata.title.clone(),
        description: entity.metadata.description.clone(),
        spec_type: entity.spec_type().map(str::to_owned),
        lifecycle: entity.lifecycle().map(str::to_owned),
        owner,
        tags: entity.metadata.tags.clone(),
        source: stored.source.clone(),
        environments: declared_environments(entity),
        latest_version: None,
        versions: Vec::new(),
        operations: Vec::new(),
    }
}

/// The entity's `spec.environments` (`{name, url, description}`); entries
/// without a name and URL are skipped (descriptors are checked at import).
fn declared_environments(entity: &portico_catalog::Entity) -> Vec<EnvironmentView> {
    let text = |v: &serde_json::Value, key: &str| v.get(key)?.as_str().map(str::to_owned);
    entity
        .spec
        .get("environments")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(EnvironmentView {
                name: text(e, "name")?,
                url: text(e, "url")?,
                description: text(e, "description"),
            })
        })
        .collect()
}

/// `GET /api/v1/apis/{namespace}/{name}`: one API with its versions and operations.
#[utoipa::path(get, path = "/api/v1/apis/{namespace}/{name}", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "The API, its versions newest first and the latest version's operations", body = ApiAnswer),
        (status = 404, description = "No such API", body = Problem, content_type = "application/problem+json")))]
async fn get_api(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<ApiAnswer>, ApiError> {
    let api = api_ref(namespace, name);
    api_answer(&state, &caller, &api)
        .await?
        .map(Json)
        .ok_or_else(|| no_api(&api))
}

/// One API as `GET /api/v1/apis/{namespace}/{name}` answers it (and the MCP
/// `get_api` tool); `None` when the caller may not see it.
pub(crate) async fn api_answer(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
) -> Result<Option<ApiAnswer>, ApiError> {
    let wanted = api.clone();
    let audience = caller.actor.audience();
    let found = with_store(state, move |store| {
        let Some(stored) = store.visible_entity(&wanted, &audience)? else {
            return Ok(None);
        };
        Ok(Some((
            stored,
            store.versions(&wanted)?,
            store.operations(&wanted)?,
        )))
    })
    .await?;
    let Some((stored, versions, operations)) = found else {
        return Ok(None);
    };
    let mut answer = summary(&stored);
    answer.latest_version = versions.first().map(|v| v.version.clone());
    answer.versions = versions
        .into_iter()
        .map(|v| VersionView::new(api, v))
        .collect();
    answer.operations = operations.into_iter().map(OperationView::from).collect();
    Ok(Some(answer))
}

/// `GET /api/v1/apis/{namespace}/{name}/versions/{version}`: one version.
#[utoipa::path(get, path = "/api/v1/apis/{namespace}/{name}/versions/{version}", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses(
        (status = 200, description = "The version with its environments and operations", body = VersionAnswer),
        (status = 404, description = "No such API or version", body = Problem, content_type = "application/problem+json")))]
async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
) -> Result<Json<VersionAnswer>, ApiError> {
    let api = api_ref(namespace, name);
    let wanted = api.clone();
    let asked = version.clone();
    let audience = caller.actor.audience();
    let found = with_store(&state, move |store| {
        if store.visible_entity(&wanted, &audience)?.is_none() {
            return Ok(None);
        }
        store.version(&wanted, &asked)
    })
    .await?;
    let detail = found.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no version {version} of API {}/{}",
            api.namespace, api.name
        ))
    })?;
    Ok(Json(VersionAnswer {
        api: api.to_string(),
        version: VersionView::new(&api, detail.version),
        operations: detail
            .operations
            .into_iter()
            .map(OperationView::from)
            .collect(),
    }))
}

/// `GET /api/v1/apis/{namespace}/{name}/versions/{version}/spec`: the spec
/// document as stored, with its media type and its hash as a strong ETag.
#[utoipa::path(get, path = "/api/v1/apis/{namespace}/{name}/versions/{version}/spec", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path), ("version" = String, Path),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
    responses(
        (status = 200, description = "The document as stored (YAML, JSON or GraphQL SDL)", content(
            (Object = "application/yaml"), (Object = "application/json"),
            (String = "application/graphql"), (String = "text/plain"))),
        (status = 304, description = "The document has not changed"),
        (status = 404, description = "No such API or version", body = Problem, content_type = "application/problem+json")))]
async fn get_spec(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let api = api_ref(namespace, name);
    let wanted = api.clone();
    let asked = version.clone();
    let audience = caller.actor.audience();
    let document = with_store(&state, move |store| {
        if store.visible_entity(&wanted, &audience)?.is_none() {
            return Ok(None);
        }
        let Some(detail) = store.version(&wanted, &asked)? else {
            return Ok(None);
        };
        store.spec_document(&detail.version.spec_hash)
    })
    .await?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "no version {version} of API {}/{}",
            api.namespace, api.name
        ))
    })?;
    let etag = format!("\"{}\"", document.hash);
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        document.content.into_response()
    };
    let headers = response.headers_mut();
    if !matches {
        let content_type = format!("{}; charset=utf-8", document.media_type);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&content_type).map_err(ApiError::internal)?,
        );
    }
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_urls_escape_their_segments() {
        assert_eq!(encode("1.0.0"), "1.0.0");
        assert_eq!(encode("v1 beta/2"), "v1%20beta%2F2");
    }
}
