//! The catalogue over HTTP: Backstage's read API under `/api/catalog`, with its
//! request and response shapes so existing Backstage scripts work unchanged
//! (the portal's own `/api/v1/apis` is in `apis_api`).
//!
//! Store calls are blocking SQLite work and run on the blocking pool.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use portico_catalog::{
    CatalogError, CatalogStore, EntityFilter, EntityJson, EntityRef, Fields, FullTextFilter,
    ListQuery, Order, PageQuery,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::identity::Caller;
use crate::problem::{ApiError, JsonBody, Problem};
use crate::state::AppState;

/// Page size when a caller sets none.
const DEFAULT_PAGE: usize = 20;
/// The largest page a caller may ask for.
const MAX_PAGE: usize = 1_000;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_entities))
        .routes(routes!(query_entities))
        .routes(routes!(entity_by_name))
        .routes(routes!(entities_by_refs))
        .routes(routes!(entity_facets))
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound(what) => ApiError::NotFound(what),
            CatalogError::Invalid(why) => ApiError::BadRequest(why),
            CatalogError::Conflict(why) => ApiError::Conflict(why),
            CatalogError::Db(db) => ApiError::internal(db),
        }
    }
}

/// Runs a store call on the blocking pool.
pub(crate) async fn with_store<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&dyn CatalogStore) -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, ApiError> {
    let store: Arc<dyn CatalogStore> = state.catalog().clone();
    tokio::task::spawn_blocking(move || work(store.as_ref()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// The query string as (key, value) pairs; repeated keys are kept, as Backstage uses them.
pub(crate) fn pairs(query: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn all<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

pub(crate) fn one<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    all(pairs, key).into_iter().next()
}

pub(crate) fn number(pairs: &[(String, String)], key: &str) -> Result<Option<usize>, ApiError> {
    one(pairs, key)
        .map(|v| {
            crate::query::parse_count(v).ok_or_else(|| {
                ApiError::BadRequest(format!("{key} must be a non-negative integer, not `{v}`"))
            })
        })
        .transpose()
}

pub(crate) fn page_size(pairs: &[(String, String)]) -> Result<usize, ApiError> {
    Ok(number(pairs, "limit")?
        .unwrap_or(DEFAULT_PAGE)
        .clamp(1, MAX_PAGE))
}

/// An entity in Backstage's JSON shape; documentation only (handlers pass JSON through).
#[derive(ToSchema)]
#[allow(dead_code)]
struct Entity {
    // Every field is optional: `fields` returns only the ones it names.
    /// `backstage.io/v1alpha1`.
    #[schema(rename = "apiVersion")]
    api_version: Option<String>,
    /// `API`, `Component`, `System`, `Domain`, `Resource`, `Group`, `User` or `Location`.
    kind: Option<String>,
    /// Name, namespace, title, description, labels, annotations, tags, links, uid, etag.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// Kind-specific fields.
    #[schema(value_type = Option<Object>)]
    spec: Option<Value>,
    /// Relations to other entities, both directions (`{type, targetRef}`).
    #[schema(value_type = Option<Vec<Object>>)]
    relations: Option<Vec<Value>>,
}

/// One `filter` parameter: `key=value` conditions joined by commas; a
/// condition's key may not be empty. Documentation only.
#[derive(ToSchema)]
#[schema(pattern = r"^(\s*([^=,\s][^,]*)?)(,\s*([^=,\s][^,]*)?)*$")]
#[allow(dead_code)]
struct CatalogFilter(String);

/// One `order` parameter: `asc:field`, `desc:field`, `field,asc` or a bare
/// `field`. Documentation only.
#[derive(ToSchema)]
#[schema(
    pattern = r"^(?:[^,]*[^,\s][^,]*,\s*(?:[aA][sS][cC]|[dD][eE][sS][cC])\s*|\s*(?:[aA][sS][cC]|[dD][eE][sS][cC])\s*:[^,]*[^,\s][^,]*|[^,:]*[^,:\s][^,:]*)$"
)]
#[allow(dead_code)]
struct CatalogOrder(String);

/// A full entity ref: `kind:namespace/name` or `kind:name`. Documentation only.
#[derive(ToSchema)]
#[schema(pattern = r"^[^:/]+:([^/]+/[\s\S]+|[^/]+)$")]
#[allow(dead_code)]
struct FullEntityRef(String);

/// `GET /api/catalog/entities`: Backstage's list with `filter`, `fields`, `order`, `limit`, `offset`, `after`.
///
/// `after` is the opaque cursor of the `Link: <...>; rel="next"` header of the previous page.
#[utoipa::path(get, path = "/api/catalog/entities", tag = "catalog",
    params(
        ("filter" = inline(Option<Vec<CatalogFilter>>), Query, description = "`key=value` conditions joined by commas (AND); repeated filters are OR'd"),
        ("fields" = Option<Vec<String>>, Query, description = "Comma-separated dotted fields to return"),
        ("order" = inline(Option<Vec<CatalogOrder>>), Query, description = "`asc:field` or `desc:field` (also `field,asc`, or a bare `field`)"),
        ("limit" = Option<usize>, Query, description = "Page size (at most 1000)"),
        ("offset" = Option<usize>, Query, description = "Entities to skip"),
        ("after" = Option<String>, Query, description = "Cursor from the previous page's Link header", pattern = r"^o[0-9]{1,19}$"),
    ),
    responses(
        (status = 200, description = "The entities", body = Vec<Entity>),
        (status = 400, description = "A malformed filter, order or number", body = Problem, content_type = "application/problem+json")))]
async fn list_entities(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = pairs(query);
    let filter = EntityFilter::parse(&all(&pairs, "filter"))?.visible_to(caller.actor.audience());
    let fields = Fields::parse(&all(&pairs, "fields"));
    let order = all(&pairs, "order")
        .into_iter()
        .map(Order::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let limit = number(&pairs, "limit")?.map(|l| l.min(MAX_PAGE));
    // `offset` is checked even when `after` overrides it: a malformed request is refused whole.
    let offset = number(&pairs, "offset")?;
    let offset = match one(&pairs, "after") {
        Some(cursor) => decode_offset(cursor)?,
        None => offset.unwrap_or(0),
    };
    let list = ListQuery {
        filter,
        fields,
        order,
        limit,
        offset,
    };
    let query_for_link = list.clone();
    let items = with_store(&state, move |store| store.list_entities(&list)).await?;

    let mut headers = HeaderMap::new();
    if let Some(limit) = query_for_link.limit.filter(|&l| items.len() == l) {
        let next = encode_offset(query_for_link.offset + limit);
        let kept: Vec<_> = pairs
            .iter()
            .filter(|(k, _)| k != "after" && k != "offset")
            .collect();
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in kept {
            link.append_pair(k, v);
        }
        link.append_pair("after", &next);
        let value = format!("</api/catalog/entities?{}>; rel=\"next\"", link.finish());
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::LINK, value);
        }
    }
    Ok((headers, Json(items)).into_response())
}

fn encode_offset(offset: usize) -> String {
    format!("o{offset}")
}

fn decode_offset(cursor: &str) -> Result<usize, ApiError> {
    cursor
        .strip_prefix('o')
        .filter(|n| n.len() <= 19)
        .and_then(crate::query::parse_count)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`after` cursor `{cursor}` is not one this server issued"
            ))
        })
}

/// Backstage's paged answer.
#[derive(Serialize, ToSchema)]
struct QueryPage {
    /// The entities.
    #[schema(value_type = Vec<Object>)]
    items: Vec<EntityJson>,
    /// How many entities the query matches.
    #[serde(rename = "totalItems")]
    total_items: usize,
    /// Cursors to the neighbouring pages.
    #[serde(rename = "pageInfo")]
    page_info: PageInfo,
}

/// Cursors to the neighbouring pages.
#[derive(Serialize, ToSchema)]
struct PageInfo {
    /// The next page.
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// The previous page.
    #[serde(rename = "prevCursor", skip_serializing_if = "Option::is_none")]
    prev_cursor: Option<String>,
}

/// `GET /api/catalog/entities/by-query`: cursor paging with full-text filtering.
#[utoipa::path(get, path = "/api/catalog/entities/by-query", tag = "catalog",
    params(
        ("filter" = inline(Option<Vec<CatalogFilter>>), Query, description = "As for /entities"),
        ("fields" = Option<Vec<String>>, Query, description = "As for /entities"),
        ("limit" = Option<usize>, Query, description = "Page size (default 20, at most 1000)"),
        ("orderField" = Option<String>, Query, description = "`field,asc` or `field,desc` (a bare `field` is ascending)",
            pattern = r"^[^,]*[^,\s][^,]*(?:,\s*(?:[aA][sS][cC]|[dD][eE][sS][cC])\s*(?::[^,]*)?)?$"),
        ("fullTextFilterTerm" = Option<String>, Query, description = "Words to look for"),
        ("fullTextFilterFields" = Option<Vec<String>>, Query, description = "Fields to look in"),
        ("cursor" = Option<String>, Query, description = "A cursor from a previous page (opaque hex); other parameters but limit and fields are then ignored",
            pattern = "^([0-9a-fA-F]{2})+$"),
    ),
    responses(
        (status = 200, description = "One page", body = QueryPage),
        (status = 400, description = "A malformed parameter or cursor", body = Problem, content_type = "application/problem+json")))]
async fn query_entities(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<QueryPage>, ApiError> {
    let audience = caller.actor.audience();
    let pairs = pairs(query);
    let limit = page_size(&pairs)?;
    let fields = Fields::parse(&all(&pairs, "fields"));
    // Parameters a cursor overrides are still checked: a malformed request is refused whole.
    let order = one(&pairs, "orderField")
        .map(|text| {
            let (field, dir) = text.split_once(',').unwrap_or((text, "asc"));
            Order::parse(&format!("{dir}:{field}"))
        })
        .transpose()?;
    let filter = EntityFilter::parse(&all(&pairs, "filter"))?.visible_to(audience.clone());
    let page = match one(&pairs, "cursor") {
        Some(cursor) => PageQuery::Cursor {
            cursor: cursor.to_owned(),
            limit,
            fields,
            audience,
        },
        None => {
            let full_text = one(&pairs, "fullTextFilterTerm")
                .filter(|t| !t.trim().is_empty())
                .map(|term| FullTextFilter {
                    term: term.to_owned(),
                    fields: all(&pairs, "fullTextFilterFields")
                        .iter()
                        .flat_map(|f| f.split(','))
                        .map(|f| f.trim().to_owned())
                        .filter(|f| !f.is_empty())
                        .collect(),
                });
            PageQuery::First {
                filter,
                order,
                full_text,
                limit,
                fields,
            }
        }
    };
    let page = with_store(&state, move |store| store.query_entities(&page)).await?;
    Ok(Json(QueryPage {
        items: page.items,
        total_items: page.total_items,
        page_info: PageInfo {
            next_cursor: page.next_cursor,
            prev_cursor: page.prev_cursor,
        },
    }))
}

/// `GET /api/catalog/entities/by-name/{kind}/{namespace}/{name}`.
#[utoipa::path(get, path = "/api/catalog/entities/by-name/{kind}/{namespace}/{name}", tag = "catalog",
    params(("kind" = String, Path), ("namespace" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "The entity", body = Entity),
        (status = 404, description = "No such entity", body = Problem, content_type = "application/problem+json")))]
async fn entity_by_name(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let entity_ref = EntityRef::new(kind, namespace, name);
    let shown = entity_ref.to_string();
    let audience = caller.actor.audience();
    let found = with_store(&state, move |store| {
        store.visible_entity(&entity_ref, &audience)
    })
    .await?;
    found
        .map(|stored| Json(stored.entity.to_json()))
        .ok_or_else(|| ApiError::NotFound(format!("no entity {shown}")))
}

/// The body of `POST /entities/by-refs`.
#[derive(Deserialize, ToSchema)]
struct ByRefs {
    /// Full entity refs (`kind:namespace/name` or `kind:name`).
    #[serde(rename = "entityRefs")]
    #[schema(value_type = Vec<FullEntityRef>)]
    entity_refs: Vec<String>,
    /// Fields to return.
    #[serde(default)]
    fields: Vec<String>,
}

/// The answer of `POST /entities/by-refs`: one item per ref, `null` where missing.
#[derive(Serialize, ToSchema)]
struct ByRefsItems {
    /// The entities, in the order asked.
    #[schema(value_type = Vec<Option<Object>>)]
    items: Vec<Option<EntityJson>>,
}

/// `POST /api/catalog/entities/by-refs`.
#[utoipa::path(post, path = "/api/catalog/entities/by-refs", tag = "catalog",
    request_body = ByRefs,
    responses(
        (status = 200, description = "One item per ref, null where missing", body = ByRefsItems),
        (status = 400, description = "A malformed ref", body = Problem, content_type = "application/problem+json")))]
async fn entities_by_refs(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ByRefs>,
) -> Result<Json<ByRefsItems>, ApiError> {
    if body.entity_refs.len() > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_PAGE} refs per request"
        )));
    }
    let fields = Fields::parse(&body.fields);
    let refs = body.entity_refs;
    let audience = caller.actor.audience();
    let items = with_store(&state, move |store| {
        store.entities_by_refs(&refs, &fields, &audience)
    })
    .await?;
    Ok(Json(ByRefsItems { items }))
}

/// The answer of `/entity-facets`.
#[derive(Serialize, ToSchema)]
struct FacetsAnswer {
    /// Value counts by facet field.
    #[schema(value_type = Object)]
    facets: portico_catalog::Facets,
}

/// `GET /api/catalog/entity-facets?facet=kind&facet=spec.type&filter=...`.
#[utoipa::path(get, path = "/api/catalog/entity-facets", tag = "catalog",
    params(
        ("facet" = Vec<String>, Query, description = "Dotted fields to count values of (at least one)"),
        ("filter" = inline(Option<Vec<CatalogFilter>>), Query, description = "As for /entities"),
    ),
    responses(
        (status = 200, description = "Counts per value", body = FacetsAnswer),
        (status = 400, description = "A malformed filter", body = Problem, content_type = "application/problem+json")))]
async fn entity_facets(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<FacetsAnswer>, ApiError> {
    let pairs = pairs(query);
    let filter = EntityFilter::parse(&all(&pairs, "filter"))?.visible_to(caller.actor.audience());
    let facets: Vec<String> = all(&pairs, "facet")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if facets.is_empty() {
        return Err(ApiError::BadRequest("give at least one facet".into()));
    }
    let facets = with_store(&state, move |store| store.facets(&filter, &facets)).await?;
    Ok(Json(FacetsAnswer { facets }))
}
