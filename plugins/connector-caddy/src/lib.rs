//! Portico's Caddy connector: reads the HTTP servers of a Caddy's admin API
//! and reports every reverse-proxy route as an API with its base URLs and
//! upstreams. Caddy has no consumers or keys of its own; callers of
//! Caddy-fronted APIs are checked by the portal through `forward_auth`.

mod routes;

use portico_plugin_sdk::connector::{
    Capability, Connector, DiscoveredApi, DiscoveryPage, Environment, GatewayInfo,
};
use portico_plugin_sdk::http::{Request, Response};
use portico_plugin_sdk::{PluginError, config, export_connector, secret};
use serde::Deserialize;

use routes::{ProxiedRoute, Servers};

/// Routes reported per `discover` call, so a large config pages within the time limit.
const PAGE_SIZE: usize = 250;

struct Caddy;

/// The instance's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The admin API's base URL.
    admin_url: String,
    /// The host of base URLs for routes without a host matcher.
    public_host: Option<String>,
    /// Only these servers.
    servers: Option<Vec<String>>,
}

impl Connector for Caddy {
    fn describe() -> Result<GatewayInfo, PluginError> {
        let config = load_config()?;
        fetch_servers(&config)?;
        Ok(GatewayInfo::new("caddy", vec![Capability::Discover]))
    }

    fn discover(page: Option<String>) -> Result<DiscoveryPage, PluginError> {
        let config = load_config()?;
        let cursor = page.as_deref().map(Cursor::parse).transpose()?;
        let (servers, etag) = fetch_servers(&config)?;
        if let (Some(cursor), Some(etag)) = (&cursor, &etag)
            && cursor.etag.as_deref().is_some_and(|seen| seen != etag)
        {
            return Err(PluginError::Conflict(
                "Caddy's config changed while its routes were being read; sync again".into(),
            ));
        }
        let routes = routes::proxied_routes(
            &servers,
            config.servers.as_deref(),
            config.public_host.as_deref(),
        );
        let start = cursor.map_or(0, |c| c.offset).min(routes.len());
        let end = routes.len().min(start + PAGE_SIZE);
        let mut page = DiscoveryPage::new(routes[start..end].iter().map(api).collect());
        page.next = (end < routes.len()).then(|| {
            Cursor {
                offset: end,
                etag: etag.clone(),
            }
            .to_string()
        });
        Ok(page)
    }
}

export_connector!(Caddy);

fn load_config() -> Result<Config, PluginError> {
    let config: Config = config::parse()?;
    let url = config.admin_url.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(PluginError::InvalidConfig(format!(
            "`admin_url` must be an http(s) URL, not `{}`",
            config.admin_url
        )));
    }
    Ok(config)
}

/// `GET /config/apps/http/servers`, and the config's ETag when Caddy sends one.
fn fetch_servers(config: &Config) -> Result<(Servers, Option<String>), PluginError> {
    let url = format!(
        "{}/config/apps/http/servers",
        config.admin_url.trim_end_matches('/')
    );
    let mut request = Request::new("GET", url.clone()).header("accept", "application/json");
    // Sent to this gateway's admin API only; never logged.
    if let Some(token) = secret::get("token") {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response: Response = request.send()?.error_for_status()?;
    let etag = response.header("etag").map(str::to_owned);
    let value: serde_json::Value = response.json()?;
    // A Caddy without an HTTP app answers `null`.
    if value.is_null() {
        return Ok((Servers::new(), etag));
    }
    let servers = serde_json::from_value(value).map_err(|e| {
        PluginError::Unreachable(format!(
            "{url} answered JSON that is not Caddy's HTTP servers: {e}"
        ))
    })?;
    Ok((servers, etag))
}

fn api(route: &ProxiedRoute) -> DiscoveredApi {
    let mut api = DiscoveredApi::new(route.id.clone(), route.name.clone());
    api.title = Some(route.title.clone());
    api.description = Some(format!(
        "Proxied by Caddy (server `{}`) to {}.",
        route.server,
        if route.upstreams.is_empty() {
            "dynamic upstreams".to_owned()
        } else {
            route.upstreams.join(", ")
        }
    ));
    api.environments = vec![Environment::new("production", route.base_urls.clone())];
    api.tags = vec!["caddy".into()];
    api.labels = vec![("caddy-server".to_owned(), routes::slug(&route.server))];
    api
}

/// Where the next page starts, and the config's ETag when the first page saw one.
#[derive(Debug, PartialEq)]
struct Cursor {
    offset: usize,
    etag: Option<String>,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, PluginError> {
        let (offset, etag) = text
            .split_once(' ')
            .map_or((text, None), |(o, e)| (o, Some(e)));
        let offset = offset
            .parse()
            .map_err(|_| PluginError::Internal(format!("bad discovery cursor `{text}`")))?;
        Ok(Cursor {
            offset,
            etag: etag.map(str::to_owned),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.etag {
            Some(etag) => write!(f, "{} {etag}", self.offset),
            None => write!(f, "{}", self.offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_and_without_an_etag() {
        for cursor in [
            Cursor {
                offset: 250,
                etag: Some("\"/config/ abc\"".into()),
            },
            Cursor {
                offset: 3,
                etag: None,
            },
        ] {
            assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
        }
        assert!(matches!(Cursor::parse("x"), Err(PluginError::Internal(_))));
    }
}
