//! `/llms.txt` (the llmstxt.org format): the portal as a language model
//! should first read it, with a link to the markdown docs of every API the
//! reader may see, and to the portal's own API description.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portico_catalog::{SearchHit, SearchQuery};

use crate::problem::ApiError;
use crate::state::AppState;

/// The most APIs listed; a catalogue larger than this is summarised.
const MAX_APIS: usize = 10_000;

/// Hits read per search.
const PAGE: usize = 500;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/llms.txt", get(llms_txt))
}

async fn llms_txt(State(state): State<AppState>) -> Result<Response, ApiError> {
    let apis = every_api(&state).await?;
    let mut response = index(&state, &apis).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/markdown; charset=utf-8"),
    );
    Ok(response)
}

/// Every API of the catalogue, by name.
pub(crate) async fn every_api(state: &AppState) -> Result<Vec<SearchHit>, ApiError> {
    let store = state.catalog().clone();
    tokio::task::spawn_blocking(move || {
        let mut hits = Vec::new();
        loop {
            let page = store
                .search(&SearchQuery {
                    text: String::new(),
                    filters: vec![("kind".into(), "api".into())],
                    limit: PAGE,
                    offset: hits.len(),
                })
                .map_err(|e| ApiError::internal(format!("cannot list the APIs: {e}")))?;
            let last = page.hits.len() < PAGE;
            hits.extend(page.hits);
            if last || hits.len() >= MAX_APIS {
                return Ok(hits);
            }
        }
    })
    .await
    .map_err(ApiError::internal)?
}

/// The llms.txt document: title, summary, then a link per API.
fn index(state: &AppState, apis: &[SearchHit]) -> String {
    let branding = state.branding();
    let name = one_line(&branding.name);
    let mut text = format!("# {name}\n\n");
    text.push_str(&format!(
        "> {name} is this organisation's API developer portal: every API it offers, with \
         interactive docs, versions and their changes.\n\n"
    ));
    text.push_str(
        "Each API below links to its documentation as markdown. Every page of this portal \
         has a markdown twin at the same path plus `.md`.\n\n## APIs\n\n",
    );
    if apis.is_empty() {
        text.push_str("No APIs are published yet.\n");
    }
    for api in apis {
        let (namespace, name) = namespace_and_name(api);
        let title = api.title.as_deref().unwrap_or(&api.name);
        text.push_str(&format!(
            "- [{}](/apis/{namespace}/{name}/docs.md)",
            one_line(title).replace(['[', ']'], "")
        ));
        if let Some(description) = api.description.as_deref().filter(|d| !d.trim().is_empty()) {
            text.push_str(&format!(": {}", one_line(description)));
        }
        text.push('\n');
    }
    text.push_str("\n## Optional\n\n- [The portal's own API (OpenAPI 3.1)](/openapi.json)\n");
    text
}

/// `namespace` and `name` of a hit's `kind:namespace/name`, URL-encoded.
fn namespace_and_name(hit: &SearchHit) -> (String, String) {
    let reference = hit.entity_ref.split_once(':').map_or("", |(_, r)| r);
    let (namespace, name) = reference.split_once('/').unwrap_or(("default", &hit.name));
    let encode = |s: &str| -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    (encode(&namespace.to_lowercase()), encode(name))
}

/// Text on one line, as list items and headings need.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
