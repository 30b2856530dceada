//! Changelogs and portal-declared deprecations in SQLite. A deprecation an owner declares lives
//! in its own table, keyed by API and version name, and is laid over the version when versions
//! are read: re-importing a descriptor rewrites `api_versions` but never this table, so it does
//! not silently undo the owner's decision (and it survives the version being re-created).

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use crate::audience::Audience;
use crate::changelog::{
    ChangelogEntry, Deprecation, EntryDraft, EntryKind, LoggedChange, deprecation_text,
};
use crate::spec::VersionLifecycle;
use crate::store::CatalogError;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Records the publication of `version` at `at` (the owner's summary, if any, is kept).
pub(crate) fn record_version(
    conn: &Connection,
    entity_id: i64,
    version: &str,
    at: &str,
    draft: &EntryDraft,
) -> Result<(), CatalogError> {
    let breaking = draft.breaking();
    conn.prepare_cached(
        "INSERT INTO api_changelog (entity_id, kind, version, previous_version, published_at,
             breaking, non_breaking, changes, diff_error, unbumped_breaking, generated)
         VALUES (?1, 'version', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (entity_id, kind, version) DO UPDATE SET
             previous_version = excluded.previous_version, published_at = excluded.published_at,
             breaking = excluded.breaking, non_breaking = excluded.non_breaking,
             changes = excluded.changes, diff_error = excluded.diff_error,
             unbumped_breaking = excluded.unbumped_breaking, generated = excluded.generated",
    )?
    .execute(params![
        entity_id,
        version,
        draft.previous_version,
        at,
        breaking as i64,
        (draft.changes.len() - breaking) as i64,
        serde_json::to_string(&draft.changes).expect("changes serialise"),
        draft.diff_error,
        draft.unbumped_breaking,
        draft.generated,
    ])?;
    Ok(())
}

/// Records that `version` became deprecated at `at`.
pub(crate) fn record_deprecation(
    conn: &Connection,
    entity_id: i64,
    version: &str,
    at: &str,
    sunset: Option<&str>,
    migration: Option<&str>,
) -> Result<(), CatalogError> {
    conn.prepare_cached(
        "INSERT INTO api_changelog (entity_id, kind, version, published_at, generated)
         VALUES (?1, 'deprecation', ?2, ?3, ?4)
         ON CONFLICT (entity_id, kind, version) DO UPDATE SET
             published_at = excluded.published_at, generated = excluded.generated",
    )?
    .execute(params![
        entity_id,
        version,
        at,
        deprecation_text(version, sunset, migration)
    ])?;
    Ok(())
}

/// Deprecates a stored version through the portal (again: a new sunset or migration note).
pub(crate) fn deprecate(
    conn: &Connection,
    entity_id: i64,
    version: &str,
    deprecation: &Deprecation,
    by: &str,
) -> Result<(), CatalogError> {
    if let Some(sunset) = &deprecation.sunset {
        VersionLifecycle::parse(&format!("deprecated {}", sunset.trim()))
            .map_err(|e| CatalogError::Invalid(e.to_string()))?;
    }
    if !version_exists(conn, entity_id, version)? {
        return Err(CatalogError::NotFound(format!("version {version}")));
    }
    let sunset = deprecation.sunset.as_deref().map(str::trim);
    let migration = deprecation
        .migration
        .as_deref()
        .filter(|m| !m.trim().is_empty());
    let at: String = conn.query_row(
        &format!(
            "INSERT INTO api_version_deprecations (entity_id, version, deprecated_at, sunset, migration, deprecated_by)
             VALUES (?1, ?2, {NOW}, ?3, ?4, ?5)
             ON CONFLICT (entity_id, version) DO UPDATE SET sunset = excluded.sunset,
                 migration = excluded.migration, deprecated_by = excluded.deprecated_by
             RETURNING deprecated_at"
        ),
        params![entity_id, version, sunset, migration, by],
        |r| r.get(0),
    )?;
    record_deprecation(conn, entity_id, version, &at, sunset, migration)
}

/// Withdraws a portal deprecation; `false` when there was none. The changelog's deprecation
/// entry goes too, unless the descriptor itself still deprecates the version.
pub(crate) fn undeprecate(
    conn: &Connection,
    entity_id: i64,
    version: &str,
) -> Result<bool, CatalogError> {
    if !version_exists(conn, entity_id, version)? {
        return Err(CatalogError::NotFound(format!("version {version}")));
    }
    let removed = conn.execute(
        "DELETE FROM api_version_deprecations WHERE entity_id = ?1 AND version = ?2",
        params![entity_id, version],
    )? > 0;
    conn.execute(
        "DELETE FROM api_changelog WHERE entity_id = ?1 AND kind = 'deprecation' AND version = ?2
             AND NOT EXISTS (SELECT 1 FROM api_versions WHERE entity_id = ?1 AND version = ?2
                                                        AND lifecycle = 'deprecated')",
        params![entity_id, version],
    )?;
    Ok(removed)
}

fn version_exists(conn: &Connection, entity_id: i64, version: &str) -> Result<bool, CatalogError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM api_versions WHERE entity_id = ?1 AND version = ?2")?
        .query_row(params![entity_id, version], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Replaces the owner's summary of a version's entry (its deprecation's, if it has no
/// publication entry); `None` or blank restores the generated one.
pub(crate) fn edit(
    conn: &Connection,
    entity_id: i64,
    version: &str,
    summary: Option<&str>,
    by: &str,
) -> Result<ChangelogEntry, CatalogError> {
    let summary = summary.filter(|s| !s.trim().is_empty());
    let id: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM api_changelog WHERE entity_id = ?1 AND version = ?2
             ORDER BY kind = 'version' DESC LIMIT 1",
        )?
        .query_row(params![entity_id, version], |r| r.get(0))
        .optional()?;
    let id = id.ok_or_else(|| CatalogError::NotFound(format!("changelog entry {version}")))?;
    conn.execute(
        &format!(
            "UPDATE api_changelog SET summary = ?1, edited_by = ?2, edited_at = {NOW} WHERE id = ?3"
        ),
        params![summary, summary.map(|_| by), id],
    )?;
    let entry = select(conn, "c.id = ?1", params![id])?.into_iter().next();
    entry.ok_or_else(|| CatalogError::NotFound(format!("changelog entry {version}")))
}

/// An API's changelog, newest first.
pub(crate) fn entries(
    conn: &Connection,
    entity_id: i64,
) -> Result<Vec<ChangelogEntry>, CatalogError> {
    select(conn, "c.entity_id = ?1", params![entity_id])
}

/// The newest `limit` entries of APIs `audience` may see, newest first.
pub(crate) fn recent(
    conn: &Connection,
    audience: &Audience,
    limit: usize,
) -> Result<Vec<ChangelogEntry>, CatalogError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT}, e.id, e.body FROM api_changelog c JOIN entities e ON e.id = c.entity_id
         ORDER BY c.published_at DESC, c.id DESC"
    ))?;
    let mut rows = stmt.query([])?;
    let mut seen: HashMap<i64, bool> = HashMap::new();
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let id: i64 = row.get(COLUMNS)?;
        let visible = match seen.get(&id) {
            Some(visible) => *visible,
            None => {
                let body: String = row.get(COLUMNS + 1)?;
                let annotations: BTreeMap<String, String> = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v.pointer("/metadata/annotations").cloned())
                    .and_then(|a| serde_json::from_value(a).ok())
                    .unwrap_or_default();
                *seen.entry(id).or_insert(audience.sees(&annotations))
            }
        };
        if visible {
            out.push(entry(row)?);
        }
    }
    Ok(out)
}

const SELECT: &str = "SELECT e.entity_ref, e.namespace, e.name, c.kind, c.version,
    c.previous_version, c.published_at, c.breaking, c.non_breaking, c.changes, c.diff_error,
    c.unbumped_breaking, c.generated, c.summary, c.edited_by, c.edited_at";
const COLUMNS: usize = 16;

fn select(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<ChangelogEntry>, CatalogError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} FROM api_changelog c JOIN entities e ON e.id = c.entity_id WHERE {filter}
         ORDER BY c.published_at DESC, c.id DESC"
    ))?;
    let rows = stmt.query_map(params, entry)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn entry(r: &Row<'_>) -> rusqlite::Result<ChangelogEntry> {
    let changes: String = r.get(9)?;
    Ok(ChangelogEntry {
        api: r.get(0)?,
        namespace: r.get(1)?,
        name: r.get(2)?,
        kind: match r.get::<_, String>(3)?.as_str() {
            "deprecation" => EntryKind::Deprecation,
            _ => EntryKind::Version,
        },
        version: r.get(4)?,
        previous_version: r.get(5)?,
        published_at: r.get(6)?,
        breaking: r.get::<_, i64>(7)? as usize,
        non_breaking: r.get::<_, i64>(8)? as usize,
        changes: serde_json::from_str::<Vec<LoggedChange>>(&changes).unwrap_or_default(),
        diff_error: r.get(10)?,
        unbumped_breaking: r.get(11)?,
        generated: r.get(12)?,
        summary: r.get(13)?,
        edited_by: r.get(14)?,
        edited_at: r.get(15)?,
    })
}
