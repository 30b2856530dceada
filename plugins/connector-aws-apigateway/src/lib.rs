//! Portico's AWS API Gateway connector: the REST APIs (v1) of one account and
//! region, with their stages as environments, their exported specs and the
//! usage plans that cover them; and API keys provisioned into those plans and
//! revoked again. Every call goes to the management API, signed with SigV4
//! by this plugin (`sigv4.rs`) from the instance's own secrets.

mod client;
mod model;
mod sigv4;

use portico_plugin_sdk::connector::{
    Capability, Connector, CredentialRequest, DiscoveryPage, GatewayInfo, KeySource, Provisioned,
    RevokeMode,
};
use portico_plugin_sdk::{PluginError, SpecDocument, config, export_connector, log};
use serde::Deserialize;
use serde_json::json;

use client::{Aws, Patch, PatchOperation, segment};
use model::{ApiKey, Cursor, RestApi, Stages, UsagePlan};

/// REST APIs per `discover` page; each costs one call for its stages.
const PAGE_SIZE: usize = 25;
/// API key names are this prefix and the portal's app id.
const KEY_NAME_PREFIX: &str = "portico-";

struct AwsApiGateway;

/// The instance's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The AWS region, e.g. `eu-west-1`.
    region: String,
    /// The management API; default `https://apigateway.{region}.amazonaws.com`.
    endpoint: Option<String>,
    /// Only these stages, preferred in this order for specs.
    stages: Option<Vec<String>>,
    /// The base URL of a stage, with `{api_id}`, `{region}` and `{stage}`.
    invoke_url: Option<String>,
}

impl Config {
    fn load() -> Result<Config, PluginError> {
        let config: Config = config::parse()?;
        let region_ok = !config.region.is_empty()
            && config
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(PluginError::InvalidConfig(format!(
                "`region` must be an AWS region such as eu-west-1, not `{}`",
                config.region
            )));
        }
        Ok(config)
    }

    fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("https://apigateway.{}.amazonaws.com", self.region))
    }

    fn client(&self) -> Result<Aws, PluginError> {
        Aws::new(&self.endpoint(), &self.region)
    }

    fn invoke_url(&self) -> &str {
        self.invoke_url
            .as_deref()
            .unwrap_or(model::DEFAULT_INVOKE_URL)
    }
}

impl Connector for AwsApiGateway {
    fn describe() -> Result<GatewayInfo, PluginError> {
        let config = Config::load()?;
        let aws = config.client()?;
        // The cheapest signed call: proves the endpoint, the credentials and the clock.
        let _: serde_json::Value = aws.call("GET", "/restapis", &[("limit", "1")], None)?;
        let mut info = GatewayInfo::new(
            "aws-apigateway",
            vec![
                Capability::Discover,
                Capability::ExportSpec,
                Capability::ListPlans,
                Capability::PortalKey,
                Capability::GatewayKey,
                Capability::KeyReadback,
                Capability::KeyDisable,
                Capability::KeyDelete,
            ],
        );
        info.key_constraints = Some("20..128 alphanumeric characters".into());
        Ok(info)
    }

    fn discover(page: Option<String>) -> Result<DiscoveryPage, PluginError> {
        let config = Config::load()?;
        let aws = config.client()?;
        let cursor = page.as_deref().map(Cursor::parse).transpose()?;
        let apis = model::named(aws.list::<RestApi>("/restapis", &[])?);
        let fingerprint = model::fingerprint(&apis);
        if cursor
            .as_ref()
            .is_some_and(|c| c.fingerprint != fingerprint)
        {
            return Err(PluginError::Conflict(
                "the account's REST APIs changed while they were being read; sync again".into(),
            ));
        }
        let usage_plans: Vec<UsagePlan> = aws.list("/usageplans", &[])?;
        let mut plans_by_api = model::plans_by_api(&usage_plans);

        let start = cursor.as_ref().map_or(0, |c| c.offset).min(apis.len());
        let end = apis.len().min(start + PAGE_SIZE);
        let mut found = Vec::new();
        for (name, rest) in &apis[start..end] {
            let stages: Stages = aws.call(
                "GET",
                &format!("/restapis/{}/stages", segment(&rest.id)),
                &[],
                None,
            )?;
            let stages = model::chosen_stages(stages.item, config.stages.as_deref());
            if config.stages.is_some() && stages.is_empty() {
                continue;
            }
            let plan_ids = plans_by_api.remove(&rest.id).unwrap_or_default();
            found.push(model::api(
                name,
                rest,
                &stages,
                plan_ids,
                config.invoke_url(),
                &config.region,
            ));
        }
        let mut page = DiscoveryPage::new(found);
        if start == 0 {
            page.plans = usage_plans.iter().map(model::plan).collect();
        }
        page.next = (end < apis.len()).then(|| {
            Cursor {
                offset: end,
                fingerprint,
            }
            .to_string()
        });
        Ok(page)
    }

    fn fetch_spec(
        api_id: String,
        environment: Option<String>,
    ) -> Result<Option<SpecDocument>, PluginError> {
        let config = Config::load()?;
        let aws = config.client()?;
        let api = segment(&api_id);
        let stage = match environment {
            Some(stage) => stage,
            None => {
                let stages: Stages =
                    aws.call("GET", &format!("/restapis/{api}/stages"), &[], None)?;
                match model::chosen_stages(stages.item, config.stages.as_deref()).first() {
                    Some(stage) => stage.stage_name.clone(),
                    None => return Ok(None),
                }
            }
        };
        let exports = format!("/restapis/{api}/stages/{}/exports", segment(&stage));
        // OpenAPI 3.0 first; Swagger 2.0 where the gateway (or an emulator) has no oas30 exporter.
        let mut last_error = None;
        for kind in ["oas30", "swagger"] {
            let path = format!("{exports}/{kind}");
            let response = aws.send("GET", &path, &[], "application/json", None)?;
            let response = match aws.check("GET", response) {
                Ok(response) => response,
                Err(error @ PluginError::Internal(_)) => {
                    last_error = Some(error);
                    continue;
                }
                Err(error) => return Err(error),
            };
            let content = response.text()?;
            let document: serde_json::Value = serde_json::from_str(&content).map_err(|e| {
                PluginError::Unreachable(format!(
                    "{} answered an export that is not JSON: {e}",
                    aws.url(&path)
                ))
            })?;
            let format = model::spec_format(&document).map_err(|what| {
                PluginError::Unreachable(format!("{} answered {what}", aws.url(&path)))
            })?;
            return Ok(Some(SpecDocument {
                format,
                media_type: "application/json".into(),
                content,
                source: Some(aws.url(&path)),
            }));
        }
        Err(last_error.unwrap_or_else(|| PluginError::Internal("no export was tried".into())))
    }

    fn provision_credential(request: CredentialRequest) -> Result<Provisioned, PluginError> {
        let config = Config::load()?;
        let aws = config.client()?;
        if request.expires_at.is_some() {
            return Err(PluginError::Unsupported(
                "AWS API Gateway keys do not expire; the portal must revoke the key instead".into(),
            ));
        }
        if request.plan_ids.is_empty() && !request.api_ids.is_empty() {
            return Err(PluginError::Unsupported(
                "AWS API Gateway scopes keys through usage plans; name the plans (plan-ids)".into(),
            ));
        }
        let portal_value = match &request.key {
            KeySource::Portal(value) => {
                if !(20..=128).contains(&value.chars().count()) {
                    return Err(PluginError::Unsupported(format!(
                        "AWS API Gateway takes key values of 20 to 128 characters, not {}",
                        value.chars().count()
                    )));
                }
                Some(value.as_str())
            }
            KeySource::Gateway => None,
        };
        let name = format!("{KEY_NAME_PREFIX}{}", request.app_id);

        // A retry finds the key its first attempt made, by its name.
        let existing: Vec<ApiKey> = aws.list(
            "/apikeys",
            &[("name", name.as_str()), ("includeValues", "true")],
        )?;
        let mut existing = existing
            .into_iter()
            .filter(|k| k.name.as_deref() == Some(name.as_str()));
        let key = match (existing.next(), existing.next()) {
            (Some(_), Some(_)) => {
                return Err(PluginError::Conflict(format!(
                    "AWS holds several API keys named `{name}`; delete the extra ones"
                )));
            }
            (Some(key), None) => {
                if !key.enabled {
                    return Err(PluginError::Conflict(format!(
                        "the API key `{name}` ({}) exists but is disabled (revoked); delete it to provision again",
                        key.id
                    )));
                }
                if portal_value.is_some_and(|v| key.value.as_deref() != Some(v)) {
                    return Err(PluginError::Conflict(format!(
                        "the API key `{name}` ({}) exists with another value",
                        key.id
                    )));
                }
                log::info(
                    "found the API key of an earlier attempt",
                    &[("key_id", &key.id)],
                );
                key
            }
            (None, _) => {
                let mut body = json!({
                    "name": name,
                    "description": format!("{} (Portico app {}, owner {})",
                        request.display_name, request.app_id, request.owner_id),
                    "enabled": true,
                    "tags": request.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                });
                if let Some(value) = portal_value {
                    body["value"] = json!(value);
                }
                let key: ApiKey = aws.call("POST", "/apikeys", &[], Some(&body))?;
                log::info(
                    "created an API key",
                    &[("key_id", &key.id), ("name", &name)],
                );
                key
            }
        };

        for plan_id in &request.plan_ids {
            attach(&aws, plan_id, &key.id)?;
        }

        let generated = match portal_value {
            Some(_) => None,
            None => match key.value.clone() {
                Some(value) => Some(value),
                None => {
                    let read: ApiKey = aws.call(
                        "GET",
                        &format!("/apikeys/{}", segment(&key.id)),
                        &[("includeValue", "true")],
                        None,
                    )?;
                    Some(read.value.ok_or_else(|| {
                        PluginError::Unreachable(format!(
                            "AWS did not return the value of API key {}",
                            key.id
                        ))
                    })?)
                }
            },
        };
        Ok(Provisioned {
            credential_ref: key.id,
            key: generated,
            secondary_key: None,
            readable_later: true,
            pending_approval: false,
        })
    }

    fn revoke_credential(credential_ref: String, mode: RevokeMode) -> Result<(), PluginError> {
        let config = Config::load()?;
        let aws = config.client()?;
        let path = format!("/apikeys/{}", segment(&credential_ref));
        let result = match mode {
            RevokeMode::Disable => {
                let patch = Patch {
                    patch_operations: vec![PatchOperation {
                        op: "replace",
                        path: "/enabled",
                        value: "false".into(),
                    }],
                };
                let body = serde_json::to_value(&patch)
                    .map_err(|e| PluginError::Internal(format!("cannot encode a patch: {e}")))?;
                aws.call_ignoring_body("PATCH", &path, Some(&body))
            }
            RevokeMode::Delete => aws.call_ignoring_body("DELETE", &path, None),
        };
        match result {
            Ok(()) | Err(PluginError::NotFound(_)) => {
                log::info(
                    "revoked an API key",
                    &[("key_id", &credential_ref), ("mode", &format!("{mode:?}"))],
                );
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

export_connector!(AwsApiGateway);

/// Puts key `key_id` into usage plan `plan_id`, unless it is there already.
fn attach(aws: &Aws, plan_id: &str, key_id: &str) -> Result<(), PluginError> {
    let plan_keys = format!("/usageplans/{}/keys", segment(plan_id));
    let probe = aws.send(
        "GET",
        &format!("{plan_keys}/{}", segment(key_id)),
        &[],
        "application/json",
        None,
    )?;
    match aws.check("GET", probe) {
        Ok(_) => return Ok(()),
        Err(PluginError::NotFound(_)) => {}
        Err(error) => return Err(error),
    }
    let body = json!({ "keyId": key_id, "keyType": "API_KEY" });
    match aws.call_ignoring_body("POST", &plan_keys, Some(&body)) {
        Err(PluginError::NotFound(what)) => Err(PluginError::NotFound(format!(
            "usage plan `{plan_id}` (or key {key_id}) does not exist: {what}"
        ))),
        other => other,
    }
}
