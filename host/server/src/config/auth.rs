//! `[auth]`: sign-in and sessions (sign-up, cookie security, lifetimes,
//! failed sign-in limits), what anonymous visitors may read, custom roles
//! (`[auth.roles.<name>] permissions = [...]`) next to the built-in ones, and
//! single sign-on through an OpenID Connect provider (`[auth.oidc]`), and
//! SCIM 2.0 provisioning (`[auth.scim]`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::identity::roles::{BUILTIN_ROLES, PERMISSIONS};

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Whether visitors may create their own (developer) accounts at `/auth/signup`.
    pub signup: bool,
    /// Whether anonymous visitors may read the catalogue, its API pages and
    /// its API; off, everything but sign-in, assets and health needs an account.
    pub public_catalog: bool,
    /// When the session cookie is marked `Secure`: `auto` (when the request
    /// came over https, as `X-Forwarded-Proto` or `Forwarded` says), `always`
    /// or `never`.
    pub secure_cookies: SecureCookies,
    /// The longest a session lasts, in seconds, however active.
    pub session_lifetime_secs: u64,
    /// A session unused this long, in seconds, ends.
    pub idle_timeout_secs: u64,
    /// Failed sign-ins allowed per username and address within the window.
    pub max_failed_logins: u32,
    /// The window of `max_failed_logins`, in seconds.
    pub failed_login_window_secs: u64,
    /// Custom roles by name, each with its permissions.
    pub roles: BTreeMap<String, RoleSettings>,
    /// Sign-in through an OpenID Connect provider.
    pub oidc: Option<OidcSettings>,
    /// SCIM 2.0 provisioning at `/scim/v2`; none: those routes answer 404.
    pub scim: Option<ScimSettings>,
}

/// `[auth.scim]`: the identity provider's access to `/scim/v2`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimSettings {
    /// The bearer token the provider sends, by reference (`env:VAR` or `file:/path`).
    pub token: String,
    /// The role of every account the provider creates.
    #[serde(default = "default_oidc_role")]
    pub default_role: String,
}

/// `[auth.oidc]`: the provider, this portal's client at it, and how claims
/// become roles and groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer URL; its `/.well-known/openid-configuration` is read at the first sign-in.
    pub issuer: String,
    /// This portal's client id at the provider.
    pub client_id: String,
    /// The client secret, by reference (`env:VAR` or `file:/path`).
    pub client_secret: String,
    /// Scopes asked for; `openid` is always included.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The sign-in button's text.
    #[serde(default = "default_button")]
    pub button: String,
    /// The callback registered at the provider; default: this portal's
    /// `/auth/oidc/callback` on the host the browser used.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// The claim listing the person's roles at the provider (a string or an array).
    #[serde(default)]
    pub role_claim: Option<String>,
    /// Provider role (a value of `role_claim`) to portal role.
    #[serde(default)]
    pub role_mapping: BTreeMap<String, String>,
    /// The claim listing the person's groups; its values become portal groups.
    #[serde(default)]
    pub group_claim: Option<String>,
    /// The role of a person none of whose provider roles is mapped.
    #[serde(default = "default_oidc_role")]
    pub default_role: String,
    /// Whether the provider may be on a private or loopback address (development).
    #[serde(default)]
    pub allow_private_addresses: bool,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

fn default_button() -> String {
    "Sign in with single sign-on".to_owned()
}

fn default_oidc_role() -> String {
    "developer".to_owned()
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            signup: false,
            public_catalog: true,
            secure_cookies: SecureCookies::Auto,
            session_lifetime_secs: 12 * 3600,
            idle_timeout_secs: 2 * 3600,
            max_failed_logins: 5,
            failed_login_window_secs: 300,
            roles: BTreeMap::new(),
            oidc: None,
            scim: None,
        }
    }
}

/// `[auth] secure_cookies`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    /// `Secure` when the request came over https.
    #[default]
    Auto,
    /// Always `Secure` (a portal behind a TLS proxy that says nothing).
    Always,
    /// Never `Secure` (plain-http development only).
    Never,
}

/// `[auth.roles.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSettings {
    /// Permission names, e.g. `catalog.read`.
    pub permissions: Vec<String>,
}

impl AuthSettings {
    /// Checks custom roles: a name that is not built in and well formed, and
    /// permissions that exist; an error names the role and the culprit.
    pub fn check(&self) -> anyhow::Result<()> {
        for (name, role) in &self.roles {
            if BUILTIN_ROLES.contains(&name.as_str()) {
                anyhow::bail!("auth.roles.{name}: `{name}` is a built-in role");
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                anyhow::bail!(
                    "auth.roles.{name}: a role name is lower-case letters, digits and dashes"
                );
            }
            if let Some(unknown) = role
                .permissions
                .iter()
                .find(|p| !PERMISSIONS.contains(&p.as_str()))
            {
                anyhow::bail!(
                    "auth.roles.{name}: unknown permission `{unknown}` (known: {})",
                    PERMISSIONS.join(", ")
                );
            }
        }
        if let Some(oidc) = &self.oidc {
            oidc.check(|role| BUILTIN_ROLES.contains(&role) || self.roles.contains_key(role))?;
        }
        if let Some(scim) = &self.scim {
            let role = &scim.default_role;
            if !BUILTIN_ROLES.contains(&role.as_str()) && !self.roles.contains_key(role) {
                anyhow::bail!(
                    "auth.scim.default_role: `{role}` is neither built in nor in [auth.roles]"
                );
            }
            crate::scim::ScimToken::resolve(&scim.token)?;
        }
        if self.session_lifetime_secs == 0 || self.idle_timeout_secs == 0 {
            anyhow::bail!("auth: session_lifetime_secs and idle_timeout_secs must be positive");
        }
        Ok(())
    }
}

impl OidcSettings {
    /// Checks the URLs and that every mapped role exists; errors name the key.
    fn check(&self, role_exists: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        let url = |key: &str, value: &str| -> anyhow::Result<()> {
            let parsed = url::Url::parse(value)
                .map_err(|e| anyhow::anyhow!("auth.oidc.{key}: `{value}` is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                anyhow::bail!("auth.oidc.{key}: `{value}` must be an https (or http) URL");
            }
            Ok(())
        };
        url("issuer", &self.issuer)?;
        if let Some(redirect) = &self.redirect_url {
            url("redirect_url", redirect)?;
        }
        if self.client_id.is_empty() {
            anyhow::bail!("auth.oidc.client_id: must not be empty");
        }
        for role in self.role_mapping.values().chain([&self.default_role]) {
            if !role_exists(role) {
                anyhow::bail!("auth.oidc: role `{role}` is neither built in nor in [auth.roles]");
            }
        }
        super::resolve_secret(&self.client_secret)
            .map_err(|e| anyhow::anyhow!("auth.oidc.client_secret: {e:#}"))?;
        crate::identity::oidc::Oidc::new(self).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    use super::*;

    #[test]
    fn defaults_keep_the_catalogue_public_and_sign_up_closed() {
        let auth = Config::parse("").unwrap().auth;
        assert!(auth.public_catalog && !auth.signup);
        assert_eq!(auth.secure_cookies, SecureCookies::Auto);
        auth.check().unwrap();
    }

    #[test]
    fn custom_roles_are_read_and_bad_ones_are_named() {
        let auth = Config::parse("[auth]\nsigned_in = 1\n")
            .unwrap_err()
            .to_string();
        assert!(auth.contains("signed_in"), "{auth}");
        let c = Config::parse(
            "[auth]\nsecure_cookies = \"always\"\n[auth.roles.auditor]\npermissions = [\"audit.read\"]\n",
        )
        .unwrap();
        assert_eq!(c.auth.roles["auditor"].permissions, ["audit.read"]);
        c.auth.check().unwrap();
        let bad = Config::parse("[auth.roles.auditor]\npermissions = [\"audit.wipe\"]\n")
            .unwrap()
            .auth;
        let err = bad.check().unwrap_err().to_string();
        assert!(
            err.contains("auth.roles.auditor") && err.contains("audit.wipe"),
            "{err}"
        );
        let shadow = Config::parse("[auth.roles.admin]\npermissions = []\n")
            .unwrap()
            .auth;
        assert!(shadow.check().unwrap_err().to_string().contains("built-in"));
    }
}
