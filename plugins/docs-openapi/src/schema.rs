//! Schemas as trees the HTML and markdown writers both walk: properties,
//! array items, allOf merged, oneOf/anyOf as variants, enums, nullable (3.0
//! `nullable` and 3.1 type lists), read/write-only, constraints and examples.
//!
//! A tree is bounded: `$ref`s are expanded only to a depth and within a node
//! budget (past them, and on a cycle, a node links to the component schema's
//! own section), so GitHub's thousand operations stay a page a browser opens.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::spec::{Spec, field, member};

/// The deepest a tree nests, whatever the document (a guard against hostile input).
const MAX_DEPTH: usize = 12;

/// The most enum values listed.
const MAX_ENUM_VALUES: usize = 40;

/// The longest example shown inline, in bytes of compact JSON.
const MAX_INLINE_EXAMPLE: usize = 200;

/// Where a schema is shown, which decides what is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Sent by the client: read-only properties are left out.
    Request,
    /// Sent by the server: write-only properties are left out.
    Response,
    /// The component's own section: everything, flagged.
    Definition,
}

/// How `oneOf`/`anyOf` variants combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combinator {
    /// Exactly one variant applies.
    OneOf,
    /// One or more variants apply.
    AnyOf,
}

impl Combinator {
    /// The heading of the variants.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Combinator::OneOf => "One of",
            Combinator::AnyOf => "Any of",
        }
    }
}

/// One node of a schema tree: a property, array items, a variant or a root.
#[derive(Debug, Default)]
pub(crate) struct Node<'a> {
    /// The property name (none for roots, items and variants).
    pub(crate) name: Option<Cow<'a, str>>,
    /// `string (date-time)`, `array of Pet`, `object`...
    pub(crate) label: String,
    /// The component schema it refers to, with that schema's anchor.
    pub(crate) reference: Option<(&'a str, String)>,
    /// Whether the parent object requires it.
    pub(crate) required: bool,
    /// Whether `null` is allowed.
    pub(crate) nullable: bool,
    /// `readOnly`.
    pub(crate) read_only: bool,
    /// `writeOnly`.
    pub(crate) write_only: bool,
    /// `deprecated`.
    pub(crate) deprecated: bool,
    /// CommonMark.
    pub(crate) description: Option<&'a str>,
    /// Constraints and defaults, each as a short phrase.
    pub(crate) facts: Vec<String>,
    /// Allowed values as compact JSON.
    pub(crate) enum_values: Vec<String>,
    /// How many enum values were left out.
    pub(crate) more_enum_values: usize,
    /// An example as compact JSON.
    pub(crate) example: Option<String>,
    /// Properties (of the object, or of array items that are objects).
    pub(crate) children: Vec<Node<'a>>,
    /// The schema of map values (`additionalProperties`).
    pub(crate) additional: Option<Box<Node<'a>>>,
    /// The items of an array whose items are not plain objects (nested arrays, variants).
    pub(crate) items: Option<Box<Node<'a>>>,
    /// oneOf/anyOf.
    pub(crate) variants: Option<(Combinator, Vec<Node<'a>>)>,
    /// Why the tree stops here without its content, if it does.
    pub(crate) cut: Option<Cut>,
}

/// Why a node's content is not shown in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// It refers to a schema being expanded above it.
    Cycle,
    /// The expansion depth or node budget is spent: see the component's section.
    Elsewhere,
}

impl Node<'_> {
    /// Whether it has content to expand (properties, items, variants...).
    pub(crate) fn has_content(&self) -> bool {
        !self.children.is_empty()
            || self.additional.is_some()
            || self.items.is_some()
            || self.variants.is_some()
    }
}

/// Builds bounded trees for one place in the docs.
pub(crate) struct Builder<'s, 'a> {
    spec: &'s Spec<'a>,
    usage: Usage,
    /// How many more nodes may be built.
    budget: usize,
    /// How many `$ref`s deep content is expanded in place.
    ref_depth: usize,
    /// Component schemas being expanded, outermost first.
    stack: Vec<&'a str>,
}

impl<'s, 'a> Builder<'s, 'a> {
    /// A builder that expands `$ref`s up to `ref_depth` deep and builds at most `budget` nodes.
    pub(crate) fn new(spec: &'s Spec<'a>, usage: Usage, budget: usize, ref_depth: usize) -> Self {
        Builder {
            spec,
            usage,
            budget,
            ref_depth,
            stack: Vec::new(),
        }
    }

    /// Switches between request and response schemas; the budget carries on.
    pub(crate) fn set_usage(&mut self, usage: Usage) {
        self.usage = usage;
    }

    /// The tree of a schema shown at the root of a request, response or section.
    pub(crate) fn root(&mut self, schema: &'a Value) -> Node<'a> {
        self.node(schema, None, 0)
    }

    /// The tree of a component schema for its own section: its content is
    /// always shown, and refers to other components by link.
    pub(crate) fn definition(&mut self, name: &'a str, schema: &'a Value) -> Node<'a> {
        self.stack.push(name);
        let node = self.node(schema, None, 0);
        self.stack.pop();
        node
    }

    fn node(&mut self, schema: &'a Value, name: Option<Cow<'a, str>>, depth: usize) -> Node<'a> {
        self.budget = self.budget.saturating_sub(1);
        let resolved = self.spec.resolve(schema);
        let target = resolved.value;
        let mut node = Node {
            name,
            ..Node::default()
        };
        if let Some(component) = resolved.name {
            let anchor = self.spec.schema_anchor(component).unwrap_or("schemas");
            node.reference = Some((component, anchor.to_owned()));
            let cycle = self.stack.contains(&component);
            let spent = self.stack.len() >= self.ref_depth || self.budget == 0;
            if cycle || spent || depth >= MAX_DEPTH {
                describe(&mut node, target, schema);
                node.label = label(self.spec, target, 0);
                node.cut = Some(if cycle { Cut::Cycle } else { Cut::Elsewhere });
                return node;
            }
            self.stack.push(component);
            self.fill(&mut node, target, schema, depth);
            self.stack.pop();
        } else {
            self.fill(&mut node, target, schema, depth);
        }
        node
    }

    /// Fills a node from a resolved schema; `written` is the schema as it
    /// appeared (a `$ref` whose siblings may carry a description).
    fn fill(&mut self, node: &mut Node<'a>, target: &'a Value, written: &'a Value, depth: usize) {
        describe(node, target, written);
        node.label = label(self.spec, target, 0);
        let Some(object) = target.as_object() else {
            return;
        };
        if depth >= MAX_DEPTH {
            node.cut = Some(Cut::Elsewhere);
            return;
        }
        let mut properties: Vec<(&'a String, &'a Value)> = Vec::new();
        let mut required: Vec<&'a str> = Vec::new();
        let mut variants: Option<(Combinator, Vec<&'a Value>)> = None;
        self.gather(object, &mut properties, &mut required, &mut variants, 0);

        for (property, schema) in properties {
            if self.budget == 0 {
                node.cut.get_or_insert(Cut::Elsewhere);
                break;
            }
            let flags = self.spec.resolve(schema).value;
            let flag = |key: &str| field(flags, key) == Some(&Value::Bool(true));
            let hidden = match self.usage {
                Usage::Request => flag("readOnly"),
                Usage::Response => flag("writeOnly"),
                Usage::Definition => false,
            };
            if hidden {
                continue;
            }
            let mut child = self.node(schema, Some(Cow::Borrowed(property.as_str())), depth + 1);
            child.required = required.contains(&property.as_str());
            node.children.push(child);
        }

        if let Some(additional) = member(object, "additionalProperties").filter(|a| a.is_object()) {
            let child = self.node(additional, None, depth + 1);
            node.additional = Some(Box::new(child));
        }

        if let Some(items) = member(object, "items").filter(|_| is_array(object)) {
            let mut child = self.node(items, None, depth + 1);
            let plain =
                child.variants.is_none() && child.items.is_none() && child.additional.is_none();
            if plain && (!child.children.is_empty() || child.cut.is_some()) {
                // An array of objects reads best as the objects' properties.
                node.children = std::mem::take(&mut child.children);
                node.reference = node.reference.take().or(child.reference.take());
                node.cut = node.cut.or(child.cut);
            } else if child.has_content() || !child.enum_values.is_empty() {
                node.items = Some(Box::new(child));
            }
        }

        if let Some((combinator, options)) = variants {
            let mut built = Vec::new();
            for option in options {
                if field(self.spec.resolve(option).value, "type") == Some(&Value::from("null")) {
                    node.nullable = true;
                    continue;
                }
                if self.budget == 0 {
                    node.cut.get_or_insert(Cut::Elsewhere);
                    break;
                }
                built.push(self.node(option, None, depth + 1));
            }
            if built.len() == 1 && node.children.is_empty() {
                // `anyOf: [X, {type: null}]` is X, nullable.
                let only = built.pop().expect("one variant");
                node.label = only.label;
                node.reference = node.reference.take().or(only.reference);
                node.description = node.description.or(only.description);
                node.children = only.children;
                node.items = only.items;
                node.additional = only.additional;
                node.variants = only.variants;
                node.cut = node.cut.or(only.cut);
            } else if !built.is_empty() {
                node.variants = Some((combinator, built));
            }
        }
    }

    /// Collects properties, required names and variants of a schema and of
    /// every `allOf` member, following `$ref`s (each component once).
    fn gather(
        &mut self,
        object: &'a Map<String, Value>,
        properties: &mut Vec<(&'a String, &'a Value)>,
        required: &mut Vec<&'a str>,
        variants: &mut Option<(Combinator, Vec<&'a Value>)>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for part in member(object, "allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let resolved = self.spec.resolve(part);
            if let Some(name) = resolved.name
                && self.stack.contains(&name)
            {
                continue;
            }
            if let Some(part) = resolved.value.as_object() {
                if let Some(name) = resolved.name {
                    self.stack.push(name);
                    self.gather(part, properties, required, variants, depth + 1);
                    self.stack.pop();
                } else {
                    self.gather(part, properties, required, variants, depth + 1);
                }
            }
        }
        if let Some(own) = member(object, "properties").and_then(Value::as_object) {
            if properties.is_empty() {
                properties.extend(own.iter());
            } else {
                // allOf members may redefine a property: the later one wins.
                for (name, schema) in own {
                    match properties.iter_mut().find(|(n, _)| *n == name) {
                        Some(existing) => existing.1 = schema,
                        None => properties.push((name, schema)),
                    }
                }
            }
        }
        required.extend(
            member(object, "required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
        for (key, combinator) in [("oneOf", Combinator::OneOf), ("anyOf", Combinator::AnyOf)] {
            if let Some(options) = member(object, key).and_then(Value::as_array)
                && variants.is_none()
            {
                *variants = Some((combinator, options.iter().collect()));
            }
        }
    }
}

fn is_array(object: &Map<String, Value>) -> bool {
    match member(object, "type") {
        Some(Value::String(t)) => t == "array",
        Some(Value::Array(types)) => types.iter().any(|t| t == "array"),
        None => true,
        _ => false,
    }
}

/// Copies the flat facts of a schema onto a node; a description written
/// beside a `$ref` wins over the target's. One pass over the schema's keys:
/// this runs for every node of every tree.
fn describe<'a>(node: &mut Node<'a>, target: &'a Value, written: &'a Value) {
    let text = |v: &'a Value| v.as_str().filter(|s| !s.trim().is_empty());
    node.description = field(written, "description").and_then(text);
    let Some(object) = target.as_object() else {
        return;
    };
    let mut bounds = Bounds::default();
    let mut example = None;
    let mut examples = None;
    for (key, value) in object {
        let on = *value == Value::Bool(true);
        match key.as_str() {
            "description" if node.description.is_none() => node.description = text(value),
            "readOnly" => node.read_only = on,
            "writeOnly" => node.write_only = on,
            "deprecated" => node.deprecated = on,
            "nullable" => node.nullable |= on,
            "type" => {
                node.nullable |=
                    matches!(value, Value::Array(types) if types.iter().any(|t| t == "null"));
            }
            "enum" => {
                if let Some(values) = value.as_array() {
                    node.nullable |= values.contains(&Value::Null);
                    let mut present = values.iter().filter(|v| !v.is_null());
                    node.enum_values = present
                        .by_ref()
                        .take(MAX_ENUM_VALUES)
                        .map(Value::to_string)
                        .collect();
                    node.more_enum_values = present.count();
                }
            }
            "const" if node.enum_values.is_empty() => node.enum_values = vec![value.to_string()],
            "example" => example = Some(value),
            "examples" => examples = value.as_array().and_then(|e| e.first()),
            "minimum" => bounds.minimum = number(value),
            "maximum" => bounds.maximum = number(value),
            "exclusiveMinimum" if on => bounds.exclusive_minimum = true,
            "exclusiveMaximum" if on => bounds.exclusive_maximum = true,
            // OpenAPI 3.1 (JSON Schema 2020-12) writes exclusive bounds as numbers.
            "exclusiveMinimum" => bounds.exclusive_minimum_value = number(value),
            "exclusiveMaximum" => bounds.exclusive_maximum_value = number(value),
            "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
            | "maxProperties" | "multipleOf" => {
                if let Some(n) = number(value) {
                    node.facts.push(format!("{} {n}", phrase(key)));
                }
            }
            "uniqueItems" if on => node.facts.push("unique items".to_owned()),
            "pattern" => {
                if let Some(pattern) = value.as_str() {
                    node.facts.push(format!("pattern {pattern}"));
                }
            }
            "default" => node.facts.push(format!("default {value}")),
            _ => {}
        }
    }
    bounds.push_onto(&mut node.facts);
    node.example = example.or(examples).map(|example| {
        let mut text = example.to_string();
        if text.len() > MAX_INLINE_EXAMPLE {
            let mut end = MAX_INLINE_EXAMPLE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        text
    });
}

fn number(value: &Value) -> Option<String> {
    value.is_number().then(|| value.to_string())
}

/// `minLength` reads as `min length`.
fn phrase(key: &str) -> &'static str {
    match key {
        "minLength" => "min length",
        "maxLength" => "max length",
        "minItems" => "min items",
        "maxItems" => "max items",
        "minProperties" => "min properties",
        "maxProperties" => "max properties",
        _ => "multiple of",
    }
}

/// Numeric bounds, gathered in any key order, as `>= 1` and `< 10`.
#[derive(Default)]
struct Bounds {
    minimum: Option<String>,
    maximum: Option<String>,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
    exclusive_minimum_value: Option<String>,
    exclusive_maximum_value: Option<String>,
}

impl Bounds {
    fn push_onto(self, facts: &mut Vec<String>) {
        match (self.minimum, self.exclusive_minimum_value) {
            (Some(min), _) if self.exclusive_minimum => facts.push(format!("> {min}")),
            (Some(min), _) => facts.push(format!(">= {min}")),
            (None, Some(min)) => facts.push(format!("> {min}")),
            (None, None) => {}
        }
        match (self.maximum, self.exclusive_maximum_value) {
            (Some(max), _) if self.exclusive_maximum => facts.push(format!("< {max}")),
            (Some(max), _) => facts.push(format!("<= {max}")),
            (None, Some(max)) => facts.push(format!("< {max}")),
            (None, None) => {}
        }
    }
}

/// A short type label: `string (email)`, `array of Pet`, `object`, `integer or string`.
pub(crate) fn label(spec: &Spec<'_>, schema: &Value, depth: usize) -> String {
    let resolved = spec.resolve(schema);
    let Some(object) = resolved.value.as_object() else {
        return match resolved.value {
            Value::Bool(false) => "never".to_owned(),
            _ => "any".to_owned(),
        };
    };
    let types: Vec<&str> = match member(object, "type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    };
    let base = match types.as_slice() {
        [] if member(object, "properties").is_some() || member(object, "allOf").is_some() => {
            "object".to_owned()
        }
        [] if member(object, "items").is_some() => "array".to_owned(),
        [] if member(object, "oneOf").is_some() => "one of".to_owned(),
        [] if member(object, "anyOf").is_some() => "any of".to_owned(),
        [] if member(object, "enum").is_some() => "enum".to_owned(),
        [] => "any".to_owned(),
        [single] => (*single).to_owned(),
        several => several.join(" or "),
    };
    if base == "array" || types.contains(&"array") {
        let items = match member(object, "items") {
            Some(items) if depth < 3 => {
                let item = spec.resolve(items);
                item.name
                    .map(str::to_owned)
                    .unwrap_or_else(|| label(spec, item.value, depth + 1))
            }
            _ => "any".to_owned(),
        };
        return format!("array of {items}");
    }
    match member(object, "format").and_then(Value::as_str) {
        Some(format) => format!("{base} ({format})"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec_doc() -> Value {
        json!({
            "openapi": "3.0.3",
            "paths": {},
            "components": {"schemas": {
                "Pet": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "id": {"type": "integer", "format": "int64", "readOnly": true},
                        "name": {"type": "string", "example": "Rex", "minLength": 1},
                        "secret": {"type": "string", "writeOnly": true},
                        "status": {"type": "string", "enum": ["available", "sold", null], "nullable": true},
                        "owner": {"$ref": "#/components/schemas/Person"},
                        "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}
                    }
                },
                "Person": {"type": "object", "properties": {
                    "name": {"type": ["string", "null"]},
                    "pets": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}
                }},
                "Tag": {"type": "object", "properties": {"label": {"type": "string"}}},
                "Dog": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                                   {"type": "object", "required": ["bark"], "properties": {"bark": {"type": "boolean"}}}]},
                "Shape": {"oneOf": [{"$ref": "#/components/schemas/Tag"}, {"type": "string"}],
                          "discriminator": {"propertyName": "kind"}},
                "MaybeTag": {"anyOf": [{"$ref": "#/components/schemas/Tag"}, {"type": "null"}]}
            }}
        })
    }

    fn with_spec(check: impl FnOnce(&Spec<'_>)) {
        let doc = spec_doc();
        let spec = Spec::new(doc.as_object().unwrap());
        check(&spec);
    }

    fn schema(name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    fn child<'n, 'a>(node: &'n Node<'a>, name: &str) -> Option<&'n Node<'a>> {
        node.children
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
    }

    #[test]
    fn a_request_leaves_out_read_only_and_a_response_write_only() {
        with_spec(|spec| {
            let pet = schema("Pet");
            let request = Builder::new(spec, Usage::Request, 100, 2).root(&pet);
            assert!(child(&request, "id").is_none());
            assert!(child(&request, "secret").is_some());
            let response = Builder::new(spec, Usage::Response, 100, 2).root(&pet);
            assert!(child(&response, "id").is_some());
            assert!(child(&response, "secret").is_none());
            assert_eq!(response.reference.as_ref().unwrap().0, "Pet");
            let name = child(&response, "name").unwrap();
            assert!(name.required);
            assert_eq!(name.example.as_deref(), Some("\"Rex\""));
            assert_eq!(name.facts, ["min length 1"]);
            let status = child(&response, "status").unwrap();
            assert!(status.nullable);
            assert_eq!(status.enum_values, ["\"available\"", "\"sold\""]);
            assert_eq!(child(&response, "id").unwrap().label, "integer (int64)");
        });
    }

    #[test]
    fn cycles_stop_with_a_link_and_depth_is_bounded() {
        with_spec(|spec| {
            let pet = schema("Pet");
            let tree = Builder::new(spec, Usage::Response, 1000, 5).root(&pet);
            let owner = child(&tree, "owner").unwrap();
            assert!(
                child(owner, "name").unwrap().nullable,
                "3.1 type list with null"
            );
            let pets = child(owner, "pets").unwrap();
            assert_eq!(pets.label, "array of Pet");
            assert_eq!(pets.cut, Some(Cut::Cycle));
            assert!(pets.children.is_empty());

            let shallow = Builder::new(spec, Usage::Response, 1000, 1).root(&pet);
            let owner = child(&shallow, "owner").unwrap();
            assert_eq!(owner.cut, Some(Cut::Elsewhere));
            assert_eq!(owner.reference.as_ref().unwrap().1, "schema-person");
            let tags = child(&shallow, "tags").unwrap();
            assert_eq!(tags.label, "array of Tag");
        });
    }

    #[test]
    fn all_of_merges_properties_and_required() {
        with_spec(|spec| {
            let dog = &spec.component("schemas").unwrap()["Dog"];
            let tree = Builder::new(spec, Usage::Definition, 100, 0).definition("Dog", dog);
            let names: Vec<_> = tree
                .children
                .iter()
                .map(|c| c.name.as_deref().unwrap())
                .collect();
            assert_eq!(
                names,
                ["id", "name", "secret", "status", "owner", "tags", "bark"]
            );
            assert!(child(&tree, "bark").unwrap().required);
            assert!(child(&tree, "name").unwrap().required);
            assert!(child(&tree, "id").unwrap().read_only);
            assert_eq!(tree.label, "object");
        });
    }

    #[test]
    fn one_of_becomes_variants_and_any_of_with_null_is_nullable() {
        with_spec(|spec| {
            let shape_ref = schema("Shape");
            let shape = Builder::new(spec, Usage::Response, 100, 2).root(&shape_ref);
            let (combinator, variants) = shape.variants.as_ref().unwrap();
            assert_eq!(*combinator, Combinator::OneOf);
            assert_eq!(variants.len(), 2);
            assert_eq!(variants[0].reference.as_ref().unwrap().0, "Tag");
            assert_eq!(variants[1].label, "string");
            let maybe_ref = schema("MaybeTag");
            let maybe = Builder::new(spec, Usage::Response, 100, 2).root(&maybe_ref);
            assert!(maybe.nullable, "the null variant becomes the flag");
            assert!(maybe.variants.is_none());
            assert_eq!(maybe.reference.as_ref().unwrap().0, "MaybeTag");
            assert!(child(&maybe, "label").is_some(), "Tag's content in place");
        });
    }

    #[test]
    fn the_budget_caps_the_tree() {
        with_spec(|spec| {
            let pet = schema("Pet");
            let tree = Builder::new(spec, Usage::Response, 3, 5).root(&pet);
            assert!(tree.children.len() <= 2, "{}", tree.children.len());
            assert_eq!(tree.cut, Some(Cut::Elsewhere));
        });
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let mut deep = json!({"type": "string"});
        for _ in 0..500 {
            deep = json!({"type": "object", "properties": {"x": deep}});
        }
        let doc = json!({"openapi": "3.1.0", "paths": {}});
        let spec = Spec::new(doc.as_object().unwrap());
        let tree = Builder::new(&spec, Usage::Response, 10_000, 3).root(&deep);
        let mut depth = 0;
        let mut node = &tree;
        while let Some(next) = node.children.first() {
            node = next;
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH, "{depth}");
    }
}
