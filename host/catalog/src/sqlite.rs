//! The SQLite implementation of [`CatalogStore`]: writes go through the
//! portal database's connection, reads through a second connection so that
//! WAL lets them proceed while an import is writing.
//!
//! All queries are prepared once and cached per connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::audience::Audience;
use crate::changelog::{BreakingChanges, ChangelogEntry, Deprecation};
use crate::db::{Database, DbError};
use crate::entity::Relation;
use crate::entity_ref::EntityRef;
use crate::filter::{EntityFilter, Order};
use crate::read_cache::ReadCache;
use crate::search::{self, OperationRow, SearchQuery, SearchResults};
use crate::store::{
    CatalogError, CatalogStore, Cursor, EntityJson, EntityPage, FacetCount, Facets, Fields,
    FullTextFilter, ListQuery, OrphanPolicy, PageQuery, SourceInfo, SourceSync, StoredEntity,
    SyncOutcome,
};
use crate::validate::parse_entity;
use crate::versions::{ApiVersion, PublishOutcome, SpecDocument, VersionDetail, VersionDraft};
use crate::{sqlite_changelog, sqlite_versions, sqlite_write};

/// The catalogue in the portal's SQLite database.
pub struct SqliteStore {
    db: Database,
    /// Read-only connections: WAL lets them read beside each other and beside the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Recent search results.
    searches: ReadCache<SearchQuery, SearchResults>,
    /// Recent listings (`/entities`), by query.
    listings: ReadCache<String, Vec<EntityJson>>,
    /// What publishing breaking changes without a major version bump does.
    breaking_changes: BreakingChanges,
}

/// How many distinct searches and listings are remembered.
const CACHE_ENTRIES: usize = 512;
/// About how much memory the listings cache may hold.
const LISTINGS_CACHE_BYTES: usize = 32 * 1024 * 1024;

impl SqliteStore {
    /// A store on `db` (already migrated by [`Database::open`]).
    pub fn new(db: &Database) -> Result<SqliteStore, DbError> {
        let fail = |e: rusqlite::Error| DbError::Open {
            path: db.path().to_owned(),
            message: e.to_string(),
        };
        let open_reader = || -> rusqlite::Result<Connection> {
            let reader = Connection::open_with_flags(
                db.path(),
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            reader.busy_timeout(std::time::Duration::from_secs(5))?;
            reader.set_prepared_statement_cache_capacity(64);
            reader.pragma_update(None, "cache_size", -16384)?;
            Ok(reader)
        };
        // One reader per core keeps every core busy under concurrent reads.
        let count = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        let readers = (0..count)
            .map(|_| open_reader().map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        // A bigger page cache keeps the index inserts of large imports in memory.
        db.conn()
            .pragma_update(None, "cache_size", -65536)
            .map_err(fail)?;
        Ok(SqliteStore {
            db: db.clone(),
            readers,
            next_reader: AtomicUsize::new(0),
            searches: ReadCache::new(CACHE_ENTRIES, usize::MAX),
            listings: ReadCache::new(CACHE_ENTRIES, LISTINGS_CACHE_BYTES),
            breaking_changes: BreakingChanges::default(),
        })
    }

    /// The store with `[catalog] breaking_changes` applied to every publication.
    pub fn with_breaking_changes(mut self, policy: BreakingChanges) -> SqliteStore {
        self.breaking_changes = policy;
        self
    }

    /// Runs `f` on the writer with the API's row id; `NotFound` for an unknown API.
    fn with_api<T>(
        &self,
        api: &EntityRef,
        f: impl FnOnce(&rusqlite::Connection, i64) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        let conn = self.db.conn();
        let id = sqlite_versions::entity_id(&conn, &api.key())?
            .ok_or_else(|| CatalogError::NotFound(format!("entity {}", api.key())))?;
        let out = f(&conn, id)?;
        drop(conn);
        self.bump_generation()?;
        Ok(out)
    }

    /// Marks every cached read result as stale (after a committed write).
    fn bump_generation(&self) -> Result<(), CatalogError> {
        self.db.conn().execute(
            "UPDATE catalog_generation SET value = value + 1 WHERE id = 1",
            [],
        )?;
        Ok(())
    }

    /// A free reader, or the next one in turn when all are busy.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        if let Some(free) = self.readers.iter().find_map(|r| r.try_lock().ok()) {
            return free;
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[turn].lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CatalogStore for SqliteStore {
    fn sync_source(
        &self,
        sync: &SourceSync,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<SyncOutcome, CatalogError> {
        let outcome =
            sqlite_write::sync(&mut self.db.conn(), sync, self.breaking_changes, progress)?;
        self.bump_generation()?;
        Ok(outcome)
    }

    fn remove_source(
        &self,
        source: &str,
        orphans: OrphanPolicy,
    ) -> Result<SyncOutcome, CatalogError> {
        let outcome = sqlite_write::remove_source(&mut self.db.conn(), source, orphans)?;
        self.bump_generation()?;
        Ok(outcome)
    }

    fn sources(&self) -> Result<Vec<SourceInfo>, CatalogError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT s.id, s.source, s.type, s.target, s.synced_at,
                    (SELECT count(*) FROM entities e WHERE e.source = s.source)
             FROM catalog_sources s ORDER BY s.source",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceInfo {
                id: r.get(0)?,
                source: r.get(1)?,
                source_type: r.get(2)?,
                target: r.get(3)?,
                synced_at: r.get(4)?,
                entities: r.get::<_, i64>(5)? as usize,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_entity(&self, entity: &EntityRef) -> Result<bool, CatalogError> {
        let n = self
            .db
            .conn()
            .execute("DELETE FROM entities WHERE ref_key = ?1", [entity.key()])?;
        self.bump_generation()?;
        Ok(n > 0)
    }

    fn entity(&self, entity: &EntityRef) -> Result<Option<StoredEntity>, CatalogError> {
        stored_entity(
            &self.reader(),
            "ref_key",
            &entity.key(),
            &Audience::member(),
        )
    }

    fn entity_by_uid(&self, uid: &str) -> Result<Option<StoredEntity>, CatalogError> {
        stored_entity(&self.reader(), "uid", uid, &Audience::member())
    }

    fn visible_entity(
        &self,
        entity: &EntityRef,
        audience: &Audience,
    ) -> Result<Option<StoredEntity>, CatalogError> {
        Ok(
            stored_entity(&self.reader(), "ref_key", &entity.key(), audience)?
                .filter(|stored| audience.sees(&stored.entity.metadata.annotations)),
        )
    }

    fn entities_by_refs(
        &self,
        refs: &[String],
        fields: &Fields,
        audience: &Audience,
    ) -> Result<Vec<Option<EntityJson>>, CatalogError> {
        let keys = refs
            .iter()
            .map(|r| {
                EntityRef::parse_full(r)
                    .map(|r| r.key())
                    .map_err(|e| CatalogError::Invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let conn = self.reader();
        let mut found = Vec::new();
        for chunk in keys.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut params: Vec<SqlValue> =
                chunk.iter().map(|k| SqlValue::Text(k.clone())).collect();
            let visible = audience.to_sql("e.id", &mut params);
            let sql = format!(
                "SELECT e.ref_key, e.body FROM entities e WHERE e.ref_key IN ({marks}) AND {visible}"
            );
            let rows = load_rows(&conn, &sql, params)?;
            found.extend(rows.into_iter().map(|(k, _, body)| (k, body)));
        }
        let mut by_key: HashMap<String, EntityJson> = finish(&conn, found, fields, audience)?
            .into_iter()
            .collect();
        Ok(keys.iter().map(|k| by_key.remove(k)).collect())
    }

    fn list_entities(&self, query: &ListQuery) -> Result<Vec<EntityJson>, CatalogError> {
        let conn = self.reader();
        let generation = generation(&conn)?;
        let key = format!("{query:?}");
        if let Some(items) = self.listings.get(&key, generation) {
            return Ok(items);
        }
        let mut params = Vec::new();
        let order = query.order.first();
        let sort = Order::sort_sql(order, &mut params);
        let filter = query.filter.to_sql(&mut params);
        let dir = if order.is_some_and(|o| o.descending) {
            "DESC"
        } else {
            "ASC"
        };
        params.push(SqlValue::Integer(query.limit.map_or(-1, |l| l as i64)));
        params.push(SqlValue::Integer(query.offset as i64));
        let sql = format!(
            "SELECT e.ref_key, {sort} AS sv, e.body FROM entities e WHERE {filter}
             ORDER BY sv {dir}, e.ref_key {dir} LIMIT ? OFFSET ?"
        );
        let rows = load_rows(&conn, &sql, params)?
            .into_iter()
            .map(|(k, _, body)| (k, body))
            .collect();
        let items: Vec<EntityJson> = finish(&conn, rows, &query.fields, &query.filter.audience)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let bytes = items.iter().map(|i| i.get().len()).sum();
        self.listings.put(key, generation, items.clone(), bytes);
        Ok(items)
    }

    fn query_entities(&self, query: &PageQuery) -> Result<EntityPage, CatalogError> {
        let conn = self.reader();
        let (state, limit, fields, audience) = match query {
            PageQuery::First {
                filter,
                order,
                full_text,
                limit,
                fields,
            } => (
                Cursor {
                    filter: filter.raw().to_vec(),
                    order: order.clone(),
                    full_text: full_text.clone().filter(|f| !f.term.trim().is_empty()),
                    after: (String::new(), String::new()),
                    backwards: false,
                    total: usize::MAX,
                },
                *limit,
                fields,
                filter.audience.clone(),
            ),
            PageQuery::Cursor {
                cursor,
                limit,
                fields,
                audience,
            } => (Cursor::decode(cursor)?, *limit, fields, audience.clone()),
        };
        let first_page = state.total == usize::MAX;
        let filter = EntityFilter::parse(&state.filter)?.visible_to(audience);
        let order = state.order.as_ref();
        let descending = order.is_some_and(|o| o.descending);

        let mut where_params = Vec::new();
        let mut where_sql = filter.to_sql(&mut where_params);
        if let Some(ft) = &state.full_text {
            where_sql = format!("{where_sql} AND {}", full_text_sql(ft, &mut where_params));
        }
        let total = if first_page {
            conn.prepare_cached(&format!(
                "SELECT count(*) FROM entities e WHERE {where_sql}"
            ))?
            .query_row(params_from_iter(where_params.iter()), |r| {
                r.get::<_, i64>(0)
            })? as usize
        } else {
            state.total
        };

        let mut params = Vec::new();
        let sort = Order::sort_sql(order, &mut params);
        params.extend(where_params);
        // Walking backwards flips the comparison and the order, then the page.
        let forward = descending == state.backwards;
        let (cmp, dir) = if forward { (">", "ASC") } else { ("<", "DESC") };
        let mut keyset = String::new();
        if !first_page {
            keyset = format!(" AND (sv {cmp} ? OR (sv = ? AND e.ref_key {cmp} ?))");
            params.push(SqlValue::Text(state.after.0.clone()));
            params.push(SqlValue::Text(state.after.0.clone()));
            params.push(SqlValue::Text(state.after.1.clone()));
        }
        params.push(SqlValue::Integer(limit as i64 + 1));
        let sql = format!(
            "SELECT e.ref_key, {sort} AS sv, e.body FROM entities e WHERE {where_sql}{keyset}
             ORDER BY sv {dir}, e.ref_key {dir} LIMIT ?"
        );
        let mut rows = load_rows(&conn, &sql, params)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        if state.backwards {
            rows.reverse();
        }
        let cursor_at = |row: &(String, String, String), backwards: bool| {
            Cursor {
                after: (row.1.clone(), row.0.clone()),
                backwards,
                total,
                ..state.clone()
            }
            .encode()
        };
        let has_next = if state.backwards { !first_page } else { more };
        let has_prev = if state.backwards { more } else { !first_page };
        let next_cursor = rows
            .last()
            .filter(|_| has_next)
            .map(|r| cursor_at(r, false));
        let prev_cursor = rows
            .first()
            .filter(|_| has_prev)
            .map(|r| cursor_at(r, true));
        let rows = rows.into_iter().map(|(k, _, body)| (k, body)).collect();
        let items = finish(&conn, rows, fields, &filter.audience)?;
        Ok(EntityPage {
            items: items.into_iter().map(|(_, v)| v).collect(),
            total_items: total,
            next_cursor,
            prev_cursor,
        })
    }

    fn facets(&self, filter: &EntityFilter, facets: &[String]) -> Result<Facets, CatalogError> {
        let conn = self.reader();
        let mut out = Facets::new();
        for facet in facets {
            let key = facet.to_lowercase();
            let mut params = Vec::new();
            let sql = match key.strip_prefix("relations.") {
                Some(relation) => {
                    params.push(SqlValue::Text(relation.to_owned()));
                    let filter = filter.to_sql(&mut params);
                    format!(
                        "SELECT min(r.target_ref), count(DISTINCT r.source_key) FROM entity_relations r
                         JOIN entities e ON e.ref_key = r.source_key
                         WHERE r.type_key = ? AND {filter}
                         GROUP BY r.target_key ORDER BY 2 DESC, 1"
                    )
                }
                None => {
                    params.push(SqlValue::Text(key));
                    let filter = filter.to_sql(&mut params);
                    format!(
                        "SELECT min(coalesce(s.original, s.value)), count(DISTINCT s.entity_id) FROM entity_search s
                         JOIN entities e ON e.id = s.entity_id
                         WHERE s.key = ? AND s.value IS NOT NULL AND {filter}
                         GROUP BY s.value ORDER BY 2 DESC, 1"
                    )
                }
            };
            let mut stmt = conn.prepare_cached(&sql)?;
            let counts = stmt
                .query_map(params_from_iter(params.iter()), |r| {
                    Ok(FacetCount {
                        value: r.get(0)?,
                        count: r.get::<_, i64>(1)? as usize,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.insert(facet.clone(), counts);
        }
        Ok(out)
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, CatalogError> {
        let reader = self.reader();
        let generation = generation(&reader)?;
        if let Some(results) = self.searches.get(query, generation) {
            return Ok(results);
        }
        let results = search::run(&reader, query)?;
        drop(reader);
        // Searches are small: their count bounds the cache.
        self.searches
            .put(query.clone(), generation, results.clone(), 0);
        Ok(results)
    }

    fn set_operations(&self, entity: &EntityRef, ops: &[OperationRow]) -> Result<(), CatalogError> {
        sqlite_write::set_operations(&mut self.db.conn(), &entity.key(), ops)?;
        self.bump_generation()
    }

    fn operations(&self, entity: &EntityRef) -> Result<Vec<OperationRow>, CatalogError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT o.method, o.path, o.operation_id, o.summary, o.tags
             FROM api_operations o JOIN entities e ON e.id = o.entity_id
             WHERE e.ref_key = ?1 ORDER BY o.position",
        )?;
        let rows = stmt.query_map([entity.key()], OperationRow::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn publish_version(
        &self,
        api: &EntityRef,
        draft: &VersionDraft,
    ) -> Result<PublishOutcome, CatalogError> {
        let outcome = sqlite_write::publish_version(
            &mut self.db.conn(),
            &api.key(),
            draft,
            self.breaking_changes,
        )?;
        if outcome != PublishOutcome::Unchanged {
            self.bump_generation()?;
        }
        Ok(outcome)
    }

    fn versions(&self, api: &EntityRef) -> Result<Vec<ApiVersion>, CatalogError> {
        let conn = self.reader();
        let Some(id) = sqlite_versions::entity_id(&conn, &api.key())? else {
            return Ok(Vec::new());
        };
        let versions = sqlite_versions::versions(&conn, id)?;
        Ok(versions.into_iter().map(|(_, v)| v).collect())
    }

    fn version(
        &self,
        api: &EntityRef,
        version: &str,
    ) -> Result<Option<VersionDetail>, CatalogError> {
        let conn = self.reader();
        match sqlite_versions::entity_id(&conn, &api.key())? {
            Some(id) => sqlite_versions::version(&conn, id, version),
            None => Ok(None),
        }
    }

    fn spec_document(&self, hash: &str) -> Result<Option<SpecDocument>, CatalogError> {
        sqlite_versions::document(&self.reader(), hash)
    }

    fn changelog(&self, api: &EntityRef) -> Result<Vec<ChangelogEntry>, CatalogError> {
        let conn = self.reader();
        match sqlite_versions::entity_id(&conn, &api.key())? {
            Some(id) => sqlite_changelog::entries(&conn, id),
            None => Ok(Vec::new()),
        }
    }

    fn recent_changelog(
        &self,
        audience: &Audience,
        limit: usize,
    ) -> Result<Vec<ChangelogEntry>, CatalogError> {
        sqlite_changelog::recent(&self.reader(), audience, limit)
    }

    fn edit_changelog(
        &self,
        api: &EntityRef,
        version: &str,
        summary: Option<&str>,
        by: &str,
    ) -> Result<ChangelogEntry, CatalogError> {
        self.with_api(api, |conn, id| {
            sqlite_changelog::edit(conn, id, version, summary, by)
        })
    }

    fn deprecate_version(
        &self,
        api: &EntityRef,
        version: &str,
        deprecation: &Deprecation,
        by: &str,
    ) -> Result<(), CatalogError> {
        self.with_api(api, |conn, id| {
            sqlite_changelog::deprecate(conn, id, version, deprecation, by)
        })
    }

    fn undeprecate_version(&self, api: &EntityRef, version: &str) -> Result<bool, CatalogError> {
        self.with_api(api, |conn, id| {
            sqlite_changelog::undeprecate(conn, id, version)
        })
    }
}

/// The catalogue's write generation, read before the data it guards: a write
/// landing in between bumps it after committing, so an answer is never
/// cached as fresher than it is.
fn generation(conn: &Connection) -> Result<i64, CatalogError> {
    Ok(conn.query_row("SELECT value FROM catalog_generation", [], |r| r.get(0))?)
}

fn full_text_sql(ft: &FullTextFilter, params: &mut Vec<SqlValue>) -> String {
    if ft.fields.is_empty() {
        match search::match_expression(&ft.term) {
            Some(m) => {
                params.push(SqlValue::Text(m));
                "e.id IN (SELECT rowid FROM entities_fts WHERE entities_fts MATCH ?)".into()
            }
            None => "1".into(),
        }
    } else {
        let escaped = ft
            .term
            .trim()
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let marks: Vec<&str> = ft
            .fields
            .iter()
            .map(|f| {
                params.push(SqlValue::Text(f.to_lowercase()));
                "?"
            })
            .collect();
        params.push(SqlValue::Text(format!("%{escaped}%")));
        format!(
            "e.id IN (SELECT entity_id FROM entity_search WHERE key IN ({}) AND value LIKE ? ESCAPE '\\')",
            marks.join(",")
        )
    }
}

/// Rows of (ref_key, sort value, body) from a query selecting those three
/// (or ref_key and body only).
fn load_rows(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<Vec<(String, String, String)>, CatalogError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let rows = stmt.query_map(params_from_iter(params.iter()), |r| {
        let key: String = r.get(0)?;
        let (sort, body): (String, String) = if columns == 3 {
            (r.get(1)?, r.get(2)?)
        } else {
            (String::new(), r.get(1)?)
        };
        Ok((key, sort, body))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Turns stored bodies into answers: relations added (when wanted), fields selected.
///
/// Without a field selection the stored JSON is passed through untouched and
/// the relations are spliced in as text: parsing and re-serialising every
/// entity of a page was most of the cost of a listing.
fn finish(
    conn: &Connection,
    rows: Vec<(String, String)>,
    fields: &Fields,
    audience: &Audience,
) -> Result<Vec<(String, EntityJson)>, CatalogError> {
    let mut relations = if fields.wants_relations() {
        let keys: Vec<String> = rows.iter().map(|(k, _)| k.clone()).collect();
        load_relations(conn, &keys, audience)?
    } else {
        HashMap::new()
    };
    let invalid = |key: &str, e: serde_json::Error| {
        CatalogError::Invalid(format!("stored entity {key} is not JSON: {e}"))
    };
    rows.into_iter()
        .map(|(key, body)| {
            let relations = relations.remove(&key).unwrap_or_default();
            let json = if fields.is_all() {
                RawValue::from_string(with_relations(body, &relations))
            } else {
                let mut value: Value = serde_json::from_str(&body).map_err(|e| invalid(&key, e))?;
                if let (false, Some(obj)) = (relations.is_empty(), value.as_object_mut()) {
                    obj.insert("relations".into(), relations_json(&relations));
                }
                serde_json::value::to_raw_value(&fields.project(value))
            };
            json.map(|json| (key.clone(), json))
                .map_err(|e| invalid(&key, e))
        })
        .collect()
}

/// A stored entity body (a JSON object without relations) with `relations` appended.
fn with_relations(mut body: String, relations: &[Relation]) -> String {
    if relations.is_empty() || !body.ends_with('}') {
        return body;
    }
    body.pop();
    if !body.ends_with('{') {
        body.push(',');
    }
    body.push_str("\"relations\":");
    body.push_str(&relations_json(relations).to_string());
    body.push('}');
    body
}

fn relations_json(relations: &[Relation]) -> Value {
    relations
        .iter()
        .map(|r| json!({"type": r.relation_type, "targetRef": r.target.to_string()}))
        .collect()
}

/// Distinct relations starting at each of `keys`, by key; a relation to an
/// entity the audience may not see is left out (its name would tell).
fn load_relations(
    conn: &Connection,
    keys: &[String],
    audience: &Audience,
) -> Result<HashMap<String, Vec<Relation>>, CatalogError> {
    let mut out: HashMap<String, Vec<Relation>> = HashMap::new();
    for chunk in keys.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut params: Vec<SqlValue> = chunk.iter().map(|k| SqlValue::Text(k.clone())).collect();
        let hidden = if audience.member {
            String::new()
        } else {
            format!(
                " AND NOT EXISTS (SELECT 1 FROM entities t WHERE t.ref_key = r.target_key
                   AND NOT ({}))",
                audience.to_sql("t.id", &mut params)
            )
        };
        let sql = format!(
            "SELECT DISTINCT r.source_key, r.type, r.target_ref, r.target_key FROM entity_relations r
             WHERE r.source_key IN ({marks}){hidden} ORDER BY r.source_key, r.type, r.target_key"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (key, relation_type, target) = row?;
            let Ok(target) = EntityRef::parse_full(&target) else {
                continue;
            };
            let list = out.entry(key).or_default();
            if !list
                .iter()
                .any(|r| r.relation_type == relation_type && r.target.key() == target.key())
            {
                list.push(Relation {
                    relation_type,
                    target,
                });
            }
        }
    }
    Ok(out)
}

fn stored_entity(
    conn: &Connection,
    column: &str,
    value: &str,
    audience: &Audience,
) -> Result<Option<StoredEntity>, CatalogError> {
    let sql = format!(
        "SELECT ref_key, body, source, location, orphaned FROM entities WHERE {column} = ?1"
    );
    let row = conn
        .prepare_cached(&sql)?
        .query_row([value], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })
        .optional()?;
    let Some((key, body, source, location, orphaned)) = row else {
        return Ok(None);
    };
    let body: Value = serde_json::from_str(&body)
        .map_err(|e| CatalogError::Invalid(format!("stored entity {key} is not JSON: {e}")))?;
    let mut entity = parse_entity(&body)
        .map_err(|e| CatalogError::Invalid(format!("stored entity {key}: {e}")))?;
    entity.relations = load_relations(conn, std::slice::from_ref(&key), audience)?
        .remove(&key)
        .unwrap_or_default();
    Ok(Some(StoredEntity {
        entity,
        source,
        location,
        orphaned,
    }))
}
