//! `[plugins]` in `portico.toml`: the operator's trust policy for plugin
//! packages, and `[plugins.<id>]` tables granting each plugin its
//! capabilities and limits.
//!
//! Both live in one table, so it is read by hand: the policy keys, then
//! every other key as a plugin id (ids are lower-case with dashes, so they
//! never collide with the policy's snake_case keys).

use std::collections::BTreeMap;

use anyhow::Context as _;
use portico_runtime::{PublicKey, TrustPolicy, TrustedPublisher};
use serde::Deserialize;

use super::resolve_secret;

/// `[plugins]`.
#[derive(Debug, Clone)]
pub struct PluginsConfig {
    /// Refuse plugin files without a valid signature by a trusted publisher.
    /// The plugins bundled in the binary are trusted as built.
    pub require_signatures: bool,
    /// Publishers whose signatures are trusted.
    pub trusted_publishers: Vec<PublisherConfig>,
    /// How often a running server looks for changes in the plugins
    /// directory, in milliseconds; 0 turns watching off.
    pub watch_interval_ms: u64,
    /// Grants by plugin id (`[plugins.<id>]`).
    pub grants: BTreeMap<String, PluginSettings>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            require_signatures: false,
            trusted_publishers: Vec::new(),
            watch_interval_ms: 1000,
            grants: BTreeMap::new(),
        }
    }
}

/// One trusted publisher: `{ name = "acme", key = "ed25519:..." }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherConfig {
    /// The name its signatures claim.
    pub name: String,
    /// Its public key, as `portico plugin keygen` prints it.
    pub key: String,
}

impl<'de> Deserialize<'de> for PluginsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(deserializer)?;
        let mut config = PluginsConfig::default();
        if let Some(value) = table.remove("require_signatures") {
            config.require_signatures = bool::deserialize(value)
                .map_err(|e| D::Error::custom(format!("require_signatures: {}", e.message())))?;
        }
        if let Some(value) = table.remove("trusted_publishers") {
            config.trusted_publishers = Vec::deserialize(value)
                .map_err(|e| D::Error::custom(format!("trusted_publishers: {}", e.message())))?;
        }
        if let Some(value) = table.remove("watch_interval_ms") {
            config.watch_interval_ms = u64::deserialize(value)
                .map_err(|e| D::Error::custom(format!("watch_interval_ms: {}", e.message())))?;
        }
        for (id, value) in table {
            let settings = PluginSettings::deserialize(value)
                .map_err(|e| D::Error::custom(format!("[plugins.{id}]: {}", e.message())))?;
            config.grants.insert(id, settings);
        }
        Ok(config)
    }
}

impl PluginsConfig {
    /// The trust policy, with every key checked.
    pub fn trust_policy(&self) -> anyhow::Result<TrustPolicy> {
        let trusted = self
            .trusted_publishers
            .iter()
            .map(|p| {
                PublicKey::parse(&p.key)
                    .map(|key| TrustedPublisher {
                        name: p.name.clone(),
                        key,
                    })
                    .with_context(|| format!("plugins.trusted_publishers `{}`", p.name))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(TrustPolicy {
            require_signatures: self.require_signatures,
            trusted,
        })
    }
}

/// What the operator grants one plugin (`[plugins.<id>]`). Each value can
/// only narrow what the plugin's manifest asks for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Outbound destinations (`scheme://host[:port]`); each is granted only
    /// as far as it lies within the manifest's list.
    pub allowed_outbound_hosts: Option<Vec<String>>,
    /// Whether the plugin may reach private, loopback and link-local addresses.
    pub allow_private_addresses: bool,
    /// Key-value quota in bytes, at most the manifest's.
    pub kv_quota_bytes: Option<u64>,
    /// Memory limit in MiB, at most the manifest's (and `runtime.max_memory_mb`).
    pub memory_mb: Option<u64>,
    /// Time limit per call in ms, at most the manifest's (and `runtime.max_time_ms`).
    pub time_ms: Option<u64>,
    /// The plugin's own configuration.
    pub config: toml::Table,
    /// Secrets by name: `env:VARIABLE` or `file:/path`.
    pub secrets: BTreeMap<String, String>,
}

impl PluginSettings {
    /// Turns the settings into the runtime's grant, resolving secret references.
    pub fn grant(&self, id: &str) -> anyhow::Result<portico_runtime::Grant> {
        let secrets = self
            .secrets
            .iter()
            .map(|(name, reference)| {
                resolve_secret(reference)
                    .with_context(|| format!("plugins.{id}.secrets.{name}"))
                    .map(|value| (name.clone(), value))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(portico_runtime::Grant {
            config: serde_json::to_value(&self.config)?,
            secrets,
            allowed_outbound_hosts: self.allowed_outbound_hosts.clone(),
            allow_private_addresses: self.allow_private_addresses,
            kv_quota_bytes: self.kv_quota_bytes,
            memory_mb: self.memory_mb,
            time_ms: self.time_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn policy_keys_and_plugin_tables_share_the_plugins_table() {
        let key = portico_runtime::SecretKey::generate("acme")
            .unwrap()
            .public_key();
        let c = Config::parse(&format!(
            "[plugins]\nrequire_signatures = true\ntrusted_publishers = [{{ name = \"acme\", key = \"{key}\" }}]\n\
             [plugins.my-connector]\nmemory_mb = 64\n"
        ))
        .unwrap();
        let policy = c.plugins.trust_policy().unwrap();
        assert!(policy.require_signatures);
        assert_eq!(policy.trusted[0].key, key);
        assert_eq!(c.plugins.grants["my-connector"].memory_mb, Some(64));
    }

    #[test]
    fn bad_keys_and_unknown_plugin_settings_are_named() {
        let c = Config::parse(
            "[plugins]\ntrusted_publishers = [{ name = \"acme\", key = \"ed25519:nope\" }]",
        )
        .unwrap();
        let err = format!("{:#}", c.plugins.trust_policy().unwrap_err());
        assert!(
            err.contains("acme") && err.contains("ed25519:nope"),
            "{err}"
        );
        let err = Config::parse("[plugins.x]\nmemory = 3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("plugins.x") && err.contains("memory"), "{err}");
    }

    #[test]
    fn inline_secrets_are_refused_without_echoing_them() {
        let s = PluginSettings {
            secrets: [("token".to_owned(), "hunter2".to_owned())].into(),
            ..Default::default()
        };
        let err = format!("{:#}", s.grant("p").unwrap_err());
        assert!(
            err.contains("plugins.p.secrets.token") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
