//! `/api/v1/keys/verify`: gateways ask whether an API key may make a call.
//!
//! Made to be used as it is by Caddy's `forward_auth` and nginx's
//! `auth_request`: the key comes in `Authorization: Bearer`, `X-API-Key` or a
//! JSON body `{"key": ...}`; the API comes from `?api=namespace/name` or from
//! the original request (`X-Forwarded-Host`/`-Uri`/`-Method` as Caddy sends
//! them, `X-Original-URI`/`-Method` as nginx examples set them), matched
//! against the servers the catalogue declares. A 2xx lets the call through
//! with headers naming the app, key and plan; a denial is problem+json with
//! a reason of its own (401 for keys, 403 for access, 429 with Retry-After
//! for limits). nginx treats anything but 2xx, 401 and 403 as an error, so
//! `?limits_as=403` turns 429s into 403s (Retry-After kept).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::keys::Environment;
use crate::apps::verify::{Denial, Grant, Target};
use crate::problem::Problem;
use crate::state::AppState;
use crate::usage::Source;

/// The route.
pub const VERIFY: &str = "/api/v1/keys/verify";

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    // Caddy's forward_auth and nginx's auth_request subrequests both send GET.
    OpenApiRouter::new().routes(routes!(verify_get, verify_post))
}

/// The query of a verification.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VerifyQuery {
    /// The API called (`namespace/name`); default: the API whose declared
    /// server matches the forwarded host and path.
    api: Option<String>,
    /// `sandbox` or `production`; default: the matched server's, else production.
    environment: Option<String>,
    /// `403`: answer exceeded limits with 403 instead of 429 (for nginx).
    limits_as: Option<u16>,
}

/// The JSON body a program may send instead of headers.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    /// The API key.
    key: Option<String>,
    /// The API called (`namespace/name`).
    api: Option<String>,
    /// `sandbox` or `production`.
    environment: Option<String>,
    /// The call's method.
    method: Option<String>,
    /// The call's path (below the server's base when `api` is given).
    path: Option<String>,
}

/// `GET /api/v1/keys/verify`: the form gateways use (Caddy's `forward_auth`,
/// nginx's `auth_request`): the key in a header, the call in forwarded headers.
#[utoipa::path(get, path = "/api/v1/keys/verify", tag = "keys",
    params(VerifyQuery,
        ("X-API-Key" = Option<String>, Header, description = "The API key (or `Authorization: Bearer <key>`)"),
        ("X-Forwarded-Host" = Option<String>, Header, description = "The host the original call went to"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original call's path (nginx: `X-Original-URI`)"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original call's method (nginx: `X-Original-Method`)")),
    responses(
        (status = 200, description = "The key may make the call; `X-Portico-*` headers name the app, key and plan", body = Grant),
        (status = 400, description = "The call names no API and no declared server matches", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No key, or a malformed, unknown, expired or revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The wrong environment, no approved subscription, or out of the key's scopes", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The plan's rate limit or quota is reached (see `Retry-After`)", body = Problem, content_type = "application/problem+json")))]
async fn verify_get(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    verify(&state, &uri, &headers, VerifyBody::default()).await
}

/// `POST /api/v1/keys/verify`: as `GET`, or with a JSON body
/// `{"key", "api", "environment", "method", "path"}` from a program.
#[utoipa::path(post, path = "/api/v1/keys/verify", tag = "keys",
    params(VerifyQuery),
    request_body(content = VerifyBody, description = "Optional: the key and the call, instead of headers"),
    responses(
        (status = 200, description = "The key may make the call; `X-Portico-*` headers name the app, key and plan", body = Grant),
        (status = 400, description = "A malformed body, or the call names no API and no declared server matches", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No key, or a malformed, unknown, expired or revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The wrong environment, no approved subscription, or out of the key's scopes", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The plan's rate limit or quota is reached (see `Retry-After`)", body = Problem, content_type = "application/problem+json")))]
async fn verify_post(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        VerifyBody::default()
    } else {
        match serde_json::from_slice::<VerifyBody>(&body) {
            Ok(body) => body,
            Err(error) => {
                return problem(
                    400,
                    "bad-request",
                    format!("the body is not a verification request: {error}"),
                    None,
                );
            }
        }
    };
    verify(&state, &uri, &headers, body).await
}

async fn verify(state: &AppState, uri: &Uri, headers: &HeaderMap, body: VerifyBody) -> Response {
    let query = match gateway_query(uri, headers) {
        Ok(query) => query,
        Err(why) => return problem(400, "bad-request", why, None),
    };
    let environment = match body.environment.as_deref().or(query.environment.as_deref()) {
        None => None,
        Some(text) => match Environment::parse(text) {
            Some(e) => Some(e),
            None => {
                return problem(
                    400,
                    "bad-request",
                    format!("environment `{text}` is not `sandbox` or `production`"),
                    None,
                );
            }
        },
    };
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let key = body.key.or_else(|| text("x-api-key")).or_else(|| {
        text(header::AUTHORIZATION.as_str()).and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_owned())
        })
    });
    let target = Target {
        api: body.api.or(query.api),
        environment,
        host: text("x-forwarded-host"),
        https: text("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")),
        method: body
            .method
            .or_else(|| text("x-forwarded-method"))
            .or_else(|| text("x-original-method")),
        path: body
            .path
            .or_else(|| text("x-forwarded-uri"))
            .or_else(|| text("x-original-uri")),
    };
    match state
        .verifier()
        .verify(key.as_deref(), &target, Source::Verify)
        .await
    {
        Ok(grant) => granted(grant),
        Err(denial) => denied(&denial, query.limits_as == Some(403)),
    }
}

/// The verification's own query: what the gateway's configuration put on the
/// verify URL. Caddy's `forward_auth` keeps the caller's query when its `uri`
/// has none, so a query equal to the forwarded request's is the caller's and
/// is ignored: a caller never chooses the API or environment checked.
fn gateway_query(uri: &Uri, headers: &HeaderMap) -> Result<VerifyQuery, String> {
    let Some(own) = uri.query().filter(|q| !q.is_empty()) else {
        return Ok(VerifyQuery::default());
    };
    let forwarded = ["x-forwarded-uri", "x-original-uri"]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .filter_map(|original| {
            original
                .split_once('?')
                .map(|(_, q)| q.split('#').next().unwrap_or(q))
        })
        .any(|callers| callers == own);
    if forwarded {
        return Ok(VerifyQuery::default());
    }
    serde_urlencoded::from_str(own).map_err(|e| format!("the query string is malformed: {e}"))
}

fn granted(grant: Grant) -> Response {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("x-portico-app-id", grant.app.id.to_string());
    put("x-portico-app", grant.app.name.clone());
    put("x-portico-key-id", grant.key.id.to_string());
    put(
        "x-portico-environment",
        grant.key.environment.as_str().to_owned(),
    );
    put(
        "x-portico-plan",
        format!("{}/{}", grant.plan.product, grant.plan.name),
    );
    if let Some(quota) = &grant.quota {
        put("x-quota-limit", quota.limit.to_string());
        put("x-quota-remaining", quota.remaining.to_string());
        put("x-quota-reset", quota.resets_at.to_string());
    }
    if let Some(rate) = &grant.rate_limit {
        put("x-ratelimit-limit", rate.limit.to_string());
        put("x-ratelimit-remaining", rate.remaining.to_string());
    }
    (StatusCode::OK, headers, Json(grant)).into_response()
}

fn denied(denial: &Denial, limits_as_forbidden: bool) -> Response {
    let (mut status, slug, detail) = denial.parts();
    if status == 429 && limits_as_forbidden {
        status = 403;
    }
    problem(status, slug, detail, denial.retry_after())
}

fn problem(status: u16, slug: &str, detail: String, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    let body = serde_json::json!({
        "type": format!("https://portico.dev/problems/{slug}"),
        "title": status.canonical_reason().unwrap_or("Denied"),
        "status": status.as_u16(),
        "detail": detail,
        "valid": false,
        "reason": slug,
    });
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
