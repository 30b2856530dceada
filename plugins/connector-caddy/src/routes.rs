//! Caddy's HTTP config read as APIs: every route whose handlers include a
//! `reverse_proxy` (directly or inside nested `subroute` handlers) is one
//! API, answering at the hosts and path prefixes of its matchers on the
//! server's listen addresses, and forwarding to its upstreams.
//!
//! Pure functions over the JSON of `GET /config/apps/http/servers`, so they
//! are tested natively.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

/// `apps.http.servers`: servers by name.
pub(crate) type Servers = BTreeMap<String, Server>;

/// One HTTP server: where it listens and its routes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Server {
    listen: Vec<String>,
    routes: Vec<Route>,
    /// Present when the server terminates TLS.
    tls_connection_policies: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Route {
    #[serde(rename = "@id")]
    id: Option<String>,
    #[serde(rename = "match")]
    matchers: Vec<MatcherSet>,
    handle: Vec<Handler>,
}

/// One matcher set; only the host and path matchers say where an API is.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MatcherSet {
    host: Vec<String>,
    path: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Handler {
    handler: String,
    upstreams: Vec<Upstream>,
    routes: Vec<Route>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Upstream {
    dial: String,
}

/// One proxied route, ready to become an API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxiedRoute {
    /// Stable: the route's `@id`, else the server and its matchers.
    pub(crate) id: String,
    /// A machine name: the `@id`, else the matchers, as a slug.
    pub(crate) name: String,
    /// The `@id`, or the hosts and paths, for people.
    pub(crate) title: String,
    /// The server it belongs to.
    pub(crate) server: String,
    /// Where callers reach it.
    pub(crate) base_urls: Vec<String>,
    /// Where Caddy forwards it (`dial` addresses).
    pub(crate) upstreams: Vec<String>,
}

/// Where a server listens: scheme and port, and the host when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listener {
    scheme: &'static str,
    host: Option<String>,
    port: u16,
}

/// Every proxied route of `servers` (those named in `only`, when given), in
/// config order: servers by name, routes as listed.
pub(crate) fn proxied_routes(
    servers: &Servers,
    only: Option<&[String]>,
    public_host: Option<&str>,
) -> Vec<ProxiedRoute> {
    let mut out = Vec::new();
    for (name, server) in servers {
        if only.is_some_and(|only| !only.contains(name)) {
            continue;
        }
        let listeners = listeners(server);
        let mut found = Vec::new();
        walk(&server.routes, &Scope::default(), &mut found);
        for route in found {
            out.push(route.into_proxied(name, &listeners, public_host));
        }
    }
    disambiguate(&mut out);
    out
}

/// The hosts and paths in force, from enclosing routes.
#[derive(Debug, Clone, Default)]
struct Scope {
    hosts: Vec<String>,
    paths: Vec<String>,
}

/// A route with a `reverse_proxy`, before it knows its server's listeners.
struct Found {
    /// The route's own `@id` (an enclosing route's names the enclosing route).
    id: Option<String>,
    scope: Scope,
    upstreams: Vec<String>,
}

fn walk(routes: &[Route], outer: &Scope, out: &mut Vec<Found>) {
    for route in routes {
        let mut scope = outer.clone();
        let hosts: Vec<String> = route.matchers.iter().flat_map(|m| m.host.clone()).collect();
        let paths: Vec<String> = route.matchers.iter().flat_map(|m| m.path.clone()).collect();
        // Caddy matches a subroute's paths against the whole request path,
        // so an inner path matcher replaces the outer one.
        if !hosts.is_empty() {
            scope.hosts = hosts;
        }
        if !paths.is_empty() {
            scope.paths = paths;
        }
        let mut upstreams = Vec::new();
        for handler in &route.handle {
            match handler.handler.as_str() {
                "reverse_proxy" => upstreams.extend(
                    handler
                        .upstreams
                        .iter()
                        .map(|u| u.dial.clone())
                        .filter(|d| !d.is_empty()),
                ),
                "subroute" => walk(&handler.routes, &scope, out),
                _ => {}
            }
        }
        if route.handle.iter().any(|h| h.handler == "reverse_proxy") {
            out.push(Found {
                id: route.id.clone(),
                scope,
                upstreams,
            });
        }
    }
}

impl Found {
    fn into_proxied(
        self,
        server: &str,
        listeners: &[Listener],
        public_host: Option<&str>,
    ) -> ProxiedRoute {
        let Scope { hosts, paths } = self.scope;
        let id = self.id;
        let matched = format!(
            "{}{}",
            if hosts.is_empty() {
                "*".to_owned()
            } else {
                hosts.join(",")
            },
            paths.join(",")
        );
        let prefixes: Vec<String> = if paths.is_empty() {
            vec![String::new()]
        } else {
            let mut prefixes: Vec<String> = paths.iter().map(|p| prefix(p)).collect();
            prefixes.dedup();
            prefixes
        };
        let mut base_urls = Vec::new();
        for listener in listeners {
            let names: Vec<String> = if hosts.is_empty() {
                vec![
                    listener
                        .host
                        .clone()
                        .or_else(|| public_host.map(str::to_owned))
                        .unwrap_or_else(|| "localhost".into()),
                ]
            } else {
                hosts.clone()
            };
            for host in &names {
                for prefix in &prefixes {
                    let url = listener.url(host, prefix);
                    if !base_urls.contains(&url) {
                        base_urls.push(url);
                    }
                }
            }
        }
        let (stable, name, title) = match id {
            Some(id) => (id.clone(), slug(&id), id),
            None => (
                format!("{server}:{matched}"),
                slug(&if hosts.is_empty() && paths.is_empty() {
                    format!("{server}-all")
                } else {
                    matched.clone()
                }),
                matched.replace(',', ", "),
            ),
        };
        ProxiedRoute {
            id: stable,
            name: if name.is_empty() { slug(server) } else { name },
            title,
            server: server.to_owned(),
            base_urls,
            upstreams: self.upstreams,
        }
    }
}

/// Routes with the same matchers get `#2`, `#3` on their id and `-2`, `-3`
/// on their name; two `@id`s never clash in a valid Caddy config.
fn disambiguate(routes: &mut [ProxiedRoute]) {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for route in routes.iter_mut() {
        let n = ids.entry(route.id.clone()).or_default();
        *n += 1;
        if *n > 1 {
            route.id = format!("{}#{n}", route.id);
        }
        let n = names.entry(route.name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            let suffix = format!("-{n}");
            route.name.truncate(63 - suffix.len());
            route.name.push_str(&suffix);
        }
    }
}

impl Listener {
    fn url(&self, host: &str, prefix: &str) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            format!("{}://{host}{prefix}", self.scheme)
        } else {
            format!("{}://{host}:{}{prefix}", self.scheme, self.port)
        }
    }
}

/// A server's TCP listen addresses (`:443`, `127.0.0.1:8080`, `tcp/:80`,
/// port ranges by their first port); https on 443 or with TLS policies.
fn listeners(server: &Server) -> Vec<Listener> {
    let mut out = Vec::new();
    for address in &server.listen {
        let address = address.strip_prefix("tcp/").unwrap_or(address);
        if address.contains('/') {
            continue; // unix sockets, udp (HTTP/3 beside a TCP listener)
        }
        let Some((host, ports)) = address.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = ports.split('-').next().unwrap_or(ports).parse::<u16>() else {
            continue;
        };
        let host = host.trim_matches(['[', ']']);
        let host = (!matches!(host, "" | "0.0.0.0" | "::")).then(|| host.to_owned());
        let tls = port == 443 || server.tls_connection_policies.is_some();
        let listener = Listener {
            scheme: if tls { "https" } else { "http" },
            host,
            port,
        };
        if !out.contains(&listener) {
            out.push(listener);
        }
    }
    out
}

/// The literal prefix of a path matcher: `/orders/*` and `/orders*` → `/orders`.
fn prefix(path: &str) -> String {
    let literal = &path[..path.find(['*', '{']).unwrap_or(path.len())];
    literal.trim_end_matches('/').to_owned()
}

/// A machine name: lower-case letters and digits joined by dashes, at most 63.
pub(crate) fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(63);
    slug.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(json: &str) -> Servers {
        serde_json::from_str(json).unwrap()
    }

    const CONFIG: &str = r#"{
      "edge": {
        "listen": [":443"],
        "routes": [
          {"@id": "orders", "match": [{"host": ["api.example.com"], "path": ["/orders/*"]}],
           "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "10.0.0.1:8080"}, {"dial": "10.0.0.2:8080"}]}]},
          {"match": [{"host": ["shop.example.com"]}],
           "handle": [{"handler": "subroute", "routes": [
             {"match": [{"path": ["/cart*"]}], "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "cart:80"}]}]},
             {"handle": [{"handler": "file_server"}]}
           ]}]},
          {"handle": [{"handler": "static_response", "body": "hi"}]}
        ]
      },
      "internal": {
        "listen": ["127.0.0.1:8080"],
        "routes": [
          {"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "legacy:9000"}]}]}
        ]
      }
    }"#;

    #[test]
    fn proxied_routes_become_apis_with_base_urls_and_upstreams() {
        let routes = proxied_routes(&servers(CONFIG), None, None);
        assert_eq!(routes.len(), 3, "{routes:#?}");
        let orders = &routes[0];
        assert_eq!(orders.id, "orders");
        assert_eq!(orders.name, "orders");
        assert_eq!(orders.base_urls, ["https://api.example.com/orders"]);
        assert_eq!(orders.upstreams, ["10.0.0.1:8080", "10.0.0.2:8080"]);

        let cart = &routes[1];
        assert_eq!(cart.id, "edge:shop.example.com/cart*");
        assert_eq!(cart.name, "shop-example-com-cart");
        assert_eq!(cart.base_urls, ["https://shop.example.com/cart"]);
        assert_eq!(cart.upstreams, ["cart:80"]);

        let legacy = &routes[2];
        assert_eq!(legacy.id, "internal:*");
        assert_eq!(legacy.name, "internal-all");
        assert_eq!(legacy.base_urls, ["http://127.0.0.1:8080"]);
    }

    #[test]
    fn only_named_servers_are_read_and_a_public_host_fills_in() {
        let only = ["edge".to_owned()];
        let json = CONFIG.replace("127.0.0.1:8080", ":8080");
        let routes = proxied_routes(&servers(&json), Some(&only), None);
        assert!(routes.iter().all(|r| r.server == "edge"));
        let routes = proxied_routes(&servers(&json), None, Some("gw.example.com"));
        assert_eq!(routes[2].base_urls, ["http://gw.example.com:8080"]);
    }

    #[test]
    fn routes_with_the_same_matchers_get_distinct_ids_and_names() {
        let json = r#"{"s": {"listen": [":80"], "routes": [
            {"match": [{"path": ["/a/*"]}], "handle": [{"handler": "reverse_proxy"}]},
            {"match": [{"path": ["/a/*"]}], "handle": [{"handler": "reverse_proxy"}]}
        ]}}"#;
        let routes = proxied_routes(&servers(json), None, None);
        assert_eq!(routes[0].id, "s:*/a/*");
        assert_eq!(routes[1].id, "s:*/a/*#2");
        assert_eq!(routes[1].name, "a-2");
        assert_eq!(routes[0].base_urls, ["http://localhost/a"]);
    }

    #[test]
    fn listen_addresses_and_path_prefixes_read_as_caddy_means_them() {
        let server: Server = serde_json::from_value(serde_json::json!({
            "listen": ["tcp/:8443", "udp/:443", "unix//run/caddy.sock", "[::1]:9000-9010"],
            "tls_connection_policies": [{}]
        }))
        .unwrap();
        let urls: Vec<String> = listeners(&server)
            .iter()
            .map(|l| l.url("h", "/p"))
            .collect();
        assert_eq!(urls, ["https://h:8443/p", "https://h:9000/p"]);
        assert_eq!(prefix("/v1/users/{id}"), "/v1/users");
        assert_eq!(prefix("*"), "");
        assert_eq!(prefix("/exact"), "/exact");
    }
}
