//! `[mcp]`: the Model Context Protocol endpoint at `/mcp`, and the `Host` and
//! `Origin` values it answers. Checking both keeps a web page from reaching a
//! portal on a private address through DNS rebinding or a cross-origin call.

use anyhow::bail;
use serde::Deserialize;

/// The MCP endpoint's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Whether `/mcp` is served.
    pub enabled: bool,
    /// `Host` values a request may carry: a name or address (any port), or
    /// `host:port`; `*` accepts any host. Empty (the default): the host of
    /// `listen`, `localhost`, `127.0.0.1` and `::1`. Set it to the portal's
    /// public name when it is served under one.
    pub allowed_hosts: Vec<String>,
    /// Browser origins that may call, as `scheme://host[:port]` (`:*` for any
    /// port). Empty (the default): pages served from an allowed host, over
    /// http or https. A request without `Origin` (an agent outside a browser)
    /// always passes; one with another origin is refused.
    pub allowed_origins: Vec<String>,
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            enabled: true,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
        }
    }
}

impl McpSettings {
    /// Refuses entries that cannot match anything, naming them.
    pub fn check(&self) -> anyhow::Result<()> {
        for host in &self.allowed_hosts {
            if host.trim().is_empty() || host.contains(['/', ' ']) {
                bail!("mcp.allowed_hosts: `{host}` is not a host or host:port");
            }
        }
        for origin in &self.allowed_origins {
            let valid = origin
                .split_once("://")
                .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty())
                && !origin.contains(' ')
                && !origin.trim_end_matches('/').contains(['?', '#']);
            if !valid && origin != "null" {
                bail!(
                    "mcp.allowed_origins: `{origin}` is not an origin like https://portal.example.com"
                );
            }
        }
        Ok(())
    }

    /// The `Host` values accepted, for a server listening on `listen`; empty
    /// means any.
    pub fn hosts(&self, listen: &str) -> Vec<String> {
        if self.allowed_hosts.iter().any(|h| h == "*") {
            return Vec::new();
        }
        if !self.allowed_hosts.is_empty() {
            return self.allowed_hosts.clone();
        }
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec();
        let listen_host = listen
            .rsplit_once(':')
            .map_or(listen, |(host, _)| host)
            .trim_matches(['[', ']']);
        if !listen_host.is_empty() && !hosts.iter().any(|h| h == listen_host) {
            hosts.push(listen_host.to_owned());
        }
        hosts
    }

    /// The browser origins accepted.
    pub fn origins(&self, listen: &str) -> Vec<String> {
        if !self.allowed_origins.is_empty() {
            return self.allowed_origins.clone();
        }
        let mut origins = Vec::new();
        for host in self.hosts(listen) {
            // A host pinned to a port keeps its port; otherwise any port.
            let authority = match host.parse::<std::net::Ipv6Addr>() {
                Ok(v6) => format!("[{v6}]:*"),
                Err(_) if host.contains(':') => host,
                Err(_) => format!("{host}:*"),
            };
            for scheme in ["http", "https"] {
                origins.push(format!("{scheme}://{authority}"));
            }
        }
        origins
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn defaults_serve_mcp_to_local_hosts_and_their_pages() {
        let mcp = Config::parse("").unwrap().mcp;
        assert!(mcp.enabled);
        assert_eq!(
            mcp.hosts("0.0.0.0:8080"),
            ["localhost", "127.0.0.1", "::1", "0.0.0.0"]
        );
        assert_eq!(mcp.hosts("[::1]:8080"), ["localhost", "127.0.0.1", "::1"]);
        let origins = mcp.origins("127.0.0.1:8080");
        assert!(origins.contains(&"http://localhost:*".to_owned()));
        assert!(origins.contains(&"https://[::1]:*".to_owned()));
    }

    #[test]
    fn configured_hosts_and_origins_replace_the_defaults() {
        let mcp =
            Config::parse("[mcp]\nallowed_hosts = [\"portal.example.com\", \"10.0.0.5:8080\"]\n")
                .unwrap()
                .mcp;
        assert_eq!(
            mcp.hosts("0.0.0.0:80"),
            ["portal.example.com", "10.0.0.5:8080"]
        );
        assert!(
            mcp.origins("0.0.0.0:80")
                .contains(&"https://10.0.0.5:8080".to_owned())
        );
        let any = Config::parse(
            "[mcp]\nallowed_hosts = [\"*\"]\nallowed_origins = [\"https://a.example\"]\n",
        )
        .unwrap()
        .mcp;
        assert!(any.hosts("127.0.0.1:1").is_empty());
        assert_eq!(any.origins("127.0.0.1:1"), ["https://a.example"]);
    }

    #[test]
    fn the_sample_configuration_parses_with_its_mcp_section() {
        let text = include_str!("../../../../examples/portico.toml");
        let mcp = Config::parse(text).unwrap().mcp;
        assert!(mcp.enabled);
        assert_eq!(mcp.origins("0.0.0.0:8080"), ["https://portal.example.com"]);
    }

    #[test]
    fn bad_entries_and_unknown_keys_are_named() {
        let err = Config::parse("[mcp]\nallowed_origins = [\"portal.example.com\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mcp.allowed_origins") && err.contains("portal.example.com"),
            "{err}"
        );
        let err = Config::parse("[mcp]\nallowed_hosts = [\"http://x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mcp.allowed_hosts"), "{err}");
        let err = Config::parse("[mcp]\nenable = false\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("enable"), "{err}");
    }
}
