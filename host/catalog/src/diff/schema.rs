//! Comparing two JSON Schemas in a direction: what clients send (request) or receive (response).
//!
//! `$ref`s are followed in each document and `allOf` parts are merged into one view. Results of
//! a pair reached through a `$ref` are memoised, so a schema shared by a thousand operations is
//! compared once, and a pair already being compared (a recursive schema) is not entered again.
//! Changes carry the named schema they are in, so the diff can report each of them once.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use super::{Resolved, Rule, list, resolve};

mod keywords;
mod union;
mod view;

use keywords::{Tightening, show};
use view::{View, access, unwrap};

/// Which way values travel, which decides whether narrowing or widening breaks clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    /// Clients send it: parameters and request bodies. Narrowing breaks.
    Request,
    /// Clients receive it: response bodies and headers. Widening breaks.
    Response,
}

/// A change inside a schema, `path` relative to the schema compared (`owner.name`, `[].id`).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) rule: Rule,
    pub(crate) path: String,
    pub(crate) message: String,
    /// The innermost named schema (`#/components/schemas/Owner`) the change is in, if any.
    pub(crate) origin: Option<Rc<Origin>>,
}

/// Where in a named schema a change is: the same change met through many uses of the schema
/// has the same origin, which lets the diff report it once.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    /// The schema's name: the last segment of its `$ref`.
    pub(crate) schema: String,
    /// The path inside it.
    pub(crate) path: String,
}

type Key = (usize, usize, Direction);

/// The schema comparer of one diff, with its memo.
pub(crate) struct Schemas<'a> {
    old: &'a Value,
    new: &'a Value,
    memo: HashMap<Key, Rc<[Found]>>,
    active: HashSet<Key>,
    empty: Rc<[Found]>,
}

impl<'a> Schemas<'a> {
    /// A comparer for schemas of the `old` and `new` documents (their roots, for `$ref`s).
    pub(crate) fn new(old: &'a Value, new: &'a Value) -> Schemas<'a> {
        Schemas {
            old,
            new,
            memo: HashMap::new(),
            active: HashSet::new(),
            empty: Rc::from(Vec::new()),
        }
    }

    /// The changes from `old` to `new`, with paths relative to them.
    pub(crate) fn compare(
        &mut self,
        old: &'a Value,
        new: &'a Value,
        dir: Direction,
    ) -> Rc<[Found]> {
        let old = unwrap(self.old, resolve(self.old, old));
        let new = unwrap(self.new, resolve(self.new, new));
        // Inline schemas are met once per use of their container, so only pairs reached
        // through a `$ref` are worth remembering; any pair may recur through `allOf`.
        let memoise = old.via_ref || new.via_ref;
        let key = (
            std::ptr::from_ref(old.value) as usize,
            std::ptr::from_ref(new.value) as usize,
            dir,
        );
        if memoise && let Some(found) = self.memo.get(&key) {
            return found.clone();
        }
        if !self.active.insert(key) {
            // A recursive schema: what changes inside is reported where the cycle began.
            return self.empty.clone();
        }
        let mut out = Vec::new();
        self.compare_resolved(old, new, dir, &mut out);
        self.active.remove(&key);
        if let Some(schema) = new.name.or(old.name) {
            for f in out.iter_mut().filter(|f| f.origin.is_none()) {
                f.origin = Some(Rc::new(Origin {
                    schema: schema.to_owned(),
                    path: f.path.clone(),
                }));
            }
        }
        let found: Rc<[Found]> = if out.is_empty() {
            self.empty.clone()
        } else {
            out.into()
        };
        if memoise {
            self.memo.insert(key, found.clone());
        }
        found
    }

    /// Compares a pair below the current one, prefixing what it finds with `step`.
    fn nested(
        &mut self,
        step: &str,
        old: &'a Value,
        new: &'a Value,
        dir: Direction,
        out: &mut Vec<Found>,
    ) {
        for f in self.compare(old, new, dir).iter() {
            out.push(Found {
                rule: f.rule,
                path: prefix(step, &f.path),
                message: f.message.clone(),
                origin: f.origin.clone(),
            });
        }
    }

    fn compare_resolved(
        &mut self,
        old: Resolved<'a>,
        new: Resolved<'a>,
        dir: Direction,
        out: &mut Vec<Found>,
    ) {
        let ov = View::of(self.old, old.value);
        let nv = View::of(self.new, new.value);
        let mut here: Vec<(Rule, String)> = Vec::new();
        let mut below = Vec::new();
        if !ov.flag("deprecated") && nv.flag("deprecated") {
            here.push((Rule::PropertyDeprecated, "Marked deprecated.".into()));
        }
        let (old_union, new_union) = (ov.union(), nv.union());
        let one_sided = old_union.is_some() != new_union.is_some();
        if old_union.is_some() || new_union.is_some() {
            self.unions(old, &ov, new, &nv, dir, &mut below);
        } else {
            keywords::types(&ov, &nv, dir, &mut here);
        }
        // Nothing below an `array` that became an `object` is worth listing.
        let unrelated = !keywords::overlap(ov.types(), nv.types());
        if old_union.is_none() && new_union.is_none() && !unrelated {
            keywords::enumeration(&ov, &nv, dir, &mut here);
        }
        if !one_sided && !unrelated {
            self.keywords_and_children(&ov, &nv, dir, &mut here, &mut below);
        }
        out.extend(here.into_iter().map(|(rule, message)| Found {
            rule,
            path: String::new(),
            message,
            origin: None,
        }));
        out.append(&mut below);
    }

    fn keywords_and_children(
        &mut self,
        ov: &View<'a>,
        nv: &View<'a>,
        dir: Direction,
        here: &mut Vec<(Rule, String)>,
        below: &mut Vec<Found>,
    ) {
        for (tightening, message) in keywords::constraints(ov, nv) {
            let rule = match (dir, tightening) {
                (Direction::Request, Tightening::Narrowed | Tightening::Changed) => {
                    Rule::RequestConstraintNarrowed
                }
                (Direction::Request, Tightening::Widened) => Rule::RequestConstraintWidened,
                (Direction::Response, Tightening::Widened | Tightening::Changed) => {
                    Rule::ResponseConstraintWidened
                }
                (Direction::Response, Tightening::Narrowed) => Rule::ResponseConstraintNarrowed,
            };
            here.push((rule, message));
        }
        if dir == Direction::Request {
            let message = match (ov.get("default"), nv.get("default")) {
                (None, Some(n)) => Some(format!("Default `{}` was added.", show(n))),
                (Some(o), None) => Some(format!("Default `{}` was removed.", show(o))),
                (Some(o), Some(n)) if o != n => Some(format!(
                    "Default changed from `{}` to `{}`.",
                    show(o),
                    show(n)
                )),
                _ => None,
            };
            if let Some(message) = message {
                here.push((Rule::RequestDefaultChanged, message));
            }
        }
        self.properties(ov, nv, dir, below);
        if let (Some(o), Some(n)) = (ov.get("items"), nv.get("items"))
            && !o.is_array()
            && !n.is_array()
        {
            self.nested("[]", o, n, dir, below);
        }
        if let (Some(o), Some(n)) = (
            ov.get("additionalProperties").filter(|v| v.is_object()),
            nv.get("additionalProperties").filter(|v| v.is_object()),
        ) {
            self.nested("*", o, n, dir, below);
        }
    }

    fn properties(&mut self, ov: &View<'a>, nv: &View<'a>, dir: Direction, out: &mut Vec<Found>) {
        let (old_props, new_props) = (ov.properties(), nv.properties());
        if old_props.is_empty() && new_props.is_empty() {
            return;
        }
        let (old_required, new_required) = (ov.required(), nv.required());
        let names: std::collections::BTreeSet<&str> =
            old_props.keys().chain(new_props.keys()).copied().collect();
        for name in names {
            let (old_prop, new_prop) = (old_props.get(name), new_props.get(name));
            let mut found = |rule, message: String| {
                out.push(Found {
                    rule,
                    path: name.to_owned(),
                    message,
                    origin: None,
                });
            };
            let rule = match (old_prop, new_prop, dir) {
                (None, None, _) => None,
                (Some(o), None, Direction::Request) => {
                    (!access(self.old, o).read_only).then_some(Rule::RequestPropertyRemoved)
                }
                (Some(o), None, Direction::Response) => (!access(self.old, o).write_only)
                    .then_some(if old_required.contains(name) {
                        Rule::ResponsePropertyRemoved
                    } else {
                        Rule::ResponseOptionalPropertyRemoved
                    }),
                (None, Some(n), Direction::Request) => {
                    let access = access(self.new, n);
                    (!access.read_only).then_some(
                        if new_required.contains(name) && !access.has_default {
                            Rule::RequestRequiredPropertyAdded
                        } else {
                            Rule::RequestPropertyAdded
                        },
                    )
                }
                (None, Some(n), Direction::Response) => {
                    (!access(self.new, n).write_only).then_some(Rule::ResponsePropertyAdded)
                }
                (Some(_), Some(_), _) => None,
            };
            if let Some(rule) = rule {
                let message = match rule {
                    Rule::RequestPropertyRemoved
                    | Rule::ResponsePropertyRemoved
                    | Rule::ResponseOptionalPropertyRemoved => {
                        let required = if old_required.contains(name) {
                            "Required property"
                        } else {
                            "Property"
                        };
                        format!("{required} `{name}` was removed.")
                    }
                    Rule::RequestRequiredPropertyAdded => {
                        format!("New required property `{name}`.")
                    }
                    _ => format!("New property `{name}`."),
                };
                found(rule, message);
                continue;
            }
            let (Some(o), Some(n)) = (old_prop, new_prop) else {
                continue;
            };
            let (oa, na) = (access(self.old, o), access(self.new, n));
            let required = (old_required.contains(name), new_required.contains(name));
            match dir {
                Direction::Request => {
                    if !oa.read_only && na.read_only {
                        let message = format!("Property `{name}` became read-only.");
                        found(Rule::RequestPropertyBecameReadOnly, message);
                        continue;
                    }
                    if na.read_only {
                        continue;
                    }
                    match required {
                        (false, true) if !na.has_default => {
                            let message = format!("Property `{name}` became required.");
                            found(Rule::RequestPropertyBecameRequired, message);
                        }
                        (true, false) => {
                            let message = format!("Property `{name}` became optional.");
                            found(Rule::RequestPropertyBecameOptional, message);
                        }
                        _ => {}
                    }
                }
                Direction::Response => {
                    if !oa.write_only && na.write_only {
                        let message = format!("Property `{name}` became write-only.");
                        found(Rule::ResponsePropertyBecameWriteOnly, message);
                        continue;
                    }
                    if na.write_only {
                        continue;
                    }
                    match required {
                        (true, false) => {
                            let message = format!("Property `{name}` became optional.");
                            found(Rule::ResponsePropertyBecameOptional, message);
                        }
                        (false, true) => {
                            let message = format!("Property `{name}` became required.");
                            found(Rule::ResponsePropertyBecameRequired, message);
                        }
                        _ => {}
                    }
                }
            }
            self.nested(name, o, n, dir, out);
        }
    }
}

/// `a` then `b`: `owner` + `name` is `owner.name`, `tags` + `[]` is `tags[]`.
fn prefix(step: &str, rest: &str) -> String {
    if rest.is_empty() {
        step.to_owned()
    } else if rest.starts_with('[') {
        format!("{step}{rest}")
    } else {
        format!("{step}.{rest}")
    }
}

/// Lists values for a message: `` `a`, `b` and `c` ``.
pub(super) fn values(items: &[&Value]) -> String {
    let shown: Vec<String> = items.iter().map(|v| show(v)).collect();
    list(&shown)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::tests::{Case, case, check, op_doc};
    use crate::diff::{Change, diff};

    /// A document whose `GET /pets` sends (request) or returns (response) `schema` as JSON.
    pub(crate) fn body(dir: Direction, schema: Value) -> Value {
        let content = json!({"application/json": {"schema": schema}});
        match dir {
            Direction::Request => op_doc(json!({"requestBody": {"content": content}})),
            Direction::Response => op_doc(json!({
                "responses": {"200": {"description": "ok", "content": content}}
            })),
        }
    }

    fn req(rule: Rule, old: Value, new: Value) -> Case {
        case(
            rule,
            body(Direction::Request, old),
            body(Direction::Request, new),
        )
    }

    fn res(rule: Rule, old: Value, new: Value) -> Case {
        case(
            rule,
            body(Direction::Response, old),
            body(Direction::Response, new),
        )
    }

    pub(crate) fn object(props: Value, required: &[&str]) -> Value {
        json!({"type": "object", "properties": props, "required": required})
    }

    pub(crate) fn cases() -> Vec<Case> {
        let s = |t: &str| json!({"type": t});
        let e = |values: Value| json!({"type": "string", "enum": values});
        let two = json!({"a": {"type": "string"}, "b": {"type": "string"}});
        let one = json!({"a": {"type": "string"}});
        let ro = json!({"a": {"type": "string"}, "b": {"type": "string", "readOnly": true}});
        let wo = json!({"a": {"type": "string"}, "b": {"type": "string", "writeOnly": true}});
        let union = |branches: Value| json!({"oneOf": branches});
        vec![
            req(Rule::RequestTypeChanged, s("number"), s("integer")),
            req(Rule::RequestTypeWidened, s("integer"), s("number")),
            req(
                Rule::RequestEnumValueRemoved,
                e(json!(["a", "b"])),
                e(json!(["a"])),
            ),
            req(
                Rule::RequestEnumValueAdded,
                e(json!(["a"])),
                e(json!(["a", "b"])),
            ),
            req(Rule::RequestEnumAdded, s("string"), e(json!(["a"]))),
            req(Rule::RequestEnumRemoved, e(json!(["a"])), s("string")),
            req(
                Rule::RequestConstraintNarrowed,
                json!({"type": "string", "maxLength": 10}),
                json!({"type": "string", "maxLength": 5}),
            ),
            req(
                Rule::RequestConstraintWidened,
                json!({"type": "integer", "minimum": 1}),
                json!({"type": "integer"}),
            ),
            req(
                Rule::RequestDefaultChanged,
                json!({"type": "integer", "default": 10}),
                json!({"type": "integer", "default": 20}),
            ),
            req(
                Rule::RequestPropertyAdded,
                object(one.clone(), &[]),
                object(two.clone(), &[]),
            ),
            req(
                Rule::RequestRequiredPropertyAdded,
                object(one.clone(), &[]),
                object(two.clone(), &["b"]),
            ),
            req(
                Rule::RequestPropertyRemoved,
                object(two.clone(), &[]),
                object(one.clone(), &[]),
            ),
            req(
                Rule::RequestPropertyBecameRequired,
                object(two.clone(), &[]),
                object(two.clone(), &["b"]),
            ),
            req(
                Rule::RequestPropertyBecameOptional,
                object(two.clone(), &["b"]),
                object(two.clone(), &[]),
            ),
            req(
                Rule::RequestPropertyBecameReadOnly,
                object(two.clone(), &[]),
                object(ro, &[]),
            ),
            req(
                Rule::RequestUnionBranchAdded,
                union(json!([s("string")])),
                union(json!([s("string"), s("integer")])),
            ),
            req(
                Rule::RequestUnionBranchRemoved,
                union(json!([s("string"), s("integer")])),
                union(json!([s("string")])),
            ),
            res(Rule::ResponseTypeChanged, s("integer"), s("number")),
            res(Rule::ResponseTypeNarrowed, s("number"), s("integer")),
            res(
                Rule::ResponseEnumValueAdded,
                e(json!(["a"])),
                e(json!(["a", "b"])),
            ),
            res(
                Rule::ResponseEnumValueRemoved,
                e(json!(["a", "b"])),
                e(json!(["a"])),
            ),
            res(Rule::ResponseEnumRemoved, e(json!(["a"])), s("string")),
            res(Rule::ResponseEnumAdded, s("string"), e(json!(["a"]))),
            res(
                Rule::ResponseConstraintWidened,
                json!({"type": "array", "maxItems": 10}),
                json!({"type": "array"}),
            ),
            res(
                Rule::ResponseConstraintNarrowed,
                json!({"type": "string"}),
                json!({"type": "string", "pattern": "^[a-z]+$"}),
            ),
            res(
                Rule::ResponsePropertyAdded,
                object(one.clone(), &[]),
                object(two.clone(), &[]),
            ),
            res(
                Rule::ResponsePropertyRemoved,
                object(two.clone(), &["b"]),
                object(one.clone(), &[]),
            ),
            res(
                Rule::ResponseOptionalPropertyRemoved,
                object(two.clone(), &[]),
                object(one.clone(), &[]),
            ),
            res(
                Rule::ResponsePropertyBecameOptional,
                object(two.clone(), &["b"]),
                object(two.clone(), &[]),
            ),
            res(
                Rule::ResponsePropertyBecameRequired,
                object(two.clone(), &[]),
                object(two.clone(), &["b"]),
            ),
            res(
                Rule::ResponsePropertyBecameWriteOnly,
                object(two.clone(), &[]),
                object(wo, &[]),
            ),
            res(
                Rule::ResponseUnionBranchAdded,
                union(json!([s("string")])),
                union(json!([s("string"), s("integer")])),
            ),
            res(
                Rule::ResponseUnionBranchRemoved,
                union(json!([s("string"), s("integer")])),
                union(json!([s("string")])),
            ),
            res(
                Rule::PropertyDeprecated,
                object(one.clone(), &[]),
                object(json!({"a": {"type": "string", "deprecated": true}}), &[]),
            ),
        ]
    }

    #[test]
    fn every_schema_case_reports_its_rule() {
        check(&cases());
    }

    pub(crate) fn changes(dir: Direction, old: Value, new: Value) -> Vec<Change> {
        diff(&body(dir, old), &body(dir, new)).unwrap().changes
    }

    pub(crate) fn one_change(dir: Direction, old: Value, new: Value) -> (Rule, String, String) {
        let mut all = changes(dir, old, new);
        assert_eq!(all.len(), 1, "{all:#?}");
        let c = all.remove(0);
        (c.rule, c.location, c.message)
    }

    #[test]
    fn nested_property_changes_are_located_by_their_path_through_refs_and_items() {
        let pets = |owner_required: &[&str]| {
            let mut doc = body(
                Direction::Response,
                json!({"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}),
            );
            doc["components"] = json!({"schemas": {
                "Pet": object(json!({"owner": {"$ref": "#/components/schemas/Owner"}}), &[]),
                "Owner": object(json!({"name": {"type": "string"}}), owner_required),
            }});
            doc
        };
        let result = diff(&pets(&["name"]), &pets(&[])).unwrap();
        let c = &result.changes[0];
        assert_eq!(result.changes.len(), 1, "{:#?}", result.changes);
        assert_eq!(c.rule, Rule::ResponsePropertyBecameOptional);
        assert_eq!(
            c.location,
            "GET /pets › response 200 › application/json › [].owner.name"
        );
        assert_eq!(c.message, "Property `name` became optional.");
    }

    #[test]
    fn a_change_in_a_shared_schema_is_reported_once_where_it_is_shallowest() {
        let shared = |required: &[&str]| {
            let pet = json!({"$ref": "#/components/schemas/Pet"});
            let mut doc = body(Direction::Response, json!({"type": "array", "items": pet}));
            doc["paths"]["/pets"]["post"] = json!({"responses": {"201": {
                "description": "created",
                "content": {"application/json": {"schema": pet}}
            }}});
            doc["components"] = json!({"schemas": {
                "Pet": object(json!({"id": {"type": "integer"}}), required)
            }});
            doc
        };
        let (old, new) = (shared(&["id"]), shared(&[]));
        let result = diff(&old, &new).unwrap();
        assert_eq!(result.changes.len(), 1, "{:#?}", result.changes);
        let change = &result.changes[0];
        assert_eq!(change.rule, Rule::ResponsePropertyBecameOptional);
        assert_eq!(
            change.location,
            "POST /pets › response 201 › application/json › id"
        );
        assert_eq!(
            change.message,
            "Property `id` became optional (in schema `Pet`, used in 2 places)."
        );
        let mut schemas = Schemas::new(&old, &new);
        let pet = json!({"$ref": "#/components/schemas/Pet"});
        let first = schemas.compare(&pet, &pet, Direction::Response);
        let again = schemas.compare(&pet, &pet, Direction::Response);
        assert!(
            Rc::ptr_eq(&first, &again),
            "the second comparison comes from the memo"
        );
    }

    #[test]
    fn recursive_schemas_end_and_report_changes_inside_the_cycle() {
        let tree = |value_type: &str| {
            let mut doc = body(
                Direction::Response,
                json!({"$ref": "#/components/schemas/Node"}),
            );
            doc["components"] = json!({"schemas": {"Node": object(json!({
                "value": {"type": value_type},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "parent": {"allOf": [{"$ref": "#/components/schemas/Node"}]}
            }), &[])}});
            doc
        };
        let (rule, location, message) = {
            let result = diff(&tree("integer"), &tree("string")).unwrap();
            assert_eq!(result.changes.len(), 1, "{:#?}", result.changes);
            let c = result.changes[0].clone();
            (c.rule, c.location, c.message)
        };
        assert_eq!(rule, Rule::ResponseTypeChanged);
        assert!(location.ends_with("application/json › value"), "{location}");
        assert_eq!(message, "Type changed from `integer` to `string`.");
        assert!(diff(&tree("integer"), &tree("integer")).unwrap().is_empty());
    }

    #[test]
    fn read_only_and_write_only_properties_do_not_count_where_they_never_travel() {
        let props = json!({"a": {"type": "string"}, "id": {"type": "string", "readOnly": true}});
        let added = changes(
            Direction::Request,
            object(json!({"a": {"type": "string"}}), &[]),
            object(props.clone(), &["id"]),
        );
        assert!(added.is_empty(), "{added:#?}");
        let secret = json!({"a": {"type": "string"}, "pw": {"type": "string", "writeOnly": true}});
        let removed = changes(
            Direction::Response,
            object(secret, &["pw"]),
            object(json!({"a": {"type": "string"}}), &[]),
        );
        assert!(removed.is_empty(), "{removed:#?}");
        // Required with a default: clients that omit it still succeed.
        let with_default = json!({"a": {"type": "string"}, "n": {"type": "integer", "default": 1}});
        let added = changes(
            Direction::Request,
            object(json!({"a": {"type": "string"}}), &[]),
            object(with_default, &["n"]),
        );
        assert_eq!(
            added.iter().map(|c| c.rule).collect::<Vec<_>>(),
            [Rule::RequestPropertyAdded]
        );
    }
}
