//! API versions in SQLite: documents stored once by content hash, versions
//! keyed by (API, version) with their first publication kept, environments
//! per version. Publishing what is already stored writes nothing; publishing
//! a new document records a changelog entry (its diff against the previous
//! version), and `[catalog] breaking_changes = "refuse"` may refuse it.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::changelog::{self, BreakingChanges};
use crate::search::OperationRow;
use crate::spec::{VersionInfo, VersionLifecycle};
use crate::sqlite_changelog;
use crate::store::CatalogError;
use crate::versions::{
    ApiVersion, Environment, PublishOutcome, SpecDocument, VersionDetail, VersionDraft,
    newest_first, previous_version,
};

/// Publishes each draft of one entity in order; returns whether anything changed.
pub(crate) fn publish_all(
    tx: &Transaction<'_>,
    entity_id: i64,
    drafts: &[VersionDraft],
    source: &str,
    location: &str,
    policy: BreakingChanges,
) -> Result<bool, CatalogError> {
    let mut changed = false;
    for draft in drafts {
        changed |=
            publish(tx, entity_id, draft, source, location, policy)? != PublishOutcome::Unchanged;
    }
    Ok(changed)
}

/// Stored state of one version, for comparing with a draft.
struct Stored {
    id: i64,
    hash: String,
    lifecycle: String,
    sunset: Option<String>,
    migration: Option<String>,
    source: String,
    location: String,
}

/// Adds a version, or updates it where the draft differs; a new version's
/// publication time is now, or just after the API's latest one, so that
/// publication order is strict even within one import. A new document is
/// compared with the previous version's; with [`BreakingChanges::Refuse`],
/// breaking changes without a major bump are [`CatalogError::Invalid`] and
/// nothing is written.
pub(crate) fn publish(
    tx: &Transaction<'_>,
    entity_id: i64,
    draft: &VersionDraft,
    source: &str,
    location: &str,
    policy: BreakingChanges,
) -> Result<PublishOutcome, CatalogError> {
    let (state, sunset) = lifecycle_columns(&draft.lifecycle);
    let stored = tx
        .prepare_cached(
            "SELECT id, spec_hash, lifecycle, sunset, migration, source, location
             FROM api_versions WHERE entity_id = ?1 AND version = ?2",
        )?
        .query_row(params![entity_id, draft.version], |r| {
            Ok(Stored {
                id: r.get(0)?,
                hash: r.get(1)?,
                lifecycle: r.get(2)?,
                sunset: r.get(3)?,
                migration: r.get(4)?,
                source: r.get(5)?,
                location: r.get(6)?,
            })
        })
        .optional()?;
    if let Some(s) = &stored {
        let same = s.hash == draft.document.hash
            && s.lifecycle == state
            && s.sunset.as_deref() == sunset
            && s.migration == draft.migration
            && s.source == source
            && s.location == location
            && environments(tx, s.id)? == draft.environments;
        if same {
            return Ok(PublishOutcome::Unchanged);
        }
    }
    let entry = match &stored {
        Some(s) if s.hash == draft.document.hash => None,
        _ => Some(changelog_entry(tx, entity_id, draft)?),
    };
    if let Some(refusal) = entry
        .as_ref()
        .and_then(|entry| entry.refusal(&draft.version, policy))
    {
        return Err(CatalogError::Invalid(refusal));
    }
    let newly_deprecated =
        state == "deprecated" && stored.as_ref().is_some_and(|s| s.lifecycle != "deprecated");
    let operations = serde_json::to_string(&draft.operations).expect("rows serialise");
    tx.prepare_cached(
        "INSERT INTO spec_documents (hash, format, media_type, content, operations)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
    )?
    .execute(params![
        draft.document.hash,
        draft.document.format,
        draft.document.media_type,
        draft.document.content,
        operations
    ])?;
    let (id, outcome) = match stored {
        Some(s) => {
            tx.prepare_cached(
                "UPDATE api_versions SET spec_hash = ?1, lifecycle = ?2, sunset = ?3, migration = ?4,
                     source = ?5, location = ?6, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                     deprecated_at = CASE WHEN ?2 <> 'deprecated' THEN NULL
                         ELSE coalesce(deprecated_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) END
                 WHERE id = ?7",
            )?
            .execute(params![
                draft.document.hash,
                state,
                sunset,
                draft.migration,
                source,
                location,
                s.id
            ])?;
            (s.id, PublishOutcome::Changed)
        }
        None => {
            let published_at: String = tx
                .prepare_cached(
                    "SELECT CASE WHEN latest IS NULL OR now > latest THEN now
                            ELSE strftime('%Y-%m-%dT%H:%M:%fZ', latest, '+0.001 seconds') END
                     FROM (SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AS now,
                                  (SELECT max(published_at) FROM api_versions WHERE entity_id = ?1) AS latest)",
                )?
                .query_row([entity_id], |r| r.get(0))?;
            tx.prepare_cached(
                "INSERT INTO api_versions (entity_id, version, published_at, updated_at, lifecycle,
                                           sunset, migration, spec_hash, source, location,
                                           deprecated_at)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                         CASE WHEN ?4 = 'deprecated' THEN ?3 END)",
            )?
            .execute(params![
                entity_id,
                draft.version,
                published_at,
                state,
                sunset,
                draft.migration,
                draft.document.hash,
                source,
                location
            ])?;
            (tx.last_insert_rowid(), PublishOutcome::Added)
        }
    };
    tx.prepare_cached("DELETE FROM api_environments WHERE version_id = ?1")?
        .execute([id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO api_environments (version_id, position, name, url, description)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (position, env) in draft.environments.iter().enumerate() {
        insert.execute(params![
            id,
            position as i64,
            env.name,
            env.url,
            env.description
        ])?;
    }
    if entry.is_some() || newly_deprecated {
        let (updated_at, deprecated_at): (String, Option<String>) = tx
            .prepare_cached("SELECT updated_at, deprecated_at FROM api_versions WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if let Some(entry) = entry {
            sqlite_changelog::record_version(tx, entity_id, &draft.version, &updated_at, &entry)?;
        }
        if let (true, Some(at)) = (newly_deprecated, deprecated_at) {
            sqlite_changelog::record_deprecation(
                tx,
                entity_id,
                &draft.version,
                &at,
                sunset,
                draft.migration.as_deref(),
            )?;
        }
    }
    Ok(outcome)
}

/// The changelog entry of publishing `draft`: its diff against
/// [`previous_version`].
fn changelog_entry(
    tx: &Transaction<'_>,
    entity_id: i64,
    draft: &VersionDraft,
) -> Result<changelog::EntryDraft, CatalogError> {
    let stored: Vec<ApiVersion> = versions(tx, entity_id)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let previous = match previous_version(&draft.version, &stored) {
        Some(v) => document(tx, &v.spec_hash)?.map(|doc| (v.version.clone(), doc)),
        None => None,
    };
    Ok(changelog::version_entry(
        &draft.version,
        &draft.document,
        previous.as_ref().map(|(v, doc)| (v.as_str(), doc)),
    ))
}

fn lifecycle_columns(lifecycle: &VersionLifecycle) -> (&'static str, Option<&str>) {
    match lifecycle {
        VersionLifecycle::Experimental => ("experimental", None),
        VersionLifecycle::Production => ("production", None),
        VersionLifecycle::Deprecated { sunset } => ("deprecated", sunset.as_deref()),
    }
}

fn lifecycle_from_columns(state: &str, sunset: Option<String>) -> VersionLifecycle {
    match state {
        "experimental" => VersionLifecycle::Experimental,
        "deprecated" => VersionLifecycle::Deprecated { sunset },
        _ => VersionLifecycle::Production,
    }
}

fn environments(conn: &Connection, version_id: i64) -> Result<Vec<Environment>, CatalogError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, url, description FROM api_environments WHERE version_id = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([version_id], |r| {
        Ok(Environment {
            name: r.get(0)?,
            url: r.get(1)?,
            description: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The id of an entity by ref key.
pub(crate) fn entity_id(conn: &Connection, key: &str) -> Result<Option<i64>, CatalogError> {
    Ok(conn
        .prepare_cached("SELECT id FROM entities WHERE ref_key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// An entity's versions, newest first, each with its row id.
pub(crate) fn versions(
    conn: &Connection,
    entity_id: i64,
) -> Result<Vec<(i64, ApiVersion)>, CatalogError> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.id, v.version, v.published_at, v.updated_at,
                CASE WHEN o.version IS NULL THEN v.lifecycle ELSE 'deprecated' END,
                CASE WHEN o.version IS NULL THEN v.sunset ELSE o.sunset END,
                coalesce(o.migration, v.migration),
                v.spec_hash, d.format, v.source, v.location,
                coalesce(o.deprecated_at, v.deprecated_at)
         FROM api_versions v JOIN spec_documents d ON d.hash = v.spec_hash
         LEFT JOIN api_version_deprecations o ON o.entity_id = v.entity_id AND o.version = v.version
         WHERE v.entity_id = ?1",
    )?;
    let rows = stmt
        .query_map([entity_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ApiVersion {
                    version: r.get(1)?,
                    published_at: r.get(2)?,
                    updated_at: r.get(3)?,
                    lifecycle: lifecycle_from_columns(&r.get::<_, String>(4)?, r.get(5)?),
                    migration: r.get(6)?,
                    spec_hash: r.get(7)?,
                    spec_format: r.get(8)?,
                    environments: Vec::new(),
                    source: r.get(9)?,
                    location: r.get(10)?,
                    deprecated_at: r.get(11)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_version: HashMap<i64, Vec<Environment>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT n.version_id, n.name, n.url, n.description FROM api_environments n
             JOIN api_versions v ON v.id = n.version_id
             WHERE v.entity_id = ?1 ORDER BY n.version_id, n.position",
        )?;
        let envs = stmt.query_map([entity_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Environment {
                    name: r.get(1)?,
                    url: r.get(2)?,
                    description: r.get(3)?,
                },
            ))
        })?;
        for env in envs {
            let (id, env) = env?;
            by_version.entry(id).or_default().push(env);
        }
    }
    let rows = rows
        .into_iter()
        .map(|(id, mut v)| {
            v.environments = by_version.remove(&id).unwrap_or_default();
            (id, v)
        })
        .collect();
    Ok(newest_first(rows, |(_, v)| VersionInfo {
        version: v.version.clone(),
        published_at: Some(v.published_at.clone()),
    }))
}

/// One version of an entity with its operations.
pub(crate) fn version(
    conn: &Connection,
    entity_id: i64,
    version: &str,
) -> Result<Option<VersionDetail>, CatalogError> {
    let Some((_, found)) = versions(conn, entity_id)?
        .into_iter()
        .find(|(_, v)| v.version == version)
    else {
        return Ok(None);
    };
    let operations = document_operations(conn, &found.spec_hash)?;
    Ok(Some(VersionDetail {
        version: found,
        operations,
    }))
}

/// The operations of the entity's newest version, if it has versions.
pub(crate) fn latest_operations(
    conn: &Connection,
    entity_id: i64,
) -> Result<Option<Vec<OperationRow>>, CatalogError> {
    match versions(conn, entity_id)?.into_iter().next() {
        Some((_, latest)) => Ok(Some(document_operations(conn, &latest.spec_hash)?)),
        None => Ok(None),
    }
}

fn document_operations(conn: &Connection, hash: &str) -> Result<Vec<OperationRow>, CatalogError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT operations FROM spec_documents WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?;
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// A stored document by content hash.
pub(crate) fn document(
    conn: &Connection,
    hash: &str,
) -> Result<Option<SpecDocument>, CatalogError> {
    Ok(conn
        .prepare_cached(
            "SELECT hash, format, media_type, content FROM spec_documents WHERE hash = ?1",
        )?
        .query_row([hash.to_ascii_lowercase()], |r| {
            Ok(SpecDocument {
                hash: r.get(0)?,
                format: r.get(1)?,
                media_type: r.get(2)?,
                content: r.get(3)?,
            })
        })
        .optional()?)
}
