//! The API page's "Access" section: the products that include the API, with
//! their plans, and a one-step "Get a key" that subscribes the reader's first
//! app (made when they have none) and shows a sandbox key once, so the
//! first call with a key is a few clicks from the API's page.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::Response;
use axum::routing::post;
use portico_catalog::{EntityRef, StoredEntity};

use super::apps::{Fields, Revealed, after, failed, number, request_plan, subscribed};
use super::catalog::entity_href;
use crate::apps::keys::{Environment, KeyDraft};
use crate::apps::products::{self, Approval, Plan, Product};
use crate::apps::subscriptions::{self, AppDraft, SubscriptionStatus};
use crate::apps::{AppsError, account, with_db};
use crate::apps_api::{audited, issue_key};
use crate::identity::Caller;
use crate::identity::roles::APPS_USE;
use crate::state::AppState;

/// Routes of the API page's access section.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/apis/{namespace}/{name}/access", post(get_a_key))
}

/// The API page's "Access" section: the products covering the API, and how
/// the reader gets a key for one of their plans.
pub(super) struct Access {
    pub(super) offers: Vec<ProductOffer>,
    /// Where "Get a key" posts, for a reader who may hold apps.
    pub(super) action: Option<String>,
    pub(super) csrf: String,
    pub(super) sign_in_href: Option<String>,
    pub(super) sign_up_href: Option<String>,
    pub(super) note: Option<&'static str>,
}

impl Access {
    /// The section for `caller` reading the page of `api`.
    pub(super) async fn for_api(state: &AppState, caller: &Caller, api: &EntityRef) -> Access {
        let api_ref = api.key();
        let audience = caller.actor.audience();
        let offers = match with_db(state, move |conn| {
            products::for_api(conn, &api_ref, &audience)
        })
        .await
        {
            Ok(found) => found
                .iter()
                .filter(|p| !p.plans.is_empty())
                .map(ProductOffer::new)
                .collect(),
            Err(error) => {
                tracing::error!(%error, "cannot read the products of an API");
                Vec::new()
            }
        };
        let page = entity_href(api);
        let mut access = Access {
            offers,
            action: None,
            csrf: String::new(),
            sign_in_href: None,
            sign_up_href: None,
            note: None,
        };
        if !caller.actor.is_authenticated() {
            let next: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
            access.sign_in_href = Some(format!("/auth/login?next={next}"));
            access.sign_up_href = state
                .config()
                .auth
                .signup
                .then(|| format!("/auth/signup?next={next}"));
        } else if let (Some(csrf), Some(_), true) = (
            caller.csrf.clone(),
            caller.actor.user_id,
            caller.actor.can(APPS_USE),
        ) {
            access.action = Some(format!("{page}/access"));
            access.csrf = csrf;
        } else {
            access.note = Some(
                "Keys belong to people who hold `apps.use`: ask an administrator for the developer role.",
            );
        }
        access
    }
}

/// The oldest of an owner's apps.
fn first_app(conn: &rusqlite::Connection, owner: i64) -> Result<Option<i64>, AppsError> {
    Ok(subscriptions::apps_of(conn, owner)?
        .into_iter()
        .map(|a| a.id)
        .min())
}

/// "Get a key" on an API page, in one step: the reader's first app (made if
/// they have none) subscribes to the plan and, once approved, gets a sandbox
/// key, shown on the app's page with a link back to the API's docs.
async fn get_a_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    Form(fields): Fields,
) -> Response {
    let owner = match account(&caller) {
        Ok(owner) => owner,
        Err(error) => return failed(&state, &error),
    };
    let api = EntityRef::new("api", namespace, name);
    let store = state.catalog().clone();
    let (wanted, audience) = (api.clone(), caller.actor.audience());
    let visible = tokio::task::spawn_blocking(move || store.visible_entity(&wanted, &audience))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let Some(stored) = visible else {
        return super::entity::not_found(&state);
    };
    let plan_id = match number(&fields, "plan_id") {
        Ok(id) => id,
        Err(error) => return failed(&state, &error),
    };
    let (api_ref, audience) = (api.key(), caller.actor.audience());
    let username = caller.actor.name.clone();
    let title = api_title(&stored);
    let description = format!("Made when getting a key for {title}.");
    let found = with_db(&state, move |conn| {
        let offered = products::for_api(conn, &api_ref, &audience)?
            .into_iter()
            .any(|p| p.plans.iter().any(|plan| plan.id == plan_id));
        if !offered {
            return Err(AppsError::NotFound(format!(
                "no plan {plan_id} covers this API"
            )));
        }
        match first_app(conn, owner)? {
            Some(id) => Ok((id, None)),
            None => {
                let draft = AppDraft {
                    name: format!("{username}'s app"),
                    description,
                };
                let app = subscriptions::create_app(conn, owner, &draft)?;
                Ok((app.id, Some(app.name)))
            }
        }
    })
    .await;
    let (app_id, made) = match found {
        Ok(found) => found,
        Err(error) => return failed(&state, &error),
    };
    if let Some(name) = made {
        audited(
            &state,
            &caller,
            "app.create",
            format!("app:{app_id}"),
            serde_json::json!({ "name": name }),
        )
        .await;
    }
    let docs_href = format!("{}/docs", entity_href(&api));
    let result = async {
        let subscription = request_plan(&state, &caller, app_id, plan_id).await?;
        if subscription.status != SubscriptionStatus::Approved {
            return Ok((subscribed(&subscription), None));
        }
        let draft = KeyDraft {
            name: "sandbox".into(),
            environment: Environment::Sandbox,
            scopes: Vec::new(),
            expires_at: None,
        };
        let created = issue_key(&state, &caller, app_id, draft).await?;
        let notice = format!(
            "{} of {} is yours, with a sandbox key for {title}.",
            subscription.plan_title, subscription.product_title
        );
        Ok((notice, Some(Revealed::new(created, Some(docs_href)))))
    }
    .await;
    after(&state, &caller, app_id, result).await
}

fn api_title(stored: &StoredEntity) -> String {
    stored
        .entity
        .metadata
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| stored.entity.metadata.name.clone())
}

/// A plan as an offer: its limits in words.
pub(super) struct PlanOffer {
    pub(super) id: i64,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) rate: String,
    pub(super) quota: String,
    pub(super) manual: bool,
}

impl PlanOffer {
    fn new(plan: &Plan) -> PlanOffer {
        let per = match plan.rate_period_secs {
            1 => "second".to_owned(),
            60 => "minute".to_owned(),
            3600 => "hour".to_owned(),
            86_400 => "day".to_owned(),
            secs => format!("{secs} seconds"),
        };
        PlanOffer {
            id: plan.id,
            title: plan.title.clone(),
            description: plan.description.clone(),
            rate: plan.rate_limit.map_or_else(
                || "No rate limit".to_owned(),
                |n| format!("{} requests per {per}", thousands(n)),
            ),
            quota: plan.quota.map_or_else(
                || "No quota".to_owned(),
                |n| {
                    format!(
                        "{} requests per {}",
                        thousands(n),
                        plan.quota_period.as_str()
                    )
                },
            ),
            manual: plan.approval == Approval::Manual,
        }
    }
}

/// A product as an offer, with the APIs it covers.
pub(super) struct ProductOffer {
    pub(super) title: String,
    pub(super) description: String,
    pub(super) apis: Vec<(String, String)>,
    pub(super) plans: Vec<PlanOffer>,
}

impl ProductOffer {
    pub(super) fn new(product: &Product) -> ProductOffer {
        ProductOffer {
            title: product.title.clone(),
            description: product.description.clone(),
            apis: product
                .apis
                .iter()
                .map(|r| match EntityRef::parse_full(r) {
                    Ok(api) => (entity_href(&api), api.name.clone()),
                    Err(_) => ("/catalog".to_owned(), r.clone()),
                })
                .collect(),
            plans: product.plans.iter().map(PlanOffer::new).collect(),
        }
    }
}

/// `1000000` as `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_numbers_have_thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
