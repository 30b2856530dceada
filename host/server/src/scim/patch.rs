//! PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove` applied to a
//! resource's JSON, with or without a path, including value filters
//! (`members[value eq "..."]`, `emails[type eq "work"].value`). The result is
//! then checked like a PUT body, so a PATCH cannot store what a PUT refuses.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ScimError;
use super::filter::{AttrPath, Filter};

/// The body of a PATCH request.
#[derive(Debug, Deserialize)]
pub(crate) struct PatchRequest {
    #[serde(default)]
    schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    operations: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
struct Operation {
    op: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    value: Option<Value>,
}

/// Where an operation applies: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Debug)]
struct Target {
    attr: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

impl Target {
    fn parse(path: &str) -> Result<Target, ScimError> {
        let invalid = |why: String| ScimError::invalid_path(format!("path `{path}`: {why}"));
        let Some(open) = path.find('[') else {
            let AttrPath { attr, sub } = AttrPath::parse(path).map_err(invalid)?;
            return Ok(Target {
                attr,
                filter: None,
                sub,
            });
        };
        let close = path
            .rfind(']')
            .ok_or_else(|| invalid("`[` is not closed".into()))?;
        let AttrPath { attr, sub: None } = AttrPath::parse(&path[..open]).map_err(invalid)? else {
            return Err(invalid("a value filter follows a plain attribute".into()));
        };
        let filter = Filter::parse(&path[open + 1..close]).map_err(invalid)?;
        let sub = match &path[close + 1..] {
            "" => None,
            rest => {
                let name = rest
                    .strip_prefix('.')
                    .ok_or_else(|| invalid("expected `.sub` after `]`".into()))?;
                Some(AttrPath::parse(name).map_err(invalid)?.attr)
            }
        };
        Ok(Target {
            attr,
            filter: Some(filter),
            sub,
        })
    }
}

impl PatchRequest {
    /// Applies every operation in order to `resource`, all or nothing.
    pub(crate) fn apply(self, resource: &mut Value) -> Result<(), ScimError> {
        if !self.schemas.iter().any(|s| s == super::PATCH_SCHEMA) {
            return Err(ScimError::invalid_syntax(format!(
                "a PATCH body's `schemas` must name {}",
                super::PATCH_SCHEMA
            )));
        }
        let object = resource
            .as_object_mut()
            .ok_or_else(|| ScimError::internal("a resource is not an object"))?;
        for op in self.operations {
            apply_one(object, op)?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

fn apply_one(resource: &mut Map<String, Value>, op: Operation) -> Result<(), ScimError> {
    let kind = match op.op.to_ascii_lowercase().as_str() {
        "add" => Kind::Add,
        "replace" => Kind::Replace,
        "remove" => Kind::Remove,
        other => {
            return Err(ScimError::invalid_syntax(format!(
                "`{other}` is not a PATCH operation (add, replace, remove)"
            )));
        }
    };
    let value = op.value;
    let Some(path) = op.path.filter(|p| !p.trim().is_empty()) else {
        if kind == Kind::Remove {
            return Err(ScimError::no_target("a remove operation needs a path"));
        }
        let Some(Value::Object(attributes)) = value else {
            return Err(ScimError::invalid_value(
                "an operation without a path takes an object of attributes",
            ));
        };
        for (name, value) in attributes {
            // Some clients send `{"name.givenName": ...}` without a path.
            let target = Target::parse(&name)?;
            change(resource, &target, kind, Some(value))?;
        }
        return Ok(());
    };
    if kind != Kind::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!(
            "the {} operation on `{path}` has no value",
            op.op
        )));
    }
    change(resource, &Target::parse(path.trim())?, kind, value)
}

/// The key of `name` in `object`, whatever its case, or `name` for a new one.
fn key(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn change(
    resource: &mut Map<String, Value>,
    target: &Target,
    kind: Kind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let attr = key(resource, &target.attr);
    if let Some(filter) = &target.filter {
        return change_matching(resource, &attr, filter, target.sub.as_deref(), kind, value);
    }
    match (&target.sub, kind) {
        (Some(sub), Kind::Remove) => {
            if let Some(Value::Object(parent)) = resource.get_mut(&attr) {
                let sub = key(parent, sub);
                parent.remove(&sub);
                if parent.is_empty() {
                    resource.remove(&attr);
                }
            }
        }
        (Some(sub), _) => {
            let parent = resource
                .entry(attr)
                .or_insert_with(|| Value::Object(Map::new()));
            if !parent.is_object() {
                *parent = Value::Object(Map::new());
            }
            let parent = parent.as_object_mut().expect("made an object above");
            let sub = key(parent, sub);
            parent.insert(sub, value.unwrap_or(Value::Null));
        }
        (None, Kind::Remove) => match (resource.get_mut(&attr), value) {
            // Removing listed values of a multi-valued attribute (Azure's way).
            (Some(Value::Array(items)), Some(Value::Array(gone))) => {
                let ids: Vec<&Value> = gone.iter().filter_map(|g| g.get("value")).collect();
                items.retain(|item| !item.get("value").is_some_and(|v| ids.contains(&v)));
                if items.is_empty() {
                    resource.remove(&attr);
                }
            }
            _ => {
                resource.remove(&attr);
            }
        },
        (None, Kind::Add) => {
            let value = value.unwrap_or(Value::Null);
            match (resource.get_mut(&attr), value) {
                (Some(Value::Array(items)), Value::Array(new)) => append(items, new),
                (Some(Value::Array(items)), single @ Value::Object(_)) => {
                    append(items, vec![single]);
                }
                (Some(Value::Object(existing)), Value::Object(new)) => {
                    for (k, v) in new {
                        let k = key(existing, &k);
                        existing.insert(k, v);
                    }
                }
                (_, value) => {
                    resource.insert(attr, value);
                }
            }
        }
        (None, Kind::Replace) => {
            resource.insert(attr, value.unwrap_or(Value::Null));
        }
    }
    Ok(())
}

/// Adds values to a multi-valued attribute: a value already there is not
/// repeated, and a new primary value takes `primary` from the others.
fn append(items: &mut Vec<Value>, new: Vec<Value>) {
    let primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
    if new.iter().any(primary) {
        for item in items.iter_mut() {
            if let Some(object) = item.as_object_mut() {
                object.remove("primary");
            }
        }
    }
    for value in new {
        if !items.contains(&value) {
            items.push(value);
        }
    }
}

fn change_matching(
    resource: &mut Map<String, Value>,
    attr: &str,
    filter: &Filter,
    sub: Option<&str>,
    kind: Kind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let no_match = || ScimError::no_target(format!("no value of `{attr}` matches the filter"));
    let Some(Value::Array(items)) = resource.get_mut(attr) else {
        return if kind == Kind::Remove {
            Ok(())
        } else {
            Err(no_match())
        };
    };
    let matching: Vec<usize> = (0..items.len())
        .filter(|&i| filter.matches(&items[i]))
        .collect();
    if matching.is_empty() {
        return if kind == Kind::Remove {
            Ok(())
        } else {
            Err(no_match())
        };
    }
    match (kind, sub) {
        (Kind::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                i += 1;
                !matching.contains(&(i - 1))
            });
            if items.is_empty() {
                resource.remove(attr);
            }
        }
        (Kind::Remove, Some(sub)) => {
            for &i in &matching {
                if let Some(object) = items[i].as_object_mut() {
                    let sub = key(object, sub);
                    object.remove(&sub);
                }
            }
        }
        (_, Some(sub)) => {
            for &i in &matching {
                if let Some(object) = items[i].as_object_mut() {
                    let sub = key(object, sub);
                    object.insert(sub, value.clone().unwrap_or(Value::Null));
                }
            }
        }
        (Kind::Replace, None) => {
            for &i in &matching {
                items[i] = value.clone().unwrap_or(Value::Null);
            }
        }
        (Kind::Add, None) => {
            let Some(Value::Object(new)) = value else {
                return Err(ScimError::invalid_value(
                    "adding to filtered values takes an object",
                ));
            };
            for &i in &matching {
                if let Some(object) = items[i].as_object_mut() {
                    for (k, v) in &new {
                        let k = key(object, k);
                        object.insert(k, v.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(resource: &mut Value, ops: Value) -> Result<(), ScimError> {
        let body = json!({"schemas": [super::super::PATCH_SCHEMA], "Operations": ops});
        serde_json::from_value::<PatchRequest>(body)
            .unwrap()
            .apply(resource)
    }

    fn group() -> Value {
        json!({"displayName": "Team", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]})
    }

    #[test]
    fn scim_patch_adds_replaces_and_removes_with_and_without_paths() {
        let mut user = json!({"userName": "ada", "name": {"givenName": "Ada"}, "active": true});
        patch(
            &mut user,
            json!([
                {"op": "Replace", "value": {"active": false, "name.familyName": "Lovelace"}},
                {"op": "add", "path": "emails", "value": [{"value": "a@x", "type": "work", "primary": true}]},
                {"op": "add", "path": "emails", "value": [{"value": "a@y", "type": "home", "primary": true}]},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@work"},
                {"op": "remove", "path": "NAME.givenName"},
                {"op": "add", "path": "displayName", "value": "Ada L."}
            ]),
        )
        .unwrap();
        assert_eq!(
            user,
            json!({
                "userName": "ada", "active": false, "displayName": "Ada L.",
                "name": {"familyName": "Lovelace"},
                "emails": [{"value": "ada@work", "type": "work"}, {"value": "a@y", "type": "home", "primary": true}]
            })
        );
    }

    #[test]
    fn scim_patch_removes_members_by_filter_or_by_value() {
        let mut g = group();
        patch(
            &mut g,
            json!([{"op": "remove", "path": "members[value eq \"b\"]"}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "a"}, {"value": "c"}]));
        patch(
            &mut g,
            json!([{"op": "remove", "path": "members", "value": [{"value": "a"}]}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "c"}]));
        patch(
            &mut g,
            json!([{"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "d"}]}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "c"}, {"value": "d"}]));
        patch(&mut g, json!([{"op": "remove", "path": "members"}])).unwrap();
        assert!(g.get("members").is_none());
    }

    #[test]
    fn scim_patch_refuses_bad_operations_with_scim_types() {
        let cases = [
            (json!([{"op": "remove"}]), "noTarget"),
            (json!([{"op": "move", "path": "a"}]), "invalidSyntax"),
            (
                json!([{"op": "replace", "path": "members[value eq \"zz\"]", "value": {}}]),
                "noTarget",
            ),
            (
                json!([{"op": "add", "path": "members[value eq ]", "value": {}}]),
                "invalidPath",
            ),
            (
                json!([{"op": "add", "path": "a b", "value": 1}]),
                "invalidPath",
            ),
            (
                json!([{"op": "replace", "path": "displayName"}]),
                "invalidValue",
            ),
            (json!([{"op": "add", "value": "x"}]), "invalidValue"),
        ];
        for (ops, scim_type) in cases {
            let err = patch(&mut group(), ops.clone()).unwrap_err();
            assert_eq!(err.scim_type, Some(scim_type), "{ops}: {err:?}");
        }
    }
}
