//! Server-rendered pages: the home page with the API catalogue, the catalogue
//! search and entity pages, and the plugins page.
//!
//! Pages are askama templates themed only through CSS variables from the
//! sanitised branding; they need no JavaScript. With white-label branding,
//! nothing on a page names Portico or shows its logo.

mod api_access;
mod app_webhook;
mod approvals;
mod apps;
mod assets;
mod auth;
mod catalog;
mod changelog;
mod dashboard;
mod directory;
mod docs;
mod entity;
mod gateways;
mod oidc;
mod plugins;
mod publish_preview;
mod tryit;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use portico_catalog::{
    ApiVersion, Audience, CatalogError, CatalogStore, EntityRef, SearchHit, SearchQuery,
    SearchResults,
};
use serde::Deserialize;

use crate::branding::{Branding, FooterLink};
use crate::identity::Caller;
use crate::state::AppState;
pub(crate) use auth::forbidden_page;
pub(crate) use docs::docs_markdown;

/// What pages may load: their own stylesheet and inline theme, the operator's
/// logo and fonts, and no scripts at all.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline' https:; \
     img-src 'self' data: https: http:; font-src 'self' data: https:; form-action 'self'; base-uri 'none'";

/// The longest search query kept; the rest is ignored.
const MAX_QUERY_CHARS: usize = 200;

/// Routes of the web UI.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .merge(plugins::router())
        .merge(gateways::router())
        .merge(directory::router())
        .merge(catalog::router())
        .merge(entity::router())
        .merge(docs::router())
        .merge(tryit::router())
        .merge(changelog::router())
        .merge(publish_preview::router())
        .merge(dashboard::router())
        .merge(assets::router())
        .merge(auth::router())
        .merge(oidc::router())
        .merge(apps::router())
        .merge(app_webhook::router())
        .merge(api_access::router())
        .merge(approvals::router())
        // After the access layer: the header's links depend on the caller.
        .layer(axum::middleware::from_fn(apps::header_links))
}

/// What every page shares: title, theme, header and footer.
struct Chrome {
    /// The page's own name, first in the title.
    page: String,
    /// Which nav entry is current.
    nav: &'static str,
    name: String,
    description: String,
    white_label: bool,
    css_variables: String,
    stylesheet: &'static str,
    custom_css: Option<String>,
    logo_src: Option<String>,
    monogram: String,
    favicon: String,
    footer_links: Vec<FooterLink>,
    /// The header's links for the caller.
    links: apps::HeaderLinks,
}

impl Chrome {
    fn new(branding: &Branding, page: impl Into<String>, nav: &'static str) -> Chrome {
        let branding = branding.sanitized();
        let white_label = branding.is_white_label();
        // Without a logo of their own, a white-label portal shows its initial, never ours.
        let logo_src = branding
            .logo_url
            .clone()
            .or_else(|| (!white_label).then(|| assets::logo_url().to_owned()));
        let monogram = branding
            .name
            .chars()
            .find(|c| c.is_alphanumeric())
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default();
        Chrome {
            page: page.into(),
            nav,
            description: format!(
                "{}: find an API, read its docs and make your first call.",
                branding.name
            ),
            white_label,
            css_variables: branding.css_variables(),
            stylesheet: assets::stylesheet_url(),
            // An empty data URL stops browsers asking for /favicon.ico.
            favicon: logo_src.clone().unwrap_or_else(|| "data:,".to_owned()),
            logo_src,
            monogram,
            custom_css: branding.custom_css,
            footer_links: branding.footer_links,
            name: branding.name,
            links: apps::HeaderLinks::current(),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    query: String,
    apis: Vec<ApiCard>,
    total: usize,
    production: usize,
    plugins: usize,
}

/// One API as a card.
struct ApiCard {
    id: String,
    href: String,
    initial: String,
    title: String,
    version: Option<String>,
    description: String,
    lifecycle: Option<catalog::Badge>,
    owner: String,
    owner_ref: String,
    tags: Vec<String>,
}

impl ApiCard {
    fn new(hit: SearchHit, latest: Option<ApiVersion>) -> ApiCard {
        let entity = EntityRef::parse_full(&hit.entity_ref).ok();
        let namespace = entity.as_ref().map_or("default", |e| e.namespace.as_str());
        // `pets-team` as written; its full ref (`group:default/pets-team`) as the tooltip.
        let owner = hit.owner.clone().unwrap_or_default();
        let owner_ref = EntityRef::parse(&owner, Some("group"), namespace)
            .map_or_else(|_| owner.clone(), |r| r.to_string());
        let id = format!("{namespace}-{}", hit.name)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let title = hit
            .title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| hit.name.clone());
        ApiCard {
            id,
            href: entity
                .as_ref()
                .map_or_else(|| "/catalog".to_owned(), catalog::entity_href),
            initial: title
                .chars()
                .next()
                .map(|c| c.to_uppercase().collect())
                .unwrap_or_default(),
            title,
            version: latest.map(|v| v.version),
            description: hit.description.unwrap_or_default(),
            lifecycle: hit.lifecycle.as_deref().map(catalog::Badge::lifecycle),
            owner: catalog::short_ref(&owner),
            owner_ref,
            tags: hit.tags,
        }
    }

    /// Production first, deprecated last, then by title.
    fn rank(&self) -> (u8, String) {
        let lifecycle = self.lifecycle.as_ref().map(|b| b.label.to_lowercase());
        let rank = match lifecycle.as_deref() {
            Some("production") => 0,
            Some("deprecated") => 2,
            _ => 1,
        };
        (rank, self.title.to_lowercase())
    }
}

/// The most APIs the home page lists; the catalogue page pages through the rest.
const HOME_APIS: usize = 500;

#[derive(Debug, Default, Deserialize)]
struct HomeQuery {
    #[serde(default)]
    q: String,
}

/// Every API (up to [`HOME_APIS`]), or those matching `text`, as cards;
/// with the catalogue's API count and how many are in production.
fn home_cards(
    store: &dyn CatalogStore,
    text: String,
    audience: Audience,
) -> Result<(Vec<ApiCard>, usize, usize), CatalogError> {
    let search = |text: String| {
        store.search(&SearchQuery {
            text,
            filters: vec![("kind".into(), "api".into())],
            limit: HOME_APIS,
            offset: 0,
            audience: audience.clone(),
        })
    };
    let all: SearchResults = search(String::new())?;
    let production = all
        .facets
        .get("lifecycle")
        .into_iter()
        .flatten()
        .filter(|f| f.value.eq_ignore_ascii_case("production"))
        .map(|f| f.count)
        .sum();
    let total = all.total;
    let hits = if text.is_empty() {
        all.hits
    } else {
        search(text)?.hits
    };
    let mut cards = hits
        .into_iter()
        .map(|hit| {
            let latest = match EntityRef::parse_full(&hit.entity_ref) {
                Ok(api) => store.versions(&api)?.into_iter().next(),
                Err(_) => None,
            };
            Ok(ApiCard::new(hit, latest))
        })
        .collect::<Result<Vec<_>, CatalogError>>()?;
    cards.sort_by_cached_key(ApiCard::rank);
    Ok((cards, total, production))
}

async fn home(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HomeQuery>,
) -> Response {
    let query: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let store = state.catalog().clone();
    let text = query.clone();
    let audience = caller.actor.audience();
    let loaded =
        tokio::task::spawn_blocking(move || home_cards(store.as_ref(), text, audience)).await;
    let (apis, total, production) = match loaded {
        Ok(Ok(found)) => found,
        Ok(Err(error)) => return error_page(&state, &error),
        Err(error) => return error_page(&state, &error),
    };
    render(&HomePage {
        chrome: Chrome::new(state.branding(), "Home", "home"),
        apis,
        query,
        total,
        production,
        plugins: state.plugins().len(),
    })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    message: &'static str,
}

/// Logs the cause and answers with a branded page that does not reveal it.
fn error_page(state: &AppState, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "cannot build page");
    let page = ErrorPage {
        chrome: Chrome::new(state.branding(), "Something went wrong", ""),
        message: "The page could not be loaded. Please try again in a moment.",
    };
    let mut response = render(&page);
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = Html(html).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "cannot render page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use portico_catalog::Database;
    use portico_runtime::{Registry, Runtime, RuntimeConfig};
    use tower::ServiceExt as _;

    use super::*;
    use crate::config::Config;

    pub(super) fn acme() -> Branding {
        Branding {
            name: "Acme Developer Hub".into(),
            primary_color: "#0b6e4f".into(),
            accent_color: "#f2a541".into(),
            background_color: "#fbfaf7".into(),
            text_color: "#1b1b1b".into(),
            font_family: "'Inter', system-ui, sans-serif".into(),
            custom_css: Some(".hero { border-radius: 0; }".into()),
            footer_links: vec![FooterLink {
                label: "Terms".into(),
                url: "https://acme.example/terms".into(),
            }],
            ..Branding::default()
        }
    }

    /// A state with a fresh database, optionally seeded with the demo APIs.
    pub(super) fn test_state(branding: Branding, demo: bool) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("portal.db")).unwrap();
        let catalog: std::sync::Arc<dyn portico_catalog::CatalogStore> =
            std::sync::Arc::new(portico_catalog::SqliteStore::new(&db).unwrap());
        if demo {
            crate::demo::seed(catalog.as_ref(), dir.path()).unwrap();
        }
        let config = Config {
            branding,
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        (
            AppState::with_access(
                config,
                db,
                catalog,
                runtime,
                Registry::default(),
                metrics,
                crate::state::Access::default(),
            ),
            dir,
        )
    }

    /// A state whose catalogue holds Backstage's example entities and org,
    /// with the petstore API's operations indexed.
    pub(super) fn examples_state() -> (AppState, tempfile::TempDir) {
        let (state, dir) = test_state(Branding::default(), false);
        let examples = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../catalog/fixtures/backstage-examples");
        let store = state.catalog().as_ref();
        portico_catalog::import_paths(
            store,
            &[examples.join("all.yaml"), examples.join("acme/org.yaml")],
            &portico_catalog::ImportOptions::default(),
        )
        .unwrap();
        let petstore = portico_catalog::EntityRef::new("api", "default", "petstore");
        let operation = |method: &str, id: &str, summary: &str| portico_catalog::OperationRow {
            method: method.into(),
            path: "/pets".into(),
            operation_id: Some(id.into()),
            summary: Some(summary.into()),
            tags: vec!["pets".into()],
        };
        store
            .set_operations(
                &petstore,
                &[
                    operation("get", "listPets", "List all pets"),
                    operation("post", "createPets", "Create a <pet>"),
                ],
            )
            .unwrap();
        (state, dir)
    }

    pub(super) async fn get(
        state: &AppState,
        uri: &str,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = router()
            .with_state(state.clone())
            .oneshot(
                Request::get(uri)
                    // What the access layer would add: here a caller with no permissions.
                    .extension(crate::identity::Caller::system("test", "unit test"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn white_label_pages_never_mention_portico() {
        let (state, _dir) = test_state(acme(), true);
        for uri in [
            "/",
            "/plugins",
            "/?q=pay",
            "/?q=nothing-matches",
            "/catalog",
            "/catalog?q=nothing&kind=api",
            "/apis/default/missing",
        ] {
            let (status, _, html) = get(&state, uri).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                "{uri}"
            );
            assert!(html.contains("Acme Developer Hub"), "{uri}");
            assert!(
                !html.to_lowercase().contains("portico"),
                "{uri} names Portico:\n{html}"
            );
            assert!(
                !html.contains(assets::logo_url()),
                "{uri} shows the Portico logo"
            );
        }
        let (_, _, empty) = get(&test_state(acme(), false).0, "/").await;
        assert!(
            empty.contains("--demo"),
            "the empty state still explains the demo flag"
        );
        assert!(!empty.to_lowercase().contains("portico"), "{empty}");
    }

    #[tokio::test]
    async fn default_branding_shows_powered_by_portico_and_its_logo() {
        let (state, _dir) = test_state(Branding::default(), false);
        let (_, _, html) = get(&state, "/").await;
        assert!(
            html.contains(
                "Powered by <a href=\"https://github.com/portico-dev/portico\">Portico</a>"
            )
        );
        assert!(html.contains("<title>Home – Portico</title>"));
        assert!(html.contains(&format!("<img src=\"{}\"", assets::logo_url())));
        assert!(
            html.contains("portico serve --demo"),
            "the empty state names the command"
        );
    }

    #[tokio::test]
    async fn every_page_has_a_title_naming_page_and_portal_and_the_footer_links() {
        let (state, _dir) = test_state(acme(), true);
        let (_, _, home) = get(&state, "/").await;
        let (_, _, plugins) = get(&state, "/plugins").await;
        assert!(home.contains("<html lang=\"en\">"));
        assert!(home.contains("<title>Home – Acme Developer Hub</title>"));
        assert!(plugins.contains("<title>Plugins – Acme Developer Hub</title>"));
        for html in [&home, &plugins] {
            assert!(html.contains("<a href=\"https://acme.example/terms\">Terms</a>"));
            assert!(!html.contains("Powered by"));
        }
        assert!(home.contains("<a href=\"/\" aria-current=\"page\">Home</a>"));
        assert!(plugins.contains("<a href=\"/plugins\" aria-current=\"page\">Plugins</a>"));
    }

    #[tokio::test]
    async fn css_variables_carry_the_configured_colours_before_the_stylesheet_and_custom_css() {
        let (state, _dir) = test_state(acme(), false);
        let (_, headers, html) = get(&state, "/").await;
        let vars = "<style>:root{--color-primary:#0b6e4f;--color-accent:#f2a541;--color-bg:#fbfaf7;\
                    --color-text:#1b1b1b;--font-body:'Inter', system-ui, sans-serif;--font-mono:";
        let at_vars = html.find(vars).expect("the theme block");
        let at_sheet = html.find(assets::stylesheet_url()).expect("the stylesheet");
        let at_custom = html
            .find("<style>.hero { border-radius: 0; }</style>")
            .expect("custom css");
        assert!(
            at_vars < at_sheet && at_sheet < at_custom,
            "theme, then stylesheet, then custom CSS"
        );
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("script-src"),
            "{csp}"
        );
    }

    #[tokio::test]
    async fn hostile_branding_values_are_neutralised() {
        let hostile = Branding {
            name: "<script>alert('name')</script>".into(),
            primary_color: "red;}</style><script>alert(1)</script>".into(),
            font_family: "x;}body{display:none".into(),
            logo_url: Some("javascript:alert(1)".into()),
            custom_css: Some("a{}</STYLE><script>alert(2)</script>".into()),
            footer_links: vec![
                FooterLink {
                    label: "<b>x</b>".into(),
                    url: "javascript:alert(3)".into(),
                },
                FooterLink {
                    label: "Docs\" onmouseover=\"alert(4)".into(),
                    url: "/docs".into(),
                },
            ],
            ..Branding::default()
        };
        let (state, _dir) = test_state(hostile, true);
        let (status, _, html) = get(&state, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("display:none"), "{html}");
        assert!(!html.contains("onmouseover=\""), "{html}");
        assert!(
            html.contains("&#60;script&#62;alert(&#39;name&#39;)&#60;/script&#62;"),
            "the name is text"
        );
        let default = Branding::default();
        assert!(html.contains(&format!("--color-primary:{};", default.primary_color)));
        assert_eq!(
            html.matches("<style>").count(),
            1,
            "no custom CSS block: {html}"
        );
    }

    #[tokio::test]
    async fn demo_apis_are_cards_with_lifecycle_badges_production_first() {
        let (state, _dir) = test_state(Branding::default(), true);
        let (_, _, html) = get(&state, "/").await;
        for title in ["Petstore", "Payments", "Weather", "Orders (v1)"] {
            assert!(html.contains(&format!(">{title}</a></h3>")), "{title}");
        }
        assert!(html.contains("<a href=\"/apis/default/payments\">Payments</a>"));
        assert!(
            html.contains("<p class=\"card-version\">v2.1.0</p>"),
            "the latest version"
        );
        assert!(html.contains("<span class=\"badge badge-good\">Production</span>"));
        assert!(html.contains("<span class=\"badge badge-warn\">Experimental</span>"));
        assert!(html.contains("<span class=\"badge badge-bad\">Deprecated</span>"));
        assert!(html.contains("Owner <strong>pets-team</strong>"));
        assert!(html.contains("<li class=\"tag\">pets</li>"));
        assert!(html.find(">Payments<").unwrap() < html.find(">Weather<").unwrap());
        assert!(html.find(">Weather<").unwrap() < html.find(">Orders (v1)<").unwrap());
        assert!(html.contains("<dt>Plugins installed</dt><dd>0</dd>"));
        assert!(html.contains("<dt>In production</dt><dd>2</dd>"));
    }

    #[tokio::test]
    async fn search_narrows_the_catalogue_and_says_when_nothing_matches() {
        let (state, _dir) = test_state(Branding::default(), true);
        let (_, _, html) = get(&state, "/?q=PAY").await;
        assert!(html.contains(">Payments</a></h3>") && html.contains(">Orders (v1)</a></h3>"));
        assert!(!html.contains(">Weather</a></h3>"));
        assert!(html.contains("value=\"PAY\""));
        let (_, _, html) = get(&state, "/?q=%3Cb%3Ezebra").await;
        assert!(html.contains("No API matches “&#60;b&#62;zebra”"), "{html}");
    }

    #[tokio::test]
    async fn assets_are_cached_for_a_year_and_unknown_ones_are_not_found() {
        let (state, _dir) = test_state(Branding::default(), false);
        let (status, headers, css) = get(&state, assets::stylesheet_url()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert!(css.contains("--color-primary") && !css.to_lowercase().contains("portico"));
        let (status, headers, _) = get(&state, assets::logo_url()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
        let (status, _, _) = get(&state, "/assets/portal.css").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
