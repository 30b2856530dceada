//! Portico's Kong Gateway connector: reads services and routes from Kong's
//! Admin API as APIs, issues key-auth keys to portal apps (one consumer per
//! app) and revokes them, and normalises what Kong's http-log plugin pushes
//! into usage records.

mod services;
mod usage;

use portico_plugin_sdk::connector::{
    Capability, Connector, CredentialRequest, DiscoveryPage, GatewayInfo, KeySource, Provisioned,
    RevokeMode,
};
use portico_plugin_sdk::http::{Request, Response};
use portico_plugin_sdk::{
    PluginError, SpecDocument, UsageRecord, config, export_connector, secret,
};
use serde::Deserialize;
use serde_json::{Value, json};

use services::{Page, Proxy, Route, Service};

/// Services per `discover` page; each costs one more request for its routes.
const PAGE_SIZE: usize = 100;
/// The tag on every consumer and key the portal made.
const TAG: &str = "portico";
/// The tag on keys whose value Kong generated, so a retry finds them again.
const GENERATED_TAG: &str = "portico-generated";

struct Kong;

/// The instance's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    admin_url: String,
    proxy_url: Option<String>,
    tags: Option<Vec<String>>,
    consumer_prefix: Option<String>,
    admin_token_header: Option<String>,
}

impl Connector for Kong {
    fn describe() -> Result<GatewayInfo, PluginError> {
        let admin = Admin::new(load_config()?)?;
        let node: Value = admin.check(admin.send("GET", "/", None)?)?.json()?;
        let Some(version) = node.get("version").and_then(Value::as_str) else {
            return Err(PluginError::Unreachable(format!(
                "{}/ answered JSON that is not Kong's node information",
                admin.base
            )));
        };
        let mut info = GatewayInfo::new(
            "kong",
            vec![
                Capability::Discover,
                Capability::PortalKey,
                Capability::GatewayKey,
                Capability::KeyReadback,
                Capability::KeyDelete,
                Capability::UsagePush,
                Capability::UsagePerKey,
                Capability::UsageStatus,
                Capability::UsageLatency,
            ],
        );
        info.version = Some(version.to_owned());
        Ok(info)
    }

    fn discover(page: Option<String>) -> Result<DiscoveryPage, PluginError> {
        let config = load_config()?;
        let proxy_url = config
            .proxy_url
            .clone()
            .unwrap_or_else(|| "http://localhost:8000".into());
        let proxy = Proxy::parse(&proxy_url).ok_or_else(|| {
            PluginError::InvalidConfig(format!(
                "`proxy_url` must be an http(s) URL, not `{proxy_url}`"
            ))
        })?;
        let tags = config.tags.clone().unwrap_or_default();
        let admin = Admin::new(config)?;

        let mut path = format!("/services?size={PAGE_SIZE}");
        if let Some(offset) = &page {
            path.push_str(&format!("&offset={}", encode(offset)));
        }
        if !tags.is_empty() {
            path.push_str(&format!("&tags={}", encode(&tags.join(","))));
        }
        let services: Page<Service> = admin.list(&path)?;
        let mut apis = Vec::new();
        for service in services.data.iter().filter(|s| s.enabled()) {
            let routes =
                admin.all::<Route>(&format!("/services/{}/routes", encode(&service.id)))?;
            apis.push(services::api(service, &routes, &proxy));
        }
        let mut result = DiscoveryPage::new(apis);
        result.next = services.next_offset();
        Ok(result)
    }

    /// Kong keeps no specs: every API is `spec-available: false`.
    fn fetch_spec(
        _api_id: String,
        _environment: Option<String>,
    ) -> Result<Option<SpecDocument>, PluginError> {
        Ok(None)
    }

    fn provision_credential(request: CredentialRequest) -> Result<Provisioned, PluginError> {
        let config = load_config()?;
        let prefix = config
            .consumer_prefix
            .clone()
            .unwrap_or_else(|| "portico-".into());
        let admin = Admin::new(config)?;
        let username = format!("{prefix}{}", path_safe(&request.app_id));
        let mut tags = vec![TAG.to_owned()];
        tags.extend(request.labels.iter().map(|(k, v)| tag(&format!("{k}:{v}"))));
        let mut body = json!({ "tags": tags });
        // Checked before anything is made, so a refused request leaves nothing behind.
        if let Some(expires_at) = request.expires_at {
            body["ttl"] = json!(ttl_seconds(expires_at)?);
        }
        admin.ensure_consumer(&username, &request.app_id, &tags)?;

        let keys_path = format!("/consumers/{}/key-auth", encode(&username));
        match &request.key {
            KeySource::Portal(value) => {
                body["key"] = json!(value);
                let response = admin.send("POST", &keys_path, Some(&body))?;
                if response.status == 409 {
                    // A retry finds its own key; anyone else's is a conflict.
                    return match admin.find_key(&username, |k| k.key.as_deref() == Some(value))? {
                        Some(key) => Ok(provisioned(&username, &key, None)),
                        None => Err(PluginError::Conflict(format!(
                            "Kong holds this key value for another consumer than `{username}`"
                        ))),
                    };
                }
                let key: KeyAuth = admin.check_quiet(response, "creating a key")?.json()?;
                Ok(provisioned(&username, &key, None))
            }
            KeySource::Gateway => {
                if let Some(key) =
                    admin.find_key(&username, |k| k.tags.iter().any(|t| t == GENERATED_TAG))?
                {
                    let value = key.key.clone();
                    return Ok(provisioned(&username, &key, value));
                }
                body["tags"]
                    .as_array_mut()
                    .expect("tags is an array")
                    .push(json!(GENERATED_TAG));
                let response = admin.send("POST", &keys_path, Some(&body))?;
                let key: KeyAuth = admin.check_quiet(response, "creating a key")?.json()?;
                let value = key.key.clone().ok_or_else(|| {
                    PluginError::Unreachable(format!(
                        "{}{keys_path} answered a key without its value",
                        admin.base
                    ))
                })?;
                Ok(provisioned(&username, &key, Some(value)))
            }
        }
    }

    /// Kong's keys have no disabled state: both modes delete the key.
    fn revoke_credential(credential_ref: String, _mode: RevokeMode) -> Result<(), PluginError> {
        let admin = Admin::new(load_config()?)?;
        let Some((username, id)) = credential_ref.split_once('/') else {
            return Err(PluginError::NotFound(format!(
                "`{credential_ref}` is not a reference this connector made"
            )));
        };
        let path = format!("/consumers/{}/key-auth/{}", encode(username), encode(id));
        let response = admin.send("DELETE", &path, None)?;
        if response.status == 404 {
            return Ok(());
        }
        admin.check_quiet(response, "deleting a key")?;
        Ok(())
    }

    fn ingest_usage(_content_type: String, body: Vec<u8>) -> Result<Vec<UsageRecord>, PluginError> {
        usage::ingest(&body)
    }
}

export_connector!(Kong);

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

/// A key-auth credential (the fields used here).
#[derive(Debug, Deserialize)]
struct KeyAuth {
    id: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// A consumer (the fields used here).
#[derive(Debug, Deserialize)]
struct Consumer {
    #[serde(default)]
    custom_id: Option<String>,
}

fn provisioned(username: &str, key: &KeyAuth, value: Option<String>) -> Provisioned {
    Provisioned {
        credential_ref: format!("{username}/{}", key.id),
        key: value,
        secondary_key: None,
        readable_later: true,
        pending_approval: false,
    }
}

/// Kong's `ttl`: seconds from now until `expires_at`, rounded up.
fn ttl_seconds(expires_at: u64) -> Result<u64, PluginError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if expires_at <= now {
        return Err(PluginError::Internal(
            "the credential's expiry lies in the past".into(),
        ));
    }
    Ok((expires_at - now).div_ceil(1000))
}

/// The Admin API of one Kong, with its token.
struct Admin {
    base: String,
    token: Option<(String, String)>,
}

impl Admin {
    fn new(config: Config) -> Result<Admin, PluginError> {
        let header = config
            .admin_token_header
            .unwrap_or_else(|| "Kong-Admin-Token".into());
        Ok(Admin {
            base: config.admin_url.trim_end_matches('/').to_owned(),
            // Sent to this gateway's Admin API only; never logged.
            token: secret::get("admin_token").map(|token| (header, token)),
        })
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, PluginError> {
        let mut request = Request::new(method, format!("{}{path}", self.base))
            .header("accept", "application/json");
        if let Some((name, value)) = &self.token {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.json(body)?;
        }
        request.send()
    }

    /// An error status as a plugin error, with Kong's `message` (for calls
    /// whose answers hold no key values).
    fn check(&self, response: Response) -> Result<Response, PluginError> {
        if response.status < 400 {
            return Ok(response);
        }
        let message = kong_message(&response, "message");
        let error = response.error_for_status().expect_err("an error status");
        Err(match (error, message) {
            (PluginError::Unauthorized(m), Some(k)) => {
                PluginError::Unauthorized(format!("{m}: {k}"))
            }
            (PluginError::NotFound(m), Some(k)) => PluginError::NotFound(format!("{m}: {k}")),
            (PluginError::Unreachable(m), Some(k)) => PluginError::Unreachable(format!("{m}: {k}")),
            (error, _) => error,
        })
    }

    /// Like `check`, for answers about keys: Kong's messages can quote a key
    /// value, so only its error `name` is kept.
    fn check_quiet(&self, response: Response, doing: &str) -> Result<Response, PluginError> {
        if response.status < 400 {
            return Ok(response);
        }
        let name = kong_message(&response, "name");
        let status = response.status;
        let url = response.url.clone();
        match response.error_for_status() {
            Err(PluginError::Unreachable(_)) if (400..500).contains(&status) => {
                Err(PluginError::Internal(format!(
                    "Kong refused {doing} at {url}: {status}{}",
                    name.map(|n| format!(" ({n})")).unwrap_or_default()
                )))
            }
            other => other,
        }
    }

    /// One page of a list.
    fn list<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Page<T>, PluginError> {
        let response = self.check(self.send("GET", path, None)?)?;
        serde_json::from_slice(&response.body).map_err(|e| {
            PluginError::Unreachable(format!(
                "{} answered JSON that is not a Kong list: {e}",
                response.url
            ))
        })
    }

    /// Every page of a list.
    fn all<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, PluginError> {
        let mut items = Vec::new();
        let mut offset: Option<String> = None;
        // Kong lists at most 1000 a page; 50 pages bound a runaway cursor.
        for _ in 0..50 {
            let mut page_path = format!("{path}?size=1000");
            if let Some(offset) = &offset {
                page_path.push_str(&format!("&offset={}", encode(offset)));
            }
            let page: Page<T> = self.list(&page_path)?;
            let next = page.next_offset();
            items.extend(page.data);
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(items),
            }
        }
        Err(PluginError::Unreachable(format!(
            "{}{path} kept answering more pages",
            self.base
        )))
    }

    /// Makes sure the app's consumer exists; one that another app holds is a conflict.
    fn ensure_consumer(
        &self,
        username: &str,
        app_id: &str,
        tags: &[String],
    ) -> Result<(), PluginError> {
        let path = format!("/consumers/{}", encode(username));
        let response = self.send("GET", &path, None)?;
        if response.status != 404 {
            let consumer: Consumer = self.check(response)?.json()?;
            if consumer.custom_id.as_deref() == Some(app_id) {
                return Ok(());
            }
            return Err(PluginError::Conflict(format!(
                "Kong's consumer `{username}` belongs to another app"
            )));
        }
        let body = json!({ "username": username, "custom_id": app_id, "tags": tags });
        self.check(self.send("PUT", &path, Some(&body))?)?;
        Ok(())
    }

    /// The consumer's first key that `pick` chooses.
    fn find_key(
        &self,
        username: &str,
        pick: impl Fn(&KeyAuth) -> bool,
    ) -> Result<Option<KeyAuth>, PluginError> {
        let keys: Vec<KeyAuth> = self.all(&format!("/consumers/{}/key-auth", encode(username)))?;
        Ok(keys.into_iter().find(|k| pick(k)))
    }
}

/// A field of Kong's JSON error body (`{"message": ..., "name": ...}`), short.
fn kong_message(response: &Response, field: &str) -> Option<String> {
    let value: Value = serde_json::from_slice(&response.body).ok()?;
    let text = value.get(field)?.as_str()?;
    Some(text.chars().take(200).collect())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An app id as a consumer username: unreserved characters kept, others `-`.
fn path_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._~".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A Kong tag: printable ASCII without `,` and `/` (its list separators).
fn tag(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != ',' && c != '/' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags_are_made_safe_for_kong() {
        assert_eq!(encode("a b/c=="), "a%20b%2Fc%3D%3D");
        assert_eq!(path_safe("app 1/x"), "app-1-x");
        assert_eq!(tag("team:shop, eu/west"), "team:shop__eu_west");
    }

    #[test]
    fn ttl_rounds_up_and_refuses_the_past() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ttl = ttl_seconds(now + 90_500).unwrap();
        assert!((90..=91).contains(&ttl), "{ttl}");
        assert!(ttl_seconds(now - 1).is_err());
    }
}
