//! Single sign-on: `/auth/oidc/login` sends the browser to the identity
//! provider with a fresh state (also set as a short-lived cookie), and
//! `/auth/oidc/callback` brings it back, checks everything (see
//! [`crate::identity::oidc`]) and starts a session. Every outcome is audited;
//! a failure shows the person why, and changes nothing.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::auth::{NextQuery, safe_next, start_session};
use super::{Chrome, render};
use crate::identity::audit::{self, Outcome};
use crate::identity::oidc::{ExternalPerson, OidcError};
use crate::identity::sessions;
use crate::identity::{Caller, users};
use crate::state::AppState;

/// The cookie holding the state of the sign-in this browser started.
const STATE_COOKIE: &str = "portico_oidc_state";

/// Routes of single sign-on.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc/login", get(start))
        .route("/auth/oidc/callback", get(callback))
}

/// A sign-in that did not work, and why.
#[derive(Template)]
#[template(path = "error.html")]
struct SignInFailed {
    chrome: Chrome,
    message: String,
}

fn failed(state: &AppState, status: StatusCode, message: String) -> Response {
    let page = SignInFailed {
        chrome: Chrome::new(state.branding(), "Sign-in failed", ""),
        message,
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
}

fn not_set_up(state: &AppState) -> Response {
    let message = "Single sign-on is not set up on this portal.";
    failed(state, StatusCode::NOT_FOUND, message.into())
}

/// Where the browser reached this portal: scheme and host, for the callback URL.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if sessions::came_over_https(headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    let Some(oidc) = state.identity().oidc() else {
        return not_set_up(&state);
    };
    let redirect_uri = oidc.redirect_uri(&origin(&headers));
    match oidc.begin(safe_next(&query.next), redirect_uri).await {
        Ok((url, flow)) => {
            let settings = &state.config().auth;
            let mut response = Redirect::to(url.as_str()).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                sessions::set_cookie(STATE_COOKIE, &flow, 600, settings, &headers),
            );
            response
        }
        Err(error) => {
            tracing::warn!(%error, "cannot start a single sign-on");
            failed(&state, StatusCode::BAD_GATEWAY, error.to_string())
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = state.identity().oidc() else {
        return not_set_up(&state);
    };
    let outcome = match &query.error {
        Some(error) => Err(OidcError::Refused(
            format!(
                "{error} {}",
                query.error_description.as_deref().unwrap_or_default()
            )
            .trim()
            .to_owned(),
        )),
        None => {
            let cookie = sessions::cookie(&headers, STATE_COOKIE);
            oidc.finish(&query.state, cookie, &query.code).await
        }
    };
    let (person, next) = match outcome {
        Ok(signed_in) => signed_in,
        Err(error) => {
            record(
                &state,
                &caller,
                None,
                "",
                Outcome::Failure,
                &error.to_string(),
            )
            .await;
            return failed(&state, StatusCode::BAD_REQUEST, error.to_string());
        }
    };
    let db = state.db().clone();
    let roles = state.identity().roles().clone();
    let who = person.clone();
    let account = tokio::task::spawn_blocking(move || users::sign_in_external(&db, &roles, &who))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let user_id = match account {
        Ok(Some(id)) => id,
        Ok(None) => {
            let why = "the account is deactivated";
            record(
                &state,
                &caller,
                None,
                &person.username,
                Outcome::Denied,
                why,
            )
            .await;
            return failed(
                &state,
                StatusCode::FORBIDDEN,
                "Your account on this portal is deactivated. Ask an administrator.".into(),
            );
        }
        Err(error) => return super::error_page(&state, &error),
    };
    record(
        &state,
        &caller,
        Some((user_id, &person)),
        &person.username,
        Outcome::Success,
        "oidc",
    )
    .await;
    let mut response = start_session(&state, &headers, user_id, &next).await;
    response.headers_mut().append(
        header::SET_COOKIE,
        sessions::set_cookie(STATE_COOKIE, "", 0, &state.config().auth, &headers),
    );
    response
}

/// Audits a single sign-on attempt (`auth.login`, method `oidc`).
async fn record(
    state: &AppState,
    caller: &Caller,
    user: Option<(i64, &ExternalPerson)>,
    username: &str,
    outcome: Outcome,
    reason: &str,
) {
    let (actor_id, actor_name, kind) = match user {
        Some((id, person)) => (format!("user:{id}"), person.username.clone(), "person"),
        None => ("anonymous".to_owned(), username.to_owned(), "anonymous"),
    };
    let details = json!({ "method": "oidc", "reason": reason });
    let (db, caller, target) = (state.db().clone(), caller.clone(), username.to_owned());
    let _ = tokio::task::spawn_blocking(move || {
        audit::record_for(
            &db,
            &caller,
            (&actor_id, &actor_name, kind),
            "auth.login",
            &target,
            outcome,
            details,
        );
    })
    .await;
}
