//! The answer to a valid call: from the developer's state for the CRUD
//! shapes (see [`crate::state`]), else the operation's success response with
//! the spec's example or synthetic data.

use portico_plugin_sdk::PluginError;
use portico_plugin_sdk::sandbox::{SandboxRequest, SandboxResponse};
use serde_json::{Map, Value};

use crate::generate::{Generator, merge};
use crate::spec::{Matched, Spec, Success, is_json};
use crate::state::{Store, merge_patch};
use crate::{base_headers, empty, json_response, problem};

/// Where a call lands: a collection (`/pets`) or an item in one (`/pets/{id}`).
enum Shape {
    Collection {
        path: String,
    },
    Item {
        collection: String,
        id: String,
        param: String,
    },
}

fn shape(matched: &Matched<'_>, path: &str) -> Shape {
    let path = path.trim_end_matches('/');
    let last = matched.template.trim_end_matches('/').rsplit('/').next();
    let param = last.and_then(|s| s.strip_prefix('{')?.strip_suffix('}'));
    match (param, path.rsplit_once('/')) {
        (Some(param), Some((collection, _))) if !param.contains(['{', '}']) => {
            let id = matched
                .path_values
                .iter()
                .rev()
                .find(|(n, _)| n == param)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            Shape::Item {
                collection: if collection.is_empty() {
                    "/".to_owned()
                } else {
                    collection.to_owned()
                },
                id,
                param: param.to_owned(),
            }
        }
        _ => Shape::Collection {
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            },
        },
    }
}

/// Answers a call that passed every check.
pub(crate) fn respond(
    spec: &Spec,
    matched: &Matched<'_>,
    request: &SandboxRequest,
    body: Option<Value>,
) -> Result<SandboxResponse, PluginError> {
    let store = Store::new(&request.api, &request.developer_id, &request.version);
    let success = spec.success(matched.operation);
    let method = request.method.to_ascii_uppercase();
    let object = match body {
        Some(Value::Object(object)) => Some(object),
        _ => None,
    };
    match (method.as_str(), shape(matched, &request.path), object) {
        ("POST", Shape::Collection { path }, Some(body)) => {
            create(spec, matched, &store, &success, &path, body)
        }
        ("GET", Shape::Collection { path }, _) if store.is_live(&path)? => {
            let items = store.list(&path)?;
            Ok(listing(spec, &success, items))
        }
        ("GET", Shape::Item { collection, id, .. }, _) => match store.get(&collection, &id)? {
            Some(item) => Ok(json_response(success.status, &item, &[])),
            None if store.is_live(&collection)? => Ok(missing(&collection, &id)),
            None => Ok(stateless(spec, &success, Some((&id, param_of(matched))))),
        },
        (
            "PUT",
            Shape::Item {
                collection,
                id,
                param,
            },
            Some(body),
        ) => {
            let mut item = merge(example(spec, &success), Value::Object(body));
            set_id(&mut item, &param, &id);
            store.put(&collection, &id, &item)?;
            Ok(with_status(&success, &item))
        }
        (
            "PATCH",
            Shape::Item {
                collection,
                id,
                param,
            },
            Some(patch),
        ) => {
            let base = match store.get(&collection, &id)? {
                Some(item) => item,
                None if store.is_live(&collection)? => return Ok(missing(&collection, &id)),
                None => {
                    let mut base = example(spec, &success);
                    set_id(&mut base, &param, &id);
                    base
                }
            };
            let mut item = base;
            merge_patch(&mut item, &Value::Object(patch));
            set_id(&mut item, &param, &id);
            store.put(&collection, &id, &item)?;
            Ok(with_status(&success, &item))
        }
        ("DELETE", Shape::Item { collection, id, .. }, _) => {
            let live = store.is_live(&collection)?;
            let existed = store.delete(&collection, &id)?;
            if live && !existed {
                return Ok(missing(&collection, &id));
            }
            Ok(empty(if success.content.is_none() {
                success.status
            } else {
                204
            }))
        }
        _ => Ok(stateless(spec, &success, None)),
    }
}

fn param_of<'m>(matched: &'m Matched<'_>) -> &'m str {
    matched
        .template
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .unwrap_or("id")
}

/// POST to a collection: the body over an example of the answer, with an id.
fn create(
    spec: &Spec,
    matched: &Matched<'_>,
    store: &Store,
    success: &Success<'_>,
    collection: &str,
    body: Map<String, Value>,
) -> Result<SandboxResponse, PluginError> {
    let mut item = merge(example(spec, success), Value::Object(body.clone()));
    let param = item_param(spec, matched.template);
    let key = [param.as_deref(), Some("id")]
        .into_iter()
        .flatten()
        .find(|k| item.get(*k).is_some())
        .map(str::to_owned);
    let id = match key.as_deref().and_then(|k| body.get(k)) {
        Some(Value::String(given)) => given.clone(),
        Some(given @ Value::Number(_)) => given.to_string(),
        _ => {
            let number = store.next_number(collection)?;
            let id = match key.as_deref().and_then(|k| item.get(k)) {
                Some(Value::String(old)) if looks_like_uuid(old) => {
                    format!("00000000-0000-4000-8000-{number:012}")
                }
                _ => number.to_string(),
            };
            if let Some(key) = &key {
                set_id(&mut item, key, &id);
            }
            id
        }
    };
    store.put(collection, &id, &item)?;
    let status = if spec.declares(matched.operation, 201) {
        201
    } else {
        success.status
    };
    let location = format!("{}/{}", collection.trim_end_matches('/'), id);
    Ok(json_response(status, &item, &[("location", &location)]))
}

/// The `{name}` of the item template under a collection template (`/pets` → `petId`).
fn item_param(spec: &Spec, collection: &str) -> Option<String> {
    let prefix = format!("{}/{{", collection.trim_end_matches('/'));
    spec.templates().find_map(|t| {
        let name = t.strip_prefix(&prefix)?.strip_suffix('}')?;
        (!name.contains(['/', '{', '}'])).then(|| name.to_owned())
    })
}

fn looks_like_uuid(text: &str) -> bool {
    text.len() == 36 && text.matches('-').count() == 4
}

/// Sets the id member (`param`, else `id`) of an object to the path's id, typed like the old value.
fn set_id(item: &mut Value, param: &str, id: &str) {
    let Value::Object(object) = item else { return };
    let key = if object.contains_key(param) {
        param
    } else if object.contains_key("id") {
        "id"
    } else {
        return;
    };
    let typed = match object.get(key) {
        Some(Value::Number(_)) => id
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(id.to_owned())),
        _ => Value::String(id.to_owned()),
    };
    object.insert(key.to_owned(), typed);
}

/// The success answer's example, else synthetic data; `null` without a schema.
fn example(spec: &Spec, success: &Success<'_>) -> Value {
    let Some((_, media)) = success.content else {
        return Value::Null;
    };
    if let Some(example) = spec.media_example(media) {
        return example.clone();
    }
    match media.get("schema") {
        Some(schema) => Generator::new(spec).value(schema, ""),
        None => Value::Null,
    }
}

/// The success answer with the spec's example or synthetic data; for an
/// item, its id member set to the one asked for.
fn stateless(spec: &Spec, success: &Success<'_>, item: Option<(&str, &str)>) -> SandboxResponse {
    let Some((media_type, _)) = success.content else {
        return empty(success.status);
    };
    let mut value = example(spec, success);
    if let Some((id, param)) = item {
        set_id(&mut value, param, id);
    }
    if is_json(media_type) {
        return json_response(success.status, &value, &[]);
    }
    let text = match value {
        Value::String(text) => text,
        Value::Null => String::new(),
        other => other.to_string(),
    };
    SandboxResponse {
        status: success.status,
        headers: base_headers(media_type, &[]),
        body: text.into_bytes(),
    }
}

/// A live collection's listing, shaped like the answer: the items as the
/// array, or as the first array member of an envelope object.
fn listing(spec: &Spec, success: &Success<'_>, items: Vec<Value>) -> SandboxResponse {
    let schema = success
        .content
        .and_then(|(_, media)| media.get("schema"))
        .map(|s| spec.resolve(s));
    let envelope = schema
        .filter(|s| s.get("properties").is_some())
        .and_then(|s| {
            s.get("properties")?
                .as_object()?
                .iter()
                .find_map(|(name, p)| {
                    let p = spec.resolve(p);
                    (p.get("type") == Some(&Value::String("array".to_owned()))
                        || p.get("items").is_some())
                    .then(|| name.clone())
                })
        });
    let body = match envelope {
        Some(member) => {
            let mut wrapper = example(spec, success);
            if !wrapper.is_object() {
                wrapper = Value::Object(Map::new());
            }
            wrapper[member.as_str()] = Value::Array(items);
            wrapper
        }
        None => Value::Array(items),
    };
    json_response(success.status, &body, &[])
}

fn with_status(success: &Success<'_>, item: &Value) -> SandboxResponse {
    if success.content.is_none() {
        return empty(success.status);
    }
    json_response(success.status, item, &[])
}

fn missing(collection: &str, id: &str) -> SandboxResponse {
    problem(
        404,
        "Not Found",
        &format!(
            "{}/{id} is not in your sandbox: you have written to {collection}, so it answers from what you created (reset the sandbox to see the examples again)",
            collection.trim_end_matches('/')
        ),
        None,
        &[],
    )
}
