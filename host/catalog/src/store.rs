//! The catalogue store: a trait any backend implements (SQLite now, PostgreSQL
//! later) and the plain types its callers use, shaped after Backstage's
//! catalogue API (filters, fields, order, cursors, facets).
//!
//! Methods are synchronous; async callers run them on a blocking thread.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audience::Audience;
use crate::changelog::{ChangelogEntry, Deprecation};
use crate::db::DbError;
use crate::entity::Entity;
use crate::entity_ref::EntityRef;
use crate::filter::{EntityFilter, Order};
use crate::search::{OperationRow, SearchQuery, SearchResults};
use crate::versions::{ApiVersion, PublishOutcome, SpecDocument, VersionDetail, VersionDraft};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The entity or source does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write clashes with what is stored (e.g. another source's entity).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is malformed (bad filter, cursor, reference...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for CatalogError {
    fn from(e: rusqlite::Error) -> Self {
        CatalogError::Db(DbError::Query(e))
    }
}

/// What happens to an entity its source no longer reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrphanPolicy {
    /// Keep it, flagged with the `backstage.io/orphan` annotation.
    #[default]
    Keep,
    /// Delete it.
    Delete,
}

/// One batch of entities from one source, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SourceSync {
    /// The source's identity: `file:/abs/catalog-info.yaml`, `url:https://...`,
    /// `gateway:kong-prod`, `api`.
    pub source: String,
    /// The source's type, as Backstage's locations show it (`file`, `url`,
    /// `gateway`, `api`).
    pub source_type: String,
    /// What the source points at (a path, a URL, a gateway id).
    pub target: String,
    /// The entities, each with the exact place it came from.
    pub entities: Vec<(Entity, String)>,
    /// Whether the batch is everything the source has now: if so, its stored
    /// entities missing from the batch are orphaned.
    pub complete: bool,
    /// Entity refs (any case) not to orphan even if missing (they failed to
    /// read this time and keep their last good version).
    pub keep: Vec<String>,
    /// Locations whose entities are not orphaned (their file failed to read).
    pub keep_locations: Vec<String>,
    /// What orphaning does.
    pub orphans: OrphanPolicy,
    /// Operation indexes of API entities in the batch, by entity ref (any
    /// case); written with the entity when it is added or changed.
    pub operations: BTreeMap<String, Vec<OperationRow>>,
    /// Versions API entities in the batch publish, by entity ref (any case),
    /// oldest listed first; the operation index then follows the newest version.
    pub versions: BTreeMap<String, Vec<VersionDraft>>,
}

/// An entity the store refused to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Position in [`SourceSync::entities`].
    pub index: usize,
    /// The entity.
    pub entity: String,
    /// Why.
    pub reason: String,
}

/// What a sync did, by entity ref.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Entities new to the catalogue.
    pub added: Vec<String>,
    /// Entities whose content changed (or came back from orphanhood).
    pub changed: Vec<String>,
    /// Entities written before with the same content: untouched.
    pub unchanged: Vec<String>,
    /// Entities the source stopped reporting, kept and flagged.
    pub orphaned: Vec<String>,
    /// Entities the source stopped reporting, deleted.
    pub deleted: Vec<String>,
    /// Entities refused (owned by another source).
    pub rejected: Vec<Rejected>,
}

/// A stored entity with its provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntity {
    /// The entity, relations filled in.
    pub entity: Entity,
    /// The source that reported it.
    pub source: String,
    /// The exact place it came from.
    pub location: String,
    /// Whether its source stopped reporting it.
    pub orphaned: bool,
}

/// A registered source (Backstage's "location").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// A stable id.
    pub id: String,
    /// The source's identity (see [`SourceSync::source`]).
    pub source: String,
    /// `file`, `url`, `gateway`, `api`.
    #[serde(rename = "type")]
    pub source_type: String,
    /// What it points at.
    pub target: String,
    /// How many entities it reports.
    pub entities: usize,
    /// When it was last synced (RFC 3339).
    pub synced_at: Option<String>,
}

/// A selection of fields to return (`kind,metadata.name,spec.owner`); empty
/// means everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields(pub Vec<String>);

impl Fields {
    /// Parses `fields` query parameters, each comma-separated.
    pub fn parse<S: AsRef<str>>(params: &[S]) -> Fields {
        Fields(
            params
                .iter()
                .flat_map(|p| p.as_ref().split(','))
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether every field is wanted (no selection).
    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `relations` may be needed.
    pub(crate) fn wants_relations(&self) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|f| f.split('.').next() == Some("relations"))
    }

    /// Keeps only the selected fields of an entity's JSON.
    pub fn project(&self, value: Value) -> Value {
        if self.0.is_empty() {
            return value;
        }
        let mut out = Map::new();
        for field in &self.0 {
            let path: Vec<&str> = field.split('.').collect();
            if let Some(found) = lookup(&value, &path) {
                insert_path(&mut out, &path, found.clone());
            }
        }
        Value::Object(out)
    }
}

fn lookup<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    match path.split_first() {
        None => Some(value),
        Some((head, rest)) => value.as_object()?.get(*head).and_then(|v| lookup(v, rest)),
    }
}

fn insert_path(out: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            out.insert((*last).to_owned(), value);
        }
        [head, rest @ ..] => {
            let child = out
                .entry((*head).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert_path(child, rest, value);
            }
        }
    }
}

/// `GET /entities`: filter, fields, order, limit and offset.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Which entities.
    pub filter: EntityFilter,
    /// Which fields of each.
    pub fields: Fields,
    /// Sort order (first field wins; entity ref breaks ties).
    pub order: Vec<Order>,
    /// At most this many.
    pub limit: Option<usize>,
    /// Skip this many.
    pub offset: usize,
}

/// Full-text filtering within a paged query (`fullTextFilterTerm`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullTextFilter {
    /// The words to look for.
    pub term: String,
    /// Fields to look in (substring match); empty uses the search index.
    pub fields: Vec<String>,
}

/// `GET /entities/by-query`: a first page, or the page a cursor points to.
#[derive(Debug, Clone)]
pub enum PageQuery {
    /// The first page.
    First {
        /// Which entities.
        filter: EntityFilter,
        /// Sort order (one field).
        order: Option<Order>,
        /// Full-text filter.
        full_text: Option<FullTextFilter>,
        /// Page size.
        limit: usize,
        /// Which fields of each.
        fields: Fields,
    },
    /// The page after or before a previous one.
    Cursor {
        /// An opaque cursor from [`EntityPage`].
        cursor: String,
        /// Who reads (not part of the cursor, which anyone may hold).
        audience: Audience,
        /// Page size.
        limit: usize,
        /// Which fields of each.
        fields: Fields,
    },
}

/// One page of a paged query.
#[derive(Debug, Clone, Serialize)]
pub struct EntityPage {
    /// The entities.
    pub items: Vec<EntityJson>,
    /// How many entities the query matches in all.
    #[serde(rename = "totalItems")]
    pub total_items: usize,
    /// The following page, if any.
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The preceding page, if any.
    #[serde(rename = "prevCursor", skip_serializing_if = "Option::is_none")]
    pub prev_cursor: Option<String>,
}

/// An entity as JSON text, ready to be sent as it is.
pub type EntityJson = Box<serde_json::value::RawValue>;

/// How often a value occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    /// The value, as written in the entity.
    pub value: String,
    /// How many entities have it.
    pub count: usize,
}

/// Facet counts by field.
pub type Facets = BTreeMap<String, Vec<FacetCount>>;

/// The catalogue's storage.
pub trait CatalogStore: Send + Sync {
    /// Writes one source's batch in one transaction; `progress` gets (done, total).
    fn sync_source(
        &self,
        sync: &SourceSync,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<SyncOutcome, CatalogError>;

    /// Forgets a source; its entities are orphaned or deleted.
    fn remove_source(
        &self,
        source: &str,
        orphans: OrphanPolicy,
    ) -> Result<SyncOutcome, CatalogError>;

    /// Every registered source.
    fn sources(&self) -> Result<Vec<SourceInfo>, CatalogError>;

    /// Deletes one entity (and the relations it declared).
    fn delete_entity(&self, entity: &EntityRef) -> Result<bool, CatalogError>;

    /// One entity by reference, with relations and provenance.
    fn entity(&self, entity: &EntityRef) -> Result<Option<StoredEntity>, CatalogError>;

    /// One entity by uid.
    fn entity_by_uid(&self, uid: &str) -> Result<Option<StoredEntity>, CatalogError>;

    /// One entity by reference, when `audience` may see it: what every read
    /// of a single entity (its page, versions, spec, docs) starts with.
    fn visible_entity(
        &self,
        entity: &EntityRef,
        audience: &Audience,
    ) -> Result<Option<StoredEntity>, CatalogError> {
        Ok(self
            .entity(entity)?
            .filter(|stored| audience.sees(&stored.entity.metadata.annotations)))
    }

    /// Entities by full reference, in order, `None` where missing or not
    /// visible to `audience` (`POST /entities/by-refs`).
    fn entities_by_refs(
        &self,
        refs: &[String],
        fields: &Fields,
        audience: &Audience,
    ) -> Result<Vec<Option<EntityJson>>, CatalogError>;

    /// `GET /entities`.
    fn list_entities(&self, query: &ListQuery) -> Result<Vec<EntityJson>, CatalogError>;

    /// `GET /entities/by-query`, with keyset cursors.
    fn query_entities(&self, query: &PageQuery) -> Result<EntityPage, CatalogError>;

    /// `GET /entity-facets`: value counts of `facets` among entities matching `filter`.
    fn facets(&self, filter: &EntityFilter, facets: &[String]) -> Result<Facets, CatalogError>;

    /// Full-text search with facets, exact name matches first.
    fn search(&self, query: &SearchQuery) -> Result<SearchResults, CatalogError>;

    /// Replaces an API entity's operation index (searched with the entity).
    fn set_operations(&self, entity: &EntityRef, ops: &[OperationRow]) -> Result<(), CatalogError>;

    /// An API entity's operation index.
    fn operations(&self, entity: &EntityRef) -> Result<Vec<OperationRow>, CatalogError>;

    /// Adds one version to an API entity, or updates it (document, lifecycle,
    /// environments); publishing what is stored changes nothing. The operation
    /// index then follows the API's newest version.
    fn publish_version(
        &self,
        api: &EntityRef,
        draft: &VersionDraft,
    ) -> Result<PublishOutcome, CatalogError>;

    /// An API's versions, newest first: by semver where every version reads
    /// as semver, else by publication.
    fn versions(&self, api: &EntityRef) -> Result<Vec<ApiVersion>, CatalogError>;

    /// One version of an API, with its operations.
    fn version(
        &self,
        api: &EntityRef,
        version: &str,
    ) -> Result<Option<VersionDetail>, CatalogError>;

    /// A stored spec document by content hash.
    fn spec_document(&self, hash: &str) -> Result<Option<SpecDocument>, CatalogError>;

    /// An API's changelog, newest first (empty for an unknown API).
    fn changelog(&self, api: &EntityRef) -> Result<Vec<ChangelogEntry>, CatalogError>;

    /// The newest `limit` changelog entries of the APIs `audience` may see, newest first.
    fn recent_changelog(
        &self,
        audience: &Audience,
        limit: usize,
    ) -> Result<Vec<ChangelogEntry>, CatalogError>;

    /// Replaces the owner's summary of a version's changelog entry (`None` or blank: back to
    /// the generated one), recording who did it.
    fn edit_changelog(
        &self,
        api: &EntityRef,
        version: &str,
        summary: Option<&str>,
        by: &str,
    ) -> Result<ChangelogEntry, CatalogError>;

    /// Deprecates a stored version, whatever its descriptor says, until
    /// [`undeprecate_version`](CatalogStore::undeprecate_version); a bad sunset is `Invalid`.
    fn deprecate_version(
        &self,
        api: &EntityRef,
        version: &str,
        deprecation: &Deprecation,
        by: &str,
    ) -> Result<(), CatalogError>;

    /// Withdraws a deprecation made through [`deprecate_version`](CatalogStore::deprecate_version);
    /// `false` when there was none.
    fn undeprecate_version(&self, api: &EntityRef, version: &str) -> Result<bool, CatalogError>;
}

/// Adds or updates entities reported by a caller outside any file or
/// gateway (source `api`); nothing is orphaned.
pub fn upsert_entities(
    store: &dyn CatalogStore,
    source: &str,
    entities: Vec<(Entity, String)>,
) -> Result<SyncOutcome, CatalogError> {
    let sync = SourceSync {
        source: source.to_owned(),
        source_type: source.split(':').next().unwrap_or(source).to_owned(),
        target: source.to_owned(),
        entities,
        complete: false,
        ..SourceSync::default()
    };
    store.sync_source(&sync, &mut |_, _| {})
}

/// The state a paged query carries from page to page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Raw filter parameters.
    pub filter: Vec<String>,
    pub order: Option<Order>,
    pub full_text: Option<FullTextFilter>,
    /// Sort value and ref key of the boundary item.
    pub after: (String, String),
    /// Whether the page lies before the boundary.
    pub backwards: bool,
    pub total: usize,
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).expect("cursor serialises"))
    }

    pub(crate) fn decode(text: &str) -> Result<Cursor, CatalogError> {
        let bytes =
            hex::decode(text).map_err(|_| CatalogError::Invalid("malformed cursor".into()))?;
        serde_json::from_slice(&bytes).map_err(|_| CatalogError::Invalid("malformed cursor".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projection_keeps_only_named_paths() {
        let fields = Fields::parse(&["kind,metadata.name", "spec.missing", "relations"]);
        let value = json!({"kind": "API", "metadata": {"name": "a", "title": "A"},
                           "spec": {"type": "openapi"}, "relations": [{"type": "ownedBy"}]});
        assert_eq!(
            fields.project(value),
            json!({"kind": "API", "metadata": {"name": "a"}, "relations": [{"type": "ownedBy"}]})
        );
        assert!(fields.wants_relations());
        assert!(!Fields::parse(&["kind"]).wants_relations());
        assert!(Fields::default().wants_relations());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            filter: vec!["kind=api".into()],
            order: None,
            full_text: None,
            after: ("a".into(), "api:default/a".into()),
            backwards: false,
            total: 3,
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(matches!(
            Cursor::decode("zz"),
            Err(CatalogError::Invalid(_))
        ));
    }
}
