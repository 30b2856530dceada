//! Relations an entity declares through its spec, in both directions.
//!
//! Follows Backstage's `BuiltinKindsEntityProcessor`: each spec field has a
//! relation, its inverse and a default kind for references that omit one; the
//! namespace defaults to the declaring entity's own.

use crate::entity::Entity;
use crate::entity_ref::EntityRef;
use crate::validate::EntityError;

/// One relation row: `source` --`relation_type`--> `target`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeclaredRelation {
    /// The entity the relation starts from.
    pub source: EntityRef,
    /// `ownedBy`, `ownerOf`, ...
    pub relation_type: &'static str,
    /// The entity the relation points at.
    pub target: EntityRef,
}

/// How one spec field turns into relations.
struct Rule {
    kind: &'static str,
    field: &'static str,
    default_kind: Option<&'static str>,
    outgoing: &'static str,
    incoming: &'static str,
}

const fn rule(
    kind: &'static str,
    field: &'static str,
    default_kind: Option<&'static str>,
    outgoing: &'static str,
    incoming: &'static str,
) -> Rule {
    Rule {
        kind,
        field,
        default_kind,
        outgoing,
        incoming,
    }
}

const OWNED_BY: (&str, &str) = ("ownedBy", "ownerOf");
const PART_OF: (&str, &str) = ("partOf", "hasPart");
const DEPENDS_ON: (&str, &str) = ("dependsOn", "dependencyOf");
const DEPENDENCY_OF: (&str, &str) = ("dependencyOf", "dependsOn");

const RULES: &[Rule] = &[
    rule("Component", "owner", Some("Group"), OWNED_BY.0, OWNED_BY.1),
    rule("Component", "system", Some("System"), PART_OF.0, PART_OF.1),
    rule(
        "Component",
        "subcomponentOf",
        Some("Component"),
        PART_OF.0,
        PART_OF.1,
    ),
    rule(
        "Component",
        "providesApis",
        Some("API"),
        "providesApi",
        "apiProvidedBy",
    ),
    rule(
        "Component",
        "consumesApis",
        Some("API"),
        "consumesApi",
        "apiConsumedBy",
    ),
    rule("Component", "dependsOn", None, DEPENDS_ON.0, DEPENDS_ON.1),
    rule(
        "Component",
        "dependencyOf",
        None,
        DEPENDENCY_OF.0,
        DEPENDENCY_OF.1,
    ),
    rule("API", "owner", Some("Group"), OWNED_BY.0, OWNED_BY.1),
    rule("API", "system", Some("System"), PART_OF.0, PART_OF.1),
    rule("Resource", "owner", Some("Group"), OWNED_BY.0, OWNED_BY.1),
    rule("Resource", "system", Some("System"), PART_OF.0, PART_OF.1),
    rule("Resource", "dependsOn", None, DEPENDS_ON.0, DEPENDS_ON.1),
    rule(
        "Resource",
        "dependencyOf",
        None,
        DEPENDENCY_OF.0,
        DEPENDENCY_OF.1,
    ),
    rule("System", "owner", Some("Group"), OWNED_BY.0, OWNED_BY.1),
    rule("System", "domain", Some("Domain"), PART_OF.0, PART_OF.1),
    rule("Domain", "owner", Some("Group"), OWNED_BY.0, OWNED_BY.1),
    rule(
        "Domain",
        "subdomainOf",
        Some("Domain"),
        PART_OF.0,
        PART_OF.1,
    ),
    rule("User", "memberOf", Some("Group"), "memberOf", "hasMember"),
    rule("Group", "parent", Some("Group"), "childOf", "parentOf"),
    rule("Group", "children", Some("Group"), "parentOf", "childOf"),
    rule("Group", "members", Some("User"), "hasMember", "memberOf"),
    rule("AiResource", "owner", Some("Group"), OWNED_BY.0, OWNED_BY.1),
    rule("AiResource", "system", Some("System"), PART_OF.0, PART_OF.1),
    rule(
        "AiResource",
        "dependsOn",
        Some("AiResource"),
        DEPENDS_ON.0,
        DEPENDS_ON.1,
    ),
];

/// Every relation `entity` declares, each followed by its inverse; an error
/// for each reference that cannot be parsed.
pub fn declared(entity: &Entity) -> Result<Vec<DeclaredRelation>, Vec<EntityError>> {
    let me = entity.entity_ref();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for rule in RULES.iter().filter(|r| r.kind == entity.kind) {
        for target in entity.spec_strings(rule.field) {
            match EntityRef::parse(target, rule.default_kind, &me.namespace) {
                Ok(target) => {
                    out.push(DeclaredRelation {
                        source: me.clone(),
                        relation_type: rule.outgoing,
                        target: target.clone(),
                    });
                    out.push(DeclaredRelation {
                        source: target,
                        relation_type: rule.incoming,
                        target: me.clone(),
                    });
                }
                Err(source) => errors.push(EntityError::Reference {
                    field: format!("spec.{}", rule.field),
                    source,
                }),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse_entity;
    use serde_json::json;

    fn relations(value: serde_json::Value) -> Vec<String> {
        let entity = parse_entity(&value).unwrap();
        declared(&entity)
            .unwrap()
            .into_iter()
            .map(|r| format!("{} {} {}", r.source, r.relation_type, r.target))
            .collect()
    }

    #[test]
    fn component_fields_relate_both_ways_with_default_kinds() {
        let rels = relations(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "petstore", "namespace": "shop"},
            "spec": {"type": "service", "lifecycle": "x", "owner": "team-c",
                     "system": "pets", "providesApis": ["petstore"], "consumesApis": ["default/auth"],
                     "dependsOn": ["resource:db"]}
        }));
        assert_eq!(
            rels,
            [
                "component:shop/petstore ownedBy group:shop/team-c",
                "group:shop/team-c ownerOf component:shop/petstore",
                "component:shop/petstore partOf system:shop/pets",
                "system:shop/pets hasPart component:shop/petstore",
                "component:shop/petstore providesApi api:shop/petstore",
                "api:shop/petstore apiProvidedBy component:shop/petstore",
                "component:shop/petstore consumesApi api:default/auth",
                "api:default/auth apiConsumedBy component:shop/petstore",
                "component:shop/petstore dependsOn resource:shop/db",
                "resource:shop/db dependencyOf component:shop/petstore",
            ]
        );
    }

    #[test]
    fn groups_and_users_relate_through_membership_and_hierarchy() {
        let rels = relations(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
            "metadata": {"name": "backstage"},
            "spec": {"type": "sub-department", "parent": "infrastructure", "children": ["team-a"],
                     "members": ["jdoe"]}
        }));
        assert!(
            rels.contains(&"group:default/backstage childOf group:default/infrastructure".into())
        );
        assert!(
            rels.contains(&"group:default/infrastructure parentOf group:default/backstage".into())
        );
        assert!(rels.contains(&"group:default/team-a childOf group:default/backstage".into()));
        assert!(rels.contains(&"user:default/jdoe memberOf group:default/backstage".into()));
        let user = relations(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "User",
            "metadata": {"name": "guest", "namespace": "development"},
            "spec": {"memberOf": ["group:default/team-a"]}
        }));
        assert_eq!(
            user[0],
            "user:development/guest memberOf group:default/team-a"
        );
        assert_eq!(
            user[1],
            "group:default/team-a hasMember user:development/guest"
        );
    }

    #[test]
    fn systems_and_domains_are_parts_of_their_parents() {
        let rels = relations(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Domain",
            "metadata": {"name": "artists"}, "spec": {"owner": "team-a", "subdomainOf": "audio"}
        }));
        assert_eq!(
            rels[2],
            "domain:default/artists partOf domain:default/audio"
        );
        let rels = relations(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "System",
            "metadata": {"name": "podcast"}, "spec": {"owner": "team-b", "domain": "playback"}
        }));
        assert_eq!(
            rels[3],
            "domain:default/playback hasPart system:default/podcast"
        );
    }
}
