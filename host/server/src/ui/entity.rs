//! An entity's page: an API with its versions (newest first, lifecycle,
//! sunset, environments) and the operations of the version the reader picks,
//! or any other kind with its spec fields; both with metadata, relations
//! (linked both ways) and the source the entity came from.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use portico_catalog::spec::{ParsedSpec, SpecHint, VersionLifecycle};
use portico_catalog::{ApiVersion, Audience, CatalogError, EntityRef, OperationRow, StoredEntity};
use serde::Deserialize;
use serde_json::Value;

use super::catalog::{Badge, entity_href, short_ref};
use super::{Chrome, error_page, render};
use crate::identity::Caller;
use crate::identity::roles::CATALOG_WRITE;
use crate::state::AppState;

/// Routes of the entity pages.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/apis/{namespace}/{name}", get(api_page))
        .route("/catalog/{kind}/{namespace}/{name}", get(entity_page))
}

/// An entity as its page shows it.
struct EntityView {
    entity_ref: String,
    kind: String,
    name: String,
    namespace: String,
    title: String,
    description: Option<String>,
    lifecycle: Option<Badge>,
    spec_type: Option<String>,
    owner: Option<RefLink>,
    system: Option<RefLink>,
    tags: Vec<String>,
    links: Vec<LinkView>,
    relations: Vec<RelationGroup>,
    source: String,
    location: String,
    orphaned: bool,
}

/// A link to another entity.
struct RefLink {
    href: String,
    label: String,
    kind: String,
    full: String,
}

impl RefLink {
    fn new(target: &EntityRef) -> RefLink {
        let full = target.to_string();
        RefLink {
            href: entity_href(target),
            label: short_ref(&full),
            kind: target.kind.to_lowercase(),
            full,
        }
    }
}

/// One of `metadata.links`; only web and mail links become clickable.
struct LinkView {
    label: String,
    url: String,
    href: Option<String>,
}

/// Relations of one type.
struct RelationGroup {
    label: String,
    relation_type: String,
    targets: Vec<RefLink>,
}

impl EntityView {
    fn new(stored: &StoredEntity) -> EntityView {
        let entity = &stored.entity;
        let me = entity.entity_ref();
        let related = |relation: &str, kind: &str| {
            entity
                .relations
                .iter()
                .find(|r| r.relation_type == relation && r.target.is_kind(kind))
                .map(|r| r.target.clone())
        };
        // The relation is the resolved reference; the spec field is the fallback.
        let owner = entity
            .relations
            .iter()
            .find(|r| r.relation_type == "ownedBy")
            .map(|r| r.target.clone())
            .or_else(|| {
                let owner = entity.owner()?;
                EntityRef::parse(owner, Some("group"), &entity.metadata.namespace).ok()
            });
        let system = related("partOf", "system").or_else(|| {
            let system = entity.system()?;
            EntityRef::parse(system, Some("system"), &entity.metadata.namespace).ok()
        });
        let mut groups: BTreeMap<String, Vec<RefLink>> = BTreeMap::new();
        for relation in &entity.relations {
            groups
                .entry(relation.relation_type.clone())
                .or_default()
                .push(RefLink::new(&relation.target));
        }
        let relations = groups
            .into_iter()
            .map(|(relation_type, mut targets)| {
                targets.sort_by(|a, b| a.full.cmp(&b.full));
                targets.dedup_by(|a, b| a.full == b.full);
                RelationGroup {
                    label: relation_label(&relation_type),
                    relation_type,
                    targets,
                }
            })
            .collect();
        EntityView {
            entity_ref: me.to_string(),
            kind: entity.kind.clone(),
            name: entity.metadata.name.clone(),
            namespace: entity.metadata.namespace.clone(),
            title: entity
                .metadata
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| entity.metadata.name.clone()),
            description: entity.metadata.description.clone(),
            lifecycle: entity.lifecycle().map(Badge::lifecycle),
            spec_type: entity.spec_type().map(str::to_owned),
            owner: owner.as_ref().map(RefLink::new),
            system: system.as_ref().map(RefLink::new),
            tags: entity.metadata.tags.clone(),
            links: entity
                .metadata
                .links
                .iter()
                .map(|link| LinkView {
                    label: link.title.clone().unwrap_or_else(|| link.url.clone()),
                    href: safe_href(&link.url),
                    url: link.url.clone(),
                })
                .collect(),
            relations,
            source: stored.source.clone(),
            location: stored.location.clone(),
            orphaned: stored.orphaned,
        }
    }
}

/// The URL if a browser may follow it from a page: http(s) and mail only.
fn safe_href(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https" | "mailto").then(|| parsed.to_string())
}

/// `apiProvidedBy` reads as "API provided by".
fn relation_label(relation: &str) -> String {
    let known = match relation {
        "ownedBy" => "Owned by",
        "ownerOf" => "Owner of",
        "providesApi" => "Provides API",
        "apiProvidedBy" => "API provided by",
        "consumesApi" => "Consumes API",
        "apiConsumedBy" => "API consumed by",
        "dependsOn" => "Depends on",
        "dependencyOf" => "Dependency of",
        "partOf" => "Part of",
        "hasPart" => "Has part",
        "parentOf" => "Parent of",
        "childOf" => "Child of",
        "memberOf" => "Member of",
        "hasMember" => "Has member",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    let mut label = String::new();
    for (i, c) in relation.chars().enumerate() {
        if i == 0 {
            label.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            label.push(' ');
            label.extend(c.to_lowercase());
        } else {
            label.push(c);
        }
    }
    label
}

/// One spec field on an entity's page.
struct SpecField {
    key: String,
    value: String,
    /// Multi-line values go in a preformatted block.
    block: bool,
}

fn spec_fields(spec: &serde_json::Map<String, Value>) -> Vec<SpecField> {
    spec.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) if items.iter().all(Value::is_string) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                Value::Object(_) | Value::Array(_) => {
                    serde_json::to_string_pretty(value).unwrap_or_default()
                }
                other => other.to_string(),
            };
            SpecField {
                key: key.clone(),
                block: value.contains('\n'),
                value,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "api.html")]
struct ApiPage {
    chrome: Chrome,
    entity: EntityView,
    versions: Vec<VersionRow>,
    /// The version whose operations are shown, if the API has versions.
    shown: Option<String>,
    operations: Vec<OperationView>,
    /// The latest version's rendered docs, if the API has versions.
    docs_href: Option<String>,
    /// The products offering the API, and how the reader gets a key.
    access: super::api_access::Access,
    /// The publication preview, for those who may write the catalogue.
    preview_href: Option<String>,
}

/// One version in the API page's list.
struct VersionRow {
    version: String,
    href: String,
    spec_href: String,
    docs_href: String,
    lifecycle: Badge,
    sunset: Option<String>,
    migration: Option<String>,
    /// The day it was first published (`YYYY-MM-DD`).
    published: String,
    environments: Vec<EnvironmentView>,
    latest: bool,
    shown: bool,
}

/// One environment of a version.
struct EnvironmentView {
    name: String,
    url: String,
    /// Only absolute web URLs become links.
    href: Option<String>,
    description: String,
}

impl VersionRow {
    fn new(api: &EntityRef, version: ApiVersion, latest: bool, shown: bool) -> VersionRow {
        let segment =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let page = entity_href(api);
        VersionRow {
            href: format!("{page}?version={}", segment(&version.version)),
            spec_href: format!(
                "/api/v1/apis/{}/{}/versions/{}/spec",
                segment(&api.namespace.to_lowercase()),
                segment(&api.name),
                segment(&version.version).replace('+', "%20")
            ),
            docs_href: format!(
                "{page}/versions/{}/docs",
                segment(&version.version).replace('+', "%20")
            ),
            lifecycle: Badge::lifecycle(match &version.lifecycle {
                VersionLifecycle::Experimental => "experimental",
                VersionLifecycle::Production => "production",
                VersionLifecycle::Deprecated { .. } => "deprecated",
            }),
            sunset: version.lifecycle.sunset().map(str::to_owned),
            migration: version.migration,
            published: version.published_at.chars().take(10).collect(),
            environments: version
                .environments
                .into_iter()
                .map(|e| EnvironmentView {
                    href: safe_href(&e.url).filter(|_| e.url.starts_with("http")),
                    name: e.name,
                    url: e.url,
                    description: e.description.unwrap_or_default(),
                })
                .collect(),
            version: version.version,
            latest,
            shown,
        }
    }
}

/// One operation of the API's definition.
struct OperationView {
    method: String,
    path: String,
    summary: String,
    operation_id: String,
}

impl OperationView {
    fn new(op: OperationRow) -> OperationView {
        OperationView {
            method: op.method.to_uppercase(),
            path: op.path,
            summary: op.summary.unwrap_or_default(),
            operation_id: op.operation_id.unwrap_or_default(),
        }
    }
}

/// The operations of an API's inline definition, for when the store has not
/// indexed them (yet); a definition that does not parse has none.
fn definition_operations(stored: &StoredEntity) -> Vec<OperationRow> {
    let Some(definition) = stored.entity.definition() else {
        return Vec::new();
    };
    let hint = SpecHint {
        file_name: None,
        media_type: None,
    };
    match ParsedSpec::parse(definition.as_bytes(), &hint) {
        Ok(spec) => spec
            .operations()
            .into_iter()
            .map(OperationRow::from)
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[derive(Template)]
#[template(path = "entity.html")]
struct EntityPage {
    chrome: Chrome,
    entity: EntityView,
    spec: Vec<SpecField>,
}

/// What the API page needs: the entity, its versions newest first, the
/// version shown and that version's operations.
struct ApiLoaded {
    stored: StoredEntity,
    versions: Vec<ApiVersion>,
    shown: Option<String>,
    operations: Vec<OperationRow>,
}

/// Runs a store read on a blocking thread; failures become the error page.
pub(super) async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(error)) => Err(error_page(state, &error)),
        Err(error) => Err(error_page(state, &error)),
    }
}

/// Reads an API, its versions and the operations of the version asked for
/// (the latest by default); `None` when the API or that version is missing.
async fn load_api(
    state: &AppState,
    api: EntityRef,
    version: Option<String>,
    audience: Audience,
) -> Result<Option<ApiLoaded>, Response> {
    let store = state.catalog().clone();
    blocking(state, move || {
        let Some(stored) = store.visible_entity(&api, &audience)? else {
            return Ok(None);
        };
        let versions = store.versions(&api)?;
        let (shown, operations) = match version {
            Some(asked) => match store.version(&api, &asked)? {
                Some(detail) => (Some(asked), detail.operations),
                None => return Ok(None),
            },
            None => {
                let mut operations = store.operations(&api)?;
                if operations.is_empty() {
                    operations = definition_operations(&stored);
                }
                (versions.first().map(|v| v.version.clone()), operations)
            }
        };
        Ok(Some(ApiLoaded {
            stored,
            versions,
            shown,
            operations,
        }))
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct ApiQuery {
    version: Option<String>,
}

async fn api_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<ApiQuery>,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    let version = query.version.filter(|v| !v.trim().is_empty());
    let audience = caller.actor.audience();
    let loaded = match load_api(&state, api.clone(), version, audience).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return not_found(&state),
        Err(response) => return response,
    };
    let entity = EntityView::new(&loaded.stored);
    let me = loaded.stored.entity.entity_ref();
    let docs_href = (!loaded.versions.is_empty()).then(|| format!("{}/docs", entity_href(&me)));
    let versions = loaded
        .versions
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let shown = loaded.shown.as_deref() == Some(v.version.as_str());
            VersionRow::new(&me, v, i == 0, shown)
        })
        .collect();
    render(&ApiPage {
        chrome: Chrome::new(state.branding(), entity.title.clone(), "catalog"),
        entity,
        versions,
        shown: loaded.shown,
        operations: loaded
            .operations
            .into_iter()
            .map(OperationView::new)
            .collect(),
        docs_href,
        access: super::api_access::Access::for_api(&state, &caller, &me).await,
        preview_href: caller
            .actor
            .can(CATALOG_WRITE)
            .then(|| super::publish_preview::preview_path(&me.namespace, &me.name)),
    })
}

async fn entity_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Response {
    let entity = EntityRef::new(kind, namespace, name);
    if entity.is_kind("api") {
        return Redirect::permanent(&entity_href(&entity)).into_response();
    }
    let store = state.catalog().clone();
    let audience = caller.actor.audience();
    let stored = match blocking(&state, move || store.visible_entity(&entity, &audience)).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return not_found(&state),
        Err(response) => return response,
    };
    let view = EntityView::new(&stored);
    render(&EntityPage {
        chrome: Chrome::new(state.branding(), view.title.clone(), "catalog"),
        spec: spec_fields(&stored.entity.spec),
        entity: view,
    })
}

/// The branded page for an entity that is not in the catalogue.
pub(super) fn not_found(state: &AppState) -> Response {
    let page = super::ErrorPage {
        chrome: Chrome::new(state.branding(), "Not found", "catalog"),
        message: "Nothing in the catalog goes by that name. It may have been renamed or removed.",
    };
    let mut response = render(&page);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;
    use crate::ui::tests::{examples_state, get};

    #[tokio::test]
    async fn an_api_page_shows_its_operations_owner_relations_and_source() {
        let (state, _dir) = examples_state();
        let (status, headers, html) = get(&state, "/apis/default/petstore").await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(html.contains("<title>petstore – Portico</title>"));
        assert!(html.contains("<p>The petstore API</p>"));
        assert!(html.contains("<span class=\"badge badge-warn\">Experimental</span>"));
        assert!(html.contains("<th scope=\"row\" class=\"mono wrap-any\">/pets</th>"));
        assert!(html.contains("<span class=\"method method-get\">GET</span>"));
        assert!(html.contains("<td class=\"mono\">listPets</td>"));
        assert!(html.contains("Create a &#60;pet&#62;"));
        assert!(html.contains(
            "<a href=\"/catalog/group/default/team-c\" title=\"group:default/team-c\">team-c</a>"
        ));
        assert!(html.contains("API provided by"));
        assert!(html.contains("href=\"/catalog/component/default/petstore\""));
        assert!(html.contains("<a href=\"https://github.com/swagger-api/swagger-petstore\" rel=\"noopener noreferrer\">GitHub Repo</a>"));
        assert!(html.contains("all-apis.yaml") || html.contains("petstore-api.yaml"));
    }

    #[tokio::test]
    async fn an_api_page_reads_operations_from_its_definition_when_none_are_indexed() {
        let (state, _dir) = examples_state();
        let petstore = EntityRef::new("api", "default", "petstore");
        state.catalog().set_operations(&petstore, &[]).unwrap();
        let (_, _, html) = get(&state, "/apis/default/petstore").await;
        assert!(html.contains("<td class=\"mono\">listPets</td>"), "{html}");
        assert!(html.contains("<td class=\"mono\">showPetById</td>"));
        assert!(html.contains("/pets/{petId}"));
    }

    #[tokio::test]
    async fn an_api_page_lists_versions_newest_first_and_shows_the_picked_one() {
        let (state, _dir) =
            crate::ui::tests::test_state(crate::branding::Branding::default(), true);
        let (status, _, html) = get(&state, "/apis/default/payments").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("2 versions, newest first"), "{html}");
        let newest = html
            .find("<span aria-current=\"true\">2.1.0</span>")
            .expect("2.1.0 shown");
        let older = html
            .find("<a href=\"/apis/default/payments?version=1.8.0\">1.8.0</a>")
            .expect("1.8.0 picked by a link");
        assert!(newest < older);
        assert!(html.contains("<span class=\"badge badge-bad\">Deprecated</span>"));
        assert!(html.contains("Sunset <time datetime=\"2027-06-30\">2027-06-30</time>"));
        assert!(html.contains("<span class=\"env-name\">sandbox</span> <a class=\"mono wrap-any\" href=\"https://sandbox.payments.example.com/\""));
        assert!(html.contains("href=\"/api/v1/apis/default/payments/versions/2.1.0/spec\""));
        assert!(html.contains("<td class=\"mono\">createRefund</td>"));
        assert!(!html.contains("<td class=\"mono\">getCharge</td>"));

        let (status, _, old) = get(&state, "/apis/default/payments?version=1.8.0").await;
        assert_eq!(status, StatusCode::OK);
        assert!(old.contains("<span aria-current=\"true\">1.8.0</span>"));
        assert!(old.contains("of version <span class=\"mono\">1.8.0</span>"));
        assert!(old.contains("<td class=\"mono\">getCharge</td>"));
        assert!(!old.contains("<td class=\"mono\">createRefund</td>"));

        let (status, _, _) = get(&state, "/apis/default/payments?version=9.9.9").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn an_entity_page_shows_spec_fields_and_relations_both_ways() {
        let (state, _dir) = examples_state();
        let (status, _, component) = get(&state, "/catalog/component/default/petstore").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            component.contains("<dt>providesApis</dt><dd>petstore, streetlights, hello-world</dd>")
        );
        assert!(component.contains("<dt>Provides API</dt>"));
        assert!(component.contains("href=\"/apis/default/petstore\""));
        let (_, _, team) = get(&state, "/catalog/group/default/team-c").await;
        assert!(team.contains("<dt>Owner of</dt>"));
        assert!(team.contains("href=\"/apis/default/petstore\""));
        assert!(team.contains("href=\"/catalog/component/default/petstore\""));

        let (status, headers, _) = get(&state, "/catalog/api/default/petstore").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(headers[header::LOCATION], "/apis/default/petstore");
    }

    #[tokio::test]
    async fn a_missing_entity_is_a_branded_not_found_page() {
        let (state, _dir) = examples_state();
        for uri in [
            "/apis/default/nope",
            "/catalog/component/default/nope",
            "/apis/other/petstore",
        ] {
            let (status, _, html) = get(&state, uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert!(html.contains("<title>Not found – Portico</title>"), "{uri}");
            assert!(html.contains("Nothing in the catalog goes by that name"));
        }
    }

    #[test]
    fn only_web_and_mail_links_are_clickable() {
        assert_eq!(safe_href("javascript:alert(1)"), None);
        assert_eq!(safe_href("data:text/html,x"), None);
        assert_eq!(safe_href("/relative"), None);
        assert_eq!(
            safe_href("https://example.com/a b").as_deref(),
            Some("https://example.com/a%20b")
        );
        assert_eq!(relation_label("apiProvidedBy"), "API provided by");
        assert_eq!(relation_label("someNewRelation"), "Some new relation");
    }
}
