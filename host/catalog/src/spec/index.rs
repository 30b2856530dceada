//! What search and the catalogue read from a description: its info and its operations.
//!
//! Works over the JSON document (OpenAPI already normalised to 3.x, AsyncAPI 2.x or 3.x) and
//! follows local `$ref`s; values of the wrong type are skipped rather than reported.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The keys of an OpenAPI path item that hold operations (`query` is OpenAPI 3.2's).
pub(super) const METHODS: [&str; 9] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];

/// A description's summary, as the catalogue shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecInfo {
    /// `info.title`.
    pub title: Option<String>,
    /// `info.version` (a number in YAML is read as its text).
    pub version: Option<String>,
    /// `info.description` (CommonMark).
    pub description: Option<String>,
    /// Where the API is served.
    pub servers: Vec<Server>,
    /// Tag names: the declared ones first, then any operation uses without declaring.
    pub tags: Vec<String>,
    /// Names of the security schemes in `components.securitySchemes`.
    pub security_schemes: Vec<String>,
}

/// One place an API is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// The URL as written, `{variables}` included; may be relative to the document.
    pub url: String,
    /// The server's description.
    pub description: Option<String>,
    /// Its name where the format has one (AsyncAPI's `servers` keys: `production`, ...).
    pub name: Option<String>,
}

/// One entry of the operation index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// `GET`, `POST`, ... for OpenAPI; `publish`/`subscribe` (AsyncAPI 2) or `send`/`receive`
    /// (AsyncAPI 3); `query`, `mutation` or `subscription` for GraphQL.
    pub method: String,
    /// The URL path template, the AsyncAPI channel address, or the GraphQL field name.
    pub path: String,
    /// `operationId` (for AsyncAPI 3, the operation's key).
    pub operation_id: Option<String>,
    /// One-line summary.
    pub summary: Option<String>,
    /// Longer description (CommonMark).
    pub description: Option<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// Whether it is marked deprecated.
    pub deprecated: bool,
}

pub(super) fn openapi_info(doc: &Value) -> SpecInfo {
    let mut info = base_info(doc);
    info.servers = doc
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|server| {
            Some(Server {
                url: string(server, "url")?,
                description: string(server, "description"),
                name: None,
            })
        })
        .collect();
    info.tags = tag_names(doc, doc.get("tags"));
    for_each_operation(doc, |_, _, op| {
        for tag in strings(op.get("tags")) {
            if !info.tags.contains(&tag) {
                info.tags.push(tag);
            }
        }
    });
    info
}

pub(super) fn openapi_operations(doc: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for_each_operation(doc, |method, path, op| {
        operations.push(Operation {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            operation_id: string(op, "operationId"),
            summary: string(op, "summary"),
            description: string(op, "description"),
            tags: strings(op.get("tags")),
            deprecated: op.get("deprecated") == Some(&Value::Bool(true)),
        });
    });
    operations
}

/// Calls `f(method, path, operation)` for each OpenAPI operation.
fn for_each_operation<'a>(doc: &'a Value, mut f: impl FnMut(&str, &'a str, &'a Value)) {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return;
    };
    for (path, item) in paths {
        if path.starts_with("x-") {
            continue;
        }
        let Some(item) = resolve(doc, item).as_object() else {
            continue;
        };
        for method in METHODS {
            if let Some(op) = item.get(method).filter(|op| op.is_object()) {
                f(method, path, op);
            }
        }
    }
}

pub(super) fn asyncapi_info(doc: &Value) -> SpecInfo {
    let mut info = base_info(doc);
    let servers = doc.get("servers").and_then(Value::as_object);
    info.servers = servers
        .into_iter()
        .flatten()
        .filter_map(|(name, server)| {
            let server = resolve(doc, server);
            // 2.x has `url`; 3.x splits it into protocol, host and pathname.
            let url = string(server, "url").or_else(|| {
                let host = string(server, "host")?;
                let path = string(server, "pathname").unwrap_or_default();
                Some(match string(server, "protocol") {
                    Some(protocol) => format!("{protocol}://{host}{path}"),
                    None => format!("{host}{path}"),
                })
            })?;
            Some(Server {
                url,
                description: string(server, "description"),
                name: Some(name.clone()),
            })
        })
        .collect();
    let tags = doc.get("tags").or_else(|| doc.pointer("/info/tags"));
    info.tags = tag_names(doc, tags);
    info
}

pub(super) fn asyncapi_operations(doc: &Value) -> Vec<Operation> {
    let v3_operations = doc.get("operations").and_then(Value::as_object);
    match v3_operations {
        Some(ops) => asyncapi3_operations(doc, ops),
        None => asyncapi2_operations(doc),
    }
}

/// 2.x: each channel carries a `publish` and/or a `subscribe` operation.
fn asyncapi2_operations(doc: &Value) -> Vec<Operation> {
    let Some(channels) = doc.get("channels").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut operations = Vec::new();
    for (name, channel) in channels {
        let channel = resolve(doc, channel);
        for action in ["publish", "subscribe"] {
            let Some(op) = channel.get(action).map(|op| resolve(doc, op)) else {
                continue;
            };
            if !op.is_object() {
                continue;
            }
            operations.push(asyncapi_operation(doc, action, name, op, None, channel));
        }
    }
    operations
}

/// 3.x: operations are top-level, keyed by id, and point at their channel.
fn asyncapi3_operations(doc: &Value, ops: &Map<String, Value>) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (id, op) in ops {
        let op = resolve(doc, op);
        let Some(action) = op.get("action").and_then(Value::as_str) else {
            continue;
        };
        let channel_ref = op.pointer("/channel/$ref").and_then(Value::as_str);
        let channel = op.get("channel").map_or(&Value::Null, |c| resolve(doc, c));
        let channel_id = channel_ref
            .and_then(|r| r.rsplit('/').next())
            .map(unescape_pointer);
        let path = string(channel, "address")
            .or(channel_id)
            .unwrap_or_default();
        operations.push(asyncapi_operation(
            doc,
            action,
            &path,
            op,
            Some(id),
            channel,
        ));
    }
    operations
}

fn asyncapi_operation(
    doc: &Value,
    action: &str,
    path: &str,
    op: &Value,
    id: Option<&String>,
    channel: &Value,
) -> Operation {
    let deprecated = |v: &Value| v.get("deprecated") == Some(&Value::Bool(true));
    Operation {
        method: action.to_owned(),
        path: path.to_owned(),
        operation_id: id.cloned().or_else(|| string(op, "operationId")),
        summary: string(op, "summary"),
        description: string(op, "description"),
        tags: tag_names(doc, op.get("tags")),
        deprecated: deprecated(op) || deprecated(channel),
    }
}

/// Title, version, description and security scheme names, common to OpenAPI and AsyncAPI.
fn base_info(doc: &Value) -> SpecInfo {
    let info = doc.get("info").unwrap_or(&Value::Null);
    let security_schemes = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .map(|schemes| schemes.keys().cloned().collect())
        .unwrap_or_default();
    SpecInfo {
        title: string(info, "title"),
        version: info.get("version").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
        description: string(info, "description"),
        servers: Vec::new(),
        tags: Vec::new(),
        security_schemes,
    }
}

/// Names from a list of tag objects (OpenAPI, AsyncAPI) or plain strings (OpenAPI operations).
fn tag_names(doc: &Value, tags: Option<&Value>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for tag in tags.and_then(Value::as_array).into_iter().flatten() {
        let name = match resolve(doc, tag) {
            Value::String(name) => Some(name.clone()),
            tag => string(tag, "name"),
        };
        if let Some(name) = name
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
}

/// Follows a local `$ref` (a few hops at most); anything else is returned as is.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let Some(target) = value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| doc.pointer(pointer))
        else {
            break;
        };
        value = target;
    }
    value
}

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn string(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openapi_operations_carry_method_path_id_summary_tags_and_deprecation() {
        let doc = json!({
            "openapi": "3.1.0",
            "paths": {
                "/pets": {
                    "summary": "not an operation",
                    "parameters": [],
                    "get": {"operationId": "listPets", "summary": "List", "tags": ["pets"]},
                    "post": {"deprecated": true, "description": "Add"}
                },
                "/shared": {"$ref": "#/components/pathItems/Shared"},
                "x-internal": {"get": {}}
            },
            "components": {"pathItems": {"Shared": {"delete": {"operationId": "del"}}}}
        });
        let ops = openapi_operations(&doc);
        let listed: Vec<_> = ops
            .iter()
            .map(|o| (o.method.as_str(), o.path.as_str()))
            .collect();
        assert_eq!(
            listed,
            [("GET", "/pets"), ("POST", "/pets"), ("DELETE", "/shared")]
        );
        assert_eq!(ops[0].operation_id.as_deref(), Some("listPets"));
        assert_eq!(ops[0].summary.as_deref(), Some("List"));
        assert_eq!(ops[0].tags, ["pets"]);
        assert!(!ops[0].deprecated);
        assert!(ops[1].deprecated);
        assert_eq!(ops[1].description.as_deref(), Some("Add"));
        assert_eq!(ops[2].operation_id.as_deref(), Some("del"));
    }

    #[test]
    fn openapi_info_lists_servers_tags_and_security_schemes() {
        let doc = json!({
            "info": {"title": "Pets", "version": 2.1, "description": "All the pets"},
            "servers": [{"url": "https://api.example.com", "description": "prod"}, {"nourl": 1}],
            "tags": [{"name": "pets"}, {"name": "pets"}],
            "paths": {"/a": {"get": {"tags": ["store", "pets"]}}},
            "components": {"securitySchemes": {"apiKey": {}, "oauth": {}}}
        });
        let info = openapi_info(&doc);
        assert_eq!(info.title.as_deref(), Some("Pets"));
        assert_eq!(info.version.as_deref(), Some("2.1"));
        assert_eq!(info.description.as_deref(), Some("All the pets"));
        assert_eq!(
            info.servers,
            [Server {
                url: "https://api.example.com".into(),
                description: Some("prod".into()),
                name: None
            }]
        );
        assert_eq!(info.tags, ["pets", "store"]);
        assert_eq!(info.security_schemes, ["apiKey", "oauth"]);
    }

    #[test]
    fn asyncapi2_channels_give_publish_and_subscribe_operations() {
        let doc = json!({
            "asyncapi": "2.6.0",
            "servers": {"production": {"url": "mqtt://broker.example.com", "protocol": "mqtt"}},
            "tags": [{"name": "lights"}],
            "channels": {
                "light/measured": {
                    "subscribe": {"operationId": "onMeasured", "summary": "Measured", "tags": [{"name": "lights"}]},
                    "publish": {"operationId": "measure"}
                },
                "light/off": {"deprecated": true, "publish": {"operationId": "off"}}
            }
        });
        let ops = asyncapi_operations(&doc);
        let listed: Vec<_> = ops
            .iter()
            .map(|o| (o.method.as_str(), o.path.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("publish", "light/measured"),
                ("subscribe", "light/measured"),
                ("publish", "light/off")
            ]
        );
        assert_eq!(ops[1].tags, ["lights"]);
        assert!(ops[2].deprecated);
        let info = asyncapi_info(&doc);
        assert_eq!(info.servers[0].name.as_deref(), Some("production"));
        assert_eq!(info.servers[0].url, "mqtt://broker.example.com");
        assert_eq!(info.tags, ["lights"]);
    }

    #[test]
    fn asyncapi3_operations_take_their_channel_address_and_key() {
        let doc = json!({
            "asyncapi": "3.0.0",
            "info": {"title": "Accounts", "version": "1.0.0", "tags": [{"name": "users"}]},
            "servers": {"prod": {"host": "broker.example.com:9092", "protocol": "kafka", "pathname": "/v1"}},
            "channels": {
                "userSignedUp": {"address": "user/signedup"},
                "noAddress": {"address": null}
            },
            "operations": {
                "sendUserSignedUp": {"action": "send", "channel": {"$ref": "#/channels/userSignedUp"}, "summary": "Tell"},
                "listen": {"action": "receive", "channel": {"$ref": "#/channels/noAddress"}},
                "broken": {"channel": {"$ref": "#/channels/userSignedUp"}}
            }
        });
        let mut ops = asyncapi_operations(&doc);
        ops.sort_by(|a, b| a.operation_id.cmp(&b.operation_id));
        assert_eq!(ops.len(), 2);
        assert_eq!(
            (ops[0].method.as_str(), ops[0].path.as_str()),
            ("receive", "noAddress")
        );
        assert_eq!(
            (ops[1].method.as_str(), ops[1].path.as_str()),
            ("send", "user/signedup")
        );
        assert_eq!(ops[1].operation_id.as_deref(), Some("sendUserSignedUp"));
        let info = asyncapi_info(&doc);
        assert_eq!(info.servers[0].url, "kafka://broker.example.com:9092/v1");
        assert_eq!(info.tags, ["users"]);
    }

    #[test]
    fn ref_cycles_do_not_hang() {
        let doc = json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/a"}});
        let _ = resolve(&doc, &doc["a"]);
    }
}
