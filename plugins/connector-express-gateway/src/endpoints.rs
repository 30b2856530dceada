//! Express Gateway's config read as APIs: every API endpoint is one API,
//! answering at its hosts and path prefixes on the gateway, and served by the
//! pipelines that name it (their policies, and the service endpoints their
//! `proxy` policies forward to).
//!
//! Pure functions over the JSON of `GET /api-endpoints`, `/service-endpoints`
//! and `/pipelines`, so they are tested natively.

use std::collections::BTreeMap;

use portico_plugin_sdk::connector::{DiscoveredApi, Environment};
use serde::Deserialize;
use serde_json::Value;

/// `GET /api-endpoints`: each name's `{host, paths}`, or a list of them.
pub(crate) type ApiEndpoints = BTreeMap<String, Value>;
/// `GET /service-endpoints`: each name's `{url}` or `{urls}`.
pub(crate) type ServiceEndpoints = BTreeMap<String, Value>;
/// `GET /pipelines`.
pub(crate) type Pipelines = BTreeMap<String, Pipeline>;

/// A pipeline: the API endpoints it serves and its policies in order.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Pipeline {
    api_endpoints: Vec<String>,
    /// Each entry is `{policy-name: config}`.
    policies: Vec<BTreeMap<String, Value>>,
}

/// Where callers reach the gateway: `gateway_url` taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gateway {
    scheme: String,
    host: String,
    /// `:port`, or empty for the scheme's default.
    port: String,
}

impl Gateway {
    /// Parses `scheme://host[:port][/...]`; anything after the authority is ignored.
    pub(crate) fn parse(url: &str) -> Option<Gateway> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port.parse::<u16>().ok()?)),
            _ => (authority, None),
        };
        if host.is_empty() {
            return None;
        }
        Some(Gateway {
            scheme,
            host: host.to_owned(),
            port: port
                .filter(|p| *p != default)
                .map(|p| format!(":{p}"))
                .unwrap_or_default(),
        })
    }
}

/// Every API endpoint as an API.
pub(crate) fn apis(
    endpoints: &ApiEndpoints,
    services: &ServiceEndpoints,
    pipelines: &Pipelines,
    gateway: &Gateway,
) -> Vec<DiscoveredApi> {
    endpoints
        .iter()
        .map(|(name, endpoint)| api(name, endpoint, services, pipelines, gateway))
        .collect()
}

fn api(
    name: &str,
    endpoint: &Value,
    services: &ServiceEndpoints,
    pipelines: &Pipelines,
    gateway: &Gateway,
) -> DiscoveredApi {
    let mut api = DiscoveredApi::new(name, slug(name));
    api.title = Some(name.to_owned());
    let serving: Vec<(&String, &Pipeline)> = pipelines
        .iter()
        .filter(|(_, p)| p.api_endpoints.iter().any(|e| e == name))
        .collect();
    let mut policies: Vec<&str> = Vec::new();
    let mut upstreams: Vec<String> = Vec::new();
    for (_, pipeline) in &serving {
        for policy in &pipeline.policies {
            for (policy_name, config) in policy {
                if !policies.contains(&policy_name.as_str()) {
                    policies.push(policy_name);
                }
                if policy_name == "proxy" {
                    let mut names = Vec::new();
                    service_endpoints(config, &mut names);
                    for service in names {
                        for url in service_urls(services.get(&service)) {
                            if !upstreams.contains(&url) {
                                upstreams.push(url);
                            }
                        }
                    }
                }
            }
        }
    }
    let pipeline_names: Vec<&str> = serving.iter().map(|(n, _)| n.as_str()).collect();
    api.description = Some(if pipeline_names.is_empty() {
        format!("Express Gateway API endpoint `{name}`, served by no pipeline.")
    } else {
        format!(
            "Express Gateway API endpoint `{name}`, served by pipeline `{}` ({}){}.",
            pipeline_names.join("`, `"),
            policies.join(", "),
            if upstreams.is_empty() {
                String::new()
            } else {
                format!(" to {}", upstreams.join(", "))
            }
        )
    });
    let urls = base_urls(endpoint, gateway);
    if !urls.is_empty() {
        api.environments = vec![Environment::new("production", urls)];
    }
    api.tags = vec!["express-gateway".into()];
    for policy in ["key-auth", "basic-auth", "oauth2", "jwt"] {
        if policies.contains(&policy) {
            api.tags.push(policy.into());
        }
    }
    if !pipeline_names.is_empty() {
        api.labels = vec![(
            "express-gateway-pipelines".to_owned(),
            pipeline_names.join(","),
        )];
    }
    api
}

/// Every `serviceEndpoint` named anywhere in a proxy policy's config.
fn service_endpoints(config: &Value, out: &mut Vec<String>) {
    match config {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("serviceEndpoint", Value::String(name)) => out.push(name.clone()),
                    _ => service_endpoints(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| service_endpoints(v, out)),
        _ => {}
    }
}

fn service_urls(service: Option<&Value>) -> Vec<String> {
    let Some(service) = service else {
        return Vec::new();
    };
    let mut urls: Vec<String> = service["url"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    for url in service["urls"].as_array().into_iter().flatten() {
        urls.extend(url.as_str().map(str::to_owned));
    }
    urls
}

/// The endpoint's hosts × path prefixes on the gateway's scheme and port; a
/// host of `*` (or none) is the gateway's own host, and wildcard hosts are
/// no address a caller can use.
pub(crate) fn base_urls(endpoint: &Value, gateway: &Gateway) -> Vec<String> {
    let entries: Vec<&Value> = match endpoint {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut urls = Vec::new();
    for entry in entries {
        let host = match entry["host"].as_str() {
            None | Some("*") | Some("") => gateway.host.clone(),
            Some(host) if host.contains('*') => continue,
            Some(host) => host.to_owned(),
        };
        let paths: Vec<&str> = match &entry["paths"] {
            Value::String(path) => vec![path.as_str()],
            Value::Array(paths) => paths.iter().filter_map(Value::as_str).collect(),
            _ => vec![""],
        };
        for path in paths {
            let url = format!(
                "{}://{host}{}{}",
                gateway.scheme,
                gateway.port,
                prefix(path)
            );
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    urls
}

/// The literal prefix of a path pattern: up to its first `*` or `:param`
/// segment, without a trailing slash (`/users/:id` → `/users`).
fn prefix(path: &str) -> String {
    let mut out = String::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with(':') || segment.contains('*') {
            break;
        }
        out.push('/');
        out.push_str(segment);
    }
    out
}

/// A machine name: lower-case ASCII letters and digits joined by `-`.
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
    use serde_json::json;

    fn gateway() -> Gateway {
        Gateway::parse("http://localhost:8080").unwrap()
    }

    #[test]
    fn gateway_urls_keep_non_default_ports() {
        assert_eq!(gateway().port, ":8080");
        assert_eq!(
            Gateway::parse("https://api.example.com:443/x")
                .unwrap()
                .port,
            ""
        );
        assert!(Gateway::parse("ftp://x").is_none());
    }

    #[test]
    fn endpoints_give_hosts_times_path_prefixes() {
        let urls = base_urls(
            &json!({"host": "*", "paths": ["/orders", "/orders/*", "/users/:id"]}),
            &gateway(),
        );
        assert_eq!(
            urls,
            [
                "http://localhost:8080/orders",
                "http://localhost:8080/users"
            ]
        );
        let urls = base_urls(
            &json!([{"host": "api.example.com", "paths": "/v1/*"}, {"host": "*.example.com"}]),
            &gateway(),
        );
        assert_eq!(urls, ["http://api.example.com:8080/v1"]);
        assert_eq!(base_urls(&json!({}), &gateway()), ["http://localhost:8080"]);
    }

    #[test]
    fn pipelines_say_how_an_endpoint_is_served() {
        let endpoints: ApiEndpoints =
            serde_json::from_value(json!({"Orders API": {"host": "*", "paths": ["/orders/*"]}}))
                .unwrap();
        let services: ServiceEndpoints =
            serde_json::from_value(json!({"backend": {"url": "http://10.0.0.1:3000"}})).unwrap();
        let pipelines: Pipelines = serde_json::from_value(json!({
            "orders": {"apiEndpoints": ["Orders API"], "policies": [
                {"key-auth": null},
                {"proxy": [{"action": {"serviceEndpoint": "backend", "changeOrigin": true}}]}
            ]},
            "other": {"apiEndpoints": ["elsewhere"], "policies": []}
        }))
        .unwrap();
        let apis = apis(&endpoints, &services, &pipelines, &gateway());
        assert_eq!(apis.len(), 1);
        let api = &apis[0];
        assert_eq!(
            (api.id.as_str(), api.name.as_str()),
            ("Orders API", "orders-api")
        );
        assert_eq!(api.tags, ["express-gateway", "key-auth"]);
        assert_eq!(
            api.description.as_deref(),
            Some(
                "Express Gateway API endpoint `Orders API`, served by pipeline `orders` \
                 (key-auth, proxy) to http://10.0.0.1:3000."
            )
        );
        assert_eq!(
            api.environments[0].base_urls,
            ["http://localhost:8080/orders"]
        );
        assert_eq!(
            api.labels,
            [("express-gateway-pipelines".to_owned(), "orders".to_owned())]
        );
    }
}
