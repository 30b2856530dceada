//! Synthetic data that validates against a schema, the same every time:
//! examples, defaults, `const` and `enum` first, else a value built from the
//! type and its bounds. Arrays, depth and the number of nodes are capped, so a
//! recursive or huge schema still gives a small answer.

use serde_json::{Map, Number, Value};

use crate::spec::Spec;

/// Items generated for an array (more only when `minItems` asks, up to [`MAX_ITEMS`]).
const ARRAY_ITEMS: u64 = 2;

/// The most items generated for one array, whatever `minItems` says.
const MAX_ITEMS: u64 = 20;

/// Below this depth optional properties are generated too; deeper, only required ones.
const OPTIONAL_DEPTH: usize = 4;

/// The deepest a generated value goes.
const MAX_DEPTH: usize = 10;

/// Nodes generated for one value at most.
const MAX_NODES: usize = 5_000;

/// Builds synthetic values for one document.
pub(crate) struct Generator<'s> {
    spec: &'s Spec,
    nodes: usize,
}

impl<'s> Generator<'s> {
    pub(crate) fn new(spec: &'s Spec) -> Generator<'s> {
        Generator { spec, nodes: 0 }
    }

    /// A value for `schema`; `name` is the property it is for, if any.
    pub(crate) fn value(&mut self, schema: &Value, name: &str) -> Value {
        self.build(schema, name, 0)
    }

    fn build(&mut self, schema: &Value, name: &str, depth: usize) -> Value {
        self.nodes += 1;
        let schema = self.spec.resolve(schema);
        let Some(object) = schema.as_object() else {
            return Value::Null;
        };
        if let Some(found) = ["const", "example", "default"]
            .iter()
            .find_map(|k| object.get(*k))
            .or_else(|| object.get("examples")?.as_array()?.first())
            .or_else(|| object.get("enum")?.as_array()?.first())
        {
            return found.clone();
        }
        if self.nodes > MAX_NODES || depth > MAX_DEPTH {
            return self.smallest(object);
        }
        if let Some(parts) = object.get("allOf").and_then(Value::as_array) {
            let mut merged = Value::Null;
            for part in parts {
                let value = self.build(part, name, depth + 1);
                merged = merge(merged, value);
            }
            if let Value::Object(own) = self.typed(object, name, depth) {
                merged = merge(merged, Value::Object(own));
            }
            return merged;
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = object
                .get(key)
                .and_then(Value::as_array)
                .and_then(|options| options.iter().find(|o| !self.is_null_only(o)))
            {
                return self.build(first, name, depth + 1);
            }
        }
        self.typed(object, name, depth)
    }

    fn is_null_only(&self, schema: &Value) -> bool {
        self.spec.resolve(schema).get("type") == Some(&Value::String("null".to_owned()))
    }

    /// A value from `type` (the first that is not `null`) and its keywords.
    fn typed(&mut self, object: &Map<String, Value>, name: &str, depth: usize) -> Value {
        match kind(object) {
            "object" => {
                let mut out = Map::new();
                let required: Vec<&str> = object
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let properties = object.get("properties").and_then(Value::as_object);
                for (property, schema) in properties.into_iter().flatten() {
                    let needed = required.contains(&property.as_str());
                    let skip =
                        self.spec.resolve(schema).get("writeOnly") == Some(&Value::Bool(true));
                    if needed || (depth < OPTIONAL_DEPTH && !skip) {
                        let value = self.build(schema, property, depth + 1);
                        out.insert(property.clone(), value);
                    }
                }
                Value::Object(out)
            }
            "array" => {
                let min = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let max = object
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                let count = if depth >= OPTIONAL_DEPTH {
                    min
                } else {
                    ARRAY_ITEMS.max(min)
                }
                .min(max)
                .min(MAX_ITEMS);
                let unique = object.get("uniqueItems") == Some(&Value::Bool(true));
                let mut items: Vec<Value> = Vec::new();
                for i in 0..count {
                    let item = match object.get("items") {
                        Some(schema) => self.build(schema, name, depth + 1),
                        None => Value::from(i),
                    };
                    if unique && items.contains(&item) {
                        break;
                    }
                    items.push(item);
                }
                Value::Array(items)
            }
            "integer" => integer(object),
            "number" => number(object),
            "boolean" => Value::Bool(true),
            "null" => Value::Null,
            _ => string(object, name),
        }
    }

    /// The least value that may still be valid, when the budget is spent.
    fn smallest(&self, object: &Map<String, Value>) -> Value {
        match kind(object) {
            "object" => Value::Object(Map::new()),
            "array" => Value::Array(Vec::new()),
            "integer" => integer(object),
            "number" => number(object),
            "boolean" => Value::Bool(true),
            "string" => string(object, ""),
            _ => Value::Null,
        }
    }
}

/// The type a schema asks for; guessed from its keywords when it says none.
fn kind(object: &Map<String, Value>) -> &str {
    let named = match object.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or(Some("null")),
        _ => None,
    };
    named.unwrap_or(if object.contains_key("properties") {
        "object"
    } else if object.contains_key("items") {
        "array"
    } else if object.contains_key("minimum") || object.contains_key("maximum") {
        "number"
    } else {
        "string"
    })
}

/// Objects merge member by member (later wins); anything else is replaced.
pub(crate) fn merge(base: Value, over: Value) -> Value {
    match (base, over) {
        (Value::Object(mut base), Value::Object(over)) => {
            for (key, value) in over {
                let merged = match base.remove(&key) {
                    Some(old) => merge(old, value),
                    None => value,
                };
                base.insert(key, merged);
            }
            Value::Object(base)
        }
        (base, Value::Null) => base,
        (_, over) => over,
    }
}

/// A bound of a number schema and whether it is exclusive.
type Bound = Option<(f64, bool)>;

/// The lower and upper bounds of a number schema.
fn bounds(object: &Map<String, Value>) -> (Bound, Bound) {
    let flag = |key: &str| object.get(key) == Some(&Value::Bool(true));
    let number = |key: &str| object.get(key).and_then(Value::as_f64);
    let low = number("exclusiveMinimum")
        .map(|n| (n, true))
        .or_else(|| number("minimum").map(|n| (n, flag("exclusiveMinimum"))));
    let high = number("exclusiveMaximum")
        .map(|n| (n, true))
        .or_else(|| number("maximum").map(|n| (n, flag("exclusiveMaximum"))));
    (low, high)
}

fn integer(object: &Map<String, Value>) -> Value {
    let (low, high) = bounds(object);
    let low = low.map(|(n, exclusive)| {
        let up = n.ceil();
        if exclusive && up == n {
            (up as i64).saturating_add(1)
        } else {
            up as i64
        }
    });
    let high = high.map(|(n, exclusive)| {
        let down = n.floor();
        if exclusive && down == n {
            (down as i64).saturating_sub(1)
        } else {
            down as i64
        }
    });
    let mut value = match (low, high) {
        (Some(low), _) => low,
        (None, Some(high)) => high.min(1),
        (None, None) => 1,
    };
    if let Some(step) = object.get("multipleOf").and_then(Value::as_i64)
        && step > 0
    {
        value = value.div_euclid(step).saturating_mul(step);
        if low.is_some_and(|l| value < l) {
            value = value.saturating_add(step);
        }
    }
    Value::from(value)
}

fn number(object: &Map<String, Value>) -> Value {
    let (low, high) = bounds(object);
    let value = match (low, high) {
        (Some((l, false)), _) => l,
        (Some((l, true)), Some((h, _))) => (l + h) / 2.0,
        (Some((l, true)), None) => l + 1.0,
        (None, Some((h, exclusive))) => {
            if h > 1.5 || (!exclusive && h >= 1.5) {
                1.5
            } else {
                h - 1.0
            }
        }
        (None, None) => 1.5,
    };
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn string(object: &Map<String, Value>, name: &str) -> Value {
    let format = object.get("format").and_then(Value::as_str).unwrap_or("");
    let mut text = match format {
        "date-time" => "2024-01-01T12:00:00Z".to_owned(),
        "date" => "2024-01-01".to_owned(),
        "time" => "12:00:00Z".to_owned(),
        "email" => "dev@example.com".to_owned(),
        "uuid" => "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_owned(),
        "uri" | "url" => "https://example.com/".to_owned(),
        "hostname" => "example.com".to_owned(),
        "ipv4" => "192.0.2.1".to_owned(),
        "ipv6" => "2001:db8::1".to_owned(),
        "byte" => "c3ludGhldGlj".to_owned(),
        _ if name.is_empty() => "string".to_owned(),
        _ => name.to_owned(),
    };
    let min = object.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    let max = object.get("maxLength").and_then(Value::as_u64);
    let min = min.min(4_096) as usize;
    while text.chars().count() < min {
        text.push('x');
    }
    if let Some(max) = max {
        text = text.chars().take(max as usize).collect();
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::spec::tests::spec;
    use crate::validate::{Direction, Validator};

    const DOC: &str = r##"
openapi: 3.1.0
info: {title: T, version: "1"}
paths: {}
components:
  schemas:
    Pet:
      allOf:
        - {$ref: "#/components/schemas/NewPet"}
        - {type: object, required: [id], properties: {id: {type: string, format: uuid}}}
    NewPet:
      type: object
      required: [name, age, score, tags]
      properties:
        name: {type: string, minLength: 8, maxLength: 10}
        age: {type: integer, exclusiveMinimum: 3, maximum: 9, multipleOf: 2}
        score: {type: number, minimum: 0, exclusiveMaximum: 1}
        tags: {type: array, minItems: 3, items: {type: string, example: tag}}
        kind: {type: [string, "null"], enum: [cat, dog]}
        secret: {type: string, writeOnly: true}
        owner: {oneOf: [{type: "null"}, {$ref: "#/components/schemas/Owner"}]}
    Owner: {type: object, properties: {email: {type: string, format: email}}}
    Node:
      type: object
      required: [children]
      properties: {children: {type: array, items: {$ref: "#/components/schemas/Node"}}}
"##;

    #[test]
    fn generated_values_validate_and_use_examples() {
        let spec = spec(DOC);
        let schema = json!({"$ref": "#/components/schemas/Pet"});
        let value = Generator::new(&spec).value(&schema, "");
        let mut v = Validator::new(&spec, Direction::Response);
        v.check(&schema, &value, "body");
        assert!(v.violations.is_empty(), "{value}: {:?}", v.violations);
        assert_eq!(value["name"], "namexxxx");
        assert_eq!(value["age"], 4);
        assert_eq!(value["tags"], json!(["tag", "tag", "tag"]));
        assert_eq!(value["kind"], "cat");
        assert_eq!(value["owner"]["email"], "dev@example.com");
        assert!(
            value.get("secret").is_none(),
            "writeOnly stays out of answers"
        );
        assert_eq!(
            value,
            Generator::new(&spec).value(&schema, ""),
            "deterministic"
        );
    }

    #[test]
    fn recursive_schemas_stay_small() {
        let spec = spec(DOC);
        let value = Generator::new(&spec).value(&json!({"$ref": "#/components/schemas/Node"}), "");
        assert!(value.to_string().len() < 10_000, "{value}");
    }

    #[test]
    fn merge_keeps_both_sides() {
        assert_eq!(
            merge(
                json!({"a": {"b": 1}, "c": 2}),
                json!({"a": {"d": 3}, "c": 4})
            ),
            json!({"a": {"b": 1, "d": 3}, "c": 4})
        );
    }
}
