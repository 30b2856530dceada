//! Outbound HTTP policy: a plugin reaches only the hosts it was granted.
//!
//! Every request is checked twice: its URL against the allowed destinations
//! (`scheme://host[:port]`, `*.` wildcards, `:*` for any port), then every
//! address the host name resolves to, so a public name pointing at a private,
//! loopback or link-local address is refused unless the operator allowed it.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: String,
    host: String,
    /// None: any port.
    port: Option<u16>,
}

impl AllowedHost {
    /// Parses `scheme://host[:port|:*]`; `host` may be `*` or start with `*.`.
    pub fn parse(text: &str) -> Result<AllowedHost, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{text}`: expected scheme://host[:port]"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{text}`: scheme must be http or https"));
        }
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.is_empty() {
            return Err(format!("`{text}`: give a host, not a path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, "*")) => (h, None),
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("`{text}`: bad port `{p}`"))?;
                (h, Some(port))
            }
            _ => (rest, Some(if scheme == "https" { 443 } else { 80 })),
        };
        Ok(AllowedHost {
            scheme: scheme.to_owned(),
            host: host.trim_matches(['[', ']']).to_ascii_lowercase(),
            port,
        })
    }

    /// The host pattern: a name, `*`, or `*.suffix` (lower case, no brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether this entry names no host at all (`*`): "whichever the operator grants".
    pub fn is_open_ended(&self) -> bool {
        self.host == "*"
    }

    /// The destinations both entries allow, if any, as one entry.
    pub fn intersect(&self, other: &AllowedHost) -> Option<AllowedHost> {
        if self.scheme != other.scheme {
            return None;
        }
        let port = match (self.port, other.port) {
            (Some(a), Some(b)) if a != b => return None,
            (Some(p), _) | (None, Some(p)) => Some(p),
            (None, None) => None,
        };
        let host = narrower_host(&self.host, &other.host)?;
        Some(AllowedHost {
            scheme: self.scheme.clone(),
            host: host.to_owned(),
            port,
        })
    }

    /// Whether a destination (lower-case host, port) is allowed by this entry.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host_ok = if self.host == "*" {
            true
        } else if let Some(suffix) = self.host.strip_prefix("*.") {
            host.ends_with(&format!(".{suffix}"))
        } else {
            self.host == host
        };
        self.scheme == scheme && host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// The narrower of two host patterns, if one lies within the other.
fn narrower_host<'h>(a: &'h str, b: &'h str) -> Option<&'h str> {
    let within = |name: &str, suffix: &str| name.ends_with(&format!(".{suffix}"));
    match (a, b) {
        ("*", other) | (other, "*") => Some(other),
        _ => match (a.strip_prefix("*."), b.strip_prefix("*.")) {
            (None, None) => (a == b).then_some(a),
            (Some(sa), None) => within(b, sa).then_some(b),
            (None, Some(sb)) => within(a, sb).then_some(a),
            (Some(sa), Some(sb)) if sa == sb || within(sa, sb) => Some(a),
            (Some(sa), Some(sb)) => within(sb, sa).then_some(b),
        },
    }
}

impl std::fmt::Display for AllowedHost {
    /// `scheme://host[:port|:*]`, the port left out when it is the scheme's default.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.scheme == "https" { 443 } else { 80 };
        match self.port {
            None => write!(f, "{}://{host}:*", self.scheme),
            Some(p) if p == default => write!(f, "{}://{host}", self.scheme),
            Some(p) => write!(f, "{}://{host}:{p}", self.scheme),
        }
    }
}

/// The outbound rules of one plugin instance.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Allowed destinations; empty: no outbound HTTP at all.
    pub allowed: Vec<AllowedHost>,
    /// Whether private, loopback and link-local addresses may be reached.
    pub allow_private_addresses: bool,
}

impl OutboundPolicy {
    /// Checks a URL's scheme, host and port; returns the host and port to resolve.
    pub fn check_url(&self, uri: &http::Uri) -> Result<(String, u16), String> {
        let scheme = uri.scheme_str().unwrap_or("https");
        let host = uri.host().ok_or_else(|| format!("`{uri}` has no host"))?;
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        if self.allowed.iter().any(|a| a.matches(scheme, &host, port)) {
            Ok((host, port))
        } else {
            Err(format!(
                "{scheme}://{host}:{port} is not in the plugin's allowed outbound hosts"
            ))
        }
    }

    /// Checks one resolved address.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        if self.allow_private_addresses || is_public_address(ip) {
            Ok(())
        } else {
            Err(format!(
                "{host} resolves to {ip}, a private, loopback or link-local address (set allow_private_addresses for this plugin to permit it)"
            ))
        }
    }
}

/// Whether an address is globally routable (not private, loopback,
/// link-local, ...): the rule every outbound check of the host applies.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xff00) == 0xff00) // multicast
        }
    }
}

/// Denials seen during one call, reported by the host after the call.
pub(crate) type DenialLog = Arc<Mutex<Vec<String>>>;

/// The wasi:http hooks of one call: policy checks, then the default client.
pub(crate) struct OutboundHooks {
    pub(crate) policy: Arc<OutboundPolicy>,
    pub(crate) denials: DenialLog,
    /// When the call's time limit runs out. The call's own timer stops it
    /// then; a request's timeouts run a little past it, so the caller sees
    /// the time limit rather than the plugin's reaction to a timed-out request.
    pub(crate) deadline: Instant,
}

/// How far past the call's deadline a request's own timeouts run.
const PAST_DEADLINE: Duration = Duration::from_millis(250);

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                )>,
            > + Send,
    > {
        drop(fut);
        let policy = self.policy.clone();
        let denials = self.denials.clone();
        let limit = self.deadline.saturating_duration_since(Instant::now()) + PAST_DEADLINE;
        Box::new(async move {
            let deny = |reason: String| {
                tracing::warn!(%reason, "plugin outbound request denied");
                denials
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(reason);
                wasmtime_wasi_http::Error::HttpRequestDenied
            };
            let (host, port) = policy.check_url(request.uri()).map_err(deny)?;
            let addrs = tokio::time::timeout(limit, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| wasmtime_wasi_http::Error::DnsTimeout)?
                .map_err(|_| wasmtime_wasi_http::Error::DestinationNotFound)?
                .collect::<Vec<_>>();
            for addr in &addrs {
                policy.check_address(&host, addr.ip()).map_err(deny)?;
            }
            let cap = |t: Option<Duration>| Some(t.map_or(limit, |t| t.min(limit)));
            let options = RequestOptions {
                connect_timeout: cap(options.and_then(|o| o.connect_timeout)),
                first_byte_timeout: cap(options.and_then(|o| o.first_byte_timeout)),
                between_bytes_timeout: cap(options.and_then(|o| o.between_bytes_timeout)),
            };
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], private: bool) -> OutboundPolicy {
        OutboundPolicy {
            allowed: hosts
                .iter()
                .map(|h| AllowedHost::parse(h).unwrap())
                .collect(),
            allow_private_addresses: private,
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_host_and_port() {
        let p = policy(
            &["https://api.example.com", "http://*.internal.test:*"],
            false,
        );
        let ok = |u: &str| p.check_url(&u.parse().unwrap()).is_ok();
        assert!(ok("https://api.example.com/v1"));
        assert!(!ok("http://api.example.com/v1"), "scheme differs");
        assert!(!ok("https://api.example.com:8443/"), "port differs");
        assert!(!ok("https://evil.example.com/"));
        assert!(ok("http://a.internal.test:9000/x"));
        assert!(!ok("http://internal.test/x"), "wildcard needs a subdomain");
    }

    #[test]
    fn empty_policy_denies_everything() {
        assert!(
            OutboundPolicy::default()
                .check_url(&"https://example.com".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        let strict = policy(&[], false);
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                strict.check_address("h", ip.parse().unwrap()).is_err(),
                "{ip}"
            );
        }
        assert!(
            strict
                .check_address("h", "93.184.216.34".parse().unwrap())
                .is_ok()
        );
        assert!(
            policy(&[], true)
                .check_address("h", "127.0.0.1".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert!(
            AllowedHost::parse("example.com")
                .unwrap_err()
                .contains("scheme")
        );
        assert!(AllowedHost::parse("ftp://example.com").is_err());
        assert!(AllowedHost::parse("https://example.com/path").is_err());
        assert!(AllowedHost::parse("http://127.0.0.1:*").is_ok());
    }

    #[test]
    fn intersections_keep_the_narrower_scheme_host_and_port() {
        let meet = |a: &str, b: &str| {
            AllowedHost::parse(a)
                .unwrap()
                .intersect(&AllowedHost::parse(b).unwrap())
                .map(|h| h.to_string())
        };
        assert_eq!(
            meet("https://*:*", "https://a.example").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            meet("http://*.b.example:*", "http://*.example:8080").as_deref(),
            Some("http://*.b.example:8080")
        );
        assert_eq!(
            meet("http://*.example:*", "http://x.example:*").as_deref(),
            Some("http://x.example:*")
        );
        assert_eq!(
            meet("http://[::1]:*", "http://[::1]:9").as_deref(),
            Some("http://[::1]:9")
        );
        assert_eq!(meet("http://a.example", "https://a.example"), None);
        assert_eq!(meet("http://a.example:1", "http://a.example:2"), None);
        assert_eq!(meet("http://example", "http://*.example:*"), None);
    }
}
