//! Backstage's rules for entity descriptors: field formats (names, namespaces,
//! labels, annotations, tags, links) and the spec fields each kind requires.
//!
//! The rules follow `@backstage/catalog-model` (`KubernetesValidatorFunctions`,
//! `FieldFormatEntityPolicy` and the kind schemas), with the same messages.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::audience::{VISIBILITIES, VISIBILITY};
use crate::entity::{Entity, Link, Metadata};
use crate::entity_ref::{DEFAULT_NAMESPACE, RefError};
use crate::relations;

/// The kinds the catalogue accepts, as Backstage spells them.
pub const KINDS: &[&str] = &[
    "API",
    "Component",
    "System",
    "Domain",
    "Resource",
    "Group",
    "User",
    "Location",
    "AiResource",
];

/// The API versions the built-in kinds accept.
pub const API_VERSIONS: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];

const NAME_EXPECTATION: &str = "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total";
const NAMESPACE_EXPECTATION: &str =
    "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total";
const TAG_EXPECTATION: &str =
    "a string that is sequences of [a-z0-9:+#] separated by [-], at most 63 characters in total";

/// One thing wrong with an entity, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityError {
    /// A required field is absent.
    #[error("\"{field}\" must have a value")]
    Missing {
        /// Dotted path of the field.
        field: String,
    },
    /// A field has the wrong format.
    #[error("\"{field}\" is not valid; expected {expected} but found \"{found}\"")]
    Format {
        /// Dotted path of the field.
        field: String,
        /// What the rule wants.
        expected: &'static str,
        /// What the descriptor has.
        found: String,
    },
    /// A field has the wrong JSON type.
    #[error("\"{field}\" must be {expected}")]
    Type {
        /// Dotted path of the field.
        field: String,
        /// The type wanted.
        expected: &'static str,
    },
    /// The kind is not one the catalogue knows.
    #[error("unknown kind \"{kind}\"; expected one of {}{hint}", KINDS.join(", "))]
    UnknownKind {
        /// The kind as written.
        kind: String,
        /// A suggestion, when only the case is wrong.
        hint: String,
    },
    /// The kind is known but not under this apiVersion.
    #[error("unsupported apiVersion \"{api_version}\" for kind {kind}; expected one of {}", API_VERSIONS.join(", "))]
    ApiVersion {
        /// The apiVersion as written.
        api_version: String,
        /// The kind.
        kind: String,
    },
    /// A root field Backstage does not allow.
    #[error("unknown root field \"{field}\"; an entity has apiVersion, kind, metadata and spec")]
    UnknownField {
        /// The field.
        field: String,
    },
    /// A reference to another entity cannot be parsed.
    #[error("\"{field}\": {source}")]
    Reference {
        /// Dotted path of the field.
        field: String,
        /// Why the reference is bad.
        source: RefError,
    },
}

impl EntityError {
    /// The dotted path of the field concerned, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            EntityError::Missing { field }
            | EntityError::Format { field, .. }
            | EntityError::Type { field, .. }
            | EntityError::UnknownField { field }
            | EntityError::Reference { field, .. } => Some(field),
            EntityError::UnknownKind { .. } => Some("kind"),
            EntityError::ApiVersion { .. } => Some("apiVersion"),
        }
    }
}

/// Everything wrong with one entity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidEntity(pub Vec<EntityError>);

/// Checks a descriptor document (JSON, after substitution) against Backstage's
/// rules and builds the entity.
pub fn parse_entity(value: &Value) -> Result<Entity, InvalidEntity> {
    let mut errors = Vec::new();
    let Some(root) = value.as_object() else {
        return Err(InvalidEntity(vec![EntityError::Type {
            field: "(document)".into(),
            expected: "an object with apiVersion, kind, metadata and spec",
        }]));
    };
    let api_version = required_str(root, "apiVersion", "apiVersion", &mut errors);
    if let Some(v) = &api_version
        && !is_valid_api_version(v)
    {
        errors.push(format_error(
            "apiVersion",
            "a valid prefix and/or suffix",
            v,
        ));
    }
    let kind = required_str(root, "kind", "kind", &mut errors);
    if let Some(kind) = &kind {
        check_kind(kind, api_version.as_deref(), &mut errors);
    }
    let metadata = match root.get("metadata") {
        Some(Value::Object(m)) => parse_metadata(m, &mut errors),
        Some(_) => {
            errors.push(type_error("metadata", "an object"));
            Metadata::default()
        }
        None => {
            errors.push(EntityError::Missing {
                field: "metadata".into(),
            });
            Metadata::default()
        }
    };
    let spec = match root.get("spec") {
        Some(Value::Object(s)) => s.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            errors.push(type_error("spec", "an object"));
            Map::new()
        }
    };
    for key in root.keys() {
        if !matches!(
            key.as_str(),
            "apiVersion" | "kind" | "metadata" | "spec" | "relations" | "status"
        ) {
            errors.push(EntityError::UnknownField { field: key.clone() });
        }
    }
    let entity = Entity {
        api_version: api_version.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        metadata,
        spec,
        relations: Vec::new(),
    };
    if errors.is_empty() {
        check_spec(&entity, &mut errors);
    }
    if errors.is_empty()
        && let Err(bad) = relations::declared(&entity)
    {
        errors.extend(bad);
    }
    if errors.is_empty() {
        Ok(entity)
    } else {
        Err(InvalidEntity(errors))
    }
}

fn check_kind(kind: &str, api_version: Option<&str>, errors: &mut Vec<EntityError>) {
    if !is_valid_kind(kind) {
        errors.push(format_error(
            "kind",
            "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total",
            kind,
        ));
    } else if !KINDS.contains(&kind) {
        let hint = KINDS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(kind))
            .map(|k| format!(" (did you mean \"{k}\"?)"))
            .unwrap_or_default();
        errors.push(EntityError::UnknownKind {
            kind: kind.to_owned(),
            hint,
        });
    } else if let Some(v) = api_version
        && !API_VERSIONS.contains(&v)
    {
        errors.push(EntityError::ApiVersion {
            api_version: v.to_owned(),
            kind: kind.to_owned(),
        });
    }
}

fn parse_metadata(m: &Map<String, Value>, errors: &mut Vec<EntityError>) -> Metadata {
    let mut out = Metadata {
        namespace: DEFAULT_NAMESPACE.to_owned(),
        ..Metadata::default()
    };
    if let Some(name) = required_str(m, "name", "metadata.name", errors) {
        if !is_valid_entity_name(&name) {
            errors.push(format_error("metadata.name", NAME_EXPECTATION, &name));
        }
        out.name = name;
    }
    if let Some(namespace) = optional_str(m, "namespace", "metadata.namespace", errors) {
        if !is_valid_namespace(&namespace) {
            errors.push(format_error(
                "metadata.namespace",
                NAMESPACE_EXPECTATION,
                &namespace,
            ));
        }
        out.namespace = namespace;
    }
    out.title = optional_str(m, "title", "metadata.title", errors);
    out.uid = m.get("uid").and_then(Value::as_str).map(str::to_owned);
    out.etag = m.get("etag").and_then(Value::as_str).map(str::to_owned);
    out.description = optional_str(m, "description", "metadata.description", errors);
    out.labels = string_map(m, "labels", errors, |field, k, v, errors| {
        if !is_valid_label_key(k) {
            errors.push(format_error(field, "a valid prefix and/or suffix", k));
        }
        if !(v.is_empty() || is_valid_entity_name(v)) {
            errors.push(format_error(field, NAME_EXPECTATION, v));
        }
    });
    out.annotations = string_map(m, "annotations", errors, |field, k, v, errors| {
        if !is_valid_label_key(k) {
            errors.push(format_error(field, "a valid prefix and/or suffix", k));
        }
        if k == VISIBILITY && !VISIBILITIES.contains(&v.trim().to_lowercase().as_str()) {
            errors.push(format_error(field, "public, internal or partner", v));
        }
    });
    match m.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            for (i, tag) in tags.iter().enumerate() {
                let field = format!("metadata.tags.{i}");
                match tag.as_str() {
                    Some(t) if is_valid_tag(t) => out.tags.push(t.to_owned()),
                    Some(t) => errors.push(format_error(&field, TAG_EXPECTATION, t)),
                    None => errors.push(type_error(&field, "a string")),
                }
            }
        }
        Some(_) => errors.push(type_error("metadata.tags", "a list of strings")),
    }
    match m.get("links") {
        None | Some(Value::Null) => {}
        Some(Value::Array(links)) => {
            for (i, link) in links.iter().enumerate() {
                if let Some(link) = parse_link(link, i, errors) {
                    out.links.push(link);
                }
            }
        }
        Some(_) => errors.push(type_error("metadata.links", "a list of links")),
    }
    for (key, value) in m {
        if !matches!(
            key.as_str(),
            "name"
                | "namespace"
                | "title"
                | "description"
                | "labels"
                | "annotations"
                | "tags"
                | "links"
                | "uid"
                | "etag"
                | "generation"
        ) {
            out.extra.insert(key.clone(), value.clone());
        }
    }
    out
}

fn parse_link(link: &Value, i: usize, errors: &mut Vec<EntityError>) -> Option<Link> {
    let Some(obj) = link.as_object() else {
        errors.push(type_error(&format!("metadata.links.{i}"), "an object"));
        return None;
    };
    let url = required_str(obj, "url", &format!("metadata.links.{i}.url"), errors)?;
    if url::Url::parse(&url).is_err() {
        errors.push(format_error(
            &format!("metadata.links.{i}.url"),
            "a string that is a valid url",
            &url,
        ));
    }
    let title = optional_str(obj, "title", &format!("metadata.links.{i}.title"), errors);
    if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        errors.push(format_error(
            &format!("metadata.links.{i}.title"),
            "a non empty string",
            "",
        ));
    }
    let icon = optional_str(obj, "icon", &format!("metadata.links.{i}.icon"), errors);
    if let Some(icon) = &icon
        && !is_valid_entity_name(icon)
    {
        errors.push(format_error(
            &format!("metadata.links.{i}.icon"),
            NAME_EXPECTATION,
            icon,
        ));
    }
    let link_type = optional_str(obj, "type", &format!("metadata.links.{i}.type"), errors);
    Some(Link {
        url,
        title,
        icon,
        link_type,
    })
}

/// Per-kind spec requirements, after Backstage's kind schemas.
fn check_spec(entity: &Entity, errors: &mut Vec<EntityError>) {
    let spec = &entity.spec;
    let need = |fields: &[&str], errors: &mut Vec<EntityError>| {
        for f in fields {
            required_non_empty(spec, "spec", f, errors);
        }
    };
    match entity.kind.as_str() {
        "API" if entity.spec_type() == Some("mcp-server") => {
            need(&["type", "lifecycle", "owner"], errors);
            check_remotes(spec, errors);
        }
        "API" => need(&["type", "lifecycle", "owner", "definition"], errors),
        "Component" => need(&["type", "lifecycle", "owner"], errors),
        "Resource" => need(&["type", "owner"], errors),
        "System" | "Domain" => need(&["owner"], errors),
        "Group" => {
            need(&["type"], errors);
            required_list(spec, "children", errors);
        }
        "User" => required_list(spec, "memberOf", errors),
        "AiResource" if entity.spec_type() == Some("rule") => need(
            &["type", "lifecycle", "owner", "category", "rationale"],
            errors,
        ),
        "AiResource" => need(&["type", "lifecycle", "owner"], errors),
        _ => {}
    }
    for field in [
        "system",
        "subcomponentOf",
        "domain",
        "subdomainOf",
        "parent",
        "target",
    ] {
        if spec.contains_key(field) {
            required_non_empty(spec, "spec", field, errors);
        }
    }
    for field in [
        "providesApis",
        "consumesApis",
        "dependsOn",
        "dependencyOf",
        "members",
        "targets",
    ] {
        if spec.contains_key(field) {
            required_list(spec, field, errors);
        }
    }
}

fn check_remotes(spec: &Map<String, Value>, errors: &mut Vec<EntityError>) {
    match spec.get("remotes") {
        Some(Value::Array(remotes)) if !remotes.is_empty() => {
            for (i, remote) in remotes.iter().enumerate() {
                match remote.as_object() {
                    Some(r) => {
                        let prefix = format!("spec.remotes.{i}");
                        required_non_empty(r, &prefix, "type", errors);
                        required_non_empty(r, &prefix, "url", errors);
                    }
                    None => errors.push(type_error(&format!("spec.remotes.{i}"), "an object")),
                }
            }
        }
        Some(_) => errors.push(type_error("spec.remotes", "a non-empty list")),
        None => errors.push(EntityError::Missing {
            field: "spec.remotes".into(),
        }),
    }
}

fn required_non_empty(
    obj: &Map<String, Value>,
    prefix: &str,
    key: &str,
    errors: &mut Vec<EntityError>,
) {
    let field = format!("{prefix}.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => errors.push(EntityError::Missing { field }),
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(Value::String(_)) => errors.push(type_error(&field, "a non-empty string")),
        Some(_) => errors.push(type_error(&field, "a string")),
    }
}

fn required_list(obj: &Map<String, Value>, key: &str, errors: &mut Vec<EntityError>) {
    let field = format!("spec.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => errors.push(EntityError::Missing { field }),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if item.as_str().is_none_or(str::is_empty) {
                    errors.push(type_error(&format!("{field}.{i}"), "a non-empty string"));
                }
            }
        }
        Some(_) => errors.push(type_error(&field, "a list of strings")),
    }
}

fn required_str(
    obj: &Map<String, Value>,
    key: &str,
    field: &str,
    errors: &mut Vec<EntityError>,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            errors.push(EntityError::Missing {
                field: field.to_owned(),
            });
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(type_error(field, "a string"));
            None
        }
    }
}

fn optional_str(
    obj: &Map<String, Value>,
    key: &str,
    field: &str,
    errors: &mut Vec<EntityError>,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(type_error(field, "a string"));
            None
        }
    }
}

fn string_map(
    m: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<EntityError>,
    check: impl Fn(&str, &str, &str, &mut Vec<EntityError>),
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match m.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Object(entries)) => {
            for (k, v) in entries {
                let field = format!("metadata.{key}.{k}");
                match v.as_str() {
                    Some(v) => {
                        check(&field, k, v, errors);
                        out.insert(k.clone(), v.to_owned());
                    }
                    None => errors.push(type_error(&field, "a string")),
                }
            }
        }
        Some(_) => errors.push(type_error(&format!("metadata.{key}"), "a map of strings")),
    }
    out
}

fn format_error(field: &str, expected: &'static str, found: &str) -> EntityError {
    EntityError::Format {
        field: field.to_owned(),
        expected,
        found: found.to_owned(),
    }
}

fn type_error(field: &str, expected: &'static str) -> EntityError {
    EntityError::Type {
        field: field.to_owned(),
        expected,
    }
}

/// An entity name: `[a-zA-Z0-9]` runs separated by `-`, `_` or `.`, 1 to 63 characters.
pub fn is_valid_entity_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A namespace: a DNS label (`[a-z0-9]` runs separated by `-`, at most 63 characters).
pub fn is_valid_namespace(s: &str) -> bool {
    is_dash_separated(s, |c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// A tag: `[a-z0-9:+#]` runs separated by `-`, at most 63 characters.
pub fn is_valid_tag(s: &str) -> bool {
    is_dash_separated(s, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b':' | b'+' | b'#')
    })
}

fn is_dash_separated(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    (1..=63).contains(&s.len())
        && s.split('-')
            .all(|run| !run.is_empty() && run.bytes().all(&allowed))
}

fn is_valid_dns_subdomain(s: &str) -> bool {
    (1..=253).contains(&s.len()) && s.split('.').all(is_valid_namespace)
}

fn is_valid_prefix_and_or_suffix(s: &str, suffix: impl Fn(&str) -> bool) -> bool {
    match s.split('/').collect::<Vec<_>>().as_slice() {
        [name] => suffix(name),
        [prefix, name] => is_valid_dns_subdomain(prefix) && suffix(name),
        _ => false,
    }
}

/// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain.
pub fn is_valid_label_key(s: &str) -> bool {
    is_valid_prefix_and_or_suffix(s, is_valid_entity_name)
}

fn is_valid_api_version(s: &str) -> bool {
    is_valid_prefix_and_or_suffix(s, |v| {
        (1..=63).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_alphanumeric())
    })
}

fn is_valid_kind(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.as_bytes()[0].is_ascii_alphabetic()
        && s.bytes().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component(metadata: Value) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": metadata,
               "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}})
    }

    fn errors(value: &Value) -> Vec<String> {
        parse_entity(value)
            .err()
            .map(|e| e.0.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }

    #[test]
    fn names_follow_backstage_rules() {
        for good in ["a", "petstore", "Pet_Store.v2", "a-b", &"x".repeat(63)] {
            assert!(is_valid_entity_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a b", "a/b", "ä", &"x".repeat(64)] {
            assert!(!is_valid_entity_name(bad), "{bad}");
        }
        assert!(is_valid_namespace("my-team2"));
        assert!(!is_valid_namespace("My-Team"));
        assert!(!is_valid_namespace("a--b"));
    }

    #[test]
    fn tags_are_lowercase_runs_with_a_few_symbols() {
        for good in ["java", "c++", "c#", "team:backend", "go-1"] {
            assert!(is_valid_tag(good), "{good}");
        }
        for bad in ["Java", "go 1.15.3", "a_b", "-a", "", &"x".repeat(64)] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn label_and_annotation_keys_allow_one_dns_prefix() {
        assert!(is_valid_label_key("backstage.io/techdocs-ref"));
        assert!(is_valid_label_key("goVersion"));
        assert!(!is_valid_label_key("a/b/c"));
        assert!(!is_valid_label_key("Bad_Prefix/x"));
        let bad = component(json!({"name": "x", "labels": {"ok": "has space"}}));
        assert!(errors(&bad)[0].contains("\"metadata.labels.ok\" is not valid"));
        let ok = component(json!({"name": "x", "labels": {"empty": ""},
                                  "annotations": {"a.io/free": "any text at all"}}));
        assert!(parse_entity(&ok).is_ok());
    }

    #[test]
    fn the_invalid_example_component_gets_every_reason() {
        let bad = component(json!({"name": "invalid component", "tags": ["go", "go 1.15.3"]}));
        let errs = errors(&bad);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with(
            "\"metadata.name\" is not valid; expected a string that is sequences of [a-zA-Z0-9]"
        ));
        assert!(errs[0].ends_with("but found \"invalid component\""));
        assert!(errs[1].contains("\"metadata.tags.1\""));
    }

    #[test]
    fn visibility_must_name_an_audience() {
        let ok =
            component(json!({"name": "x", "annotations": {"portico.dev/visibility": "Partner"}}));
        assert!(parse_entity(&ok).is_ok());
        let bad =
            component(json!({"name": "x", "annotations": {"portico.dev/visibility": "secret"}}));
        let errs = errors(&bad);
        assert!(
            errs[0].contains("metadata.annotations.portico.dev/visibility")
                && errs[0].contains("public, internal or partner"),
            "{errs:?}"
        );
    }

    #[test]
    fn kinds_must_be_known_with_a_hint_for_case() {
        let mut v = component(json!({"name": "x"}));
        v["kind"] = json!("component");
        assert!(errors(&v)[0].contains("did you mean \"Component\""));
        v["kind"] = json!("Template");
        assert!(errors(&v)[0].starts_with("unknown kind \"Template\""));
        v["kind"] = json!("Component");
        v["apiVersion"] = json!("example.com/v1");
        assert!(errors(&v)[0].starts_with("unsupported apiVersion"));
    }

    #[test]
    fn each_kind_requires_its_spec_fields() {
        let api = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API",
                         "metadata": {"name": "a"}, "spec": {"type": "openapi", "lifecycle": "x", "owner": "o"}});
        assert_eq!(errors(&api), ["\"spec.definition\" must have a value"]);
        let mcp = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "m"},
                         "spec": {"type": "mcp-server", "lifecycle": "x", "owner": "o",
                                  "remotes": [{"type": "streamable-http", "url": "http://x"}]}});
        assert!(parse_entity(&mcp).is_ok());
        let group = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group",
                           "metadata": {"name": "g"}, "spec": {"type": "team"}});
        assert_eq!(errors(&group), ["\"spec.children\" must have a value"]);
        let user = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User",
                          "metadata": {"name": "u"}, "spec": {"memberOf": ["g", 3]}});
        assert_eq!(
            errors(&user),
            ["\"spec.memberOf.1\" must be a non-empty string"]
        );
        let component = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                               "metadata": {"name": "c"}, "spec": {"type": "service", "owner": ""}});
        assert_eq!(
            errors(&component),
            [
                "\"spec.lifecycle\" must have a value",
                "\"spec.owner\" must be a non-empty string"
            ]
        );
    }

    #[test]
    fn broken_references_name_the_field() {
        let v = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                       "metadata": {"name": "c"},
                       "spec": {"type": "service", "lifecycle": "x", "owner": "group:", "dependsOn": ["db"]}});
        let errs = errors(&v);
        assert!(
            errs[0].starts_with("\"spec.owner\": entity reference \"group:\""),
            "{errs:?}"
        );
        assert!(
            errs[1].contains("\"spec.dependsOn\"") && errs[1].contains("missing or empty kind")
        );
    }

    #[test]
    fn links_and_root_fields_are_checked() {
        let v = component(
            json!({"name": "x", "links": [{"url": "not a url"}, {"url": "https://a.b", "icon": "bad icon"}]}),
        );
        let errs = errors(&v);
        assert!(errs[0].contains("metadata.links.0.url"));
        assert!(errs[1].contains("metadata.links.1.icon"));
        let mut v = component(json!({"name": "x"}));
        v["extra"] = json!(1);
        assert_eq!(
            errors(&v)[0],
            "unknown root field \"extra\"; an entity has apiVersion, kind, metadata and spec"
        );
        assert!(errors(&json!([1]))[0].contains("must be an object"));
    }
}
