//! JSON Schema validation as OpenAPI uses it (3.0's dialect with `nullable`,
//! 3.1's type arrays and `const`), collecting every violation with where it
//! is (`body.tags[1]`) instead of stopping at the first. `format` is not
//! checked. Work is bounded: a step budget and a depth limit stop
//! self-referencing or explosive schemas.

use serde_json::{Map, Value};

use crate::spec::Spec;

/// The most violations reported for one call.
pub(crate) const MAX_VIOLATIONS: usize = 100;

/// The deepest a schema is followed into a value.
const MAX_DEPTH: usize = 64;

/// Schema nodes visited for one call at most.
const MAX_STEPS: usize = 200_000;

/// The longest `pattern` compiled.
const MAX_PATTERN: usize = 1_000;

/// One way a call breaks the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// Where: `query.limit`, `body.name`, `body.tags[0]`, `header.X-Trace`.
    pub(crate) location: String,
    /// What is wrong, e.g. `must be at most 100`.
    pub(crate) message: String,
}

/// Whether a value goes into the API or comes out of it: `readOnly`
/// properties are not required in requests, `writeOnly` ones in responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    /// Used by the tests, which check generated answers.
    #[cfg_attr(not(test), allow(dead_code))]
    Response,
}

/// A validation run: the document, the direction, and the budget left.
pub(crate) struct Validator<'s> {
    spec: &'s Spec,
    direction: Direction,
    steps: usize,
    /// The violations found so far.
    pub(crate) violations: Vec<Violation>,
}

impl<'s> Validator<'s> {
    pub(crate) fn new(spec: &'s Spec, direction: Direction) -> Validator<'s> {
        Validator {
            spec,
            direction,
            steps: 0,
            violations: Vec::new(),
        }
    }

    /// Records a violation (up to [`MAX_VIOLATIONS`]).
    pub(crate) fn report(&mut self, location: &str, message: impl Into<String>) {
        let message = message.into();
        let seen = self
            .violations
            .iter()
            .any(|v| v.location == location && v.message == message);
        if !seen && self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(Violation {
                location: location.to_owned(),
                message,
            });
        }
    }

    /// Checks `value` against `schema`, recording what is wrong under `location`.
    pub(crate) fn check(&mut self, schema: &Value, value: &Value, location: &str) {
        self.walk(schema, value, location, 0);
    }

    /// Whether `value` matches `schema`, without recording anything.
    fn matches(&mut self, schema: &Value, value: &Value, location: &str, depth: usize) -> bool {
        let kept = std::mem::take(&mut self.violations);
        self.walk(schema, value, location, depth);
        let matched = self.violations.is_empty();
        self.violations = kept;
        matched
    }

    fn walk(&mut self, schema: &Value, value: &Value, at: &str, depth: usize) {
        self.steps += 1;
        if self.steps > MAX_STEPS || depth > MAX_DEPTH {
            if self.steps == MAX_STEPS + 1 || depth == MAX_DEPTH + 1 {
                self.report(at, "is too deeply nested to check against the schema");
            }
            return;
        }
        let schema = self.spec.resolve(schema);
        let object = match schema {
            Value::Bool(false) => return self.report(at, "is not allowed here"),
            Value::Object(object) => object,
            _ => return,
        };
        if value.is_null() && self.spec.v30 && object.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            let Some(list) = object.get(key).and_then(Value::as_array) else {
                continue;
            };
            match key {
                "allOf" => {
                    for sub in list {
                        self.walk(sub, value, at, depth + 1);
                    }
                }
                _ => {
                    let matching = list
                        .iter()
                        .filter(|sub| self.matches(sub, value, at, depth + 1))
                        .count();
                    if key == "anyOf" && matching == 0 {
                        self.report(at, "does not match any of the schemas it may take");
                    } else if key == "oneOf" && matching != 1 {
                        self.report(
                            at,
                            format!(
                                "must match exactly one of the schemas it may take, not {matching}"
                            ),
                        );
                    }
                }
            }
        }
        if let Some(not) = object.get("not")
            && self.matches(not, value, at, depth + 1)
        {
            self.report(at, "matches a schema it must not match");
        }
        if !self.type_ok(object, value, at) {
            // Further keywords would only repeat the type mismatch.
            return;
        }
        if let Some(allowed) = object.get("enum").and_then(Value::as_array)
            && !allowed.iter().any(|a| same(a, value))
        {
            let list: Vec<String> = allowed.iter().take(20).map(short).collect();
            self.report(at, format!("must be one of: {}", list.join(", ")));
        }
        if let Some(constant) = object.get("const")
            && !same(constant, value)
        {
            self.report(at, format!("must be {}", short(constant)));
        }
        match value {
            Value::String(text) => self.string(object, text, at),
            Value::Number(_) => self.number(object, value, at),
            Value::Array(items) => self.array(object, items, at, depth),
            Value::Object(members) => self.object(object, members, at, depth),
            _ => {}
        }
    }

    /// Checks `type` (a name or, in 3.1, a list; `nullable` in 3.0).
    fn type_ok(&mut self, schema: &Map<String, Value>, value: &Value, at: &str) -> bool {
        let mut types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => return true,
        };
        if schema.get("nullable") == Some(&Value::Bool(true)) {
            types.push("null");
        }
        if types.iter().any(|t| is_type(t, value)) {
            return true;
        }
        let names: Vec<String> = types.iter().map(|t| article(t)).collect();
        self.report(at, format!("must be {}", names.join(" or ")));
        false
    }

    fn string(&mut self, schema: &Map<String, Value>, text: &str, at: &str) {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            self.report(at, format!("must be at least {min} characters long"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            self.report(at, format!("must be at most {max} characters long"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && pattern.len() <= MAX_PATTERN
            && let Ok(regex) = regex_lite::Regex::new(pattern)
            && !regex.is_match(text)
        {
            self.report(at, format!("must match the pattern {pattern}"));
        }
    }

    fn number(&mut self, schema: &Map<String, Value>, value: &Value, at: &str) {
        let Some(n) = value.as_f64() else { return };
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        // 3.0 writes exclusive bounds as booleans beside minimum/maximum, 3.1 as numbers.
        let flag = |key: &str| schema.get(key) == Some(&Value::Bool(true));
        if let Some(min) = bound("minimum") {
            if flag("exclusiveMinimum") && n <= min {
                self.report(at, format!("must be greater than {}", shown(min)));
            } else if n < min {
                self.report(at, format!("must be at least {}", shown(min)));
            }
        }
        if let Some(max) = bound("maximum") {
            if flag("exclusiveMaximum") && n >= max {
                self.report(at, format!("must be less than {}", shown(max)));
            } else if n > max {
                self.report(at, format!("must be at most {}", shown(max)));
            }
        }
        if let Some(min) = bound("exclusiveMinimum")
            && n <= min
        {
            self.report(at, format!("must be greater than {}", shown(min)));
        }
        if let Some(max) = bound("exclusiveMaximum")
            && n >= max
        {
            self.report(at, format!("must be less than {}", shown(max)));
        }
        if let Some(step) = bound("multipleOf")
            && step > 0.0
        {
            let ratio = n / step;
            if (ratio - ratio.round()).abs() > 1e-9 {
                self.report(at, format!("must be a multiple of {}", shown(step)));
            }
        }
    }

    fn array(&mut self, schema: &Map<String, Value>, items: &[Value], at: &str, depth: usize) {
        let count = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            self.report(at, format!("must have at least {min} items"));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            self.report(at, format!("must have at most {max} items"));
        }
        if schema.get("uniqueItems") == Some(&Value::Bool(true)) && items.len() <= 1_000 {
            let repeated = items
                .iter()
                .enumerate()
                .any(|(i, a)| items[..i].iter().any(|b| same(a, b)));
            if repeated {
                self.report(at, "must not hold the same item twice");
            }
        }
        if let Some(item_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                if self.violations.len() >= MAX_VIOLATIONS {
                    break;
                }
                self.walk(item_schema, item, &format!("{at}[{index}]"), depth + 1);
            }
        }
    }

    fn object(
        &mut self,
        schema: &Map<String, Value>,
        members: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let skipped = |name: &str| {
            let key = match self.direction {
                Direction::Request => "readOnly",
                Direction::Response => "writeOnly",
            };
            properties
                .and_then(|p| p.get(name))
                .map(|p| self.spec.resolve(p))
                .is_some_and(|p| p.get(key) == Some(&Value::Bool(true)))
        };
        let missing: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|name| !members.contains_key(*name) && !skipped(name))
            .map(|name| child(at, name))
            .collect();
        for location in missing {
            self.report(&location, "is required");
        }
        let count = members.len() as u64;
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
            && count < min
        {
            self.report(at, format!("must have at least {min} properties"));
        }
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && count > max
        {
            self.report(at, format!("must have at most {max} properties"));
        }
        let additional = schema.get("additionalProperties");
        for (name, member) in members {
            if self.violations.len() >= MAX_VIOLATIONS {
                break;
            }
            let location = child(at, name);
            match properties.and_then(|p| p.get(name)) {
                Some(property) => self.walk(property, member, &location, depth + 1),
                None => match additional {
                    Some(Value::Bool(false)) => {
                        self.report(&location, "is not a property this object may have");
                    }
                    Some(extra @ Value::Object(_)) => {
                        self.walk(extra, member, &location, depth + 1);
                    }
                    _ => {}
                },
            }
        }
    }
}

/// `body.name`, or `body["odd key"]` for names that are not plain words.
pub(crate) fn child(at: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$' | '@'));
    if plain {
        format!("{at}.{name}")
    } else {
        format!("{at}[{}]", Value::String(name.to_owned()))
    }
}

fn is_type(name: &str, value: &Value) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value
                    .as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn article(name: &str) -> String {
    match name {
        "integer" | "array" | "object" => format!("an {name}"),
        "null" => "null".to_owned(),
        _ => format!("a {name}"),
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A value in a message, cut short.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn shown(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::spec::tests::spec;

    const DOC: &str = r##"
openapi: 3.1.0
info: {title: T, version: "1"}
paths: {}
components:
  schemas:
    Pet:
      type: object
      required: [id, name, kind]
      additionalProperties: false
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, minLength: 2, maxLength: 5, pattern: "^[A-Z]"}
        kind: {enum: [cat, dog]}
        age: {type: [integer, "null"], minimum: 0, exclusiveMaximum: 30}
        tags: {type: array, maxItems: 2, uniqueItems: true, items: {type: string}}
        owner: {$ref: "#/components/schemas/Owner"}
    Owner:
      oneOf:
        - {type: object, required: [email], properties: {email: {type: string}}}
        - {type: object, required: [phone], properties: {phone: {type: string}}}
    Node:
      type: object
      properties: {next: {$ref: "#/components/schemas/Node"}}
    Loop: {allOf: [{$ref: "#/components/schemas/Loop"}]}
"##;

    fn check(schema: &str, value: Value) -> Vec<(String, String)> {
        let spec = spec(DOC);
        let mut v = Validator::new(&spec, Direction::Request);
        v.check(&json!({"$ref": schema}), &value, "body");
        v.violations
            .into_iter()
            .map(|v| (v.location, v.message))
            .collect()
    }

    #[test]
    fn every_violation_is_reported_with_its_location() {
        let found = check(
            "#/components/schemas/Pet",
            json!({"name": "rex-the-dog", "kind": "cow", "age": 30, "tags": ["a", "a", "b"], "extra": 1}),
        );
        let expected = [
            ("body.name", "must be at most 5 characters long"),
            ("body.name", "must match the pattern ^[A-Z]"),
            ("body.kind", "must be one of: \"cat\", \"dog\""),
            ("body.age", "must be less than 30"),
            ("body.tags", "must have at most 2 items"),
            ("body.tags", "must not hold the same item twice"),
            ("body.extra", "is not a property this object may have"),
        ];
        for (location, message) in expected {
            assert!(
                found.iter().any(|(l, m)| l == location && m == message),
                "{location}: {message} in {found:?}"
            );
        }
        assert!(
            !found.iter().any(|(l, _)| l == "body.id"),
            "readOnly is not required in a request: {found:?}"
        );
    }

    #[test]
    fn types_nullable_and_one_of_are_checked() {
        assert_eq!(
            check("#/components/schemas/Pet", json!([])),
            [("body".to_owned(), "must be an object".to_owned())]
        );
        let found = check(
            "#/components/schemas/Pet",
            json!({"name": "Rex", "kind": "cat", "age": null, "owner": {"email": "a", "phone": "b"}}),
        );
        assert_eq!(
            found,
            [(
                "body.owner".to_owned(),
                "must match exactly one of the schemas it may take, not 2".to_owned()
            )]
        );
        let found = check(
            "#/components/schemas/Pet",
            json!({"name": "Rex", "kind": "cat", "age": 1.5}),
        );
        assert_eq!(found[0].1, "must be an integer or null");
    }

    #[test]
    fn nullable_in_3_0() {
        let spec = crate::spec::Spec::parse(&portico_plugin_sdk::SpecDocument {
            format: portico_plugin_sdk::SpecFormat::Openapi30,
            media_type: "application/json".into(),
            content: r#"{"openapi": "3.0.3", "paths": {}}"#.into(),
            source: None,
        })
        .unwrap();
        let mut v = Validator::new(&spec, Direction::Request);
        v.check(
            &json!({"type": "string", "nullable": true}),
            &Value::Null,
            "q",
        );
        v.check(&json!({"type": "string"}), &Value::Null, "r");
        assert_eq!(v.violations.len(), 1);
        assert_eq!(v.violations[0].location, "r");
    }

    #[test]
    fn deep_and_self_referencing_schemas_end() {
        let mut deep = json!({});
        for _ in 0..100 {
            deep = json!({"next": deep});
        }
        let found = check("#/components/schemas/Node", deep);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("too deeply nested"));
        let found = check("#/components/schemas/Loop", json!(1));
        assert!(found.len() <= 1);
    }

    #[test]
    fn odd_property_names_are_quoted() {
        assert_eq!(child("body", "a b"), "body[\"a b\"]");
        assert_eq!(child("body", "name"), "body.name");
    }
}
