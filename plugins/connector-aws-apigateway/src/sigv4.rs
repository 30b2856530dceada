//! AWS Signature Version 4 for request headers: the canonical request, the
//! string to sign, the derived key and the `Authorization` header, as AWS's
//! IAM user guide ("Create a signed AWS API request") specifies them.
//!
//! Pure functions of the request, the credentials and the time, so they are
//! checked against AWS's published test suite; `tests/aws_apigateway.rs` in
//! the host workspace compiles this file as well, so the suite runs in CI.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key, with the session token of temporary credentials.
#[derive(Clone)]
pub(crate) struct Credentials {
    /// `AKIA...` or `ASIA...`.
    pub(crate) access_key_id: String,
    /// The secret; only ever an HMAC key, never sent or logged.
    pub(crate) secret_access_key: String,
    /// Sent as `x-amz-security-token` when set (STS credentials).
    pub(crate) session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    /// The key id only: the secret and the token stay out of any output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A request about to be sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// The method in upper case.
    pub(crate) method: &'a str,
    /// The authority the request goes to, as the `Host` header will carry
    /// it: `host` or `host:port`.
    pub(crate) host: &'a str,
    /// The path as sent on the wire (segments already percent-encoded).
    pub(crate) path: &'a str,
    /// Query parameters, not encoded; [`Signed::query`] is their encoding.
    pub(crate) query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `host`, `x-amz-date` and the session token;
    /// the caller sends them too.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The body (hashed into the signature).
    pub(crate) body: &'a [u8],
}

/// What signing adds to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signed {
    /// The query string to send, encoded exactly as it was signed.
    pub(crate) query: String,
    /// Headers to send: `x-amz-date`, `x-amz-security-token` (with a
    /// session token) and `authorization`.
    pub(crate) headers: Vec<(String, String)>,
    /// The canonical request, for tests and debugging (holds no secret).
    pub(crate) canonical_request: String,
}

/// Signs `request` for `service` in `region` at `amz_date` (`YYYYMMDDTHHMMSSZ`).
pub(crate) fn sign(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> Signed {
    let date = &amz_date[..amz_date.len().min(8)];

    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), canonical_value(v)))
        .collect();
    headers.push(("host".into(), request.host.to_owned()));
    headers.push(("x-amz-date".into(), amz_date.to_owned()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    // A stable sort keeps repeated headers in the order given, as AWS joins them.
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical_headers = String::new();
    let mut names: Vec<&str> = Vec::new();
    for (name, value) in &headers {
        if names.last() == Some(&name.as_str()) {
            canonical_headers.pop();
            let _ = writeln!(canonical_headers, ",{value}");
        } else {
            let _ = writeln!(canonical_headers, "{name}:{value}");
            names.push(name);
        }
    }
    let signed_headers = names.join(";");

    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let canonical_request = format!(
        "{}\n{}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method.to_ascii_uppercase(),
        uri_encode(path, true),
        hex(&Sha256::digest(request.body)),
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(&credentials.secret_access_key, date, region, service);
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));

    let mut out = vec![("x-amz-date".to_owned(), amz_date.to_owned())];
    if let Some(token) = &credentials.session_token {
        out.push(("x-amz-security-token".into(), token.clone()));
    }
    out.push((
        "authorization".into(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    Signed {
        query,
        headers: out,
        canonical_request,
    }
}

/// The key for one day, region and service: four chained HMACs from the secret.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A header value as signed: trimmed, with runs of spaces made one.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Percent-encodes every byte outside `A-Za-z0-9-._~` (and `/`, when
/// `keep_slash`), with upper-case hex: AWS's `UriEncode`. Applied to a path
/// that is already encoded on the wire, this is the "encode twice" rule AWS
/// sets for every service but S3.
pub(crate) fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` for a time in seconds since the Unix epoch (UTC).
pub(crate) fn amz_date(unix_seconds: u64) -> String {
    let days = i64::try_from(unix_seconds / 86_400).unwrap_or(i64::MAX);
    let seconds = unix_seconds % 86_400;
    // Howard Hinnant's days-to-civil algorithm, for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's SigV4 test suite, `aws-sig-v4-test-suite` (linked
    //! from the AWS General Reference's "Signature Version 4 test suite"
    //! page, and kept in `awslabs/aws-c-auth`, directory
    //! `tests/aws-signing-test-suite/v4/<name>/header-signed-request.txt`):
    //! credentials `AKIDEXAMPLE` / `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`,
    //! region `us-east-1`, service `service`, 2015-08-30T12:36:00Z. The
    //! signatures below are copied from those files, not computed here.

    use super::*;

    const DATE: &str = "20150830T123600Z";
    const HOST: &str = "example.amazonaws.com";

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
        }
    }

    fn authorization(signed: &Signed) -> &str {
        &signed
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .expect("an authorization header")
            .1
    }

    struct Vector {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        query: &'static [(&'static str, &'static str)],
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
        token: Option<&'static str>,
        signed_headers: &'static str,
        signature: &'static str,
    }

    const fn get(
        name: &'static str,
        path: &'static str,
        query: &'static [(&'static str, &'static str)],
        signature: &'static str,
    ) -> Vector {
        Vector {
            name,
            method: "GET",
            path,
            query,
            headers: &[],
            body: "",
            token: None,
            signed_headers: "host;x-amz-date",
            signature,
        }
    }

    const SUITE: &[Vector] = &[
        get(
            "get-vanilla",
            "/",
            &[],
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        get(
            "get-vanilla-query-order-key-case",
            "/",
            &[("Param2", "value2"), ("Param1", "value1")],
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        get(
            "get-vanilla-query-order-encoded",
            "/",
            &[
                ("Param-3", "Value3"),
                ("Param", "Value2"),
                ("\u{1234}", "Value1"),
            ],
            "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        ),
        get(
            "get-vanilla-utf8-query",
            "/",
            &[("\u{1234}", "bar")],
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        ),
        get(
            "get-unreserved",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            &[],
            "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        ),
        get(
            "get-utf8",
            "/\u{1234}",
            &[],
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        ),
        Vector {
            name: "get-header-value-trim",
            headers: &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            signed_headers: "host;my-header1;my-header2;x-amz-date",
            ..get(
                "",
                "/",
                &[],
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            )
        },
        Vector {
            name: "get-vanilla-with-session-token",
            token: Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
            signed_headers: "host;x-amz-date;x-amz-security-token",
            ..get(
                "",
                "/",
                &[],
                "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
            )
        },
        Vector {
            name: "post-vanilla",
            method: "POST",
            ..get(
                "",
                "/",
                &[],
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            )
        },
        // From the suite's 2015 edition (the one the AWS General Reference
        // linked): the body is hashed and `content-type` is the one content
        // header signed. Later editions sign `content-length` and
        // `x-amz-content-sha256` as well.
        Vector {
            name: "post-x-www-form-urlencoded",
            method: "POST",
            headers: &[("Content-Type", "application/x-www-form-urlencoded")],
            body: "Param1=value1",
            signed_headers: "content-type;host;x-amz-date",
            ..get(
                "",
                "/",
                &[],
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            )
        },
    ];

    #[test]
    fn sigv4_matches_the_aws_test_suite() {
        for v in SUITE {
            let signed = sign(
                &Request {
                    method: v.method,
                    host: HOST,
                    path: v.path,
                    query: v.query,
                    headers: v.headers,
                    body: v.body.as_bytes(),
                },
                &credentials(v.token),
                "us-east-1",
                "service",
                DATE,
            );
            assert_eq!(
                authorization(&signed),
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                     SignedHeaders={}, Signature={}",
                    v.signed_headers, v.signature
                ),
                "{}:\n{}",
                v.name,
                signed.canonical_request
            );
        }
    }

    #[test]
    fn sigv4_canonical_request_has_the_documented_shape() {
        // post-x-www-form-urlencoded's canonical request, from the same suite.
        let signed = sign(
            &Request {
                method: "POST",
                host: HOST,
                path: "/",
                query: &[],
                headers: &[("Content-Type", "application/x-www-form-urlencoded")],
                body: b"Param1=value1",
            },
            &credentials(None),
            "us-east-1",
            "service",
            DATE,
        );
        assert_eq!(
            signed.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n\
             x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n\
             9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
    }

    #[test]
    fn sigv4_sends_the_query_as_signed_and_the_session_token() {
        let signed = sign(
            &Request {
                method: "GET",
                host: "127.0.0.1:4566",
                path: "/apikeys",
                query: &[("name", "portico app/1"), ("includeValues", "true")],
                headers: &[],
                body: b"",
            },
            &credentials(Some("tok")),
            "eu-west-1",
            "apigateway",
            DATE,
        );
        assert_eq!(signed.query, "includeValues=true&name=portico%20app%2F1");
        let names: Vec<&str> = signed.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["x-amz-date", "x-amz-security-token", "authorization"]
        );
        assert!(authorization(&signed).contains("/20150830/eu-west-1/apigateway/aws4_request"));
        assert!(!format!("{:?}", credentials(Some("tok"))).contains("wJalr"));
    }

    #[test]
    fn amz_date_formats_unix_time_in_utc() {
        assert_eq!(amz_date(1_440_938_160), DATE);
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_825_600), "20000229T120000Z");
        assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
    }
}
