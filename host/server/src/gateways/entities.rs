//! What a gateway reports, as catalogue entities: each discovered API becomes
//! a Backstage `API` entity whose provenance is the gateway (source
//! `gateway:<name>`, annotations naming the gateway and the API's id there),
//! with its base URLs as `spec.environments` and links, and, when the
//! connector exported a spec, a version published from it.
//!
//! An API that cannot be written is reported as a problem and keeps what the
//! catalogue had for it, rather than being orphaned by a passing fault.

use std::collections::{BTreeMap, HashMap};

use portico_catalog::spec::{ParsedSpec, SpecHint};
use portico_catalog::{
    Entity, MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION, OrphanPolicy, SourceSync,
    VersionDraft, is_valid_entity_name, is_valid_label_key, is_valid_tag, parse_entity,
};
use portico_runtime::worlds::SpecDocument;
use portico_runtime::worlds::connector::DiscoveredApi;
use serde_json::{Value, json};

use crate::config::GatewaySettings;

/// The annotation naming the gateway an entity was discovered on.
pub(crate) const GATEWAY_ANNOTATION: &str = "portico.dev/gateway";
/// The annotation holding the API's id on its gateway.
pub(crate) const GATEWAY_API_ID_ANNOTATION: &str = "portico.dev/gateway-api-id";
/// `spec.type` of an API whose gateway exported no spec.
const NO_SPEC_TYPE: &str = "http";

/// The catalogue source of a gateway's entities.
pub(crate) fn source(gateway: &str) -> String {
    format!("gateway:{gateway}")
}

/// One API as the connector reported it, with its exported spec if any.
pub(crate) struct Found {
    pub(crate) api: DiscoveredApi,
    pub(crate) spec: Option<SpecDocument>,
}

/// Everything a gateway reported as one complete batch of its source, and
/// the problems of what could not be written.
pub(crate) fn batch(
    gateway: &GatewaySettings,
    found: Vec<Found>,
    orphans: OrphanPolicy,
) -> (SourceSync, Vec<String>) {
    let mut sync = SourceSync {
        source: source(&gateway.name),
        source_type: "gateway".into(),
        target: gateway.name.clone(),
        complete: true,
        orphans,
        ..SourceSync::default()
    };
    let mut problems = Vec::new();
    let mut names: HashMap<String, String> = HashMap::new();
    for Found { api, spec } in found {
        let name = entity_name(&api.name);
        if let Some(other) = names.get(&name.to_lowercase()) {
            problems.push(format!(
                "API `{}`: its name `{name}` is taken by API `{other}` on this gateway; not written",
                api.id
            ));
            sync.keep.push(format!("api:default/{name}"));
            continue;
        }
        names.insert(name.to_lowercase(), api.id.clone());
        match entity(gateway, &api, &name, spec.as_ref(), &mut problems) {
            Ok((entity, draft)) => {
                let key = entity.entity_ref().to_string();
                if let Some(draft) = draft {
                    sync.versions.insert(key, vec![draft]);
                }
                let location = format!("{}#{}", sync.source, api.id);
                sync.entities.push((entity, location));
            }
            Err(reason) => {
                problems.push(format!("API `{}`: {reason}; not written", api.id));
                sync.keep.push(format!("api:default/{name}"));
            }
        }
    }
    (sync, problems)
}

/// A valid entity name from the connector's machine name: as given when it
/// is one, else lower-cased with other characters as dashes, at most 63.
fn entity_name(name: &str) -> String {
    if is_valid_entity_name(name) {
        return name.to_owned();
    }
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(63);
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { "api".into() } else { out }
}

fn entity(
    gateway: &GatewaySettings,
    api: &DiscoveredApi,
    name: &str,
    spec: Option<&SpecDocument>,
    problems: &mut Vec<String>,
) -> Result<(Entity, Option<VersionDraft>), String> {
    let environments: Vec<(String, String)> = api
        .environments
        .iter()
        .flat_map(|e| {
            let env = e.name.trim().to_lowercase();
            let env = if env.is_empty() {
                "production".into()
            } else {
                env
            };
            e.base_urls
                .iter()
                .map(move |url| (env.clone(), url.clone()))
        })
        .collect();
    let draft = spec.map(|doc| version(doc, &environments)).transpose()?;
    let (spec_type, definition) = match (&draft, spec) {
        (Some(draft), Some(doc)) => (spec_type(&draft.document.format), doc.content.clone()),
        _ => (
            NO_SPEC_TYPE.to_owned(),
            summary(gateway, api, &environments),
        ),
    };
    let mut labels = BTreeMap::new();
    let mut owner = gateway.owner.clone();
    for (key, value) in &api.labels {
        if key == "owner" && !value.trim().is_empty() {
            owner = value.trim().to_owned();
        } else if is_valid_label_key(key) && (value.is_empty() || is_valid_entity_name(value)) {
            labels.insert(key.clone(), value.clone());
        } else {
            problems.push(format!(
                "API `{}`: label `{key}` is not a valid Backstage label; left out",
                api.id
            ));
        }
    }
    let tags: Vec<String> = api
        .tags
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| is_valid_tag(t))
        .collect();
    let location = source(&gateway.name);
    let value = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {
            "name": name,
            "title": api.title.clone().unwrap_or_else(|| api.name.clone()),
            "description": api.description,
            "tags": tags,
            "labels": labels,
            "annotations": {
                GATEWAY_ANNOTATION: gateway.name,
                GATEWAY_API_ID_ANNOTATION: api.id,
                MANAGED_BY_LOCATION: format!("{location}#{}", api.id),
                MANAGED_BY_ORIGIN_LOCATION: location,
            },
            "links": environments.iter().map(|(env, url)| json!({
                "url": url, "title": format!("{env} base URL"),
            })).collect::<Vec<_>>(),
        },
        "spec": {
            "type": spec_type,
            "lifecycle": "production",
            "owner": owner,
            "definition": definition,
            "environments": environments.iter().map(|(env, url)| json!({
                "name": env, "url": url,
            })).collect::<Vec<_>>(),
        },
    });
    let entity = parse_entity(&strip_nulls(value)).map_err(|e| e.to_string())?;
    Ok((entity, draft))
}

/// A version from an exported spec, served where the gateway says it is.
fn version(doc: &SpecDocument, environments: &[(String, String)]) -> Result<VersionDraft, String> {
    let parsed = ParsedSpec::parse(
        doc.content.as_bytes(),
        &SpecHint::from_media_type(doc.media_type.clone()),
    )
    .map_err(|e| format!("its exported spec does not read: {e}"))?;
    let mut draft = VersionDraft::from_spec(&parsed);
    if !environments.is_empty() {
        draft.environments = environments
            .iter()
            .map(|(name, url)| portico_catalog::Environment {
                name: name.clone(),
                url: url.clone(),
                description: None,
            })
            .collect();
    }
    Ok(draft)
}

fn spec_type(format: &str) -> String {
    match format {
        "openapi2" | "openapi30" | "openapi31" => "openapi",
        "asyncapi" => "asyncapi",
        "graphql" => "graphql",
        _ => NO_SPEC_TYPE,
    }
    .to_owned()
}

/// The definition of an API without a spec: where it was found and where it answers.
fn summary(
    gateway: &GatewaySettings,
    api: &DiscoveredApi,
    environments: &[(String, String)],
) -> String {
    let mut text = format!(
        "Discovered on gateway `{}` (connector `{}`) as `{}`; the gateway publishes no spec for it.\n",
        gateway.name, gateway.connector, api.id
    );
    for (env, url) in environments {
        text.push_str(&format!("\n- {env}: {url}"));
    }
    text
}

/// Drops null members, which descriptors leave out rather than write.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use portico_runtime::worlds::SpecFormat;
    use portico_runtime::worlds::connector::Environment;

    use super::*;

    fn gateway() -> GatewaySettings {
        let text = "[[gateways]]\nname = \"edge\"\nconnector = \"connector-caddy\"\n\
            [gateways.config]\nadmin_url = \"http://127.0.0.1:2019\"\n";
        crate::Config::parse(text).unwrap().gateways.remove(0)
    }

    fn api(id: &str, name: &str) -> DiscoveredApi {
        DiscoveredApi {
            id: id.into(),
            name: name.into(),
            title: None,
            description: Some("Orders".into()),
            version: None,
            version_group: None,
            environments: vec![Environment {
                name: "Production".into(),
                base_urls: vec!["https://api.example.com/orders".into()],
                revision: None,
            }],
            tags: vec!["Caddy".into(), "not a tag!".into()],
            labels: vec![
                ("owner".into(), "group:shop".into()),
                ("bad key!".into(), "x".into()),
            ],
            spec_available: false,
            plan_ids: Vec::new(),
        }
    }

    #[test]
    fn a_route_becomes_an_api_entity_with_provenance_and_base_urls() {
        let found = vec![Found {
            api: api("srv0:api.example.com/orders/*", "Orders API"),
            spec: None,
        }];
        let (sync, problems) = batch(&gateway(), found, OrphanPolicy::Keep);
        assert_eq!(sync.source, "gateway:edge");
        assert!(sync.complete);
        let (entity, location) = &sync.entities[0];
        assert_eq!(location, "gateway:edge#srv0:api.example.com/orders/*");
        assert_eq!(entity.metadata.name, "orders-api");
        assert_eq!(entity.metadata.tags, ["caddy"]);
        assert_eq!(entity.metadata.annotations[GATEWAY_ANNOTATION], "edge");
        assert_eq!(entity.spec_type(), Some("http"));
        assert_eq!(entity.spec["owner"], "group:shop");
        assert_eq!(
            entity.spec["environments"],
            json!([{"name": "production", "url": "https://api.example.com/orders"}])
        );
        assert!(entity.definition().unwrap().contains("gateway `edge`"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("bad key!"));
    }

    #[test]
    fn an_exported_spec_becomes_a_version_served_at_the_gateways_urls() {
        let spec = SpecDocument {
            format: SpecFormat::Openapi30,
            media_type: "application/yaml".into(),
            content: "openapi: 3.0.0\ninfo: {title: Orders, version: 1.2.0}\npaths: {}\n".into(),
            source: None,
        };
        let (sync, problems) = batch(
            &gateway(),
            vec![Found {
                api: api("a", "orders"),
                spec: Some(spec),
            }],
            OrphanPolicy::Keep,
        );
        assert_eq!(sync.entities[0].0.spec_type(), Some("openapi"));
        let draft = &sync.versions["api:default/orders"][0];
        assert_eq!(draft.version, "1.2.0");
        assert_eq!(draft.environments[0].url, "https://api.example.com/orders");
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn clashing_names_and_unreadable_specs_are_problems_that_keep_the_old_entity() {
        let garbage = SpecDocument {
            format: SpecFormat::Openapi30,
            media_type: "application/json".into(),
            content: "{not json".into(),
            source: None,
        };
        let found = vec![
            Found {
                api: api("a", "orders"),
                spec: None,
            },
            Found {
                api: api("b", "Orders"),
                spec: None,
            },
            Found {
                api: api("c", "billing"),
                spec: Some(garbage),
            },
        ];
        let (sync, problems) = batch(&gateway(), found, OrphanPolicy::Keep);
        assert_eq!(sync.entities.len(), 1);
        // Refs are compared in any case, as the store does.
        assert_eq!(sync.keep, ["api:default/Orders", "api:default/billing"]);
        assert!(problems.iter().any(|p| p.contains("taken by API `a`")));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("API `c`: its exported spec"))
        );
    }

    #[test]
    fn machine_names_become_entity_names() {
        assert_eq!(entity_name("orders_v2.api"), "orders_v2.api");
        assert_eq!(
            entity_name("api.example.com/orders/*"),
            "api-example-com-orders"
        );
        assert_eq!(entity_name("***"), "api");
        assert_eq!(entity_name(&"x".repeat(80)).len(), 63);
    }
}
