//! The product owner's approvals page, `/admin/subscriptions`: the requests
//! for manual plans of the products the caller owns (an admin: of every
//! product) with approve and reject buttons and a note to the developer, and
//! the products the caller manages. Decisions go through [`products_api::decide`].

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::{Chrome, error_page, render};
use crate::apps::products::{self, Approval};
use crate::apps::subscriptions::{self, Subscription};
use crate::apps::{AppsError, with_db};
use crate::identity::Caller;
use crate::problem::ApiError;
use crate::products_api::{self, deciding_for};
use crate::state::AppState;

/// Routes of the approvals page.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/subscriptions", get(approvals_page))
        .route("/admin/subscriptions/{id}/approve", post(approve))
        .route("/admin/subscriptions/{id}/reject", post(reject))
}

/// A request waiting for a decision.
struct RequestRow {
    id: i64,
    app: String,
    developer: String,
    product: String,
    plan: String,
    requested_at: String,
}

impl RequestRow {
    fn new(s: Subscription) -> RequestRow {
        RequestRow {
            id: s.id,
            app: s.app,
            developer: s.developer,
            product: s.product_title,
            plan: s.plan_title,
            requested_at: s.requested_at.get(..16).map_or_else(
                || s.requested_at.clone(),
                |minute| format!("{} UTC", minute.replace('T', " ")),
            ),
        }
    }
}

/// A product the caller manages, as one line.
struct OwnedProduct {
    name: String,
    title: String,
    visibility: String,
    apis: Vec<String>,
    plans: Vec<String>,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    chrome: Chrome,
    csrf: String,
    requests: Vec<RequestRow>,
    products: Vec<OwnedProduct>,
    notice: Option<String>,
    problem: Option<String>,
}

async fn approvals_page(State(state): State<AppState>, caller: Caller) -> Response {
    approvals_response(&state, &caller, StatusCode::OK, None, None).await
}

async fn approvals_response(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    let owner = deciding_for(caller);
    let actor = caller.actor.clone();
    let loaded = with_db(state, move |conn| {
        let requests = subscriptions::pending(conn, owner)?;
        let mut owned = Vec::new();
        for product in products::list(conn, &actor.audience())? {
            if products::may_manage(&actor, products::owner_of(conn, product.id)?) {
                owned.push(OwnedProduct {
                    name: product.name,
                    title: product.title,
                    visibility: product.visibility,
                    apis: product.apis,
                    plans: product
                        .plans
                        .iter()
                        .map(|p| {
                            let approval = match p.approval {
                                Approval::Auto => "approved at once",
                                Approval::Manual => "you approve",
                            };
                            format!("{} ({approval})", p.title)
                        })
                        .collect(),
                });
            }
        }
        Ok::<_, AppsError>((requests, owned))
    })
    .await;
    let (requests, products) = match loaded {
        Ok(found) => found,
        Err(error) => return error_page(state, &error),
    };
    let mut response = render(&ApprovalsPage {
        chrome: Chrome::new(state.branding(), "Approvals", "approvals"),
        csrf: caller.csrf.clone().unwrap_or_default(),
        requests: requests.into_iter().map(RequestRow::new).collect(),
        products,
        notice,
        problem,
    });
    *response.status_mut() = status;
    response
}

async fn approve(
    state: State<AppState>,
    caller: Caller,
    id: Path<i64>,
    form: Form<BTreeMap<String, String>>,
) -> Response {
    decide(state, caller, id, form, true).await
}

async fn reject(
    state: State<AppState>,
    caller: Caller,
    id: Path<i64>,
    form: Form<BTreeMap<String, String>>,
) -> Response {
    decide(state, caller, id, form, false).await
}

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(fields): Form<BTreeMap<String, String>>,
    approve: bool,
) -> Response {
    let note = fields.get("note").cloned().unwrap_or_default();
    match products_api::decide(&state, &caller, id, approve, note).await {
        Ok(s) => {
            let notice = format!(
                "{} {} of {} for {} ({}).",
                if approve { "Approved" } else { "Rejected" },
                s.plan_title,
                s.product_title,
                s.app,
                s.developer
            );
            approvals_response(&state, &caller, StatusCode::OK, Some(notice), None).await
        }
        Err(error) => {
            let problem = match &error {
                ApiError::Internal => "The decision failed; it has been logged.".to_owned(),
                other => other.to_string(),
            };
            approvals_response(&state, &caller, error.status(), None, Some(problem)).await
        }
    }
}
