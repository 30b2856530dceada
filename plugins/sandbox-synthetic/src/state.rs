//! Per-developer state in the plugin's key-value store, so the sandbox
//! behaves like an API: a POST to a collection creates a resource that a
//! later GET returns, PUT and PATCH change it, and DELETE removes it.
//!
//! A collection is *live* for a developer once they have written to it
//! (created, replaced, patched or deleted anything in it). Before that, it
//! answers with the spec's examples or synthetic data; once live, it answers
//! from the developer's state alone: a missing item is 404 and a listing
//! shows what they created. Reset forgets everything, examples come back.
//!
//! Keys: `sb/<api>/<developer>/<version>/` then `i/<collection>/<id>` for
//! an item, `live/<collection>` for the mark and `n/<collection>` for the
//! id counter; each part is escaped so a `/` in it cannot cross into another.

use portico_plugin_sdk::{PluginError, kv};
use serde_json::{Map, Value};

/// The most items a listing shows.
const MAX_LISTED: usize = 100;

/// Escapes `%` and `/` so a part of a key never splits into two.
fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('/', "%2F")
}

/// The prefix of every key of one developer on one API.
pub(crate) fn developer_prefix(api: &str, developer: &str) -> String {
    format!("sb/{}/{}/", escape(api), escape(developer))
}

/// One developer's state of one API version.
pub(crate) struct Store {
    scope: String,
}

/// An item as stored, with its creation order.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    seq: u64,
    item: Value,
}

impl Store {
    pub(crate) fn new(api: &str, developer: &str, version: &str) -> Store {
        Store {
            scope: format!("{}{}/", developer_prefix(api, developer), escape(version)),
        }
    }

    fn item_key(&self, collection: &str, id: &str) -> String {
        format!("{}i/{}/{}", self.scope, escape(collection), escape(id))
    }

    /// Whether the developer has written to the collection.
    pub(crate) fn is_live(&self, collection: &str) -> Result<bool, PluginError> {
        let key = format!("{}live/{}", self.scope, escape(collection));
        Ok(kv::get(&key)?.is_some())
    }

    /// Marks the collection live.
    pub(crate) fn mark_live(&self, collection: &str) -> Result<(), PluginError> {
        let key = format!("{}live/{}", self.scope, escape(collection));
        Ok(kv::set(&key, b"1")?)
    }

    /// The next number of the collection's counter, from 1.
    pub(crate) fn next_number(&self, collection: &str) -> Result<u64, PluginError> {
        let key = format!("{}n/{}", self.scope, escape(collection));
        let next = kv::get_json::<u64>(&key)?.unwrap_or(0).saturating_add(1);
        kv::set_json(&key, &next)?;
        Ok(next)
    }

    /// An item by id.
    pub(crate) fn get(&self, collection: &str, id: &str) -> Result<Option<Value>, PluginError> {
        Ok(kv::get_json::<Stored>(&self.item_key(collection, id))?.map(|s| s.item))
    }

    /// Writes an item, keeping its place in the listing when it exists.
    pub(crate) fn put(&self, collection: &str, id: &str, item: &Value) -> Result<(), PluginError> {
        let key = self.item_key(collection, id);
        let seq = match kv::get_json::<Stored>(&key)? {
            Some(old) => old.seq,
            None => self.next_number(&format!("{collection}#seq"))?,
        };
        kv::set_json(
            &key,
            &Stored {
                seq,
                item: item.clone(),
            },
        )?;
        self.mark_live(collection)
    }

    /// Deletes an item; whether it was there.
    pub(crate) fn delete(&self, collection: &str, id: &str) -> Result<bool, PluginError> {
        let key = self.item_key(collection, id);
        let existed = kv::get(&key)?.is_some();
        kv::delete(&key)?;
        self.mark_live(collection)?;
        Ok(existed)
    }

    /// The collection's items in the order they were created.
    pub(crate) fn list(&self, collection: &str) -> Result<Vec<Value>, PluginError> {
        let prefix = format!("{}i/{}/", self.scope, escape(collection));
        let mut items: Vec<Stored> = Vec::new();
        for key in kv::list(&prefix)? {
            if let Some(stored) = kv::get_json::<Stored>(&key)? {
                items.push(stored);
            }
        }
        items.sort_by_key(|s| s.seq);
        Ok(items.into_iter().take(MAX_LISTED).map(|s| s.item).collect())
    }
}

/// Forgets everything one developer did on one API, every version.
pub(crate) fn reset(api: &str, developer: &str) -> Result<(), PluginError> {
    for key in kv::list(&developer_prefix(api, developer))? {
        kv::delete(&key)?;
    }
    Ok(())
}

/// RFC 7396 merge patch: members of `patch` replace those of `target`, `null` removes.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_of_one_developer_never_prefix_another() {
        let a = developer_prefix("api:default/pets", "user:1");
        let b = developer_prefix("api:default/pets", "user:12");
        assert!(!b.starts_with(&a), "{a} {b}");
        assert_eq!(a, "sb/api:default%2Fpets/user:1/");
        let store = Store::new("api:x", "user:1", "1.0/beta");
        assert_eq!(
            store.item_key("/pets/7/toys", "a/b"),
            "sb/api:x/user:1/1.0%2Fbeta/i/%2Fpets%2F7%2Ftoys/a%2Fb"
        );
    }

    #[test]
    fn merge_patch_replaces_and_removes() {
        let mut item = json!({"name": "Rex", "tag": "dog", "owner": {"a": 1}});
        merge_patch(
            &mut item,
            &json!({"tag": null, "owner": {"b": 2}, "age": 3}),
        );
        assert_eq!(
            item,
            json!({"name": "Rex", "owner": {"a": 1, "b": 2}, "age": 3})
        );
    }
}
