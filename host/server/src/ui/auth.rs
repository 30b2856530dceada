//! The identity pages: sign-in, sign-up (when `[auth] signup` is on),
//! sign-out, the profile page and the admin's audit log page.
//!
//! Forms shown before sign-in carry a CSRF token that must match the
//! `portico_csrf` cookie; once signed in, the access middleware checks the
//! session's token. Every sign-in, failed or not, is audited.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{Chrome, ErrorPage, error_page, render};
use crate::identity::audit::{self, AuditEntry, AuditQuery, Outcome};
use crate::identity::sessions::{self, COOKIE, PRE_SESSION_COOKIE};
use crate::identity::users::{self, NewUser, UserError};
use crate::identity::{ActorKind, Caller, random_hex, roles};
use crate::problem::ApiError;
use crate::state::AppState;

/// The one message every failed sign-in gets, whatever failed.
pub(crate) const SIGN_IN_FAILED: &str = "The username or password is not right.";

/// Routes of the identity pages.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login_page).post(login))
        .route("/auth/logout", axum::routing::post(logout))
        .route("/auth/signup", get(signup_page).post(signup))
        .route("/profile", get(profile))
        .route("/admin/audit", get(audit_page))
}

/// The branded page for a signed-in person whose roles do not allow a page.
pub(crate) fn forbidden_page(state: &AppState) -> Response {
    let page = ErrorPage {
        chrome: Chrome::new(state.branding(), "Not allowed", ""),
        message: "Your roles do not allow this page. Ask an administrator if you need it.",
    };
    let mut response = render(&page);
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    action: &'static str,
    csrf: String,
    next: String,
    username: String,
    error: Option<&'static str>,
    signup_form: bool,
    signup_open: bool,
    /// The single sign-on button's text, when a provider is set up.
    sso: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NextQuery {
    #[serde(default)]
    pub(super) next: String,
}

/// Only a path on this portal: never another site (an open redirect).
pub(super) fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

/// The form's CSRF token: the session's, or a pre-session one (with the
/// cookie to set when it is new).
fn form_token(caller: &Caller, headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(token) = &caller.csrf {
        return (token.clone(), None);
    }
    match sessions::cookie(headers, PRE_SESSION_COOKIE).filter(|t| t.len() == 64) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = random_hex(32);
            (token.clone(), Some(token))
        }
    }
}

/// Whether a form posted before sign-in carries the token of its cookie.
/// (With a session, the access middleware has checked the session's token.)
fn pre_session_token_ok(caller: &Caller, headers: &HeaderMap, sent: &str) -> bool {
    if caller.csrf.is_some() {
        return true;
    }
    sessions::cookie(headers, PRE_SESSION_COOKIE)
        .is_some_and(|c| !sent.is_empty() && bool::from(c.as_bytes().ct_eq(sent.as_bytes())))
}

struct FormView {
    signup: bool,
    username: String,
    next: String,
    error: Option<&'static str>,
    status: StatusCode,
}

fn form_page(state: &AppState, caller: &Caller, headers: &HeaderMap, view: FormView) -> Response {
    let (csrf, new_cookie) = form_token(caller, headers);
    let (title, action) = if view.signup {
        ("Create an account", "/auth/signup")
    } else {
        ("Sign in", "/auth/login")
    };
    let mut response = render(&LoginPage {
        chrome: Chrome::new(state.branding(), title, ""),
        action,
        csrf,
        next: safe_next(&view.next).to_owned(),
        username: view.username,
        error: view.error,
        signup_form: view.signup,
        signup_open: state.config().auth.signup,
        sso: state.identity().oidc().map(|o| o.button().to_owned()),
    });
    *response.status_mut() = view.status;
    let headers_out = response.headers_mut();
    headers_out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(token) = new_cookie {
        headers_out.append(
            header::SET_COOKIE,
            sessions::set_cookie(
                PRE_SESSION_COOKIE,
                &token,
                3600,
                &state.config().auth,
                headers,
            ),
        );
    }
    response
}

async fn login_page(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    form_page(
        &state,
        &caller,
        &headers,
        FormView {
            signup: false,
            username: String::new(),
            next: query.next,
            error: None,
            status: StatusCode::OK,
        },
    )
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let username: String = form.username.trim().chars().take(64).collect();
    let again = |error: &'static str, status: StatusCode| {
        form_page(
            &state,
            &caller,
            &headers,
            FormView {
                signup: false,
                username: username.clone(),
                next: form.next.clone(),
                error: Some(error),
                status,
            },
        )
    };
    if !pre_session_token_ok(&caller, &headers, &form.csrf) {
        return again(
            "The form expired. Please sign in again.",
            StatusCode::FORBIDDEN,
        );
    }
    let limiter = state.identity().limiter();
    let db = state.db().clone();
    let attempt = (caller.clone(), username.clone());
    let record = move |outcome: Outcome, why: &'static str, user: Option<(i64, String)>| {
        let (caller, username) = attempt.clone();
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            let actor = match &user {
                Some((id, name)) => (format!("user:{id}"), name.clone(), "person"),
                None => ("anonymous".to_owned(), username.clone(), "anonymous"),
            };
            audit::record_for(
                &db,
                &caller,
                (&actor.0, &actor.1, actor.2),
                "auth.login",
                &username,
                outcome,
                json!({ "reason": why }),
            );
        })
    };
    if !limiter.allows(&username, caller.ip) {
        let _ = record(Outcome::Denied, "too many failed sign-ins", None).await;
        return again(
            "Too many failed sign-ins. Please wait a few minutes and try again.",
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let db = state.db().clone();
    let (name, password) = (username.clone(), form.password.clone());
    let found = tokio::task::spawn_blocking(move || users::authenticate(&db, &name, &password))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let user_id = match found {
        Ok(Some(id)) => id,
        Ok(None) => {
            limiter.failed(&username, caller.ip);
            let _ = record(Outcome::Failure, "wrong username or password", None).await;
            return again(SIGN_IN_FAILED, StatusCode::UNAUTHORIZED);
        }
        Err(error) => return error_page(&state, &error),
    };
    limiter.succeeded(&username, caller.ip);
    let _ = record(
        Outcome::Success,
        "password",
        Some((user_id, username.clone())),
    )
    .await;
    start_session(&state, &headers, user_id, safe_next(&form.next)).await
}

/// Ends the request's session (if any), starts a new one with a new id and
/// redirects: the id changes at every sign-in.
pub(super) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user_id: i64,
    next: &str,
) -> Response {
    let db = state.db().clone();
    let old = sessions::cookie(headers, COOKIE).map(str::to_owned);
    let settings = state.config().auth.clone();
    let created = tokio::task::spawn_blocking(move || {
        if let Some(old) = old {
            sessions::delete(&db, &old)?;
        }
        sessions::create(&db, user_id, &settings)
    })
    .await;
    let id = match created {
        Ok(Ok((id, _))) => id,
        Ok(Err(error)) => return error_page(state, &error),
        Err(error) => return error_page(state, &error),
    };
    let settings = &state.config().auth;
    let mut response = Redirect::to(next).into_response();
    let out = response.headers_mut();
    out.append(
        header::SET_COOKIE,
        sessions::set_cookie(
            COOKIE,
            &id,
            settings.session_lifetime_secs,
            settings,
            headers,
        ),
    );
    out.append(
        header::SET_COOKIE,
        sessions::set_cookie(PRE_SESSION_COOKIE, "", 0, settings, headers),
    );
    response
}

async fn logout(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    if let (Some(id), Some(_)) = (sessions::cookie(&headers, COOKIE), &caller.csrf) {
        let db = state.db().clone();
        let id = id.to_owned();
        let who = caller.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let ended = sessions::delete(&db, &id);
            audit::record(
                &db,
                &who,
                "auth.logout",
                &who.actor.name,
                if ended.is_ok() {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                json!({}),
            );
        })
        .await;
    }
    let settings = &state.config().auth;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        sessions::set_cookie(COOKIE, "", 0, settings, &headers),
    );
    response
}

async fn signup_page(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    if !state.config().auth.signup {
        return ApiError::NotFound("sign-up is closed on this portal".into()).into_response();
    }
    form_page(
        &state,
        &caller,
        &headers,
        FormView {
            signup: true,
            username: String::new(),
            next: query.next,
            error: None,
            status: StatusCode::OK,
        },
    )
}

async fn signup(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    if !state.config().auth.signup {
        return ApiError::NotFound("sign-up is closed on this portal".into()).into_response();
    }
    let username: String = form.username.trim().chars().take(64).collect();
    let again = |error: &'static str, status: StatusCode| {
        form_page(
            &state,
            &caller,
            &headers,
            FormView {
                signup: true,
                username: username.clone(),
                next: form.next.clone(),
                error: Some(error),
                status,
            },
        )
    };
    if !pre_session_token_ok(&caller, &headers, &form.csrf) {
        return again("The form expired. Please try again.", StatusCode::FORBIDDEN);
    }
    let new = NewUser {
        username: username.clone(),
        display_name: String::new(),
        email: form.email.trim().to_owned(),
        password: form.password.clone(),
        roles: vec![roles::DEVELOPER.to_owned()],
    };
    let db = state.db().clone();
    let all_roles = state.identity().roles().clone();
    let who = caller.clone();
    let created = tokio::task::spawn_blocking(move || {
        let created = users::create_user(&db, &all_roles, &new);
        let (actor, outcome) = match &created {
            Ok(id) => (
                (format!("user:{id}"), new.username.clone(), "person"),
                Outcome::Success,
            ),
            Err(_) => (
                ("anonymous".to_owned(), new.username.clone(), "anonymous"),
                Outcome::Failure,
            ),
        };
        audit::record_for(
            &db,
            &who,
            (&actor.0, &actor.1, actor.2),
            "user.signup",
            &new.username,
            outcome,
            json!({ "roles": new.roles }),
        );
        created
    })
    .await;
    match created {
        // Back where they were going (a docs page's try-it), else to their profile.
        Ok(Ok(id)) => {
            let next = match safe_next(&form.next) {
                "/" => "/profile",
                next => next,
            };
            start_session(&state, &headers, id, next).await
        }
        Ok(Err(UserError::Invalid(_))) => again(
            "Choose a username of letters, digits, dots, dashes or underscores, and a password of at least 8 characters.",
            StatusCode::BAD_REQUEST,
        ),
        Ok(Err(UserError::Exists(_))) => again("That username is taken.", StatusCode::CONFLICT),
        Ok(Err(error)) => error_page(&state, &error),
        Err(error) => error_page(&state, &error),
    }
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    username: String,
    display_name: String,
    email: String,
    created: String,
    kind: &'static str,
    roles: Vec<String>,
    groups: Vec<String>,
    permissions: Vec<String>,
    csrf: Option<String>,
    /// The admin pages the caller may open, as (href, label).
    admin: Vec<(&'static str, &'static str)>,
}

/// Every admin page and the permission that opens it.
const ADMIN_PAGES: &[(&str, &str, &str)] = &[
    ("/admin/users", "Users", roles::USERS_MANAGE),
    ("/admin/groups", "Groups", roles::USERS_MANAGE),
    ("/admin/roles", "Roles", roles::USERS_MANAGE),
    ("/admin/audit", "Audit log", roles::AUDIT_READ),
    ("/admin/gateways", "Gateways", roles::GATEWAYS_READ),
    ("/plugins", "Plugins", roles::PLUGINS_READ),
];

async fn profile(State(state): State<AppState>, caller: Caller) -> Response {
    let actor = caller.actor.clone();
    let account = match actor.user_id {
        Some(id) => {
            let db = state.db().clone();
            match tokio::task::spawn_blocking(move || users::profile(&db, id)).await {
                Ok(Ok(found)) => found,
                Ok(Err(error)) => return error_page(&state, &error),
                Err(error) => return error_page(&state, &error),
            }
        }
        None => None,
    };
    let (display_name, email, created) = match account {
        Some(p) => (
            if p.display_name.is_empty() {
                p.username
            } else {
                p.display_name
            },
            p.email,
            p.created_at,
        ),
        None => (actor.name.clone(), String::new(), String::new()),
    };
    let admin = ADMIN_PAGES
        .iter()
        .filter(|(_, _, permission)| actor.can(permission))
        .map(|(href, label, _)| (*href, *label))
        .collect();
    render(&ProfilePage {
        chrome: Chrome::new(state.branding(), "Profile", "profile"),
        username: actor.name,
        display_name,
        email,
        created,
        kind: actor.kind.as_str(),
        roles: actor.roles.into_iter().collect(),
        groups: actor.groups.into_iter().collect(),
        admin,
        permissions: actor.permissions.into_iter().collect(),
        csrf: caller.csrf,
    })
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    actor: String,
    action: String,
    kind: String,
    requests: bool,
    entries: Vec<AuditEntry>,
    export: String,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// An actor kind (`agent`), or empty for all.
    #[serde(default)]
    kind: String,
    /// `on` (a checked box) or `true` to include the entry of every request.
    #[serde(default)]
    requests: String,
    cursor: Option<i64>,
}

/// Entries on one page of `/admin/audit`.
const AUDIT_PAGE: usize = 100;

async fn audit_page(State(state): State<AppState>, Query(filter): Query<AuditFilter>) -> Response {
    let kind: Option<ActorKind> =
        serde_json::from_value(serde_json::Value::String(filter.kind.clone())).ok();
    let requests =
        matches!(filter.requests.as_str(), "on" | "true") || filter.action.starts_with("http.");
    let query = AuditQuery {
        actor: Some(filter.actor.trim().to_owned()).filter(|a| !a.is_empty()),
        action: Some(filter.action.trim().to_owned()).filter(|a| !a.is_empty()),
        kind,
        skip_requests: !requests,
        before: filter.cursor,
        limit: AUDIT_PAGE,
        ..AuditQuery::default()
    };
    let db = state.db().clone();
    let entries = match tokio::task::spawn_blocking(move || audit::query(&db, &query)).await {
        Ok(Ok(entries)) => entries,
        Ok(Err(error)) => return error_page(&state, &error),
        Err(error) => return error_page(&state, &error),
    };
    let params = |extra: Option<(&str, String)>| -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if !filter.actor.is_empty() {
            out.append_pair("actor", filter.actor.trim());
        }
        if !filter.action.is_empty() {
            out.append_pair("action", filter.action.trim());
        }
        if let Some(kind) = kind {
            out.append_pair("kind", kind.as_str());
        }
        out.append_pair("requests", if requests { "true" } else { "false" });
        if let Some((k, v)) = extra {
            out.append_pair(k, &v);
        }
        out.finish()
    };
    let next = (entries.len() == AUDIT_PAGE)
        .then(|| entries.last())
        .flatten()
        .map(|last| {
            format!(
                "/admin/audit?{}",
                params(Some(("cursor", last.id.to_string())))
            )
        });
    render(&AuditPage {
        chrome: Chrome::new(state.branding(), "Audit log", ""),
        export: format!("/api/v1/audit?{}", params(Some(("format", "jsonl".into())))),
        actor: filter.actor,
        action: filter.action,
        kind: kind.map_or("", ActorKind::as_str).to_owned(),
        requests,
        entries,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_after_sign_in_stay_on_the_portal() {
        assert_eq!(safe_next("/catalog?q=x"), "/catalog?q=x");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
