//! Where webhooks may go. An endpoint is an app owner's URL that the portal
//! calls from inside the operator's network, so by default it must be https
//! to a public address: checked on the URL when it is set, and on every
//! address the name resolves to when a delivery is sent (names can change).
//! `[webhooks] allow_insecure` lifts both rules, for tests and local work.

use std::net::IpAddr;
use std::time::Duration;

use portico_runtime::{AllowedHost, OutboundPolicy, is_public_address};
use url::{Host, Url};

use crate::fetch::{FetchLimits, HttpClient};

/// The longest endpoint URL accepted.
const MAX_URL_LEN: usize = 2048;

/// How long one delivery may take, connection included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a receiver's answer is kept (for the error shown to the owner).
const KEPT_BODY_BYTES: usize = 1024;

/// Checks an endpoint URL as it is set; the error says what to change.
pub fn check_url(text: &str, allow_insecure: bool) -> Result<Url, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the webhook URL is empty".into());
    }
    if text.len() > MAX_URL_LEN {
        return Err(format!(
            "the webhook URL is longer than {MAX_URL_LEN} characters"
        ));
    }
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        "http" => return Err("the webhook URL must use https".into()),
        other => {
            return Err(format!("the webhook URL must use https, not `{other}`"));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the webhook URL must not hold a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("the webhook URL must not hold a fragment (`#…`)".into());
    }
    let host = url
        .host()
        .ok_or_else(|| "the webhook URL has no host".to_owned())?;
    if !allow_insecure {
        let private = match host {
            Host::Ipv4(ip) => !is_public_address(IpAddr::V4(ip)),
            Host::Ipv6(ip) => !is_public_address(IpAddr::V6(ip)),
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost") || !name.contains('.')
            }
        };
        if private {
            return Err(format!(
                "the webhook URL's host `{host}` is a private, loopback or local address; \
                 use a public https endpoint"
            ));
        }
    }
    Ok(url)
}

/// The client deliveries are sent with: the same rules as [`check_url`],
/// applied again to every resolved address, a 10 s limit, no redirects.
pub fn client(allow_insecure: bool) -> HttpClient {
    let mut allowed = vec![AllowedHost::parse("https://*:*").expect("a valid pattern")];
    if allow_insecure {
        allowed.push(AllowedHost::parse("http://*:*").expect("a valid pattern"));
    }
    let policy = OutboundPolicy {
        allowed,
        allow_private_addresses: allow_insecure,
    };
    let limits = FetchLimits {
        connect_timeout: DELIVERY_TIMEOUT,
        total_timeout: DELIVERY_TIMEOUT,
        max_body_bytes: KEPT_BODY_BYTES,
        truncate_body: true,
        max_redirects: 0,
    };
    HttpClient::new(policy, limits, "[webhooks]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_must_be_public_https_unless_insecure_is_allowed() {
        assert!(check_url("https://hooks.example.com/portico", false).is_ok());
        assert!(check_url("https://93.184.216.34/hook", false).is_ok());
        for bad in [
            "",
            "hooks.example.com",
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://localhost/hook",
            "https://api.localhost/hook",
            "https://intranet/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.5/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
        let err = check_url("http://hooks.example.com/", false).unwrap_err();
        assert!(err.contains("https"), "{err}");
    }

    #[tokio::test]
    async fn deliveries_to_private_addresses_are_refused_before_any_request() {
        let url = Url::parse("https://127.0.0.1:9/hook").unwrap();
        let refused = client(false).check_destination(&url).await;
        assert!(
            matches!(refused, Err(crate::fetch::FetchError::NotAllowed(_))),
            "{refused:?}"
        );
        let http = Url::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(client(false).check_url(&http).is_err());
        assert!(client(true).check_destination(&http).await.is_ok());
    }
}
