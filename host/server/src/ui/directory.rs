//! The admin pages of the account directory: `/admin/users` (give roles,
//! deactivate and reactivate accounts), `/admin/groups` (the roles a group
//! grants its members, which is how SCIM- and OIDC-managed groups get roles)
//! and `/admin/roles` (what each role permits and who holds it).
//!
//! Every change goes through [`crate::identity::directory`] and is audited.

use std::collections::BTreeSet;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::{Chrome, error_page, render};
use crate::identity::Caller;
use crate::identity::audit::{self, Outcome};
use crate::identity::directory::{self, DirectoryError, GroupRow, RoleRow, UserRow};
use crate::state::AppState;

/// Routes of the directory pages.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users_page))
        .route("/admin/users/{id}/roles", post(set_user_roles))
        .route("/admin/users/{id}/deactivate", post(deactivate))
        .route("/admin/users/{id}/activate", post(activate))
        .route("/admin/groups", get(groups_page))
        .route("/admin/groups/{id}/roles", post(set_group_roles))
        .route("/admin/roles", get(roles_page))
}

/// What a change did, shown above the list.
#[derive(Default)]
struct Flash {
    notice: Option<String>,
    problem: Option<String>,
}

impl Flash {
    fn from(result: Result<String, DirectoryError>) -> (StatusCode, Flash) {
        match result {
            Ok(notice) => (
                StatusCode::OK,
                Flash {
                    notice: Some(notice),
                    problem: None,
                },
            ),
            Err(error) => {
                let status = match error {
                    DirectoryError::NotFound(_) => StatusCode::NOT_FOUND,
                    DirectoryError::Refused(_) => StatusCode::CONFLICT,
                    DirectoryError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (
                    status,
                    Flash {
                        notice: None,
                        problem: Some(error.to_string()),
                    },
                )
            }
        }
    }
}

/// One role as a checkbox.
struct RoleChoice {
    name: String,
    checked: bool,
}

fn choices(all: &[String], held: &BTreeSet<String>) -> Vec<RoleChoice> {
    all.iter()
        .map(|name| RoleChoice {
            name: name.clone(),
            checked: held.contains(name),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    csrf: String,
    q: String,
    users: Vec<(UserRow, Vec<RoleChoice>)>,
    flash: Flash,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage {
    chrome: Chrome,
    csrf: String,
    groups: Vec<(GroupRow, Vec<RoleChoice>)>,
    flash: Flash,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage {
    chrome: Chrome,
    roles: Vec<RoleRow>,
}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(default)]
    q: String,
}

async fn users_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<UsersQuery>,
) -> Response {
    users_response(&state, &caller, query.q, StatusCode::OK, Flash::default()).await
}

async fn users_response(
    state: &AppState,
    caller: &Caller,
    q: String,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let db = state.db().clone();
    let all = directory::assignable(state.identity().roles());
    let text = q.clone();
    let loaded = tokio::task::spawn_blocking(move || directory::users(&db, &text)).await;
    let users = match loaded {
        Ok(Ok(users)) => users,
        Ok(Err(error)) => return error_page(state, &error),
        Err(error) => return error_page(state, &error),
    };
    let users = users
        .into_iter()
        .map(|u| {
            let roles = choices(&all, &u.roles);
            (u, roles)
        })
        .collect();
    let mut response = render(&UsersPage {
        chrome: Chrome::new(state.branding(), "Users", ""),
        csrf: caller.csrf.clone().unwrap_or_default(),
        q,
        users,
        flash,
    });
    *response.status_mut() = status;
    response
}

/// The role names a submitted form checked (`role=...`, repeated).
fn checked_roles(body: &[u8]) -> BTreeSet<String> {
    url::form_urlencoded::parse(body)
        .filter(|(k, _)| k == "role")
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// Who a role change is for: an account, or a group and its members.
#[derive(Clone, Copy)]
enum Holder {
    User,
    Group,
}

impl Holder {
    fn name(self) -> &'static str {
        match self {
            Holder::User => "user",
            Holder::Group => "group",
        }
    }

    fn done(self, name: &str, roles: &BTreeSet<String>) -> String {
        let list: Vec<&str> = roles.iter().map(String::as_str).collect();
        match (self, list.as_slice()) {
            (Holder::User, []) => format!("{name} now has no role of their own."),
            (Holder::User, roles) => format!("{name} now has the roles {}.", roles.join(", ")),
            (Holder::Group, []) => format!("Members of {name} get no role from it."),
            (Holder::Group, roles) => format!("Members of {name} now hold {}.", roles.join(", ")),
        }
    }
}

/// Gives an account or a group exactly the roles a form checked, audited as
/// `user.roles` or `group.roles`; says how it went.
async fn change_roles(
    state: &AppState,
    caller: &Caller,
    holder: Holder,
    id: i64,
    body: &[u8],
) -> (StatusCode, Flash) {
    let wanted = checked_roles(body);
    let db = state.db().clone();
    let identity = state.clone();
    let roles = wanted.clone();
    let result = blocking(move || {
        let all = identity.identity().roles();
        match holder {
            Holder::User => directory::set_user_roles(&db, all, id, &roles),
            Holder::Group => directory::set_group_roles(&db, all, id, &roles),
        }
    })
    .await;
    let (outcome, target, details) = match &result {
        Ok((name, before)) => (
            Outcome::Success,
            name.clone(),
            json!({ "before": before, "after": wanted }),
        ),
        Err(error) => (
            Outcome::Failure,
            format!("{}:{id}", holder.name()),
            json!({ "error": error.to_string(), "wanted": wanted }),
        ),
    };
    let action = match holder {
        Holder::User => "user.roles",
        Holder::Group => "group.roles",
    };
    audit::record_off_thread(state.db(), caller, action, target, outcome, details).await;
    Flash::from(result.map(|(name, _)| holder.done(&name, &wanted)))
}

async fn set_user_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (status, flash) = change_roles(&state, &caller, Holder::User, id, &body).await;
    users_response(&state, &caller, String::new(), status, flash).await
}

async fn deactivate(state: State<AppState>, caller: Caller, id: Path<i64>) -> Response {
    set_active(state, caller, id, false).await
}

async fn activate(state: State<AppState>, caller: Caller, id: Path<i64>) -> Response {
    set_active(state, caller, id, true).await
}

async fn set_active(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    active: bool,
) -> Response {
    let db = state.db().clone();
    let result = blocking(move || directory::set_active(&db, id, active)).await;
    let action = if active {
        "user.activate"
    } else {
        "user.deactivate"
    };
    let (outcome, target, details) = match &result {
        Ok(name) => (Outcome::Success, name.clone(), json!({})),
        Err(error) => (
            Outcome::Failure,
            format!("user:{id}"),
            json!({ "error": error.to_string() }),
        ),
    };
    audit::record_off_thread(state.db(), &caller, action, target, outcome, details).await;
    let (status, flash) = Flash::from(result.map(|name| {
        if active {
            format!("{name} may sign in again.")
        } else {
            format!("{name} is deactivated: their sessions have ended and they cannot sign in.")
        }
    }));
    users_response(&state, &caller, String::new(), status, flash).await
}

async fn groups_page(State(state): State<AppState>, caller: Caller) -> Response {
    groups_response(&state, &caller, StatusCode::OK, Flash::default()).await
}

async fn groups_response(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let db = state.db().clone();
    let all = directory::assignable(state.identity().roles());
    let groups = match tokio::task::spawn_blocking(move || directory::groups(&db)).await {
        Ok(Ok(groups)) => groups,
        Ok(Err(error)) => return error_page(state, &error),
        Err(error) => return error_page(state, &error),
    };
    let groups = groups
        .into_iter()
        .map(|g| {
            let roles = choices(&all, &g.roles);
            (g, roles)
        })
        .collect();
    let mut response = render(&GroupsPage {
        chrome: Chrome::new(state.branding(), "Groups", ""),
        csrf: caller.csrf.clone().unwrap_or_default(),
        groups,
        flash,
    });
    *response.status_mut() = status;
    response
}

async fn set_group_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (status, flash) = change_roles(&state, &caller, Holder::Group, id, &body).await;
    groups_response(&state, &caller, status, flash).await
}

async fn roles_page(State(state): State<AppState>) -> Response {
    let db = state.db().clone();
    let identity = state.clone();
    let loaded =
        tokio::task::spawn_blocking(move || directory::roles(&db, identity.identity().roles()))
            .await;
    match loaded {
        Ok(Ok(roles)) => render(&RolesPage {
            chrome: Chrome::new(state.branding(), "Roles", ""),
            roles,
        })
        .into_response(),
        Ok(Err(error)) => error_page(&state, &error),
        Err(error) => error_page(&state, &error),
    }
}

/// Runs a directory change on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DirectoryError> + Send + 'static,
) -> Result<T, DirectoryError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(DirectoryError::Refused(format!(
            "the change did not finish: {e}"
        )))
    })
}
