//! Portico's OpenAPI connector: its "gateway" is a list of URLs of OpenAPI
//! documents (2.0, 3.0 or 3.1, JSON or YAML), each of which is one API. It
//! suits APIs that publish their spec but sit behind no gateway Portico knows.

use std::collections::BTreeMap;

use portico_plugin_sdk::connector::{
    Capability, Connector, DiscoveredApi, DiscoveryPage, Environment, GatewayInfo,
};
use portico_plugin_sdk::{PluginError, SpecDocument, SpecFormat, config, export_connector, http};
use serde::Deserialize;

/// Documents fetched per `discover` call, so that a long list stays within the time limit.
const PAGE_SIZE: usize = 10;

struct OpenApi;

/// The instance's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// URLs of OpenAPI documents.
    urls: Vec<String>,
}

impl Connector for OpenApi {
    fn describe() -> Result<GatewayInfo, PluginError> {
        load_config()?;
        Ok(GatewayInfo::new(
            "openapi",
            vec![Capability::Discover, Capability::ExportSpec],
        ))
    }

    fn discover(page: Option<String>) -> Result<DiscoveryPage, PluginError> {
        let config = load_config()?;
        let start = match page {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .map_err(|_| PluginError::Internal(format!("bad discovery cursor `{cursor}`")))?,
        };
        let end = config.urls.len().min(start.saturating_add(PAGE_SIZE));
        let apis = config
            .urls
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|url| Ok(Fetched::get(url)?.api()))
            .collect::<Result<Vec<_>, PluginError>>()?;
        let mut page = DiscoveryPage::new(apis);
        page.next = (end < config.urls.len()).then(|| end.to_string());
        Ok(page)
    }

    fn fetch_spec(
        api_id: String,
        _environment: Option<String>,
    ) -> Result<Option<SpecDocument>, PluginError> {
        // The id is a URL, but only configured ones may be fetched: the host
        // must not be able to make this plugin fetch anything else.
        if !load_config()?.urls.contains(&api_id) {
            return Err(PluginError::NotFound(format!(
                "`{api_id}` is not one of the configured URLs"
            )));
        }
        let fetched = Fetched::get(&api_id)?;
        Ok(Some(SpecDocument {
            format: fetched.format,
            media_type: fetched.media_type.to_owned(),
            content: fetched.text,
            source: Some(api_id),
        }))
    }
}

export_connector!(OpenApi);

fn load_config() -> Result<Config, PluginError> {
    let config: Config = config::parse()?;
    if config.urls.is_empty() {
        return Err(PluginError::InvalidConfig("`urls` is empty".into()));
    }
    if let Some(url) = config.urls.iter().find(|u| origin(u).is_none()) {
        return Err(PluginError::InvalidConfig(format!(
            "`{url}` is not an absolute http(s) URL"
        )));
    }
    Ok(config)
}

/// One OpenAPI document, as fetched.
struct Fetched {
    url: String,
    text: String,
    media_type: &'static str,
    format: SpecFormat,
    document: Document,
}

impl Fetched {
    fn get(url: &str) -> Result<Self, PluginError> {
        let response = http::get(url)?.error_for_status()?;
        let text = response.text()?;
        let json = response
            .header("content-type")
            .map(|t| t.contains("json"))
            .unwrap_or_else(|| text.trim_start().starts_with('{'));
        Self::parse(url, text, json)
    }

    fn parse(url: &str, text: String, json: bool) -> Result<Self, PluginError> {
        let garbage = |e: String| PluginError::Unreachable(format!("{url} is not OpenAPI: {e}"));
        let (document, media_type): (Document, _) = if json {
            let document = serde_json::from_str(&text).map_err(|e| garbage(e.to_string()))?;
            (document, "application/json")
        } else {
            let document = serde_yaml_ng::from_str(&text).map_err(|e| garbage(e.to_string()))?;
            (document, "application/yaml")
        };
        let format = document
            .format()
            .ok_or_else(|| garbage("no `openapi: 3.x` or `swagger: 2.0` field".into()))?;
        Ok(Self {
            url: url.to_owned(),
            text,
            media_type,
            format,
            document,
        })
    }

    fn api(&self) -> DiscoveredApi {
        let info = &self.document.info;
        let title = info.title.clone().filter(|t| !t.trim().is_empty());
        let name = title.as_deref().map(slug).filter(|s| !s.is_empty());
        let mut api = DiscoveredApi::new(self.url.clone(), name.unwrap_or_else(|| "api".into()));
        api.title = title;
        api.description = info.description.clone();
        api.version = info.version.as_ref().map(Scalar::text);
        api.environments = self.environments();
        api.tags = self.document.tags.iter().map(|t| t.name.clone()).collect();
        api.spec_available = true;
        api
    }

    /// Where the API answers: OpenAPI 3 `servers` (named by their description),
    /// or Swagger 2 `schemes`, `host` and `basePath`.
    fn environments(&self) -> Vec<Environment> {
        let doc = &self.document;
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if self.format == SpecFormat::Openapi2 {
            let Some((doc_scheme, doc_host)) = origin(&self.url) else {
                return Vec::new();
            };
            let host = doc.host.as_deref().unwrap_or(doc_host);
            let base_path = doc.base_path.as_deref().unwrap_or("");
            let schemes = if doc.schemes.is_empty() {
                vec![doc_scheme.to_owned()]
            } else {
                doc.schemes.clone()
            };
            let urls = schemes
                .iter()
                .map(|scheme| format!("{scheme}://{host}{base_path}"))
                .collect();
            by_name.insert("default".into(), urls);
        } else {
            for server in &doc.servers {
                let name = server
                    .description
                    .clone()
                    .filter(|d| !d.trim().is_empty())
                    .unwrap_or_else(|| "default".into());
                let url = resolve(&self.url, &server.expand());
                let urls = by_name.entry(name).or_default();
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
        by_name
            .into_iter()
            .map(|(name, urls)| Environment::new(name, urls))
            .collect()
    }
}

/// The parts of an OpenAPI document this connector reads; the rest is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Document {
    swagger: Option<Scalar>,
    openapi: Option<Scalar>,
    info: Info,
    servers: Vec<Server>,
    host: Option<String>,
    #[serde(rename = "basePath")]
    base_path: Option<String>,
    schemes: Vec<String>,
    tags: Vec<Tag>,
}

impl Document {
    fn format(&self) -> Option<SpecFormat> {
        if let Some(version) = &self.openapi {
            let version = version.text();
            return if version.starts_with("3.0") {
                Some(SpecFormat::Openapi30)
            } else if version.starts_with("3.") {
                // 3.1 and later 3.x releases; the contract has no newer format.
                Some(SpecFormat::Openapi31)
            } else {
                None
            };
        }
        let swagger = self.swagger.as_ref()?.text();
        swagger.starts_with('2').then_some(SpecFormat::Openapi2)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Info {
    title: Option<String>,
    description: Option<String>,
    version: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Server {
    url: String,
    description: Option<String>,
    variables: BTreeMap<String, Variable>,
}

impl Server {
    /// The URL with each `{variable}` replaced by its default.
    fn expand(&self) -> String {
        self.variables
            .iter()
            .fold(self.url.clone(), |url, (name, variable)| {
                url.replace(&format!("{{{name}}}"), &variable.default.text())
            })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Variable {
    default: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Tag {
    name: String,
}

/// A string, number or boolean: YAML authors often leave versions unquoted (`version: 1.0`).
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
struct Scalar(serde_json::Value);

impl Scalar {
    fn text(&self) -> String {
        match &self.0 {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// A machine name from a title: lower-case ASCII letters and digits joined by dashes.
fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// The scheme and authority of an absolute http(s) URL.
fn origin(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    (!authority.is_empty()).then_some((scheme, authority))
}

/// Resolves a server URL, which OpenAPI allows to be relative to the document.
fn resolve(document_url: &str, server_url: &str) -> String {
    if server_url.contains("://") {
        return server_url.to_owned();
    }
    let Some((scheme, authority)) = origin(document_url) else {
        return server_url.to_owned();
    };
    if let Some(rest) = server_url.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if server_url.starts_with('/') {
        format!("{scheme}://{authority}{server_url}")
    } else {
        let path = document_url
            .split(['?', '#'])
            .next()
            .unwrap_or(document_url);
        let directory = &path[..path.rfind('/').map_or(path.len(), |i| i + 1)];
        let directory = if directory.ends_with('/') {
            directory.to_owned()
        } else {
            format!("{directory}/")
        };
        format!("{directory}{server_url}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://specs.example.com/petstore/openapi.json";

    #[test]
    fn openapi_31_json_becomes_an_api_with_servers_and_tags() {
        let text = r#"{
            "openapi": "3.1.0",
            "info": {"title": "Pet Store API", "version": "1.2.0", "description": "Pets."},
            "servers": [
                {"url": "https://api.example.com/v1", "description": "production"},
                {"url": "/sandbox"},
                {"url": "https://{region}.example.com", "variables": {"region": {"default": "eu"}}}
            ],
            "tags": [{"name": "pets"}, {"name": "store"}],
            "paths": {}
        }"#;
        let fetched = Fetched::parse(URL, text.into(), true).unwrap();
        assert_eq!(fetched.format, SpecFormat::Openapi31);
        assert_eq!(fetched.media_type, "application/json");
        let api = fetched.api();
        assert_eq!(api.id, URL);
        assert_eq!(api.name, "pet-store-api");
        assert_eq!(api.title.as_deref(), Some("Pet Store API"));
        assert_eq!(api.version.as_deref(), Some("1.2.0"));
        assert_eq!(api.tags, ["pets", "store"]);
        assert!(api.spec_available);
        let envs: Vec<_> = api
            .environments
            .iter()
            .map(|e| (e.name.as_str(), e.base_urls.clone()))
            .collect();
        assert_eq!(
            envs,
            [
                (
                    "default",
                    vec![
                        "https://specs.example.com/sandbox".to_owned(),
                        "https://eu.example.com".to_owned()
                    ]
                ),
                ("production", vec!["https://api.example.com/v1".to_owned()]),
            ]
        );
    }

    #[test]
    fn openapi_30_yaml_with_unquoted_numbers_parses() {
        let text = "openapi: 3.0.3\ninfo:\n  title: Billing\n  version: 2.0\npaths:\n  /x:\n    get:\n      responses:\n        200:\n          description: ok\n";
        let fetched = Fetched::parse("http://h/spec.yaml", text.into(), false).unwrap();
        assert_eq!(fetched.format, SpecFormat::Openapi30);
        assert_eq!(fetched.media_type, "application/yaml");
        assert_eq!(fetched.api().version.as_deref(), Some("2.0"));
    }

    #[test]
    fn swagger_2_environment_comes_from_host_and_base_path() {
        let text = r#"{"swagger": "2.0", "info": {"title": "Old", "version": "1"},
            "host": "legacy.example.com", "basePath": "/api", "schemes": ["https"]}"#;
        let fetched = Fetched::parse(URL, text.into(), true).unwrap();
        assert_eq!(fetched.format, SpecFormat::Openapi2);
        let env = &fetched.api().environments[0];
        assert_eq!(env.name, "default");
        assert_eq!(env.base_urls, ["https://legacy.example.com/api"]);
    }

    #[test]
    fn a_document_without_a_version_field_is_rejected() {
        let err = Fetched::parse(URL, r#"{"info": {}}"#.into(), true)
            .err()
            .unwrap();
        assert!(matches!(err, PluginError::Unreachable(m) if m.contains(URL)));
    }

    #[test]
    fn slugs_are_lower_case_and_dashed() {
        assert_eq!(slug("  Pet Store — API v2!"), "pet-store-api-v2");
        assert_eq!(slug("¿?"), "");
    }

    #[test]
    fn relative_server_urls_resolve_against_the_document() {
        assert_eq!(resolve(URL, "v2"), "https://specs.example.com/petstore/v2");
        assert_eq!(
            resolve(URL, "//cdn.example.com/x"),
            "https://cdn.example.com/x"
        );
        assert_eq!(resolve("http://h:8080", "/a"), "http://h:8080/a");
    }
}
