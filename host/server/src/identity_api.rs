//! `/api/v1/audit` (the audit log for admins: filters, cursor pages, and a
//! JSON-lines export) and `/api/v1/me` (who the caller is and what they may do).
//! Who may call them is decided in [`crate::identity::access`], like every route.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::identity::audit::{self, AuditEntry, AuditQuery};
use crate::identity::{ActorKind, Caller};
use crate::problem::{ApiError, Problem};
use crate::query::QueryParams;
use crate::state::AppState;

/// Entries in a page when the caller sets no limit.
const DEFAULT_PAGE: usize = 100;
/// The largest page.
const MAX_PAGE: usize = 1000;
/// The most entries one export writes.
const MAX_EXPORT: usize = 1_000_000;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(audit_log))
        .routes(routes!(me))
}

/// Filters of `GET /api/v1/audit`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// An actor id (`user:3`, `system:admin-token`) or name.
    pub actor: Option<String>,
    /// An action (`auth.login`) or a prefix ending in a dot (`plugin.`).
    pub action: Option<String>,
    /// Only entries by this kind of actor (`agent` for AI agents).
    #[param(inline)]
    pub kind: Option<ActorKind>,
    /// Whether to include the `http.request` entry of every request (default true).
    pub requests: Option<bool>,
    /// From this time on, RFC 3339 (inclusive).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[0-9A-Za-z:.+-]*$")]
    pub from: Option<String>,
    /// Up to this time, RFC 3339 (exclusive).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[0-9A-Za-z:.+-]*$")]
    pub to: Option<String>,
    /// Entries per page (default 100, at most 1000); for an export, the most entries.
    #[serde(default, deserialize_with = "crate::query::count")]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// `json` (default) or `jsonl`: every matching entry, one JSON object a line.
    #[param(inline)]
    pub format: Option<AuditFormat>,
}

/// How `GET /api/v1/audit` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditFormat {
    /// A page of entries as one JSON document.
    Json,
    /// Every matching entry, one JSON object a line.
    Jsonl,
}

impl AuditParams {
    /// The store's query for one page.
    pub fn query(&self, default_limit: usize, max: usize) -> Result<AuditQuery, ApiError> {
        for (key, value) in [("from", &self.from), ("to", &self.to)] {
            if let Some(v) = value
                && !looks_like_time(v)
            {
                return Err(ApiError::BadRequest(format!(
                    "{key} must be an RFC 3339 time such as 2026-11-27T10:00:00Z, not `{v}`"
                )));
            }
        }
        Ok(AuditQuery {
            actor: self.actor.clone().filter(|a| !a.is_empty()),
            action: self.action.clone().filter(|a| !a.is_empty()),
            kind: self.kind,
            skip_requests: self.requests == Some(false),
            from: self.from.clone(),
            to: self.to.clone(),
            before: self.cursor,
            limit: self.limit.unwrap_or(default_limit).clamp(1, max),
        })
    }
}

/// A date, or a date and time, as the log stores them (compared as text).
fn looks_like_time(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":.-+".contains(c))
}

/// A page of the audit log.
#[derive(Serialize, ToSchema)]
struct AuditPage {
    /// Newest first.
    entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<i64>,
}

/// The audit log: sign-ins, sign-outs and every change, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "identity",
    params(AuditParams),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of entries, or with `format=jsonl` every matching entry as JSON lines",
            content((AuditPage = "application/json"), (String = "application/jsonl"))),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No `audit.read` permission", body = Problem, content_type = "application/problem+json")))]
async fn audit_log(
    State(state): State<AppState>,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Response, ApiError> {
    let export = params.format == Some(AuditFormat::Jsonl);
    if export {
        let mut query = params.query(MAX_EXPORT, MAX_EXPORT)?;
        let db = state.db().clone();
        let text = tokio::task::spawn_blocking(move || {
            let mut out = String::new();
            let mut left = query.limit;
            while left > 0 {
                query.limit = left.min(MAX_PAGE);
                let page = audit::query(&db, &query)?;
                for entry in &page {
                    out.push_str(&serde_json::to_string(entry).unwrap_or_default());
                    out.push('\n');
                }
                left -= page.len();
                match page.last() {
                    Some(last) if page.len() == query.limit => query.before = Some(last.id),
                    _ => break,
                }
            }
            Ok::<_, rusqlite::Error>(out)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
        return Ok((
            [
                (header::CONTENT_TYPE, "application/jsonl"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audit.jsonl\"",
                ),
            ],
            text,
        )
            .into_response());
    }
    let query = params.query(DEFAULT_PAGE, MAX_PAGE)?;
    let limit = query.limit;
    let db = state.db().clone();
    let entries = tokio::task::spawn_blocking(move || audit::query(&db, &query))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let next_cursor = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_cursor,
    })
    .into_response())
}

/// Who the caller is.
#[derive(Serialize, ToSchema)]
struct Me {
    /// `user:<id>`, `system:admin-token` or `anonymous`.
    id: String,
    /// The username, or a description.
    name: String,
    /// `person`, `api-key`, `agent`, `system` or `anonymous`.
    kind: ActorKind,
    /// Role names.
    roles: Vec<String>,
    /// Group names.
    groups: Vec<String>,
    /// What the roles grant.
    permissions: Vec<String>,
}

/// The caller: identity, roles, groups and permissions (anonymous visitors too).
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "The caller", body = Me)))]
async fn me(caller: Caller) -> Json<Me> {
    let actor = caller.actor;
    Json(Me {
        id: actor.id,
        name: actor.name,
        kind: actor.kind,
        roles: actor.roles.into_iter().collect(),
        groups: actor.groups.into_iter().collect(),
        permissions: actor.permissions.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_filters_must_look_like_times() {
        assert!(looks_like_time("2026-11-27"));
        assert!(looks_like_time("2026-11-27T10:00:00.5Z"));
        assert!(!looks_like_time("yesterday"));
        assert!(!looks_like_time("2026-11-27' OR 1=1"));
        let params = AuditParams {
            from: Some("soon".into()),
            ..AuditParams::default()
        };
        assert!(params.query(10, 10).is_err());
    }
}
