//! SCIM 2.0 provisioning at `/scim/v2` (RFC 7643, RFC 7644): an identity
//! provider creates, updates, deactivates and deletes accounts and groups
//! here, with the `[auth.scim]` bearer token. Users live in `users` with
//! `source = 'scim'`, groups in `groups`; each has a UUID as its SCIM `id`.
//!
//! This module holds what the resources share: SCIM errors, the token, list
//! queries (filter, sort, pages, attribute selection) and the routes.

mod discovery;
pub(crate) mod filter;
mod groups;
pub(crate) mod patch;
mod users;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::identity::Caller;
use crate::identity::access::AdminToken;
use crate::identity::audit::{self, Outcome};
use crate::state::AppState;
use filter::{AttrPath, Filter, get as field};

/// The core User schema.
pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The PATCH request message.
pub(crate) const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// SCIM's media type, for answers.
const CONTENT_TYPE: &str = "application/scim+json";

/// The most resources one list page holds.
pub(crate) const MAX_RESULTS: usize = 1000;

/// Every SCIM route (all `/scim/v2`), and a SCIM 404 for any other path under it.
pub fn router() -> Router<AppState> {
    let routes = Router::new()
        .merge(discovery::router())
        .merge(users::router())
        .merge(groups::router())
        .route("/.search", axum::routing::post(search_all))
        .fallback(|| async { ScimError::not_found("no such SCIM endpoint") });
    Router::new().nest("/scim/v2", routes)
}

/// `POST /.search` at the root: users and groups together (RFC 7644 §3.4.3).
async fn search_all(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let query = ListQuery::from_search(&parse_body(&body)?)?;
    let base = base_url(&headers);
    let all = blocking(move || {
        let conn = state.db().conn();
        let mut all = users::load_all(&conn, &base)?;
        all.extend(groups::load_all(&conn, &base)?);
        Ok(all)
    })
    .await?;
    Ok(query.respond(all))
}

/// The `[auth.scim]` token; never printed, compared in constant time.
#[derive(Clone)]
pub struct ScimToken(AdminToken);

impl std::fmt::Debug for ScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScimToken(..)")
    }
}

impl ScimToken {
    /// Resolves `[auth.scim] token` (`env:VAR` or `file:/path`); an empty token is refused.
    pub fn resolve(reference: &str) -> anyhow::Result<ScimToken> {
        use anyhow::Context as _;
        let token = crate::config::resolve_secret(reference).context("auth.scim.token")?;
        if token.trim().is_empty() {
            anyhow::bail!("auth.scim.token: the token is empty");
        }
        Ok(ScimToken(AdminToken::new(&token)))
    }

    /// Whether `candidate` is the token.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.matches(candidate)
    }
}

/// A SCIM error (RFC 7644 §3.12): a status, a `scimType` for 400s and 409s, a detail.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    pub(crate) scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    /// 401: no token, or a wrong one.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, detail)
    }

    /// 403: a caller that is not the SCIM client.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, None, detail)
    }

    pub(crate) fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub(crate) fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    pub(crate) fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    pub(crate) fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    pub(crate) fn no_target(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }

    pub(crate) fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    pub(crate) fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource changed: its version does not match If-Match",
        )
    }

    /// Logs an internal failure and hides it from the client.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "SCIM request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "the server failed to handle the request; it has been logged",
        )
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl From<rusqlite::Error> for ScimError {
    fn from(error: rusqlite::Error) -> Self {
        ScimError::internal(error)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = scim_type.into();
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON answer in SCIM's media type.
pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// A single resource, with its version as the ETag.
pub(crate) fn resource_response(status: StatusCode, resource: &Value) -> Response {
    let mut response = scim_json(status, resource);
    if let Some(version) = resource["meta"]["version"].as_str()
        && let Ok(value) = HeaderValue::from_str(version)
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Some(location) = resource["meta"]["location"].as_str()
        && let Ok(value) = HeaderValue::from_str(location)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The weak ETag of a resource version.
pub(crate) fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Refuses a write whose `If-Match` names another version.
pub(crate) fn check_if_match(headers: &HeaderMap, version: i64) -> Result<(), ScimError> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let current = etag(version);
    let strong = current.trim_start_matches("W/");
    let ok = wanted
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current || tag.trim_start_matches("W/") == strong);
    if ok {
        Ok(())
    } else {
        Err(ScimError::precondition_failed())
    }
}

/// `https://host/scim/v2`, as the client reached this server.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let scheme = if crate::identity::sessions::came_over_https(headers) {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}/scim/v2")
}

/// A fresh random (version 4) UUID, the `id` of a new resource.
pub(crate) fn new_id() -> String {
    let mut hex = crate::identity::random_hex(16).into_bytes();
    hex[12] = b'4';
    hex[16] = b"89ab"[usize::from(hex[16] % 4)];
    let hex = String::from_utf8(hex).expect("hex digits");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Audits a SCIM change (`scim.user.create`, ...), however it ended.
pub(crate) fn record<T>(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    result: &Result<T, ScimError>,
    details: Value,
) {
    let details = match result {
        Ok(_) => details,
        Err(e) => json!({ "error": e.to_string() }),
    };
    audit::record(
        state.db(),
        caller,
        action,
        target,
        Outcome::of(result),
        details,
    );
}

/// Runs blocking database work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ScimError> + Send + 'static,
) -> Result<T, ScimError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ScimError::internal)?
}

/// Reads a request body as JSON, whatever its content type says.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid SCIM JSON: {e}")))
}

/// The query of a list (`GET /Users`, `GET /Groups`), RFC 7644 §3.4.2.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    filter: Option<Filter>,
    start_index: usize,
    count: usize,
    sort_by: Option<AttrPath>,
    descending: bool,
    selection: Selection,
}

/// `attributes` and `excludedAttributes`.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    only: Vec<AttrPath>,
    without: Vec<AttrPath>,
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn paths(text: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    text.into_iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| AttrPath::parse(t).map_err(ScimError::invalid_value))
        .collect()
}

impl Selection {
    /// From a request's query parameters.
    pub(crate) fn from_params(params: &[(String, String)]) -> Result<Selection, ScimError> {
        Ok(Selection {
            only: paths(param(params, "attributes"))?,
            without: paths(param(params, "excludedAttributes"))?,
        })
    }

    /// The resource with only what was asked for; `id` and `schemas` always stay.
    pub(crate) fn apply(&self, resource: Value) -> Value {
        let Value::Object(object) = resource else {
            return resource;
        };
        let always = |k: &str| k == "id" || k == "schemas";
        let named = |list: &[AttrPath], k: &str| -> Vec<Option<String>> {
            list.iter()
                .filter(|p| p.attr.eq_ignore_ascii_case(k))
                .map(|p| p.sub.clone())
                .collect()
        };
        let mut out = Map::new();
        for (k, v) in object {
            if always(&k) {
                out.insert(k, v);
                continue;
            }
            if !self.only.is_empty() {
                let wanted = named(&self.only, &k);
                if wanted.is_empty() {
                    continue;
                }
                if wanted.contains(&None) {
                    out.insert(k, v);
                } else {
                    let subs: Vec<String> = wanted.into_iter().flatten().collect();
                    out.insert(k, keep_subs(v, &subs));
                }
                continue;
            }
            let unwanted = named(&self.without, &k);
            if unwanted.contains(&None) {
                continue;
            }
            if unwanted.is_empty() {
                out.insert(k, v);
            } else {
                let subs: Vec<String> = unwanted.into_iter().flatten().collect();
                out.insert(k, drop_subs(v, &subs));
            }
        }
        Value::Object(out)
    }
}

fn map_items(value: Value, f: &dyn Fn(Map<String, Value>) -> Map<String, Value>) -> Value {
    match value {
        Value::Object(o) => Value::Object(f(o)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| match i {
                    Value::Object(o) => Value::Object(f(o)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn keep_subs(value: Value, subs: &[String]) -> Value {
    map_items(value, &|o| {
        o.into_iter()
            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .collect()
    })
}

fn drop_subs(value: Value, subs: &[String]) -> Value {
    map_items(value, &|o| {
        o.into_iter()
            .filter(|(k, _)| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .collect()
    })
}

impl ListQuery {
    /// From a request's query parameters; a bad filter is `invalidFilter`.
    pub(crate) fn from_params(params: &[(String, String)]) -> Result<ListQuery, ScimError> {
        let filter = param(params, "filter")
            .map(|f| Filter::parse(f).map_err(ScimError::invalid_filter))
            .transpose()?;
        let number = |name: &str, default: usize| -> Result<usize, ScimError> {
            match param(params, name) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<i64>()
                    .map(|n| usize::try_from(n.max(0)).unwrap_or(0))
                    .map_err(|_| ScimError::invalid_value(format!("`{name}` is not a number"))),
            }
        };
        let sort_by = param(params, "sortBy")
            .map(|s| AttrPath::parse(s).map_err(ScimError::invalid_value))
            .transpose()?;
        let descending = match param(params, "sortOrder") {
            None => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder `{o}`: use ascending or descending"
                )));
            }
        };
        Ok(ListQuery {
            filter,
            // startIndex is 1-based; less than 1 means 1.
            start_index: number("startIndex", 1)?.max(1),
            count: number("count", MAX_RESULTS)?.min(MAX_RESULTS),
            sort_by,
            descending,
            selection: Selection::from_params(params)?,
        })
    }

    /// From a `POST .search` body: the same parameters as JSON members.
    pub(crate) fn from_search(body: &Value) -> Result<ListQuery, ScimError> {
        if !field(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s == SEARCH_SCHEMA))
        {
            return Err(ScimError::invalid_syntax(format!(
                "a search's `schemas` must name {SEARCH_SCHEMA}"
            )));
        }
        let mut params = Vec::new();
        for name in ["filter", "startIndex", "count", "sortBy", "sortOrder"] {
            match field(body, name) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => params.push((name.to_owned(), s.clone())),
                Some(Value::Number(n)) => params.push((name.to_owned(), n.to_string())),
                Some(_) => {
                    return Err(ScimError::invalid_value(format!(
                        "`{name}` has the wrong type"
                    )));
                }
            }
        }
        for name in ["attributes", "excludedAttributes"] {
            match field(body, name) {
                None | Some(Value::Null) => {}
                Some(Value::Array(list)) => {
                    let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                    params.push((name.to_owned(), names.join(",")));
                }
                Some(_) => {
                    return Err(ScimError::invalid_value(format!("`{name}` must be a list")));
                }
            }
        }
        ListQuery::from_params(&params)
    }

    /// The ListResponse of the resources that match, sorted and paged.
    pub(crate) fn respond(&self, resources: Vec<Value>) -> Response {
        let mut found: Vec<Value> = resources
            .into_iter()
            .filter(|r| self.filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect();
        if let Some(path) = &self.sort_by {
            let key = |r: &Value| -> Option<String> {
                filter::values(r, path).first().map(|v| match v {
                    Value::String(s) => s.to_lowercase(),
                    other => other.to_string(),
                })
            };
            // Resources without the attribute come last, whatever the order.
            found.sort_by(|a, b| match (key(a), key(b)) {
                (Some(x), Some(y)) if self.descending => y.cmp(&x),
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
        }
        let total = found.len();
        let page: Vec<Value> = found
            .into_iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .map(|r| self.selection.apply(r))
            .collect();
        scim_json(
            StatusCode::OK,
            &json!({
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": self.start_index,
                "itemsPerPage": page.len(),
                "Resources": page,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn scim_ids_are_version_4_uuids() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!("89ab".contains(&id[19..20]), "{id}");
        assert_ne!(id, new_id());
    }

    #[test]
    fn scim_attribute_selection_keeps_ids_and_drops_what_is_excluded() {
        let user = json!({"schemas": ["s"], "id": "1", "userName": "a",
            "name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": "x", "type": "work"}]});
        let only = Selection::from_params(&params(&[("attributes", "userName,name.givenName")]))
            .unwrap()
            .apply(user.clone());
        assert_eq!(
            only,
            json!({"schemas": ["s"], "id": "1", "userName": "a", "name": {"givenName": "A"}})
        );
        let without =
            Selection::from_params(&params(&[("excludedAttributes", "name,emails.type,id")]))
                .unwrap()
                .apply(user);
        assert_eq!(
            without,
            json!({"schemas": ["s"], "id": "1", "userName": "a", "emails": [{"value": "x"}]})
        );
    }

    #[test]
    fn scim_if_match_accepts_the_current_version_only() {
        let mut headers = HeaderMap::new();
        assert!(check_if_match(&headers, 3).is_ok());
        headers.insert(header::IF_MATCH, HeaderValue::from_static("W/\"3\""));
        assert!(check_if_match(&headers, 3).is_ok());
        assert!(check_if_match(&headers, 4).is_err());
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert!(check_if_match(&headers, 4).is_ok());
    }

    #[test]
    fn scim_errors_carry_the_error_schema_and_hide_the_token() {
        let response = ScimError::invalid_filter("bad").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let token = ScimToken(AdminToken::new("s3cret"));
        assert!(token.matches("s3cret") && !token.matches("s3cre"));
        assert_eq!(format!("{token:?}"), "ScimToken(..)");
        let err = format!("{:#}", ScimToken::resolve("s3cret").unwrap_err());
        assert!(
            err.starts_with("auth.scim.token") && !err.contains("s3cret"),
            "{err}"
        );
    }
}
