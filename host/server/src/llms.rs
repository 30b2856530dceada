//! `/llms.txt` (the llmstxt.org format): the portal as a language model
//! should first read it, with a link to the markdown docs of every API the
//! reader may see, and to the portal's own API description; `/llms-full.txt`
//! is the same with every API's markdown docs inline, up to [`MAX_FULL_BYTES`].

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portico_catalog::{Audience, EntityRef, SearchHit, SearchQuery};

use crate::identity::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::ui::docs_markdown;

/// The most APIs listed; a catalogue larger than this is summarised.
const MAX_APIS: usize = 10_000;

/// Hits read per search.
const PAGE: usize = 500;

/// The most `/llms-full.txt` holds: docs that would pass it are left out,
/// and the file ends with a list of them.
pub const MAX_FULL_BYTES: usize = 8 << 20;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/llms.txt", get(llms_txt))
        .route("/llms-full.txt", get(llms_full_txt))
}

async fn llms_txt(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let apis = every_api(&state, caller.actor.audience()).await?;
    Ok(markdown_response(index(&state, &apis)))
}

async fn llms_full_txt(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let apis = every_api(&state, caller.actor.audience()).await?;
    Ok(markdown_response(
        full(&state, &caller, &apis, MAX_FULL_BYTES).await,
    ))
}

fn markdown_response(text: String) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/markdown; charset=utf-8"),
    );
    response
}

/// Every API of the catalogue the audience may see, by name.
pub(crate) async fn every_api(
    state: &AppState,
    audience: Audience,
) -> Result<Vec<SearchHit>, ApiError> {
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
                    audience: audience.clone(),
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

/// The title and summary both documents open with.
fn heading(state: &AppState) -> String {
    let name = one_line(&state.branding().name);
    format!(
        "# {name}\n\n> {name} is this organisation's API developer portal: every API it offers, \
         with interactive docs, versions and their changes.\n\n"
    )
}

/// The llms-full.txt document: title and summary, then every API's markdown
/// docs in turn, as long as they fit in `max_bytes`; the APIs whose docs did
/// not fit (or failed to load) are listed at the end with their links.
async fn full(state: &AppState, caller: &Caller, apis: &[SearchHit], max_bytes: usize) -> String {
    let mut text = heading(state);
    text.push_str(
        "The markdown docs of every API below, each as its `docs.md` link serves them. \
         The short index is at [/llms.txt](/llms.txt).\n",
    );
    if apis.is_empty() {
        text.push_str("\nNo APIs are published yet.\n");
    }
    // Room kept for the closing list of what was left out.
    let budget = max_bytes - (max_bytes / 8).min(64 * 1024);
    let mut left_out = Vec::new();
    for api in apis {
        let (namespace, name) = namespace_and_name(api);
        let link = format!("/apis/{namespace}/{name}/docs.md");
        let title = one_line(api.title.as_deref().unwrap_or(&api.name)).replace(['[', ']'], "");
        // Once nearly full, the rest is listed without rendering it.
        if text.len() + 1024 > budget {
            left_out.push((title, link, "no room left"));
            continue;
        }
        let Ok(reference) = EntityRef::parse_full(&api.entity_ref) else {
            continue;
        };
        match docs_markdown(state, caller, reference, None).await {
            Ok(Some(docs)) if text.len() + docs.len() + 64 <= budget => {
                text.push_str(&format!("\n---\n\nSource: <{link}>\n\n"));
                text.push_str(docs.trim_end());
                text.push('\n');
            }
            Ok(Some(_)) => left_out.push((title, link, "too large")),
            // Gone since the listing.
            Ok(None) => {}
            Err(_) => left_out.push((title, link, "could not be read")),
        }
    }
    if !left_out.is_empty() {
        text.push_str(&format!(
            "\n---\n\n## Left out\n\nThis file holds at most {} MiB of docs; the docs of these \
             APIs are not in it. Read each at its link.\n\n",
            max_bytes >> 20
        ));
        for (title, link, why) in left_out {
            let line = format!("- [{title}]({link}): {why}\n");
            if text.len() + line.len() + 16 > max_bytes {
                text.push_str("- and more\n");
                break;
            }
            text.push_str(&line);
        }
    }
    text
}

/// The llms.txt document: title, summary, then a link per API.
fn index(state: &AppState, apis: &[SearchHit]) -> String {
    let mut text = heading(state);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn llms_full_stays_within_its_cap_and_lists_what_it_left_out() {
        let (state, dir) = crate::identity::test_support::state_with_token("t");
        let catalog = dir.path().join("catalog");
        std::fs::create_dir_all(&catalog).unwrap();
        let descriptors: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {{name: api-{i:02}}}\n\
                     spec: {{type: openapi, lifecycle: production, owner: team-a, definition: x}}\n"
                )
            })
            .collect();
        std::fs::write(catalog.join("catalog-info.yaml"), descriptors.join("---\n")).unwrap();
        portico_catalog::import_paths(
            state.catalog().as_ref(),
            &[catalog],
            &portico_catalog::ImportOptions::default(),
        )
        .unwrap();
        let caller = Caller::system("test", "unit test");
        let apis = every_api(&state, caller.actor.audience()).await.unwrap();
        assert_eq!(apis.len(), 40);

        let roomy = full(&state, &caller, &apis, MAX_FULL_BYTES).await;
        assert!(
            roomy.contains("# api-00") && roomy.contains("# api-39"),
            "{roomy}"
        );
        assert!(!roomy.contains("## Left out"), "{roomy}");

        let cap = 4096;
        let text = full(&state, &caller, &apis, cap).await;
        assert!(text.len() <= cap, "{} bytes", text.len());
        assert!(
            text.contains("Source: </apis/default/api-00/docs.md>"),
            "{text}"
        );
        assert!(text.contains("## Left out"), "{text}");
        assert!(
            text.contains("- [api-39](/apis/default/api-39/docs.md)")
                || text.contains("- and more"),
            "{text}"
        );
    }
}
