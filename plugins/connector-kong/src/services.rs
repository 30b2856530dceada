//! Kong's services and routes read as APIs: every enabled service is one
//! API, answering where its HTTP routes match (their protocols, hosts and
//! path prefixes) on Kong's proxy.
//!
//! Pure functions over the Admin API's JSON, so they are tested natively.

use portico_plugin_sdk::connector::{DiscoveredApi, Environment};
use serde::Deserialize;

/// One page of a list answer: `{data, offset, next}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub(crate) data: Vec<T>,
    /// Where the next page starts; absent or null on the last one.
    #[serde(default)]
    offset: Option<String>,
    /// The next page's URI, carrying the same offset.
    #[serde(default)]
    next: Option<String>,
}

impl<T> Page<T> {
    /// The offset of the next page: `offset`, else the one in `next`.
    pub(crate) fn next_offset(&self) -> Option<String> {
        let from_next = || {
            let query = self.next.as_deref()?.split_once('?')?.1;
            let value = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("offset="))?;
            Some(decode(value))
        };
        self.offset
            .clone()
            .or_else(from_next)
            .filter(|o| !o.is_empty())
    }
}

/// Undoes percent-encoding (a malformed escape stays as it is).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A service, as `GET /services` lists it (the fields used here).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Service {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

impl Service {
    /// A disabled service answers 404 on all its routes: not an API.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// A route, as `GET /services/{id}/routes` lists it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Route {
    #[serde(default)]
    protocols: Option<Vec<String>>,
    #[serde(default)]
    hosts: Option<Vec<String>>,
    #[serde(default)]
    paths: Option<Vec<String>>,
}

/// Where callers reach Kong's proxy: `proxy_url` taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    scheme: String,
    host: String,
    /// Only when it is not the scheme's default.
    port: Option<u16>,
}

impl Proxy {
    /// Parses `scheme://host[:port][/...]`; anything after the authority is ignored.
    pub(crate) fn parse(url: &str) -> Option<Proxy> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next()?;
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                (host, Some(port.parse::<u16>().ok()?))
            }
            _ => (authority, None),
        };
        if host.is_empty() {
            return None;
        }
        let default = if scheme == "https" { 443 } else { 80 };
        Some(Proxy {
            port: port.filter(|p| *p != default),
            host: host.to_owned(),
            scheme,
        })
    }
}

/// The API a service is, with the base URLs of its routes.
pub(crate) fn api(service: &Service, routes: &[Route], proxy: &Proxy) -> DiscoveredApi {
    let name = service.name.clone().unwrap_or_else(|| service.id.clone());
    let mut api = DiscoveredApi::new(service.id.clone(), name.clone());
    api.title = service.name.clone();
    api.description = Some(format!(
        "Kong service `{name}`, proxied to {}.",
        upstream(service)
    ));
    let urls = base_urls(routes, proxy);
    if !urls.is_empty() {
        api.environments = vec![Environment::new("production", urls)];
    }
    api.tags = vec!["kong".into()];
    api.labels = vec![("kong-service".to_owned(), name)];
    for tag in service.tags.iter().flatten() {
        // `owner:group:platform` and `version:1.2.0` say what Kong cannot.
        if let Some(owner) = tag.strip_prefix("owner:") {
            api.labels.push(("owner".into(), owner.to_owned()));
        } else if let Some(version) = tag.strip_prefix("version:") {
            api.version = Some(version.to_owned());
        } else {
            api.tags.push(tag.clone());
        }
    }
    api
}

fn upstream(service: &Service) -> String {
    let scheme = service.protocol.as_deref().unwrap_or("http");
    let host = service.host.as_deref().unwrap_or("?");
    let port = service.port.map(|p| format!(":{p}")).unwrap_or_default();
    let path = service.path.as_deref().unwrap_or("");
    format!("{scheme}://{host}{port}{path}")
}

/// Every HTTP route's hosts × path prefixes, on the proxy's scheme and port
/// (or the route's own scheme when it does not take the proxy's).
pub(crate) fn base_urls(routes: &[Route], proxy: &Proxy) -> Vec<String> {
    let mut urls = Vec::new();
    for route in routes {
        let protocols: Vec<&str> = match &route.protocols {
            Some(p) if !p.is_empty() => p.iter().map(String::as_str).collect(),
            _ => vec!["http", "https"],
        };
        let scheme = if protocols.contains(&proxy.scheme.as_str()) {
            proxy.scheme.as_str()
        } else if protocols.contains(&"https") {
            "https"
        } else if protocols.contains(&"http") {
            "http"
        } else {
            // A stream (tcp, tls, udp) or gRPC-only route has no HTTP base URL.
            continue;
        };
        let port = if scheme == proxy.scheme {
            proxy.port.map(|p| format!(":{p}")).unwrap_or_default()
        } else {
            String::new()
        };
        let hosts: Vec<String> = match &route.hosts {
            Some(hosts) if hosts.iter().any(|h| !h.contains('*')) => hosts
                .iter()
                .filter(|h| !h.contains('*'))
                // A host matcher with its own port says where it listens.
                .map(|h| {
                    if h.contains(':') {
                        h.clone()
                    } else {
                        format!("{h}{port}")
                    }
                })
                .collect(),
            _ => vec![format!("{}{port}", proxy.host)],
        };
        let paths: Vec<String> = match &route.paths {
            Some(paths) if !paths.is_empty() => paths.iter().map(|p| prefix(p)).collect(),
            _ => vec![String::new()],
        };
        for host in &hosts {
            for path in &paths {
                let url = format!("{scheme}://{host}{path}");
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
    }
    urls
}

/// The literal prefix of a route path: a regex path (`~/v1/users/\d+$`)
/// up to its first metacharacter, without a trailing slash.
fn prefix(path: &str) -> String {
    let literal = match path.strip_prefix('~') {
        Some(regex) => {
            let end = regex
                .find(|c: char| "\\^$.|?*+()[]{}".contains(c))
                .unwrap_or(regex.len());
            let literal = &regex[..end];
            // Keep whole segments only: `/v1/us` of `/v1/us(er)?s` is no prefix.
            match literal.rfind('/') {
                Some(slash) if end < regex.len() => &literal[..slash],
                _ => literal,
            }
        }
        None => path,
    };
    literal.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str) -> Proxy {
        Proxy::parse(url).unwrap()
    }

    fn route(protocols: &[&str], hosts: &[&str], paths: &[&str]) -> Route {
        let list = |v: &[&str]| (!v.is_empty()).then(|| v.iter().map(|s| s.to_string()).collect());
        Route {
            protocols: list(protocols),
            hosts: list(hosts),
            paths: list(paths),
        }
    }

    #[test]
    fn the_next_offset_comes_from_offset_or_from_next() {
        let page = |json: &str| serde_json::from_str::<Page<Route>>(json).unwrap();
        assert_eq!(
            page(r#"{"data": [], "offset": "abc", "next": "/services?offset=abc"}"#).next_offset(),
            Some("abc".into())
        );
        assert_eq!(
            page(
                r#"{"data": [], "next": "http://localhost:8001/services?size=2&offset=a%2Bb%3D"}"#
            )
            .next_offset(),
            Some("a+b=".into())
        );
        assert_eq!(page(r#"{"data": [], "next": null}"#).next_offset(), None);
    }

    #[test]
    fn proxy_urls_drop_default_ports_and_paths() {
        assert_eq!(
            proxy("http://localhost:8000/x"),
            Proxy {
                scheme: "http".into(),
                host: "localhost".into(),
                port: Some(8000)
            }
        );
        assert_eq!(proxy("https://api.example.com:443").port, None);
        assert!(Proxy::parse("ftp://x").is_none());
        assert!(Proxy::parse("http://:80").is_none());
    }

    #[test]
    fn routes_give_hosts_times_paths_on_the_proxys_scheme_and_port() {
        let urls = base_urls(
            &[route(
                &["http", "https"],
                &["example.com", "foo.test"],
                &["/foo", "/bar/"],
            )],
            &proxy("http://localhost:8000"),
        );
        assert_eq!(
            urls,
            [
                "http://example.com:8000/foo",
                "http://example.com:8000/bar",
                "http://foo.test:8000/foo",
                "http://foo.test:8000/bar"
            ]
        );
    }

    #[test]
    fn routes_without_hosts_use_the_proxy_host_and_https_only_routes_their_scheme() {
        let urls = base_urls(
            &[
                route(&[], &[], &["/orders"]),
                route(&["https"], &["*.example.com"], &[]),
                route(&["tcp", "tls"], &[], &[]),
            ],
            &proxy("http://kong.internal:8000"),
        );
        assert_eq!(
            urls,
            ["http://kong.internal:8000/orders", "https://kong.internal"]
        );
    }

    #[test]
    fn regex_paths_keep_their_literal_segments() {
        assert_eq!(prefix("~/v1/users/\\d+$"), "/v1/users");
        assert_eq!(prefix("~/v1/us(er)?s"), "/v1");
        assert_eq!(prefix("/plain/"), "/plain");
        assert_eq!(prefix("/"), "");
    }

    #[test]
    fn a_service_becomes_an_api_with_owner_and_version_from_its_tags() {
        let service: Service = serde_json::from_str(
            r#"{"id": "s1", "name": "orders", "protocol": "http", "host": "orders.internal",
                "port": 8080, "path": "/api", "tags": ["team-a", "owner:group:shop", "version:1.2.0"]}"#,
        )
        .unwrap();
        let api = api(
            &service,
            &[route(&[], &["api.example.com"], &["/orders"])],
            &proxy("https://gw.example.com"),
        );
        assert_eq!((api.id.as_str(), api.name.as_str()), ("s1", "orders"));
        assert_eq!(api.version.as_deref(), Some("1.2.0"));
        assert_eq!(api.tags, ["kong", "team-a"]);
        assert!(api.labels.contains(&("owner".into(), "group:shop".into())));
        assert_eq!(
            api.environments[0].base_urls,
            ["https://api.example.com/orders"]
        );
        assert!(
            api.description
                .unwrap()
                .contains("http://orders.internal:8080/api")
        );
    }
}
