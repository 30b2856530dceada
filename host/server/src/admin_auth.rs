//! The stand-in for sign-in on write routes: a handler that takes [`Admin`]
//! runs only for `Authorization: Bearer <admin_token>`. Role-based access
//! replaces this module, and only this module, when it lands.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::ApiError;
use crate::state::AppState;

/// The configured admin token; never printed.
#[derive(Clone)]
pub struct AdminToken {
    /// SHA-256 of the token: compared in constant time, whatever the length.
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// Resolves `admin_token` (`env:VAR` or `file:/path`); an empty token is refused.
    pub fn resolve(reference: &str) -> anyhow::Result<AdminToken> {
        use anyhow::Context as _;
        let token = crate::config::resolve_secret(reference).context("admin_token")?;
        if token.trim().is_empty() {
            anyhow::bail!("admin_token: the token is empty");
        }
        Ok(AdminToken::new(&token))
    }

    /// A token from its value.
    pub fn new(token: &str) -> AdminToken {
        AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `candidate` is the token.
    pub fn matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.digest.ct_eq(&digest).into()
    }
}

/// Proof that the request came from the administrator.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        let Some(token) = state.admin_token() else {
            return Err(ApiError::Forbidden(
                "write routes are disabled: set admin_token = \"env:VARIABLE\" (or \"file:/path\") in portico.toml and send it as `Authorization: Bearer <token>`".into(),
            ));
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
        match presented {
            Some(candidate) if token.matches(candidate) => Ok(Admin),
            Some(_) => Err(ApiError::Unauthorized(
                "the bearer token is not valid".into(),
            )),
            None => Err(ApiError::Unauthorized(
                "this route needs `Authorization: Bearer <admin_token>`".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves_and_are_never_printed() {
        let token = AdminToken::new("s3cret");
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre") && !token.matches("s3crett") && !token.matches(""));
        assert_eq!(format!("{token:?}"), "AdminToken(..)");
    }

    #[test]
    fn inline_or_empty_tokens_are_refused_without_echoing_them() {
        let err = format!("{:#}", AdminToken::resolve("hunter2").unwrap_err());
        assert!(
            err.starts_with("admin_token: ") && !err.contains("hunter2"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "\n").unwrap();
        let err = AdminToken::resolve(&format!("file:{}", file.display())).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        std::fs::write(&file, "tok\n").unwrap();
        let token = AdminToken::resolve(&format!("file:{}", file.display())).unwrap();
        assert!(token.matches("tok"));
    }
}
