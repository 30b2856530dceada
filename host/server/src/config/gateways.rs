//! `[[gateways]]` in `portico.toml`: the gateway instances whose APIs the
//! catalogue syncs, each run by a gateway-connector plugin with its own
//! configuration, secrets and outbound hosts.
//!
//! Durations are humane (`"90s"`, `"5m"`, `"1h30m"`), so nobody has to guess
//! a unit; every value is checked at load, naming the gateway and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context as _;
use portico_runtime::{AllowedHost, Grant};
use serde::{Deserialize, Deserializer};

use super::{PluginSettings, resolve_secret};

/// The longest a sync may be allowed to take.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// One `[[gateways]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// The gateway's name: `[a-z0-9-]`, 1 to 63 characters, unique. The
    /// catalogue's source for its APIs is `gateway:<name>`.
    pub name: String,
    /// The id of the gateway-connector plugin that talks to it.
    pub connector: String,
    /// How often it is synced (`"5m"`, `"1h"`); `"off"`: only on demand.
    #[serde(default = "default_interval")]
    pub sync_interval: Every,
    /// The longest one sync may take, every page and call included (`"60s"`);
    /// each plugin call is also held to it.
    #[serde(default = "default_timeout")]
    pub timeout: HumaneDuration,
    /// The owner of the APIs found there (an entity ref such as
    /// `group:platform`), unless the connector reports an `owner` label.
    #[serde(default = "default_owner")]
    pub owner: String,
    /// The only destinations the connector may reach for this gateway
    /// (`scheme://host[:port]`); default: the origins of the URLs in `config`.
    pub allowed_outbound_hosts: Option<Vec<String>>,
    /// Whether those may be loopback, private or link-local addresses (a
    /// Caddy admin API on localhost is).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// Which portal keys are provisioned to this gateway when an app's
    /// subscription covers one of its APIs: `"production"` (the default),
    /// `"sandbox"` (a gateway in front of sandbox servers) or `"none"`.
    #[serde(default)]
    pub keys: KeyProvisioning,
    /// The connector's configuration for this gateway.
    #[serde(default)]
    pub config: toml::Table,
    /// Secrets by name (`env:VARIABLE` or `file:/path`), given to this
    /// gateway's calls only.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The bearer token its log plugin sends to push usage to
    /// `/api/v1/gateways/<name>/usage` (`env:VARIABLE` or `file:/path`);
    /// none: pushed usage is refused.
    pub usage_token: Option<String>,
}

/// Which keys a gateway receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyProvisioning {
    /// Production keys.
    #[default]
    Production,
    /// Sandbox keys.
    Sandbox,
    /// None: keys are checked through the verify endpoint only.
    None,
}

fn default_interval() -> Every {
    Every::Interval(HumaneDuration(Duration::from_secs(300)))
}

fn default_timeout() -> HumaneDuration {
    HumaneDuration(Duration::from_secs(60))
}

fn default_owner() -> String {
    "unknown".into()
}

/// A duration written for people: `500ms`, `90s`, `5m`, `1h30m`, `1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumaneDuration(pub Duration);

impl HumaneDuration {
    /// Parses numbers each followed by a unit (`ms`, `s`, `m`, `h`, `d`).
    pub fn parse(text: &str) -> Result<HumaneDuration, String> {
        let bad = || {
            format!(
                "`{text}` is not a duration: write a number and a unit, e.g. \"90s\", \"5m\", \"1h30m\""
            )
        };
        let mut total = Duration::ZERO;
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let millis = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            let part = number.checked_mul(millis).ok_or_else(bad)?;
            total = total
                .checked_add(Duration::from_millis(part))
                .ok_or_else(bad)?;
        }
        Ok(HumaneDuration(total))
    }
}

impl std::fmt::Display for HumaneDuration {
    /// Whole units, largest first (`5m`, `1h30m`); milliseconds when not whole seconds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let millis = self.0.as_millis();
        if !millis.is_multiple_of(1_000) {
            return write!(f, "{millis}ms");
        }
        let mut secs = millis / 1_000;
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for HumaneDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HumaneDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How often a gateway is synced: at an interval, or only on demand (`"off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Synced at start and then at this interval.
    Interval(HumaneDuration),
    /// Synced only through the API, the admin page or the CLI.
    Off,
}

impl std::fmt::Display for Every {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Every::Interval(d) => d.fmt(f),
            Every::Off => f.write_str("off"),
        }
    }
}

impl<'de> Deserialize<'de> for Every {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim() == "off" {
            return Ok(Every::Off);
        }
        HumaneDuration::parse(&text)
            .map(Every::Interval)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or \"off\"")))
    }
}

/// Checks what parsing cannot: names, bounds, host patterns, secret references.
pub(crate) fn check(gateways: &[GatewaySettings]) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for (i, g) in gateways.iter().enumerate() {
        let at = format!("gateways[{i}]");
        if !is_valid_name(&g.name) {
            anyhow::bail!(
                "{at}.name: `{}` must be 1 to 63 characters of a-z, 0-9 and -",
                g.name
            );
        }
        let at = format!("gateways.{}", g.name);
        if !seen.insert(g.name.as_str()) {
            anyhow::bail!("{at}: two gateways are called `{}`", g.name);
        }
        if g.connector.trim().is_empty() {
            anyhow::bail!("{at}.connector: name the gateway-connector plugin's id");
        }
        if let Every::Interval(d) = g.sync_interval
            && d.0 < Duration::from_secs(1)
        {
            anyhow::bail!("{at}.sync_interval: at least \"1s\", or \"off\"");
        }
        if g.timeout.0 < Duration::from_millis(100) || g.timeout.0 > MAX_TIMEOUT {
            anyhow::bail!("{at}.timeout: between \"100ms\" and \"1h\"");
        }
        if g.owner.trim().is_empty() {
            anyhow::bail!("{at}.owner: must not be empty");
        }
        let hosts = g.outbound_hosts();
        if hosts.is_empty() {
            anyhow::bail!(
                "{at}: the connector could reach no host: put the gateway's URL in [gateways.config] or list allowed_outbound_hosts"
            );
        }
        for host in &hosts {
            AllowedHost::parse(host)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{at}.allowed_outbound_hosts"))?;
        }
        for (name, reference) in &g.secrets {
            if !(reference.starts_with("env:") || reference.starts_with("file:")) {
                anyhow::bail!(
                    "{at}.secrets.{name}: a secret must be `env:VARIABLE` or `file:/path`, not an inline value"
                );
            }
        }
    }
    Ok(())
}

fn is_valid_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl GatewaySettings {
    /// The destinations its connector may reach: `allowed_outbound_hosts`, or
    /// the origin of every http(s) URL in its configuration.
    pub fn outbound_hosts(&self) -> Vec<String> {
        if let Some(hosts) = &self.allowed_outbound_hosts {
            return hosts.clone();
        }
        let mut origins = Vec::new();
        collect_origins(&toml::Value::Table(self.config.clone()), &mut origins);
        origins
    }

    /// The runtime's grant for this gateway's instance of its connector:
    /// its configuration, secrets (resolved now) and hosts; memory and
    /// key-value quota as `[plugins.<connector>]` sets them; each call held
    /// to the gateway's timeout.
    pub fn grant(&self, plugin: Option<&PluginSettings>) -> anyhow::Result<Grant> {
        let secrets = self
            .secrets
            .iter()
            .map(|(name, reference)| {
                resolve_secret(reference)
                    .with_context(|| format!("gateways.{}.secrets.{name}", self.name))
                    .map(|value| (name.clone(), value))
            })
            .collect::<anyhow::Result<_>>()?;
        let timeout_ms = u64::try_from(self.timeout.0.as_millis()).unwrap_or(u64::MAX);
        Ok(Grant {
            config: serde_json::to_value(&self.config)?,
            secrets,
            allowed_outbound_hosts: Some(self.outbound_hosts()),
            allow_private_addresses: self.allow_private_addresses,
            kv_quota_bytes: plugin.and_then(|p| p.kv_quota_bytes),
            memory_mb: plugin.and_then(|p| p.memory_mb),
            time_ms: Some(
                plugin
                    .and_then(|p| p.time_ms)
                    .map_or(timeout_ms, |t| t.min(timeout_ms)),
            ),
        })
    }
}

/// The `scheme://host:port` of every http(s) URL among the strings of `value`.
fn collect_origins(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(text) => {
            if let Ok(url) = url::Url::parse(text)
                && matches!(url.scheme(), "http" | "https")
                && let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default())
            {
                let origin = format!("{}://{host}:{port}", url.scheme());
                if !out.contains(&origin) {
                    out.push(origin);
                }
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|v| collect_origins(v, out)),
        toml::Value::Table(table) => table.values().for_each(|v| collect_origins(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn parse(text: &str) -> anyhow::Result<Vec<GatewaySettings>> {
        Ok(Config::parse(text)?.gateways)
    }

    const CADDY: &str = "[[gateways]]\nname = \"edge\"\nconnector = \"connector-caddy\"\n\
        sync_interval = \"5m\"\n[gateways.config]\nadmin_url = \"http://127.0.0.1:2019\"\n";

    #[test]
    fn a_gateway_reads_with_humane_durations_and_derived_hosts() {
        let g = &parse(CADDY).unwrap()[0];
        assert_eq!(
            g.sync_interval,
            Every::Interval(HumaneDuration(Duration::from_secs(300)))
        );
        assert_eq!(g.timeout.0, Duration::from_secs(60));
        assert_eq!(g.outbound_hosts(), ["http://127.0.0.1:2019"]);
        let grant = g.grant(None).unwrap();
        assert_eq!(grant.config["admin_url"], "http://127.0.0.1:2019");
        assert_eq!(grant.time_ms, Some(60_000));
    }

    #[test]
    fn durations_parse_and_print_the_same_way() {
        for (text, ms, shown) in [
            ("500ms", 500, "500ms"),
            ("90s", 90_000, "1m30s"),
            ("5m", 300_000, "5m"),
            ("1h30m", 5_400_000, "1h30m"),
            ("1d", 86_400_000, "1d"),
        ] {
            let d = HumaneDuration::parse(text).unwrap();
            assert_eq!(d.0, Duration::from_millis(ms), "{text}");
            assert_eq!(d.to_string(), shown);
            assert_eq!(HumaneDuration::parse(shown).unwrap(), d);
        }
        for bad in ["", "5", "m", "5 minutes", "1.5h", "-1s"] {
            assert!(HumaneDuration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_and_unknown_keys_name_the_gateway_and_key() {
        let err = parse(&CADDY.replace("\"5m\"", "\"5 minutes\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sync_interval") && err.contains("5 minutes"),
            "{err}"
        );
        let err = parse(&CADDY.replace("sync_interval", "interval"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("interval"), "{err}");
        let err = parse(&CADDY.replace("\"5m\"", "\"100ms\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("gateways.edge.sync_interval"), "{err}");
        let twice = format!("{CADDY}{CADDY}");
        let err = parse(&twice).unwrap_err().to_string();
        assert!(err.contains("two gateways are called `edge`"), "{err}");
        let err = parse(&CADDY.replace("\"edge\"", "\"Edge 1\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("gateways[0].name"), "{err}");
        let inline = format!("{CADDY}[gateways.secrets]\ntoken = \"hunter2\"\n");
        let err = parse(&inline).unwrap_err().to_string();
        assert!(
            err.contains("gateways.edge.secrets.token") && !err.contains("hunter2"),
            "{err}"
        );
        let no_url = CADDY.replace("http://127.0.0.1:2019", "localhost");
        let err = parse(&no_url).unwrap_err().to_string();
        assert!(err.contains("could reach no host"), "{err}");
    }

    #[test]
    fn off_syncs_only_on_demand_and_timeouts_cap_plugin_calls() {
        let text = CADDY.replace("\"5m\"", "\"off\"")
            + "[[gateways]]\nname = \"b\"\nconnector = \"c\"\ntimeout = \"2s\"\n\
               allowed_outbound_hosts = [\"https://admin.example.com\"]\n";
        let gateways = parse(&text).unwrap();
        assert_eq!(gateways[0].sync_interval, Every::Off);
        let plugin = PluginSettings {
            time_ms: Some(10_000),
            memory_mb: Some(32),
            ..PluginSettings::default()
        };
        let grant = gateways[1].grant(Some(&plugin)).unwrap();
        assert_eq!(grant.time_ms, Some(2_000));
        assert_eq!(grant.memory_mb, Some(32));
        assert_eq!(
            grant.allowed_outbound_hosts.unwrap(),
            ["https://admin.example.com"]
        );
    }
}
