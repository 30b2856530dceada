//! Code samples for an operation (curl, JavaScript fetch, Python requests,
//! Rust reqwest) and the example values they send: the document's own
//! examples when it has them, else values made up from the schema.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::spec::{Operation, Spec};

/// The deepest a made-up example nests.
const MAX_EXAMPLE_DEPTH: usize = 4;

/// The most properties a made-up object example gets (required ones first).
const MAX_EXAMPLE_PROPERTIES: usize = 12;

/// The largest document example used as a request body, in bytes of JSON.
const MAX_BODY_EXAMPLE: usize = 4096;

/// A language code samples can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    /// curl on a POSIX shell.
    Curl,
    /// JavaScript `fetch`.
    JavaScript,
    /// Python `requests`.
    Python,
    /// Rust `reqwest` (async).
    Rust,
}

impl Language {
    /// Every language, in the order samples are shown.
    pub(crate) const ALL: [Language; 4] = [
        Language::Curl,
        Language::JavaScript,
        Language::Python,
        Language::Rust,
    ];

    /// Reads a language name as hosts write it (`curl`, `js`, `python`, `reqwest`...).
    pub(crate) fn parse(name: &str) -> Option<Language> {
        match name.trim().to_ascii_lowercase().as_str() {
            "curl" | "shell" | "sh" | "bash" => Some(Language::Curl),
            "javascript" | "js" | "fetch" | "node" | "typescript" => Some(Language::JavaScript),
            "python" | "py" | "requests" => Some(Language::Python),
            "rust" | "reqwest" | "rs" => Some(Language::Rust),
            _ => None,
        }
    }

    /// What the reader sees.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Language::Curl => "curl",
            Language::JavaScript => "JavaScript (fetch)",
            Language::Python => "Python (requests)",
            Language::Rust => "Rust (reqwest)",
        }
    }

    /// The fence info string in markdown and the `language-` class in HTML.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Language::Curl => "shell",
            Language::JavaScript => "javascript",
            Language::Python => "python",
            Language::Rust => "rust",
        }
    }
}

/// A request as the samples make it.
#[derive(Debug)]
pub(crate) struct Request {
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Body>,
}

#[derive(Debug)]
enum Body {
    Json(Value),
    Form(Vec<(String, String)>),
    Text { content_type: String, text: String },
}

impl Request {
    /// The request a reader would send: the first server, path parameters and
    /// required query parameters filled with examples, credentials as
    /// placeholders, and an example body.
    pub(crate) fn new(spec: &Spec<'_>, operation: &Operation<'_>, base_url: &str) -> Request {
        let mut path = operation.path.to_owned();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers: Vec<(String, String)> = Vec::new();
        for parameter in &operation.parameters {
            let Some(name) = parameter.get("name").and_then(Value::as_str) else {
                continue;
            };
            let required = parameter.get("required") == Some(&Value::Bool(true));
            let value = || scalar_text(&parameter_example(spec, parameter));
            match parameter.get("in").and_then(Value::as_str) {
                Some("path") => {
                    // A made-up `0` or `string` reads worse than the `{name}` placeholder.
                    if let Some(example) = documented_example(spec, parameter) {
                        path = path.replace(&format!("{{{name}}}"), &scalar_text(&example));
                    }
                }
                Some("query") if required => query.push((name.to_owned(), value())),
                Some("header") if required => headers.push((name.to_owned(), value())),
                _ => {}
            }
        }
        for (scheme, _) in spec
            .security(operation)
            .into_iter()
            .next()
            .unwrap_or_default()
        {
            let Some(definition) = spec
                .component("securitySchemes")
                .and_then(|s| s.get(scheme))
                .and_then(|s| spec.resolve_object(s))
            else {
                continue;
            };
            let text = |key: &str| definition.get(key).and_then(Value::as_str).unwrap_or("");
            match (text("type"), text("in")) {
                ("apiKey", "query") => query.push((text("name").to_owned(), "YOUR_API_KEY".into())),
                ("apiKey", "cookie") => {
                    headers.push(("Cookie".into(), format!("{}=YOUR_API_KEY", text("name"))));
                }
                ("apiKey", _) => headers.push((text("name").to_owned(), "YOUR_API_KEY".into())),
                ("http", _) if text("scheme").eq_ignore_ascii_case("basic") => {
                    headers.push((
                        "Authorization".into(),
                        "Basic BASE64_USER_COLON_PASSWORD".into(),
                    ));
                }
                ("http" | "oauth2" | "openIdConnect", _) => {
                    headers.push(("Authorization".into(), "Bearer YOUR_TOKEN".into()));
                }
                _ => {}
            }
        }
        let mut url = format!("{}{}", base_url.trim_end_matches('/'), path);
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode_query(name));
            url.push('=');
            url.push_str(&encode_query(value));
        }
        let body = request_body(spec, operation);
        if let Some(body) = &body {
            let content_type = match body {
                Body::Json(_) => "application/json".to_owned(),
                Body::Form(_) => "application/x-www-form-urlencoded".to_owned(),
                Body::Text { content_type, .. } => content_type.clone(),
            };
            headers.push(("Content-Type".into(), content_type));
        }
        Request {
            method: operation.method,
            url,
            headers,
            body,
        }
    }

    /// The sample in one language.
    pub(crate) fn sample(&self, language: Language) -> String {
        match language {
            Language::Curl => self.curl(),
            Language::JavaScript => self.fetch(),
            Language::Python => self.python(),
            Language::Rust => self.reqwest(),
        }
    }

    fn body_text(&self) -> Option<String> {
        match self.body.as_ref()? {
            Body::Json(value) => serde_json::to_string_pretty(value).ok(),
            Body::Form(pairs) => Some(
                pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            Body::Text { text, .. } => Some(text.clone()),
        }
    }

    fn curl(&self) -> String {
        let mut out = format!("curl -X {} {}", self.method, shell_quote(&self.url));
        for (name, value) in &self.headers {
            let _ = write!(
                out,
                " \\\n  -H {}",
                shell_quote(&format!("{name}: {value}"))
            );
        }
        if let Some(body) = self.body_text() {
            let _ = write!(out, " \\\n  --data {}", shell_quote(&body));
        }
        out
    }

    fn fetch(&self) -> String {
        let mut out = format!(
            "const response = await fetch({}, {{\n  method: {},\n",
            js_string(&self.url),
            js_string(self.method)
        );
        if !self.headers.is_empty() {
            out.push_str("  headers: {\n");
            for (name, value) in &self.headers {
                let _ = writeln!(out, "    {}: {},", js_string(name), js_string(value));
            }
            out.push_str("  },\n");
        }
        match &self.body {
            Some(Body::Json(value)) => {
                let json = serde_json::to_string_pretty(value).unwrap_or_default();
                let _ = writeln!(out, "  body: JSON.stringify({}),", indent(&json, "  "));
            }
            Some(_) => {
                let text = self.body_text().unwrap_or_default();
                let _ = writeln!(out, "  body: {},", js_string(&text));
            }
            None => {}
        }
        out.push_str("});\nconst data = await response.json();\nconsole.log(data);");
        out
    }

    fn python(&self) -> String {
        let mut out = String::from("import requests\n\n");
        let mut arguments = vec![js_string(&self.url)];
        if !self.headers.is_empty() {
            let mut headers = String::from("headers={\n");
            for (name, value) in &self.headers {
                if name == "Content-Type" && matches!(self.body, Some(Body::Json(_))) {
                    continue;
                }
                let _ = writeln!(
                    headers,
                    "        {}: {},",
                    js_string(name),
                    js_string(value)
                );
            }
            headers.push_str("    }");
            arguments.push(headers);
        }
        match &self.body {
            Some(Body::Json(value)) => {
                let mut literal = String::new();
                python_literal(&mut literal, value, 1);
                arguments.push(format!("json={literal}"));
            }
            Some(_) => arguments.push(format!(
                "data={}",
                js_string(&self.body_text().unwrap_or_default())
            )),
            None => {}
        }
        let _ = write!(
            out,
            "response = requests.{}(\n    {},\n)\nresponse.raise_for_status()\nprint(response.json())",
            self.method.to_ascii_lowercase(),
            arguments.join(",\n    ")
        );
        out
    }

    fn reqwest(&self) -> String {
        let method = match self.method {
            "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" => {
                format!(
                    ".{}({})",
                    self.method.to_ascii_lowercase(),
                    rust_string(&self.url)
                )
            }
            other => format!(
                ".request(reqwest::Method::{other}, {})",
                rust_string(&self.url)
            ),
        };
        let mut out =
            format!("let client = reqwest::Client::new();\nlet response = client\n    {method}\n");
        for (name, value) in &self.headers {
            if name == "Content-Type" && matches!(self.body, Some(Body::Json(_))) {
                continue;
            }
            let _ = writeln!(
                out,
                "    .header({}, {})",
                rust_string(name),
                rust_string(value)
            );
        }
        match &self.body {
            Some(Body::Json(value)) => {
                let json = serde_json::to_string_pretty(value).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    .json(&serde_json::json!({}))",
                    indent(&json, "    ")
                );
            }
            Some(_) => {
                let text = self.body_text().unwrap_or_default();
                let _ = writeln!(out, "    .body({})", rust_string(&text));
            }
            None => {}
        }
        out.push_str("    .send()\n    .await?\n    .error_for_status()?;\nlet body = response.text().await?;\nprintln!(\"{body}\");");
        out
    }
}

/// The request body the samples send: the first JSON, form or text media type.
fn request_body(spec: &Spec<'_>, operation: &Operation<'_>) -> Option<Body> {
    let body = spec.resolve_object(operation.object.get("requestBody")?)?;
    let content = body.get("content")?.as_object()?;
    let (media_type, media) = content
        .iter()
        .find(|(t, _)| t.contains("json"))
        .or_else(|| content.iter().next())?;
    let media = media.as_object()?;
    let example = media_example(spec, media)
        .filter(|e| json_within(e, MAX_BODY_EXAMPLE, false).is_ok())
        .cloned()
        .or_else(|| media.get("schema").map(|s| example(spec, s)))
        .unwrap_or(Value::Null);
    if media_type.contains("json") {
        Some(Body::Json(example))
    } else if media_type.starts_with("application/x-www-form-urlencoded")
        || media_type.starts_with("multipart/")
    {
        let pairs = match example {
            Value::Object(map) => map.into_iter().map(|(k, v)| (k, scalar_text(&v))).collect(),
            _ => Vec::new(),
        };
        Some(Body::Form(pairs))
    } else {
        let text = match example {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Some(Body::Text {
            content_type: media_type.clone(),
            text,
        })
    }
}

/// A media type's own example: `example`, else the first of `examples` (resolved).
pub(crate) fn media_example<'a>(
    spec: &Spec<'a>,
    media: &'a Map<String, Value>,
) -> Option<&'a Value> {
    if let Some(example) = media.get("example") {
        return Some(example);
    }
    let (_, first) = media.get("examples")?.as_object()?.iter().next()?;
    spec.resolve(first).value.get("value")
}

/// JSON of a value, pretty when asked, stopping at `limit` bytes; `Err` with
/// what was written when the value is longer. Large examples are never
/// serialised in full only to be cut.
pub(crate) fn json_within(value: &Value, limit: usize, pretty: bool) -> Result<String, String> {
    struct Bounded {
        out: Vec<u8>,
        limit: usize,
    }
    impl std::io::Write for Bounded {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.out.len() + bytes.len() > self.limit {
                let room = self.limit - self.out.len();
                self.out.extend_from_slice(&bytes[..room]);
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.out.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = Bounded {
        out: Vec::new(),
        limit,
    };
    let written = if pretty {
        serde_json::to_writer_pretty(&mut writer, value)
    } else {
        serde_json::to_writer(&mut writer, value)
    };
    let text = |bytes: Vec<u8>| match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let end = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(end);
            String::from_utf8(bytes).unwrap_or_default()
        }
    };
    match written {
        Ok(()) => Ok(text(writer.out)),
        Err(_) => Err(text(writer.out)),
    }
}

/// A parameter's example: the documented one, else one made up from its schema.
fn parameter_example(spec: &Spec<'_>, parameter: &Map<String, Value>) -> Value {
    documented_example(spec, parameter)
        .or_else(|| parameter.get("schema").map(|s| example(spec, s)))
        .unwrap_or(Value::Null)
}

/// The example a parameter's document gives: its own, or its schema's
/// example, default or first enum value.
fn documented_example(spec: &Spec<'_>, parameter: &Map<String, Value>) -> Option<Value> {
    if let Some(example) = parameter.get("example") {
        return Some(example.clone());
    }
    if let Some((_, first)) = parameter
        .get("examples")
        .and_then(Value::as_object)
        .and_then(|e| e.iter().next())
        && let Some(value) = spec.resolve(first).value.get("value")
    {
        return Some(value.clone());
    }
    let schema = spec.resolve_object(parameter.get("schema")?)?;
    schema
        .get("example")
        .or_else(|| schema.get("default"))
        .or_else(|| {
            schema
                .get("enum")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
        })
        .cloned()
}

/// An example value made up from a schema: its example, default or first enum
/// value, else a placeholder by type and format; objects with their required
/// properties first; bounded in depth and size, and safe on cycles.
pub(crate) fn example(spec: &Spec<'_>, schema: &Value) -> Value {
    let mut stack = Vec::new();
    make_example(spec, schema, 0, &mut stack)
}

fn make_example<'a>(
    spec: &Spec<'a>,
    schema: &'a Value,
    depth: usize,
    stack: &mut Vec<&'a Value>,
) -> Value {
    let resolved = spec.resolve(schema).value;
    let Some(object) = resolved.as_object() else {
        return Value::Null;
    };
    if let Some(example) = object.get("example").or_else(|| {
        object
            .get("examples")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
    }) {
        return example.clone();
    }
    if let Some(default) = object.get("default") {
        return default.clone();
    }
    if let Some(first) = object
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return first.clone();
    }
    if let Some(constant) = object.get("const") {
        return constant.clone();
    }
    if depth >= MAX_EXAMPLE_DEPTH || stack.iter().any(|s| std::ptr::eq(*s, resolved)) {
        return Value::Null;
    }
    stack.push(resolved);
    let value = structured_example(spec, object, depth, stack);
    stack.pop();
    value
}

fn structured_example<'a>(
    spec: &Spec<'a>,
    object: &'a Map<String, Value>,
    depth: usize,
    stack: &mut Vec<&'a Value>,
) -> Value {
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = object.get(key).and_then(Value::as_array).and_then(|o| {
            o.iter()
                .find(|v| spec.resolve(v).value.get("type") != Some(&Value::from("null")))
        }) {
            return make_example(spec, first, depth + 1, stack);
        }
    }
    let types: Vec<&str> = match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(t)) => t
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    };
    let has_properties = object.contains_key("properties") || object.contains_key("allOf");
    match types.first().copied() {
        Some("object") | None if has_properties => {
            let mut out = Map::new();
            let mut properties: Vec<(&'a str, &'a Value, bool)> = Vec::new();
            collect_properties(spec, object, &mut properties, 0);
            properties.sort_by_key(|(_, _, required)| !*required);
            for (name, schema, _) in properties.into_iter().take(MAX_EXAMPLE_PROPERTIES) {
                if spec.resolve(schema).value.get("readOnly") == Some(&Value::Bool(true)) {
                    continue;
                }
                out.insert(
                    name.to_owned(),
                    make_example(spec, schema, depth + 1, stack),
                );
            }
            Value::Object(out)
        }
        Some("array") => match object.get("items") {
            Some(items) => Value::Array(vec![make_example(spec, items, depth + 1, stack)]),
            None => Value::Array(Vec::new()),
        },
        Some("object") => Value::Object(Map::new()),
        Some("integer") => Value::from(0),
        Some("number") => Value::from(0.0),
        Some("boolean") => Value::Bool(true),
        Some("string") => Value::from(string_placeholder(
            object.get("format").and_then(Value::as_str),
        )),
        _ => Value::Null,
    }
}

/// Properties of a schema and its `allOf` members, with whether each is required.
fn collect_properties<'a>(
    spec: &Spec<'a>,
    object: &'a Map<String, Value>,
    out: &mut Vec<(&'a str, &'a Value, bool)>,
    depth: usize,
) {
    if depth > MAX_EXAMPLE_DEPTH {
        return;
    }
    for member in object
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(member) = spec.resolve_object(member) {
            collect_properties(spec, member, out, depth + 1);
        }
    }
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, schema) in object
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let is_required = required.contains(&name.as_str());
        match out.iter_mut().find(|(n, _, _)| *n == name) {
            Some(existing) => *existing = (name, schema, existing.2 || is_required),
            None => out.push((name, schema, is_required)),
        }
    }
    for existing in out.iter_mut() {
        if required.contains(&existing.0) {
            existing.2 = true;
        }
    }
}

fn string_placeholder(format: Option<&str>) -> &'static str {
    match format {
        Some("date-time") => "2024-01-01T00:00:00Z",
        Some("date") => "2024-01-01",
        Some("time") => "00:00:00",
        Some("email") => "user@example.com",
        Some("uuid") => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        Some("uri" | "url") => "https://example.com",
        Some("hostname") => "example.com",
        Some("ipv4") => "192.0.2.1",
        Some("ipv6") => "2001:db8::1",
        Some("byte") => "U3dhZ2dlcg==",
        Some("password") => "********",
        _ => "string",
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A POSIX shell word: single quotes, with `'` written as `'\''`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A string literal valid in JavaScript and Python (JSON's escapes).
fn js_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A Rust string literal.
fn rust_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value as a Python literal (`True`, `False`, `None`).
fn python_literal(out: &mut String, value: &Value, level: usize) {
    let pad = "    ".repeat(level + 1);
    let close = "    ".repeat(level);
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&js_string(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                out.push_str(&pad);
                python_literal(out, item, level + 1);
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (key, item) in map {
                let _ = write!(out, "{pad}{}: ", js_string(key));
                python_literal(out, item, level + 1);
                out.push_str(",\n");
            }
            out.push_str(&close);
            out.push('}');
        }
    }
}

fn indent(text: &str, pad: &str) -> String {
    text.replace('\n', &format!("\n{pad}"))
}

/// Percent-encodes a query name or value (RFC 3986 unreserved characters stay).
fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Value {
        json!({
            "openapi": "3.0.3",
            "security": [{"token": []}],
            "paths": {"/pets/{petId}": {"post": {
                "operationId": "updatePet",
                "parameters": [
                    {"name": "petId", "in": "path", "required": true, "schema": {"type": "integer", "example": 7}},
                    {"name": "dry run", "in": "query", "required": true, "schema": {"type": "boolean"}},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}
                ],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}
            }}},
            "components": {
                "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
                "schemas": {"Pet": {"type": "object", "required": ["name"], "properties": {
                    "id": {"type": "integer", "readOnly": true},
                    "name": {"type": "string", "example": "Rex's"},
                    "born": {"type": "string", "format": "date"},
                    "good": {"type": "boolean", "nullable": true},
                    "parent": {"$ref": "#/components/schemas/Pet"}
                }}}
            }
        })
    }

    fn request() -> Request {
        let doc = doc();
        let spec = Spec::new(doc.as_object().unwrap());
        Request::new(&spec, &spec.operations[0], "https://api.example.com/v1/")
    }

    #[test]
    fn the_request_fills_parameters_credentials_and_a_body() {
        let request = request();
        assert_eq!(
            request.url,
            "https://api.example.com/v1/pets/7?dry%20run=true"
        );
        assert!(
            request
                .headers
                .contains(&("Authorization".into(), "Bearer YOUR_TOKEN".into()))
        );
        assert!(
            !request.headers.iter().any(|(n, _)| n == "X-Trace"),
            "optional header"
        );
        let Some(Body::Json(body)) = &request.body else {
            panic!("a JSON body");
        };
        assert_eq!(body["name"], "Rex's");
        assert_eq!(body["born"], "2024-01-01");
        assert!(body.get("id").is_none(), "read-only left out");
        assert!(body["parent"].is_null(), "a cycle stops");
    }

    #[test]
    fn each_language_quotes_its_own_way() {
        let request = request();
        let curl = request.sample(Language::Curl);
        assert!(
            curl.starts_with("curl -X POST 'https://api.example.com/v1/pets/7?dry%20run=true'")
        );
        assert!(curl.contains("\"name\": \"Rex'\\''s\""), "{curl}");
        let js = request.sample(Language::JavaScript);
        assert!(
            js.contains("method: \"POST\"") && js.contains("JSON.stringify({"),
            "{js}"
        );
        let python = request.sample(Language::Python);
        assert!(
            python.contains("requests.post(") && python.contains("json={"),
            "{python}"
        );
        assert!(python.contains("\"good\": True"), "{python}");
        let rust = request.sample(Language::Rust);
        assert!(
            rust.contains(".post(\"https://api.example.com/v1/pets/7?dry%20run=true\")"),
            "{rust}"
        );
        assert!(rust.contains(".json(&serde_json::json!({"), "{rust}");
        assert!(
            rust.contains(".header(\"Authorization\", \"Bearer YOUR_TOKEN\")"),
            "{rust}"
        );
    }

    #[test]
    fn languages_are_read_by_common_names() {
        assert_eq!(Language::parse("JS"), Some(Language::JavaScript));
        assert_eq!(Language::parse("reqwest"), Some(Language::Rust));
        assert_eq!(Language::parse("cobol"), None);
    }

    #[test]
    fn rust_strings_escape_quotes_and_controls() {
        assert_eq!(rust_string("a\"b\\\u{1}"), "\"a\\\"b\\\\\\u{1}\"");
    }
}
