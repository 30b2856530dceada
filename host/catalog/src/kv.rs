//! Plugins' key-value storage in the portal database, namespaced by plugin id.

use rusqlite::{OptionalExtension, params};

use crate::db::{Database, DbError};

/// Plugin key-value storage backed by the `plugin_kv` table.
#[derive(Clone)]
pub struct SqliteKv {
    db: Database,
}

impl SqliteKv {
    /// Storage in `db`.
    pub fn new(db: Database) -> SqliteKv {
        SqliteKv { db }
    }

    /// Reads a value.
    pub fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self
            .db
            .conn()
            .query_row(
                "SELECT value FROM plugin_kv WHERE plugin = ?1 AND key = ?2",
                params![plugin, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Writes a value.
    pub fn set(&self, plugin: &str, key: &str, value: &[u8]) -> Result<(), DbError> {
        self.db.conn().execute(
            "INSERT INTO plugin_kv (plugin, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
            params![plugin, key, value],
        )?;
        Ok(())
    }

    /// Deletes a key.
    pub fn delete(&self, plugin: &str, key: &str) -> Result<(), DbError> {
        self.db.conn().execute(
            "DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2",
            params![plugin, key],
        )?;
        Ok(())
    }

    /// Keys starting with `prefix`, in byte order.
    pub fn list(&self, plugin: &str, prefix: &str) -> Result<Vec<String>, DbError> {
        let conn = self.db.conn();
        let mut stmt = conn.prepare(
            "SELECT key FROM plugin_kv WHERE plugin = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
        )?;
        let keys = stmt
            .query_map(params![plugin, prefix], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    /// Bytes used by a plugin.
    pub fn usage(&self, plugin: &str) -> Result<u64, DbError> {
        let used: i64 = self.db.conn().query_row(
            "SELECT coalesce(sum(length(key) + length(value)), 0) FROM plugin_kv WHERE plugin = ?1",
            params![plugin],
            |r| r.get(0),
        )?;
        Ok(used as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_scoped_per_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let kv = SqliteKv::new(Database::open(&dir.path().join("p.db")).unwrap());
        kv.set("a", "k1", b"one").unwrap();
        kv.set("a", "k1", b"uno").unwrap();
        kv.set("a", "k2", b"two").unwrap();
        kv.set("b", "k1", b"other").unwrap();
        assert_eq!(kv.get("a", "k1").unwrap().as_deref(), Some(&b"uno"[..]));
        assert_eq!(kv.list("a", "k").unwrap(), ["k1", "k2"]);
        assert_eq!(kv.usage("a").unwrap(), 2 + 3 + 2 + 3);
        kv.delete("a", "k1").unwrap();
        assert_eq!(kv.get("a", "k1").unwrap(), None);
        assert_eq!(kv.get("b", "k1").unwrap().as_deref(), Some(&b"other"[..]));
    }
}
