//! The plugin manifest: who a plugin is, which world it serves, what it asks for.
//!
//! A manifest travels inside the component as the custom section
//! `portico:manifest` (TOML), next to `portico:wit-version`, the WIT version
//! the plugin's SDK was built against. Both are read without instantiating.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasmparser::{Parser, Payload};

/// Name of the custom section holding the manifest.
pub const MANIFEST_SECTION: &str = "portico:manifest";
/// Name of the custom section holding the WIT version the plugin was built against.
pub const WIT_VERSION_SECTION: &str = "portico:wit-version";

/// Why a plugin file was refused before anything ran.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The bytes are not a WebAssembly component.
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// No `portico:manifest` section.
    #[error(
        "no manifest: the component has no `portico:manifest` section (build it with portico-plugin-sdk's export macro, or add one with `portico plugin pack`)"
    )]
    Missing,
    /// The manifest is not valid TOML or lacks a field.
    #[error("invalid manifest: {0}")]
    Invalid(String),
    /// The plugin serves a world this host does not know.
    #[error(
        "unknown world `{0}`; this host serves: gateway-connector, docs-renderer, analytics-widget, billing, sandbox"
    )]
    UnknownWorld(String),
    /// The plugin targets a WIT version this host cannot serve.
    #[error(
        "built against portico:plugin@{built}, but this host serves portico:plugin@{host} (compatible: {host_req})"
    )]
    IncompatibleWit {
        /// The version the plugin was built against.
        built: semver::Version,
        /// The version this host implements.
        host: semver::Version,
        /// The requirement on plugin versions this host accepts.
        host_req: String,
    },
}

/// The extension points a plugin can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// A gateway connector.
    GatewayConnector,
    /// A docs renderer.
    DocsRenderer,
    /// An analytics widget.
    AnalyticsWidget,
    /// A billing module.
    Billing,
    /// A sandbox.
    Sandbox,
}

impl World {
    /// Every world, in documentation order.
    pub const ALL: [World; 5] = [
        World::GatewayConnector,
        World::DocsRenderer,
        World::AnalyticsWidget,
        World::Billing,
        World::Sandbox,
    ];

    /// The world's name in WIT.
    pub fn name(self) -> &'static str {
        match self {
            World::GatewayConnector => "gateway-connector",
            World::DocsRenderer => "docs-renderer",
            World::AnalyticsWidget => "analytics-widget",
            World::Billing => "billing",
            World::Sandbox => "sandbox",
        }
    }

    /// The interface a plugin of this world must export.
    pub fn export_interface(self) -> &'static str {
        match self {
            World::GatewayConnector => "connector",
            World::DocsRenderer => "renderer",
            World::AnalyticsWidget => "widget",
            World::Billing => "rating",
            World::Sandbox => "sandbox-handler",
        }
    }

    /// Parses a world name as written in a manifest.
    pub fn parse(name: &str) -> Result<World, ManifestError> {
        World::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| ManifestError::UnknownWorld(name.to_owned()))
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the host may carry on when the plugin fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    /// The page or job proceeds without the plugin (a widget).
    #[default]
    Open,
    /// The operation fails rather than go on without the plugin (billing).
    Closed,
}

/// What a plugin asks the operator for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    /// Outbound HTTP destinations as `scheme://host[:port|:*]`, `*.` wildcards allowed.
    pub allowed_outbound_hosts: Vec<String>,
    /// Bytes of key-value storage.
    pub kv_quota_bytes: u64,
    /// Names of the secrets it reads.
    pub secrets: Vec<String>,
}

/// Resource limits per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory, in MiB.
    pub memory_mb: u64,
    /// Wall-clock time per call, in milliseconds.
    pub time_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 64,
            time_ms: 5_000,
        }
    }
}

/// A plugin's manifest (`plugin.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Unique id: lower-case letters, digits and dashes.
    pub id: String,
    /// The plugin's own version.
    pub version: semver::Version,
    /// The world it serves.
    pub world: String,
    /// The `portico:plugin` versions it works with.
    pub wit: semver::VersionReq,
    /// One line about what it does.
    #[serde(default)]
    pub description: String,
    /// Who made it.
    #[serde(default)]
    pub author: String,
    /// SPDX licence expression.
    #[serde(default)]
    pub license: String,
    /// Fail open or closed.
    #[serde(default)]
    pub failure: FailureMode,
    /// What it asks for.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Its limits per call.
    #[serde(default)]
    pub limits: Limits,
    /// JSON Schema of its configuration.
    #[serde(default)]
    pub config_schema: Option<toml::Table>,
}

impl Manifest {
    /// Parses and checks a manifest written in TOML.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Invalid(e.message().to_owned()))?;
        let id_ok = !manifest.id.is_empty()
            && manifest.id.len() <= 64
            && manifest
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(ManifestError::Invalid(format!(
                "id `{}` must be 1 to 64 lower-case letters, digits or dashes",
                manifest.id
            )));
        }
        World::parse(&manifest.world)?;
        if manifest.limits.memory_mb == 0 || manifest.limits.time_ms == 0 {
            return Err(ManifestError::Invalid("limits must be above zero".into()));
        }
        Ok(manifest)
    }

    /// The world, already checked by [`Manifest::parse`].
    pub fn world(&self) -> World {
        World::parse(&self.world).expect("checked at parse")
    }
}

/// The Portico-specific custom sections of a component.
#[derive(Debug, Default)]
pub struct Sections {
    /// `portico:manifest`, as text.
    pub manifest: Option<String>,
    /// `portico:wit-version`, as text.
    pub wit_version: Option<String>,
    /// Other custom sections' names, for `plugin inspect`.
    pub others: Vec<String>,
}

/// Reads the custom sections of a component, including those of nested core modules.
pub fn read_sections(bytes: &[u8]) -> Result<Sections, ManifestError> {
    if !wasmparser::Parser::is_component(bytes) {
        let what = if Parser::is_core_wasm(bytes) {
            "a core WebAssembly module, not a component (build for wasm32-wasip2)".to_owned()
        } else {
            "the file does not start with the WebAssembly magic number".to_owned()
        };
        return Err(ManifestError::NotAComponent(what));
    }
    let mut sections = Sections::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| ManifestError::NotAComponent(e.to_string()))?;
        if let Payload::CustomSection(section) = payload {
            let text = || String::from_utf8_lossy(section.data()).trim().to_owned();
            match section.name() {
                MANIFEST_SECTION => sections.manifest = Some(text()),
                WIT_VERSION_SECTION => sections.wit_version = Some(text()),
                other => sections.others.push(other.to_owned()),
            }
        }
    }
    // A packed manifest (top level) wins over one an SDK put in a nested module.
    for section in crate::package::top_level_sections(bytes)? {
        let text = || String::from_utf8_lossy(section.data).trim().to_owned();
        match section.name {
            Some(MANIFEST_SECTION) => sections.manifest = Some(text()),
            Some(WIT_VERSION_SECTION) => sections.wit_version = Some(text()),
            _ => {}
        }
    }
    Ok(sections)
}

/// Checks that a plugin built against `built` (and asking for `wanted`) can run on this host.
///
/// Additive WIT changes bump the minor version (the patch version while at
/// 0.x, where semver treats the minor as breaking), so a host serves plugins
/// built against its own track at the same or an older release.
pub fn check_wit_version(
    built: &str,
    wanted: &semver::VersionReq,
) -> Result<semver::Version, ManifestError> {
    let host = crate::WIT_VERSION.clone();
    let built = semver::Version::parse(built)
        .map_err(|e| ManifestError::Invalid(format!("portico:wit-version `{built}`: {e}")))?;
    let same_track = built.major == host.major && (built.major != 0 || built.minor == host.minor);
    if !same_track || built > host || !wanted.matches(&host) {
        let host_req = if host.major == 0 {
            format!("0.{}.0 to {host}", host.minor)
        } else {
            format!("{}.0.0 to {host}", host.major)
        };
        return Err(ManifestError::IncompatibleWit {
            built,
            host,
            host_req,
        });
    }
    Ok(built)
}

/// Config keys an operator may set for a plugin instance, from the manifest's schema.
pub fn schema_properties(manifest: &Manifest) -> BTreeMap<String, String> {
    let Some(schema) = &manifest.config_schema else {
        return BTreeMap::new();
    };
    let Some(toml::Value::Table(props)) = schema.get("properties") else {
        return BTreeMap::new();
    };
    props
        .iter()
        .map(|(k, v)| {
            let ty = v.get("type").and_then(|t| t.as_str()).unwrap_or("any");
            (k.clone(), ty.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        id = "hello"
        version = "0.1.0"
        world = "gateway-connector"
        wit = "^0.1"
    "#;

    #[test]
    fn minimal_manifest_parses_with_defaults() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.world(), World::GatewayConnector);
        assert_eq!(m.limits, Limits::default());
        assert_eq!(m.failure, FailureMode::Open);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Manifest::parse(&format!("{GOOD}\ncolour = 1")).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn unknown_world_is_named() {
        let err = Manifest::parse(&GOOD.replace("gateway-connector", "toaster")).unwrap_err();
        assert!(err.to_string().contains("toaster"), "{err}");
    }

    #[test]
    fn bad_id_is_refused() {
        assert!(Manifest::parse(&GOOD.replace("\"hello\"", "\"Hello World\"")).is_err());
    }

    #[test]
    fn wit_versions() {
        let req = semver::VersionReq::parse("^0.1").unwrap();
        assert!(check_wit_version("0.1.0", &req).is_ok());
        let err = check_wit_version("2.0.0", &semver::VersionReq::parse("^2.0").unwrap());
        assert!(err.unwrap_err().to_string().contains("2.0.0"));
        assert!(check_wit_version("0.2.0", &req).is_err());
    }
}
