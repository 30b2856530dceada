//! Swagger 2.0 → OpenAPI 3.0 conversion, over `serde_json::Value`.
//!
//! Untyped on purpose: real documents carry formats and shapes that typed models (roas's among
//! them) reject, and a converter that fails on those helps nobody. It never fails; what it does
//! not understand it carries over unchanged.

use serde_json::{Map, Value, json};

use super::index::METHODS;

mod objects;

use objects::{
    convert_parameter, convert_response, convert_schema, convert_security_scheme, parameter_schema,
};

const JSON: &str = "application/json";
const MULTIPART: &str = "multipart/form-data";
const URLENCODED: &str = "application/x-www-form-urlencoded";

/// What operations need from the rest of the document.
struct Ctx {
    /// Top-level `consumes`, `application/json` if none.
    consumes: Vec<String>,
    /// Top-level `produces`, `application/json` if none.
    produces: Vec<String>,
    /// Top-level parameters as written, to see where `#/parameters/...` references lead.
    parameters: Map<String, Value>,
    host: Option<String>,
    /// `basePath` with a leading and no trailing slash (`""` for the root).
    base_path: String,
}

/// Converts a Swagger 2.0 document to OpenAPI 3.0.3; anything but an object is returned as is.
pub(super) fn to_openapi30(doc: Value) -> Value {
    let Value::Object(mut root) = doc else {
        return doc;
    };
    root.remove("swagger");
    let base_path = take_string(&mut root, "basePath").unwrap_or_default();
    let base_path = base_path.trim_end_matches('/');
    let ctx = Ctx {
        host: take_string(&mut root, "host"),
        base_path: if base_path.is_empty() || base_path.starts_with('/') {
            base_path.to_owned()
        } else {
            format!("/{base_path}")
        },
        consumes: or_json(take_strings(&mut root, "consumes")),
        produces: or_json(take_strings(&mut root, "produces")),
        parameters: match root.remove("parameters") {
            Some(Value::Object(parameters)) => parameters,
            _ => Map::new(),
        },
    };
    let schemes = take_strings(&mut root, "schemes");
    let components = components(&mut root, &ctx);

    let mut paths = root.remove("paths").unwrap_or_else(|| json!({}));
    if let Some(paths) = paths.as_object_mut() {
        for (path, item) in paths.iter_mut() {
            if let (false, Value::Object(item)) = (path.starts_with("x-"), item) {
                convert_path_item(item, &ctx);
            }
        }
    }

    let mut out = Map::new();
    out.insert("openapi".into(), json!("3.0.3"));
    if let Some(info) = root.remove("info") {
        out.insert("info".into(), info);
    }
    let servers = servers(&ctx, &schemes);
    if !servers.is_empty() {
        out.insert("servers".into(), Value::Array(servers));
    }
    out.extend(root);
    out.insert("paths".into(), paths);
    if !components.is_empty() {
        out.insert("components".into(), Value::Object(components));
    }
    let mut out = Value::Object(out);
    rewrite_refs(&mut out, &ctx);
    out
}

/// `definitions`, `parameters`, `responses` and `securityDefinitions` as 3.0 components; body
/// and form parameters become `requestBodies`, since 3.0 parameters cannot hold them.
fn components(root: &mut Map<String, Value>, ctx: &Ctx) -> Map<String, Value> {
    let mut components = Map::new();
    if let Some(mut definitions) = root.remove("definitions") {
        if let Some(definitions) = definitions.as_object_mut() {
            definitions.values_mut().for_each(convert_schema);
        }
        components.insert("schemas".into(), definitions);
    }
    let mut responses = root.remove("responses");
    if let Some(responses) = responses.as_mut().and_then(Value::as_object_mut) {
        for response in responses.values_mut() {
            convert_response(response, &ctx.produces);
        }
    }
    let mut parameters = Map::new();
    let mut request_bodies = Map::new();
    for (name, param) in &ctx.parameters {
        match location(param) {
            Some("body") => {
                let body = body_request_body(param, &ctx.consumes);
                request_bodies.insert(name.clone(), body);
            }
            Some("formData") => {
                let body = form_request_body(std::slice::from_ref(param), &ctx.consumes);
                request_bodies.insert(name.clone(), body);
            }
            _ => {
                parameters.insert(name.clone(), convert_parameter(param));
            }
        }
    }
    if !parameters.is_empty() {
        components.insert("parameters".into(), Value::Object(parameters));
    }
    if let Some(responses) = responses {
        components.insert("responses".into(), responses);
    }
    if !request_bodies.is_empty() {
        components.insert("requestBodies".into(), Value::Object(request_bodies));
    }
    if let Some(mut schemes) = root.remove("securityDefinitions") {
        if let Some(schemes) = schemes.as_object_mut() {
            schemes.values_mut().for_each(convert_security_scheme);
        }
        components.insert("securitySchemes".into(), schemes);
    }
    components
}

/// `host`, `basePath` and `schemes` as server URLs; with no host, the base path alone.
fn servers(ctx: &Ctx, schemes: &[String]) -> Vec<Value> {
    match &ctx.host {
        Some(host) => {
            let https = ["https".to_owned()];
            let schemes = if schemes.is_empty() {
                &https[..]
            } else {
                schemes
            };
            let base = &ctx.base_path;
            let url = |scheme: &String| json!({ "url": format!("{scheme}://{host}{base}") });
            schemes.iter().map(url).collect()
        }
        None if !ctx.base_path.is_empty() => vec![json!({ "url": ctx.base_path })],
        None => Vec::new(),
    }
}

/// Path-level body and form parameters have no place on a 3.0 path item: they move into each
/// operation, which may override them. The other parameters stay.
fn convert_path_item(item: &mut Map<String, Value>, ctx: &Ctx) {
    let mut inherited = Vec::new();
    match item.remove("parameters") {
        Some(Value::Array(params)) => {
            let mut kept = Vec::new();
            for param in params {
                match effective_location(&param, ctx) {
                    Some("body" | "formData") => inherited.push(param),
                    _ if param.get("$ref").is_some() => kept.push(param),
                    _ => kept.push(convert_parameter(&param)),
                }
            }
            if !kept.is_empty() {
                item.insert("parameters".into(), Value::Array(kept));
            }
        }
        Some(other) => {
            item.insert("parameters".into(), other);
        }
        None => {}
    }
    for method in METHODS {
        if let Some(Value::Object(op)) = item.get_mut(method) {
            convert_operation(op, &inherited, ctx);
        }
    }
}

fn convert_operation(op: &mut Map<String, Value>, inherited: &[Value], ctx: &Ctx) {
    let consumes = Some(take_strings(op, "consumes"))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| ctx.consumes.clone());
    let produces = Some(take_strings(op, "produces"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ctx.produces.clone());
    let schemes = take_strings(op, "schemes");
    if !schemes.is_empty() && ctx.host.is_some() {
        op.insert("servers".into(), Value::Array(servers(ctx, &schemes)));
    }

    let mut params = match op.remove("parameters") {
        Some(Value::Array(params)) => params,
        Some(other) => {
            op.insert("parameters".into(), other);
            Vec::new()
        }
        None => Vec::new(),
    };
    for param in inherited {
        let key = param_key(param, ctx);
        if !params.iter().any(|p| param_key(p, ctx) == key) {
            params.push(param.clone());
        }
    }

    let mut body = None;
    let mut form = Vec::new();
    let mut rest = Vec::new();
    for param in params {
        if let Some(reference) = param.get("$ref").and_then(Value::as_str) {
            let name = reference.strip_prefix("#/parameters/");
            let target = name.and_then(|n| ctx.parameters.get(&unescape_pointer(n)));
            match (name, target, target.and_then(location)) {
                (Some(name), _, Some("body")) => {
                    body = Some(json!({ "$ref": format!("#/components/requestBodies/{name}") }));
                }
                (_, Some(target), Some("formData")) => form.push(target.clone()),
                _ => rest.push(param),
            }
            continue;
        }
        match location(&param) {
            Some("body") => body = Some(body_request_body(&param, &consumes)),
            Some("formData") => form.push(param),
            _ => rest.push(convert_parameter(&param)),
        }
    }
    if body.is_none() && !form.is_empty() {
        body = Some(form_request_body(&form, &consumes));
    }
    if !rest.is_empty() {
        op.insert("parameters".into(), Value::Array(rest));
    }
    if let Some(body) = body {
        op.insert("requestBody".into(), body);
    }
    if let Some(Value::Object(responses)) = op.get_mut("responses") {
        for (code, response) in responses.iter_mut() {
            if !code.starts_with("x-") {
                convert_response(response, &produces);
            }
        }
    }
}

/// A body parameter as a request body with one content entry per consumed media type.
fn body_request_body(param: &Value, consumes: &[String]) -> Value {
    let mut schema = param.get("schema").cloned().unwrap_or_else(|| json!({}));
    convert_schema(&mut schema);
    let content: Map<String, Value> = consumes
        .iter()
        .map(|media_type| (media_type.clone(), json!({ "schema": schema.clone() })))
        .collect();
    let mut body = Map::new();
    if let Some(description) = param.get("description") {
        body.insert("description".into(), description.clone());
    }
    body.insert("content".into(), Value::Object(content));
    if param.get("required") == Some(&Value::Bool(true)) {
        body.insert("required".into(), Value::Bool(true));
    }
    if let Some(name) = param.get("name") {
        // The convention other converters use, so generated clients keep the argument's name.
        body.insert("x-codegen-request-body-name".into(), name.clone());
    }
    copy_extensions(param, &mut body);
    Value::Object(body)
}

/// Form parameters as one object schema, sent as multipart or URL-encoded form data.
fn form_request_body(params: &[Value], consumes: &[String]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in params {
        let Some(name) = param.get("name").and_then(Value::as_str) else {
            continue;
        };
        let mut schema = parameter_schema(param);
        if let Some(description) = param.get("description") {
            schema.insert("description".into(), description.clone());
        }
        properties.insert(name.to_owned(), Value::Object(schema));
        if param.get("required") == Some(&Value::Bool(true)) {
            required.push(json!(name));
        }
    }
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = Value::Array(required.clone());
    }
    let declared: Vec<&str> = consumes
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with(MULTIPART) || c.starts_with(URLENCODED))
        .collect();
    let has_file = params.iter().any(|p| p.get("type") == Some(&json!("file")));
    let media_types = match (declared.is_empty(), has_file) {
        (false, _) => declared,
        (true, true) => vec![MULTIPART],
        (true, false) => vec![URLENCODED],
    };
    let content: Map<String, Value> = media_types
        .into_iter()
        .map(|media_type| (media_type.to_owned(), json!({ "schema": schema.clone() })))
        .collect();
    let mut body = json!({ "content": content });
    if !required.is_empty() {
        body["required"] = Value::Bool(true);
    }
    body
}

/// Points every `$ref` (local or into another file) at the 3.0 component that replaced the
/// 2.0 one.
fn rewrite_refs(value: &mut Value, ctx: &Ctx) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(rewritten) = rewrite_ref(reference, ctx)
            {
                *reference = rewritten;
            }
            map.values_mut().for_each(|v| rewrite_refs(v, ctx));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, ctx)),
        _ => {}
    }
}

fn rewrite_ref(reference: &str, ctx: &Ctx) -> Option<String> {
    let (file, pointer) = reference.split_once('#')?;
    let (section, rest) = pointer.strip_prefix('/')?.split_once('/')?;
    let section = match section {
        "definitions" => "schemas",
        "responses" => "responses",
        "securityDefinitions" => "securitySchemes",
        "parameters" => match ctx
            .parameters
            .get(&unescape_pointer(rest))
            .and_then(location)
        {
            Some("body" | "formData") if file.is_empty() => "requestBodies",
            _ => "parameters",
        },
        _ => return None,
    };
    Some(format!("{file}#/components/{section}/{rest}"))
}

fn location(param: &Value) -> Option<&str> {
    param.get("in").and_then(Value::as_str)
}

/// Where a parameter goes, following a reference to a top-level one.
fn effective_location<'a>(param: &'a Value, ctx: &'a Ctx) -> Option<&'a str> {
    match param.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.strip_prefix("#/parameters/")?;
            location(ctx.parameters.get(&unescape_pointer(name))?)
        }
        None => location(param),
    }
}

/// (name, in) identifies a parameter; an operation's replaces a path item's with the same.
fn param_key<'a>(param: &'a Value, ctx: &'a Ctx) -> (Option<&'a str>, Option<&'a str>) {
    let resolved = match param.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix("#/parameters/")
            .and_then(|name| ctx.parameters.get(&unescape_pointer(name)))
            .unwrap_or(param),
        None => param,
    };
    let name = resolved.get("name").and_then(Value::as_str);
    (name, location(resolved))
}

fn copy_extensions(from: &Value, to: &mut Map<String, Value>) {
    for (key, value) in from.as_object().into_iter().flatten() {
        if key.starts_with("x-") {
            to.insert(key.clone(), value.clone());
        }
    }
}

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn or_json(media_types: Vec<String>) -> Vec<String> {
    if media_types.is_empty() {
        vec![JSON.to_owned()]
    } else {
        media_types
    }
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key)? {
        Value::String(s) => Some(s),
        other => {
            map.insert(key.to_owned(), other);
            None
        }
    }
}

fn take_strings(map: &mut Map<String, Value>, key: &str) -> Vec<String> {
    match map.remove(key) {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        Some(other) => {
            map.insert(key.to_owned(), other);
            Vec::new()
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(doc: Value) -> Value {
        to_openapi30(doc)
    }

    #[test]
    fn host_base_path_and_schemes_become_servers() {
        let out = convert(json!({
            "swagger": "2.0", "host": "api.example.com", "basePath": "/v1/", "schemes": ["https", "http"]
        }));
        assert_eq!(out["openapi"], "3.0.3");
        assert!(out.get("swagger").is_none());
        assert_eq!(
            out["servers"],
            json!([{"url": "https://api.example.com/v1"}, {"url": "http://api.example.com/v1"}])
        );
        let out = convert(json!({"swagger": "2.0", "host": "h.example"}));
        assert_eq!(out["servers"], json!([{"url": "https://h.example"}]));
        let out = convert(json!({"swagger": "2.0", "basePath": "api"}));
        assert_eq!(out["servers"], json!([{"url": "/api"}]));
        let out = convert(json!({"swagger": "2.0", "basePath": "/"}));
        assert!(out.get("servers").is_none());
        assert_eq!(out["paths"], json!({}));
    }

    #[test]
    fn body_parameter_becomes_request_body_per_consumed_media_type() {
        let out = convert(json!({
            "swagger": "2.0",
            "consumes": ["application/json", "application/xml"],
            "paths": {"/pets": {"post": {
                "parameters": [
                    {"name": "pet", "in": "body", "required": true, "description": "The pet",
                     "schema": {"$ref": "#/definitions/Pet"}},
                    {"name": "dry", "in": "query", "type": "boolean"}
                ],
                "responses": {"201": {"description": "created"}}
            }}},
            "definitions": {"Pet": {"type": "object"}}
        }));
        let op = &out["paths"]["/pets"]["post"];
        let pet = json!({"schema": {"$ref": "#/components/schemas/Pet"}});
        assert_eq!(
            op["requestBody"],
            json!({
                "description": "The pet", "required": true,
                "content": {"application/json": pet, "application/xml": pet},
                "x-codegen-request-body-name": "pet"
            })
        );
        assert_eq!(
            op["parameters"],
            json!([{"name": "dry", "in": "query", "schema": {"type": "boolean"}}])
        );
    }

    #[test]
    fn form_parameters_become_one_object_schema() {
        let out = convert(json!({
            "swagger": "2.0",
            "paths": {"/upload": {
                "parameters": [{"name": "note", "in": "formData", "type": "string"}],
                "post": {"parameters": [
                    {"name": "file", "in": "formData", "type": "file", "required": true},
                    {"name": "id", "in": "path", "type": "string"}
                ], "responses": {}},
                "put": {"consumes": ["application/x-www-form-urlencoded"], "responses": {}}
            }}
        }));
        let post = &out["paths"]["/upload"]["post"];
        let schema = &post["requestBody"]["content"]["multipart/form-data"]["schema"];
        assert_eq!(
            *schema,
            json!({
                "type": "object", "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "note": {"type": "string"}
                }
            })
        );
        assert_eq!(post["requestBody"]["required"], true);
        assert_eq!(post["parameters"][0]["required"], true);
        let put = &out["paths"]["/upload"]["put"];
        let put_body = &put["requestBody"]["content"][URLENCODED]["schema"];
        assert_eq!(put_body["properties"]["note"], json!({"type": "string"}));
        assert!(out["paths"]["/upload"].get("parameters").is_none());
    }

    #[test]
    fn responses_get_content_from_produces_with_examples_and_header_schemas() {
        let out = convert(json!({
            "swagger": "2.0",
            "produces": ["application/json"],
            "paths": {"/a": {"get": {
                "produces": ["application/xml", "text/plain"],
                "responses": {
                    "200": {"description": "ok", "schema": {"type": "string"},
                            "examples": {"text/plain": "hello"},
                            "headers": {"X-Rate": {"type": "integer", "description": "left"}}},
                    "404": {"$ref": "#/responses/NotFound"},
                    "500": {"schema": {"type": "file"}}
                }
            }}},
            "responses": {"NotFound": {"description": "missing", "schema": {"$ref": "#/definitions/Err"}}}
        }));
        let responses = &out["paths"]["/a"]["get"]["responses"];
        assert_eq!(
            responses["200"]["content"],
            json!({
                "application/xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}, "example": "hello"}
            })
        );
        assert_eq!(
            responses["200"]["headers"]["X-Rate"],
            json!({"description": "left", "schema": {"type": "integer"}})
        );
        assert_eq!(
            responses["404"],
            json!({"$ref": "#/components/responses/NotFound"})
        );
        assert_eq!(responses["500"]["description"], "");
        assert_eq!(
            responses["500"]["content"]["text/plain"]["schema"],
            json!({"type": "string", "format": "binary"})
        );
        assert_eq!(
            out["components"]["responses"]["NotFound"]["content"][JSON]["schema"],
            json!({"$ref": "#/components/schemas/Err"})
        );
    }

    #[test]
    fn shared_parameters_split_into_parameters_and_request_bodies() {
        let out = convert(json!({
            "swagger": "2.0",
            "parameters": {
                "limit": {"name": "limit", "in": "query", "type": "integer", "maximum": 100},
                "body": {"name": "body", "in": "body", "schema": {"type": "object"}},
                "tag": {"name": "tag", "in": "formData", "type": "string"}
            },
            "paths": {
                "/a": {"post": {"parameters": [
                    {"$ref": "#/parameters/limit"}, {"$ref": "#/parameters/body"}
                ]}},
                "/b": {"post": {"parameters": [{"$ref": "#/parameters/tag"}]}}
            }
        }));
        let components = &out["components"];
        assert_eq!(
            components["parameters"]["limit"],
            json!({"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}})
        );
        assert!(components["requestBodies"]["body"]["content"][JSON].is_object());
        assert!(components["requestBodies"]["tag"]["content"][URLENCODED].is_object());
        let a = &out["paths"]["/a"]["post"];
        assert_eq!(
            a["parameters"],
            json!([{"$ref": "#/components/parameters/limit"}])
        );
        assert_eq!(
            a["requestBody"],
            json!({"$ref": "#/components/requestBodies/body"})
        );
        let b = &out["paths"]["/b"]["post"];
        assert_eq!(
            b["requestBody"]["content"][URLENCODED]["schema"]["properties"]["tag"],
            json!({"type": "string"})
        );
    }

    #[test]
    fn schemas_get_nullable_object_discriminators_and_rewritten_refs() {
        let out = convert(json!({
            "swagger": "2.0",
            "definitions": {
                "Pet": {"type": "object", "discriminator": "kind", "x-nullable": true,
                        "properties": {
                            "discriminator": {"type": "string"},
                            "owner": {"$ref": "#/definitions/Owner"},
                            "other": {"$ref": "common.yaml#/definitions/Thing"}
                        }},
                "Owner": {"type": "object", "x-nullable": false}
            }
        }));
        let pet = &out["components"]["schemas"]["Pet"];
        assert_eq!(pet["discriminator"], json!({"propertyName": "kind"}));
        assert_eq!(pet["nullable"], true);
        assert_eq!(
            pet["properties"]["discriminator"],
            json!({"type": "string"})
        );
        assert_eq!(
            pet["properties"]["owner"]["$ref"],
            "#/components/schemas/Owner"
        );
        assert_eq!(
            pet["properties"]["other"]["$ref"],
            "common.yaml#/components/schemas/Thing"
        );
        assert_eq!(
            out["components"]["schemas"]["Owner"],
            json!({"type": "object"})
        );
    }

    #[test]
    fn operation_level_parameters_override_path_level_ones() {
        let out = convert(json!({
            "swagger": "2.0",
            "paths": {"/a/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "type": "string"},
                    {"name": "body", "in": "body", "schema": {"type": "string"}}
                ],
                "put": {"parameters": [{"name": "body", "in": "body", "schema": {"type": "integer"}}]},
                "post": {}
            }}
        }));
        let item = &out["paths"]["/a/{id}"];
        assert_eq!(
            item["parameters"],
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}])
        );
        assert_eq!(
            item["put"]["requestBody"]["content"][JSON]["schema"],
            json!({"type": "integer"})
        );
        assert_eq!(
            item["post"]["requestBody"]["content"][JSON]["schema"],
            json!({"type": "string"})
        );
    }

    #[test]
    fn malformed_shapes_are_carried_over_without_panicking() {
        let odd = json!({
            "swagger": "2.0", "host": 7, "consumes": "json", "parameters": [1],
            "definitions": [], "securityDefinitions": {"x": 1, "y": {"type": "oauth2"}},
            "paths": {"/a": {"parameters": {"not": "a list"}, "get": {"parameters": [
                null, {"$ref": "#/parameters/missing"}, {"$ref": 3}, {"in": "formData"}
            ], "responses": []}}, "/b": 1, "x-ext": {"get": 1}}
        });
        let out = convert(odd);
        assert_eq!(out["openapi"], "3.0.3");
        assert_eq!(out["host"], 7);
        assert_eq!(out["components"]["schemas"], json!([]));
        assert_eq!(
            out["components"]["securitySchemes"]["y"]["flows"],
            json!({"": {"scopes": {}}})
        );
        assert_eq!(convert(json!([1, 2])), json!([1, 2]));
    }
}
