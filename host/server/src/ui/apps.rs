//! The developer's pages for self-serve access: "My apps" (`/apps`) and one
//! app with its subscriptions and keys (`/apps/{id}`). A key is shown once,
//! in the answer to the form that made it (`Cache-Control: no-store`): never
//! in a URL, a cookie or a log.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use super::api_access::ProductOffer;
use super::app_webhook::{self, WebhookSection};
use super::{Chrome, ErrorPage, forbidden_page, render};
use crate::apps::keys::{self, Environment, KeyDraft, KeyStatus, KeyView};
use crate::apps::products;
use crate::apps::subscriptions::{self, AppDraft, Subscription, SubscriptionStatus};
use crate::apps::{AppsError, account, check_app_access, provision, with_db};
use crate::apps_api::{CreatedKey, audited, issue_key, revoke, rotate};
use crate::identity::Caller;
use crate::identity::roles::{APPS_USE, PRODUCTS_MANAGE};
use crate::problem::ApiError;
use crate::state::AppState;

/// Routes of the apps pages.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/apps", get(apps_page).post(create_app))
        .route("/apps/{id}", get(app_page))
        .route("/apps/{id}/delete", post(delete_app))
        .route("/apps/{id}/subscriptions", post(subscribe))
        .route(
            "/apps/{id}/subscriptions/{subscription_id}/cancel",
            post(cancel),
        )
        .route("/apps/{id}/keys", post(create_key))
        .route("/apps/{id}/keys/{key_id}/rotate", post(rotate_key))
        .route("/apps/{id}/keys/{key_id}/revoke", post(revoke_key))
}

tokio::task_local! {
    /// The header links of the caller whose page is being built.
    static LINKS: HeaderLinks;
}

/// The header's links that depend on who reads the page.
#[derive(Clone, Copy, Default)]
pub(super) struct HeaderLinks {
    /// "My apps", for people who hold `apps.use`.
    pub(super) apps: bool,
    /// "Approvals", for holders of `products.manage`.
    pub(super) approvals: bool,
}

impl HeaderLinks {
    /// The links of the page being built (none outside a request).
    pub(super) fn current() -> HeaderLinks {
        LINKS.try_with(|l| *l).unwrap_or_default()
    }
}

/// Lets [`Chrome`] know who reads the page, for the header's links.
pub(super) async fn header_links(request: Request, next: Next) -> Response {
    let links = request
        .extensions()
        .get::<Caller>()
        .map(|c| HeaderLinks {
            apps: c.actor.user_id.is_some() && c.actor.can(APPS_USE),
            approvals: c.actor.can(PRODUCTS_MANAGE),
        })
        .unwrap_or_default();
    LINKS.scope(links, next.run(request)).await
}

/// What a change did, shown above the page.
#[derive(Default)]
struct Flash {
    notice: Option<String>,
    problem: Option<String>,
}

impl Flash {
    fn notice(text: impl Into<String>) -> Flash {
        Flash {
            notice: Some(text.into()),
            problem: None,
        }
    }

    fn problem(error: &ApiError) -> Flash {
        let text = match error {
            ApiError::Internal => "The change failed; it has been logged.".to_owned(),
            other => other.to_string(),
        };
        Flash {
            notice: None,
            problem: Some(text),
        }
    }
}

/// A subscription as a row.
struct SubscriptionRow {
    id: i64,
    product: String,
    plan: String,
    status: &'static str,
    badge: &'static str,
    note: String,
    requested_at: String,
}

impl SubscriptionRow {
    fn new(s: Subscription) -> SubscriptionRow {
        let badge = match s.status {
            SubscriptionStatus::Approved => "badge-good",
            SubscriptionStatus::Requested => "badge-warn",
            SubscriptionStatus::Rejected => "badge-bad",
        };
        SubscriptionRow {
            id: s.id,
            product: s.product_title,
            plan: s.plan_title,
            status: s.status.as_str(),
            badge,
            note: s.note,
            requested_at: short_time(&s.requested_at),
        }
    }
}

/// A key as a row: never the key itself.
struct KeyRow {
    id: i64,
    name: String,
    environment: &'static str,
    prefix: String,
    status: &'static str,
    badge: &'static str,
    created: String,
    expires: String,
    scopes: String,
    gateways: Vec<String>,
    active: bool,
    rotated: bool,
}

impl KeyRow {
    fn new(k: KeyView) -> KeyRow {
        let (status, badge) = match k.status {
            KeyStatus::Active => ("active", "badge-good"),
            KeyStatus::Expired => ("expired", "badge-neutral"),
            KeyStatus::Revoked => ("revoked", "badge-bad"),
        };
        KeyRow {
            id: k.id,
            name: k.name,
            environment: k.environment.as_str(),
            prefix: k.prefix,
            status,
            badge,
            created: epoch_time(k.created_at),
            expires: k.expires_at.map_or_else(|| "never".to_owned(), epoch_time),
            scopes: if k.scopes.is_empty() {
                "every operation".to_owned()
            } else {
                k.scopes.join(", ")
            },
            gateways: k
                .gateways
                .into_iter()
                .map(|g| match g.error {
                    Some(error) => format!("{}: {} ({error})", g.gateway, g.status),
                    None => format!("{}: {}", g.gateway, g.status),
                })
                .collect(),
            active: k.status == KeyStatus::Active,
            rotated: k.rotated_to.is_some(),
        }
    }
}

/// An app with its subscriptions and keys.
struct AppView {
    id: i64,
    name: String,
    description: String,
    owner: String,
    created: String,
    subscriptions: Vec<SubscriptionRow>,
    keys: Vec<KeyRow>,
}

/// A key just made, to show once.
pub(super) struct Revealed {
    key: String,
    prefix: String,
    name: String,
    environment: &'static str,
    /// The docs to try it on, after "Get a key".
    docs_href: Option<String>,
}

impl Revealed {
    pub(super) fn new(created: CreatedKey, docs_href: Option<String>) -> Revealed {
        Revealed {
            key: created.key,
            prefix: created.details.prefix,
            name: created.details.name,
            environment: created.details.environment.as_str(),
            docs_href,
        }
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage {
    chrome: Chrome,
    csrf: String,
    apps: Vec<AppView>,
    flash: Flash,
}

#[derive(Template)]
#[template(path = "app.html")]
struct AppPage {
    chrome: Chrome,
    csrf: String,
    app: AppView,
    offers: Vec<ProductOffer>,
    flash: Flash,
    revealed: Option<Revealed>,
    webhook: WebhookSection,
}

/// Every page here is someone's private business: not stored anywhere.
fn private(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn app_not_found(state: &AppState) -> Response {
    let page = ErrorPage {
        chrome: Chrome::new(state.branding(), "Not found", "apps"),
        message: "You have no app by that number. It may have been deleted.",
    };
    private(render(&page), StatusCode::NOT_FOUND)
}

/// The page for an error that is not the app's own.
pub(super) fn failed(state: &AppState, error: &ApiError) -> Response {
    match error {
        ApiError::Forbidden(_) | ApiError::Unauthorized(_) => forbidden_page(state),
        ApiError::NotFound(_) => app_not_found(state),
        other => super::error_page(state, other),
    }
}

fn view(app: subscriptions::App, keys: Vec<KeyView>) -> AppView {
    AppView {
        id: app.id,
        name: app.name,
        description: app.description,
        owner: app.owner,
        created: short_time(&app.created_at),
        subscriptions: app
            .subscriptions
            .into_iter()
            .map(SubscriptionRow::new)
            .collect(),
        keys: keys.into_iter().map(KeyRow::new).collect(),
    }
}

async fn apps_page(State(state): State<AppState>, caller: Caller) -> Response {
    apps_response(&state, &caller, StatusCode::OK, Flash::default()).await
}

async fn apps_response(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let owner = match account(caller) {
        Ok(owner) => owner,
        Err(error) => return failed(state, &error),
    };
    let loaded = with_db(state, move |conn| {
        subscriptions::apps_of(conn, owner)?
            .into_iter()
            .map(|app| {
                let keys = keys::list(conn, app.id)?;
                Ok(view(app, keys))
            })
            .collect::<Result<Vec<_>, AppsError>>()
    })
    .await;
    let apps = match loaded {
        Ok(apps) => apps,
        Err(error) => return failed(state, &error),
    };
    let page = AppsPage {
        chrome: Chrome::new(state.branding(), "My apps", "apps"),
        csrf: caller.csrf.clone().unwrap_or_default(),
        apps,
        flash,
    };
    private(render(&page), status)
}

async fn app_page(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Response {
    app_response(&state, &caller, id, StatusCode::OK, Flash::default(), None).await
}

/// One app's page, with what a change did and the key it made, if one.
async fn app_response(
    state: &AppState,
    caller: &Caller,
    id: i64,
    status: StatusCode,
    flash: Flash,
    revealed: Option<Revealed>,
) -> Response {
    let reader = caller.clone();
    let loaded = with_db(state, move |conn| {
        check_app_access(conn, &reader, id)?;
        let app = subscriptions::app(conn, id)?
            .ok_or_else(|| AppsError::NotFound(format!("no app {id}")))?;
        let keys = keys::list(conn, id)?;
        let offers = products::list(conn, &reader.actor.audience())?;
        let webhook = app_webhook::section(conn, id)?;
        Ok((view(app, keys), offers, webhook))
    })
    .await;
    let (app, offers, webhook) = match loaded {
        Ok(found) => found,
        Err(error) => return failed(state, &error),
    };
    let page = AppPage {
        chrome: Chrome::new(state.branding(), app.name.clone(), "apps"),
        csrf: caller.csrf.clone().unwrap_or_default(),
        app,
        offers: offers
            .iter()
            .filter(|p| !p.plans.is_empty())
            .map(ProductOffer::new)
            .collect(),
        flash,
        revealed,
        webhook,
    };
    private(render(&page), status)
}

/// The answer to a change of an app: its page saying how it went.
pub(super) async fn after(
    state: &AppState,
    caller: &Caller,
    id: i64,
    result: Result<(String, Option<Revealed>), ApiError>,
) -> Response {
    match result {
        Ok((notice, revealed)) => {
            app_response(
                state,
                caller,
                id,
                StatusCode::OK,
                Flash::notice(notice),
                revealed,
            )
            .await
        }
        Err(error) => {
            let status = error.status();
            app_response(state, caller, id, status, Flash::problem(&error), None).await
        }
    }
}

pub(super) type Fields = Form<BTreeMap<String, String>>;

fn field<'f>(fields: &'f BTreeMap<String, String>, name: &str) -> &'f str {
    fields.get(name).map_or("", |v| v.trim())
}

pub(super) fn number(fields: &BTreeMap<String, String>, name: &str) -> Result<i64, ApiError> {
    field(fields, name)
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("the form's `{name}` is not a number")))
}

async fn create_app(
    State(state): State<AppState>,
    caller: Caller,
    Form(fields): Fields,
) -> Response {
    let owner = match account(&caller) {
        Ok(owner) => owner,
        Err(error) => return failed(&state, &error),
    };
    let draft = AppDraft {
        name: field(&fields, "name").to_owned(),
        description: field(&fields, "description").to_owned(),
    };
    let created = with_db(&state, move |conn| {
        subscriptions::create_app(conn, owner, &draft)
    })
    .await;
    match created {
        Ok(app) => {
            audited(
                &state,
                &caller,
                "app.create",
                format!("app:{}", app.id),
                serde_json::json!({ "name": app.name }),
            )
            .await;
            let notice = format!(
                "Created {}. Ask for access to a product, then create a key.",
                app.name
            );
            app_response(
                &state,
                &caller,
                app.id,
                StatusCode::CREATED,
                Flash::notice(notice),
                None,
            )
            .await
        }
        Err(error) => {
            let status = error.status();
            apps_response(&state, &caller, status, Flash::problem(&error)).await
        }
    }
}

async fn delete_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    let checker = caller.clone();
    // Revoked first, so the gateways are told while the credentials are on record.
    let revoked = with_db(&state, move |conn| {
        check_app_access(conn, &checker, id)?;
        let name = subscriptions::app(conn, id)?
            .map(|a| a.name)
            .unwrap_or_default();
        let ids: Vec<i64> = keys::list(conn, id)?
            .into_iter()
            .filter(|k| k.revoked_at.is_none())
            .map(|k| k.id)
            .collect();
        for key in &ids {
            keys::revoke(conn, *key)?;
        }
        Ok((name, ids))
    })
    .await;
    let (name, revoked) = match revoked {
        Ok(found) => found,
        Err(error) => return after(&state, &caller, id, Err(error)).await,
    };
    state.verifier().forget();
    provision::revoke(&state, &revoked).await;
    let deleted = with_db(&state, move |conn| subscriptions::delete_app(conn, id)).await;
    state.verifier().forget();
    if let Err(error) = deleted {
        return after(&state, &caller, id, Err(error)).await;
    }
    audited(
        &state,
        &caller,
        "app.delete",
        format!("app:{id}"),
        serde_json::json!({ "keys_revoked": revoked.len() }),
    )
    .await;
    let notice = format!("Deleted {name}; its keys stopped working.");
    apps_response(&state, &caller, StatusCode::OK, Flash::notice(notice)).await
}

/// Subscribes an app the caller may act on to a plan they may see, audited.
pub(super) async fn request_plan(
    state: &AppState,
    caller: &Caller,
    app_id: i64,
    plan_id: i64,
) -> Result<Subscription, ApiError> {
    let checker = caller.clone();
    let subscription = with_db(state, move |conn| {
        check_app_access(conn, &checker, app_id)?;
        let hidden = || AppsError::NotFound(format!("no plan {plan_id}"));
        let (product_id, _) = products::plan(conn, plan_id)?.ok_or_else(hidden)?;
        let product = products::get(conn, product_id)?.ok_or_else(hidden)?;
        if !product.visible_to(&checker.actor.audience()) {
            return Err(hidden());
        }
        subscriptions::subscribe(conn, app_id, plan_id)
    })
    .await?;
    state.verifier().forget();
    audited(
        state,
        caller,
        "subscription.request",
        format!("app:{app_id}"),
        serde_json::json!({ "subscription": subscription.id, "product": subscription.product, "plan": subscription.plan, "status": subscription.status }),
    )
    .await;
    Ok(subscription)
}

/// What a subscription's state means to the developer.
pub(super) fn subscribed(s: &Subscription) -> String {
    match s.status {
        SubscriptionStatus::Approved => format!(
            "{} of {} is approved: keys of {} may call its APIs.",
            s.plan_title, s.product_title, s.app
        ),
        _ => format!(
            "You asked for {} of {} for {}: it waits for the owner's approval.",
            s.plan_title, s.product_title, s.app
        ),
    }
}

async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(fields): Fields,
) -> Response {
    let result = async {
        let plan_id = number(&fields, "plan_id")?;
        let subscription = request_plan(&state, &caller, id, plan_id).await?;
        Ok((subscribed(&subscription), None))
    }
    .await;
    after(&state, &caller, id, result).await
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, subscription_id)): Path<(i64, i64)>,
) -> Response {
    let checker = caller.clone();
    let result = with_db(&state, move |conn| {
        check_app_access(conn, &checker, id)?;
        let gone = || AppsError::NotFound(format!("no subscription {subscription_id}"));
        if subscriptions::app_of(conn, subscription_id)? != id {
            return Err(gone());
        }
        let subscription = subscriptions::subscription(conn, subscription_id)?.ok_or_else(gone)?;
        subscriptions::cancel(conn, subscription_id)?;
        Ok(subscription)
    })
    .await;
    let result = match result {
        Ok(subscription) => {
            state.verifier().forget();
            audited(
                &state,
                &caller,
                "subscription.cancel",
                format!("app:{id}"),
                serde_json::json!({ "subscription": subscription_id }),
            )
            .await;
            Ok((
                format!(
                    "Ended the subscription to {}: this app's keys no longer call its APIs.",
                    subscription.product_title
                ),
                None,
            ))
        }
        Err(error) => Err(error),
    };
    after(&state, &caller, id, result).await
}

/// The key a form asks for.
fn key_draft(fields: &BTreeMap<String, String>) -> Result<KeyDraft, ApiError> {
    let environment = Environment::parse(field(fields, "environment")).ok_or_else(|| {
        ApiError::BadRequest("choose the sandbox or production environment".into())
    })?;
    let expires_at = match field(fields, "expires") {
        "" => None,
        date => {
            let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                ApiError::BadRequest(format!("`{date}` is not a date (YYYY-MM-DD)"))
            })?;
            // A key expiring on a day works until that day ends (UTC).
            day.succ_opt()
                .and_then(|next| next.and_hms_opt(0, 0, 0))
                .map(|at| at.and_utc().timestamp())
        }
    };
    let scopes = field(fields, "scopes")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(KeyDraft {
        name: field(fields, "name").to_owned(),
        environment,
        scopes,
        expires_at,
    })
}

async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(fields): Fields,
) -> Response {
    let result = async {
        let draft = key_draft(&fields)?;
        let created = issue_key(&state, &caller, id, draft).await?;
        let notice = format!("Created the key {}.", created.details.name);
        Ok((notice, Some(Revealed::new(created, None))))
    }
    .await;
    after(&state, &caller, id, result).await
}

async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(i64, i64)>,
    Form(fields): Fields,
) -> Response {
    let result = async {
        let overlap = match field(&fields, "overlap") {
            "" => 0,
            _ => number(&fields, "overlap")?,
        };
        let created = rotate(&state, &caller, id, key_id, overlap).await?;
        let notice = if overlap == 0 {
            format!(
                "Rotated {}: the old key stopped working at once.",
                created.details.name
            )
        } else {
            format!(
                "Rotated {}: the old key keeps working for {}.",
                created.details.name,
                span(overlap)
            )
        };
        Ok((notice, Some(Revealed::new(created, None))))
    }
    .await;
    after(&state, &caller, id, result).await
}

async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(i64, i64)>,
) -> Response {
    let result = revoke(&state, &caller, id, key_id).await.map(|key| {
        (
            format!(
                "Revoked {} ({}…): it stopped working at once.",
                key.name, key.prefix
            ),
            None,
        )
    });
    after(&state, &caller, id, result).await
}

/// An overlap in words.
fn span(secs: i64) -> String {
    match secs {
        3600 => "an hour".to_owned(),
        86_400 => "a day".to_owned(),
        604_800 => "7 days".to_owned(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{s} seconds"),
    }
}

/// Seconds since the epoch as `2025-06-01 14:03 UTC`.
fn epoch_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A stored timestamp (`2025-06-01T14:03:12.345Z`) to the minute.
fn short_time(stored: &str) -> String {
    match stored.get(..16) {
        Some(minute) if stored.len() > 16 => format!("{} UTC", minute.replace('T', " ")),
        _ => stored.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_form_reads_environment_expiry_day_and_scopes() {
        let fields: BTreeMap<String, String> = [
            ("name", "ci"),
            ("environment", "production"),
            ("expires", "2030-01-31"),
            ("scopes", "read, api:default/petstore"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let draft = key_draft(&fields).unwrap();
        assert_eq!(draft.environment, Environment::Production);
        assert_eq!(draft.scopes, ["read", "api:default/petstore"]);
        // Works through the 31st: stops at midnight UTC starting February.
        assert_eq!(draft.expires_at, Some(1_896_134_400));
        let mut bad = fields.clone();
        bad.insert("environment".into(), "staging".into());
        assert!(key_draft(&bad).is_err());
        bad.insert("environment".into(), "sandbox".into());
        bad.insert("expires".into(), "31/01/2030".into());
        assert!(key_draft(&bad).is_err());
    }

    #[test]
    fn stored_times_read_to_the_minute() {
        assert_eq!(
            short_time("2025-06-01T14:03:12.345Z"),
            "2025-06-01 14:03 UTC"
        );
        assert_eq!(epoch_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(span(3600), "an hour");
        assert_eq!(span(7200), "2 hours");
    }
}
