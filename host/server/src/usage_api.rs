//! Usage in the portal's API: `GET /api/v1/usage` reads the roll-ups as
//! series (a developer's own apps, an owner's APIs, or everything for an
//! administrator), `GET /api/v1/usage/sources` shows what each source sent
//! and refused, and `POST /api/v1/gateways/{name}/usage` takes what a
//! gateway's log plugin pushes (Kong's http-log, single or batched).

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::{AppsError, keys, subscriptions, with_db};
use crate::identity::Caller;
use crate::problem::{ApiError, ApiPath, Problem};
use crate::query::QueryParams;
use crate::state::AppState;
use crate::usage::ingest::{self, GatewayIndex, SourceStats};
use crate::usage::query::{self, Dimension, Scope, UsageQuery};
use crate::usage::rollup::Granularity;
use crate::usage::scope::{self, View};
use crate::usage::{self as usage_mod, now_ms};

/// The most buckets one series may have.
const MAX_BUCKETS: i64 = 10_000;
/// The largest payload a gateway may push at once.
pub const MAX_PUSH_BYTES: usize = 16 * 1024 * 1024;
/// How long a connector may take to read a pushed payload.
const INGEST_TIMEOUT: Duration = Duration::from_secs(10);
const PROBLEM: &str = "application/problem+json";

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(usage))
        .routes(routes!(sources))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(push))
                .layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)),
        )
}

/// The query of `GET /api/v1/usage`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// Whose calls: `mine` (the caller's apps; the default for people),
    /// `owned` (every consumer of the APIs of the caller's products) or
    /// `all` (administrators; the default for the admin token).
    view: Option<View>,
    /// Only this app's calls.
    app: Option<i64>,
    /// Only this key's calls.
    key: Option<i64>,
    /// Only this API's calls: `api:namespace/name` or `namespace/name`.
    api: Option<String>,
    /// From (RFC 3339 or `YYYY-MM-DD`); default: 24 hours, 60 minutes or
    /// 30 days before `to`, by granularity.
    from: Option<String>,
    /// To, exclusive (RFC 3339 or `YYYY-MM-DD`); default: now.
    to: Option<String>,
    /// Bucket size: `minute`, `hour` (default) or `day`.
    granularity: Option<Granularity>,
    /// Breakdown: `none` (default), `app`, `key`, `api`, `operation`, `status_class`.
    group_by: Option<Dimension>,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct Latency {
    /// Median.
    p50: f64,
    /// 95th percentile.
    p95: f64,
    /// 99th percentile.
    p99: f64,
}

impl Latency {
    fn of(sketch: &usage_mod::sketch::LatencySketch) -> Option<Latency> {
        let ms = |q| sketch.quantile(q).map(|us| (us / 10.0).round() / 100.0);
        Some(Latency {
            p50: ms(0.5)?,
            p95: ms(0.95)?,
            p99: ms(0.99)?,
        })
    }
}

/// One bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointView {
    /// The bucket's start (RFC 3339).
    at: String,
    /// Calls.
    calls: u64,
    /// Failed calls (status 400 or above).
    errors: u64,
    /// Bytes served, where the source reports them.
    bytes: u64,
    /// Latency percentiles; none when no latency was reported.
    latency_ms: Option<Latency>,
}

/// One group's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesView {
    /// The group's value (an app or key id, an API ref, an operation,
    /// `2xx`); empty without a breakdown.
    group: String,
    /// The group as people read it.
    label: String,
    /// The series' calls.
    calls: u64,
    /// The series' failed calls.
    errors: u64,
    /// Latency over the whole range.
    latency_ms: Option<Latency>,
    /// Buckets with calls, oldest first.
    points: Vec<PointView>,
}

/// The answer of `GET /api/v1/usage`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    /// Whose calls.
    view: View,
    /// From (RFC 3339).
    from: String,
    /// To, exclusive (RFC 3339).
    to: String,
    /// Bucket size.
    granularity: Granularity,
    /// Breakdown.
    group_by: Dimension,
    /// Calls in the range.
    calls: u64,
    /// Failed calls in the range.
    errors: u64,
    /// Latency over the range.
    latency_ms: Option<Latency>,
    /// The series, largest first.
    series: Vec<SeriesView>,
}

/// `GET /api/v1/usage`: calls, errors and latency percentiles over time,
/// from the roll-ups.
#[utoipa::path(get, path = "/api/v1/usage", tag = "usage",
    params(UsageParams),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The series", body = UsageView),
        (status = 400, description = "A malformed parameter or too many buckets", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission, or `view=all` without being an administrator", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such app or key of the caller's", body = Problem, content_type = PROBLEM)))]
async fn usage(
    caller: Caller,
    State(state): State<AppState>,
    QueryParams(params): QueryParams<UsageParams>,
) -> Result<Json<UsageView>, ApiError> {
    let granularity = params.granularity.unwrap_or(Granularity::Hour);
    let to_ms = match &params.to {
        Some(text) => parse_time(text, "to")?,
        None => now_ms(),
    };
    let from_ms = match &params.from {
        Some(text) => parse_time(text, "from")?,
        None => to_ms.saturating_sub(default_range(granularity)),
    };
    if from_ms >= to_ms {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    if (to_ms - from_ms) / granularity.millis() > MAX_BUCKETS {
        return Err(ApiError::BadRequest(format!(
            "that range holds more than {MAX_BUCKETS} {} buckets: narrow it or use a coarser granularity",
            granularity.as_str()
        )));
    }
    let api = params.api.as_deref().map(api_ref).transpose()?;
    let view = params
        .view
        .unwrap_or_else(|| View::default_for(&caller.actor));
    let group_by = params.group_by.unwrap_or_default();
    let actor = caller.actor.clone();
    let (app, key) = (params.app, params.key);
    let series = with_db(&state, move |conn| {
        let scope = scope::resolve(conn, &actor, view)?;
        let app = match key {
            Some(key) => Some(check_key(conn, &scope, app, key)?),
            None => app.map(|app| check_app(conn, &scope, app)).transpose()?,
        };
        let query = UsageQuery {
            scope,
            app,
            key,
            api,
            from_ms,
            to_ms,
            granularity,
            group_by,
            latency: true,
        };
        let mut series = query::run(conn, &query)?;
        query::label(conn, group_by, &mut series)?;
        Ok(series)
    })
    .await?;
    let mut whole = usage_mod::sketch::LatencySketch::default();
    let (mut calls, mut errors) = (0, 0);
    let series = series
        .into_iter()
        .map(|s| {
            let mut latency = usage_mod::sketch::LatencySketch::default();
            let points = s
                .buckets
                .iter()
                .map(|b| {
                    latency.merge(&b.latency);
                    PointView {
                        at: rfc3339(b.at_ms),
                        calls: b.calls,
                        errors: b.errors,
                        bytes: b.bytes,
                        latency_ms: Latency::of(&b.latency),
                    }
                })
                .collect::<Vec<_>>();
            whole.merge(&latency);
            let series_errors = s.buckets.iter().map(|b| b.errors).sum();
            calls += s.calls();
            errors += series_errors;
            SeriesView {
                calls: s.calls(),
                errors: series_errors,
                latency_ms: Latency::of(&latency),
                group: s.group,
                label: s.label,
                points,
            }
        })
        .collect();
    Ok(Json(UsageView {
        view,
        from: rfc3339(from_ms),
        to: rfc3339(to_ms),
        granularity,
        group_by,
        calls,
        errors,
        latency_ms: Latency::of(&whole),
        series,
    }))
}

/// An app filter within a scope: the caller's own app when they read their
/// own; any app otherwise (an owner's view is narrowed to their APIs).
fn check_app(conn: &rusqlite::Connection, scope: &Scope, app: i64) -> Result<i64, AppsError> {
    match scope {
        Scope::Apps(own) if !own.contains(&app) => {
            Err(AppsError::NotFound(format!("no app {app}")))
        }
        _ => {
            subscriptions::owner_of(conn, app)?;
            Ok(app)
        }
    }
}

/// A key filter: the key's app, checked like an app filter.
fn check_key(
    conn: &rusqlite::Connection,
    scope: &Scope,
    app: Option<i64>,
    key: i64,
) -> Result<i64, AppsError> {
    let key_app = keys::app_of(conn, key)?;
    if let Some(app) = app
        && app != key_app
    {
        return Err(AppsError::NotFound(format!("no key {key} in app {app}")));
    }
    check_app(conn, scope, key_app).map_err(|_| AppsError::NotFound(format!("no key {key}")))
}

fn default_range(granularity: Granularity) -> i64 {
    match granularity {
        Granularity::Minute => 3_600_000,
        Granularity::Hour => 86_400_000,
        Granularity::Day => 30 * 86_400_000,
    }
}

/// `api:namespace/name` from either that or `namespace/name`.
fn api_ref(text: &str) -> Result<String, ApiError> {
    let bare = text.strip_prefix("api:").unwrap_or(text);
    match bare.split_once('/') {
        Some((namespace, name))
            if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
        {
            Ok(format!("api:{namespace}/{name}"))
        }
        _ => Err(ApiError::BadRequest(format!(
            "`api` must be `api:namespace/name` or `namespace/name`, not `{text}`"
        ))),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time or a `YYYY-MM-DD` day (UTC).
pub(crate) fn parse_time(text: &str, what: &str) -> Result<i64, ApiError> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{what}` must be an RFC 3339 time (2026-11-28T10:00:00Z) or a day (2026-11-28), not `{text}`"
            ))
        })
}

/// An RFC 3339 time, UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `GET /api/v1/usage/sources`: what each gateway source sent, and what it
/// sent that could not be read.
#[utoipa::path(get, path = "/api/v1/usage/sources", tag = "usage",
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Each source's counts", body = Vec<SourceStats>),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `gateways.read` permission", body = Problem, content_type = PROBLEM)))]
async fn sources(State(state): State<AppState>) -> Result<Json<Vec<SourceStats>>, ApiError> {
    Ok(Json(
        with_db(&state, |conn| Ok(ingest::sources(conn)?)).await?,
    ))
}

/// What a push accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushOutcome {
    /// Usage records taken from the payload.
    accepted: usize,
}

/// `POST /api/v1/gateways/{name}/usage`: a gateway's log plugin pushes its
/// request logs (for Kong, the http-log plugin, single entries or batches),
/// with `Authorization: Bearer <the gateway's usage_token>`.
#[utoipa::path(post, path = "/api/v1/gateways/{name}/usage", tag = "usage",
    params(("name" = String, Path, description = "The gateway, as `[[gateways]]` names it")),
    request_body(content = String, description = "The gateway's payload, as its log plugin sends it", content_type = "application/json"),
    security(("usage_token" = [])),
    responses(
        (status = 202, description = "Recorded", body = PushOutcome),
        (status = 400, description = "A payload the connector cannot read (counted on the source)", body = Problem, content_type = PROBLEM),
        (status = 401, description = "No or a wrong usage token, or no such gateway taking pushed usage", body = Problem, content_type = PROBLEM)))]
async fn push(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<PushOutcome>), ApiError> {
    // Every refusal is a 401: the token names the gateway, so a caller
    // without the right one learns nothing about which gateways exist.
    let refuse = |why: String| Err(ApiError::Unauthorized(why));
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(gateway) = state.gateways().get(&name).cloned() else {
        return refuse(format!(
            "no gateway `{name}` takes pushed usage with that token"
        ));
    };
    let Some(expected) = gateway.usage_token() else {
        return refuse(format!(
            "gateway `{name}` takes no pushed usage: set `usage_token` in its [[gateways]] table"
        ));
    };
    if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return refuse(format!(
            "pushing usage for gateway `{name}` needs `Authorization: Bearer` with its usage token"
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let source = usage_mod::Source::Gateway(name.as_str().into()).name();
    let read = match gateway.instance(state.plugins()) {
        Ok(instance) => {
            match tokio::time::timeout(
                INGEST_TIMEOUT,
                instance.plugin().ingest_usage(&content_type, &body),
            )
            .await
            {
                Ok(Ok(records)) => Ok(records),
                Ok(Err(error)) => Err(format!("the connector could not read the payload: {error}")),
                Err(_) => Err("the connector took too long to read the payload".to_owned()),
            }
        }
        Err(why) => Err(format!("the gateway's connector is unavailable: {why}")),
    };
    let log = state.verifier().usage().clone();
    let outcome = with_db(&state, move |conn| {
        let records = match read {
            Ok(records) => records,
            Err(why) => {
                ingest::count(conn, &source, Err(&why))?;
                return Ok(Err(why));
            }
        };
        let index = GatewayIndex::load(conn, &name)?;
        let records = index.records(&name, &records);
        ingest::count(conn, &source, Ok(records.len()))?;
        let accepted = records.len();
        for record in records {
            log.record_window(record);
        }
        Ok(Ok(accepted))
    })
    .await?;
    match outcome {
        Ok(accepted) => Ok((StatusCode::ACCEPTED, Json(PushOutcome { accepted }))),
        Err(why) => {
            metrics::counter!("portico_usage_refused_total").increment(1);
            Err(ApiError::BadRequest(why))
        }
    }
}
