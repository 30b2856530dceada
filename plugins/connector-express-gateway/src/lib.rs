//! Portico's Express Gateway connector: reads API endpoints, service
//! endpoints and pipelines from Express Gateway's Admin API as APIs, and
//! issues key-auth credentials (`keyId:keySecret`) to portal apps, one
//! user per app, disabling and deleting them on revocation.

mod endpoints;

use portico_plugin_sdk::connector::{
    Capability, Connector, CredentialRequest, DiscoveryPage, GatewayInfo, KeySource, Provisioned,
    RevokeMode,
};
use portico_plugin_sdk::http::{Request, Response};
use portico_plugin_sdk::{PluginError, SpecDocument, config, export_connector, secret};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use endpoints::{ApiEndpoints, Gateway, Pipelines, ServiceEndpoints};

/// What a portal-chosen key must look like, said in `describe`.
const KEY_CONSTRAINTS: &str = "`keyId:keySecret`: a key id of letters, digits, `.`, `_`, `~` \
    and `-`, one colon, and a secret without a colon";

struct ExpressGateway;

/// The instance's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    admin_url: String,
    gateway_url: Option<String>,
    consumer_prefix: Option<String>,
}

impl Connector for ExpressGateway {
    fn describe() -> Result<GatewayInfo, PluginError> {
        let admin = Admin::new(&load_config()?);
        // Express Gateway reports no version; reading its API endpoints probes it.
        admin.get::<ApiEndpoints>("/api-endpoints")?;
        let mut info = GatewayInfo::new(
            "express-gateway",
            vec![
                Capability::Discover,
                Capability::PortalKey,
                Capability::GatewayKey,
                Capability::KeyReadback,
                Capability::KeyDisable,
                Capability::KeyDelete,
            ],
        );
        info.key_constraints = Some(KEY_CONSTRAINTS.into());
        Ok(info)
    }

    fn discover(_page: Option<String>) -> Result<DiscoveryPage, PluginError> {
        let config = load_config()?;
        let gateway_url = config
            .gateway_url
            .clone()
            .unwrap_or_else(|| "http://localhost:8080".into());
        let gateway = Gateway::parse(&gateway_url).ok_or_else(|| {
            PluginError::InvalidConfig(format!(
                "`gateway_url` must be an http(s) URL, not `{gateway_url}`"
            ))
        })?;
        let admin = Admin::new(&config);
        let api_endpoints: ApiEndpoints = admin.get("/api-endpoints")?;
        let service_endpoints: ServiceEndpoints = admin.get("/service-endpoints")?;
        let pipelines: Pipelines = admin.get("/pipelines")?;
        Ok(DiscoveryPage::new(endpoints::apis(
            &api_endpoints,
            &service_endpoints,
            &pipelines,
            &gateway,
        )))
    }

    /// Express Gateway keeps no specs: every API is `spec-available: false`.
    fn fetch_spec(
        _api_id: String,
        _environment: Option<String>,
    ) -> Result<Option<SpecDocument>, PluginError> {
        Ok(None)
    }

    fn provision_credential(request: CredentialRequest) -> Result<Provisioned, PluginError> {
        if request.expires_at.is_some() {
            return Err(PluginError::Unsupported(
                "Express Gateway's key-auth credentials do not expire".into(),
            ));
        }
        let config = load_config()?;
        let admin = Admin::new(&config);
        let prefix = config.consumer_prefix.as_deref().unwrap_or("portico-");
        let username = format!("{prefix}{}", path_safe(&request.app_id));
        // Checked before anything is made, so a refused key leaves nothing behind.
        let (key_id, secret) = match &request.key {
            KeySource::Portal(value) => {
                let (id, secret) = split_key(value)?;
                (id.to_owned(), Some(secret.to_owned()))
            }
            // One generated key per app, under a key id derived from the app,
            // so that a retry finds it again; Express Gateway makes the secret.
            KeySource::Gateway => (username.clone(), None),
        };
        let user_id = admin.ensure_user(&username, &request.app_id)?;

        let existing: Option<Credential> =
            admin.get(&format!("/credentials/key-auth/{}", encode(&key_id)))?;
        if let Some(existing) = existing {
            if existing.consumer_id != user_id {
                return Err(PluginError::Conflict(format!(
                    "Express Gateway holds key id `{key_id}` for another consumer than `{username}`"
                )));
            }
            let same_secret = secret.as_deref().is_none_or(|s| s == existing.key_secret);
            match (existing.is_active, same_secret) {
                // A retry: the same key, still active.
                (true, true) => return Ok(provisioned(&existing, secret.is_none())),
                (true, false) => {
                    return Err(PluginError::Conflict(format!(
                        "`{username}` already holds key id `{key_id}` with another secret"
                    )));
                }
                // A revoked key: created again below, with a new secret.
                (false, _) => {}
            }
        }
        let mut credential = json!({ "scopes": [], "keyId": key_id });
        if let Some(secret) = &secret {
            credential["keySecret"] = json!(secret);
        }
        let body = json!({ "consumerId": user_id, "type": "key-auth", "credential": credential });
        let response = admin.send("POST", "/credentials", Some(&body))?;
        let created: Credential = admin
            .check_quiet(response, "creating a credential")?
            .json()?;
        Ok(provisioned(&created, secret.is_none()))
    }

    /// `disable` deactivates the credential. `delete` deactivates it too (the
    /// Admin API has no route to delete one credential) and then, when the
    /// app's user holds no other active key, deletes that user, which deletes
    /// all its credentials.
    fn revoke_credential(credential_ref: String, mode: RevokeMode) -> Result<(), PluginError> {
        let config = load_config()?;
        let admin = Admin::new(&config);
        let path = format!("/credentials/key-auth/{}", encode(&credential_ref));
        let Some(credential) = admin.get::<Option<Credential>>(&path)? else {
            return Ok(());
        };
        if credential.is_active {
            let response = admin.send(
                "PUT",
                &format!("{path}/status"),
                Some(&json!({ "status": false })),
            )?;
            if response.status != 404 {
                admin.check_quiet(response, "deactivating a credential")?;
            }
        }
        if matches!(mode, RevokeMode::Disable) {
            return Ok(());
        }
        let prefix = config.consumer_prefix.as_deref().unwrap_or("portico-");
        let user_path = format!("/users/{}", encode(&credential.consumer_id));
        let Some(user) = admin.get::<Option<User>>(&user_path)? else {
            return Ok(());
        };
        if !user.username.starts_with(prefix) {
            // Not a user the portal made: keep it, and the deactivated key.
            return Ok(());
        }
        let held: CredentialList =
            admin.get(&format!("/credentials/{}", encode(&credential.consumer_id)))?;
        if held.credentials.iter().any(|c| c.is_active) {
            return Ok(());
        }
        let response = admin.send("DELETE", &user_path, None)?;
        if response.status != 404 {
            admin.check(response)?;
        }
        Ok(())
    }
}

export_connector!(ExpressGateway);

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
#[serde(rename_all = "camelCase")]
struct Credential {
    key_id: String,
    key_secret: String,
    consumer_id: String,
    #[serde(default)]
    is_active: bool,
}

#[derive(Debug, Deserialize)]
struct CredentialList {
    credentials: Vec<ListedCredential>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedCredential {
    #[serde(default)]
    is_active: bool,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    username: String,
    #[serde(default)]
    lastname: Option<String>,
}

/// The credential as `provisioned`; the key is returned only when the gateway made it.
fn provisioned(credential: &Credential, generated: bool) -> Provisioned {
    Provisioned {
        credential_ref: credential.key_id.clone(),
        key: generated.then(|| format!("{}:{}", credential.key_id, credential.key_secret)),
        secondary_key: None,
        readable_later: true,
        pending_approval: false,
    }
}

/// A portal key as Express Gateway's key id and secret.
fn split_key(value: &str) -> Result<(&str, &str), PluginError> {
    let refuse = || {
        PluginError::Unsupported(format!(
            "Express Gateway takes a portal-chosen key only as {KEY_CONSTRAINTS}"
        ))
    };
    let (id, secret) = value.split_once(':').ok_or_else(refuse)?;
    let id_ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~-".contains(c));
    if !id_ok || secret.is_empty() || secret.contains(':') {
        return Err(refuse());
    }
    Ok((id, secret))
}

/// The lastname that marks a user as the portal's, for one app.
fn marker(app_id: &str) -> String {
    format!("portico app {app_id}")
}

/// The Admin API of one Express Gateway.
struct Admin {
    base: String,
    token: Option<String>,
}

impl Admin {
    fn new(config: &Config) -> Admin {
        Admin {
            base: config.admin_url.trim_end_matches('/').to_owned(),
            // Sent to this gateway's Admin API only; never logged.
            token: secret::get("token"),
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, PluginError> {
        let mut request = Request::new(method, format!("{}{path}", self.base))
            .header("accept", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.json(body)?;
        }
        request.send()
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PluginError> {
        let response = self.check(self.send("GET", path, None)?)?;
        serde_json::from_slice(&response.body).map_err(|e| {
            PluginError::Unreachable(format!(
                "{} answered JSON that is not Express Gateway's: {e}",
                response.url
            ))
        })
    }

    /// An error status as a plugin error, with the gateway's own (text) message.
    fn check(&self, response: Response) -> Result<Response, PluginError> {
        if response.status < 400 {
            return Ok(response);
        }
        let message: String = String::from_utf8_lossy(&response.body)
            .chars()
            .take(200)
            .collect();
        let status = response.status;
        Err(match response.error_for_status() {
            Err(PluginError::Unreachable(m)) if (400..500).contains(&status) => {
                PluginError::Internal(format!("{m}: {}", message.trim()))
            }
            Err(PluginError::Unreachable(m)) => {
                PluginError::Unreachable(format!("{m}: {}", message.trim()))
            }
            Err(error) => error,
            Ok(_) => unreachable!("an error status"),
        })
    }

    /// Like `check`, for answers about credentials, whose messages are not repeated.
    fn check_quiet(&self, response: Response, doing: &str) -> Result<Response, PluginError> {
        if response.status < 400 {
            return Ok(response);
        }
        let (status, url) = (response.status, response.url.clone());
        match response.error_for_status() {
            Err(PluginError::Unreachable(_)) => Err(PluginError::Internal(format!(
                "Express Gateway refused {doing} at {url}: {status}"
            ))),
            other => other,
        }
    }

    /// The app's user, made when missing; one that another app holds is a conflict.
    fn ensure_user(&self, username: &str, app_id: &str) -> Result<String, PluginError> {
        let path = format!("/users/{}", encode(username));
        let response = self.send("GET", &path, None)?;
        if response.status != 404 {
            let user: User = self.check(response)?.json()?;
            if user.lastname.as_deref() == Some(marker(app_id).as_str()) {
                return Ok(user.id);
            }
            return Err(PluginError::Conflict(format!(
                "Express Gateway's user `{username}` belongs to another app"
            )));
        }
        let body = json!({ "username": username, "firstname": app_id, "lastname": marker(app_id) });
        let user: User = self
            .check(self.send("POST", "/users", Some(&body))?)?
            .json()?;
        Ok(user.id)
    }
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

/// An app id as a username: unreserved characters kept, others `-`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_keys_must_be_a_key_id_and_a_secret() {
        assert_eq!(split_key("app-1.k:s3cr3t").unwrap(), ("app-1.k", "s3cr3t"));
        for bad in [
            "nocolon",
            ":secret",
            "id:",
            "id:a:b",
            "i d:secret",
            "id/x:secret",
        ] {
            assert!(
                matches!(split_key(bad), Err(PluginError::Unsupported(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn gateway_made_keys_are_returned_as_id_colon_secret() {
        let credential = Credential {
            key_id: "portico-app".into(),
            key_secret: "s".into(),
            consumer_id: "u".into(),
            is_active: true,
        };
        assert_eq!(
            provisioned(&credential, true).key.as_deref(),
            Some("portico-app:s")
        );
        assert_eq!(provisioned(&credential, false).key, None);
        assert_eq!(path_safe("app 1/x"), "app-1-x");
    }
}
