//! An API's rendered docs, for its latest version or a named one, in the
//! portal's chrome with a table of contents, and the same docs as markdown at
//! the same path plus `.md`. A spec that does not render gives the page with
//! an error box and the raw spec to download, never a server error.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portico_catalog::{ApiVersion, EntityRef, SpecDocument, StoredEntity};
use portico_runtime::CallError;
use portico_runtime::worlds::renderer::TocEntry;

use super::catalog::entity_href;
use super::entity::{blocking, not_found};
use super::tryit::{TryIt, for_docs};
use super::{Chrome, render};
use crate::docs::{DocsError, DocsRequest, RenderedDocs};
use crate::identity::Caller;
use crate::state::AppState;

/// Routes of the docs pages and their markdown twins.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/apis/{namespace}/{name}/docs", get(latest_page))
        .route("/apis/{namespace}/{name}/docs.md", get(latest_markdown))
        .route(
            "/apis/{namespace}/{name}/versions/{version}/docs",
            get(version_page),
        )
        .route(
            "/apis/{namespace}/{name}/versions/{version}/docs.md",
            get(version_markdown),
        )
}

async fn latest_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    page(&state, &caller, api, None, &headers).await
}

async fn version_page(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    page(&state, &caller, api, Some(version), &headers).await
}

async fn latest_markdown(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    markdown(&state, &caller, api, None).await
}

async fn version_markdown(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    markdown(&state, &caller, api, Some(version)).await
}

/// An API, its versions newest first, the version shown and its document.
struct Loaded {
    stored: StoredEntity,
    versions: Vec<ApiVersion>,
    shown: Option<ApiVersion>,
    document: Option<SpecDocument>,
}

impl Loaded {
    fn title(&self) -> String {
        let metadata = &self.stored.entity.metadata;
        metadata
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| metadata.name.clone())
    }

    fn api(&self) -> EntityRef {
        self.stored.entity.entity_ref()
    }

    /// Where a version's docs live; `md` for the markdown twin.
    fn docs_href(&self, version: &str, md: bool) -> String {
        let api = self.api();
        format!(
            "/apis/{}/{}/versions/{}/docs{}",
            segment(&api.namespace.to_lowercase()),
            segment(&api.name),
            segment(version),
            if md { ".md" } else { "" }
        )
    }

    fn spec_href(&self) -> Option<String> {
        let api = self.api();
        self.shown.as_ref().map(|v| {
            format!(
                "/api/v1/apis/{}/{}/versions/{}/spec",
                segment(&api.namespace.to_lowercase()),
                segment(&api.name),
                segment(&v.version)
            )
        })
    }
}

/// A path segment, percent-encoded.
pub(super) fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Reads the API, the version asked for (the latest by default) and its
/// document; `None` when the API or that version does not exist.
async fn load(
    state: &AppState,
    caller: &Caller,
    api: EntityRef,
    version: Option<String>,
) -> Result<Option<Loaded>, Response> {
    let store = state.catalog().clone();
    let audience = caller.actor.audience();
    blocking(state, move || {
        let Some(stored) = store.visible_entity(&api, &audience)? else {
            return Ok(None);
        };
        let versions = store.versions(&api)?;
        let shown = match version {
            Some(asked) => match store.version(&api, &asked)? {
                Some(detail) => Some(detail.version),
                None => return Ok(None),
            },
            None => versions.first().cloned(),
        };
        let document = match &shown {
            Some(v) => store.spec_document(&v.spec_hash)?,
            None => None,
        };
        Ok(Some(Loaded {
            stored,
            versions,
            shown,
            document,
        }))
    })
    .await
}

/// The docs of the loaded version, or what to tell the reader instead.
async fn rendered(state: &AppState, loaded: &Loaded) -> Result<Arc<RenderedDocs>, &'static str> {
    let (Some(version), Some(document)) = (&loaded.shown, &loaded.document) else {
        return Err("This API has no spec document yet, so it has no docs.");
    };
    let request = DocsRequest {
        base_path: loaded.docs_href(&version.version, false),
        servers: version
            .environments
            .iter()
            .filter(|e| e.url.starts_with("http"))
            .map(|e| (e.name.clone(), e.url.clone()))
            .collect(),
    };
    let plugins = state.plugins().all();
    let result = state
        .docs()
        .render(plugins, state.branding(), document.clone(), request)
        .await;
    result.map_err(|error| {
        tracing::warn!(api = %loaded.api(), version = %version.version, %error, "docs not rendered");
        reader_message(&error)
    })
}

/// What a reader is told; the cause goes to the log.
fn reader_message(error: &DocsError) -> &'static str {
    match error {
        DocsError::NoRenderer(_) => "No docs renderer is installed for this kind of spec document.",
        DocsError::Unreadable(_) | DocsError::Plugin(CallError::Plugin { .. }) => {
            "The spec document could not be rendered: it may be malformed, or use a version of its format that the docs renderer does not read."
        }
        DocsError::Plugin(CallError::Overloaded { .. } | CallError::CircuitOpen { .. }) => {
            "The docs renderer is busy. Please try again in a moment."
        }
        DocsError::Plugin(_) => "The docs renderer failed on this spec document.",
    }
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    chrome: Chrome,
    title: String,
    api_href: String,
    version: Option<String>,
    versions: Vec<VersionLink>,
    markdown_href: Option<String>,
    spec_href: Option<String>,
    toc: Vec<TocGroup>,
    docs: Option<Arc<RenderedDocs>>,
    error: Option<&'static str>,
    try_it: TryIt,
    /// The banner of a deprecated version.
    deprecation: Option<crate::deprecation::Notice>,
}

/// A version in the page's version list.
struct VersionLink {
    version: String,
    href: String,
    current: bool,
}

/// A top-level entry of the table of contents with the entries under it.
struct TocGroup {
    title: String,
    anchor: String,
    children: Vec<(String, String)>,
}

fn toc_groups(toc: &[TocEntry]) -> Vec<TocGroup> {
    let mut groups: Vec<TocGroup> = Vec::new();
    for entry in toc {
        match groups.last_mut() {
            Some(group) if entry.level > 1 => {
                group
                    .children
                    .push((entry.title.clone(), entry.anchor.clone()));
            }
            _ => groups.push(TocGroup {
                title: entry.title.clone(),
                anchor: entry.anchor.clone(),
                children: Vec::new(),
            }),
        }
    }
    groups
}

async fn page(
    state: &AppState,
    caller: &Caller,
    api: EntityRef,
    version: Option<String>,
    headers: &HeaderMap,
) -> Response {
    let loaded = match load(state, caller, api, version).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return not_found(state),
        Err(response) => return response,
    };
    let outcome = rendered(state, &loaded).await;
    // The page also lists the API's versions, and its try-it forms carry the
    // reader's CSRF token: either changes its tag.
    let etag = outcome.as_ref().ok().map(|d| {
        let mut listing = std::hash::DefaultHasher::new();
        for v in &loaded.versions {
            std::hash::Hash::hash(&v.version, &mut listing);
            // A deprecation changes the banner.
            std::hash::Hash::hash(
                &(&v.deprecated_at, v.lifecycle.sunset(), &v.migration),
                &mut listing,
            );
        }
        std::hash::Hash::hash(&caller.csrf, &mut listing);
        format!(
            "\"{}-{:x}\"",
            d.fingerprint,
            std::hash::Hasher::finish(&listing)
        )
    });
    if let Some(etag) = &etag
        && matches(headers, etag)
    {
        return not_modified(etag);
    }
    let try_it = match (&outcome, &loaded.shown, &loaded.document) {
        (Ok(docs), Some(version), Some(document)) => {
            let docs_href = loaded.docs_href(&version.version, false);
            let api = loaded.api();
            for_docs(
                caller,
                &api,
                version,
                document,
                &docs.operations,
                &docs_href,
                state.config().auth.signup,
            )
            .await
        }
        _ => TryIt::default(),
    };
    let title = loaded.title();
    let shown = loaded.shown.as_ref().map(|v| v.version.clone());
    let mut toc = outcome
        .as_ref()
        .map(|d| toc_groups(&d.toc))
        .unwrap_or_default();
    if try_it.shown() {
        toc.push(TocGroup {
            title: "Try it".to_owned(),
            anchor: "try-it".to_owned(),
            children: try_it
                .forms
                .iter()
                .map(|f| (format!("{} {}", f.method, f.path), f.id.clone()))
                .collect(),
        });
    }
    let page = DocsPage {
        chrome: Chrome::new(state.branding(), format!("{title} docs"), "catalog"),
        api_href: entity_href(&loaded.api()),
        versions: loaded
            .versions
            .iter()
            .map(|v| VersionLink {
                href: loaded.docs_href(&v.version, false),
                current: shown.as_deref() == Some(v.version.as_str()),
                version: v.version.clone(),
            })
            .collect(),
        markdown_href: shown.as_deref().map(|v| loaded.docs_href(v, true)),
        spec_href: loaded.spec_href(),
        toc,
        try_it,
        error: outcome.as_ref().err().copied(),
        deprecation: loaded.shown.as_ref().and_then(crate::deprecation::notice),
        docs: outcome.ok(),
        version: shown,
        title,
    };
    let mut response = render(&page);
    if let Some(etag) = etag {
        cache_headers(&mut response, &etag);
    }
    response
}

async fn markdown(
    state: &AppState,
    caller: &Caller,
    api: EntityRef,
    version: Option<String>,
) -> Response {
    match docs_markdown(state, caller, api, version).await {
        Ok(Some(text)) => (markdown_headers(), text).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            markdown_headers(),
            "# Not found\n\nNothing in the catalog goes by that name.\n",
        )
            .into_response(),
        Err(response) => response,
    }
}

/// An API's docs as markdown, as its `docs.md` twin serves them (also
/// `/llms-full.txt` and the MCP tools): title, spec link, contents and the
/// renderer's markdown. `None` when the caller may not see the API, or it
/// has no such version; `Err` is the error page of a store failure.
pub(crate) async fn docs_markdown(
    state: &AppState,
    caller: &Caller,
    api: EntityRef,
    version: Option<String>,
) -> Result<Option<String>, Response> {
    let Some(loaded) = load(state, caller, api, version).await? else {
        return Ok(None);
    };
    let outcome = rendered(state, &loaded).await;
    let mut text = format!("# {}", loaded.title());
    if let Some(version) = &loaded.shown {
        text.push_str(&format!(" {}", version.version));
    }
    text.push_str("\n\n");
    if let Some(spec) = loaded.spec_href() {
        text.push_str(&format!("Spec document: <{spec}>\n\n"));
    }
    match outcome {
        Ok(docs) => {
            text.reserve(docs.markdown.len() + docs.toc.len() * 48);
            text.push_str("## Contents\n\n");
            for entry in &docs.toc {
                let indent = "  ".repeat(usize::from(entry.level.saturating_sub(1)));
                text.push_str(&format!(
                    "{indent}- [{}](#{})\n",
                    entry.title.replace(['[', ']'], ""),
                    entry.anchor
                ));
            }
            text.push('\n');
            text.push_str(&docs.markdown);
        }
        Err(message) => text.push_str(&format!(
            "> **These docs could not be rendered.** {message}\n"
        )),
    }
    Ok(Some(text))
}

fn markdown_headers() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/markdown; charset=utf-8"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ]
}

/// Whether `If-None-Match` names this ETag.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim().trim_start_matches("W/") == etag)
}

fn not_modified(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    cache_headers(&mut response, etag);
    response
}

fn cache_headers(response: &mut Response, etag: &str) {
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_contents_nests_level_two_under_level_one() {
        let entry = |level: u8, title: &str| TocEntry {
            level,
            title: title.into(),
            anchor: title.to_lowercase(),
        };
        let groups = toc_groups(&[
            entry(2, "Orphan"),
            entry(1, "Pets"),
            entry(2, "List"),
            entry(2, "Add"),
            entry(1, "Schemas"),
        ]);
        let shape: Vec<_> = groups
            .iter()
            .map(|g| (g.title.as_str(), g.children.len()))
            .collect();
        assert_eq!(shape, [("Orphan", 0), ("Pets", 2), ("Schemas", 0)]);
        assert_eq!(groups[1].children[1], ("Add".to_owned(), "add".to_owned()));
    }

    #[test]
    fn an_etag_matches_with_or_without_weak_prefix() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b-html\""),
        );
        assert!(matches(&headers, "\"b-html\""));
        assert!(!matches(&headers, "\"c\""));
    }
}
