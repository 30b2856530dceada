//! The entity: Backstage's descriptor envelope (apiVersion, kind, metadata,
//! spec) plus the relations the catalogue derives for it.
//!
//! Entities are built by [`crate::validate::parse_entity`], which checks every
//! field, so an `Entity` value is always valid; the spec stays JSON.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::entity_ref::EntityRef;

/// The annotation naming the file or URL an entity was read from.
pub const MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";
/// The annotation naming the registered location that led to the entity.
pub const MANAGED_BY_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";
/// The annotation Backstage sets on an entity whose source stopped reporting it.
pub const ORPHAN: &str = "backstage.io/orphan";

/// One catalogue entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// `apiVersion`, e.g. `backstage.io/v1alpha1`.
    pub api_version: String,
    /// `kind` as written, e.g. `Component`.
    pub kind: String,
    /// `metadata`.
    pub metadata: Metadata,
    /// `spec`, an object (empty when the descriptor had none).
    pub spec: Map<String, Value>,
    /// Relations to other entities, both those this entity declares and those
    /// declared towards it; filled in by the store when reading.
    pub relations: Vec<Relation>,
}

/// `metadata` of an entity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// Unique within its kind and namespace.
    pub name: String,
    /// Defaults to `default`.
    pub namespace: String,
    /// A display name.
    pub title: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// Labels (`prefix/name` keys).
    pub labels: BTreeMap<String, String>,
    /// Annotations (`prefix/name` keys).
    pub annotations: BTreeMap<String, String>,
    /// Tags, lowercase.
    pub tags: Vec<String>,
    /// Links to elsewhere.
    pub links: Vec<Link>,
    /// The store's identifier, stable across updates (set by the store).
    pub uid: Option<String>,
    /// Changes whenever the stored entity changes (set by the store).
    pub etag: Option<String>,
    /// Any other metadata fields, kept as written.
    pub extra: Map<String, Value>,
}

/// One entry of `metadata.links`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    /// The target.
    pub url: String,
    /// A display title.
    pub title: Option<String>,
    /// An icon name.
    pub icon: Option<String>,
    /// A link type.
    pub link_type: Option<String>,
}

/// A directed relation from an entity to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Relation {
    /// `ownedBy`, `partOf`, ...
    pub relation_type: String,
    /// The entity at the other end.
    pub target: EntityRef,
}

impl Entity {
    /// The entity's own reference.
    pub fn entity_ref(&self) -> EntityRef {
        EntityRef::new(&self.kind, &self.metadata.namespace, &self.metadata.name)
    }

    /// A string field of the spec (`type`, `lifecycle`, `owner`, ...).
    pub fn spec_str(&self, field: &str) -> Option<&str> {
        self.spec.get(field).and_then(Value::as_str)
    }

    /// `spec.type`.
    pub fn spec_type(&self) -> Option<&str> {
        self.spec_str("type")
    }

    /// `spec.lifecycle`.
    pub fn lifecycle(&self) -> Option<&str> {
        self.spec_str("lifecycle")
    }

    /// `spec.owner`, as written.
    pub fn owner(&self) -> Option<&str> {
        self.spec_str("owner")
    }

    /// `spec.system`, as written.
    pub fn system(&self) -> Option<&str> {
        self.spec_str("system")
    }

    /// `spec.definition` of an API, after substitution.
    pub fn definition(&self) -> Option<&str> {
        self.spec_str("definition")
    }

    /// A list-of-strings field of the spec (`providesApis`, `memberOf`, ...).
    pub fn spec_strings(&self, field: &str) -> Vec<&str> {
        match self.spec.get(field) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => Vec::new(),
        }
    }

    /// The entity as Backstage's JSON shape, relations included.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("apiVersion".into(), json!(self.api_version));
        out.insert("kind".into(), json!(self.kind));
        out.insert("metadata".into(), self.metadata.to_json());
        out.insert("spec".into(), Value::Object(self.spec.clone()));
        if !self.relations.is_empty() {
            let relations = self
                .relations
                .iter()
                .map(|r| json!({"type": r.relation_type, "targetRef": r.target.to_string()}))
                .collect();
            out.insert("relations".into(), Value::Array(relations));
        }
        Value::Object(out)
    }

    /// The content that decides whether a stored entity changed: everything but
    /// the store's own fields (uid, etag, relations).
    pub(crate) fn content_json(&self) -> Value {
        let mut copy = self.clone();
        copy.metadata.uid = None;
        copy.metadata.etag = None;
        copy.relations.clear();
        copy.to_json()
    }
}

impl Metadata {
    fn to_json(&self) -> Value {
        let mut out = self.extra.clone();
        out.insert("name".into(), json!(self.name));
        out.insert("namespace".into(), json!(self.namespace));
        if let Some(uid) = &self.uid {
            out.insert("uid".into(), json!(uid));
        }
        if let Some(etag) = &self.etag {
            out.insert("etag".into(), json!(etag));
        }
        if let Some(title) = &self.title {
            out.insert("title".into(), json!(title));
        }
        if let Some(description) = &self.description {
            out.insert("description".into(), json!(description));
        }
        if !self.labels.is_empty() {
            out.insert("labels".into(), json!(self.labels));
        }
        if !self.annotations.is_empty() {
            out.insert("annotations".into(), json!(self.annotations));
        }
        if !self.tags.is_empty() {
            out.insert("tags".into(), json!(self.tags));
        }
        if !self.links.is_empty() {
            let links = self.links.iter().map(Link::to_json).collect();
            out.insert("links".into(), Value::Array(links));
        }
        Value::Object(out)
    }
}

impl Link {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("url".into(), json!(self.url));
        for (key, value) in [
            ("title", &self.title),
            ("icon", &self.icon),
            ("type", &self.link_type),
        ] {
            if let Some(value) = value {
                out.insert(key.into(), json!(value));
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse_entity;

    #[test]
    fn json_round_trip_keeps_backstage_shape() {
        let input = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "petstore",
                "title": "Pet Store",
                "tags": ["rest"],
                "links": [{"url": "https://example.com", "title": "Home", "type": "website"}],
                "custom": {"x": 1}
            },
            "spec": {"type": "service", "lifecycle": "production", "owner": "team-c",
                     "providesApis": ["petstore", "streetlights"]}
        });
        let entity = parse_entity(&input).unwrap();
        assert_eq!(
            entity.entity_ref().to_string(),
            "component:default/petstore"
        );
        assert_eq!(entity.owner(), Some("team-c"));
        assert_eq!(
            entity.spec_strings("providesApis"),
            ["petstore", "streetlights"]
        );
        let out = entity.to_json();
        assert_eq!(out["metadata"]["namespace"], "default");
        assert_eq!(out["metadata"]["custom"]["x"], 1);
        assert_eq!(out["metadata"]["links"][0]["type"], "website");
        assert_eq!(parse_entity(&out).unwrap(), entity);
    }

    #[test]
    fn content_ignores_store_fields() {
        let input = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Domain",
                           "metadata": {"name": "audio"}, "spec": {"owner": "team-a"}});
        let mut a = parse_entity(&input).unwrap();
        let b = a.clone();
        a.metadata.uid = Some("u".into());
        a.metadata.etag = Some("e".into());
        a.relations.push(Relation {
            relation_type: "ownedBy".into(),
            target: EntityRef::new("group", "default", "team-a"),
        });
        assert_eq!(a.content_json(), b.content_json());
        assert_eq!(
            a.to_json()["relations"][0]["targetRef"],
            "group:default/team-a"
        );
    }
}
