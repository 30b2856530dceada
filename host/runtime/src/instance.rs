//! One plugin, several instances: a [`PluginInstance`] runs a loaded plugin's
//! code with its own configuration, secrets, outbound hosts, key-value
//! namespace and health (so a circuit breaker one instance trips leaves the
//! others alone). The portal runs one per gateway of `[[gateways]]`.
//!
//! An instance's grant narrows the manifest exactly as a plugin's does (see
//! [`crate::Grants`]); the compiled code and the call pool are shared.

use std::sync::Arc;

use crate::engine::RuntimeConfig;
use crate::error::{CallError, LoadError};
use crate::grants::{self, Grants};
use crate::health::{Health, HealthTracker};
use crate::host_impl::PluginContext;
use crate::manifest::{Manifest, World};
use crate::outbound::OutboundPolicy;
use crate::plugin::{Grant, Plugin, WorldPre};
use crate::stats::CallStats;
use crate::worlds::{SpecDocument, connector};

/// What every call of a plugin or instance shares, from the manifest and a
/// grant; also the report of what was granted. `id` attributes log lines and
/// namespaces key-value data.
pub(crate) fn granted_context(
    id: String,
    manifest: &Manifest,
    grant: &Grant,
    cfg: &RuntimeConfig,
    stats: Arc<CallStats>,
) -> Result<(Arc<PluginContext>, Grants), String> {
    let decision = grants::decide(manifest, grant, cfg)?;
    for problem in &decision.report.outbound_hosts.not_granted {
        tracing::warn!(plugin = %id, %problem, "outbound host not granted");
    }
    let secrets = grant
        .secrets
        .iter()
        .filter(|(name, _)| decision.report.secrets.granted.contains(name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let context = PluginContext {
        id,
        config: grant.config.clone(),
        secrets,
        kv: cfg.kv.clone(),
        kv_quota_bytes: decision.report.kv_quota_bytes.granted,
        outbound: Arc::new(OutboundPolicy {
            allowed: decision.hosts,
            allow_private_addresses: grant.allow_private_addresses,
        }),
        limits: decision.limits,
        stats,
    };
    Ok((Arc::new(context), decision.report))
}

/// A loaded plugin with one instance's grants.
pub struct PluginInstance {
    plugin: Arc<Plugin>,
    name: String,
    context: Arc<PluginContext>,
    health: HealthTracker,
    grants: Grants,
}

impl Plugin {
    /// An instance of this plugin called `name` (unique among its instances),
    /// with its own grant. Its log lines read `<plugin id>/<name>` and its
    /// key-value data lives apart from the plugin's and other instances'.
    pub fn instance(
        self: &Arc<Plugin>,
        name: &str,
        grant: &Grant,
    ) -> Result<PluginInstance, LoadError> {
        let id = format!("{}/{name}", self.id());
        let health = HealthTracker::new();
        let (context, grants) = granted_context(
            id.clone(),
            &self.manifest,
            grant,
            &self.runtime.config,
            health.stats.clone(),
        )
        .map_err(|reason| LoadError::Config { origin: id, reason })?;
        Ok(PluginInstance {
            plugin: self.clone(),
            name: name.to_owned(),
            context,
            health,
            grants,
        })
    }
}

/// Checks the world and runs `$body` on a fresh instance under the instance's grants.
macro_rules! call_connector {
    ($self:ident, $name:literal, |$store:ident, $b:ident| $body:expr) => {{
        let plugin = &$self.plugin;
        let WorldPre::Connector(pre) = &plugin.pre else {
            return Err(plugin.wrong_world(World::GatewayConnector));
        };
        plugin
            .call_in(&$self.context, &$self.health, $name, move |mut $store| {
                Box::pin(async move {
                    let result = async {
                        let $b = pre.instantiate_async(&mut $store).await?;
                        $body
                    }
                    .await;
                    ($store, result)
                })
            })
            .await
    }};
}

impl PluginInstance {
    /// The plugin it runs.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it was granted against what the manifest asks for.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Its own health: calls, failures and circuit breaker.
    pub fn health(&self) -> Health {
        self.health.snapshot()
    }

    /// `gateway-connector`: describes the gateway and checks connectivity.
    pub async fn describe_gateway(&self) -> Result<connector::GatewayInfo, CallError> {
        call_connector!(self, "describe", |store, b| b
            .portico_plugin_connector()
            .call_describe(&mut store)
            .await)
    }

    /// `gateway-connector`: lists one page of APIs.
    pub async fn discover(
        &self,
        page: Option<&str>,
    ) -> Result<connector::DiscoveryPage, CallError> {
        call_connector!(self, "discover", |store, b| b
            .portico_plugin_connector()
            .call_discover(&mut store, page)
            .await)
    }

    /// `gateway-connector`: fetches one API's spec.
    pub async fn fetch_spec(
        &self,
        api_id: &str,
        environment: Option<&str>,
    ) -> Result<Option<SpecDocument>, CallError> {
        call_connector!(self, "fetch-spec", |store, b| b
            .portico_plugin_connector()
            .call_fetch_spec(&mut store, api_id, environment)
            .await)
    }

    /// `gateway-connector`: creates a credential for a portal app.
    pub async fn provision_credential(
        &self,
        request: &connector::CredentialRequest,
    ) -> Result<connector::Provisioned, CallError> {
        call_connector!(self, "provision-credential", |store, b| b
            .portico_plugin_connector()
            .call_provision_credential(&mut store, request)
            .await)
    }

    /// `gateway-connector`: pulls usage recorded since `cursor`.
    pub async fn collect_usage(
        &self,
        cursor: Option<&str>,
        max_records: u32,
    ) -> Result<connector::UsageBatch, CallError> {
        call_connector!(self, "collect-usage", |store, b| b
            .portico_plugin_connector()
            .call_collect_usage(&mut store, cursor, max_records)
            .await)
    }

    /// `gateway-connector`: disables or deletes a credential.
    pub async fn revoke_credential(
        &self,
        credential_ref: &str,
        mode: connector::RevokeMode,
    ) -> Result<(), CallError> {
        call_connector!(self, "revoke-credential", |store, b| b
            .portico_plugin_connector()
            .call_revoke_credential(&mut store, credential_ref, mode)
            .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            "id = \"c\"\nversion = \"1.0.0\"\nworld = \"gateway-connector\"\nwit = \"^0.1\"\n\
             [capabilities]\nallowed_outbound_hosts = [\"http://*:*\"]\nsecrets = [\"token\"]\n\
             [limits]\ntime_ms = 5000\n",
        )
        .unwrap()
    }

    fn grant(host: &str, token: &str) -> Grant {
        Grant {
            config: serde_json::json!({ "admin_url": host }),
            secrets: [
                ("token".to_owned(), token.to_owned()),
                ("other".to_owned(), "x".to_owned()),
            ]
            .into(),
            allowed_outbound_hosts: Some(vec![host.to_owned()]),
            time_ms: Some(1000),
            ..Grant::default()
        }
    }

    #[test]
    fn each_instance_gets_its_own_config_secrets_hosts_and_limits() {
        let cfg = RuntimeConfig::default();
        let m = manifest();
        let (a, report) = granted_context(
            "c/a".into(),
            &m,
            &grant("http://a.internal:2019", "ta"),
            &cfg,
            Arc::default(),
        )
        .unwrap();
        let (b, _) = granted_context(
            "c/b".into(),
            &m,
            &grant("http://b.internal:2019", "tb"),
            &cfg,
            Arc::default(),
        )
        .unwrap();
        assert_eq!(report.outbound_hosts.granted, ["http://a.internal:2019"]);
        assert!(a.outbound.allowed[0].matches("http", "a.internal", 2019));
        assert!(!a.outbound.allowed[0].matches("http", "b.internal", 2019));
        assert_eq!(a.secrets.keys().collect::<Vec<_>>(), ["token"]);
        assert_eq!(a.secrets["token"], "ta");
        assert_eq!(b.secrets["token"], "tb");
        assert_eq!(b.config["admin_url"], "http://b.internal:2019");
        assert_eq!(a.limits.time_ms, 1000);
        assert_eq!(a.id, "c/a");
    }

    #[test]
    fn a_bad_host_pattern_is_refused() {
        let mut bad = grant("http://a:1", "t");
        bad.allowed_outbound_hosts = Some(vec!["a.internal".into()]);
        let err = granted_context(
            "c/a".into(),
            &manifest(),
            &bad,
            &RuntimeConfig::default(),
            Arc::default(),
        )
        .err()
        .unwrap();
        assert!(err.contains("operator allowed_outbound_hosts"), "{err}");
    }
}
