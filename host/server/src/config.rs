//! The server's configuration: `portico.toml`, then `PORTICO_*` variables, then flags.
//!
//! Every field has a default that works, so `portico serve` runs with no file
//! at all; an unknown key is an error that names it, so a typo never passes
//! silently. Secrets are referenced (`env:VAR`, `file:/path`), never inlined
//! in logs.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use crate::branding::Branding;

mod auth;
mod catalog;
mod gateways;
mod mcp;
mod plugins;
mod usage;
mod webhooks;

pub use auth::{AuthSettings, OidcSettings, RoleSettings, ScimSettings, SecureCookies};
pub use catalog::CatalogSettings;
pub(crate) use gateways::check as check_gateways;
pub use gateways::{Every, GatewaySettings, HumaneDuration, KeyProvisioning};
pub use mcp::McpSettings;
pub use plugins::{PluginSettings, PluginsConfig, PublisherConfig};
pub use usage::UsageSettings;
pub use webhooks::WebhookSettings;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Directory for the database and the compiled-plugin cache.
    pub data_dir: PathBuf,
    /// Directory scanned for `.wasm` plugins; default: `<data_dir>/plugins`.
    pub plugins_dir: Option<PathBuf>,
    /// Seed demo content at start (and open sign-up, `[auth] signup`).
    pub demo: bool,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// The portal's look.
    pub branding: Branding,
    /// Limits that apply to every plugin.
    pub runtime: RuntimeSettings,
    /// The trust policy for plugin packages, and per-plugin grants by id.
    pub plugins: PluginsConfig,
    /// Where the catalogue may read from, and what happens to what disappears.
    pub catalog: CatalogSettings,
    /// The token that unlocks write routes (`Authorization: Bearer ...`), as a
    /// secret reference (`env:VAR` or `file:/path`); none: write routes are
    /// refused. It acts as the system actor with the `admin` role.
    pub admin_token: Option<String>,
    /// Sign-in, sessions, anonymous access and custom roles.
    pub auth: AuthSettings,
    /// Gateway instances whose APIs the catalogue syncs (`[[gateways]]`).
    pub gateways: Vec<GatewaySettings>,
    /// The try-it console's timeout and response cap.
    pub tryit: crate::tryit::TrySettings,
    /// The MCP endpoint (`/mcp`) and the hosts and origins it answers.
    pub mcp: McpSettings,
    /// What the audit log records besides changes and sign-ins.
    pub audit: AuditSettings,
    /// How apps' webhooks are delivered: destinations, retries, links.
    pub webhooks: WebhookSettings,
    /// How long usage is kept, and how often gateways are asked for theirs.
    pub usage: UsageSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("portico-data"),
            plugins_dir: None,
            demo: false,
            log_format: LogFormat::Text,
            branding: Branding::default(),
            runtime: RuntimeSettings::default(),
            plugins: PluginsConfig::default(),
            catalog: CatalogSettings::default(),
            admin_token: None,
            auth: AuthSettings::default(),
            gateways: Vec::new(),
            tryit: crate::tryit::TrySettings::default(),
            mcp: McpSettings::default(),
            audit: AuditSettings::default(),
            webhooks: WebhookSettings::default(),
            usage: UsageSettings::default(),
        }
    }
}

/// `[audit]`: the entry of every request (`http.request`) and how long it is
/// kept. Changes and sign-ins are always recorded and never deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Record every request with its actor kind (person, API key, agent).
    pub record_requests: bool,
    /// Days a request's entry is kept; 0 keeps them for ever.
    pub request_retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            record_requests: true,
            request_retention_days: 30,
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Limits that cap every plugin, whatever its manifest asks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Plugin calls that may run at once; more wait in a queue.
    pub max_concurrent_calls: u32,
    /// Plugin calls that may wait for a slot; more are refused at once.
    pub max_queued_calls: u32,
    /// The most memory any plugin may use, in MiB.
    pub max_memory_mb: u64,
    /// The longest any plugin call may take, in milliseconds.
    pub max_time_ms: u64,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            max_concurrent_calls: 64,
            max_queued_calls: 1024,
            max_memory_mb: 512,
            max_time_ms: 60_000,
        }
    }
}

/// Reads a secret reference; the value itself never appears in errors.
pub(crate) fn resolve_secret(reference: &str) -> anyhow::Result<String> {
    if let Some(var) = reference.strip_prefix("env:") {
        std::env::var(var).with_context(|| format!("environment variable {var} is not set"))
    } else if let Some(path) = reference.strip_prefix("file:") {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
        Ok(text.trim_end().to_owned())
    } else {
        anyhow::bail!("a secret must be `env:VARIABLE` or `file:/path`, not an inline value")
    }
}

/// Values from the environment and the command line, which win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `PORTICO_LISTEN`.
    pub listen: Option<String>,
    /// `--data-dir` / `PORTICO_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--plugins-dir` / `PORTICO_PLUGINS_DIR`.
    pub plugins_dir: Option<PathBuf>,
    /// `--demo`.
    pub demo: bool,
}

impl Config {
    /// Reads `file` (or `./portico.toml` when it exists), then applies the overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let default_file = Path::new("portico.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        let mut config = match file {
            Some(path) => Config::parse(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            )
            .with_context(|| format!("{}", path.display()))?,
            None => Config::default(),
        };
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(dir) = overrides.data_dir {
            config.data_dir = dir;
        }
        if let Some(dir) = overrides.plugins_dir {
            config.plugins_dir = Some(dir);
        }
        config.demo |= overrides.demo;
        // A newcomer to the demo creates an account and tries an API at once.
        if config.demo {
            config.auth.signup = true;
        }
        config.catalog.outbound_policy()?;
        config.auth.check()?;
        Ok(config)
    }

    /// Parses a configuration file's text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        gateways::check(&config.gateways)?;
        config.mcp.check()?;
        config.webhooks.check()?;
        config.usage.check()?;
        Ok(config)
    }

    /// The directory scanned for plugins.
    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugins"))
    }

    /// The database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("portico.db")
    }

    /// Where compiled plugins are cached.
    pub fn cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_working_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.plugins_dir(), PathBuf::from("portico-data/plugins"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("lisen = \"x\"").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
        let err = Config::parse("[plugins.x]\nmemory = 3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory"), "{err}");
    }

    #[test]
    fn overrides_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("portico.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:1\"\ndata_dir = \"/srv\"").unwrap();
        let c = Config::load(
            Some(&file),
            Overrides {
                listen: Some("127.0.0.1:0".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
        assert_eq!(c.data_dir, PathBuf::from("/srv"));
    }
}
