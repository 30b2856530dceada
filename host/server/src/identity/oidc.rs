//! Single sign-on through an OpenID Connect provider: the authorization code
//! flow with PKCE (S256), state and nonce, the provider's discovery document
//! and keys (JWKS), and the checks an ID token must pass (signature, issuer,
//! audience, expiry, nonce) before its claims name a person.
//!
//! A flow in progress lives in memory for ten minutes, keyed by its `state`,
//! which the browser also carries in a cookie: the callback must come back
//! to the browser that started it, and only once.

mod jwt;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};
use portico_runtime::{AllowedHost, OutboundPolicy};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::random_hex;
use crate::config::OidcSettings;
use crate::fetch::{FetchLimits, HttpClient};

/// How long a started sign-in may take at the provider.
const FLOW_LIFETIME: Duration = Duration::from_secs(600);

/// The most sign-ins in progress at once; the oldest give way.
const MAX_FLOWS: usize = 10_000;

/// Clock skew allowed on `exp` and `iat`.
const LEEWAY_SECS: i64 = 60;

/// How long discovery and keys are trusted before they are read again.
const PROVIDER_TTL: Duration = Duration::from_secs(3600);

/// Why a sign-in through the provider failed; the text is for the person.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The callback does not belong to a sign-in this browser started (a
    /// wrong, expired or replayed state).
    #[error(
        "this sign-in link is not valid any more (it expired, was used already, or was started in another browser); please sign in again"
    )]
    UnknownState,
    /// The provider said no (the person cancelled, or a replayed code).
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    /// The provider cannot be reached or answers nonsense.
    #[error("the identity provider cannot be used: {0}")]
    Provider(String),
    /// The ID token fails a check.
    #[error("the identity provider's answer failed a check: {0}")]
    Token(String),
}

/// Who signed in, from the ID token and the user info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalPerson {
    /// `sub@issuer`: stable and unique across providers.
    pub external_id: String,
    /// A username to show and sign in with (`preferred_username`, else the email).
    pub username: String,
    /// `name`.
    pub display_name: String,
    /// `email`.
    pub email: String,
    /// Portal roles, from the role claim through the mapping (or the default role).
    pub roles: Vec<String>,
    /// Groups, from the group claim.
    pub groups: Vec<String>,
}

/// A sign-in started and not yet finished.
struct Flow {
    verifier: String,
    nonce: String,
    next: String,
    redirect_uri: String,
    started: Instant,
}

/// What the provider's discovery document says, and its keys.
#[derive(Clone)]
struct Provider {
    authorization_endpoint: Url,
    token_endpoint: Url,
    userinfo_endpoint: Option<Url>,
    /// Whether the token endpoint takes the secret as form fields only.
    secret_in_form: bool,
    keys: jwt::Jwks,
    read_at: Instant,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

/// The portal's client at one OpenID Connect provider.
pub struct Oidc {
    settings: OidcSettings,
    issuer: Url,
    http: HttpClient,
    provider: tokio::sync::Mutex<Option<Provider>>,
    flows: Mutex<HashMap<String, Flow>>,
}

impl Oidc {
    /// A client for `[auth.oidc]` (checked when the configuration loaded).
    pub fn new(settings: &OidcSettings) -> anyhow::Result<Oidc> {
        let issuer = Url::parse(&settings.issuer)?;
        // Discovery may point the endpoints at other hosts of the provider;
        // those are added to the policy when the document has been read.
        let http = client(settings, &[&issuer])?;
        Ok(Oidc {
            settings: settings.clone(),
            issuer,
            http,
            provider: tokio::sync::Mutex::new(None),
            flows: Mutex::new(HashMap::new()),
        })
    }

    /// The sign-in button's text.
    pub fn button(&self) -> &str {
        &self.settings.button
    }

    /// The callback URL: configured, or this portal's on `origin` (scheme and host).
    pub fn redirect_uri(&self, origin: &str) -> String {
        self.settings
            .redirect_url
            .clone()
            .unwrap_or_else(|| format!("{origin}/auth/oidc/callback"))
    }

    /// Starts a sign-in: the provider URL to send the browser to, and the
    /// `state` the browser must keep (in a cookie) for the callback.
    pub async fn begin(
        &self,
        next: &str,
        redirect_uri: String,
    ) -> Result<(Url, String), OidcError> {
        let provider = self.provider(false).await?;
        let state = random_hex(32);
        let nonce = random_hex(32);
        let verifier = random_hex(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(
            self.settings
                .scopes
                .iter()
                .filter(|s| *s != "openid")
                .cloned(),
        );
        let mut url = provider.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut flows = self.flows.lock().unwrap_or_else(|e| e.into_inner());
        flows.retain(|_, f| f.started.elapsed() < FLOW_LIFETIME);
        if flows.len() >= MAX_FLOWS
            && let Some(oldest) = flows
                .iter()
                .min_by_key(|(_, f)| f.started)
                .map(|(k, _)| k.clone())
        {
            flows.remove(&oldest);
        }
        flows.insert(
            state.clone(),
            Flow {
                verifier,
                nonce,
                next: next.to_owned(),
                redirect_uri,
                started: Instant::now(),
            },
        );
        Ok((url, state))
    }

    /// Finishes a sign-in: `state` from the query must equal the browser's
    /// `cookie_state` and name a flow in progress (used up here, so a replay
    /// fails); the code is exchanged and the ID token checked. Returns the
    /// person and where to send them.
    pub async fn finish(
        &self,
        state: &str,
        cookie_state: Option<&str>,
        code: &str,
    ) -> Result<(ExternalPerson, String), OidcError> {
        if cookie_state != Some(state) {
            return Err(OidcError::UnknownState);
        }
        let flow = self
            .flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(state)
            .filter(|f| f.started.elapsed() < FLOW_LIFETIME)
            .ok_or(OidcError::UnknownState)?;
        let provider = self.provider(false).await?;
        let answer = self.exchange(&provider, &flow, code).await?;
        let id_token = answer
            .id_token
            .ok_or_else(|| OidcError::Token("the token answer has no id_token".into()))?;
        let claims = match jwt::verify(&id_token, &provider.keys) {
            // The provider may have rotated its keys since they were read.
            Err(jwt::JwtError::UnknownKey(_)) => {
                let fresh = self.provider(true).await?;
                jwt::verify(&id_token, &fresh.keys)
            }
            other => other,
        }
        .map_err(|e| OidcError::Token(e.to_string()))?;
        self.check_claims(&claims, &flow.nonce)?;
        let mut claims = claims;
        if let (Some(endpoint), Some(token)) = (&provider.userinfo_endpoint, &answer.access_token) {
            let info = self.userinfo(endpoint, token).await?;
            if info.get("sub") != claims.get("sub") {
                return Err(OidcError::Token(
                    "the user info is about someone else".into(),
                ));
            }
            for (key, value) in info {
                claims.entry(key).or_insert(value);
            }
        }
        Ok((self.person(&claims)?, flow.next))
    }

    /// The discovery document and keys, read when missing, stale or `refresh`.
    async fn provider(&self, refresh: bool) -> Result<Provider, OidcError> {
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref()
            && !refresh
            && p.read_at.elapsed() < PROVIDER_TTL
        {
            return Ok(p.clone());
        }
        let fail =
            |what: &str, e: &dyn std::fmt::Display| OidcError::Provider(format!("{what}: {e}"));
        let well_known = Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        ))
        .map_err(|e| fail("the issuer", &e))?;
        let text = self
            .http
            .get_text(&well_known)
            .await
            .map_err(|e| fail(well_known.as_str(), &e))?;
        let doc: Discovery =
            serde_json::from_str(&text).map_err(|e| fail("the discovery document", &e))?;
        if doc.issuer.trim_end_matches('/') != self.settings.issuer.trim_end_matches('/') {
            return Err(OidcError::Provider(format!(
                "the discovery document names issuer `{}`, not `{}`",
                doc.issuer, self.settings.issuer
            )));
        }
        let endpoint =
            |url: &str| Url::parse(url).map_err(|e| fail(&format!("the endpoint `{url}`"), &e));
        let authorization_endpoint = endpoint(&doc.authorization_endpoint)?;
        let token_endpoint = endpoint(&doc.token_endpoint)?;
        let jwks_uri = endpoint(&doc.jwks_uri)?;
        let userinfo_endpoint = doc.userinfo_endpoint.as_deref().map(endpoint).transpose()?;
        let mut hosts = vec![
            &self.issuer,
            &authorization_endpoint,
            &token_endpoint,
            &jwks_uri,
        ];
        hosts.extend(userinfo_endpoint.as_ref());
        let http = client(&self.settings, &hosts).map_err(|e| fail("an endpoint", &e))?;
        let keys = http
            .get_text(&jwks_uri)
            .await
            .map_err(|e| fail(jwks_uri.as_str(), &e))?;
        let keys: jwt::Jwks =
            serde_json::from_str(&keys).map_err(|e| fail("the keys (JWKS)", &e))?;
        let methods = doc
            .token_endpoint_auth_methods_supported
            .unwrap_or_default();
        let provider = Provider {
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint,
            secret_in_form: !methods.is_empty()
                && !methods.iter().any(|m| m == "client_secret_basic")
                && methods.iter().any(|m| m == "client_secret_post"),
            keys,
            read_at: Instant::now(),
        };
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Trades the code (with the PKCE verifier and the client's secret) for tokens.
    async fn exchange(
        &self,
        provider: &Provider,
        flow: &Flow,
        code: &str,
    ) -> Result<TokenAnswer, OidcError> {
        let secret = crate::config::resolve_secret(&self.settings.client_secret)
            .map_err(|e| OidcError::Provider(format!("auth.oidc.client_secret: {e:#}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if !provider.secret_in_form {
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = STANDARD.encode(format!(
                "{}:{}",
                encode(&self.settings.client_id),
                encode(&secret)
            ));
            let value = HeaderValue::from_str(&format!("Basic {basic}"))
                .map_err(|e| OidcError::Provider(e.to_string()))?;
            headers.insert(header::AUTHORIZATION, value);
        }
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", &flow.redirect_uri)
                .append_pair("code_verifier", &flow.verifier)
                .append_pair("client_id", &self.settings.client_id);
            if provider.secret_in_form {
                form.append_pair("client_secret", &secret);
            }
            form.finish()
        };
        let answer = self
            .http
            .send(
                Method::POST,
                &provider.token_endpoint,
                headers,
                Bytes::from(form),
            )
            .await
            .map_err(|e| OidcError::Provider(format!("{}: {e}", provider.token_endpoint)))?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if !answer.status.is_success() {
            let error = body["error"].as_str().unwrap_or("no reason given");
            let description = body["error_description"].as_str().unwrap_or_default();
            return Err(OidcError::Refused(
                format!("{error} {description}").trim().to_owned(),
            ));
        }
        serde_json::from_value(body)
            .map_err(|e| OidcError::Provider(format!("the token answer: {e}")))
    }

    /// The claims of the user info endpoint.
    async fn userinfo(
        &self,
        endpoint: &Url,
        access_token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let mut headers = HeaderMap::new();
        let bearer = HeaderValue::from_str(&format!("Bearer {access_token}"))
            .map_err(|_| OidcError::Provider("the access token is not a header value".into()))?;
        headers.insert(header::AUTHORIZATION, bearer);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let answer = self
            .http
            .send(Method::GET, endpoint, headers, Bytes::new())
            .await
            .map_err(|e| OidcError::Provider(format!("{endpoint}: {e}")))?;
        if !answer.status.is_success() {
            return Err(OidcError::Provider(format!(
                "{endpoint} answered {}",
                answer.status
            )));
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| OidcError::Provider(format!("the user info: {e}")))
    }

    /// Issuer, audience, authorised party, expiry, issue time and nonce.
    fn check_claims(&self, claims: &Map<String, Value>, nonce: &str) -> Result<(), OidcError> {
        let bad = |why: String| Err(OidcError::Token(why));
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if issuer.trim_end_matches('/') != self.settings.issuer.trim_end_matches('/') {
            return bad(format!("it was issued by `{issuer}`"));
        }
        let client = self.settings.client_id.as_str();
        let audience: Vec<&str> = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audience.contains(&client) {
            return bad("it is meant for another client".into());
        }
        if audience.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(client) {
            return bad("it was handed to another client".into());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let time = |name: &str| claims.get(name).and_then(Value::as_i64);
        match time("exp") {
            Some(exp) if exp + LEEWAY_SECS > now => {}
            _ => return bad("it has expired".into()),
        }
        if time("iat").is_some_and(|iat| iat > now + LEEWAY_SECS) {
            return bad("it was issued in the future".into());
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return bad("its nonce is not this sign-in's".into());
        }
        Ok(())
    }

    /// The person the claims describe, with mapped roles and groups.
    fn person(&self, claims: &Map<String, Value>) -> Result<ExternalPerson, OidcError> {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let subject = text("sub");
        if subject.is_empty() {
            return Err(OidcError::Token("it names no subject".into()));
        }
        let username = [text("preferred_username"), text("email"), subject.clone()]
            .into_iter()
            .map(|name| sanitise_username(&name))
            .find(|name| !name.is_empty())
            .unwrap_or_default();
        let values = |claim: &Option<String>| -> Vec<String> {
            match claim.as_deref().and_then(|c| claims.get(c)) {
                Some(Value::String(one)) => vec![one.clone()],
                Some(Value::Array(many)) => many
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut roles: Vec<String> = values(&self.settings.role_claim)
            .iter()
            .filter_map(|r| self.settings.role_mapping.get(r).cloned())
            .collect();
        if roles.is_empty() {
            roles.push(self.settings.default_role.clone());
        }
        roles.sort();
        roles.dedup();
        let mut groups: Vec<String> = values(&self.settings.group_claim)
            .iter()
            .map(|g| sanitise_username(g))
            .filter(|g| !g.is_empty())
            .collect();
        groups.sort();
        groups.dedup();
        Ok(ExternalPerson {
            external_id: format!("{subject}@{}", self.settings.issuer.trim_end_matches('/')),
            username,
            display_name: text("name"),
            email: text("email"),
            roles,
            groups,
        })
    }
}

/// A client reaching only the provider's hosts.
fn client(settings: &OidcSettings, urls: &[&Url]) -> anyhow::Result<HttpClient> {
    let allowed = urls
        .iter()
        .map(|url| {
            let origin = url.origin().ascii_serialization();
            AllowedHost::parse(&origin).map_err(|e| anyhow::anyhow!("auth.oidc: {origin}: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let policy = OutboundPolicy {
        allowed,
        allow_private_addresses: settings.allow_private_addresses,
    };
    let limits = FetchLimits {
        total_timeout: Duration::from_secs(10),
        max_body_bytes: 1024 * 1024,
        ..FetchLimits::default()
    };
    Ok(HttpClient::new(policy, limits, "[auth.oidc]"))
}

/// Keeps the characters a username may have (letters, digits, `.`, `_`, `-`, `@`), at most 64.
fn sanitise_username(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings() -> OidcSettings {
        toml::from_str(
            r#"
            issuer = "https://login.example.com"
            client_id = "portal"
            client_secret = "env:OIDC_SECRET"
            role_claim = "roles"
            group_claim = "groups"
            [role_mapping]
            portal-admins = "admin"
            "#,
        )
        .unwrap()
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut base = json!({
            "iss": "https://login.example.com", "aud": "portal", "sub": "u1",
            "exp": now + 300, "iat": now, "nonce": "n1",
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base.as_object().unwrap().clone()
    }

    #[test]
    fn a_token_for_this_client_and_sign_in_passes() {
        let oidc = Oidc::new(&settings()).unwrap();
        oidc.check_claims(&claims(json!({})), "n1").unwrap();
    }

    #[test]
    fn wrong_issuer_audience_nonce_or_an_expired_token_is_refused() {
        let oidc = Oidc::new(&settings()).unwrap();
        for (extra, why) in [
            (json!({"iss": "https://evil.example"}), "issued by"),
            (json!({"aud": "another"}), "another client"),
            (
                json!({"aud": ["portal", "x"], "azp": "x"}),
                "handed to another",
            ),
            (json!({"exp": 1}), "expired"),
            (json!({"nonce": "replayed"}), "nonce"),
        ] {
            let err = oidc
                .check_claims(&claims(extra), "n1")
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn claims_map_to_a_username_roles_and_groups() {
        let oidc = Oidc::new(&settings()).unwrap();
        let person = oidc
            .person(&claims(json!({
                "preferred_username": "ada lovelace", "email": "ada@example.com",
                "roles": ["portal-admins", "unmapped"], "groups": ["partners-acme"],
            })))
            .unwrap();
        assert_eq!(person.username, "adalovelace");
        assert_eq!(person.roles, ["admin"]);
        assert_eq!(person.groups, ["partners-acme"]);
        assert_eq!(person.external_id, "u1@https://login.example.com");
        let plain = oidc
            .person(&claims(json!({"email": "bob@example.com"})))
            .unwrap();
        assert_eq!(
            (plain.username.as_str(), plain.roles.as_slice()),
            ("bob@example.com", &["developer".to_owned()][..])
        );
    }

    #[tokio::test]
    async fn a_callback_without_its_browser_cookie_or_twice_is_refused() {
        let oidc = Oidc::new(&settings()).unwrap();
        oidc.flows.lock().unwrap().insert(
            "s1".into(),
            Flow {
                verifier: "v".into(),
                nonce: "n".into(),
                next: "/".into(),
                redirect_uri: "https://portal/auth/oidc/callback".into(),
                started: Instant::now(),
            },
        );
        let other_browser = oidc.finish("s1", Some("s2"), "code").await.unwrap_err();
        assert!(matches!(other_browser, OidcError::UnknownState));
        let unknown = oidc.finish("nope", Some("nope"), "code").await.unwrap_err();
        assert!(matches!(unknown, OidcError::UnknownState));
    }
}
