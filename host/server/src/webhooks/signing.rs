//! Signing secrets and signatures in the Standard Webhooks format
//! (standardwebhooks.com): a secret is `whsec_` and base64, and a delivery is
//! signed with HMAC-SHA256 over `{id}.{timestamp}.{body}`, so receivers can
//! verify it with any of that standard's libraries.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// The prefix of a signing secret.
const PREFIX: &str = "whsec_";

/// Random bytes in a new secret (192 bits).
const SECRET_BYTES: usize = 24;

/// An app's signing secret, `whsec_` and base64. Its `Debug` hides it, so it
/// cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Secret {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        Secret(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// A stored secret; `None` unless it is `whsec_` and base64 of at least 16 bytes.
    pub fn parse(text: &str) -> Option<Secret> {
        let bytes = STANDARD.decode(text.strip_prefix(PREFIX)?).ok()?;
        (bytes.len() >= 16).then(|| Secret(text.to_owned()))
    }

    /// The secret as the app's owner copies it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key: the decoded bytes after the prefix.
    fn key(&self) -> hmac::Key {
        let encoded = self.0.strip_prefix(PREFIX).unwrap_or_default();
        // `parse` and `generate` only make secrets that decode.
        let bytes = STANDARD.decode(encoded).unwrap_or_default();
        hmac::Key::new(hmac::HMAC_SHA256, &bytes)
    }

    /// The `webhook-signature` header's value for a message: `v1,` and the
    /// base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.key());
        context.update(format!("{id}.{timestamp}.").as_bytes());
        context.update(body);
        format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_match_the_standard_webhooks_test_vector() {
        // The reference vector of the Standard Webhooks libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn webhook_secrets_are_random_whsec_base64_and_hidden_from_debug() {
        let one = Secret::generate();
        let two = Secret::generate();
        assert_ne!(one, two);
        assert!(one.expose().starts_with("whsec_"), "{}", one.expose());
        assert_eq!(Secret::parse(one.expose()), Some(one.clone()));
        assert!(!format!("{one:?}").contains(one.expose()));
        for bad in [
            "",
            "whsec_",
            "whsec_!!!",
            "sk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert!(Secret::parse(bad).is_none(), "{bad}");
        }
    }
}
