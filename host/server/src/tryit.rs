//! The try-it console's proxy: `POST /api/v1/apis/{namespace}/{name}/versions/{version}/try`
//! sends one call of an operation of the version's spec to a server declared
//! for that version, and nowhere else (no open proxy), with the developer's
//! credential, a timeout and a response cap from `[tryit]`. The docs page's
//! forms call the same [`try_operation`]. Trying needs an account: it spends
//! the API's upstream quota, so visitors of a public catalogue only read.
//! A version without a sandbox server also offers the synthetic sandbox
//! (server `synthetic`), answered by a sandbox plugin: see [`sandbox`].

pub mod operations;
pub mod outbound;
pub mod sandbox;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use portico_catalog::{ApiVersion, EntityRef, SpecDocument};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::keys::{ApiKey, Environment};
use crate::apps::verify::{Denial, Target};
use crate::fetch::{FetchError, FetchLimits, HttpClient};
use crate::identity::{Caller, audit};
use crate::problem::{JsonBody, Problem};
use crate::state::AppState;
use crate::usage::{Source, UsageEvent};
use operations::TryOperation;
use outbound::DeclaredServer;

/// `[tryit]`: the limits of the try-it console.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrySettings {
    /// The longest one call may take, connecting included, in milliseconds.
    pub timeout_ms: u64,
    /// The most of a response body kept, in bytes; a longer body is cut off
    /// and the answer says so.
    pub max_response_bytes: usize,
    /// Whether a declared server whose *name* resolves to a private, loopback
    /// or link-local address may be called (one declared by such an address,
    /// or as `localhost`, always may).
    pub allow_private_addresses: bool,
}

impl Default for TrySettings {
    fn default() -> Self {
        TrySettings {
            timeout_ms: 10_000,
            max_response_bytes: 1024 * 1024,
            allow_private_addresses: false,
        }
    }
}

/// One call to make. The credential is never logged or shown back.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TryCall {
    /// The operation's method, e.g. `GET`.
    pub method: String,
    /// The operation's path template as the spec writes it, e.g. `/pets/{id}`.
    pub path: String,
    /// The declared server to call: an environment name (`sandbox`) or its
    /// URL; may be left out when the version declares only one. `synthetic`
    /// picks the synthetic sandbox, offered when the version declares no
    /// sandbox server (and taken when it declares no server at all).
    #[serde(default)]
    pub server: Option<String>,
    /// Values of the template's `{parameters}`.
    #[serde(default)]
    pub path_params: BTreeMap<String, String>,
    /// Query parameters (empty values are left out).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Request headers (empty values are left out; hop-by-hop, `Host`,
    /// `Cookie` and proxy headers are refused).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request body.
    #[serde(default)]
    pub body: Option<String>,
    /// The body's media type; default: the operation's.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The developer's sandbox credential, put where the operation's security
    /// scheme says (`user:password` for HTTP basic).
    #[serde(default)]
    pub credential: Option<String>,
}

/// What the upstream answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TryAnswer {
    /// Its status code.
    pub status: u16,
    /// Its headers, in order.
    pub headers: Vec<HeaderLine>,
    /// Its body: text, or base64 when it is not UTF-8.
    pub body: String,
    /// `text` or `base64`.
    pub body_encoding: String,
    /// Whether the body was cut at `[tryit] max_response_bytes`.
    pub truncated: bool,
    /// Bytes of body kept.
    pub body_bytes: usize,
    /// From sending to the last byte kept, in milliseconds.
    pub elapsed_ms: u64,
    /// The URL that answered (the credential masked).
    pub url: String,
    /// The same call as a curl command (the credential masked).
    pub curl: String,
}

impl TryAnswer {
    /// Its `Deprecation` and `Sunset` headers (a deprecated version's), which the try API
    /// repeats on its own response.
    pub fn deprecation_headers(&self) -> axum::http::HeaderMap {
        crate::deprecation::headers(&self.headers)
    }
}

/// One response header.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeaderLine {
    /// Its name.
    pub name: String,
    /// Its value (lossy UTF-8).
    pub value: String,
}

/// Why a call was not made or did not complete; every message says why.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    /// No such API, version or operation.
    #[error("{0}")]
    NotFound(String),
    /// The call is malformed (missing parameter, bad header, path traversal).
    #[error("{0}")]
    Invalid(String),
    /// The call would go where the console may not send it.
    #[error("{0}")]
    Refused(String),
    /// The upstream did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The upstream could not be reached or broke off.
    #[error("{0}")]
    Upstream(String),
    /// The portal API key sent as the credential may not make this call.
    #[error("{}", .0.parts().2)]
    Key(Denial),
    /// Something failed inside; details are in the log.
    #[error("the server failed to make the call; it has been logged")]
    Internal,
}

impl TryError {
    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            TryError::NotFound(_) => StatusCode::NOT_FOUND,
            TryError::Invalid(_) => StatusCode::BAD_REQUEST,
            TryError::Refused(_) => StatusCode::FORBIDDEN,
            TryError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            TryError::Upstream(_) => StatusCode::BAD_GATEWAY,
            TryError::Key(denial) => {
                StatusCode::from_u16(denial.parts().0).unwrap_or(StatusCode::FORBIDDEN)
            }
            TryError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            TryError::NotFound(_) => "not-found",
            TryError::Invalid(_) => "bad-request",
            TryError::Refused(_) => "try-it-refused",
            TryError::Timeout(_) => "upstream-timeout",
            TryError::Upstream(_) => "upstream-unreachable",
            TryError::Key(denial) => denial.parts().1,
            TryError::Internal => "internal",
        }
    }
}

impl IntoResponse for TryError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = Problem {
            kind: format!("https://portico.dev/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(problem),
        )
            .into_response()
    }
}

/// Routes of the proxy, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(try_api))
        .merge(sandbox::router())
}

/// `POST /api/v1/apis/{namespace}/{name}/versions/{version}/try`: calls one
/// operation on a declared server and answers with what came back.
#[utoipa::path(post, path = "/api/v1/apis/{namespace}/{name}/versions/{version}/try", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    request_body = TryCall,
    responses(
        (status = 200, description = "The upstream's answer (whatever its status), with timing and the curl command", body = TryAnswer),
        (status = 400, description = "A malformed call: missing parameter, forbidden header, path traversal", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A server that is not declared for this version, an address the console may not reach, or the synthetic sandbox without a sandbox plugin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such API, version or operation", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The upstream could not be reached, or the synthetic sandbox failed", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The upstream (or the synthetic sandbox) did not answer in time", body = Problem, content_type = "application/problem+json")))]
async fn try_api(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
    JsonBody(call): JsonBody<TryCall>,
) -> Result<(axum::http::HeaderMap, Json<TryAnswer>), TryError> {
    let api = EntityRef::new("api", namespace, name);
    try_operation(&state, &caller, &api, &version, &call)
        .await
        .map(|answer| (answer.deprecation_headers(), Json(answer)))
}

/// A version's declared servers and the operations of its spec.
pub struct TryTarget {
    /// The version.
    pub version: ApiVersion,
    /// Its servers that can be called.
    pub servers: Vec<DeclaredServer>,
    /// Whether the synthetic sandbox is offered: no server is a sandbox.
    pub synthetic: bool,
    /// Its spec's operations.
    pub operations: std::sync::Arc<Vec<TryOperation>>,
}

impl TryTarget {
    /// The target of a version whose document is at hand.
    pub fn new(version: ApiVersion, document: &SpecDocument) -> TryTarget {
        let servers = outbound::declared_servers(&version.environments);
        TryTarget {
            synthetic: sandbox::offered(&servers),
            servers,
            operations: operations::operations_of(document),
            version,
        }
    }

    /// The operation of a method and path template.
    pub fn operation(&self, method: &str, path: &str) -> Option<&TryOperation> {
        self.operations
            .iter()
            .find(|o| o.method.eq_ignore_ascii_case(method) && o.path == path)
    }
}

/// Reads an API version and its spec, when the caller may see the API.
pub async fn load_target(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
    version: &str,
) -> Result<TryTarget, TryError> {
    let store = state.catalog().clone();
    let (wanted, asked) = (api.clone(), version.to_owned());
    let audience = caller.actor.audience();
    let found = tokio::task::spawn_blocking(move || {
        if store.visible_entity(&wanted, &audience)?.is_none() {
            return Ok(None);
        }
        let Some(detail) = store.version(&wanted, &asked)? else {
            return Ok(None);
        };
        let document = store.spec_document(&detail.version.spec_hash)?;
        Ok::<_, portico_catalog::CatalogError>(document.map(|d| TryTarget::new(detail.version, &d)))
    })
    .await
    .map_err(|e| internal(&e))?
    .map_err(|e| internal(&e))?;
    found.ok_or_else(|| {
        TryError::NotFound(format!(
            "no version {version} of API {}/{} with a spec document",
            api.namespace, api.name
        ))
    })
}

/// Makes one call for a caller and records it (without secrets).
pub async fn try_operation(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
    version: &str,
    call: &TryCall,
) -> Result<TryAnswer, TryError> {
    let target = load_target(state, caller, api, version).await?;
    call_target(state, caller, api, &target, call).await
}

/// [`try_operation`] on a version already loaded.
pub async fn call_target(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
    target: &TryTarget,
    call: &TryCall,
) -> Result<TryAnswer, TryError> {
    let version = target.version.version.as_str();
    let settings = &state.config().tryit;
    let what = format!("{}/{} {version}", api.namespace, api.name);
    let synthetic = sandbox::wanted(target, call);
    let started = Instant::now();
    let (result, usage) = match check_portal_key(state, api, target, call, synthetic, &what).await {
        Err(error) => (Err(error), None),
        Ok(usage) => {
            let result = if synthetic {
                match operation(target, call, &what) {
                    Ok(op) => sandbox::send(state, caller, api, target, op, call).await,
                    Err(error) => Err(error),
                }
            } else {
                send(target, call, settings, &what).await
            };
            (result, usage)
        }
    };
    // A deprecated version's answers say so (RFC 9745, RFC 8594).
    let result = result.map(|mut answer| {
        crate::deprecation::mark(&target.version, &mut answer.headers);
        answer
    });
    if let Some(mut event) = usage {
        event.status = match &result {
            Ok(answer) => answer.status,
            Err(error) => error.status().as_u16(),
        };
        event.latency_us = started.elapsed().as_micros() as u64;
        state.verifier().usage().record(event);
    }
    let outcome = match &result {
        Ok(answer) => {
            serde_json::json!({ "status": answer.status, "elapsed_ms": answer.elapsed_ms })
        }
        Err(error) => serde_json::json!({ "error": error.to_string() }),
    };
    tracing::info!(api = %api, version, method = %call.method, path = %call.path, %outcome, "try-it call");
    audit::record_off_thread(
        state.db(),
        caller,
        "api.try",
        format!("{api}@{version} {} {}", call.method, call.path),
        audit::Outcome::of(&result),
        outcome,
    )
    .await;
    result
}

/// Checks a portal API key (`pt_test_…`, `pt_live_…`) sent as the try-it
/// credential as a gateway would: the key's app must hold an approved
/// subscription for the API, in the environment of the server called (the
/// synthetic sandbox is a sandbox), within its plan's limits. Any other
/// credential goes to the server as it is. The usage event, when a key was
/// recognised, is recorded once the call's status is known.
async fn check_portal_key(
    state: &AppState,
    api: &EntityRef,
    target: &TryTarget,
    call: &TryCall,
    synthetic: bool,
    what: &str,
) -> Result<Option<UsageEvent>, TryError> {
    let Some(credential) = call.credential.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if !ApiKey::is_claimed_by(credential) {
        return Ok(None);
    }
    let (environment, source) = if synthetic {
        (Environment::Sandbox, Source::Sandbox)
    } else {
        let server = outbound::choose(&target.servers, call.server.as_deref(), what)?;
        (Environment::of_server(&server.name), Source::TryIt)
    };
    let key_target = Target {
        api: Some(api.key()),
        environment: Some(environment),
        method: Some(call.method.clone()),
        path: Some(call.path.clone()),
        ..Target::default()
    };
    let (verdict, usage) = state
        .verifier()
        .verdict(Some(credential), &key_target, source)
        .await;
    match verdict {
        Ok(_) => Ok(usage),
        Err(denial) => {
            if let Some(mut event) = usage {
                event.status = denial.parts().0;
                state.verifier().usage().record(event);
            }
            Err(TryError::Key(denial))
        }
    }
}

/// The operation a call names, or why it names none.
fn operation<'t>(
    target: &'t TryTarget,
    call: &TryCall,
    what: &str,
) -> Result<&'t TryOperation, TryError> {
    if call.path.contains("://") || call.path.starts_with("//") || !call.path.starts_with('/') {
        return Err(TryError::Invalid(format!(
            "`{}` is not a path template of the spec: give the operation's path (`/pets/{{id}}`), never a URL",
            call.path
        )));
    }
    target.operation(&call.method, &call.path).ok_or_else(|| {
        TryError::NotFound(format!(
            "the spec of {what} has no operation {} {}",
            call.method.to_ascii_uppercase(),
            call.path
        ))
    })
}

async fn send(
    target: &TryTarget,
    call: &TryCall,
    settings: &TrySettings,
    what: &str,
) -> Result<TryAnswer, TryError> {
    let op = operation(target, call, what)?;
    let server = outbound::choose(&target.servers, call.server.as_deref(), what)?;
    let outgoing = outbound::build(op, server, call)?;
    let timeout = Duration::from_millis(settings.timeout_ms.max(1));
    let limits = FetchLimits {
        connect_timeout: timeout,
        total_timeout: timeout,
        max_body_bytes: settings.max_response_bytes,
        truncate_body: true,
        // A redirect is shown, as curl without -L would: the developer sees where it points.
        max_redirects: 0,
    };
    let policy = outbound::policy(&server.url, settings.allow_private_addresses)?;
    let client = HttpClient::new(policy, limits, "[tryit]");
    let started = Instant::now();
    let fetched = client
        .send(
            outgoing.method.clone(),
            &outgoing.url,
            outgoing.header_map(),
            outgoing.body.clone(),
        )
        .await
        .map_err(|e| upstream_error(e, &server.url))?;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (body, body_encoding) = match std::str::from_utf8(&fetched.body) {
        Ok(text) => (text.to_owned(), "text"),
        // A cut may split a character: keep the text up to it.
        Err(e) if fetched.truncated && e.error_len().is_none() => (
            String::from_utf8_lossy(&fetched.body[..e.valid_up_to()]).into_owned(),
            "text",
        ),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&fetched.body),
            "base64",
        ),
    };
    Ok(TryAnswer {
        status: fetched.status.as_u16(),
        headers: fetched
            .headers
            .iter()
            .map(|(name, value)| HeaderLine {
                name: name.to_string(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
            .collect(),
        body,
        body_encoding: body_encoding.to_owned(),
        truncated: fetched.truncated,
        body_bytes: fetched.body.len(),
        elapsed_ms,
        url: outgoing.shown_url(&fetched.url),
        curl: outgoing.curl(),
    })
}

/// A fetch failure as the developer reads it.
fn upstream_error(error: FetchError, server: &url::Url) -> TryError {
    match error {
        FetchError::NotAllowed(why) => {
            TryError::Refused(format!("the console may not call {server}: {why}"))
        }
        FetchError::BadUrl(why) => TryError::Invalid(why),
        FetchError::Timeout(after) => TryError::Timeout(format!(
            "{server} did not answer within {} ms ([tryit] timeout_ms)",
            after.as_millis()
        )),
        other @ (FetchError::TooManyRedirects(_)
        | FetchError::Resolve { .. }
        | FetchError::Connect { .. }
        | FetchError::Protocol(_)
        | FetchError::Status(_)
        | FetchError::TooLarge(_)) => TryError::Upstream(format!("{server}: {other}")),
    }
}

fn internal(error: &dyn std::fmt::Display) -> TryError {
    tracing::error!(%error, "try-it call failed inside");
    TryError::Internal
}
