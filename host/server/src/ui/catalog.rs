//! The catalogue page: full-text search with facet filters and paging.
//!
//! Filters are plain links and a GET form, so everything works without
//! JavaScript; every value from the catalogue is escaped by the templates.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use portico_catalog::{
    Audience, CatalogError, CatalogStore, EntityRef, Facets, SearchHit, SearchQuery, SearchResults,
};
use url::form_urlencoded;

use super::{Chrome, MAX_QUERY_CHARS, error_page, render};
use crate::identity::Caller;
use crate::state::AppState;

/// Hits per page.
const PAGE_SIZE: usize = 20;
/// The deepest page offered; deeper offsets are clamped.
const MAX_OFFSET: usize = 10_000;
/// Values shown per facet (selected ones are always shown too).
const MAX_FACET_VALUES: usize = 12;
/// Filter values kept from one URL; the rest are ignored.
const MAX_FILTERS: usize = 30;
/// The facets offered, in page order, with their headings.
const FACETS: [(&str, &str); 6] = [
    ("kind", "Kind"),
    ("type", "Type"),
    ("lifecycle", "Lifecycle"),
    ("owner", "Owner"),
    ("tag", "Tag"),
    ("source", "Source"),
];

/// Routes of the catalogue page.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/catalog", get(catalog))
}

/// What the catalogue page was asked for: text, facet values and page.
#[derive(Debug, Clone, Default, PartialEq)]
struct Selection {
    q: String,
    filters: Vec<(&'static str, String)>,
    offset: usize,
    /// Who reads; not part of links.
    audience: Audience,
}

impl Selection {
    fn parse(raw: Option<&str>) -> Selection {
        let mut selection = Selection::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let value = value.trim();
            match &*key {
                "q" => selection.q = value.chars().take(MAX_QUERY_CHARS).collect(),
                "offset" => selection.offset = value.parse().unwrap_or(0).min(MAX_OFFSET),
                key => {
                    let Some((facet, _)) = FACETS.iter().find(|(f, _)| *f == key) else {
                        continue;
                    };
                    if !value.is_empty()
                        && value.chars().count() <= MAX_QUERY_CHARS
                        && selection.filters.len() < MAX_FILTERS
                        && !selection.has(facet, value)
                    {
                        selection.filters.push((facet, value.to_owned()));
                    }
                }
            }
        }
        selection
    }

    fn has(&self, facet: &str, value: &str) -> bool {
        self.filters
            .iter()
            .any(|(f, v)| *f == facet && v.eq_ignore_ascii_case(value))
    }

    fn is_filtered(&self) -> bool {
        !self.q.is_empty() || !self.filters.is_empty()
    }

    /// The URL showing this selection.
    fn href(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        for (facet, value) in &self.filters {
            query.append_pair(facet, value);
        }
        if self.offset > 0 {
            query.append_pair("offset", &self.offset.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            "/catalog".to_owned()
        } else {
            format!("/catalog?{query}")
        }
    }

    /// The same selection with one value added or removed, on its first page.
    fn toggled(&self, facet: &'static str, value: &str) -> Selection {
        let mut next = self.at(0);
        if self.has(facet, value) {
            next.filters
                .retain(|(f, v)| !(*f == facet && v.eq_ignore_ascii_case(value)));
        } else {
            next.filters.push((facet, value.to_owned()));
        }
        next
    }

    fn at(&self, offset: usize) -> Selection {
        Selection {
            offset,
            ..self.clone()
        }
    }

    /// The store query, leaving out one facet's selections if asked.
    fn query(&self, without: Option<&str>) -> SearchQuery {
        SearchQuery {
            text: self.q.clone(),
            filters: self
                .filters
                .iter()
                .filter(|(f, _)| Some(*f) != without)
                .map(|(f, v)| ((*f).to_owned(), v.clone()))
                .collect(),
            limit: PAGE_SIZE,
            offset: self.offset,
            audience: self.audience.clone(),
        }
    }
}

/// Searches, then recounts each facet that has selections without them: its
/// values are OR'd, so its counts say what choosing another value would add.
fn search(store: &dyn CatalogStore, selection: &Selection) -> Result<SearchResults, CatalogError> {
    let mut results = store.search(&selection.query(None))?;
    for (facet, _) in FACETS {
        if selection.filters.iter().any(|(f, _)| *f == facet) {
            let query = SearchQuery {
                limit: 1,
                offset: 0,
                ..selection.query(Some(facet))
            };
            let others = store.search(&query)?;
            if let Some(counts) = others.facets.get(facet) {
                results.facets.insert(facet.to_owned(), counts.clone());
            }
        }
    }
    Ok(results)
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    query: String,
    facets: Vec<FacetGroup>,
    /// Selected filters, each with a link that removes it.
    active: Vec<Filter>,
    clear_href: String,
    filtered: bool,
    total: usize,
    first: usize,
    last: usize,
    results: Vec<ResultRow>,
    previous: Option<String>,
    next: Option<String>,
}

/// One selected facet value.
struct Filter {
    facet: &'static str,
    heading: &'static str,
    value: String,
    label: String,
    remove_href: String,
}

/// A facet and its values.
struct FacetGroup {
    name: &'static str,
    heading: &'static str,
    values: Vec<FacetValue>,
    more: usize,
}

/// A facet value as a link that toggles it.
struct FacetValue {
    label: String,
    value: String,
    count: usize,
    selected: bool,
    href: String,
}

/// One hit.
struct ResultRow {
    href: String,
    title: String,
    name: Option<String>,
    kind: String,
    spec_type: Option<String>,
    lifecycle: Option<Badge>,
    owner: Option<String>,
    tags: Vec<String>,
    description: Option<String>,
    /// Already escaped by the store, with `<mark>` around matches.
    highlight_html: Option<String>,
}

/// A lifecycle as a badge.
pub(super) struct Badge {
    pub(super) label: String,
    pub(super) class: &'static str,
}

impl Badge {
    pub(super) fn lifecycle(lifecycle: &str) -> Badge {
        let class = match lifecycle.to_ascii_lowercase().as_str() {
            "production" => "badge-good",
            "experimental" => "badge-warn",
            "deprecated" => "badge-bad",
            _ => "badge-neutral",
        };
        let mut label: String = lifecycle.to_owned();
        if let Some(first) = label.get(..1) {
            label = first.to_uppercase() + &label[1..];
        }
        Badge { label, class }
    }
}

impl CatalogPage {
    fn new(chrome: Chrome, selection: &Selection, results: SearchResults) -> CatalogPage {
        let shown = results.hits.len();
        let heading = |facet: &str| {
            FACETS
                .iter()
                .find(|(f, _)| *f == facet)
                .map_or("", |(_, h)| h)
        };
        let filter = |(facet, value): &(&'static str, String)| Filter {
            facet,
            heading: heading(facet),
            label: facet_label(facet, value),
            remove_href: selection.toggled(facet, value).href(),
            value: value.clone(),
        };
        CatalogPage {
            chrome,
            query: selection.q.clone(),
            active: selection.filters.iter().map(filter).collect(),
            facets: facet_groups(selection, &results.facets),
            clear_href: Selection {
                q: selection.q.clone(),
                ..Selection::default()
            }
            .href(),
            filtered: selection.is_filtered(),
            total: results.total,
            first: selection.offset + 1,
            last: selection.offset + shown,
            previous: (selection.offset > 0).then(|| {
                selection
                    .at(selection.offset.saturating_sub(PAGE_SIZE))
                    .href()
            }),
            next: (shown > 0 && selection.offset + shown < results.total)
                .then(|| selection.at(selection.offset + shown).href()),
            results: results.hits.into_iter().map(ResultRow::new).collect(),
        }
    }
}

fn facet_groups(selection: &Selection, facets: &Facets) -> Vec<FacetGroup> {
    FACETS
        .iter()
        .map(|&(name, heading)| {
            let counts = facets.get(name).map(Vec::as_slice).unwrap_or_default();
            let value = |value: &str, count: usize| FacetValue {
                label: facet_label(name, value),
                value: value.to_owned(),
                count,
                selected: selection.has(name, value),
                href: selection.toggled(name, value).href(),
            };
            let mut values: Vec<FacetValue> = counts
                .iter()
                .take(MAX_FACET_VALUES)
                .map(|c| value(&c.value, c.count))
                .collect();
            // A selected value stays in view, however rare, so it can be cleared.
            for (facet, selected) in &selection.filters {
                if *facet == name
                    && !values
                        .iter()
                        .any(|v| v.value.eq_ignore_ascii_case(selected))
                {
                    let count = counts
                        .iter()
                        .find(|c| c.value.eq_ignore_ascii_case(selected))
                        .map_or(0, |c| c.count);
                    values.push(value(selected, count));
                }
            }
            FacetGroup {
                name,
                heading,
                more: counts.len().saturating_sub(values.len()),
                values,
            }
        })
        .collect()
}

/// How a facet value reads: owners without their default kind and namespace,
/// file sources by file name.
fn facet_label(facet: &str, value: &str) -> String {
    match facet {
        "owner" => short_ref(value),
        "source" => match value.split_once(':') {
            Some((kind, rest)) if rest.contains('/') => {
                format!("{kind}: {}", rest.rsplit('/').next().unwrap_or(rest))
            }
            _ => value.to_owned(),
        },
        _ => value.to_owned(),
    }
}

/// `group:default/team-a` reads as `team-a`; other namespaces stay visible.
pub(super) fn short_ref(text: &str) -> String {
    let rest = text.split_once(':').map_or(text, |(_, r)| r);
    rest.strip_prefix("default/").unwrap_or(rest).to_owned()
}

impl ResultRow {
    fn new(hit: SearchHit) -> ResultRow {
        let href = EntityRef::parse_full(&hit.entity_ref)
            .map_or_else(|_| "/catalog".to_owned(), |r| entity_href(&r));
        let title = hit
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| hit.name.clone());
        ResultRow {
            href,
            name: (title != hit.name).then_some(hit.name),
            title,
            kind: hit.kind,
            spec_type: hit.spec_type,
            lifecycle: hit.lifecycle.as_deref().map(Badge::lifecycle),
            owner: hit.owner.as_deref().map(short_ref),
            tags: hit.tags,
            description: hit.description,
            highlight_html: hit.highlight_html,
        }
    }
}

/// An entity's page: APIs under `/apis/`, the rest under `/catalog/`.
pub(super) fn entity_href(entity: &EntityRef) -> String {
    let segment = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let namespace = segment(&entity.namespace.to_lowercase());
    let name = segment(&entity.name);
    if entity.is_kind("api") {
        format!("/apis/{namespace}/{name}")
    } else {
        format!(
            "/catalog/{}/{namespace}/{name}",
            segment(&entity.kind.to_lowercase())
        )
    }
}

async fn catalog(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let selection = Selection {
        audience: caller.actor.audience(),
        ..Selection::parse(raw.as_deref())
    };
    let store = state.catalog().clone();
    let wanted = selection.clone();
    let results = match tokio::task::spawn_blocking(move || search(store.as_ref(), &wanted)).await {
        Ok(Ok(results)) => results,
        Ok(Err(error)) => return error_page(&state, &error),
        Err(error) => return error_page(&state, &error),
    };
    let chrome = Chrome::new(state.branding(), "Catalog", "catalog");
    render(&CatalogPage::new(chrome, &selection, results))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::ui::tests::{examples_state, get};

    #[tokio::test]
    async fn catalog_lists_entities_with_facet_counts() {
        let (state, _dir) = examples_state();
        let (status, _, html) = get(&state, "/catalog").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("<a href=\"/catalog\" aria-current=\"page\">Catalog</a>"));
        assert!(html.contains("<title>Catalog – Portico</title>"));
        for facet in ["Kind", "Type", "Lifecycle", "Owner", "Tag", "Source"] {
            assert!(html.contains(&format!(">{facet}</h2>")), "{facet}");
        }
        assert!(html.contains("<a class=\"facet-value\" href=\"/catalog?kind=API\""));
        assert!(html.contains("<span class=\"facet-label\">team-c</span>"));
        assert!(
            html.contains("href=\"/catalog?offset=20\" rel=\"next\""),
            "a next page"
        );
        assert!(html.contains("1–20 of "));
        let (_, _, page2) = get(&state, "/catalog?offset=20").await;
        assert!(page2.contains("rel=\"prev\""));
        assert!(page2.contains("21–"));
    }

    #[tokio::test]
    async fn a_facet_filter_narrows_results_and_values_of_one_facet_are_ored() {
        let (state, _dir) = examples_state();
        let (_, _, html) = get(&state, "/catalog?kind=group").await;
        assert!(html.contains("href=\"/catalog/group/default/team-c\""));
        assert!(!html.contains("href=\"/apis/default/petstore\""));
        assert!(html.contains("<a class=\"facet-value is-selected\" href=\"/catalog\""));
        // Other kinds stay on offer, with their own counts.
        assert!(
            html.contains("href=\"/catalog?kind=group&#38;kind=API\""),
            "{html}"
        );
        assert!(html.contains("<input type=\"hidden\" name=\"kind\" value=\"group\">"));

        let (_, _, both) = get(&state, "/catalog?kind=group&kind=api&tag=rest").await;
        assert!(both.contains("href=\"/apis/default/petstore\""));
        assert!(
            !both.contains("href=\"/catalog/group/default/team-c\""),
            "groups have no tags"
        );
        assert!(both.contains("Tag: rest"));

        let (_, _, none) = get(&state, "/catalog?kind=api&lifecycle=nonexistent").await;
        assert!(none.contains("Nothing matches these filters"));
    }

    #[tokio::test]
    async fn text_search_shows_highlighted_matches_and_escapes_the_query() {
        let (state, _dir) = examples_state();
        let (_, _, html) = get(&state, "/catalog?q=petstore").await;
        assert!(html.contains("href=\"/apis/default/petstore\""));
        assert!(html.contains("<mark>"), "{html}");
        assert!(html.contains("value=\"petstore\""));
        let (_, _, html) = get(&state, "/catalog?q=%3Cscript%3Ezebra").await;
        assert!(!html.contains("<script"));
        assert!(
            html.contains("Nothing matches “&#60;script&#62;zebra”"),
            "{html}"
        );
    }

    #[test]
    fn selections_round_trip_through_urls_and_toggle() {
        let selection = Selection::parse(Some(
            "q=pet+store&kind=api&kind=API&tag=a%26b&offset=99999&bogus=1",
        ));
        assert_eq!(selection.q, "pet store");
        assert_eq!(
            selection.filters,
            [("kind", "api".into()), ("tag", "a&b".into())]
        );
        assert_eq!(selection.offset, MAX_OFFSET);
        assert_eq!(
            selection.toggled("kind", "API").href(),
            "/catalog?q=pet+store&tag=a%26b"
        );
        assert_eq!(Selection::parse(None).href(), "/catalog");
    }
}
