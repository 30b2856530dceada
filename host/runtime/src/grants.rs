//! What a plugin actually gets: for every capability and limit, the
//! manifest's request AND the operator's `[plugins.<id>]` policy, capped by
//! the runtime's maxima. An operator can only narrow a request, never widen
//! it; both sides are kept so the admin sees the gap.

use serde::Serialize;

use crate::engine::RuntimeConfig;
use crate::manifest::{Limits, Manifest};
use crate::outbound::AllowedHost;
use crate::plugin::Grant;

/// Requested and granted capabilities and limits of one plugin.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Grants {
    /// Outbound HTTP destinations.
    pub outbound_hosts: HostGrant,
    /// Whether private, loopback and link-local addresses may be reached (the operator's call alone).
    pub allow_private_addresses: bool,
    /// Bytes of key-value storage.
    pub kv_quota_bytes: AmountGrant,
    /// Secret names.
    pub secrets: SecretGrant,
    /// Linear memory per call, in MiB.
    pub memory_mb: AmountGrant,
    /// Time per call, in milliseconds.
    pub time_ms: AmountGrant,
}

/// Outbound destinations: each granted one lies within both lists.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HostGrant {
    /// What the manifest asks for.
    pub requested: Vec<String>,
    /// The operator's list, if it set one.
    pub operator: Option<Vec<String>>,
    /// What the plugin may reach.
    pub granted: Vec<String>,
    /// Entries of either list that grant nothing, and why.
    pub not_granted: Vec<String>,
}

/// A quantity: the smallest of the request, the operator's value and the runtime's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AmountGrant {
    /// What the manifest asks for.
    pub requested: u64,
    /// The operator's value, if it set one.
    pub operator: Option<u64>,
    /// The runtime's maximum for every plugin, if there is one.
    pub max: Option<u64>,
    /// What the plugin gets.
    pub granted: u64,
}

impl AmountGrant {
    fn new(requested: u64, operator: Option<u64>, max: Option<u64>) -> AmountGrant {
        let granted = requested
            .min(operator.unwrap_or(u64::MAX))
            .min(max.unwrap_or(u64::MAX));
        AmountGrant {
            requested,
            operator,
            max,
            granted,
        }
    }
}

/// Secret names: a plugin reads only those it asks for and the operator configured.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SecretGrant {
    /// Names the manifest asks for.
    pub requested: Vec<String>,
    /// Names the operator configured (never the values).
    pub configured: Vec<String>,
    /// Names the plugin can read.
    pub granted: Vec<String>,
}

/// What [`decide`] settles for a plugin.
#[derive(Debug)]
pub(crate) struct Decision {
    pub(crate) report: Grants,
    pub(crate) hosts: Vec<AllowedHost>,
    pub(crate) limits: Limits,
}

/// Works out a plugin's grants; an unparseable host pattern or a zero limit is an error.
pub(crate) fn decide(
    manifest: &Manifest,
    grant: &Grant,
    cfg: &RuntimeConfig,
) -> Result<Decision, String> {
    for (name, value) in [("memory_mb", grant.memory_mb), ("time_ms", grant.time_ms)] {
        if value == Some(0) {
            return Err(format!("{name} must be above zero"));
        }
    }
    let requested = &manifest.capabilities.allowed_outbound_hosts;
    let (hosts, outbound_hosts) = grant_hosts(requested, grant.allowed_outbound_hosts.as_deref())?;
    let configured: Vec<String> = grant.secrets.keys().cloned().collect();
    let secrets = SecretGrant {
        granted: manifest
            .capabilities
            .secrets
            .iter()
            .filter(|name| configured.contains(name))
            .cloned()
            .collect(),
        requested: manifest.capabilities.secrets.clone(),
        configured,
    };
    let memory_mb = AmountGrant::new(
        manifest.limits.memory_mb,
        grant.memory_mb,
        Some(cfg.max_memory_mb),
    );
    let time_ms = AmountGrant::new(
        manifest.limits.time_ms,
        grant.time_ms,
        Some(cfg.max_time_ms),
    );
    let report = Grants {
        outbound_hosts,
        allow_private_addresses: grant.allow_private_addresses,
        kv_quota_bytes: AmountGrant::new(
            manifest.capabilities.kv_quota_bytes,
            grant.kv_quota_bytes,
            None,
        ),
        secrets,
        memory_mb,
        time_ms,
    };
    Ok(Decision {
        hosts,
        limits: Limits {
            memory_mb: memory_mb.granted,
            time_ms: time_ms.granted,
        },
        report,
    })
}

/// Outbound hosts: without an operator list, what the manifest asks for
/// except open-ended entries (host `*`, "whichever hosts the operator names");
/// with one, every operator entry narrowed to what the manifest allows.
fn grant_hosts(
    requested: &[String],
    operator: Option<&[String]>,
) -> Result<(Vec<AllowedHost>, HostGrant), String> {
    let parse = |list: &[String], whose: &str| {
        list.iter()
            .map(|h| {
                AllowedHost::parse(h).map_err(|e| format!("{whose} allowed_outbound_hosts: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let asked = parse(requested, "manifest")?;
    let mut granted: Vec<AllowedHost> = Vec::new();
    let mut not_granted = Vec::new();
    match operator {
        None => {
            for host in asked {
                if host.is_open_ended() {
                    not_granted.push(format!(
                        "{host}: open-ended; granted only through the operator's allowed_outbound_hosts"
                    ));
                } else if !granted.contains(&host) {
                    granted.push(host);
                }
            }
        }
        Some(list) => {
            for entry in parse(list, "operator")? {
                let within: Vec<_> = asked.iter().filter_map(|a| entry.intersect(a)).collect();
                if within.is_empty() {
                    not_granted.push(format!("{entry}: not within what the manifest asks for"));
                }
                for host in within {
                    if !granted.contains(&host) {
                        granted.push(host);
                    }
                }
            }
        }
    }
    let report = HostGrant {
        requested: requested.to_vec(),
        operator: operator.map(<[String]>::to_vec),
        granted: granted.iter().map(ToString::to_string).collect(),
        not_granted,
    };
    Ok((granted, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn hosts(requested: &[&str], operator: Option<&[&str]>) -> HostGrant {
        let operator = operator.map(strings);
        grant_hosts(&strings(requested), operator.as_deref())
            .unwrap()
            .1
    }

    #[test]
    fn without_an_operator_list_the_manifest_request_is_granted_but_not_open_ended_entries() {
        let g = hosts(&["https://api.example.com", "https://*:*"], None);
        assert_eq!(g.granted, ["https://api.example.com"]);
        assert!(
            g.not_granted[0].starts_with("https://*:*: open-ended"),
            "{g:?}"
        );
    }

    #[test]
    fn operator_list_only_narrows_the_request() {
        let g = hosts(
            &["http://127.0.0.1:*", "https://*.example.com"],
            Some(&[
                "http://127.0.0.1:8080",
                "https://api.example.com",
                "https://*.example.com:*",
                "http://localhost:*",
            ]),
        );
        assert_eq!(
            g.granted,
            [
                "http://127.0.0.1:8080",
                "https://api.example.com",
                "https://*.example.com"
            ]
        );
        assert_eq!(
            g.not_granted,
            ["http://localhost:*: not within what the manifest asks for"]
        );
    }

    #[test]
    fn an_open_ended_request_takes_the_operators_hosts() {
        let g = hosts(
            &["https://*:*", "http://*:*"],
            Some(&["https://specs.example.com", "http://127.0.0.1:9000"]),
        );
        assert_eq!(
            g.granted,
            ["https://specs.example.com", "http://127.0.0.1:9000"]
        );
        assert!(g.not_granted.is_empty());
        assert!(
            hosts(&[], Some(&["https://example.com"]))
                .granted
                .is_empty()
        );
    }

    fn manifest(extra: &str) -> Manifest {
        Manifest::parse(&format!(
            "id = \"p\"\nversion = \"1.0.0\"\nworld = \"billing\"\nwit = \"^0.1\"\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn amounts_are_the_smallest_of_request_operator_and_maximum() {
        let m = manifest(
            "[capabilities]\nkv_quota_bytes = 1000\nsecrets = [\"token\", \"other\"]\n\
             [limits]\nmemory_mb = 64\ntime_ms = 5000\n",
        );
        let grant = Grant {
            kv_quota_bytes: Some(100),
            memory_mb: Some(128),
            time_ms: Some(2000),
            secrets: [
                ("token".to_owned(), "v".to_owned()),
                ("extra".to_owned(), "v".to_owned()),
            ]
            .into(),
            ..Grant::default()
        };
        let cfg = RuntimeConfig {
            max_memory_mb: 32,
            ..RuntimeConfig::default()
        };
        let d = decide(&m, &grant, &cfg).unwrap();
        assert_eq!(d.report.kv_quota_bytes.granted, 100);
        assert_eq!(
            d.report.memory_mb,
            AmountGrant {
                requested: 64,
                operator: Some(128),
                max: Some(32),
                granted: 32
            }
        );
        assert_eq!(
            d.limits,
            Limits {
                memory_mb: 32,
                time_ms: 2000
            }
        );
        assert_eq!(d.report.secrets.granted, ["token"]);
        assert_eq!(d.report.secrets.configured, ["extra", "token"]);
    }

    #[test]
    fn zero_limits_and_bad_patterns_are_refused() {
        let m = manifest("");
        let cfg = RuntimeConfig::default();
        let zero = Grant {
            time_ms: Some(0),
            ..Grant::default()
        };
        assert!(decide(&m, &zero, &cfg).unwrap_err().contains("time_ms"));
        let bad = Grant {
            allowed_outbound_hosts: Some(vec!["example.com".into()]),
            ..Grant::default()
        };
        assert!(decide(&m, &bad, &cfg).unwrap_err().contains("operator"));
    }
}
