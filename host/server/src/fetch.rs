//! The host's own HTTP client, for reading URLs (catalogue imports, `$text`
//! placeholders, registered locations, the try-it proxy). It reaches only
//! what an [`OutboundPolicy`] allows, checked on the URL, on every address the
//! name resolves to and again on every redirect, with timeouts and a body cap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use portico_runtime::{OutboundPolicy, is_public_address};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use url::Url;

/// Limits of one request (redirects included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Resolving the name and opening the connection (TLS included).
    pub connect_timeout: Duration,
    /// The whole exchange, body and redirects included.
    pub total_timeout: Duration,
    /// The largest body read; a longer one is an error, unless `truncate_body`.
    pub max_body_bytes: usize,
    /// Keep the first `max_body_bytes` of a longer body (and say so in
    /// [`Fetched::truncated`]) instead of failing: for showing, not parsing.
    pub truncate_body: bool,
    /// Redirects followed (GET and HEAD only), each checked like the first
    /// URL; with 0, none: the redirect itself is the answer.
    pub max_redirects: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            truncate_body: false,
            max_redirects: 5,
        }
    }
}

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The policy forbids the destination (host, port, scheme or address).
    #[error("{0}")]
    NotAllowed(String),
    /// The URL cannot be requested (not http/https, no host).
    #[error("{0}")]
    BadUrl(String),
    /// The name does not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// Why.
        reason: String,
    },
    /// No connection could be made (TLS included).
    #[error("cannot connect to {host}: {reason}")]
    Connect {
        /// The host name.
        host: String,
        /// Why.
        reason: String,
    },
    /// A timeout of [`FetchLimits`] passed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The body is larger than [`FetchLimits::max_body_bytes`].
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// More redirects than [`FetchLimits::max_redirects`].
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// The server answered with an error status (from [`HttpClient::get_text`]).
    #[error("the server answered {0}")]
    Status(StatusCode),
    /// The exchange broke off or the answer is unusable.
    #[error("{0}")]
    Protocol(String),
}

/// A response, its body read in full.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that answered (after redirects).
    pub url: Url,
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
    /// Whether the body was cut at [`FetchLimits::max_body_bytes`].
    pub truncated: bool,
}

/// An HTTP/1.1 client (http and https, webpki roots) bound to one policy;
/// cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    policy: OutboundPolicy,
    limits: FetchLimits,
    tls: TlsConnector,
    /// Where the operator grants destinations, for messages (`[catalog]`).
    settings: String,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.inner.policy)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl HttpClient {
    /// A client for `policy`; `settings` names where the policy is configured
    /// (`[catalog]`), so refusals say what to change.
    pub fn new(policy: OutboundPolicy, limits: FetchLimits, settings: &str) -> HttpClient {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        HttpClient {
            inner: Arc::new(Inner {
                policy,
                limits,
                tls: TlsConnector::from(Arc::new(config)),
                settings: settings.to_owned(),
            }),
        }
    }

    /// The policy the client enforces.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.inner.policy
    }

    /// Checks a URL's scheme, host and port against the allowed hosts (no
    /// network); returns the host and port.
    pub fn check_url(&self, url: &Url) -> Result<(String, u16), FetchError> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(FetchError::BadUrl(format!(
                "{url}: only http and https URLs can be read"
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| FetchError::BadUrl(format!("{url} has no host")))?
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        let allowed = &self.inner.policy.allowed;
        if allowed.iter().any(|a| a.matches(scheme, &host, port)) {
            Ok((host, port))
        } else {
            Err(FetchError::NotAllowed(format!(
                "{scheme}://{host}:{port} is not in {} allowed_hosts",
                self.inner.settings
            )))
        }
    }

    /// Checks a URL and every address its host resolves to; returns the addresses.
    pub async fn check_destination(&self, url: &Url) -> Result<Vec<SocketAddr>, FetchError> {
        let (host, port) = self.check_url(url)?;
        let timeout = self.inner.limits.connect_timeout;
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| FetchError::Timeout(timeout))?
                .map_err(|e| FetchError::Resolve {
                    host: host.clone(),
                    reason: e.to_string(),
                })?
                .collect();
        if addrs.is_empty() {
            return Err(FetchError::Resolve {
                host,
                reason: "no addresses".into(),
            });
        }
        let private = addrs
            .iter()
            .map(SocketAddr::ip)
            .find(|ip| !is_public_address(*ip));
        match private {
            Some(ip) if !self.inner.policy.allow_private_addresses => {
                Err(FetchError::NotAllowed(format!(
                    "{host} resolves to {ip}, a private, loopback or link-local address \
                     (set allow_private_addresses = true in {} to permit it)",
                    self.inner.settings
                )))
            }
            _ => Ok(addrs),
        }
    }

    /// GETs a URL, following allowed redirects.
    pub async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        self.send(Method::GET, url, HeaderMap::new(), Bytes::new())
            .await
    }

    /// GETs a URL and returns its body as text; an error status is an error.
    pub async fn get_text(&self, url: &Url) -> Result<String, FetchError> {
        let fetched = self.get(url).await?;
        if !fetched.status.is_success() {
            return Err(FetchError::Status(fetched.status));
        }
        String::from_utf8(fetched.body.into())
            .map_err(|_| FetchError::Protocol("the body is not UTF-8 text".into()))
    }

    /// Sends one request within the limits. Redirects are followed for GET
    /// and HEAD only, each target checked like the first URL.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Fetched, FetchError> {
        let total = self.inner.limits.total_timeout;
        tokio::time::timeout(total, self.follow(method, url, headers, body))
            .await
            .map_err(|_| FetchError::Timeout(total))?
    }

    async fn follow(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Fetched, FetchError> {
        let follows = (method == Method::GET || method == Method::HEAD)
            && self.inner.limits.max_redirects > 0;
        let mut url = url.clone();
        for _ in 0..=self.inner.limits.max_redirects {
            let fetched = self
                .once(method.clone(), &url, headers.clone(), body.clone())
                .await?;
            let location = fetched
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok());
            match location {
                Some(location) if follows && fetched.status.is_redirection() => {
                    url = url.join(location).map_err(|e| {
                        FetchError::Protocol(format!("bad redirect to \"{location}\": {e}"))
                    })?;
                }
                _ => return Ok(fetched),
            }
        }
        Err(FetchError::TooManyRedirects(
            self.inner.limits.max_redirects,
        ))
    }

    async fn once(
        &self,
        method: Method,
        url: &Url,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<Fetched, FetchError> {
        let addrs = self.check_destination(url).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let io = self.connect(&host, &addrs, url.scheme() == "https").await?;
        let broken = |e: hyper::Error| FetchError::Protocol(format!("{host}: {e}"));
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(broken)?;
        // The connection ends when the sender and the body are dropped.
        tokio::spawn(async move {
            let _ = conn.await;
        });

        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        headers.insert(
            header::HOST,
            HeaderValue::from_str(&host_header)
                .map_err(|_| FetchError::BadUrl(format!("{url}: bad host")))?,
        );
        headers
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(concat!(
                "portico/",
                env!("CARGO_PKG_VERSION")
            )));
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(body))
            .map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
        *request.headers_mut() = headers;
        let response = sender.send_request(request).await.map_err(broken)?;

        let (parts, incoming) = response.into_parts();
        let max = self.inner.limits.max_body_bytes;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let truncate = self.inner.limits.truncate_body;
        if declared.is_some_and(|n| n > max as u64) && !truncate {
            return Err(FetchError::TooLarge(max));
        }
        if truncate {
            let (body, truncated) = read_at_most(incoming, max)
                .await
                .map_err(|e| FetchError::Protocol(format!("{host}: {e}")))?;
            return Ok(Fetched {
                url: url.clone(),
                status: parts.status,
                headers: parts.headers,
                body,
                truncated,
            });
        }
        let body = Limited::new(incoming, max)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge(max)
                } else {
                    FetchError::Protocol(format!("{host}: {e}"))
                }
            })?
            .to_bytes();
        Ok(Fetched {
            url: url.clone(),
            status: parts.status,
            headers: parts.headers,
            body,
            truncated: false,
        })
    }

    /// Connects to the first checked address that answers: the name is not
    /// resolved again, so it cannot change between the check and the use.
    async fn connect(
        &self,
        host: &str,
        addrs: &[SocketAddr],
        tls: bool,
    ) -> Result<Box<dyn Io>, FetchError> {
        let timeout = self.inner.limits.connect_timeout;
        let failed = |reason: String| FetchError::Connect {
            host: host.to_owned(),
            reason,
        };
        tokio::time::timeout(timeout, async {
            let mut last = String::from("no address");
            let mut stream = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            let stream = stream.ok_or_else(|| failed(last))?;
            if !tls {
                return Ok(Box::new(stream) as Box<dyn Io>);
            }
            let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
                .map_err(|e| failed(e.to_string()))?
                .to_owned();
            let stream = self
                .inner
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| failed(e.to_string()))?;
            Ok(Box::new(stream) as Box<dyn Io>)
        })
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
    }
}

/// The first `max` bytes of a body, and whether there was more; the rest is
/// not read (the connection is dropped).
async fn read_at_most(
    mut body: hyper::body::Incoming,
    max: usize,
) -> Result<(Bytes, bool), hyper::Error> {
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if kept.len() + data.len() > max {
            kept.extend_from_slice(&data[..max - kept.len()]);
            return Ok((Bytes::from(kept), true));
        }
        kept.extend_from_slice(&data);
    }
    Ok((Bytes::from(kept), false))
}

/// The catalogue's [`portico_catalog::UrlReader`]: the client, driven from
/// blocking import code (a `spawn_blocking` thread or a thread outside any
/// runtime) on the runtime whose handle it holds.
#[derive(Debug, Clone)]
pub struct BlockingReader {
    client: HttpClient,
    runtime: tokio::runtime::Handle,
}

impl BlockingReader {
    /// A reader running requests on `runtime`.
    pub fn new(client: HttpClient, runtime: tokio::runtime::Handle) -> BlockingReader {
        BlockingReader { client, runtime }
    }

    /// The client.
    pub fn client(&self) -> &HttpClient {
        &self.client
    }
}

impl portico_catalog::UrlReader for BlockingReader {
    fn read_url(&self, url: &Url) -> Result<String, String> {
        self.runtime
            .block_on(self.client.get_text(url))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::response::Redirect;
    use axum::routing::get;
    use portico_runtime::AllowedHost;

    fn client(hosts: &[&str], private: bool, limits: FetchLimits) -> HttpClient {
        let policy = OutboundPolicy {
            allowed: hosts
                .iter()
                .map(|h| AllowedHost::parse(h).unwrap())
                .collect(),
            allow_private_addresses: private,
        };
        HttpClient::new(policy, limits, "[test]")
    }

    async fn serve() -> String {
        let app = Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/big", get(|| async { "x".repeat(2048) }))
            .route(
                "/away",
                get(|| async { Redirect::temporary("http://example.com/") }),
            )
            .route("/back", get(|| async { Redirect::temporary("/hello") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[test]
    fn urls_outside_the_allowed_hosts_are_refused_without_a_request() {
        let c = client(&["https://*.example.com"], false, FetchLimits::default());
        let url = |u: &str| Url::parse(u).unwrap();
        assert!(c.check_url(&url("https://api.example.com/x")).is_ok());
        let err = c.check_url(&url("http://api.example.com/x")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "http://api.example.com:80 is not in [test] allowed_hosts"
        );
        assert!(matches!(
            c.check_url(&url("file:///etc/passwd")),
            Err(FetchError::BadUrl(_))
        ));
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_private_addresses_are_allowed() {
        let base = serve().await;
        let url = Url::parse(&format!("{base}/hello")).unwrap();
        let strict = client(&["http://127.0.0.1:*"], false, FetchLimits::default());
        let err = strict.get(&url).await.unwrap_err().to_string();
        assert!(
            err.contains("resolves to 127.0.0.1, a private, loopback")
                && err.contains("allow_private_addresses = true in [test]"),
            "{err}"
        );
        let open = client(&["http://127.0.0.1:*"], true, FetchLimits::default());
        assert_eq!(open.get_text(&url).await.unwrap(), "hello");
    }

    #[tokio::test]
    async fn redirects_are_followed_only_to_allowed_hosts() {
        let base = serve().await;
        let c = client(&["http://127.0.0.1:*"], true, FetchLimits::default());
        let back = c.get(&Url::parse(&format!("{base}/back")).unwrap()).await;
        assert_eq!(back.unwrap().body, "hello");
        let away = c.get(&Url::parse(&format!("{base}/away")).unwrap()).await;
        let err = away.unwrap_err().to_string();
        assert_eq!(err, "http://example.com:80 is not in [test] allowed_hosts");
    }

    #[tokio::test]
    async fn bodies_over_the_cap_are_an_error_not_a_truncation() {
        let base = serve().await;
        let limits = FetchLimits {
            max_body_bytes: 1024,
            ..FetchLimits::default()
        };
        let c = client(&["http://127.0.0.1:*"], true, limits);
        let err = c
            .get(&Url::parse(&format!("{base}/big")).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::TooLarge(1024)), "{err}");
    }

    #[tokio::test]
    async fn a_truncating_client_keeps_the_cap_and_says_so_and_can_leave_redirects_alone() {
        let base = serve().await;
        let limits = FetchLimits {
            max_body_bytes: 1000,
            truncate_body: true,
            max_redirects: 0,
            ..FetchLimits::default()
        };
        let c = client(&["http://127.0.0.1:*"], true, limits);
        let big = c.get(&Url::parse(&format!("{base}/big")).unwrap()).await;
        let big = big.unwrap();
        assert_eq!((big.body.len(), big.truncated), (1000, true));
        let small = c.get(&Url::parse(&format!("{base}/hello")).unwrap()).await;
        assert!(!small.unwrap().truncated);
        let away = c.get(&Url::parse(&format!("{base}/away")).unwrap()).await;
        assert_eq!(away.unwrap().status, StatusCode::TEMPORARY_REDIRECT);
    }

    #[test]
    fn the_blocking_reader_works_from_a_thread_outside_the_runtime() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let base = runtime.block_on(serve());
        let reader = BlockingReader::new(
            client(&["http://127.0.0.1:*"], true, FetchLimits::default()),
            runtime.handle().clone(),
        );
        let url = Url::parse(&format!("{base}/hello")).unwrap();
        let text = portico_catalog::UrlReader::read_url(&reader, &url).unwrap();
        assert_eq!(text, "hello");
    }
}
