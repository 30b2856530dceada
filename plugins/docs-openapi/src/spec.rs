//! The OpenAPI document as the renderer reads it: local `$ref`s resolved with
//! a bound on chains, operations in document order grouped by tag, parameters
//! merged from path and operation, and one anchor per tag, operation and
//! component schema. Everything borrows from the parsed JSON.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde_json::{Map, Value};

use crate::text::{Anchors, one_line};

/// A member of a JSON object: a scan for the small objects schemas are,
/// cheaper than hashing the key; a hash lookup for large ones.
pub(crate) fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    member(value.as_object()?, key)
}

/// [`field`] of an object already in hand.
pub(crate) fn member<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if object.len() <= 12 {
        object
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    } else {
        object.get(key)
    }
}

/// HTTP methods of a path item, in the order the docs list them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The longest `$ref` chain followed; longer ones are treated as broken.
const MAX_REF_HOPS: usize = 32;

/// The label of operations without a tag.
pub(crate) const UNTAGGED: &str = "Other operations";

/// The label of webhooks without a tag.
pub(crate) const WEBHOOKS: &str = "Webhooks";

/// A parsed OpenAPI 3.x document and the indexes the renderer needs.
pub(crate) struct Spec<'a> {
    /// The document's root object.
    pub(crate) root: &'a Map<String, Value>,
    /// Anchors of `components.schemas`, by name.
    schema_anchors: HashMap<&'a str, String>,
    /// Operations in document order.
    pub(crate) operations: Vec<Operation<'a>>,
    /// Tags in the order the docs show them, with their operations' indexes.
    pub(crate) groups: Vec<TagGroup<'a>>,
    /// `$ref`s that point nowhere, for the warnings.
    pub(crate) broken_refs: std::cell::RefCell<Vec<String>>,
    /// Every component by its reference (`#/components/schemas/Pet`): the
    /// same few hundred references are followed hundreds of thousands of times.
    components: HashMap<String, &'a Value, BuildHasherDefault<FxHasher>>,
}

/// A fast hasher for reference strings; a collision costs time, never correctness.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One operation of the document.
pub(crate) struct Operation<'a> {
    /// `GET`, `POST`...
    pub(crate) method: &'static str,
    /// The path template, or the webhook's name.
    pub(crate) path: &'a str,
    /// Whether the API calls the reader (OpenAPI 3.1 `webhooks`, or `x-webhooks`).
    pub(crate) webhook: bool,
    /// The operation object.
    pub(crate) object: &'a Map<String, Value>,
    /// Path-level and operation-level parameters, resolved, the operation's winning.
    pub(crate) parameters: Vec<&'a Map<String, Value>>,
    /// Servers of the operation, else of its path item (empty: the document's).
    pub(crate) servers: Option<&'a Value>,
    /// Its tags as written.
    pub(crate) tags: Vec<&'a str>,
    /// Its section's anchor.
    pub(crate) anchor: String,
}

impl<'a> Operation<'a> {
    /// A string field of the operation object.
    pub(crate) fn text(&self, key: &str) -> Option<&'a str> {
        self.object
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// The summary, else the first line of the description, else method and path.
    pub(crate) fn title(&self) -> String {
        match self.text("summary") {
            Some(summary) => summary.trim().to_owned(),
            None => format!("{} {}", self.method, self.path),
        }
    }

    /// Whether the document marks it deprecated.
    pub(crate) fn deprecated(&self) -> bool {
        self.object.get("deprecated") == Some(&Value::Bool(true))
    }
}

/// The operations filed under one tag.
pub(crate) struct TagGroup<'a> {
    /// The tag's name ([`UNTAGGED`] for operations without one).
    pub(crate) name: &'a str,
    /// Its description from the top-level `tags`.
    pub(crate) description: Option<&'a str>,
    /// Its section's anchor.
    pub(crate) anchor: String,
    /// Indexes into [`Spec::operations`].
    pub(crate) operations: Vec<usize>,
}

/// What a `$ref` led to.
pub(crate) struct Resolved<'a> {
    /// The value at the end of the chain (the input when it was no `$ref`).
    pub(crate) value: &'a Value,
    /// The component name of the last `$ref` followed, e.g. `Pet`.
    pub(crate) name: Option<&'a str>,
}

/// Checks the `openapi` field says 3.0 or 3.1 (later 3.x read as 3.1); Swagger
/// 2.0 and anything else are refused with a reason.
pub(crate) fn check_version(root: &Map<String, Value>) -> Result<(), String> {
    if let Some(openapi) = root.get("openapi") {
        let text = match openapi {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return if text.starts_with("3.") {
            Ok(())
        } else {
            Err(format!("OpenAPI {text} is not supported; 3.0 and 3.1 are"))
        };
    }
    if root.contains_key("swagger") {
        return Err(
            "Swagger 2.0 documents must be converted to OpenAPI 3.0 first (the host does this)"
                .to_owned(),
        );
    }
    Err("the document has no `openapi` field, so it is not OpenAPI 3".to_owned())
}

impl<'a> Spec<'a> {
    /// Indexes a document: operations, tag groups and anchors.
    pub(crate) fn new(root: &'a Map<String, Value>) -> Spec<'a> {
        let mut spec = Spec {
            root,
            schema_anchors: HashMap::new(),
            operations: Vec::new(),
            groups: Vec::new(),
            broken_refs: std::cell::RefCell::new(Vec::new()),
            components: HashMap::default(),
        };
        let mut anchors = Anchors::default();
        for reserved in ["introduction", "servers", "authentication", "schemas"] {
            anchors.claim(reserved, "");
        }
        if let Some(components) = root.get("components").and_then(Value::as_object) {
            for (section, entries) in components {
                for (name, value) in entries.as_object().into_iter().flatten() {
                    let name = name.replace('~', "~0").replace('/', "~1");
                    spec.components
                        .insert(format!("#/components/{section}/{name}"), value);
                }
            }
        }
        spec.operations = spec.collect_operations(&mut anchors);
        spec.groups = spec.group_by_tag(&mut anchors);
        if let Some(schemas) = spec.component("schemas") {
            for name in schemas.keys() {
                let anchor = anchors.claim("schema", name);
                spec.schema_anchors.insert(name.as_str(), anchor);
            }
        }
        spec
    }

    /// A section of `components`, e.g. `schemas`.
    pub(crate) fn component(&self, section: &str) -> Option<&'a Map<String, Value>> {
        self.root.get("components")?.get(section)?.as_object()
    }

    /// The anchor of a component schema's section.
    pub(crate) fn schema_anchor(&self, name: &str) -> Option<&str> {
        self.schema_anchors.get(name).map(String::as_str)
    }

    /// Follows `$ref`s from `value` to what they point at. A broken or
    /// endless chain ends at the last value reached, and is recorded.
    pub(crate) fn resolve(&self, value: &'a Value) -> Resolved<'a> {
        let mut current = value;
        let mut name = None;
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = field(current, "$ref").and_then(Value::as_str) else {
                return Resolved {
                    value: current,
                    name,
                };
            };
            let target = match self.components.get(reference) {
                Some(found) => Some(*found),
                None => self.pointer(reference),
            };
            match target {
                Some(target) => {
                    name = reference
                        .strip_prefix("#/components/schemas/")
                        .filter(|n| !n.contains('/'));
                    current = target;
                }
                None => {
                    self.broken(reference);
                    return Resolved {
                        value: current,
                        name,
                    };
                }
            }
        }
        self.broken(value.get("$ref").and_then(Value::as_str).unwrap_or("?"));
        Resolved {
            value: current,
            name,
        }
    }

    /// Resolves a value expected to be an object (parameter, response...).
    pub(crate) fn resolve_object(&self, value: &'a Value) -> Option<&'a Map<String, Value>> {
        self.resolve(value).value.as_object()
    }

    fn broken(&self, reference: &str) {
        let mut broken = self.broken_refs.borrow_mut();
        if broken.len() < 50 && !broken.iter().any(|b| b == reference) {
            broken.push(reference.to_owned());
        }
    }

    /// The value a local reference (`#/components/...`) points at; external ones are not followed.
    fn pointer(&self, reference: &str) -> Option<&'a Value> {
        let fragment = reference.strip_prefix('#')?;
        let decoded;
        let fragment = if fragment.contains('%') {
            decoded = percent_decode(fragment);
            decoded.as_str()
        } else {
            fragment
        };
        if fragment.is_empty() {
            return None;
        }
        let mut parts = fragment.strip_prefix('/')?.split('/');
        let first = unescape(parts.next()?);
        let mut current = self.root.get(first.as_ref())?;
        for part in parts {
            let part = unescape(part);
            current = match current {
                Value::Object(map) => map.get(part.as_ref())?,
                Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Operations of `paths`, then webhooks (`webhooks`, else `x-webhooks`).
    fn collect_operations(&self, anchors: &mut Anchors) -> Vec<Operation<'a>> {
        let mut operations = Vec::new();
        let webhooks = if self.root.contains_key("webhooks") {
            "webhooks"
        } else {
            "x-webhooks"
        };
        for (section, webhook) in [("paths", false), (webhooks, true)] {
            let Some(items) = self.root.get(section).and_then(Value::as_object) else {
                continue;
            };
            for (path, item) in items {
                if path.starts_with("x-") {
                    continue;
                }
                if let Some(item) = self.resolve_object(item) {
                    self.path_item(path, item, webhook, anchors, &mut operations);
                }
            }
        }
        operations
    }

    fn path_item(
        &self,
        path: &'a str,
        item: &'a Map<String, Value>,
        webhook: bool,
        anchors: &mut Anchors,
        operations: &mut Vec<Operation<'a>>,
    ) {
        let shared = self.parameters(item.get("parameters"));
        for method in METHODS {
            let Some(object) = item.get(method).and_then(Value::as_object) else {
                continue;
            };
            let mut parameters = shared.clone();
            for own in self.parameters(object.get("parameters")) {
                let key = |p: &Map<String, Value>| (p.get("name").cloned(), p.get("in").cloned());
                parameters.retain(|p| key(p) != key(own));
                parameters.push(own);
            }
            let tags: Vec<&str> = object
                .get("tags")
                .and_then(Value::as_array)
                .map(|tags| tags.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let prefix = if webhook { "webhook" } else { "op" };
            let anchor = match object.get("operationId").and_then(Value::as_str) {
                Some(id) if !id.trim().is_empty() => anchors.claim(prefix, id),
                _ => anchors.claim(prefix, &format!("{method} {path}")),
            };
            operations.push(Operation {
                method: upper(method),
                path,
                webhook,
                object,
                parameters,
                servers: object
                    .get("servers")
                    .or_else(|| item.get("servers"))
                    .filter(|s| s.as_array().is_some_and(|a| !a.is_empty())),
                tags,
                anchor,
            });
        }
    }

    fn parameters(&self, list: Option<&'a Value>) -> Vec<&'a Map<String, Value>> {
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| self.resolve_object(p))
            .collect()
    }

    /// Groups operations by their first tag: the top-level `tags` order first,
    /// then tags in order of first use, then untagged operations.
    fn group_by_tag(&self, anchors: &mut Anchors) -> Vec<TagGroup<'a>> {
        let mut groups: Vec<TagGroup<'a>> = Vec::new();
        let mut by_name: HashMap<&'a str, usize> = HashMap::new();
        let declared = self.root.get("tags").and_then(Value::as_array);
        for tag in declared.into_iter().flatten() {
            let Some(name) = tag.get("name").and_then(Value::as_str) else {
                continue;
            };
            if by_name.contains_key(name) {
                continue;
            }
            by_name.insert(name, groups.len());
            groups.push(TagGroup {
                name,
                description: tag.get("description").and_then(Value::as_str),
                anchor: anchors.claim("tag", name),
                operations: Vec::new(),
            });
        }
        for (index, operation) in self.operations.iter().enumerate() {
            let fallback = if operation.webhook {
                WEBHOOKS
            } else {
                UNTAGGED
            };
            let name = operation.tags.first().copied().unwrap_or(fallback);
            let group = *by_name.entry(name).or_insert_with(|| {
                groups.push(TagGroup {
                    name,
                    description: None,
                    anchor: anchors.claim("tag", name),
                    operations: Vec::new(),
                });
                groups.len() - 1
            });
            groups[group].operations.push(index);
        }
        groups.retain(|g| !g.operations.is_empty());
        // Untagged operations, then untagged webhooks, come last.
        for last in [UNTAGGED, WEBHOOKS] {
            if let Some(position) = groups.iter().position(|g| g.name == last) {
                let group = groups.remove(position);
                groups.push(group);
            }
        }
        groups
    }

    /// A string field of `info`.
    pub(crate) fn info(&self, key: &str) -> Option<&'a str> {
        self.root
            .get("info")?
            .get(key)?
            .as_str()
            .filter(|s| !s.trim().is_empty())
    }

    /// The document's server URLs with `{variables}` replaced by their defaults.
    pub(crate) fn servers(&self, list: Option<&'a Value>) -> Vec<(String, Option<&'a str>)> {
        let list = list.or_else(|| self.root.get("servers"));
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|server| {
                let url = server.get("url")?.as_str()?;
                let mut expanded = url.to_owned();
                if let Some(variables) = server.get("variables").and_then(Value::as_object) {
                    for (name, variable) in variables {
                        if let Some(default) = variable.get("default").and_then(Value::as_str) {
                            expanded = expanded.replace(&format!("{{{name}}}"), default);
                        }
                    }
                }
                let description = server.get("description").and_then(Value::as_str);
                Some((expanded, description))
            })
            .collect()
    }

    /// The security requirements of an operation (its own, else the document's).
    pub(crate) fn security(&self, operation: &Operation<'a>) -> Vec<Vec<(&'a str, Vec<&'a str>)>> {
        let list = operation
            .object
            .get("security")
            .or_else(|| self.root.get("security"));
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|requirement| {
                requirement
                    .iter()
                    .map(|(scheme, scopes)| {
                        let scopes = scopes
                            .as_array()
                            .map(|s| s.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        (scheme.as_str(), scopes)
                    })
                    .collect()
            })
            .collect()
    }

    /// The operation index entry the host uses for search and agents.
    pub(crate) fn index_entry(
        &self,
        operation: &Operation<'a>,
    ) -> portico_plugin_sdk::renderer::Operation {
        portico_plugin_sdk::renderer::Operation {
            method: operation.method.to_owned(),
            path: operation.path.to_owned(),
            operation_id: operation.text("operationId").map(str::to_owned),
            summary: operation
                .text("summary")
                .map(|s| s.trim().to_owned())
                .or_else(|| {
                    operation
                        .text("description")
                        .map(|d| one_line(d).into_owned())
                }),
            description: operation.text("description").map(str::to_owned),
            tags: operation.tags.iter().map(|t| (*t).to_owned()).collect(),
            deprecated: operation.deprecated(),
            anchor: operation.anchor.clone(),
        }
    }
}

fn upper(method: &str) -> &'static str {
    match method {
        "get" => "GET",
        "put" => "PUT",
        "post" => "POST",
        "delete" => "DELETE",
        "options" => "OPTIONS",
        "head" => "HEAD",
        "patch" => "PATCH",
        _ => "TRACE",
    }
}

/// A JSON pointer segment with `~1` and `~0` undone.
fn unescape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~").into()
    } else {
        segment.into()
    }
}

/// Undoes `%XX` escapes (references to names with braces or spaces use them).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "Pets", "version": "1"},
            "tags": [{"name": "store"}, {"name": "pets", "description": "Pet things"}],
            "paths": {
                "/pets/{id}": {
                    "parameters": [{"$ref": "#/components/parameters/Id"}, {"name": "v", "in": "query"}],
                    "get": {"operationId": "getPet", "tags": ["pets"],
                            "parameters": [{"name": "v", "in": "query", "required": true}]},
                    "delete": {"summary": "Remove"}
                },
                "/orders": {"post": {"operationId": "getPet", "tags": ["orders"]}}
            },
            "webhooks": {"petAdopted": {"post": {"summary": "A pet was adopted"}}},
            "components": {
                "parameters": {"Id": {"name": "id", "in": "path", "required": true}},
                "schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"type": "string"},
                            "Loop": {"$ref": "#/components/schemas/Loop"},
                            "a/b": {"type": "integer"}}
            }
        })
    }

    #[test]
    fn operations_merge_parameters_and_get_unique_anchors() {
        let doc = doc();
        let spec = Spec::new(doc.as_object().unwrap());
        let ops = &spec.operations;
        assert_eq!(ops.len(), 4);
        assert!(ops[3].webhook && ops[3].path == "petAdopted");
        assert_eq!(ops[3].anchor, "webhook-post-petadopted");
        assert_eq!((ops[0].method, ops[0].path), ("GET", "/pets/{id}"));
        assert_eq!(ops[0].anchor, "op-getpet");
        assert_eq!(ops[2].anchor, "op-getpet-2");
        assert_eq!(ops[1].anchor, "op-delete-pets-id");
        let names: Vec<_> = ops[0]
            .parameters
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p.get("required").is_some()))
            .collect();
        assert_eq!(names, [("id", true), ("v", true)]);
    }

    #[test]
    fn groups_follow_declared_tags_then_first_use_then_untagged() {
        let doc = doc();
        let spec = Spec::new(doc.as_object().unwrap());
        let groups: Vec<_> = spec
            .groups
            .iter()
            .map(|g| (g.name, g.operations.clone()))
            .collect();
        assert_eq!(
            groups,
            [
                ("pets", vec![0]),
                ("orders", vec![2]),
                (UNTAGGED, vec![1]),
                (WEBHOOKS, vec![3])
            ]
        );
        assert_eq!(spec.groups[0].description, Some("Pet things"));
    }

    #[test]
    fn refs_resolve_through_chains_and_loops_end() {
        let doc = doc();
        let spec = Spec::new(doc.as_object().unwrap());
        let resolved_ref = json!({"$ref": "#/components/schemas/A"});
        let resolved = spec.resolve(&resolved_ref);
        assert_eq!(resolved.value, &json!({"type": "string"}));
        assert_eq!(resolved.name, Some("B"));
        let slashed_ref = json!({"$ref": "#/components/schemas/a~1b"});
        let slashed = spec.resolve(&slashed_ref);
        assert_eq!(slashed.value, &json!({"type": "integer"}));
        let looped_ref = json!({"$ref": "#/components/schemas/Loop"});
        let looped = spec.resolve(&looped_ref);
        assert!(looped.value.get("$ref").is_some());
        let missing_ref = json!({"$ref": "#/components/schemas/Nope"});
        let missing = spec.resolve(&missing_ref);
        assert!(missing.name.is_none());
        assert!(
            spec.broken_refs
                .borrow()
                .contains(&"#/components/schemas/Nope".to_owned())
        );
        assert_eq!(spec.schema_anchor("a/b"), Some("schema-a-b"));
    }

    #[test]
    fn versions_are_read_and_swagger_is_refused() {
        let v = |d: Value| check_version(d.as_object().unwrap());
        assert_eq!(v(json!({"openapi": "3.0.3"})), Ok(()));
        assert_eq!(v(json!({"openapi": "3.1.0"})), Ok(()));
        assert!(
            v(json!({"swagger": "2.0"}))
                .unwrap_err()
                .contains("Swagger 2.0")
        );
        assert!(v(json!({"openapi": "4.0"})).is_err());
        assert!(v(json!({})).is_err());
    }

    #[test]
    fn percent_escapes_in_refs_are_decoded() {
        assert_eq!(percent_decode("/paths/~1a%7Bid%7D"), "/paths/~1a{id}");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
