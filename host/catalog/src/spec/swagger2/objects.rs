//! The Swagger 2.0 objects whose shape changed in 3.0: parameters, responses, headers,
//! security schemes and a few schema keywords.
//!
//! Each converts one object in place or by value; where it sits in the document is
//! `swagger2`'s business.

use serde_json::{Map, Value, json};

use super::{location, take_string};

/// Parameter and header fields that describe the value, so move into a 3.0 `schema`.
const SCHEMA_FIELDS: [&str; 16] = [
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
];

/// A query, path, header or cookie parameter: its value fields move into `schema`, and
/// `collectionFormat` becomes `style`/`explode`.
pub(super) fn convert_parameter(param: &Value) -> Value {
    let Value::Object(src) = param else {
        return param.clone();
    };
    let location = location(param).unwrap_or_default();
    let mut out = Map::new();
    for (key, value) in src {
        match key.as_str() {
            "collectionFormat" | "schema" => {}
            "allowEmptyValue" if location != "query" => {}
            "x-example" => {
                out.insert("example".into(), value.clone());
            }
            key if SCHEMA_FIELDS.contains(&key) || key == "x-nullable" => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if location == "path" {
        out.insert("required".into(), Value::Bool(true));
    }
    let schema = match src.get("schema") {
        // Not allowed outside `in: body`, but written often enough to keep.
        Some(schema) if !src.contains_key("type") => {
            let mut schema = schema.clone();
            convert_schema(&mut schema);
            schema
        }
        _ => Value::Object(parameter_schema(param)),
    };
    out.insert("schema".into(), schema);
    if src.get("type") == Some(&json!("array")) {
        let format = src.get("collectionFormat").and_then(Value::as_str);
        let form_style = matches!(location, "query" | "cookie");
        let (style, explode) = match format.unwrap_or("csv") {
            "csv" if form_style => (Some("form"), Some(false)),
            "ssv" => (Some("spaceDelimited"), Some(false)),
            "pipes" => (Some("pipeDelimited"), Some(false)),
            "multi" => (Some("form"), Some(true)),
            "tsv" => {
                out.insert("x-collectionFormat".into(), json!("tsv"));
                (None, None)
            }
            _ => (None, None),
        };
        if let Some(style) = style {
            out.insert("style".into(), json!(style));
        }
        if let Some(explode) = explode {
            out.insert("explode".into(), json!(explode));
        }
    }
    Value::Object(out)
}

/// The schema a parameter, header or items object describes inline.
pub(super) fn parameter_schema(param: &Value) -> Map<String, Value> {
    let mut schema = Map::new();
    for key in SCHEMA_FIELDS {
        if let Some(value) = param.get(key) {
            schema.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(items) = schema.get_mut("items")
        && items.is_object()
        && items.get("$ref").is_none()
    {
        *items = Value::Object(parameter_schema(items));
    }
    if schema.get("type") == Some(&json!("file")) {
        schema.insert("type".into(), json!("string"));
        schema.insert("format".into(), json!("binary"));
    }
    if param.get("x-nullable") == Some(&Value::Bool(true)) {
        schema.insert("nullable".into(), Value::Bool(true));
    }
    schema
}

/// `schema` and `examples` move under `content`, one entry per produced media type; header
/// value fields move into a `schema`.
pub(super) fn convert_response(response: &mut Value, produces: &[String]) {
    let Value::Object(resp) = response else {
        return;
    };
    if resp.contains_key("$ref") {
        return;
    }
    let mut content = Map::new();
    if let Some(mut schema) = resp.remove("schema") {
        convert_schema(&mut schema);
        for media_type in produces {
            content.insert(media_type.clone(), json!({ "schema": schema.clone() }));
        }
    }
    match resp.remove("examples") {
        Some(Value::Object(examples)) => {
            for (media_type, example) in examples {
                let entry = content.entry(media_type).or_insert_with(|| json!({}));
                if let Some(entry) = entry.as_object_mut() {
                    entry.insert("example".into(), example);
                }
            }
        }
        Some(other) => {
            resp.insert("examples".into(), other);
        }
        None => {}
    }
    if !content.is_empty() {
        resp.insert("content".into(), Value::Object(content));
    }
    if let Some(Value::Object(headers)) = resp.get_mut("headers") {
        for header in headers.values_mut() {
            convert_header(header);
        }
    }
    resp.entry("description").or_insert_with(|| json!(""));
}

fn convert_header(header: &mut Value) {
    let Value::Object(src) = &*header else {
        return;
    };
    if src.contains_key("$ref") {
        return;
    }
    let mut out = Map::new();
    for (key, value) in src {
        if !SCHEMA_FIELDS.contains(&key.as_str()) && key != "collectionFormat" {
            out.insert(key.clone(), value.clone());
        }
    }
    out.insert("schema".into(), Value::Object(parameter_schema(header)));
    *header = Value::Object(out);
}

/// `basic` becomes HTTP basic; an OAuth2 `flow` becomes `flows` with 3.0's flow names.
pub(super) fn convert_security_scheme(scheme: &mut Value) {
    let Value::Object(scheme) = scheme else {
        return;
    };
    match scheme.get("type").and_then(Value::as_str) {
        Some("basic") => {
            scheme.insert("type".into(), json!("http"));
            scheme.insert("scheme".into(), json!("basic"));
        }
        Some("oauth2") => {
            let flow = take_string(scheme, "flow").unwrap_or_default();
            let (name, urls): (&str, &[&str]) = match flow.as_str() {
                "implicit" => ("implicit", &["authorizationUrl"]),
                "password" => ("password", &["tokenUrl"]),
                "application" => ("clientCredentials", &["tokenUrl"]),
                "accessCode" => ("authorizationCode", &["authorizationUrl", "tokenUrl"]),
                _ => (flow.as_str(), &["authorizationUrl", "tokenUrl"]),
            };
            let mut details = Map::new();
            for url in ["authorizationUrl", "tokenUrl"] {
                if let Some(value) = scheme.remove(url)
                    && urls.contains(&url)
                {
                    details.insert(url.to_owned(), value);
                }
            }
            let scopes = scheme.remove("scopes").unwrap_or_else(|| json!({}));
            details.insert("scopes".into(), scopes);
            let flows = json!({ name: details });
            scheme.insert("flows".into(), flows);
        }
        _ => {}
    }
}

/// Schema keywords that changed: `x-nullable` → `nullable`, a string `discriminator` → an
/// object, `type: file` → binary string. Applied through the whole tree: the old spellings
/// only match where a schema uses them (a property *named* `discriminator` holds an object).
pub(super) fn convert_schema(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Bool(nullable)) = map.get("x-nullable") {
                let nullable = *nullable;
                map.remove("x-nullable");
                if nullable {
                    map.insert("nullable".into(), Value::Bool(true));
                }
            }
            if let Some(Value::String(property)) = map.get("discriminator") {
                let discriminator = json!({ "propertyName": property });
                map.insert("discriminator".into(), discriminator);
            }
            if map.get("type") == Some(&json!("file")) {
                map.insert("type".into(), json!("string"));
                map.insert("format".into(), json!("binary"));
            }
            map.values_mut().for_each(convert_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(convert_schema),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_parameters_get_style_and_explode_from_collection_format() {
        let param = |format: Option<&str>, location: &str| {
            let mut p = json!({"name": "ids", "in": location, "type": "array", "items": {"type": "integer"}});
            if let Some(format) = format {
                p["collectionFormat"] = json!(format);
            }
            convert_parameter(&p)
        };
        let q = param(None, "query");
        assert_eq!(
            (&q["style"], &q["explode"]),
            (&json!("form"), &json!(false))
        );
        assert_eq!(
            q["schema"],
            json!({"type": "array", "items": {"type": "integer"}})
        );
        assert_eq!(param(Some("multi"), "query")["explode"], true);
        assert_eq!(param(Some("pipes"), "query")["style"], "pipeDelimited");
        assert_eq!(param(Some("ssv"), "query")["style"], "spaceDelimited");
        assert!(param(Some("csv"), "header").get("style").is_none());
        assert_eq!(param(Some("tsv"), "query")["x-collectionFormat"], "tsv");
    }

    #[test]
    fn security_schemes_become_http_basic_and_oauth2_flows() {
        let convert = |mut scheme: Value| {
            convert_security_scheme(&mut scheme);
            scheme
        };
        assert_eq!(
            convert(json!({"type": "basic", "description": "users"})),
            json!({"type": "http", "scheme": "basic", "description": "users"})
        );
        let key = json!({"type": "apiKey", "name": "X-Key", "in": "header"});
        assert_eq!(convert(key.clone()), key);
        assert_eq!(
            convert(
                json!({"type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://a",
                           "tokenUrl": "https://t", "scopes": {"read": "Read"}})
            ),
            json!({"type": "oauth2", "flows": {"authorizationCode": {
                "authorizationUrl": "https://a", "tokenUrl": "https://t", "scopes": {"read": "Read"}
            }}})
        );
        assert_eq!(
            convert(
                json!({"type": "oauth2", "flow": "application", "tokenUrl": "https://t",
                           "authorizationUrl": "https://ignored"})
            )["flows"],
            json!({"clientCredentials": {"tokenUrl": "https://t", "scopes": {}}})
        );
        assert_eq!(convert(json!(1)), json!(1));
    }

    #[test]
    fn schema_keywords_change_only_where_a_schema_uses_them() {
        let mut schema = json!({
            "type": "object", "discriminator": "kind", "x-nullable": true,
            "properties": {
                "discriminator": {"type": "string"},
                "x-nullable": {"type": "boolean"},
                "photo": {"type": "file"},
                "owner": {"type": "object", "x-nullable": false}
            }
        });
        convert_schema(&mut schema);
        assert_eq!(
            schema,
            json!({
                "type": "object", "discriminator": {"propertyName": "kind"}, "nullable": true,
                "properties": {
                    "discriminator": {"type": "string"},
                    "x-nullable": {"type": "boolean"},
                    "photo": {"type": "string", "format": "binary"},
                    "owner": {"type": "object"}
                }
            })
        );
    }

    #[test]
    fn headers_keep_their_description_and_move_value_fields_into_a_schema() {
        let mut header = json!({"type": "array", "items": {"type": "integer"},
                                "collectionFormat": "csv", "description": "ids", "x-a": 1});
        convert_header(&mut header);
        assert_eq!(
            header,
            json!({"description": "ids", "x-a": 1,
                   "schema": {"type": "array", "items": {"type": "integer"}}})
        );
    }
}
