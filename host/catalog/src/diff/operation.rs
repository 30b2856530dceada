//! Comparing the two versions of one operation: its id, deprecation and security, then its
//! parameters, request body and responses, down to the schemas of each media type.
//!
//! Parameters match by location and name (header names ignore case, renamed path parameters
//! match by position); bodies and responses match by media type and status code.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::schema::Direction;
use super::{Differ, Rule, is_deprecated, join, resolve, security};

/// Header parameters OpenAPI says to ignore: they are described elsewhere.
const IGNORED_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];

/// One version of an operation and what it needs from around it.
pub(crate) struct Side<'a, 'r> {
    /// The path item holding it, for path-level parameters.
    pub(crate) path_item: &'a Map<String, Value>,
    /// The operation object.
    pub(crate) op: &'a Value,
    /// Path parameters renamed since (old name → new name); empty for the new side.
    pub(crate) renames: &'r HashMap<&'r str, &'r str>,
}

/// Compares two versions of the operation at `location` (`GET /pets/{petId}`).
pub(crate) fn compare<'a>(
    d: &mut Differ<'a>,
    location: &str,
    old: Side<'a, '_>,
    new: Side<'a, '_>,
) {
    match (is_deprecated(old.op), is_deprecated(new.op)) {
        (false, true) => {
            let message = "The operation was marked deprecated.".to_owned();
            d.push(Rule::OperationDeprecated, location.to_owned(), message);
        }
        (true, false) => {
            let message = "The operation is no longer deprecated.".to_owned();
            d.push(Rule::OperationUndeprecated, location.to_owned(), message);
        }
        _ => {}
    }
    let id = |op: &'a Value| op.get("operationId").and_then(Value::as_str);
    let message = match (id(old.op), id(new.op)) {
        (Some(o), Some(n)) if o != n => Some(format!("`operationId` changed from `{o}` to `{n}`.")),
        (None, Some(n)) => Some(format!("`operationId` `{n}` was added.")),
        (Some(o), None) => Some(format!("`operationId` `{o}` was removed.")),
        _ => None,
    };
    if let Some(message) = message {
        d.push(Rule::OperationIdChanged, location.to_owned(), message);
    }
    // Operations that inherit the global requirement on both sides are covered by the
    // global comparison, once.
    if old.op.get("security").is_some() || new.op.get("security").is_some() {
        let old_security = old.op.get("security").or_else(|| d.old.get("security"));
        let new_security = new.op.get("security").or_else(|| d.new.get("security"));
        security::compare_requirements(d, &join(location, "security"), old_security, new_security);
    }
    parameters(d, location, &old, &new);
    request_body(
        d,
        location,
        old.op.get("requestBody"),
        new.op.get("requestBody"),
    );
    responses(
        d,
        location,
        old.op.get("responses"),
        new.op.get("responses"),
    );
}

/// A parameter, keyed by location and (for headers, lowercased) name.
struct Param<'a> {
    location: String,
    key: String,
    name: String,
    value: &'a Map<String, Value>,
}

impl Param<'_> {
    fn required(&self) -> bool {
        self.location == "path" || self.value.get("required").and_then(Value::as_bool) == Some(true)
    }

    fn describe(&self) -> String {
        format!("parameter `{}` ({})", self.name, self.location)
    }

    /// `style` and `explode` with OpenAPI's defaults filled in.
    fn serialization(&self) -> (&str, bool) {
        let default = match self.location.as_str() {
            "query" | "cookie" => "form",
            _ => "simple",
        };
        let style = self
            .value
            .get("style")
            .and_then(Value::as_str)
            .unwrap_or(default);
        let explode = self.value.get("explode").and_then(Value::as_bool);
        (style, explode.unwrap_or(style == "form"))
    }
}

/// The parameters in force: the path item's, overridden by the operation's.
fn parameters_of<'a>(doc: &'a Value, side: &Side<'a, '_>) -> Vec<Param<'a>> {
    let mut out: Vec<Param<'a>> = Vec::new();
    let lists = [side.path_item.get("parameters"), side.op.get("parameters")];
    for p in lists
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
    {
        let Some(value) = resolve(doc, p).value.as_object() else {
            continue;
        };
        let Some(name) = value.get("name").and_then(Value::as_str) else {
            continue;
        };
        let location = value
            .get("in")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let name = match location.as_str() {
            "path" => side.renames.get(name).copied().unwrap_or(name),
            _ => name,
        };
        let key = match location.as_str() {
            "header" => name.to_ascii_lowercase(),
            _ => name.to_owned(),
        };
        if location == "header" && IGNORED_HEADERS.contains(&key.as_str()) {
            continue;
        }
        let param = Param {
            location,
            key,
            name: name.to_owned(),
            value,
        };
        match out
            .iter_mut()
            .find(|q| q.location == param.location && q.key == param.key)
        {
            Some(existing) => *existing = param,
            None => out.push(param),
        }
    }
    out
}

fn where_is(location: &str) -> &str {
    match location {
        "query" => "the query",
        "path" => "the path",
        "header" => "a header",
        "cookie" => "a cookie",
        other => other,
    }
}

fn parameters<'a>(d: &mut Differ<'a>, location: &str, old: &Side<'a, '_>, new: &Side<'a, '_>) {
    let old_params = parameters_of(d.old, old);
    let new_params = parameters_of(d.new, new);
    let find = |list: &[Param<'a>], location: &str, key: &str| {
        list.iter()
            .position(|p| p.location == location && p.key == key)
    };
    let mut moved = vec![false; new_params.len()];
    for o in &old_params {
        if let Some(j) = find(&new_params, &o.location, &o.key) {
            compare_parameter(d, location, o, &new_params[j]);
            continue;
        }
        let elsewhere = new_params.iter().position(|n| {
            n.key.eq_ignore_ascii_case(&o.key) && find(&old_params, &n.location, &n.key).is_none()
        });
        match elsewhere {
            Some(j) if !moved[j] => {
                moved[j] = true;
                let message = format!(
                    "Parameter `{}` moved from {} to {}.",
                    o.name,
                    where_is(&o.location),
                    where_is(&new_params[j].location)
                );
                let at = join(location, &new_params[j].describe());
                d.push(Rule::ParameterLocationChanged, at, message);
            }
            _ => {
                let message = format!("Parameter `{}` was removed.", o.name);
                d.push(
                    Rule::ParameterRemoved,
                    join(location, &o.describe()),
                    message,
                );
            }
        }
    }
    for (j, n) in new_params.iter().enumerate() {
        if moved[j] || find(&old_params, &n.location, &n.key).is_some() {
            continue;
        }
        let (rule, kind) = if n.required() {
            (Rule::RequiredParameterAdded, "required")
        } else {
            (Rule::OptionalParameterAdded, "optional")
        };
        let message = format!(
            "New {kind} parameter `{}` in {}.",
            n.name,
            where_is(&n.location)
        );
        d.push(rule, join(location, &n.describe()), message);
    }
}

/// A parameter's or header's schema: `schema`, or that of its one `content` entry.
fn schema_of(value: &Map<String, Value>) -> Option<&Value> {
    value.get("schema").or_else(|| {
        let content = value.get("content")?.as_object()?;
        content.values().next()?.get("schema")
    })
}

fn compare_parameter<'a>(d: &mut Differ<'a>, location: &str, old: &Param<'a>, new: &Param<'a>) {
    let at = join(location, &new.describe());
    match (old.required(), new.required()) {
        (false, true) => {
            let message = format!("Parameter `{}` became required.", new.name);
            d.push(Rule::ParameterBecameRequired, at.clone(), message);
        }
        (true, false) => {
            let message = format!("Parameter `{}` became optional.", new.name);
            d.push(Rule::ParameterBecameOptional, at.clone(), message);
        }
        _ => {}
    }
    if !old.value.get("deprecated").is_some_and(|v| v == true)
        && new.value.get("deprecated").is_some_and(|v| v == true)
    {
        let message = format!("Parameter `{}` was marked deprecated.", new.name);
        d.push(Rule::ParameterDeprecated, at.clone(), message);
    }
    if old.value.contains_key("schema") && new.value.contains_key("schema") {
        let ((os, oe), (ns, ne)) = (old.serialization(), new.serialization());
        if (os, oe) != (ns, ne) {
            let message = format!(
                "Serialised with style `{ns}`, explode {ne} instead of style `{os}`, explode {oe}."
            );
            d.push(Rule::ParameterSerializationChanged, at.clone(), message);
        }
    }
    if let (Some(o), Some(n)) = (schema_of(old.value), schema_of(new.value)) {
        d.schema(&at, o, n, Direction::Request);
    }
}

fn required(value: &Map<String, Value>) -> bool {
    value.get("required").and_then(Value::as_bool) == Some(true)
}

fn request_body<'a>(
    d: &mut Differ<'a>,
    location: &str,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
) {
    let at = join(location, "request body");
    let old = old.and_then(|b| resolve(d.old, b).value.as_object());
    let new = new.and_then(|b| resolve(d.new, b).value.as_object());
    let (rule, message) = match (old, new) {
        (None, None) => return,
        (None, Some(n)) if required(n) => (
            Rule::RequiredRequestBodyAdded,
            "A required request body was added.",
        ),
        (None, Some(_)) => (
            Rule::OptionalRequestBodyAdded,
            "An optional request body was added.",
        ),
        (Some(_), None) => (Rule::RequestBodyRemoved, "The request body was removed."),
        (Some(o), Some(n)) => {
            match (required(o), required(n)) {
                (false, true) => {
                    let message = "The request body became required.".to_owned();
                    d.push(Rule::RequestBodyBecameRequired, at.clone(), message);
                }
                (true, false) => {
                    let message = "The request body became optional.".to_owned();
                    d.push(Rule::RequestBodyBecameOptional, at.clone(), message);
                }
                _ => {}
            }
            content(
                d,
                &at,
                o.get("content"),
                n.get("content"),
                Direction::Request,
            );
            return;
        }
    };
    d.push(rule, at, message.to_owned());
}

/// Media types, lowercased and without parameters (`application/json; charset=utf-8`).
fn media_types(content: Option<&Value>) -> Vec<(String, &Value)> {
    let mut out: Vec<(String, &Value)> = Vec::new();
    for (name, media) in content.and_then(Value::as_object).into_iter().flatten() {
        let name = name
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, media));
        }
    }
    out
}

fn content<'a>(
    d: &mut Differ<'a>,
    at: &str,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    dir: Direction,
) {
    let (old, new) = (media_types(old), media_types(new));
    for (name, o) in &old {
        match new.iter().find(|(n, _)| n == name) {
            Some((_, n)) => {
                if let (Some(os), Some(ns)) = (o.get("schema"), n.get("schema")) {
                    d.schema(&join(at, name), os, ns, dir);
                }
            }
            None => {
                let (rule, message) = match dir {
                    Direction::Request => (Rule::RequestMediaTypeRemoved, "is no longer accepted"),
                    Direction::Response => {
                        (Rule::ResponseMediaTypeRemoved, "is no longer returned")
                    }
                };
                d.push(
                    rule,
                    at.to_owned(),
                    format!("Media type `{name}` {message}."),
                );
            }
        }
    }
    for (name, _) in new.iter().filter(|(n, _)| !old.iter().any(|(o, _)| o == n)) {
        let (rule, message) = match dir {
            Direction::Request => (Rule::RequestMediaTypeAdded, "is now accepted"),
            Direction::Response => (Rule::ResponseMediaTypeAdded, "may now be returned"),
        };
        d.push(
            rule,
            at.to_owned(),
            format!("Media type `{name}` {message}."),
        );
    }
}

fn statuses(responses: Option<&Value>) -> Vec<(String, &Value)> {
    let Some(responses) = responses.and_then(Value::as_object) else {
        return Vec::new();
    };
    responses
        .iter()
        .filter(|(code, _)| !code.starts_with("x-"))
        .map(|(code, r)| (code.to_ascii_uppercase(), r))
        .collect()
}

fn responses<'a>(
    d: &mut Differ<'a>,
    location: &str,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
) {
    let (old, new) = (statuses(old), statuses(new));
    for (code, o) in &old {
        let at = join(location, &format!("response {code}"));
        if let Some((_, n)) = new.iter().find(|(c, _)| c == code) {
            response(d, &at, o, n);
            continue;
        }
        let rule = if code.starts_with(['1', '2', '3']) {
            Rule::ResponseStatusRemoved
        } else {
            Rule::ResponseErrorStatusRemoved
        };
        d.push(rule, at, format!("Response `{code}` was removed."));
    }
    for (code, _) in new.iter().filter(|(c, _)| !old.iter().any(|(o, _)| o == c)) {
        let at = join(location, &format!("response {code}"));
        d.push(
            Rule::ResponseStatusAdded,
            at,
            format!("Response `{code}` was added."),
        );
    }
}

fn headers<'a>(
    doc: &'a Value,
    response: &'a Map<String, Value>,
) -> Vec<(String, &'a str, &'a Map<String, Value>)> {
    let Some(headers) = response.get("headers").and_then(Value::as_object) else {
        return Vec::new();
    };
    headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type"))
        .filter_map(|(name, h)| {
            let h = resolve(doc, h).value.as_object()?;
            Some((name.to_ascii_lowercase(), name.as_str(), h))
        })
        .collect()
}

fn response<'a>(d: &mut Differ<'a>, at: &str, old: &'a Value, new: &'a Value) {
    let (Some(old), Some(new)) = (
        resolve(d.old, old).value.as_object(),
        resolve(d.new, new).value.as_object(),
    ) else {
        return;
    };
    let (old_headers, new_headers) = (headers(d.old, old), headers(d.new, new));
    for (key, old_name, o) in &old_headers {
        let Some((_, name, n)) = new_headers.iter().find(|(k, _, _)| k == key) else {
            let message = format!("Header `{old_name}` was removed.");
            let header_at = join(at, &format!("header `{old_name}`"));
            d.push(Rule::ResponseHeaderRemoved, header_at, message);
            continue;
        };
        let header_at = join(at, &format!("header `{name}`"));
        if required(o) && !required(n) {
            let message = format!("Header `{name}` became optional.");
            d.push(
                Rule::ResponseHeaderBecameOptional,
                header_at.clone(),
                message,
            );
        }
        if let (Some(os), Some(ns)) = (schema_of(o), schema_of(n)) {
            d.schema(&header_at, os, ns, Direction::Response);
        }
    }
    for (_, name, _) in new_headers
        .iter()
        .filter(|(k, _, _)| !old_headers.iter().any(|(o, _, _)| o == k))
    {
        let message = format!("Header `{name}` was added.");
        d.push(
            Rule::ResponseHeaderAdded,
            join(at, &format!("header `{name}`")),
            message,
        );
    }
    content(
        d,
        at,
        old.get("content"),
        new.get("content"),
        Direction::Response,
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::tests::{Case, case, check, doc, op_doc};
    use crate::diff::{Severity, diff};

    fn param(name: &str, location: &str, required: bool) -> Value {
        json!({"name": name, "in": location, "required": required, "schema": {"type": "string"}})
    }

    fn params(list: Value) -> Value {
        op_doc(json!({"parameters": list}))
    }

    fn body(required: bool, media: &[&str]) -> Value {
        let content: Map<String, Value> = media
            .iter()
            .map(|m| ((*m).to_owned(), json!({"schema": {"type": "string"}})))
            .collect();
        op_doc(json!({"requestBody": {"required": required, "content": content}}))
    }

    fn responses(list: Value) -> Value {
        op_doc(json!({"responses": list}))
    }

    fn ok(headers: Value, media: &[&str]) -> Value {
        let content: Map<String, Value> = media
            .iter()
            .map(|m| ((*m).to_owned(), json!({"schema": {"type": "string"}})))
            .collect();
        responses(json!({"200": {"description": "ok", "headers": headers, "content": content}}))
    }

    pub(crate) fn cases() -> Vec<Case> {
        let limit = param("limit", "query", false);
        let user = param("user", "query", true);
        let json = "application/json";
        let xml = "application/xml";
        let rate = json!({"X-Rate": {"required": true, "schema": {"type": "integer"}}});
        let rate_optional = json!({"X-Rate": {"schema": {"type": "integer"}}});
        vec![
            case(
                Rule::OperationIdChanged,
                op_doc(json!({"operationId": "a"})),
                op_doc(json!({"operationId": "b"})),
            ),
            case(
                Rule::OperationDeprecated,
                op_doc(json!({})),
                op_doc(json!({"deprecated": true})),
            ),
            case(
                Rule::OperationUndeprecated,
                op_doc(json!({"deprecated": true})),
                op_doc(json!({})),
            ),
            case(
                Rule::RequiredParameterAdded,
                params(json!([])),
                params(json!([user])),
            ),
            case(
                Rule::OptionalParameterAdded,
                params(json!([])),
                params(json!([limit])),
            ),
            case(
                Rule::ParameterRemoved,
                params(json!([limit])),
                params(json!([])),
            ),
            case(
                Rule::ParameterLocationChanged,
                params(json!([limit])),
                params(json!([param("limit", "header", false)])),
            ),
            case(
                Rule::ParameterBecameRequired,
                params(json!([limit])),
                params(json!([param("limit", "query", true)])),
            ),
            case(
                Rule::ParameterBecameOptional,
                params(json!([user])),
                params(json!([param("user", "query", false)])),
            ),
            case(
                Rule::ParameterSerializationChanged,
                params(json!([limit])),
                params(json!([{
                    "name": "limit", "in": "query", "explode": false,
                    "schema": {"type": "string"}
                }])),
            ),
            case(
                Rule::ParameterDeprecated,
                params(json!([limit])),
                params(json!([{
                    "name": "limit", "in": "query", "deprecated": true,
                    "schema": {"type": "string"}
                }])),
            ),
            case(
                Rule::RequiredRequestBodyAdded,
                op_doc(json!({})),
                body(true, &[json]),
            ),
            case(
                Rule::OptionalRequestBodyAdded,
                op_doc(json!({})),
                body(false, &[json]),
            ),
            case(
                Rule::RequestBodyRemoved,
                body(false, &[json]),
                op_doc(json!({})),
            ),
            case(
                Rule::RequestBodyBecameRequired,
                body(false, &[json]),
                body(true, &[json]),
            ),
            case(
                Rule::RequestBodyBecameOptional,
                body(true, &[json]),
                body(false, &[json]),
            ),
            case(
                Rule::RequestMediaTypeAdded,
                body(true, &[json]),
                body(true, &[json, xml]),
            ),
            case(
                Rule::RequestMediaTypeRemoved,
                body(true, &[json, xml]),
                body(true, &[json]),
            ),
            case(
                Rule::ResponseStatusAdded,
                responses(json!({"200": {"description": "ok"}})),
                responses(json!({"200": {"description": "ok"}, "404": {"description": "no"}})),
            ),
            case(
                Rule::ResponseStatusRemoved,
                responses(json!({"200": {"description": "ok"}, "201": {"description": "ok"}})),
                responses(json!({"200": {"description": "ok"}})),
            ),
            case(
                Rule::ResponseErrorStatusRemoved,
                responses(json!({"200": {"description": "ok"}, "404": {"description": "no"}})),
                responses(json!({"200": {"description": "ok"}})),
            ),
            case(
                Rule::ResponseMediaTypeAdded,
                ok(json!({}), &[json]),
                ok(json!({}), &[json, xml]),
            ),
            case(
                Rule::ResponseMediaTypeRemoved,
                ok(json!({}), &[json, xml]),
                ok(json!({}), &[json]),
            ),
            case(
                Rule::ResponseHeaderAdded,
                ok(json!({}), &[json]),
                ok(rate.clone(), &[json]),
            ),
            case(
                Rule::ResponseHeaderRemoved,
                ok(rate.clone(), &[json]),
                ok(json!({}), &[json]),
            ),
            case(
                Rule::ResponseHeaderBecameOptional,
                ok(rate, &[json]),
                ok(rate_optional, &[json]),
            ),
        ]
    }

    #[test]
    fn every_operation_case_reports_its_rule() {
        check(&cases());
    }

    fn located(old: &Value, new: &Value) -> Vec<(Rule, String)> {
        let result = diff(old, new).unwrap();
        result
            .changes
            .into_iter()
            .map(|c| (c.rule, c.location))
            .collect()
    }

    #[test]
    fn parameters_are_located_by_operation_name_and_place() {
        let old = params(json!([param("limit", "query", false)]));
        let new = params(json!([param("limit", "query", true)]));
        assert_eq!(
            located(&old, &new),
            [(
                Rule::ParameterBecameRequired,
                "GET /pets › parameter `limit` (query)".to_owned()
            )]
        );
    }

    #[test]
    fn path_level_parameters_apply_and_operations_override_them() {
        let with = |path_level: Value, op_level: Value| {
            doc(
                json!({"/pets": {"parameters": path_level, "get": {"parameters": op_level}}}),
                json!({}),
            )
        };
        let old = with(json!([param("v", "query", false)]), json!([]));
        let same = with(json!([]), json!([param("v", "query", false)]));
        assert!(located(&old, &same).is_empty());
        let overridden = with(
            json!([param("v", "query", false)]),
            json!([param("v", "query", true)]),
        );
        assert_eq!(
            located(&old, &overridden)[0].0,
            Rule::ParameterBecameRequired
        );
    }

    #[test]
    fn header_parameter_names_ignore_case_and_ignored_headers_are_skipped() {
        let old = params(json!([
            param("X-Trace", "header", false),
            param("Accept", "header", true)
        ]));
        let new = params(json!([param("x-trace", "header", false)]));
        assert!(located(&old, &new).is_empty());
    }

    #[test]
    fn parameter_schema_changes_use_request_rules() {
        let old = params(json!([{
            "name": "status", "in": "query",
            "schema": {"type": "string", "enum": ["a", "b"]}
        }]));
        let new = params(
            json!([{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["a"]}}]),
        );
        let result = diff(&old, &new).unwrap();
        assert_eq!(result.changes.len(), 1);
        let change = &result.changes[0];
        assert_eq!(change.rule, Rule::RequestEnumValueRemoved);
        assert_eq!(change.location, "GET /pets › parameter `status` (query)");
        assert_eq!(change.message, "No longer accepts `b`.");
        assert_eq!(change.severity, Severity::Breaking);
    }

    #[test]
    fn media_type_parameters_and_case_do_not_count_as_changes() {
        let old = ok(json!({}), &["application/json"]);
        let new = ok(json!({}), &["Application/JSON; charset=utf-8"]);
        assert!(located(&old, &new).is_empty());
    }

    #[test]
    fn response_body_and_header_schemas_use_response_rules() {
        let old = ok(
            json!({"X-Rate": {"schema": {"type": "integer"}}}),
            &["application/json"],
        );
        let new = ok(
            json!({"x-rate": {"schema": {"type": "number"}}}),
            &["application/json"],
        );
        assert_eq!(
            located(&old, &new),
            [(
                Rule::ResponseTypeChanged,
                "GET /pets › response 200 › header `x-rate`".to_owned()
            )]
        );
    }

    #[test]
    fn referenced_parameters_bodies_and_responses_are_followed() {
        let mut old = op_doc(json!({
            "parameters": [{"$ref": "#/components/parameters/Limit"}],
            "requestBody": {"$ref": "#/components/requestBodies/Pet"},
            "responses": {"200": {"$ref": "#/components/responses/Ok"}}
        }));
        old["components"] = json!({
            "parameters": {"Limit": param("limit", "query", false)},
            "requestBodies": {"Pet": {"content": {
                "application/json": {"schema": {"type": "object"}}
            }}},
            "responses": {"Ok": {"description": "ok"}}
        });
        let mut new = old.clone();
        new["components"]["parameters"]["Limit"]["required"] = json!(true);
        new["components"]["requestBodies"]["Pet"]["required"] = json!(true);
        new["components"]["responses"]["Ok"]["headers"] =
            json!({"X-New": {"schema": {"type": "string"}}});
        let rules: Vec<_> = located(&old, &new).into_iter().map(|(r, _)| r).collect();
        assert_eq!(
            rules,
            [
                Rule::ParameterBecameRequired,
                Rule::RequestBodyBecameRequired,
                Rule::ResponseHeaderAdded
            ]
        );
    }
}
