//! `[catalog]`: where the catalogue may read descriptors from (URL hosts and
//! local directories), what happens to entities a source stops reporting, how
//! often registered locations are read again, and whether breaking changes
//! without a major version bump are published.

use std::path::PathBuf;

use anyhow::Context as _;
use portico_catalog::{BreakingChanges, OrphanPolicy};
use portico_runtime::{AllowedHost, OutboundPolicy};
use serde::Deserialize;

/// The catalogue's reading rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    /// Hosts whose URLs imports, placeholders and registered locations may
    /// read: `scheme://host[:port]`, `*.` wildcards and `:*` for any port, as
    /// for plugins. Empty: no URL is read at all.
    pub allowed_hosts: Vec<String>,
    /// Whether those hosts may resolve to private, loopback or link-local
    /// addresses.
    pub allow_private_addresses: bool,
    /// Directories that file locations registered over HTTP (and whatever
    /// their placeholders read) must lie in; empty: no file location may be
    /// registered. The CLI may always import what its user names.
    pub roots: Vec<PathBuf>,
    /// What happens to an entity its source stops reporting, or whose
    /// location is deleted: `keep` (flagged as an orphan) or `delete`.
    pub orphans: OrphanPolicy,
    /// Seconds between re-reads of the file and URL locations the server may
    /// read; 0: never.
    pub refresh_interval_secs: u64,
    /// What publishing a version whose changes break clients, without a
    /// major version bump, does: `warn` (publish it; its changelog entry says
    /// so) or `refuse` (the import reports it and keeps the previous version).
    pub breaking_changes: BreakingChanges,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogSettings {
            allowed_hosts: Vec::new(),
            allow_private_addresses: false,
            roots: Vec::new(),
            orphans: OrphanPolicy::Keep,
            refresh_interval_secs: 300,
            breaking_changes: BreakingChanges::Warn,
        }
    }
}

impl CatalogSettings {
    /// The outbound policy of URL reads; a bad host pattern names its key.
    pub fn outbound_policy(&self) -> anyhow::Result<OutboundPolicy> {
        let allowed = self
            .allowed_hosts
            .iter()
            .map(|h| AllowedHost::parse(h).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()
            .context("catalog.allowed_hosts")?;
        Ok(OutboundPolicy {
            allowed,
            allow_private_addresses: self.allow_private_addresses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn defaults_read_no_url_and_register_no_file() {
        let c = Config::parse("").unwrap().catalog;
        assert!(c.allowed_hosts.is_empty() && c.roots.is_empty());
        assert!(c.outbound_policy().unwrap().allowed.is_empty());
        assert_eq!(c.orphans, OrphanPolicy::Keep);
        assert_eq!(c.refresh_interval_secs, 300);
        assert_eq!(c.breaking_changes, BreakingChanges::Warn);
    }

    #[test]
    fn breaking_changes_may_be_refused_and_other_words_are_named() {
        let c = Config::parse("[catalog]\nbreaking_changes = \"refuse\"")
            .unwrap()
            .catalog;
        assert_eq!(c.breaking_changes, BreakingChanges::Refuse);
        let err = Config::parse("[catalog]\nbreaking_changes = \"block\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("block"), "{err}");
    }

    #[test]
    fn the_sample_configuration_parses_with_its_catalog_section() {
        let text = include_str!("../../../../examples/portico.toml");
        let c = Config::parse(text).unwrap().catalog;
        assert_eq!(c.outbound_policy().unwrap().allowed.len(), 1);
        assert_eq!(c.roots, [PathBuf::from("./catalog")]);
    }

    #[test]
    fn bad_host_patterns_and_orphan_policies_are_named() {
        let c = Config::parse("[catalog]\norphans = \"delete\"\nallowed_hosts = [\"example.com\"]")
            .unwrap()
            .catalog;
        assert_eq!(c.orphans, OrphanPolicy::Delete);
        let err = format!("{:#}", c.outbound_policy().unwrap_err());
        assert!(
            err.starts_with("catalog.allowed_hosts: `example.com`"),
            "{err}"
        );
        let err = Config::parse("[catalog]\norphans = \"drop\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("drop"), "{err}");
        let err = Config::parse("[catalog]\nroot = []")
            .unwrap_err()
            .to_string();
        assert!(err.contains("root"), "{err}");
    }
}
