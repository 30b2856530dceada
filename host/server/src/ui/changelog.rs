//! Changelog pages and feeds: an API's changelog and the portal's, each entry with its version,
//! date, breaking badge, the unbumped-version warning, its summary and its changes (breaking
//! first), and the same entries as Atom feeds. Their markdown twins come from the generic
//! page conversion (`markdown_twin`), so they say exactly what the pages say.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portico_catalog::{ChangelogEntry, EntityRef, EntryKind};
use serde::Deserialize;

use super::catalog::entity_href;
use super::entity::not_found;
use super::{Chrome, render};
use crate::changelog_api::{MAX_LIMIT, visible_changelog};
use crate::changelog_feed::{ATOM, Feed, anchor, atom, changelog_path, entry_html, entry_title};
use crate::identity::Caller;
use crate::identity::roles::CATALOG_WRITE;
use crate::problem::ApiError;
use crate::state::AppState;

/// How many entries the portal's page and feed show by default.
const PORTAL_ENTRIES: usize = 50;

/// Routes of the changelog pages and feeds.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/apis/{namespace}/{name}/changelog", get(api_page))
        .route("/apis/{namespace}/{name}/changelog.atom", get(api_feed))
        .route("/changelog", get(portal_page))
        .route("/changelog.atom", get(portal_feed))
}

#[derive(Template)]
#[template(path = "changelog.html")]
struct ChangelogPage {
    chrome: Chrome,
    title: String,
    /// The API's page, on an API's changelog.
    api_href: Option<String>,
    feed_href: String,
    /// Whether entries name their API (the portal's changelog).
    portal: bool,
    /// The API's publication preview, for those who may write the catalogue.
    preview_href: Option<String>,
    entries: Vec<EntryRow>,
}

/// One entry as the page shows it.
struct EntryRow {
    anchor: String,
    title: String,
    api_href: String,
    href: String,
    version: String,
    date: String,
    deprecation: bool,
    breaking: usize,
    /// The entry's HTML: warning, summary, and changes under an owner's summary (escaped
    /// before it was marked up).
    body: String,
    edited_by: Option<String>,
}

impl EntryRow {
    fn new(entry: &ChangelogEntry) -> EntryRow {
        let path = changelog_path(&entry.namespace, &entry.name);
        EntryRow {
            anchor: anchor(entry),
            title: entry_title(entry),
            api_href: entity_href(&EntityRef::new("api", &entry.namespace, &entry.name)),
            href: format!("{path}#{}", anchor(entry)),
            version: entry.version.clone(),
            date: entry.published_at.get(..10).unwrap_or("").to_owned(),
            deprecation: entry.kind == EntryKind::Deprecation,
            breaking: entry.breaking,
            body: entry_html(entry),
            edited_by: entry.edited_by.clone(),
        }
    }
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

async fn api_entries(
    state: &AppState,
    caller: &Caller,
    namespace: String,
    name: String,
) -> Result<Option<(String, Vec<ChangelogEntry>)>, ApiError> {
    let api = EntityRef::new("api", namespace, name);
    Ok(visible_changelog(state, caller, &api)
        .await?
        .map(|(stored, entries)| {
            let title = stored
                .entity
                .metadata
                .title
                .clone()
                .unwrap_or_else(|| stored.entity.metadata.name.clone());
            (title, entries)
        }))
}

async fn portal_entries(
    state: &AppState,
    caller: &Caller,
    limit: Option<usize>,
) -> Result<Vec<ChangelogEntry>, ApiError> {
    let limit = limit.unwrap_or(PORTAL_ENTRIES).clamp(1, MAX_LIMIT);
    let audience = caller.actor.audience();
    crate::catalog_api::with_store(state, move |store| store.recent_changelog(&audience, limit))
        .await
}

async fn api_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let api = EntityRef::new("api", &namespace, &name);
    match api_entries(&state, &caller, namespace, name).await {
        Ok(Some((title, entries))) => render(&ChangelogPage {
            chrome: Chrome::new(state.branding(), format!("{title} changelog"), "catalog"),
            feed_href: format!("{}.atom", changelog_path(&api.namespace, &api.name)),
            api_href: Some(entity_href(&api)),
            title,
            portal: false,
            preview_href: caller
                .actor
                .can(CATALOG_WRITE)
                .then(|| super::publish_preview::preview_path(&api.namespace, &api.name)),
            entries: entries.iter().map(EntryRow::new).collect(),
        }),
        Ok(None) => not_found(&state),
        Err(error) => error.into_response(),
    }
}

async fn portal_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<LimitQuery>,
) -> Response {
    match portal_entries(&state, &caller, query.limit).await {
        Ok(entries) => render(&ChangelogPage {
            chrome: Chrome::new(state.branding(), "Changelog", "catalog"),
            title: "Changelog".to_owned(),
            api_href: None,
            feed_href: "/changelog.atom".to_owned(),
            portal: true,
            preview_href: None,
            entries: entries.iter().map(EntryRow::new).collect(),
        }),
        Err(error) => error.into_response(),
    }
}

async fn api_feed(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let page = changelog_path(&namespace, &name);
    match api_entries(&state, &caller, namespace, name).await {
        Ok(Some((title, entries))) => feed(
            &state,
            &headers,
            &page,
            &format!("{title} changelog"),
            &entries,
        ),
        Ok(None) => not_found(&state),
        Err(error) => error.into_response(),
    }
}

async fn portal_feed(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<LimitQuery>,
    headers: HeaderMap,
) -> Response {
    match portal_entries(&state, &caller, query.limit).await {
        Ok(entries) => {
            let title = format!("{} changelog", state.branding().name);
            feed(&state, &headers, "/changelog", &title, &entries)
        }
        Err(error) => error.into_response(),
    }
}

fn feed(
    state: &AppState,
    headers: &HeaderMap,
    page: &str,
    title: &str,
    entries: &[ChangelogEntry],
) -> Response {
    let origin = crate::scim::base_url(headers)
        .trim_end_matches("/scim/v2")
        .to_owned();
    let self_url = format!("{origin}{page}.atom");
    let page_url = format!("{origin}{page}");
    let xml = atom(
        &Feed {
            self_url: &self_url,
            page_url: &page_url,
            title,
            author: &state.branding().name,
            origin: &origin,
        },
        entries,
    );
    let mut response = xml.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ATOM));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
