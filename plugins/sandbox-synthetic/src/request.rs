//! Checks a call against its operation: path, query and header parameters
//! (their text read as the schema's type first, as a server would) and the
//! body, against their schemas. Every violation is collected.

use portico_plugin_sdk::sandbox::SandboxRequest;
use serde_json::{Number, Value};

use crate::spec::{In, Matched, Spec, is_json};
use crate::validate::{Direction, Validator, Violation};

/// What the checks found: the violations, and the body as JSON when it is.
pub(crate) struct Checked {
    pub(crate) violations: Vec<Violation>,
    pub(crate) body: Option<Value>,
}

/// A header's value, by name in any case.
pub(crate) fn header<'r>(request: &'r SandboxRequest, name: &str) -> Option<&'r str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks parameters and body.
pub(crate) fn check(spec: &Spec, matched: &Matched<'_>, request: &SandboxRequest) -> Checked {
    let mut validator = Validator::new(spec, Direction::Request);
    for param in &matched.params {
        let values: Vec<&str> = match param.place {
            In::Path => matched
                .path_values
                .iter()
                .filter(|(n, _)| n == param.name)
                .map(|(_, v)| v.as_str())
                .collect(),
            In::Query => request
                .query
                .iter()
                .filter(|(n, _)| n == param.name)
                .map(|(_, v)| v.as_str())
                .collect(),
            In::Header => header(request, param.name).into_iter().collect(),
            // The console never sends cookies.
            In::Cookie => continue,
        };
        let location = format!("{}.{}", param.place.as_str(), param.name);
        if values.is_empty() {
            if param.required {
                validator.report(&location, "is required");
            }
            continue;
        }
        if let Some(schema) = param.schema {
            let value = coerce(spec, schema, &values);
            validator.check(schema, &value, &location);
        }
    }
    let body = check_body(spec, matched, request, &mut validator);
    Checked {
        violations: validator.violations,
        body,
    }
}

fn check_body(
    spec: &Spec,
    matched: &Matched<'_>,
    request: &SandboxRequest,
    validator: &mut Validator<'_>,
) -> Option<Value> {
    let parsed = || serde_json::from_slice::<Value>(&request.body).ok();
    let Some(declared) = spec.request_body(matched.operation) else {
        // A body the operation does not describe is passed over, as most servers do.
        return parsed();
    };
    if request.body.iter().all(u8::is_ascii_whitespace) {
        if declared.get("required") == Some(&Value::Bool(true)) {
            validator.report("body", "is required");
        }
        return None;
    }
    let content = declared.get("content").and_then(Value::as_object);
    let sent = header(request, "content-type").unwrap_or("application/json");
    let essence = sent
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let media = content.and_then(|c| {
        c.iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(&essence))
            .or_else(|| {
                c.iter().find(|(t, _)| {
                    t.strip_suffix("/*")
                        .is_some_and(|major| essence.starts_with(&format!("{major}/")))
                        || *t == "*/*"
                })
            })
    });
    let Some((_, media)) = media else {
        let offered: Vec<&str> = content
            .into_iter()
            .flatten()
            .map(|(t, _)| t.as_str())
            .collect();
        if !offered.is_empty() {
            validator.report(
                "header.Content-Type",
                format!("must be one of: {}", offered.join(", ")),
            );
        }
        return parsed();
    };
    if !is_json(&essence) {
        return None;
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(value) => {
            if let Some(schema) = media.get("schema") {
                validator.check(schema, &value, "body");
            }
            Some(value)
        }
        Err(e) => {
            validator.report("body", format!("is not valid JSON: {e}"));
            None
        }
    }
}

/// A parameter's text as the schema's type, when it reads as one; as text
/// otherwise, so the validator names the mismatch.
fn coerce(spec: &Spec, schema: &Value, values: &[&str]) -> Value {
    let schema = spec.resolve(schema);
    match type_of(spec, schema) {
        Some("array") => {
            let items = schema.get("items").unwrap_or(&Value::Null);
            let parts: Vec<&str> = match values {
                [one] if !one.is_empty() => one.split(',').collect(),
                [_] => Vec::new(),
                many => many.to_vec(),
            };
            Value::Array(parts.iter().map(|p| coerce(spec, items, &[p])).collect())
        }
        kind => {
            let text = values.last().copied().unwrap_or("");
            scalar(kind, text)
        }
    }
}

fn scalar(kind: Option<&str>, text: &str) -> Value {
    let number = || {
        text.parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::String(text.to_owned()))
    };
    match kind {
        Some("integer" | "number") => number(),
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        Some("null") if text.is_empty() || text == "null" => Value::Null,
        Some("object") => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::String(text.to_owned()),
    }
}

/// The type a parameter's schema names (the first that is not `null`),
/// looking through `allOf`/`anyOf`/`oneOf` when it names none itself.
fn type_of<'s>(spec: &'s Spec, schema: &'s Value) -> Option<&'s str> {
    let mut current = schema;
    for _ in 0..8 {
        match current.get("type") {
            Some(Value::String(t)) => return Some(t),
            Some(Value::Array(list)) => {
                return list
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .or(Some("null"));
            }
            _ => {}
        }
        let next = ["allOf", "anyOf", "oneOf"]
            .iter()
            .find_map(|k| current.get(*k)?.as_array()?.first())?;
        current = spec.resolve(next);
    }
    None
}

#[cfg(test)]
mod tests {
    use portico_plugin_sdk::{SpecDocument, SpecFormat};

    use super::*;
    use crate::spec::tests::spec;

    const DOC: &str = r##"
openapi: 3.1.0
info: {title: T, version: "1"}
paths:
  /pets/{id}:
    post:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
        - {name: limit, in: query, schema: {type: integer, maximum: 10}}
        - {name: flags, in: query, schema: {type: array, items: {type: boolean}}}
        - {name: X-Trace, in: header, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties: {name: {type: string}}
      responses: {"201": {description: ok}}
"##;

    fn request(path: &str, query: &[(&str, &str)], body: &str) -> SandboxRequest {
        SandboxRequest {
            api: "api:default/pets".into(),
            version: "1".into(),
            spec: SpecDocument {
                format: SpecFormat::Openapi31,
                media_type: "application/yaml".into(),
                content: String::new(),
                source: None,
            },
            developer_id: "user:1".into(),
            method: "POST".into(),
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            authenticated: true,
        }
    }

    fn violations(req: &SandboxRequest) -> Vec<(String, String)> {
        let spec = spec(DOC);
        let matched = spec.find(&req.method, &req.path).ok().unwrap();
        check(&spec, &matched, req)
            .violations
            .into_iter()
            .map(|v| (v.location, v.message))
            .collect()
    }

    #[test]
    fn parameters_are_read_as_their_types_and_every_problem_is_listed() {
        let req = request(
            "/pets/abc",
            &[("limit", "11"), ("flags", "true,maybe")],
            r#"{"name": 5}"#,
        );
        let found = violations(&req);
        let expected = [
            ("path.id", "must be an integer"),
            ("query.limit", "must be at most 10"),
            ("query.flags[1]", "must be a boolean"),
            ("header.X-Trace", "is required"),
            ("body.name", "must be a string"),
        ];
        for (location, message) in expected {
            assert!(
                found.iter().any(|(l, m)| l == location && m == message),
                "{location} {message} in {found:?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:?}");
    }

    #[test]
    fn a_missing_or_malformed_body_is_reported() {
        let mut req = request("/pets/1", &[], "");
        req.headers.push(("x-trace".into(), "t".into()));
        assert_eq!(
            violations(&req),
            [("body".to_owned(), "is required".to_owned())]
        );
        req.body = b"{oops".to_vec();
        let found = violations(&req);
        assert!(found[0].1.starts_with("is not valid JSON"), "{found:?}");
        req.body = b"<a/>".to_vec();
        req.headers[0].1 = "application/xml".into();
        assert_eq!(
            violations(&req),
            [(
                "header.Content-Type".to_owned(),
                "must be one of: application/json".to_owned()
            )]
        );
    }
}
