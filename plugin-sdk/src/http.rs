//! Blocking HTTP requests over `wasi:http/outgoing-handler`, for connectors
//! (the only world that imports it: the host refuses other plugin kinds that use it).
//!
//! The host lets a request through only to the hosts granted to the plugin
//! instance; any failure to get an answer is [`PluginError::Unreachable`]
//! naming the URL and the WASI error code, e.g. `HTTP-request-denied`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PluginError;
use crate::bindings::connector::wasi::http::outgoing_handler;
use crate::bindings::connector::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme, http_error_code,
};
use crate::bindings::connector::wasi::io::streams::StreamError;

/// An HTTP request.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The method in upper case, e.g. `GET`.
    pub method: String,
    /// An absolute `http` or `https` URL.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its `content-type`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, PluginError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| PluginError::Internal(format!("cannot encode request body: {e}")))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Sends the request; the same as [`request`].
    pub fn send(self) -> Result<Response, PluginError> {
        request(self)
    }
}

/// An HTTP response, read to the end.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The URL the request went to, for error messages.
    pub url: String,
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<String, PluginError> {
        String::from_utf8(self.body.clone()).map_err(|_| {
            PluginError::Unreachable(format!(
                "{} answered with a body that is not UTF-8",
                self.url
            ))
        })
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            PluginError::Unreachable(format!("{} answered with unexpected JSON: {e}", self.url))
        })
    }

    /// Turns an error status into the matching [`PluginError`]: 401 and 403
    /// into `Unauthorized`, 404 into `NotFound`, 429 into `RateLimited`, any
    /// other status from 400 on into `Unreachable`.
    pub fn error_for_status(self) -> Result<Self, PluginError> {
        let message = format!("{} answered {}", self.url, self.status);
        match self.status {
            401 | 403 => Err(PluginError::Unauthorized(message)),
            404 => Err(PluginError::NotFound(message)),
            429 => Err(PluginError::RateLimited(crate::RateLimitInfo {
                retry_after_ms: self
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|seconds| seconds.saturating_mul(1000)),
                message,
            })),
            400.. => Err(PluginError::Unreachable(message)),
            _ => Ok(self),
        }
    }
}

/// Sends a `GET` request to `url`.
pub fn get(url: &str) -> Result<Response, PluginError> {
    request(Request::new("GET", url))
}

/// Sends `request` and reads the whole response.
pub fn request(request: Request) -> Result<Response, PluginError> {
    let Request {
        method,
        url,
        headers,
        body,
    } = request;
    let fail = |code: String| PluginError::Unreachable(format!("{method} {url} failed: {code}"));
    let (scheme, authority, path) = split_url(&url)?;

    let entries: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    let fields = Fields::from_list(&entries)
        .map_err(|e| PluginError::Internal(format!("bad request header for {url}: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let invalid = |what: &str| PluginError::Internal(format!("invalid {what} for {url}"));
    outgoing
        .set_method(&wasi_method(&method))
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("path"))?;
    let outgoing_body = outgoing.body().map_err(|()| invalid("body"))?;

    // The body is written after `handle`: the host only drains it once the
    // request is under way, so writing first could fill the pipe and block.
    let future = outgoing_handler::handle(outgoing, None).map_err(|e| fail(error_code(&e)))?;
    let sent = write_body(outgoing_body, &body);

    future.subscribe().block();
    // A refused request also fails the body; the response says why, so it comes first.
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(fail(error_code(&e))),
        Some(Err(())) | None => return Err(fail("no response".into())),
    };
    sent.map_err(fail)?;
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();

    let incoming = response.consume().map_err(|()| fail("no body".into()))?;
    let mut body = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| fail("no body".into()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(fail(stream_error(e))),
            }
        }
    }
    drop(IncomingBody::finish(incoming));

    Ok(Response {
        url,
        status,
        headers,
        body,
    })
}

fn write_body(outgoing: OutgoingBody, body: &[u8]) -> Result<(), String> {
    {
        let stream = outgoing
            .write()
            .map_err(|()| "body already taken".to_owned())?;
        // `blocking-write-and-flush` takes at most 4096 bytes per call.
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(stream_error)?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| error_code(&e))
}

fn wasi_method(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// Splits an absolute URL into scheme, authority and path-with-query; the
/// fragment stays with the caller, as it never goes on the wire.
fn split_url(url: &str) -> Result<(Scheme, &str, String), PluginError> {
    let invalid = || PluginError::InvalidConfig(format!("`{url}` is not an absolute http(s) URL"));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(invalid()),
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err(invalid());
    }
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok((scheme, authority, path))
}

fn stream_error(error: StreamError) -> String {
    match error {
        StreamError::Closed => "stream closed".into(),
        StreamError::LastOperationFailed(e) => match http_error_code(&e) {
            Some(code) => error_code(&code),
            None => e.to_debug_string(),
        },
    }
}

/// The WIT name of a `wasi:http` error code (what operators search for), with its details.
fn error_code(code: &ErrorCode) -> String {
    let detail = |name: &str, detail: Option<String>| match detail {
        Some(detail) => format!("{name} ({detail})"),
        None => name.to_owned(),
    };
    match code {
        ErrorCode::DnsTimeout => "DNS-timeout".into(),
        ErrorCode::DnsError(p) => detail("DNS-error", p.rcode.clone()),
        ErrorCode::DestinationNotFound => "destination-not-found".into(),
        ErrorCode::DestinationUnavailable => "destination-unavailable".into(),
        ErrorCode::DestinationIpProhibited => "destination-IP-prohibited".into(),
        ErrorCode::DestinationIpUnroutable => "destination-IP-unroutable".into(),
        ErrorCode::ConnectionRefused => "connection-refused".into(),
        ErrorCode::ConnectionTerminated => "connection-terminated".into(),
        ErrorCode::ConnectionTimeout => "connection-timeout".into(),
        ErrorCode::ConnectionReadTimeout => "connection-read-timeout".into(),
        ErrorCode::ConnectionWriteTimeout => "connection-write-timeout".into(),
        ErrorCode::ConnectionLimitReached => "connection-limit-reached".into(),
        ErrorCode::TlsProtocolError => "TLS-protocol-error".into(),
        ErrorCode::TlsCertificateError => "TLS-certificate-error".into(),
        ErrorCode::TlsAlertReceived(p) => detail("TLS-alert-received", p.alert_message.clone()),
        ErrorCode::HttpRequestDenied => "HTTP-request-denied".into(),
        ErrorCode::HttpRequestLengthRequired => "HTTP-request-length-required".into(),
        ErrorCode::HttpRequestBodySize(_) => "HTTP-request-body-size".into(),
        ErrorCode::HttpRequestMethodInvalid => "HTTP-request-method-invalid".into(),
        ErrorCode::HttpRequestUriInvalid => "HTTP-request-URI-invalid".into(),
        ErrorCode::HttpRequestUriTooLong => "HTTP-request-URI-too-long".into(),
        ErrorCode::HttpRequestHeaderSectionSize(_) => "HTTP-request-header-section-size".into(),
        ErrorCode::HttpRequestHeaderSize(_) => "HTTP-request-header-size".into(),
        ErrorCode::HttpRequestTrailerSectionSize(_) => "HTTP-request-trailer-section-size".into(),
        ErrorCode::HttpRequestTrailerSize(_) => "HTTP-request-trailer-size".into(),
        ErrorCode::HttpResponseIncomplete => "HTTP-response-incomplete".into(),
        ErrorCode::HttpResponseHeaderSectionSize(_) => "HTTP-response-header-section-size".into(),
        ErrorCode::HttpResponseHeaderSize(_) => "HTTP-response-header-size".into(),
        ErrorCode::HttpResponseBodySize(_) => "HTTP-response-body-size".into(),
        ErrorCode::HttpResponseTrailerSectionSize(_) => "HTTP-response-trailer-section-size".into(),
        ErrorCode::HttpResponseTrailerSize(_) => "HTTP-response-trailer-size".into(),
        ErrorCode::HttpResponseTransferCoding(c) => {
            detail("HTTP-response-transfer-coding", c.clone())
        }
        ErrorCode::HttpResponseContentCoding(c) => {
            detail("HTTP-response-content-coding", c.clone())
        }
        ErrorCode::HttpResponseTimeout => "HTTP-response-timeout".into(),
        ErrorCode::HttpUpgradeFailed => "HTTP-upgrade-failed".into(),
        ErrorCode::HttpProtocolError => "HTTP-protocol-error".into(),
        ErrorCode::LoopDetected => "loop-detected".into(),
        ErrorCode::ConfigurationError => "configuration-error".into(),
        ErrorCode::InternalError(message) => detail("internal-error", message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_separates_authority_and_path() {
        let (scheme, authority, path) =
            split_url("https://api.example.com:8443/v1/x?y=1#top").unwrap();
        assert_eq!(scheme, Scheme::Https);
        assert_eq!(authority, "api.example.com:8443");
        assert_eq!(path, "/v1/x?y=1");
    }

    #[test]
    fn split_url_defaults_the_path_to_root() {
        assert_eq!(split_url("http://127.0.0.1:8080").unwrap().2, "/");
        assert_eq!(split_url("http://h?q=1").unwrap().2, "/?q=1");
    }

    #[test]
    fn split_url_rejects_other_schemes_and_relative_urls() {
        for url in ["ftp://h/x", "/relative", "http:///nohost"] {
            assert!(
                matches!(split_url(url), Err(PluginError::InvalidConfig(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn error_codes_use_their_wit_names() {
        assert_eq!(
            error_code(&ErrorCode::HttpRequestDenied),
            "HTTP-request-denied"
        );
        assert_eq!(
            error_code(&ErrorCode::InternalError(Some("boom".into()))),
            "internal-error (boom)"
        );
    }

    #[test]
    fn error_status_maps_to_plugin_errors() {
        let response = |status| Response {
            url: "http://h/".into(),
            status,
            headers: vec![("Retry-After".into(), "2".into())],
            body: Vec::new(),
        };
        assert!(response(200).error_for_status().is_ok());
        assert!(matches!(
            response(403).error_for_status(),
            Err(PluginError::Unauthorized(_))
        ));
        assert!(matches!(
            response(404).error_for_status(),
            Err(PluginError::NotFound(_))
        ));
        let Err(PluginError::RateLimited(info)) = response(429).error_for_status() else {
            panic!("429 is rate limiting");
        };
        assert_eq!(info.retry_after_ms, Some(2000));
        assert!(matches!(
            response(502).error_for_status(),
            Err(PluginError::Unreachable(_))
        ));
    }
}
