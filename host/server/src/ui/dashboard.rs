//! The usage dashboard (`/dashboard`): a developer's own apps and keys, an
//! API owner's APIs across every consumer, and an administrator's portal,
//! each as the widget plugins draw it. A developer also sees the deprecated
//! versions of the APIs their apps use and what the current billing period
//! costs so far; an administrator the time-to-first-call funnel and what
//! each usage source sent.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use portico_catalog::spec::VersionLifecycle;
use portico_catalog::{DEFAULT_NAMESPACE, EntityRef};
use portico_runtime::worlds::widget::Audience;
use serde::Deserialize;

use super::apps::failed;
use super::{Chrome, render};
use crate::apps::{AppsError, with_db};
use crate::billing::{RunningTotal, format_money};
use crate::identity::Caller;
use crate::identity::roles::PRODUCTS_MANAGE;
use crate::state::AppState;
use crate::usage::funnel::{self, human_duration};
use crate::usage::ingest::{self, SourceStats};
use crate::usage::now_ms;
use crate::usage::scope::{self, View};
use crate::usage::widgets::{self, Panel};

/// The funnel's window: accounts created in the last 30 days.
const FUNNEL_DAYS: i64 = 30;

/// Routes of the dashboard.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/dashboard", get(dashboard))
}

#[derive(Deserialize)]
struct DashboardQuery {
    view: Option<View>,
}

/// A tab of the dashboard.
struct Tab {
    href: &'static str,
    label: &'static str,
    current: bool,
}

/// A deprecated version an app of the reader uses.
struct DeprecatedRow {
    api: String,
    api_href: String,
    version: String,
    sunset: Option<String>,
    migration: Option<String>,
}

/// A running total as the page shows it.
struct TotalRow {
    app: String,
    product: String,
    billing: String,
    period: String,
    total: String,
    error: Option<String>,
}

/// The funnel as the page shows it.
struct FunnelView {
    signed_up: usize,
    with_key: usize,
    with_call: usize,
    to_key: String,
    to_call: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    heading: &'static str,
    intro: &'static str,
    tabs: Vec<Tab>,
    view: &'static str,
    panels: Vec<Panel>,
    deprecated: Vec<DeprecatedRow>,
    totals: Vec<TotalRow>,
    funnel: Option<FunnelView>,
    sources: Vec<SourceStats>,
}

async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<DashboardQuery>,
) -> Response {
    let actor = caller.actor.clone();
    let view = query.view.unwrap_or_else(|| View::default_for(&actor));
    let resolved = with_db(&state, {
        let actor = actor.clone();
        move |conn| scope::resolve(conn, &actor, view)
    })
    .await;
    let scope = match resolved {
        Ok(scope) => scope,
        Err(error) => return failed(&state, &error),
    };
    let now = now_ms();
    let (audience, heading, intro) = match view {
        View::Mine => (
            Audience::Developer,
            "My usage",
            "Calls made with your apps' keys: through gateways, try-it and the sandbox.",
        ),
        View::Owned => (
            Audience::Owner,
            "My APIs",
            "Calls to the APIs of the products you own, by every consumer.",
        ),
        View::All => (
            Audience::Admin,
            "Portal usage",
            "Every call the portal and its gateways saw.",
        ),
    };
    let panels = widgets::panels(&state, &scope, audience, now).await;
    let mut page = DashboardPage {
        chrome: Chrome::new(state.branding(), heading, "dashboard"),
        heading,
        intro,
        tabs: tabs(&caller, view),
        view: match view {
            View::Mine => "mine",
            View::Owned => "owned",
            View::All => "all",
        },
        panels,
        deprecated: Vec::new(),
        totals: Vec::new(),
        funnel: None,
        sources: Vec::new(),
    };
    if let (View::Mine, Some(user)) = (view, actor.user_id) {
        page.deprecated = deprecated_for(&state, &caller, user).await;
        let apps = with_db(&state, move |conn| Ok(scope::app_ids(conn, user)?))
            .await
            .unwrap_or_default();
        page.totals = crate::billing::running_totals(&state, &apps)
            .await
            .into_iter()
            .map(total_row)
            .collect();
    }
    if view == View::All {
        let since = now - FUNNEL_DAYS * 86_400_000;
        let loaded = with_db(&state, move |conn| {
            Ok((funnel::funnel(conn, since)?, ingest::sources(conn)?))
        })
        .await;
        if let Ok((f, sources)) = loaded {
            let show = |secs: Option<f64>| secs.map_or_else(|| "–".to_owned(), human_duration);
            page.funnel = Some(FunnelView {
                signed_up: f.signed_up,
                with_key: f.with_key,
                with_call: f.with_call,
                to_key: show(f.median_to_key_secs),
                to_call: show(f.median_to_call_secs),
            });
            page.sources = sources;
        }
    }
    render(&page)
}

fn tabs(caller: &Caller, view: View) -> Vec<Tab> {
    let actor = &caller.actor;
    let mut tabs = Vec::new();
    if actor.user_id.is_some() {
        tabs.push(Tab {
            href: "/dashboard?view=mine",
            label: "My usage",
            current: view == View::Mine,
        });
    }
    if actor.can(PRODUCTS_MANAGE) {
        tabs.push(Tab {
            href: "/dashboard?view=owned",
            label: "My APIs",
            current: view == View::Owned,
        });
    }
    if scope::is_admin(actor) {
        tabs.push(Tab {
            href: "/dashboard?view=all",
            label: "Portal",
            current: view == View::All,
        });
    }
    tabs
}

fn total_row(t: RunningTotal) -> TotalRow {
    TotalRow {
        app: t.app,
        product: format!("{} · {}", t.product, t.plan),
        billing: t.billing_name.unwrap_or(t.billing),
        period: format!(
            "{} to {}",
            t.period_start.get(..10).unwrap_or_default(),
            t.period_end.get(..10).unwrap_or_default()
        ),
        total: match (t.total_minor, &t.currency) {
            (Some(total), Some(currency)) => format_money(total, currency),
            _ => "–".into(),
        },
        error: t.error,
    }
}

/// The deprecated versions of the APIs the user's apps are subscribed to.
async fn deprecated_for(state: &AppState, caller: &Caller, user: i64) -> Vec<DeprecatedRow> {
    let apis = with_db(state, move |conn| {
        let mut statement = conn.prepare(
            "SELECT DISTINCT pa.api_ref FROM subscriptions s JOIN apps a ON a.id = s.app_id
             JOIN product_apis pa ON pa.product_id = s.product_id
             WHERE a.owner_id = ?1 AND s.status = 'approved' ORDER BY pa.api_ref",
        )?;
        let refs = statement
            .query_map([user], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, AppsError>(refs)
    })
    .await
    .unwrap_or_default();
    let audience = caller.actor.audience();
    crate::catalog_api::with_store(state, move |store| {
        let mut rows = Vec::new();
        for api in apis
            .iter()
            .filter_map(|r| EntityRef::parse(r, Some("api"), DEFAULT_NAMESPACE).ok())
        {
            let Some(stored) = store.visible_entity(&api, &audience)? else {
                continue;
            };
            let title = stored
                .entity
                .metadata
                .title
                .clone()
                .unwrap_or_else(|| api.name.clone());
            for version in store.versions(&api)? {
                if let VersionLifecycle::Deprecated { sunset } = &version.lifecycle {
                    rows.push(DeprecatedRow {
                        api: title.clone(),
                        api_href: format!(
                            "/apis/{}/{}/versions/{}/docs",
                            api.namespace, api.name, version.version
                        ),
                        version: version.version.clone(),
                        sunset: sunset.clone(),
                        migration: version.migration.clone(),
                    });
                }
            }
        }
        Ok(rows)
    })
    .await
    .unwrap_or_else(|error| {
        tracing::error!(%error, "cannot list the deprecations of a developer's APIs");
        Vec::new()
    })
}
