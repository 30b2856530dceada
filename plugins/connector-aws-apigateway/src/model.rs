//! API Gateway's resources as it sends them, and how they read as the
//! portal's APIs, environments and plans: pure functions, tested natively.

use std::collections::{BTreeMap, HashMap};

use portico_plugin_sdk::connector::{DiscoveredApi, Environment, Limit, Plan};
use portico_plugin_sdk::{PluginError, SpecFormat};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The invoke URL of a stage, unless `invoke_url` says otherwise.
pub(crate) const DEFAULT_INVOKE_URL: &str =
    "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}";

/// `GET /restapis` items.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RestApi {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
}

/// `GET /restapis/{id}/stages` items (this list has no paging).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stage {
    pub(crate) stage_name: String,
    #[serde(default)]
    pub(crate) deployment_id: Option<String>,
}

/// `GET /restapis/{id}/stages`: `{"item": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Stages {
    #[serde(default)]
    pub(crate) item: Vec<Stage>,
}

/// `GET /usageplans` items.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsagePlan {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) api_stages: Vec<ApiStage>,
    #[serde(default)]
    pub(crate) throttle: Option<Throttle>,
    #[serde(default)]
    pub(crate) quota: Option<Quota>,
}

/// A stage of an API that a usage plan covers.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiStage {
    pub(crate) api_id: String,
}

/// Requests per second, with a burst.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Throttle {
    #[serde(default)]
    pub(crate) burst_limit: Option<u64>,
    #[serde(default)]
    pub(crate) rate_limit: Option<f64>,
}

/// Requests per day, week or month.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Quota {
    pub(crate) limit: u64,
    #[serde(default)]
    pub(crate) period: String,
}

/// `GET /apikeys` items and `POST /apikeys` answers.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApiKey {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) value: Option<String>,
    #[serde(default)]
    pub(crate) enabled: bool,
}

/// The REST APIs in a stable order (name, then id), each with a machine
/// name unique within the account: the name as a slug, with the id appended
/// where two APIs share it (API Gateway does not make names unique).
pub(crate) fn named(mut apis: Vec<RestApi>) -> Vec<(String, RestApi)> {
    apis.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for api in &apis {
        *seen.entry(slug(&api.name)).or_default() += 1;
    }
    apis.into_iter()
        .map(|api| {
            let base = slug(&api.name);
            let name = if base.is_empty() {
                slug(&api.id)
            } else if seen[&base] > 1 {
                format!("{base}-{}", slug(&api.id))
            } else {
                base
            };
            (name, api)
        })
        .collect()
}

/// Lower-case letters and digits, other runs as one dash, at most 50 characters.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(50);
    out.trim_end_matches('-').to_owned()
}

/// A short fingerprint of the API ids, so that a cursor notices when the
/// account's APIs changed between two pages of one sync.
pub(crate) fn fingerprint(apis: &[(String, RestApi)]) -> String {
    let mut hash = Sha256::new();
    for (_, api) in apis {
        hash.update(api.id.as_bytes());
        hash.update(b"\n");
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stages to report, in the order to prefer them: those named in the
/// filter (in its order) when there is one, else all by name.
pub(crate) fn chosen_stages(mut stages: Vec<Stage>, filter: Option<&[String]>) -> Vec<Stage> {
    match filter {
        Some(filter) => filter
            .iter()
            .filter_map(|name| stages.iter().find(|s| &s.stage_name == name).cloned())
            .collect(),
        None => {
            stages.sort_by(|a, b| a.stage_name.cmp(&b.stage_name));
            stages
        }
    }
}

/// The base URL of `stage` of API `api_id` from the `invoke_url` template.
pub(crate) fn invoke_url(template: &str, api_id: &str, region: &str, stage: &str) -> String {
    template
        .replace("{api_id}", api_id)
        .replace("{region}", region)
        .replace("{stage}", stage)
}

/// One API with its stages as environments and the plans that cover it.
pub(crate) fn api(
    name: &str,
    rest: &RestApi,
    stages: &[Stage],
    plan_ids: Vec<String>,
    template: &str,
    region: &str,
) -> DiscoveredApi {
    let mut api = DiscoveredApi::new(rest.id.clone(), name);
    api.title = Some(if rest.name.is_empty() {
        rest.id.clone()
    } else {
        rest.name.clone()
    });
    api.description = rest.description.clone().filter(|d| !d.trim().is_empty());
    api.version = rest.version.clone().filter(|v| !v.trim().is_empty());
    api.environments = stages
        .iter()
        .map(|stage| {
            let mut env = Environment::new(
                stage.stage_name.clone(),
                vec![invoke_url(template, &rest.id, region, &stage.stage_name)],
            );
            env.revision = stage.deployment_id.clone();
            env
        })
        .collect();
    api.tags = vec!["aws-apigateway".into()];
    // AWS's own tags (`aws:cloudformation:...`) say nothing about the API.
    api.labels = rest
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    api.spec_available = !stages.is_empty();
    api.plan_ids = plan_ids;
    api
}

/// A usage plan as a plan: its APIs, its throttle and its quota.
pub(crate) fn plan(usage_plan: &UsagePlan) -> Plan {
    let mut api_ids: Vec<String> = usage_plan
        .api_stages
        .iter()
        .map(|s| s.api_id.clone())
        .collect();
    api_ids.sort();
    api_ids.dedup();
    let mut limits = Vec::new();
    if let Some(throttle) = &usage_plan.throttle
        && let Some(rate) = throttle.rate_limit.filter(|r| *r > 0.0)
    {
        // A fractional rate (0.5 per second) reads as a whole number per minute.
        let (requests, per_seconds) = if rate.fract() == 0.0 {
            (rate as u64, 1)
        } else {
            ((rate * 60.0).round().max(1.0) as u64, 60)
        };
        limits.push(Limit {
            requests,
            per_seconds,
            burst: throttle.burst_limit,
        });
    }
    if let Some(quota) = &usage_plan.quota {
        let per_seconds = match quota.period.as_str() {
            "DAY" => 86_400,
            "WEEK" => 7 * 86_400,
            _ => 30 * 86_400,
        };
        limits.push(Limit {
            requests: quota.limit,
            per_seconds,
            burst: None,
        });
    }
    Plan {
        id: usage_plan.id.clone(),
        name: if usage_plan.name.is_empty() {
            usage_plan.id.clone()
        } else {
            usage_plan.name.clone()
        },
        description: usage_plan.description.clone(),
        api_ids,
        manual_approval: false,
        limits,
    }
}

/// The plans (by id) that cover each API.
pub(crate) fn plans_by_api(plans: &[UsagePlan]) -> HashMap<String, Vec<String>> {
    let mut by_api: HashMap<String, Vec<String>> = HashMap::new();
    for plan in plans {
        for stage in &plan.api_stages {
            let ids = by_api.entry(stage.api_id.clone()).or_default();
            if !ids.contains(&plan.id) {
                ids.push(plan.id.clone());
            }
        }
    }
    by_api
}

/// What an exported document is, from its own version field: API Gateway
/// exports `oas30` or `swagger`, and emulators answer Swagger 2.0 to both.
pub(crate) fn spec_format(document: &serde_json::Value) -> Result<SpecFormat, String> {
    if document.get("swagger").and_then(|v| v.as_str()) == Some("2.0") {
        return Ok(SpecFormat::Openapi2);
    }
    match document.get("openapi").and_then(|v| v.as_str()) {
        Some(v) if v.starts_with("3.0") => Ok(SpecFormat::Openapi30),
        Some(v) if v.starts_with("3.1") => Ok(SpecFormat::Openapi31),
        _ => Err("a document that is neither Swagger 2.0 nor OpenAPI 3".into()),
    }
}

/// The discovery cursor: where the next page starts in the ordered APIs,
/// and the fingerprint of the APIs the first page saw.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) offset: usize,
    pub(crate) fingerprint: String,
}

impl Cursor {
    pub(crate) fn parse(text: &str) -> Result<Cursor, PluginError> {
        let bad = || PluginError::Internal(format!("bad discovery cursor `{text}`"));
        let (offset, fingerprint) = text.split_once(' ').ok_or_else(bad)?;
        Ok(Cursor {
            offset: offset.parse().map_err(|_| bad())?,
            fingerprint: fingerprint.to_owned(),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.offset, self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(id: &str, name: &str) -> RestApi {
        RestApi {
            id: id.into(),
            name: name.into(),
            description: None,
            version: None,
            tags: BTreeMap::new(),
        }
    }

    fn stage(name: &str) -> Stage {
        Stage {
            stage_name: name.into(),
            deployment_id: Some(format!("dep-{name}")),
        }
    }

    #[test]
    fn apis_sharing_a_name_get_their_id_appended() {
        let named = named(vec![
            rest("b2", "Orders API"),
            rest("a1", "Orders API"),
            rest("c3", "Pets"),
            rest("D4", "!!"),
        ]);
        let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["d4", "orders-api-a1", "orders-api-b2", "pets"]);
        assert_ne!(fingerprint(&named), fingerprint(&named[1..]));
    }

    #[test]
    fn stages_become_environments_at_their_invoke_urls() {
        let mut api = rest("abc123", "Pets");
        api.tags = [
            ("team".into(), "pets".into()),
            ("aws:cloudformation:stack-name".into(), "x".into()),
        ]
        .into();
        let found = super::api(
            "pets",
            &api,
            &[stage("prod")],
            vec!["plan1".into()],
            DEFAULT_INVOKE_URL,
            "eu-west-1",
        );
        assert_eq!(
            found.environments[0].base_urls,
            ["https://abc123.execute-api.eu-west-1.amazonaws.com/prod"]
        );
        assert_eq!(found.environments[0].revision.as_deref(), Some("dep-prod"));
        assert_eq!(found.labels, [("team".to_owned(), "pets".to_owned())]);
        assert!(found.spec_available);
        let bare = super::api("pets", &api, &[], vec![], DEFAULT_INVOKE_URL, "eu-west-1");
        assert!(
            !bare.spec_available,
            "an API without a stage exports nothing"
        );
    }

    #[test]
    fn a_stage_filter_picks_and_orders_stages() {
        let stages = vec![stage("prod"), stage("dev"), stage("beta")];
        let names = |s: Vec<Stage>| s.into_iter().map(|s| s.stage_name).collect::<Vec<_>>();
        assert_eq!(
            names(chosen_stages(stages.clone(), None)),
            ["beta", "dev", "prod"]
        );
        let filter = ["prod".to_owned(), "nope".to_owned(), "dev".to_owned()];
        assert_eq!(names(chosen_stages(stages, Some(&filter))), ["prod", "dev"]);
    }

    #[test]
    fn usage_plans_become_plans_with_limits() {
        let usage_plan: UsagePlan = serde_json::from_value(serde_json::json!({
            "id": "p1", "name": "Gold",
            "apiStages": [{"apiId": "b", "stage": "prod"}, {"apiId": "a", "stage": "prod"},
                          {"apiId": "a", "stage": "dev"}],
            "throttle": {"burstLimit": 20, "rateLimit": 10.0},
            "quota": {"limit": 5000, "offset": 0, "period": "MONTH"}
        }))
        .unwrap();
        let plan = plan(&usage_plan);
        assert_eq!(plan.api_ids, ["a", "b"]);
        assert_eq!(plan.limits.len(), 2);
        assert_eq!(
            (
                plan.limits[0].requests,
                plan.limits[0].per_seconds,
                plan.limits[0].burst
            ),
            (10, 1, Some(20))
        );
        assert_eq!(
            (plan.limits[1].requests, plan.limits[1].per_seconds),
            (5000, 2_592_000)
        );
        let slow: UsagePlan = serde_json::from_value(serde_json::json!({
            "id": "p2", "throttle": {"rateLimit": 0.5}
        }))
        .unwrap();
        let slow = super::plan(&slow);
        assert_eq!(
            (slow.limits[0].requests, slow.limits[0].per_seconds),
            (30, 60)
        );
        assert_eq!(slow.name, "p2");
        let by_api = plans_by_api(&[usage_plan]);
        assert_eq!(by_api["a"], ["p1"]);
    }

    #[test]
    fn exported_documents_say_their_format() {
        let format = |v| spec_format(&v);
        assert_eq!(
            format(serde_json::json!({"swagger": "2.0"})),
            Ok(SpecFormat::Openapi2)
        );
        assert_eq!(
            format(serde_json::json!({"openapi": "3.0.1"})),
            Ok(SpecFormat::Openapi30)
        );
        assert!(format(serde_json::json!({"hello": 1})).is_err());
    }

    #[test]
    fn cursors_round_trip() {
        let cursor = Cursor {
            offset: 25,
            fingerprint: "0011aabb".into(),
        };
        assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
        assert!(Cursor::parse("25").is_err());
    }
}
