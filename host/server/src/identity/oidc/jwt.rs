//! Checking an ID token's signature against the provider's published keys
//! (JWKS), with ring, which the TLS stack already builds: RS256/384/512,
//! PS256/384/512, ES256/384 and EdDSA. `none` and shared-secret (HS*)
//! tokens are refused: a provider's public keys are the only trust anchor.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Jwks {
    /// The keys.
    pub(super) keys: Vec<Jwk>,
}

/// One public key of a [`Jwks`] (RFC 7517); private members are ignored.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Jwk {
    /// `RSA`, `EC` or `OKP`.
    pub(super) kty: String,
    /// The key id the token's header names.
    #[serde(default)]
    pub(super) kid: Option<String>,
    /// `sig` for signing keys; `enc` keys are skipped.
    #[serde(default, rename = "use")]
    pub(super) use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// Why a token is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum JwtError {
    /// Not three base64url parts with JSON in the first two.
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    /// An algorithm this portal does not accept.
    #[error("the ID token's algorithm `{0}` is not accepted")]
    Algorithm(String),
    /// No published key fits the token's header; the set may have rotated.
    #[error("no key of the provider matches the ID token (kid {0:?})")]
    UnknownKey(Option<String>),
    /// The signature does not verify.
    #[error("the ID token's signature does not verify")]
    BadSignature,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// Verifies `token`'s signature with the matching key of `keys`; returns its claims.
pub(super) fn verify(token: &str, keys: &Jwks) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("it does not have three parts"));
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed("a part is not base64url"))
    };
    let head: Header = serde_json::from_slice(&decode(header)?)
        .map_err(|_| JwtError::Malformed("the header is not JSON"))?;
    let kty = match head.alg.as_str() {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => "RSA",
        "ES256" | "ES384" => "EC",
        "EdDSA" => "OKP",
        other => return Err(JwtError::Algorithm(other.to_owned())),
    };
    let signed = &token.as_bytes()[..header.len() + 1 + payload.len()];
    let signature = decode(signature)?;
    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| k.kty == kty && k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| head.kid.is_none() || k.kid == head.kid)
        .collect();
    if candidates.is_empty() {
        return Err(JwtError::UnknownKey(head.kid));
    }
    if !candidates
        .iter()
        .any(|key| verifies(&head.alg, key, signed, &signature))
    {
        return Err(JwtError::BadSignature);
    }
    serde_json::from_slice(&decode(payload)?)
        .map_err(|_| JwtError::Malformed("the claims are not a JSON object"))
}

/// Whether `signature` over `signed` verifies with `key` under `alg`.
fn verifies(alg: &str, key: &Jwk, signed: &[u8], signature: &[u8]) -> bool {
    let part = |value: &Option<String>| {
        value
            .as_deref()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
            let (Some(n), Some(e)) = (part(&key.n), part(&key.e)) else {
                return false;
            };
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, signed, signature)
                .is_ok()
        }
        "ES256" | "ES384" => {
            let (params, curve): (&'static signature::EcdsaVerificationAlgorithm, _) = match alg {
                "ES256" => (&signature::ECDSA_P256_SHA256_FIXED, "P-256"),
                _ => (&signature::ECDSA_P384_SHA384_FIXED, "P-384"),
            };
            let (Some(x), Some(y)) = (part(&key.x), part(&key.y)) else {
                return false;
            };
            if key.crv.as_deref() != Some(curve) {
                return false;
            }
            let point = [&[4u8][..], &x, &y].concat();
            UnparsedPublicKey::new(params, point)
                .verify(signed, signature)
                .is_ok()
        }
        "EdDSA" => match (key.crv.as_deref(), part(&key.x)) {
            (Some("Ed25519"), Some(x)) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(signed, signature)
                .is_ok(),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};

    use super::*;

    /// A token signed by a fresh Ed25519 key, and that key as a JWKS.
    fn signed(claims: &str, kid: &str) -> (String, Jwks) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#));
        let payload = URL_SAFE_NO_PAD.encode(claims);
        let signed = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(pair.sign(signed.as_bytes()));
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = serde_json::from_value(serde_json::json!({
            "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x, "use": "sig" }]
        }))
        .unwrap();
        (format!("{signed}.{signature}"), jwks)
    }

    #[test]
    fn a_token_signed_by_a_published_key_verifies() {
        let (token, jwks) = signed(r#"{"sub":"ada"}"#, "k1");
        assert_eq!(verify(&token, &jwks).unwrap()["sub"], "ada");
    }

    #[test]
    fn forged_unsigned_and_unknown_key_tokens_are_refused() {
        let (token, jwks) = signed(r#"{"sub":"ada"}"#, "k1");
        // The claims changed after signing.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"mallory"}"#);
        parts[1] = &forged;
        assert_eq!(verify(&parts.join("."), &jwks), Err(JwtError::BadSignature));
        // alg none, and a shared-secret algorithm.
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
            let token = format!("{header}.{}.", parts[1]);
            assert_eq!(verify(&token, &jwks), Err(JwtError::Algorithm(alg.into())));
        }
        // Signed by another key with the same kid.
        let (other, _) = signed(r#"{"sub":"ada"}"#, "k1");
        assert_eq!(verify(&other, &jwks), Err(JwtError::BadSignature));
        let (rotated, _) = signed(r#"{"sub":"ada"}"#, "k2");
        assert_eq!(
            verify(&rotated, &jwks),
            Err(JwtError::UnknownKey(Some("k2".into())))
        );
        assert!(matches!(verify("a.b", &jwks), Err(JwtError::Malformed(_))));
    }
}
