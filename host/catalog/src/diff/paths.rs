//! Matching paths and operations between the two documents: the same template, or the same
//! shape with renamed path parameters (`/pets/{id}` and `/pets/{petId}`), then operation by
//! operation under each matched path.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{Differ, Rule, is_deprecated, operation, resolve};

/// The keys of a path item that hold operations (`query` is OpenAPI 3.2's).
const METHODS: [&str; 9] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];

/// Compares matched paths, and reports the others as removed or added.
pub(super) fn compare<'a>(
    d: &mut Differ<'a>,
    old_paths: &[(String, &'a Map<String, Value>)],
    new_paths: &[(String, &'a Map<String, Value>)],
    matched: &HashMap<&str, &str>,
) {
    let new_by_path: HashMap<&str, &Map<String, Value>> =
        new_paths.iter().map(|(p, i)| (p.as_str(), *i)).collect();
    let mut seen_new = HashSet::new();
    for (old_path, old_item) in old_paths {
        match matched.get(old_path.as_str()) {
            Some(new_path) => {
                seen_new.insert(*new_path);
                if let Some(new_item) = new_by_path.get(new_path).copied() {
                    d.path(old_path, old_item, new_path, new_item);
                }
            }
            None => d.path_removed(old_path, old_item),
        }
    }
    for (new_path, _) in new_paths {
        if !seen_new.contains(new_path.as_str()) {
            d.push(
                Rule::PathAdded,
                new_path.clone(),
                format!("Path `{new_path}` was added."),
            );
        }
    }
}

/// Path templates and their (resolved) path items, in document order.
pub(super) fn path_items(doc: &Value) -> Vec<(String, &Map<String, Value>)> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    paths
        .iter()
        .filter(|(path, _)| !path.starts_with("x-"))
        .filter_map(|(path, item)| Some((path.clone(), resolve(doc, item).value.as_object()?)))
        .collect()
}

/// A path template with its parameter names blanked: `/pets/{id}` and `/pets/{petId}` agree.
fn template_shape(path: &str) -> (String, Vec<&str>) {
    let mut shape = String::with_capacity(path.len());
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        shape.push_str(&rest[..open]);
        shape.push_str("{}");
        names.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    shape.push_str(rest);
    (shape, names)
}

/// Old path → new path: the same template first, then the same shape with renamed parameters.
pub(super) fn match_paths<'p>(
    old: &'p [(String, &Map<String, Value>)],
    new: &'p [(String, &Map<String, Value>)],
) -> HashMap<&'p str, &'p str> {
    let new_set: HashSet<&str> = new.iter().map(|(p, _)| p.as_str()).collect();
    let mut matched: HashMap<&str, &str> = old
        .iter()
        .filter(|(p, _)| new_set.contains(p.as_str()))
        .map(|(p, _)| (p.as_str(), p.as_str()))
        .collect();
    let mut by_shape: HashMap<String, Vec<&str>> = HashMap::new();
    for (p, _) in new {
        if !matched.contains_key(p.as_str()) {
            by_shape.entry(template_shape(p).0).or_default().push(p);
        }
    }
    for (p, _) in old {
        if matched.contains_key(p.as_str()) {
            continue;
        }
        if let Some(candidates) = by_shape.get_mut(&template_shape(p).0)
            && !candidates.is_empty()
        {
            matched.insert(p, candidates.remove(0));
        }
    }
    matched
}

impl<'a> Differ<'a> {
    fn path_removed(&mut self, path: &str, item: &'a Map<String, Value>) {
        let operations: Vec<(&str, &Value)> = operations(item).collect();
        if !operations.is_empty() && operations.iter().all(|(_, op)| is_deprecated(op)) {
            for (method, _) in operations {
                let location = format!("{} {path}", method.to_uppercase());
                let message = "The deprecated operation was removed.".to_owned();
                self.push(Rule::DeprecatedOperationRemoved, location, message);
            }
            return;
        }
        let message = format!("Path `{path}` was removed.");
        self.push(Rule::PathRemoved, path.to_owned(), message);
    }

    fn path(
        &mut self,
        old_path: &str,
        old_item: &'a Map<String, Value>,
        new_path: &str,
        new_item: &'a Map<String, Value>,
    ) {
        let (_, old_names) = template_shape(old_path);
        let (_, new_names) = template_shape(new_path);
        let mut renames = HashMap::new();
        for (o, n) in old_names.iter().zip(&new_names) {
            if o != n {
                renames.insert(*o, *n);
                let message = format!("Path parameter `{o}` was renamed `{n}`.");
                self.push(Rule::PathParameterRenamed, new_path.to_owned(), message);
            }
        }
        for method in METHODS {
            let location = format!("{} {new_path}", method.to_uppercase());
            match (old_item.get(method), new_item.get(method)) {
                (Some(old_op), Some(new_op)) => {
                    let old = operation::Side {
                        path_item: old_item,
                        op: old_op,
                        renames: &renames,
                    };
                    let new = operation::Side {
                        path_item: new_item,
                        op: new_op,
                        renames: &HashMap::new(),
                    };
                    operation::compare(self, &location, old, new);
                }
                (Some(old_op), None) => {
                    let (rule, message) = if is_deprecated(old_op) {
                        let message = "The deprecated operation was removed.";
                        (Rule::DeprecatedOperationRemoved, message)
                    } else {
                        (Rule::OperationRemoved, "The operation was removed.")
                    };
                    let location = format!("{} {old_path}", method.to_uppercase());
                    self.push(rule, location, message.to_owned());
                }
                (None, Some(_)) => {
                    let message = "The operation was added.".to_owned();
                    self.push(Rule::OperationAdded, location, message);
                }
                (None, None) => {}
            }
        }
    }
}

fn operations(item: &Map<String, Value>) -> impl Iterator<Item = (&'static str, &Value)> {
    METHODS
        .into_iter()
        .filter_map(|m| Some((m, item.get(m).filter(|op| op.is_object())?)))
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::diff;
    use crate::diff::tests::{Case, case, check, doc};

    pub(crate) fn cases() -> Vec<Case> {
        let deprecated = json!({"get": {"deprecated": true}});
        vec![
            case(
                Rule::PathAdded,
                doc(json!({"/pets": {"get": {}}}), json!({})),
                doc(
                    json!({"/pets": {"get": {}}, "/toys": {"get": {}}}),
                    json!({}),
                ),
            ),
            case(
                Rule::PathRemoved,
                doc(
                    json!({"/pets": {"get": {}}, "/toys": {"get": {}}}),
                    json!({}),
                ),
                doc(json!({"/pets": {"get": {}}}), json!({})),
            ),
            case(
                Rule::PathParameterRenamed,
                doc(json!({"/pets/{id}": {"get": {}}}), json!({})),
                doc(json!({"/pets/{petId}": {"get": {}}}), json!({})),
            ),
            case(
                Rule::OperationAdded,
                doc(json!({"/pets": {"get": {}}}), json!({})),
                doc(json!({"/pets": {"get": {}, "post": {}}}), json!({})),
            ),
            case(
                Rule::OperationRemoved,
                doc(json!({"/pets": {"get": {}, "post": {}}}), json!({})),
                doc(json!({"/pets": {"get": {}}}), json!({})),
            ),
            case(
                Rule::DeprecatedOperationRemoved,
                doc(json!({"/pets": {"get": {}}, "/old": deprecated}), json!({})),
                doc(json!({"/pets": {"get": {}}}), json!({})),
            ),
        ]
    }

    #[test]
    fn every_path_case_reports_its_rule() {
        check(&cases());
    }

    #[test]
    fn renamed_path_parameters_match_the_operation_and_its_parameters() {
        let path_param = |name: &str| {
            json!({"get": {"parameters": [
                {"name": name, "in": "path", "required": true, "schema": {"type": "string"}}
            ]}})
        };
        let old = doc(json!({"/pets/{id}": path_param("id")}), json!({}));
        let new = doc(json!({"/pets/{petId}": path_param("petId")}), json!({}));
        let result = diff(&old, &new).unwrap();
        let rules: Vec<_> = result.changes.iter().map(|c| c.rule).collect();
        assert_eq!(rules, [Rule::PathParameterRenamed]);
        assert_eq!(result.changes[0].location, "/pets/{petId}");
        assert!(!result.is_breaking());
    }

    #[test]
    fn path_templates_match_by_shape() {
        assert_eq!(
            template_shape("/a/{x}/b/{y}.json"),
            ("/a/{}/b/{}.json".to_owned(), vec!["x", "y"])
        );
    }

    #[test]
    fn exact_templates_match_before_renamed_ones() {
        let old = doc(
            json!({"/a/{x}": {"get": {}}, "/a/{y}": {"put": {}}}),
            json!({}),
        );
        let result = diff(&old, &old).unwrap();
        assert!(result.is_empty(), "{:#?}", result.changes);
    }
}
