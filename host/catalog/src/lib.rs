//! Portico's catalogue: the APIs and entities a portal knows, in SQLite.
//!
//! This is the thin start the foundation needs: opening (or creating) the
//! database with WAL and migrations, plugin key-value storage, and a minimal
//! API listing that the demo and the home page use. Entities, versions and
//! search grow here.

#![forbid(unsafe_code)]

mod db;
mod kv;
mod model;
pub mod spec;

pub use db::{Database, DbError};
pub use kv::SqliteKv;
pub use model::{ApiSummary, Lifecycle};
