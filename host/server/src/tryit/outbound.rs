//! Turns a try-it call into the one request the host may send: to a server
//! declared for the version, along the operation's own path template, with
//! the developer's headers minus those a proxy must not pass on, and the
//! credential where the operation's security scheme wants it. Also the
//! outbound policy for that one server, and the equivalent curl command.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use portico_catalog::Environment;
use portico_runtime::{AllowedHost, OutboundPolicy, is_public_address};
use url::{Host, Url};

use super::operations::{CredentialPlace, TryOperation};
use super::{TryCall, TryError};

/// What replaces the credential wherever a call is shown.
pub const MASK: &str = "***";

/// A server declared for a version: one of its environments with an http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredServer {
    /// The environment's name (`production`, `sandbox`...).
    pub name: String,
    /// The base URL as declared.
    pub url: Url,
}

/// The servers of a version that can be called: absolute http(s) URLs
/// without `{variables}`.
pub fn declared_servers(environments: &[Environment]) -> Vec<DeclaredServer> {
    environments
        .iter()
        .filter(|e| !e.url.contains('{'))
        .filter_map(|e| {
            let url = Url::parse(&e.url).ok()?;
            matches!(url.scheme(), "http" | "https").then(|| DeclaredServer {
                name: e.name.clone(),
                url,
            })
        })
        .collect()
}

/// The declared server a call names, by environment name or by URL; the only
/// one when the call names none.
pub fn choose<'d>(
    declared: &'d [DeclaredServer],
    asked: Option<&str>,
    what: &str,
) -> Result<&'d DeclaredServer, TryError> {
    let list = || {
        let names: Vec<String> = declared
            .iter()
            .map(|d| format!("{} ({})", d.name, d.url))
            .collect();
        if names.is_empty() {
            "it declares none".to_owned()
        } else {
            format!("declared: {}", names.join(", "))
        }
    };
    let asked = asked.map(str::trim).filter(|a| !a.is_empty());
    let Some(asked) = asked else {
        return match declared {
            [only] => Ok(only),
            _ => Err(TryError::Invalid(format!(
                "say which server of {what} to call: {}",
                list()
            ))),
        };
    };
    let same_url = |d: &&DeclaredServer| {
        Url::parse(asked)
            .is_ok_and(|u| u.as_str().trim_end_matches('/') == d.url.as_str().trim_end_matches('/'))
    };
    declared
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(asked))
        .or_else(|| declared.iter().find(same_url))
        .ok_or_else(|| {
            TryError::Refused(format!(
                "{asked} is not a server declared for {what}, and the console only calls declared servers ({})",
                list()
            ))
        })
}

/// The policy of one call: that server's origin and nothing else. Private,
/// loopback and link-local addresses are allowed when the declaration names
/// one literally (an IP address or `localhost`): a name that only resolves
/// to one is refused unless `[tryit] allow_private_addresses` says otherwise.
pub fn policy(server: &Url, allow_private_names: bool) -> Result<OutboundPolicy, TryError> {
    let port = server
        .port_or_known_default()
        .ok_or_else(|| TryError::Invalid(format!("{server} has no port")))?;
    let host = server
        .host()
        .ok_or_else(|| TryError::Invalid(format!("{server} has no host")))?;
    let names_private = match &host {
        Host::Ipv4(ip) => !is_public_address((*ip).into()),
        Host::Ipv6(ip) => !is_public_address((*ip).into()),
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
    };
    let origin = format!("{}://{host}:{port}", server.scheme());
    let allowed = AllowedHost::parse(&origin).map_err(TryError::Invalid)?;
    Ok(OutboundPolicy {
        allowed: vec![allowed],
        allow_private_addresses: names_private || allow_private_names,
    })
}

/// One request ready to send, with how to show it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The method.
    pub method: Method,
    /// The URL, credential included.
    pub url: Url,
    /// Headers with the text shown for each (the credential masked).
    pub headers: Vec<(HeaderName, HeaderValue, String)>,
    /// The body.
    pub body: Bytes,
    /// The query parameter that carries the credential, if one does.
    secret_query: Option<String>,
}

impl Outgoing {
    /// The headers to send.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value, _) in &self.headers {
            map.append(name.clone(), value.clone());
        }
        map
    }

    /// A URL as shown: the credential's query parameter masked.
    pub fn shown_url(&self, url: &Url) -> String {
        let Some(secret) = &self.secret_query else {
            return url.to_string();
        };
        let mut shown = url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == secret.as_str() {
                    MASK.into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
        shown.to_string()
    }

    /// The same request as a curl command, the credential masked.
    pub fn curl(&self) -> String {
        let mut line = format!(
            "curl -X {} {}",
            self.method,
            quote(&self.shown_url(&self.url))
        );
        for (name, _, shown) in &self.headers {
            line.push_str(&format!(" \\\n  -H {}", quote(&format!("{name}: {shown}"))));
        }
        if !self.body.is_empty() {
            let body = String::from_utf8_lossy(&self.body);
            line.push_str(&format!(" \\\n  --data-raw {}", quote(&body)));
        }
        line
    }
}

/// Single-quoted for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Builds the request of a call to an operation on a declared server.
pub fn build(
    op: &TryOperation,
    server: &DeclaredServer,
    call: &TryCall,
) -> Result<Outgoing, TryError> {
    let method = Method::from_bytes(op.method.as_bytes())
        .map_err(|_| TryError::Invalid(format!("{} is not an HTTP method", op.method)))?;
    let mut url = target_url(&server.url, &op.path, call)?;
    let mut headers = Vec::new();
    for (name, value) in &call.headers {
        if value.is_empty() {
            continue;
        }
        let name = forwardable(name)?;
        let shown = if name == header::AUTHORIZATION {
            masked_authorization(value)
        } else {
            value.clone()
        };
        headers.push((name, header_value(value)?, shown));
    }
    let body = call.body.clone().unwrap_or_default();
    if !body.is_empty() {
        let content_type = call
            .content_type
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| op.body.as_ref().map(|b| b.content_type.clone()))
            .unwrap_or_else(|| "application/json".to_owned());
        headers.retain(|(n, _, _)| n != header::CONTENT_TYPE);
        headers.push((
            header::CONTENT_TYPE,
            header_value(&content_type)?,
            content_type,
        ));
    }
    let mut secret_query = None;
    if let Some(credential) = call.credential.as_deref().filter(|c| !c.is_empty()) {
        // A portal key for an operation that declares no scheme goes where
        // gateways checking it with the portal's verify endpoint look first.
        let portal_key = CredentialPlace::Header("X-API-Key".into());
        let is_portal_key = crate::apps::keys::ApiKey::is_claimed_by(credential);
        let place = match op.credential.as_ref() {
            Some(place) => place,
            None if is_portal_key => &portal_key,
            None => {
                return Err(TryError::Invalid(format!(
                    "{} {} declares no security scheme, so a credential has nowhere to go",
                    op.method, op.path
                )));
            }
        };
        let mut inject = |name: HeaderName, value: String, shown: String| -> Result<(), TryError> {
            headers.retain(|(n, _, _)| *n != name);
            headers.push((name, header_value(&value)?, shown));
            Ok(())
        };
        match place {
            CredentialPlace::Header(name) => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    TryError::Invalid(format!(
                        "the spec's API key header `{name}` is not a header name"
                    ))
                })?;
                inject(name, credential.to_owned(), MASK.into())?;
            }
            CredentialPlace::Query(name) => {
                url.query_pairs_mut().append_pair(name, credential);
                secret_query = Some(name.clone());
            }
            CredentialPlace::Cookie(name) => {
                inject(
                    header::COOKIE,
                    format!("{name}={credential}"),
                    format!("{name}={MASK}"),
                )?;
            }
            CredentialPlace::Bearer => inject(
                header::AUTHORIZATION,
                format!("Bearer {credential}"),
                format!("Bearer {MASK}"),
            )?,
            CredentialPlace::Basic => inject(
                header::AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credential)
                ),
                format!("Basic {MASK}"),
            )?,
        }
    }
    Ok(Outgoing {
        method,
        url,
        headers,
        body: Bytes::from(body),
        secret_query,
    })
}

/// The server's URL joined with the operation's path, its parameters
/// filled in as single segments, and the query; never outside the server.
fn target_url(server: &Url, template: &str, call: &TryCall) -> Result<Url, TryError> {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).ok_or_else(|| {
            TryError::Invalid(format!("the path template {template} has an unclosed {{"))
        })?;
        path.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        let value = call
            .path_params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TryError::Invalid(format!("the path parameter `{name}` is required")))?;
        if value == "." || value == ".." {
            return Err(TryError::Invalid(format!(
                "the path parameter `{name}` may not be `{value}`: that would leave the operation's path"
            )));
        }
        path.push_str(&segment(value));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    let base = server.path().trim_end_matches('/');
    let mut url = server.clone();
    url.set_path(&format!("{base}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    // Dot segments in the template itself are resolved by the URL parser:
    // whatever the path became, it must stay under the server's.
    let inside = url.path() == base || url.path().starts_with(&format!("{base}/"));
    if !inside || url.origin() != server.origin() {
        return Err(TryError::Invalid(format!(
            "{template} leads outside the server's base path {}",
            if base.is_empty() { "/" } else { base }
        )));
    }
    let query: Vec<(&String, &String)> = call.query.iter().filter(|(_, v)| !v.is_empty()).collect();
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// A path segment, every byte but the unreserved ones percent-encoded.
fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
        .replace('*', "%2A")
}

/// A header the developer may set, or why not.
fn forwardable(name: &str) -> Result<HeaderName, TryError> {
    let parsed = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| TryError::Invalid(format!("`{name}` is not a header name")))?;
    let lower = parsed.as_str();
    let why = match lower {
        "connection" | "keep-alive" | "te" | "trailer" | "transfer-encoding" | "upgrade" => {
            Some("it is a hop-by-hop header, which a proxy does not pass on")
        }
        "host" | "content-length" | "expect" => {
            Some("the host sets it from the server, the path and the body")
        }
        "cookie" => Some(
            "the console never forwards cookies; an API key the spec puts in a cookie goes in the credential field",
        ),
        "forwarded" | "via" | "x-real-ip" => Some("it would speak for the portal as a proxy"),
        _ if lower.starts_with("proxy-") => Some("it is meant for proxies, not for the API"),
        _ if lower.starts_with("x-forwarded-") => Some("it would speak for the portal as a proxy"),
        _ if lower.starts_with("sec-") => Some("only browsers set it"),
        _ => None,
    };
    match why {
        Some(why) => Err(TryError::Invalid(format!(
            "the header `{name}` cannot be sent from the console: {why}"
        ))),
        None => Ok(parsed),
    }
}

fn header_value(value: &str) -> Result<HeaderValue, TryError> {
    HeaderValue::from_str(value).map_err(|_| {
        TryError::Invalid(
            "a header value holds a character headers cannot carry (a line break?)".into(),
        )
    })
}

/// An `Authorization` value as shown: its scheme, the rest masked.
fn masked_authorization(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} {MASK}"),
        None => MASK.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::tryit::operations::BodyExample;

    fn op(path: &str, credential: Option<CredentialPlace>) -> TryOperation {
        TryOperation {
            method: "POST".into(),
            path: path.into(),
            summary: None,
            parameters: Vec::new(),
            body: Some(BodyExample {
                content_type: "application/json".into(),
                text: "{}".into(),
            }),
            credential,
        }
    }

    fn server(url: &str) -> DeclaredServer {
        DeclaredServer {
            name: "sandbox".into(),
            url: Url::parse(url).unwrap(),
        }
    }

    fn call(params: &[(&str, &str)]) -> TryCall {
        TryCall {
            method: "POST".into(),
            path: String::new(),
            server: None,
            path_params: params
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            query: BTreeMap::from([("q".into(), "a b".into()), ("empty".into(), String::new())]),
            headers: BTreeMap::new(),
            body: Some("{\"a\":1}".into()),
            content_type: None,
            credential: Some("s3cret".into()),
        }
    }

    #[test]
    fn path_parameters_are_single_segments_under_the_server_base_path() {
        let s = server("https://api.example.com/v1/");
        let out = build(&op("/pets/{id}", None), &s, &{
            let mut c = call(&[("id", "a/../b c")]);
            c.credential = None;
            c
        })
        .unwrap();
        assert_eq!(
            out.url.as_str(),
            "https://api.example.com/v1/pets/a%2F..%2Fb%20c?q=a+b"
        );
        for bad in [".", ".."] {
            let err = build(&op("/pets/{id}", None), &s, &call(&[("id", bad)])).unwrap_err();
            assert!(err.to_string().contains("would leave"), "{err}");
        }
        let err = build(&op("/../../admin", None), &s, &call(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("outside the server's base path /v1"),
            "{err}"
        );
    }

    #[test]
    fn credentials_go_where_the_scheme_says_and_are_masked_in_curl() {
        let s = server("http://127.0.0.1:9/");
        let q = build(
            &op("/x", Some(CredentialPlace::Query("key".into()))),
            &s,
            &call(&[]),
        )
        .unwrap();
        assert!(q.url.as_str().ends_with("key=s3cret"));
        assert!(q.shown_url(&q.url).ends_with("key=***"));
        let b = build(&op("/x", Some(CredentialPlace::Basic)), &s, &call(&[])).unwrap();
        assert_eq!(b.header_map()["authorization"], "Basic czNjcmV0");
        let h = build(
            &op("/x", Some(CredentialPlace::Header("X-Key".into()))),
            &s,
            &call(&[]),
        )
        .unwrap();
        assert_eq!(h.header_map()["x-key"], "s3cret");
        let curl = h.curl();
        assert!(
            !curl.contains("s3cret") && curl.contains("'x-key: ***'"),
            "{curl}"
        );
        assert!(curl.contains("--data-raw '{\"a\":1}'"), "{curl}");
        let none = build(&op("/x", None), &s, &call(&[])).unwrap_err();
        assert!(none.to_string().contains("no security scheme"), "{none}");
    }

    #[test]
    fn proxy_and_portal_headers_are_refused_with_the_reason() {
        for (name, reason) in [
            ("Host", "sets it"),
            ("Cookie", "never forwards cookies"),
            ("Transfer-Encoding", "hop-by-hop"),
            ("X-Forwarded-For", "as a proxy"),
        ] {
            let err = forwardable(name).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(reason), "{err}");
        }
        assert!(forwardable("X-Request-Id").is_ok());
    }

    #[test]
    fn only_a_declared_server_is_chosen_and_private_addresses_need_a_literal_declaration() {
        let declared = [
            server("http://127.0.0.1:8000/v1"),
            server("https://api.example.com"),
        ];
        assert!(choose(&declared, Some("http://127.0.0.1:8000/v1/"), "pets 1").is_ok());
        let err = choose(&declared, Some("http://127.0.0.1:9000"), "pets 1").unwrap_err();
        assert!(matches!(err, TryError::Refused(_)));
        assert!(
            err.to_string().contains("not a server declared for pets 1"),
            "{err}"
        );
        assert!(
            choose(&declared, None, "pets 1").is_err(),
            "two servers: say which"
        );
        let literal = policy(&declared[0].url, false).unwrap();
        assert!(literal.allow_private_addresses);
        assert_eq!(literal.allowed[0].to_string(), "http://127.0.0.1:8000");
        assert!(
            !policy(&declared[1].url, false)
                .unwrap()
                .allow_private_addresses
        );
        assert!(
            policy(&declared[1].url, true)
                .unwrap()
                .allow_private_addresses
        );
    }
}
