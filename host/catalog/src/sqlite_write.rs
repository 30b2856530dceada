//! The SQLite store's write path: syncing a source's batch in one
//! transaction, indexing each entity (filter index, relations, FTS5) and
//! orphaning what a source stopped reporting.
//!
//! Unchanged content is detected by hash and not written at all.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::changelog::BreakingChanges;
use crate::entity::{Entity, ORPHAN};
use crate::search::{OperationRow, TAG_SEPARATOR, operations_text};
use crate::store::{CatalogError, OrphanPolicy, Rejected, SourceSync, SyncOutcome};
use crate::versions::{PublishOutcome, VersionDraft};
use crate::{relations, sqlite_versions};

/// Longest value kept in the filter index; longer ones only record that the
/// field exists (as Backstage does).
const MAX_INDEXED_VALUE: usize = 200;

struct Existing {
    id: i64,
    hash: String,
    source: String,
    orphaned: bool,
    uid: String,
}

/// Writes one source's batch; see [`crate::CatalogStore::sync_source`].
pub(crate) fn sync(
    conn: &mut rusqlite::Connection,
    sync: &SourceSync,
    policy: BreakingChanges,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SyncOutcome, CatalogError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO catalog_sources (source, id, type, target, synced_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         ON CONFLICT (source) DO UPDATE SET type = excluded.type, target = excluded.target,
             synced_at = excluded.synced_at",
        params![
            sync.source,
            new_uid(&sync.source),
            sync.source_type,
            sync.target
        ],
    )?;
    let mut out = SyncOutcome::default();
    let operations: HashMap<String, &Vec<OperationRow>> = sync
        .operations
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    let versions: HashMap<String, &Vec<VersionDraft>> = sync
        .versions
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    let total = sync.entities.len();
    let mut seen: HashSet<String> = HashSet::with_capacity(total);
    for (index, (entity, location)) in sync.entities.iter().enumerate() {
        let entity_ref = entity.entity_ref();
        let key = entity_ref.key();
        let shown = entity_ref.to_string();
        if !seen.insert(key.clone()) {
            out.rejected.push(Rejected {
                index,
                entity: shown,
                reason: "the same entity appears twice in this batch".into(),
            });
            continue;
        }
        let hash = content_hash(entity, &sync.source, location);
        let existing = tx
            .prepare_cached(
                "SELECT id, content_hash, source, orphaned, uid FROM entities WHERE ref_key = ?1",
            )?
            .query_row([&key], |r| {
                Ok(Existing {
                    id: r.get(0)?,
                    hash: r.get(1)?,
                    source: r.get(2)?,
                    orphaned: r.get(3)?,
                    uid: r.get(4)?,
                })
            })
            .optional()?;
        let drafts = versions.get(&key);
        // A refused version takes its entity's write back with it.
        let label = shown.clone();
        if drafts.is_some() {
            tx.execute_batch("SAVEPOINT publish_entity")?;
        }
        // The newest version's operations are written below, once its versions are.
        let ops = match drafts {
            Some(_) => None,
            None => operations.get(&key).map(|o| o.as_slice()),
        };
        let written = match existing {
            Some(e) if e.source != sync.source && !e.orphaned => {
                out.rejected.push(Rejected {
                    index,
                    entity: shown,
                    reason: format!("the entity is already reported by source {}", e.source),
                });
                None
            }
            Some(e) if e.hash == hash && !e.orphaned => {
                out.unchanged.push(shown);
                Some((e.id, false))
            }
            Some(e) => {
                write_entity(
                    &tx,
                    Some(e.id),
                    entity,
                    &e.uid,
                    &hash,
                    &sync.source,
                    location,
                    ops,
                )?;
                out.changed.push(shown);
                Some((e.id, true))
            }
            None => {
                let id = write_entity(
                    &tx,
                    None,
                    entity,
                    &new_uid(&key),
                    &hash,
                    &sync.source,
                    location,
                    ops,
                )?;
                out.added.push(shown);
                Some((id, true))
            }
        };
        if let (Some((id, written)), Some(drafts)) = (written, drafts) {
            match sqlite_versions::publish_all(&tx, id, drafts, &sync.source, location, policy) {
                Ok(published) => {
                    if published || written {
                        index_latest_version(&tx, id)?;
                    }
                    // Versions new to an entity stored before they were kept (an older database).
                    if published && !written {
                        out.changed.extend(out.unchanged.pop());
                    }
                }
                Err(CatalogError::Invalid(reason)) => {
                    tx.execute_batch("ROLLBACK TO publish_entity")?;
                    for listed in [&mut out.added, &mut out.changed, &mut out.unchanged] {
                        if listed.last() == Some(&label) {
                            listed.pop();
                        }
                    }
                    out.rejected.push(Rejected {
                        index,
                        entity: label,
                        reason,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        if drafts.is_some() {
            tx.execute_batch("RELEASE publish_entity")?;
        }
        if (index + 1) % 1000 == 0 {
            progress(index + 1, total);
        }
    }
    progress(total, total);
    if sync.complete {
        let keep: HashSet<String> = sync.keep.iter().map(|k| k.to_lowercase()).collect();
        let keep_locations: HashSet<&str> =
            sync.keep_locations.iter().map(String::as_str).collect();
        let gone: Vec<(i64, String, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, ref_key, entity_ref, location FROM entities WHERE source = ?1 AND orphaned = 0",
            )?;
            let rows = stmt.query_map([&sync.source], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
            })?;
            let mut gone = Vec::new();
            for row in rows {
                let (id, key, shown, location): (i64, String, String, String) = row?;
                if !seen.contains(&key)
                    && !keep.contains(&key)
                    && !keep_locations.contains(location.as_str())
                {
                    gone.push((id, key, shown));
                }
            }
            gone
        };
        for (id, _, shown) in gone {
            retire(&tx, id, sync.orphans)?;
            match sync.orphans {
                OrphanPolicy::Keep => out.orphaned.push(shown),
                OrphanPolicy::Delete => out.deleted.push(shown),
            }
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Forgets a source, retiring its entities.
pub(crate) fn remove_source(
    conn: &mut rusqlite::Connection,
    source: &str,
    orphans: OrphanPolicy,
) -> Result<SyncOutcome, CatalogError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if tx.execute("DELETE FROM catalog_sources WHERE source = ?1", [source])? == 0 {
        return Err(CatalogError::NotFound(format!("source {source}")));
    }
    let rows: Vec<(i64, String)> = tx
        .prepare_cached("SELECT id, entity_ref FROM entities WHERE source = ?1 AND orphaned = 0")?
        .query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = SyncOutcome::default();
    for (id, shown) in rows {
        retire(&tx, id, orphans)?;
        match orphans {
            OrphanPolicy::Keep => out.orphaned.push(shown),
            OrphanPolicy::Delete => out.deleted.push(shown),
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Replaces an entity's operation index and its search text.
pub(crate) fn set_operations(
    conn: &mut rusqlite::Connection,
    key: &str,
    ops: &[OperationRow],
) -> Result<(), CatalogError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id: i64 = tx
        .query_row("SELECT id FROM entities WHERE ref_key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| CatalogError::NotFound(format!("entity {key}")))?;
    write_operations(&tx, id, ops)?;
    tx.commit()?;
    Ok(())
}

/// Publishes one version of an API entity and re-indexes its operations.
pub(crate) fn publish_version(
    conn: &mut rusqlite::Connection,
    key: &str,
    draft: &VersionDraft,
    policy: BreakingChanges,
) -> Result<PublishOutcome, CatalogError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (id, kind, source, location): (i64, String, String, String) = tx
        .query_row(
            "SELECT id, kind, source, location FROM entities WHERE ref_key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or_else(|| CatalogError::NotFound(format!("entity {key}")))?;
    if kind != "api" {
        return Err(CatalogError::Invalid(format!(
            "{key} is not an API: only APIs have versions"
        )));
    }
    let outcome = sqlite_versions::publish(&tx, id, draft, &source, &location, policy)?;
    if outcome != PublishOutcome::Unchanged {
        index_latest_version(&tx, id)?;
    }
    tx.commit()?;
    Ok(outcome)
}

/// Makes the operation index (and its search text) that of the newest version.
fn index_latest_version(tx: &Transaction<'_>, id: i64) -> Result<(), CatalogError> {
    if let Some(ops) = sqlite_versions::latest_operations(tx, id)? {
        write_operations(tx, id, &ops)?;
    }
    Ok(())
}

fn write_operations(
    tx: &Transaction<'_>,
    id: i64,
    ops: &[OperationRow],
) -> Result<(), CatalogError> {
    write_operation_rows(tx, id, ops)?;
    tx.prepare_cached("UPDATE entities_fts SET operations = ?1 WHERE rowid = ?2")?
        .execute(params![operations_text(ops), id])?;
    Ok(())
}

fn write_operation_rows(
    tx: &Transaction<'_>,
    id: i64,
    ops: &[OperationRow],
) -> Result<(), CatalogError> {
    tx.prepare_cached("DELETE FROM api_operations WHERE entity_id = ?1")?
        .execute([id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO api_operations (entity_id, position, method, path, operation_id, summary, tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (position, op) in ops.iter().enumerate() {
        insert.execute(params![
            id,
            position as i64,
            op.method,
            op.path,
            op.operation_id,
            op.summary,
            serde_json::to_string(&op.tags).expect("strings serialise"),
        ])?;
    }
    Ok(())
}

fn retire(tx: &Transaction<'_>, id: i64, orphans: OrphanPolicy) -> Result<(), CatalogError> {
    match orphans {
        OrphanPolicy::Delete => {
            tx.execute("DELETE FROM entities WHERE id = ?1", [id])?;
        }
        OrphanPolicy::Keep => {
            let (body, source): (String, String) = tx.query_row(
                "SELECT body, source FROM entities WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                let annotations = metadata
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(a) = annotations.as_object_mut() {
                    a.insert(ORPHAN.into(), Value::String("true".into()));
                }
                let etag = hex::encode(&Sha256::digest(body.to_string().as_bytes())[..10]);
                body["metadata"]["etag"] = Value::String(etag.clone());
                tx.execute(
                    "UPDATE entities SET orphaned = 1, body = ?1, etag = ?2,
                         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?3",
                    params![body.to_string(), etag, id],
                )?;
                index_fields(tx, id, &body, &source, true)?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_entity(
    tx: &Transaction<'_>,
    id: Option<i64>,
    entity: &Entity,
    uid: &str,
    hash: &str,
    source: &str,
    location: &str,
    ops: Option<&[OperationRow]>,
) -> Result<i64, CatalogError> {
    let entity_ref = entity.entity_ref();
    let mut stored = entity.clone();
    stored.relations.clear();
    stored.metadata.uid = Some(uid.to_owned());
    stored.metadata.etag = Some(hash[..20].to_owned());
    let body = stored.to_json();
    let body_text = body.to_string();
    let existed = id.is_some();
    let id = match id {
        Some(id) => {
            tx.prepare_cached(
                "UPDATE entities SET entity_ref = ?1, name = ?2, etag = ?3, content_hash = ?4,
                     body = ?5, source = ?6, location = ?7, orphaned = 0,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE id = ?8",
            )?
            .execute(params![
                entity_ref.to_string(),
                entity_ref.name,
                &hash[..20],
                hash,
                body_text,
                source,
                location,
                id
            ])?;
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO entities (ref_key, entity_ref, kind, namespace, name, uid, etag,
                                       content_hash, body, source, location)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                entity_ref.key(),
                entity_ref.to_string(),
                entity_ref.kind.to_lowercase(),
                entity_ref.namespace.to_lowercase(),
                entity_ref.name,
                uid,
                &hash[..20],
                hash,
                body_text,
                source,
                location
            ])?;
            tx.last_insert_rowid()
        }
    };
    index_fields(tx, id, &body, source, existed)?;
    if existed {
        tx.prepare_cached("DELETE FROM entity_relations WHERE originator = ?1")?
            .execute([id])?;
    }
    let declared = relations::declared(entity).unwrap_or_default();
    let mut insert = tx.prepare_cached(
        "INSERT INTO entity_relations (originator, source_key, type, type_key, target_key, target_ref)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for r in &declared {
        insert.execute(params![
            id,
            r.source.key(),
            r.relation_type,
            r.relation_type.to_lowercase(),
            r.target.key(),
            r.target.to_string()
        ])?;
    }
    if let Some(ops) = ops {
        write_operation_rows(tx, id, ops)?;
    }
    index_text(tx, id, entity, &declared, source, existed, ops)?;
    Ok(id)
}

/// Rebuilds the filter index rows of an entity from its stored JSON.
fn index_fields(
    tx: &Transaction<'_>,
    id: i64,
    body: &Value,
    source: &str,
    existed: bool,
) -> Result<(), CatalogError> {
    if existed {
        tx.prepare_cached("DELETE FROM entity_search WHERE entity_id = ?1")?
            .execute([id])?;
    }
    let mut rows = BTreeSet::new();
    flatten("", body, &mut rows);
    rows.insert((
        "source".to_owned(),
        Some(source.to_lowercase()),
        Some(source.to_owned()),
    ));
    let mut insert = tx.prepare_cached(
        "INSERT INTO entity_search (entity_id, key, value, original) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (key, value, original) in rows {
        // The original is only kept where lowercasing changed it.
        let original = original.filter(|o| Some(o) != value.as_ref());
        insert.execute(params![id, key, value, original])?;
    }
    Ok(())
}

/// Rebuilds the full-text and facet rows of an entity, keeping its
/// operation index.
fn index_text(
    tx: &Transaction<'_>,
    id: i64,
    entity: &Entity,
    declared: &[relations::DeclaredRelation],
    source: &str,
    existed: bool,
    ops: Option<&[OperationRow]>,
) -> Result<(), CatalogError> {
    let mut operations = ops.map(operations_text).unwrap_or_default();
    if existed {
        tx.prepare_cached("DELETE FROM entities_fts WHERE rowid = ?1")?
            .execute([id])?;
    }
    if existed && ops.is_none() {
        let ops: Vec<OperationRow> = tx
            .prepare_cached(
                "SELECT method, path, operation_id, summary, tags FROM api_operations
                 WHERE entity_id = ?1 ORDER BY position",
            )?
            .query_map([id], OperationRow::from_row)?
            .collect::<Result<_, _>>()?;
        operations = operations_text(&ops);
    }
    let me = entity.entity_ref();
    let owner: Vec<String> = declared
        .iter()
        .filter(|r| r.relation_type == "ownedBy" && r.source == me)
        .map(|r| format!("{} {}", r.target, r.target.name))
        .collect();
    tx.prepare_cached(
        "INSERT INTO entities_fts (rowid, name, title, description, tags, owner, operations)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        entity.metadata.name,
        entity.metadata.title,
        entity.metadata.description,
        entity.metadata.tags.join(" "),
        owner.join(" "),
        operations
    ])?;
    let owner_ref = declared
        .iter()
        .find(|r| r.relation_type == "ownedBy" && r.source == me)
        .map(|r| r.target.to_string());
    let tags: String = entity
        .metadata
        .tags
        .iter()
        .map(|t| format!("{TAG_SEPARATOR}{}", t.to_lowercase()))
        .chain(std::iter::once(TAG_SEPARATOR.to_string()))
        .collect();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO entity_facets
             (id, kind, spec_type, lifecycle, owner, source, tags, name_lc, title_lc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        entity.kind,
        entity.spec_type(),
        entity.lifecycle(),
        owner_ref,
        source,
        tags,
        entity.metadata.name.to_lowercase(),
        entity.metadata.title.as_ref().map(|t| t.to_lowercase()),
    ])?;
    Ok(())
}

type IndexRow = (String, Option<String>, Option<String>);

/// Backstage's search rows: every leaf under its lowercased dotted path, list
/// items under their list's path, long values only as "exists".
fn flatten(path: &str, value: &Value, out: &mut BTreeSet<IndexRow>) {
    let leaf = |text: String, out: &mut BTreeSet<IndexRow>| {
        if text.len() <= MAX_INDEXED_VALUE {
            out.insert((path.to_owned(), Some(text.to_lowercase()), Some(text)));
        } else {
            out.insert((path.to_owned(), None, None));
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if path.is_empty() && k == "relations" {
                    continue;
                }
                let child = if path.is_empty() {
                    k.to_lowercase()
                } else {
                    format!("{path}.{}", k.to_lowercase())
                };
                flatten(&child, v, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(path, item, out);
            }
        }
        Value::Null => {
            out.insert((path.to_owned(), None, None));
        }
        Value::String(s) => leaf(s.clone(), out),
        other => leaf(other.to_string(), out),
    }
}

fn content_hash(entity: &Entity, source: &str, location: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(entity.content_json().to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(source.as_bytes());
    hasher.update(b"\n");
    hasher.update(location.as_bytes());
    hex::encode(hasher.finalize())
}

/// A random-enough UUID (v4 layout) for a new entity or source.
fn new_uid(seed: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = Sha256::new();
    hasher.update(seed.as_bytes());
    hasher.update(nanos.to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let mut b: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattening_follows_backstage_search_rows() {
        let mut rows = BTreeSet::new();
        let long = "x".repeat(MAX_INDEXED_VALUE + 1);
        flatten(
            "",
            &json!({"kind": "API", "metadata": {"tags": ["a", "B"], "annotations": {"Backstage.io/X": "Y"}},
                    "spec": {"definition": long, "n": 3, "none": null}, "relations": [{"type": "x"}]}),
            &mut rows,
        );
        let rows: Vec<String> = rows
            .into_iter()
            .map(|(k, v, _)| format!("{k}={}", v.unwrap_or_else(|| "-".into())))
            .collect();
        assert_eq!(
            rows,
            [
                "kind=api",
                "metadata.annotations.backstage.io/x=y",
                "metadata.tags=a",
                "metadata.tags=b",
                "spec.definition=-",
                "spec.n=3",
                "spec.none=-",
            ]
        );
    }

    #[test]
    fn uids_look_like_v4_uuids_and_differ() {
        let a = new_uid("x");
        let b = new_uid("x");
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
