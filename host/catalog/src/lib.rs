//! Portico's catalogue: Backstage-compatible entities from descriptor files,
//! gateways and the API, with provenance, relations, filters, facets and
//! full-text search, stored in SQLite (WAL, migrations) behind a store trait.
//! API entities keep their versions, spec documents and environments.
//!
//! Also plugin key-value storage.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audience;
mod changelog;
mod db;
mod descriptor;
pub mod diff;
mod entity;
mod entity_ref;
mod filter;
mod import;
mod kv;
mod preview;
mod read_cache;
mod relations;
mod search;
pub mod spec;
mod sqlite;
mod sqlite_changelog;
mod sqlite_versions;
mod sqlite_write;
mod store;
mod validate;
mod versions;

pub use audience::{Audience, PARTNER_GROUPS, VISIBILITIES, VISIBILITY};
pub use changelog::{
    BreakingChanges, ChangelogEntry, Deprecation, EntryKind, LoggedChange, Verdict,
};
pub use db::{Database, DbError};
pub use descriptor::UrlReader;
pub use entity::{
    Entity, Link, MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION, Metadata, ORPHAN, Relation,
};
pub use entity_ref::{DEFAULT_NAMESPACE, EntityRef, RefError};
pub use filter::{Condition, EntityFilter, Order};
pub use import::{
    ImportOptions, ImportReport, Problem, Progress, ProgressFn, Stage, import_paths, import_urls,
};
pub use kv::SqliteKv;
pub use preview::{PreviewError, PublishPreview, preview_publication, read_candidate};
pub use relations::{DeclaredRelation, declared as declared_relations};
pub use search::{OperationRow, SEARCH_FACETS, SearchHit, SearchQuery, SearchResults};
pub use sqlite::SqliteStore;
pub use store::{
    CatalogError, CatalogStore, EntityJson, EntityPage, FacetCount, Facets, Fields, FullTextFilter,
    ListQuery, OrphanPolicy, PageQuery, Rejected, SourceInfo, SourceSync, StoredEntity,
    SyncOutcome, upsert_entities,
};
/// URLs, as [`UrlReader`] receives them.
pub use url::Url;
pub use validate::{
    API_VERSIONS, EntityError, InvalidEntity, KINDS, is_valid_entity_name, is_valid_label_key,
    is_valid_namespace, is_valid_tag, parse_entity,
};
pub use versions::{
    ApiVersion, Environment, PublishOutcome, SpecDocument, UNVERSIONED, VersionDetail,
    VersionDraft, environments_from_spec, previous_version,
};
