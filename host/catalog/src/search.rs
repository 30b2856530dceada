//! Full-text search over the catalogue (SQLite FTS5): names, titles,
//! descriptions, tags, owners and API operations, with facet counts and
//! exact name matches ranked first, then bm25.
//!
//! Also the plain operation rows an API's spec parser hands the store.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audience::Audience;
use crate::filter::{Condition, EntityFilter};
use crate::store::{CatalogError, FacetCount, Facets};

/// One operation of an API (from its OpenAPI / AsyncAPI / GraphQL spec).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OperationRow {
    /// `GET`, `PUBLISH`, `QUERY`, ...
    pub method: String,
    /// The path, channel or field.
    pub path: String,
    /// `operationId`, if any.
    pub operation_id: Option<String>,
    /// A one-line summary, if any.
    pub summary: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

impl OperationRow {
    /// Reads a row of `method, path, operation_id, summary, tags` (tags as JSON).
    pub(crate) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OperationRow> {
        let tags: String = r.get(4)?;
        Ok(OperationRow {
            method: r.get(0)?,
            path: r.get(1)?,
            operation_id: r.get(2)?,
            summary: r.get(3)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
        })
    }
}

impl From<crate::spec::Operation> for OperationRow {
    fn from(op: crate::spec::Operation) -> Self {
        OperationRow {
            method: op.method,
            path: op.path,
            operation_id: op.operation_id,
            summary: op.summary,
            tags: op.tags,
        }
    }
}

/// The facets search counts, and the entity field each stands for.
pub const SEARCH_FACETS: &[(&str, &str)] = &[
    ("kind", "kind"),
    ("type", "spec.type"),
    ("lifecycle", "spec.lifecycle"),
    ("owner", "relations.ownedby"),
    ("tag", "metadata.tags"),
    ("source", "source"),
];

/// A search request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Free text; empty lists everything (filters still apply).
    pub text: String,
    /// Facet selections, `(facet, value)`: facets from [`SEARCH_FACETS`] or
    /// any entity field; values of one facet are OR'd, facets AND'd.
    pub filters: Vec<(String, String)>,
    /// Page size (0 means 20).
    pub limit: usize,
    /// Hits to skip.
    pub offset: usize,
    /// Who reads: hits and facet counts leave out what they may not see.
    #[serde(skip)]
    pub audience: Audience,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// `kind:namespace/name`.
    pub entity_ref: String,
    /// Kind as written.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Title, if any.
    pub title: Option<String>,
    /// Description, if any.
    pub description: Option<String>,
    /// `spec.type`.
    pub spec_type: Option<String>,
    /// `spec.lifecycle`.
    pub lifecycle: Option<String>,
    /// `spec.owner` as written.
    pub owner: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The source that reported it.
    pub source: String,
    /// Whether the text equals the name (or title).
    pub exact: bool,
    /// bm25 score (lower is better; 0 without text).
    pub score: f64,
    /// A fragment around the match, HTML-escaped with `<mark>` around hits.
    pub highlight_html: Option<String>,
}

/// Search hits and facet counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// How many entities match.
    pub total: usize,
    /// The requested page.
    pub hits: Vec<SearchHit>,
    /// Counts by facet name (`kind`, `type`, `lifecycle`, `owner`, `tag`, `source`).
    pub facets: Facets,
}

const MARK_OPEN: char = '\u{e000}';
const MARK_CLOSE: char = '\u{e001}';

/// The FTS5 query for free text: every word required, the last one as a
/// prefix (people type the end of a query last; expanding every word as a
/// prefix would make long queries slow on big catalogues).
pub(crate) fn match_expression(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.to_lowercase()))
        .collect();
    let last = words.len().checked_sub(1)?;
    Some(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last {
                    format!("{w}*")
                } else {
                    w.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Separates tags in the facet table's `tags` column (which also starts and
/// ends with it, so a tag matches as `%<sep>tag<sep>%`).
pub(crate) const TAG_SEPARATOR: char = '\u{1f}';

/// The facet table column of a search facet, if it has one.
fn facet_column(facet: &str) -> Option<&'static str> {
    match facet.to_ascii_lowercase().as_str() {
        "kind" => Some("kind"),
        "type" | "spec.type" => Some("spec_type"),
        "lifecycle" | "spec.lifecycle" => Some("lifecycle"),
        "owner" | "relations.ownedby" => Some("owner"),
        "source" => Some("source"),
        "tag" | "metadata.tags" => Some("tags"),
        _ => None,
    }
}

/// The SQL (over `entity_facets d`) for the query's facet selections.
fn selection_sql(query: &SearchQuery, params: &mut Vec<SqlValue>) -> String {
    let mut by_facet: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (facet, value) in &query.filters {
        let key = facet_column(facet).map_or_else(|| facet.to_lowercase(), str::to_owned);
        by_facet.entry(key).or_default().push(value.to_lowercase());
    }
    let mut parts = Vec::new();
    for (key, values) in by_facet {
        let part = match key.as_str() {
            "tags" => {
                let likes: Vec<&str> = values
                    .iter()
                    .map(|v| {
                        params.push(SqlValue::Text(format!(
                            "%{TAG_SEPARATOR}{v}{TAG_SEPARATOR}%"
                        )));
                        "d.tags LIKE ?"
                    })
                    .collect();
                format!("({})", likes.join(" OR "))
            }
            "kind" | "spec_type" | "lifecycle" | "owner" | "source" => {
                let marks: Vec<&str> = values
                    .iter()
                    .map(|v| {
                        params.push(SqlValue::Text(v.clone()));
                        "?"
                    })
                    .collect();
                format!("d.{key} IN ({})", marks.join(","))
            }
            _ => {
                let filter = EntityFilter::all_of(vec![Condition { key, values }]);
                format!(
                    "d.id IN (SELECT e.id FROM entities e WHERE {})",
                    filter.conditions_sql(params)
                )
            }
        };
        parts.push(part);
    }
    parts.push(query.audience.to_sql("d.id", params));
    parts.join(" AND ")
}

fn ids_sql(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Runs a search on a connection holding the catalogue schema.
///
/// Exact name (or title) matches come first, found through an index; the
/// rest follow in FTS5 rank order, which only the page's rows leave the
/// index for. Facets are counted in one pass over the compact facet table.
pub(crate) fn run(conn: &Connection, query: &SearchQuery) -> Result<SearchResults, CatalogError> {
    let limit = if query.limit == 0 { 20 } else { query.limit };
    let matcher = match_expression(&query.text);
    let mut params = Vec::new();
    let selection = selection_sql(query, &mut params);
    let (from, match_params) = match &matcher {
        Some(m) => {
            let mut p = vec![SqlValue::Text(m.clone())];
            p.extend(params.iter().cloned());
            (
                format!(
                    "entities_fts f JOIN entity_facets d ON d.id = f.rowid
                     WHERE entities_fts MATCH ? AND {selection}"
                ),
                p,
            )
        }
        None => (format!("entity_facets d WHERE {selection}"), params.clone()),
    };

    let exact: Vec<i64> = if matcher.is_some() {
        let text = query.text.trim().to_lowercase();
        let mut p = vec![SqlValue::Text(text.clone()), SqlValue::Text(text)];
        p.extend(params.iter().cloned());
        conn.prepare_cached(&format!(
            "SELECT d.id FROM entity_facets d
             WHERE (d.name_lc = ? OR d.title_lc = ?) AND {selection} ORDER BY d.name_lc, d.id"
        ))?
        .query_map(params_from_iter(p.iter()), |r| r.get(0))?
        .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };

    // One pass over the matches counts facets and, when searching text,
    // keeps the best-ranked page; browsing takes the page in name order.
    let mut counter = FacetCounter::default();
    let mut ranked: Vec<(f64, i64)> = Vec::new();
    {
        let rank = if matcher.is_some() { "f.rank" } else { "0.0" };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT d.id, d.kind, d.spec_type, d.lifecycle, d.owner, d.source, d.tags, {rank} FROM {from}"
        ))?;
        let mut rows = stmt.query(params_from_iter(match_params.iter()))?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            counter.add(row)?;
            if matcher.is_some() && !exact.contains(&id) {
                ranked.push((row.get(7)?, id));
            }
        }
        let missing: Vec<i64> = exact
            .iter()
            .copied()
            .filter(|id| !counter.ids.contains(id))
            .collect();
        if !missing.is_empty() {
            let mut stmt = conn.prepare(&format!(
                "SELECT d.id, d.kind, d.spec_type, d.lifecycle, d.owner, d.source, d.tags
                 FROM entity_facets d WHERE d.id IN ({})",
                ids_sql(&missing)
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                counter.add(row)?;
            }
        }
    }

    let mut page: Vec<(i64, f64)> = exact
        .iter()
        .skip(query.offset)
        .take(limit)
        .map(|id| (*id, 0.0))
        .collect();
    let wanted = limit - page.len();
    let skip = query.offset.saturating_sub(exact.len());
    if wanted > 0 && matcher.is_some() {
        let by_rank = |a: &(f64, i64), b: &(f64, i64)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let end = (skip + wanted).min(ranked.len());
        if end > 0 && end < ranked.len() {
            ranked.select_nth_unstable_by(end - 1, by_rank);
        }
        ranked.truncate(end);
        ranked.sort_by(by_rank);
        page.extend(ranked.iter().skip(skip).map(|(rank, id)| (*id, *rank)));
    } else if wanted > 0 {
        let mut p = match_params.clone();
        p.push(SqlValue::Integer(wanted as i64));
        p.push(SqlValue::Integer(skip as i64));
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT d.id FROM {from} ORDER BY d.name_lc, d.id LIMIT ? OFFSET ?"
        ))?;
        let rows = stmt.query_map(params_from_iter(p.iter()), |r| r.get(0))?;
        for row in rows {
            page.push((row?, 0.0));
        }
    }
    let hits = load_hits(conn, &page, &exact, matcher.as_deref())?;
    Ok(SearchResults {
        total: counter.ids.len(),
        hits,
        facets: counter.finish(),
    })
}

/// Facet counts gathered row by row (values counted as stored, then merged
/// ignoring case, so the hot loop allocates only for new values).
#[derive(Default)]
struct FacetCounter {
    ids: std::collections::HashSet<i64>,
    counts: [HashMap<String, usize>; 6],
}

/// Facet names in the order of [`FacetCounter::counts`].
const COUNTED: [&str; 6] = ["kind", "type", "lifecycle", "owner", "source", "tag"];

impl FacetCounter {
    fn add(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        if !self.ids.insert(row.get(0)?) {
            return Ok(());
        }
        for i in 0..5 {
            if let Some(value) = row.get_ref(i + 1)?.as_str_or_null()? {
                bump(&mut self.counts[i], value);
            }
        }
        let tags = row.get_ref(6)?.as_str()?;
        for tag in tags.split(TAG_SEPARATOR).filter(|t| !t.is_empty()) {
            bump(&mut self.counts[5], tag);
        }
        Ok(())
    }

    fn finish(self) -> Facets {
        let mut facets = Facets::new();
        for (name, counts) in COUNTED.into_iter().zip(self.counts) {
            let mut merged: BTreeMap<String, FacetCount> = BTreeMap::new();
            for (value, count) in counts {
                merged
                    .entry(value.to_lowercase())
                    .and_modify(|f| f.count += count)
                    .or_insert(FacetCount { value, count });
            }
            let mut list: Vec<FacetCount> = merged.into_values().collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            facets.insert(name.to_owned(), list);
        }
        facets
    }
}

fn bump(counts: &mut HashMap<String, usize>, value: &str) {
    match counts.get_mut(value) {
        Some(n) => *n += 1,
        None => {
            counts.insert(value.to_owned(), 1);
        }
    }
}

/// The hits for a page of ids, in page order, with snippets when searching text.
fn load_hits(
    conn: &Connection,
    page: &[(i64, f64)],
    exact: &[i64],
    matcher: Option<&str>,
) -> Result<Vec<SearchHit>, CatalogError> {
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
    let mut rows: BTreeMap<i64, (String, String, String)> = BTreeMap::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT id, entity_ref, body, source FROM entities WHERE id IN ({})",
        ids_sql(&ids)
    ))?;
    for row in stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))? {
        let (id, data) = row?;
        rows.insert(id, data);
    }
    let mut snippets: BTreeMap<i64, String> = BTreeMap::new();
    if let Some(m) = matcher {
        let mut stmt = conn.prepare(&format!(
            "SELECT rowid, snippet(entities_fts, -1, '{MARK_OPEN}', '{MARK_CLOSE}', '…', 12)
             FROM entities_fts WHERE entities_fts MATCH ? AND rowid IN ({})",
            ids_sql(&ids)
        ))?;
        for row in stmt.query_map([m], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (id, snippet) = row?;
            snippets.insert(id, snippet);
        }
    }
    Ok(page
        .iter()
        .filter_map(|(id, score)| {
            let (entity_ref, body, source) = rows.remove(id)?;
            Some(hit(
                entity_ref,
                &body,
                source,
                *score,
                snippets.remove(id),
                exact.contains(id),
            ))
        })
        .collect())
}

fn hit(
    entity_ref: String,
    body: &str,
    source: String,
    score: f64,
    snippet: Option<String>,
    exact: bool,
) -> SearchHit {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let s = |path: &str| v.pointer(path).and_then(Value::as_str).map(str::to_owned);
    SearchHit {
        entity_ref,
        kind: s("/kind").unwrap_or_default(),
        name: s("/metadata/name").unwrap_or_default(),
        title: s("/metadata/title"),
        description: s("/metadata/description"),
        spec_type: s("/spec/type"),
        lifecycle: s("/spec/lifecycle"),
        owner: s("/spec/owner"),
        tags: v
            .pointer("/metadata/tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        source,
        exact,
        score,
        highlight_html: snippet
            .filter(|s| s.contains(MARK_OPEN))
            .map(|s| highlight_html(&s)),
    }
}

/// Escapes a snippet for HTML and turns the match markers into `<mark>`.
fn highlight_html(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 16);
    for c in snippet.chars() {
        match c {
            MARK_OPEN => out.push_str("<mark>"),
            MARK_CLOSE => out.push_str("</mark>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The text of an operation index as it goes into the search index.
pub(crate) fn operations_text(ops: &[OperationRow]) -> String {
    let mut out = String::new();
    for op in ops {
        for part in [
            Some(&op.method),
            Some(&op.path),
            op.operation_id.as_ref(),
            op.summary.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            out.push_str(part);
            out.push(' ');
        }
        for tag in &op.tags {
            out.push_str(tag);
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_requires_every_word_and_completes_the_last() {
        assert_eq!(
            match_expression("Pet store-API").unwrap(),
            "\"pet\" \"store\" \"api\"*"
        );
        assert_eq!(match_expression(" \"*( "), None);
    }

    #[test]
    fn highlights_escape_everything_but_the_marks() {
        let s = format!("a <b> & {MARK_OPEN}pet{MARK_CLOSE}'s");
        assert_eq!(
            highlight_html(&s),
            "a &lt;b&gt; &amp; <mark>pet</mark>&#39;s"
        );
    }

    #[test]
    fn facet_selections_become_column_tests() {
        let q = SearchQuery {
            filters: vec![
                ("Type".into(), "openapi".into()),
                ("type".into(), "GraphQL".into()),
                ("tag".into(), "rest".into()),
                ("metadata.name".into(), "x".into()),
            ],
            audience: Audience::member(),
            ..SearchQuery::default()
        };
        let mut params = Vec::new();
        let sql = selection_sql(&q, &mut params);
        assert!(sql.contains("d.spec_type IN (?,?)"), "{sql}");
        assert!(sql.contains("d.tags LIKE ?"), "{sql}");
        assert!(
            sql.contains("d.id IN (SELECT e.id FROM entities e WHERE"),
            "{sql}"
        );
        assert_eq!(params.len(), 5);
        assert_eq!(facet_column("OWNER"), Some("owner"));
    }

    #[test]
    fn operations_flatten_to_searchable_text() {
        let ops = [OperationRow {
            method: "GET".into(),
            path: "/pets".into(),
            operation_id: Some("listPets".into()),
            summary: None,
            tags: vec!["pets".into()],
        }];
        assert_eq!(operations_text(&ops), "GET /pets listPets pets \n");
    }
}
