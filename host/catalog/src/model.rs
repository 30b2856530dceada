//! The API summary the foundation stores: enough for the home page and the demo.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::db::{Database, DbError};

/// Where an API is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Still changing; no promises.
    Experimental,
    /// Stable and supported.
    Production,
    /// Being retired.
    Deprecated,
}

impl Lifecycle {
    fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Experimental => "experimental",
            Lifecycle::Production => "production",
            Lifecycle::Deprecated => "deprecated",
        }
    }

    fn parse(s: &str) -> Lifecycle {
        match s {
            "experimental" => Lifecycle::Experimental,
            "deprecated" => Lifecycle::Deprecated,
            _ => Lifecycle::Production,
        }
    }
}

/// One API as listed in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiSummary {
    /// Namespace (Backstage's `metadata.namespace`).
    pub namespace: String,
    /// Machine name, unique in its namespace.
    pub name: String,
    /// Human title.
    pub title: String,
    /// What it is for.
    pub description: String,
    /// Owning team, as an entity ref.
    pub owner: String,
    /// Lifecycle.
    pub lifecycle: Lifecycle,
    /// Latest version.
    pub version: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Where it came from (a file, a gateway).
    pub source: String,
}

impl Database {
    /// Adds or updates an API; returns whether anything changed.
    pub fn upsert_api(&self, api: &ApiSummary) -> Result<bool, DbError> {
        let tags = serde_json::to_string(&api.tags).expect("strings serialise");
        let changed = self.conn().execute(
            "INSERT INTO apis (namespace, name, title, description, owner, lifecycle, version, tags, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (namespace, name) DO UPDATE SET
               title = excluded.title, description = excluded.description, owner = excluded.owner,
               lifecycle = excluded.lifecycle, version = excluded.version, tags = excluded.tags,
               source = excluded.source
             WHERE (title, description, owner, lifecycle, version, tags, source) IS NOT
                   (excluded.title, excluded.description, excluded.owner, excluded.lifecycle,
                    excluded.version, excluded.tags, excluded.source)",
            params![
                api.namespace,
                api.name,
                api.title,
                api.description,
                api.owner,
                api.lifecycle.as_str(),
                api.version,
                tags,
                api.source
            ],
        )?;
        Ok(changed > 0)
    }

    /// Every API, by namespace and name.
    pub fn list_apis(&self) -> Result<Vec<ApiSummary>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT namespace, name, title, description, owner, lifecycle, version, tags, source
             FROM apis ORDER BY namespace, name",
        )?;
        let rows = stmt.query_map([], |r| {
            let tags: String = r.get(7)?;
            Ok(ApiSummary {
                namespace: r.get(0)?,
                name: r.get(1)?,
                title: r.get(2)?,
                description: r.get(3)?,
                owner: r.get(4)?,
                lifecycle: Lifecycle::parse(&r.get::<_, String>(5)?),
                version: r.get(6)?,
                tags: serde_json::from_str(&tags).unwrap_or_default(),
                source: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(title: &str) -> ApiSummary {
        ApiSummary {
            namespace: "default".into(),
            name: "petstore".into(),
            title: title.into(),
            description: "Pets".into(),
            owner: "group:default/pets".into(),
            lifecycle: Lifecycle::Production,
            version: "1.0.0".into(),
            tags: vec!["pets".into()],
            source: "demo".into(),
        }
    }

    #[test]
    fn reimporting_identical_content_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("c.db")).unwrap();
        assert!(db.upsert_api(&api("Petstore")).unwrap());
        assert!(!db.upsert_api(&api("Petstore")).unwrap());
        assert!(db.upsert_api(&api("Pet Store")).unwrap());
        assert_eq!(db.list_apis().unwrap(), vec![api("Pet Store")]);
    }
}
