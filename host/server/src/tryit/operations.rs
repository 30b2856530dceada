//! What the try-it console needs to know of each operation of an OpenAPI
//! document: its parameters with example values, an example request body and
//! where its security scheme wants the credential. The form is prefilled from
//! this, and the proxy only calls operations found here.

use std::sync::{Arc, Mutex};

use portico_catalog::SpecDocument;
use portico_catalog::spec::{ParsedSpec, SpecHint};
use serde_json::{Map, Value};

/// HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Parsed documents kept, by content hash: parsing a large spec takes long.
const CACHED_DOCUMENTS: usize = 16;

/// How deep an example is built from a schema.
const MAX_EXAMPLE_DEPTH: usize = 6;

/// One operation that can be tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryOperation {
    /// Upper case: `GET`, `POST`...
    pub method: String,
    /// The path template, e.g. `/pets/{id}`.
    pub path: String,
    /// The one-line summary.
    pub summary: Option<String>,
    /// Path, query and header parameters (cookie parameters are not offered).
    pub parameters: Vec<Parameter>,
    /// The request body, when the operation takes one.
    pub body: Option<BodyExample>,
    /// Where the credential goes, when the operation is secured.
    pub credential: Option<CredentialPlace>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{name}` of the path template.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
}

impl Location {
    /// The prefix of the parameter's form field (`path.id`).
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
        }
    }
}

/// One parameter of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Its name.
    pub name: String,
    /// Where it goes.
    pub location: Location,
    /// Whether the spec requires it (path parameters always are).
    pub required: bool,
    /// An example value, to prefill the form.
    pub example: String,
}

/// An example request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyExample {
    /// Its media type (JSON preferred when offered).
    pub content_type: String,
    /// The example, as text.
    pub text: String,
}

/// Where an operation's security scheme wants the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialPlace {
    /// An API key in a header.
    Header(String),
    /// An API key in the query string.
    Query(String),
    /// An API key in a cookie.
    Cookie(String),
    /// `Authorization: Bearer <credential>` (http bearer, OAuth 2, OpenID Connect).
    Bearer,
    /// `Authorization: Basic <base64 of user:password>`.
    Basic,
}

impl CredentialPlace {
    /// What the form's label says.
    pub fn describe(&self) -> String {
        match self {
            CredentialPlace::Header(name) => format!("API key, sent in the {name} header"),
            CredentialPlace::Query(name) => format!("API key, sent as the {name} query parameter"),
            CredentialPlace::Cookie(name) => format!("API key, sent as the {name} cookie"),
            CredentialPlace::Bearer => "Bearer token".to_owned(),
            CredentialPlace::Basic => "user:password, sent as HTTP basic credentials".to_owned(),
        }
    }
}

/// The operations of a stored document, parsed once per content hash;
/// empty for documents that are not OpenAPI.
pub fn operations_of(document: &SpecDocument) -> Arc<Vec<TryOperation>> {
    static CACHE: Mutex<Vec<(String, Arc<Vec<TryOperation>>)>> = Mutex::new(Vec::new());
    let hit = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(hash, _)| *hash == document.hash)
        .map(|(_, ops)| ops.clone());
    if let Some(ops) = hit {
        return ops;
    }
    let hint = SpecHint {
        file_name: None,
        media_type: Some(document.media_type.clone()),
    };
    let ops = match ParsedSpec::parse(document.content.as_bytes(), &hint) {
        Ok(spec) if spec.format().is_openapi() => {
            spec.document().map(operations).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let ops = Arc::new(ops);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHED_DOCUMENTS {
        cache.remove(0);
    }
    cache.push((document.hash.clone(), ops.clone()));
    ops
}

/// The operations of an OpenAPI 3 document as JSON, in document order.
pub fn operations(doc: &Value) -> Vec<TryOperation> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (path, item) in paths {
        let item = resolve(doc, item);
        let shared = item.get("parameters");
        for method in METHODS {
            let Some(op) = item.get(method).filter(|op| op.is_object()) else {
                continue;
            };
            found.push(TryOperation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                summary: op.get("summary").and_then(Value::as_str).map(str::to_owned),
                parameters: parameters(doc, shared, op.get("parameters")),
                body: op.get("requestBody").and_then(|b| body(doc, b)),
                credential: credential(doc, op),
            });
        }
    }
    found
}

/// The operation's parameters over the path item's, by (location, name).
fn parameters(doc: &Value, shared: Option<&Value>, own: Option<&Value>) -> Vec<Parameter> {
    let mut result: Vec<Parameter> = Vec::new();
    let all = [shared, own]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten();
    for raw in all {
        let raw = resolve(doc, raw);
        let Some(name) = raw.get("name").and_then(Value::as_str) else {
            continue;
        };
        let location = match raw.get("in").and_then(Value::as_str) {
            Some("path") => Location::Path,
            Some("query") => Location::Query,
            Some("header") => Location::Header,
            _ => continue,
        };
        let schema = raw.get("schema").map(|s| resolve(doc, s));
        let example = raw
            .get("example")
            .or_else(|| first_example(raw))
            .cloned()
            .or_else(|| schema.and_then(|s| example_of(doc, s, 0)))
            .map(|v| scalar_text(&v))
            .unwrap_or_default();
        let parameter = Parameter {
            name: name.to_owned(),
            location,
            required: location == Location::Path
                || raw.get("required").and_then(Value::as_bool) == Some(true),
            example,
        };
        match result
            .iter_mut()
            .find(|p| p.name == parameter.name && p.location == location)
        {
            Some(existing) => *existing = parameter,
            None => result.push(parameter),
        }
    }
    result
}

/// The first media type's example (JSON preferred).
fn body(doc: &Value, request_body: &Value) -> Option<BodyExample> {
    let content = resolve(doc, request_body)
        .get("content")
        .and_then(Value::as_object)?;
    let (content_type, media) = content
        .iter()
        .find(|(t, _)| t.contains("json"))
        .or_else(|| content.iter().next())?;
    let example = media
        .get("example")
        .or_else(|| first_example(media))
        .cloned()
        .or_else(|| {
            media
                .get("schema")
                .and_then(|s| example_of(doc, resolve(doc, s), 0))
        });
    let text = match example {
        Some(Value::String(text)) => text,
        Some(value) if content_type.contains("json") => {
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }
        Some(value) => scalar_text(&value),
        None => String::new(),
    };
    Some(BodyExample {
        content_type: content_type.clone(),
        text,
    })
}

/// The value of the first entry of `examples` (`{name: {value}}`).
fn first_example(holder: &Value) -> Option<&Value> {
    holder
        .get("examples")?
        .as_object()?
        .values()
        .next()?
        .get("value")
}

/// An example built from a schema: its example, default or first enum
/// value, else a placeholder of its type, objects property by property.
fn example_of(doc: &Value, schema: &Value, depth: usize) -> Option<Value> {
    if depth > MAX_EXAMPLE_DEPTH {
        return None;
    }
    let schema = resolve(doc, schema);
    if let Some(v) = schema.get("example").or_else(|| schema.get("default")) {
        return Some(v.clone());
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|values| values.first())
    {
        return Some(first.clone());
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            if let Some(Value::Object(fields)) = example_of(doc, part, depth + 1) {
                merged.extend(fields);
            }
        }
        return Some(Value::Object(merged));
    }
    if let Some(first) = ["oneOf", "anyOf"]
        .iter()
        .find_map(|k| schema.get(*k)?.as_array()?.first())
    {
        return example_of(doc, first, depth + 1);
    }
    let kind = schema.get("type").and_then(Value::as_str);
    match kind {
        Some("object") | None if schema.get("properties").is_some() => {
            let properties = schema.get("properties")?.as_object()?;
            let fields = properties
                .iter()
                .filter(|(_, p)| resolve(doc, p).get("readOnly") != Some(&Value::Bool(true)))
                .filter_map(|(name, p)| Some((name.clone(), example_of(doc, p, depth + 1)?)))
                .collect();
            Some(Value::Object(fields))
        }
        Some("array") => {
            let item = schema
                .get("items")
                .and_then(|i| example_of(doc, i, depth + 1));
            Some(Value::Array(item.into_iter().collect()))
        }
        Some("string") => Some(Value::String("string".into())),
        Some("integer") | Some("number") => Some(Value::from(0)),
        Some("boolean") => Some(Value::Bool(false)),
        _ => None,
    }
}

/// Where the first security scheme the operation (or the document) requires
/// wants the credential; `security: []` means none.
fn credential(doc: &Value, op: &Value) -> Option<CredentialPlace> {
    let requirements = op
        .get("security")
        .or_else(|| doc.get("security"))?
        .as_array()?;
    let schemes = doc.pointer("/components/securitySchemes")?;
    requirements
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys())
        .find_map(|name| place(resolve(doc, schemes.get(name)?)))
}

fn place(scheme: &Value) -> Option<CredentialPlace> {
    let text = |key: &str| scheme.get(key).and_then(Value::as_str);
    match text("type")? {
        "apiKey" => {
            let name = text("name")?.to_owned();
            match text("in")? {
                "header" => Some(CredentialPlace::Header(name)),
                "query" => Some(CredentialPlace::Query(name)),
                "cookie" => Some(CredentialPlace::Cookie(name)),
                _ => None,
            }
        }
        "http" => match text("scheme")?.to_ascii_lowercase().as_str() {
            "basic" => Some(CredentialPlace::Basic),
            "bearer" => Some(CredentialPlace::Bearer),
            _ => None,
        },
        "oauth2" | "openIdConnect" => Some(CredentialPlace::Bearer),
        _ => None,
    }
}

/// Follows a local `$ref` (a few hops at most); anything else as it is.
fn resolve<'d>(doc: &'d Value, mut value: &'d Value) -> &'d Value {
    for _ in 0..8 {
        let Some(pointer) = value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match doc.pointer(pointer) {
            Some(target) => value = target,
            None => break,
        }
    }
    value
}

/// A value as a form field shows it: strings bare, the rest as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::json!({
            "openapi": "3.0.3",
            "security": [{"key": []}],
            "paths": {
                "/pets/{id}": {
                    "parameters": [{"$ref": "#/components/parameters/Id"}],
                    "get": {
                        "summary": "One pet",
                        "parameters": [
                            {"name": "fields", "in": "query", "schema": {"type": "string", "enum": ["name", "all"]}},
                            {"name": "X-Trace", "in": "header", "required": true, "example": "t-1"},
                            {"name": "session", "in": "cookie"}
                        ]
                    },
                    "put": {
                        "security": [{"bearer": []}],
                        "requestBody": {"content": {
                            "text/plain": {"example": "x"},
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        }}
                    },
                    "delete": {"security": []}
                }
            },
            "components": {
                "parameters": {"Id": {"name": "id", "in": "path", "schema": {"type": "integer", "example": 7}}},
                "schemas": {"Pet": {"type": "object", "properties": {
                    "id": {"type": "integer", "readOnly": true},
                    "name": {"type": "string", "example": "Rex"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                }}},
                "securitySchemes": {
                    "key": {"type": "apiKey", "in": "query", "name": "api_key"},
                    "bearer": {"type": "http", "scheme": "Bearer"}
                }
            }
        })
    }

    #[test]
    fn parameters_merge_path_item_and_operation_with_examples() {
        let ops = operations(&doc());
        let get = &ops[0];
        assert_eq!(
            (get.method.as_str(), get.path.as_str()),
            ("GET", "/pets/{id}")
        );
        let shape: Vec<_> = get
            .parameters
            .iter()
            .map(|p| (p.location, p.name.as_str(), p.required, p.example.as_str()))
            .collect();
        assert_eq!(
            shape,
            [
                (Location::Path, "id", true, "7"),
                (Location::Query, "fields", false, "name"),
                (Location::Header, "X-Trace", true, "t-1"),
            ]
        );
        assert_eq!(
            get.credential,
            Some(CredentialPlace::Query("api_key".into()))
        );
    }

    #[test]
    fn bodies_prefer_json_and_are_built_from_the_schema_without_read_only_fields() {
        let ops = operations(&doc());
        let put = ops.iter().find(|o| o.method == "PUT").unwrap();
        let body = put.body.as_ref().unwrap();
        assert_eq!(body.content_type, "application/json");
        let value: Value = serde_json::from_str(&body.text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"name": "Rex", "tags": ["string"]})
        );
        assert_eq!(put.credential, Some(CredentialPlace::Bearer));
        let delete = ops.iter().find(|o| o.method == "DELETE").unwrap();
        assert_eq!(delete.credential, None, "security: [] means none");
    }
}
