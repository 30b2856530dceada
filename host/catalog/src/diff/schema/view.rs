//! A schema as the comparison sees it: its `$ref` followed and its `allOf` parts merged, and
//! annotation-only `allOf` wrappers seen through, so that a wrapped reference and the schema
//! it wraps are one pair for the memo and for cycle detection.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::keywords;
use crate::diff::{Resolved, resolve};

/// Keywords that do not change which values a schema accepts.
const ANNOTATIONS: [&str; 6] = [
    "description",
    "title",
    "example",
    "examples",
    "readOnly",
    "writeOnly",
];

/// Sees through `allOf: [{$ref}]` wrappers that only annotate a reference, so the wrapper
/// and the schema it wraps share memo entries and recursion ends at the first repeat.
pub(super) fn unwrap<'a>(doc: &'a Value, mut schema: Resolved<'a>) -> Resolved<'a> {
    for _ in 0..8 {
        let Some(map) = schema.value.as_object() else {
            break;
        };
        let Some(Value::Array(parts)) = map.get("allOf") else {
            break;
        };
        let only_annotations = map
            .keys()
            .all(|k| k == "allOf" || k.starts_with("x-") || ANNOTATIONS.contains(&k.as_str()));
        match parts.as_slice() {
            [single] if only_annotations => {
                let inner = resolve(doc, single);
                schema = Resolved {
                    via_ref: schema.via_ref || inner.via_ref,
                    name: inner.name.or(schema.name),
                    value: inner.value,
                };
            }
            _ => break,
        }
    }
    schema
}

pub(super) fn access<'a>(doc: &'a Value, schema: &'a Value) -> Access {
    View::of(doc, schema).access()
}

/// Where a property may travel, and whether leaving it out is covered by a default.
pub(super) struct Access {
    pub(super) read_only: bool,
    pub(super) write_only: bool,
    pub(super) has_default: bool,
}

/// A schema with its `$ref` followed and its `allOf` parts merged: the first part that has a
/// keyword gives its value; properties and `required` are the union of all parts.
pub(super) struct View<'a> {
    parts: Vec<&'a Map<String, Value>>,
}

impl<'a> View<'a> {
    pub(super) fn of(doc: &'a Value, schema: &'a Value) -> View<'a> {
        let mut view = View { parts: Vec::new() };
        view.collect(doc, schema, 0);
        view
    }

    fn collect(&mut self, doc: &'a Value, schema: &'a Value, depth: usize) {
        let Some(map) = resolve(doc, schema).value.as_object() else {
            return;
        };
        if depth > 16 || self.parts.iter().any(|p| std::ptr::eq(*p, map)) {
            return;
        }
        self.parts.push(map);
        if let Some(Value::Array(all)) = map.get("allOf") {
            for part in all {
                self.collect(doc, part, depth + 1);
            }
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.parts.iter().find_map(|p| p.get(key))
    }

    pub(super) fn flag(&self, key: &str) -> bool {
        self.parts
            .iter()
            .any(|p| p.get(key).and_then(Value::as_bool) == Some(true))
    }

    fn access(&self) -> Access {
        Access {
            read_only: self.flag("readOnly"),
            write_only: self.flag("writeOnly"),
            has_default: self.get("default").is_some(),
        }
    }

    /// The types as [`keywords`] bits, `None` when any type goes.
    pub(super) fn types(&self) -> Option<u8> {
        keywords::types_of(self)
    }

    pub(super) fn properties(&self) -> BTreeMap<&'a str, &'a Value> {
        let mut out = BTreeMap::new();
        for part in &self.parts {
            if let Some(Value::Object(props)) = part.get("properties") {
                for (name, schema) in props {
                    out.entry(name.as_str()).or_insert(schema);
                }
            }
        }
        out
    }

    pub(super) fn required(&self) -> HashSet<&'a str> {
        self.parts
            .iter()
            .filter_map(|p| p.get("required").and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    pub(super) fn union(&self) -> Option<(&'static str, &'a [Value])> {
        ["oneOf", "anyOf"].into_iter().find_map(|kind| {
            let list = self.get(kind)?.as_array()?;
            Some((kind, list.as_slice()))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::schema::Direction;
    use crate::diff::schema::tests::{changes, object};

    #[test]
    fn all_of_parts_are_merged_before_comparing() {
        let old = object(
            json!({"id": {"type": "integer"}, "name": {"type": "string"}}),
            &["id"],
        );
        let new = json!({"allOf": [
            object(json!({"name": {"type": "string"}}), &[]),
            object(json!({"id": {"type": "integer"}}), &["id"]),
        ]});
        assert!(changes(Direction::Response, old, new).is_empty());
    }

    #[test]
    fn annotation_only_wrappers_are_seen_through_but_nullable_ones_are_not() {
        let doc = json!({"components": {"schemas": {"Pet": {"type": "object"}}}});
        let wrapped = json!({
            "description": "The pet", "allOf": [{"$ref": "#/components/schemas/Pet"}]
        });
        let seen = unwrap(&doc, resolve(&doc, &wrapped));
        assert_eq!((seen.name, seen.via_ref), (Some("Pet"), true));
        assert_eq!(seen.value, &json!({"type": "object"}));
        let nullable = json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/Pet"}]});
        assert!(!unwrap(&doc, resolve(&doc, &nullable)).via_ref);
        let view = View::of(&doc, &nullable);
        assert!(view.flag("nullable"));
        assert_eq!(view.get("type"), Some(&json!("object")));
    }
}
