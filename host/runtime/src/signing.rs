//! Plugin signatures: ed25519 over a package's bytes, and the operator's trust policy.
//!
//! A publisher signs the SHA-256 of everything before the signature, bound to
//! the publisher's name, so neither the code, the manifest nor the claimed
//! name can change without breaking it. The signature travels as the last
//! custom section (`portico:signature`) or in a detached `.sig` file; both
//! hold the same small JSON document.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::package::{SIGNATURE_SECTION, push_custom_section, top_level_sections};

/// Why a package or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The package carries no signature and the policy requires one.
    #[error("unsigned: the package has no signature and `plugins.require_signatures` is on")]
    Unsigned,
    /// The signature does not match the package's bytes.
    #[error(
        "tampered: the signature by `{publisher}` does not match the package's content (changed after signing, or signed with another key)"
    )]
    Tampered {
        /// The publisher the signature claims.
        publisher: String,
    },
    /// A valid signature by a key the operator does not trust.
    #[error(
        "untrusted: signed by `{publisher}` with key {key}, which is not in `plugins.trusted_publishers`"
    )]
    Untrusted {
        /// The publisher the signature claims.
        publisher: String,
        /// The key that signed.
        key: String,
    },
    /// A signature, key or key file that cannot be read.
    #[error("{0}")]
    Malformed(String),
}

/// A publisher's public key, written `ed25519:<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses `ed25519:<base64 of 32 bytes>`.
    pub fn parse(text: &str) -> Result<PublicKey, SignatureError> {
        let bad = |why: &str| SignatureError::Malformed(format!("public key `{text}`: {why}"));
        let encoded = text
            .trim()
            .strip_prefix("ed25519:")
            .ok_or_else(|| bad("must start with `ed25519:`"))?;
        let bytes: [u8; 32] = BASE64
            .decode(encoded)
            .map_err(|e| bad(&e.to_string()))?
            .try_into()
            .map_err(|_| bad("must be 32 bytes"))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| bad("not a valid ed25519 point"))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", BASE64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A publisher's signing key and name, as kept in a key file.
pub struct SecretKey {
    publisher: String,
    key: SigningKey,
}

/// The key file's format (TOML).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    publisher: String,
    public_key: String,
    secret_key: String,
}

impl SecretKey {
    /// A new random key for `publisher`.
    pub fn generate(publisher: &str) -> Result<SecretKey, SignatureError> {
        check_publisher(publisher)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| SignatureError::Malformed(format!("no randomness: {e}")))?;
        Ok(SecretKey {
            publisher: publisher.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads a key file written by [`SecretKey::to_file`].
    pub fn parse(text: &str) -> Result<SecretKey, SignatureError> {
        let bad = |why: String| SignatureError::Malformed(format!("key file: {why}"));
        let file: KeyFile = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        check_publisher(&file.publisher)?;
        let seed: [u8; 32] = BASE64
            .decode(file.secret_key.trim())
            .map_err(|e| bad(format!("secret_key: {e}")))?
            .try_into()
            .map_err(|_| bad("secret_key must be 32 bytes".into()))?;
        let key = SecretKey {
            publisher: file.publisher,
            key: SigningKey::from_bytes(&seed),
        };
        if PublicKey::parse(&file.public_key)? != key.public_key() {
            return Err(bad("public_key does not belong to secret_key".into()));
        }
        Ok(key)
    }

    /// The key file's text (keep it secret: it signs as the publisher).
    pub fn to_file(&self) -> String {
        toml::to_string(&KeyFile {
            publisher: self.publisher.clone(),
            public_key: self.public_key().to_string(),
            secret_key: BASE64.encode(self.key.to_bytes()),
        })
        .expect("a key file serialises")
    }

    /// The publisher's name.
    pub fn publisher(&self) -> &str {
        &self.publisher
    }

    /// The public half, for operators' `trusted_publishers`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }
}

fn check_publisher(name: &str) -> Result<(), SignatureError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Malformed(format!(
            "publisher name `{name}` must be 1 to 64 letters, digits, spaces or -_."
        )))
    }
}

/// A signature, embedded as a custom section or kept in a `.sig` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Format version (1).
    pub version: u32,
    /// Who signed.
    pub publisher: String,
    /// The signing key (`ed25519:...`).
    pub key: String,
    /// The ed25519 signature, base64.
    pub signature: String,
}

impl Signature {
    /// Parses a signature document (the section's data or a `.sig` file).
    pub fn parse(bytes: &[u8]) -> Result<Signature, SignatureError> {
        serde_json::from_slice(bytes)
            .map_err(|e| SignatureError::Malformed(format!("signature: {e}")))
    }

    /// The document as text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a signature serialises")
    }
}

/// What a signature covers: the package minus its own signature section.
fn signed_message(content: &[u8], publisher: &str) -> Vec<u8> {
    let mut message = b"portico-plugin-signature-v1\0".to_vec();
    message.extend_from_slice(publisher.as_bytes());
    message.push(0);
    message.extend_from_slice(&Sha256::digest(content));
    message
}

/// Splits a package into its signed content and its embedded signature, if any.
pub fn split_signature(wasm: &[u8]) -> Result<(&[u8], Option<Signature>), SignatureError> {
    let sections =
        top_level_sections(wasm).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    match sections.last() {
        Some(last) if last.name == Some(SIGNATURE_SECTION) => {
            Ok((&wasm[..last.start], Some(Signature::parse(last.data)?)))
        }
        _ if sections.iter().any(|s| s.name == Some(SIGNATURE_SECTION)) => {
            Err(SignatureError::Malformed(
                "a signature section must be the package's last section".into(),
            ))
        }
        _ => Ok((wasm, None)),
    }
}

/// Signs a package (any earlier embedded signature is replaced).
pub fn sign(wasm: &[u8], key: &SecretKey) -> Result<Signature, SignatureError> {
    let (content, _) = split_signature(wasm)?;
    let signature = key.key.sign(&signed_message(content, &key.publisher));
    Ok(Signature {
        version: 1,
        publisher: key.publisher.clone(),
        key: key.public_key().to_string(),
        signature: BASE64.encode(signature.to_bytes()),
    })
}

/// The package with `signature` embedded as its last section.
pub fn embed(wasm: &[u8], signature: &Signature) -> Result<Vec<u8>, SignatureError> {
    let (content, _) = split_signature(wasm)?;
    let mut out = content.to_vec();
    push_custom_section(&mut out, SIGNATURE_SECTION, signature.to_json().as_bytes());
    Ok(out)
}

/// A publisher the operator trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedPublisher {
    /// The name signatures must claim.
    pub name: String,
    /// The key they must be made with.
    pub key: PublicKey,
}

/// The operator's rules for plugin packages.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Refuse packages without a trusted signature.
    pub require_signatures: bool,
    /// Who may sign.
    pub trusted: Vec<TrustedPublisher>,
}

/// What the check found about an accepted package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Trust {
    /// Built into this binary.
    Bundled,
    /// No signature (allowed because signatures are not required).
    Unsigned,
    /// A valid signature by a trusted publisher.
    Trusted {
        /// The publisher.
        publisher: String,
    },
    /// A valid signature by a publisher not in the trust list (allowed
    /// because signatures are not required).
    SignedUntrusted {
        /// The publisher the signature claims.
        publisher: String,
    },
}

impl TrustPolicy {
    /// Checks a package and its detached signature (if any) against the policy.
    ///
    /// A signature that does not match is refused even when signatures are not
    /// required: a broken signature means the file is not what was published.
    pub fn check(&self, wasm: &[u8], detached: Option<&[u8]>) -> Result<Trust, SignatureError> {
        let (content, embedded) = split_signature(wasm)?;
        let signature = match detached {
            Some(bytes) => Some(Signature::parse(bytes)?),
            None => embedded,
        };
        let Some(signature) = signature else {
            return if self.require_signatures {
                Err(SignatureError::Unsigned)
            } else {
                Ok(Trust::Unsigned)
            };
        };
        verify(content, &signature)?;
        let key = PublicKey::parse(&signature.key)?;
        let trusted = self
            .trusted
            .iter()
            .any(|t| t.name == signature.publisher && t.key == key);
        match (trusted, self.require_signatures) {
            (true, _) => Ok(Trust::Trusted {
                publisher: signature.publisher,
            }),
            (false, false) => Ok(Trust::SignedUntrusted {
                publisher: signature.publisher,
            }),
            (false, true) => Err(SignatureError::Untrusted {
                publisher: signature.publisher,
                key: signature.key,
            }),
        }
    }
}

/// Checks that `signature` was made over `content` by the key it names.
fn verify(content: &[u8], signature: &Signature) -> Result<(), SignatureError> {
    if signature.version != 1 {
        return Err(SignatureError::Malformed(format!(
            "signature format version {} is not supported (this host reads 1)",
            signature.version
        )));
    }
    let key = PublicKey::parse(&signature.key)?;
    let bytes: [u8; 64] = BASE64
        .decode(&signature.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SignatureError::Malformed("signature: not 64 base64 bytes".into()))?;
    key.0
        .verify_strict(
            &signed_message(content, &signature.publisher),
            &ed25519_dalek::Signature::from_bytes(&bytes),
        )
        .map_err(|_| SignatureError::Tampered {
            publisher: signature.publisher.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "id = \"p\"\nversion = \"1.0.0\"\nworld = \"sandbox\"\nwit = \"^0.1\"\n";

    fn package() -> Vec<u8> {
        crate::package::pack(b"\0asm\x0d\0\x01\0", MANIFEST, None).unwrap()
    }

    fn trusting(key: &SecretKey) -> TrustPolicy {
        TrustPolicy {
            require_signatures: true,
            trusted: vec![TrustedPublisher {
                name: key.publisher().to_owned(),
                key: key.public_key(),
            }],
        }
    }

    #[test]
    fn key_files_round_trip_and_public_keys_parse() {
        let key = SecretKey::generate("acme").unwrap();
        let again = SecretKey::parse(&key.to_file()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(again.publisher(), "acme");
        let text = key.public_key().to_string();
        assert_eq!(PublicKey::parse(&text).unwrap(), key.public_key());
        assert!(PublicKey::parse("ed25519:AAAA").is_err());
        assert!(PublicKey::parse("rsa:AAAA").is_err());
        assert!(SecretKey::generate("").is_err());
    }

    #[test]
    fn embedded_signature_by_a_trusted_publisher_is_accepted() {
        let key = SecretKey::generate("acme").unwrap();
        let signed = embed(&package(), &sign(&package(), &key).unwrap()).unwrap();
        assert_eq!(
            trusting(&key).check(&signed, None),
            Ok(Trust::Trusted {
                publisher: "acme".into()
            })
        );
        // The signed content is the package itself: signing again replaces.
        let resigned = embed(&signed, &sign(&signed, &key).unwrap()).unwrap();
        assert_eq!(resigned.len(), signed.len());
    }

    #[test]
    fn detached_signature_checks_the_same_content() {
        let key = SecretKey::generate("acme").unwrap();
        let sig = sign(&package(), &key).unwrap().to_json();
        let policy = trusting(&key);
        assert!(policy.check(&package(), Some(sig.as_bytes())).is_ok());
        let other =
            crate::package::pack(&package(), &MANIFEST.replace("p\"", "q\""), None).unwrap();
        assert!(matches!(
            policy.check(&other, Some(sig.as_bytes())),
            Err(SignatureError::Tampered { .. })
        ));
    }

    #[test]
    fn unsigned_tampered_and_untrusted_packages_are_refused_by_name() {
        let key = SecretKey::generate("acme").unwrap();
        let policy = trusting(&key);
        assert_eq!(
            policy.check(&package(), None),
            Err(SignatureError::Unsigned)
        );

        let signed = embed(&package(), &sign(&package(), &key).unwrap()).unwrap();
        let mut tampered =
            crate::package::pack(&signed, &MANIFEST.replace("1.0.0", "6.6.6"), None).unwrap();
        let signature = split_signature(&signed).unwrap().1.unwrap();
        tampered = embed(&tampered, &signature).unwrap();
        assert_eq!(
            policy.check(&tampered, None),
            Err(SignatureError::Tampered {
                publisher: "acme".into()
            })
        );

        let stranger = SecretKey::generate("acme").unwrap();
        let by_stranger = embed(&package(), &sign(&package(), &stranger).unwrap()).unwrap();
        let err = policy.check(&by_stranger, None).unwrap_err();
        assert!(matches!(err, SignatureError::Untrusted { .. }), "{err}");
        assert!(err.to_string().starts_with("untrusted"), "{err}");
    }

    #[test]
    fn without_required_signatures_only_broken_ones_are_refused() {
        let key = SecretKey::generate("acme").unwrap();
        let open = TrustPolicy::default();
        assert_eq!(open.check(&package(), None), Ok(Trust::Unsigned));
        let signed = embed(&package(), &sign(&package(), &key).unwrap()).unwrap();
        assert_eq!(
            open.check(&signed, None),
            Ok(Trust::SignedUntrusted {
                publisher: "acme".into()
            })
        );
        let mut forged = split_signature(&signed).unwrap().1.unwrap();
        forged.publisher = "trusted-corp".into();
        let forged = embed(&package(), &forged).unwrap();
        assert!(matches!(
            open.check(&forged, None),
            Err(SignatureError::Tampered { .. })
        ));
    }
}
