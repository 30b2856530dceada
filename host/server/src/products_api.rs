//! The owner's side under `/api/v1/products` and `/api/v1/subscriptions`:
//! products of APIs with their plans, and the decisions on subscriptions
//! that wait for approval. Readers see the products their audience may see;
//! a product is changed, and its subscriptions decided, by its owner or an admin.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::products::{self, Plan, PlanDraft, Product, ProductDraft};
use crate::apps::subscriptions::{self, Subscription};
use crate::apps::{AppsError, with_db};
use crate::apps_api::audited;
use crate::identity::Caller;
use crate::identity::roles::ADMIN;
use crate::problem::{ApiError, ApiPath, JsonBody, Problem};
use crate::state::AppState;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(create_plan))
        .routes(routes!(update_plan))
        .routes(routes!(pending_subscriptions))
        .routes(routes!(approve))
        .routes(routes!(reject))
}

const PROBLEM: &str = "application/problem+json";

/// The body of a decision.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// A note to the developer (why not, or what to know).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

/// A product by name that `caller` may see, or not found.
pub(crate) fn visible_product(
    conn: &rusqlite::Connection,
    caller: &Caller,
    name: &str,
) -> Result<Product, AppsError> {
    products::by_name(conn, name)?
        .filter(|p| p.visible_to(&caller.actor.audience()))
        .ok_or_else(|| AppsError::NotFound(format!("no product called `{name}`")))
}

/// A product by name that `caller` may change: its owner's or, for an admin, any.
pub(crate) fn managed_product(
    conn: &rusqlite::Connection,
    caller: &Caller,
    name: &str,
) -> Result<Product, AppsError> {
    let product = visible_product(conn, caller, name)?;
    let owner = products::owner_of(conn, product.id)?;
    if !products::may_manage(&caller.actor, owner) {
        return Err(AppsError::Forbidden(format!(
            "product `{name}` belongs to {}: only its owner or an admin may change it",
            product.owner.as_deref().unwrap_or("nobody")
        )));
    }
    Ok(product)
}

/// `GET /api/v1/products`: the products the caller may see, with their plans.
#[utoipa::path(get, path = "/api/v1/products", tag = "products",
    responses(
        (status = 200, description = "The products, by title", body = Vec<Product>),
        (status = 403, description = "No `catalog.read` permission", body = Problem, content_type = PROBLEM)))]
async fn list_products(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Vec<Product>>, ApiError> {
    let audience = caller.actor.audience();
    Ok(Json(
        with_db(&state, move |conn| products::list(conn, &audience)).await?,
    ))
}

/// `POST /api/v1/products`: creates a product owned by the caller.
#[utoipa::path(post, path = "/api/v1/products", tag = "products",
    request_body = ProductDraft,
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 201, description = "The product", body = Product),
        (status = 400, description = "A malformed body, name, visibility or API reference", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `products.manage` permission", body = Problem, content_type = PROBLEM),
        (status = 409, description = "A product of that name exists", body = Problem, content_type = PROBLEM)))]
async fn create_product(
    caller: Caller,
    State(state): State<AppState>,
    JsonBody(draft): JsonBody<ProductDraft>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let owner = caller.actor.user_id;
    let product = with_db(&state, move |conn| products::create(conn, &draft, owner)).await?;
    audited(
        &state,
        &caller,
        "product.create",
        format!("product:{}", product.name),
        serde_json::json!({ "apis": product.apis }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(product)))
}

/// `GET /api/v1/products/{name}`: one product with its plans.
#[utoipa::path(get, path = "/api/v1/products/{name}", tag = "products",
    params(("name" = String, Path, description = "The product's name")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 403, description = "No `catalog.read` permission", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such product the caller may see", body = Problem, content_type = PROBLEM)))]
async fn get_product(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        with_db(&state, move |conn| visible_product(conn, &caller, &name)).await?,
    ))
}

/// `PUT /api/v1/products/{name}`: replaces a product's title, description,
/// audience and APIs; the keys of its subscribers follow at once.
#[utoipa::path(put, path = "/api/v1/products/{name}", tag = "products",
    params(("name" = String, Path, description = "The product's name")),
    request_body = ProductDraft,
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 400, description = "A malformed body, or a different name", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not the product's owner or an admin", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such product the caller may see", body = Problem, content_type = PROBLEM)))]
async fn update_product(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(draft): JsonBody<ProductDraft>,
) -> Result<Json<Product>, ApiError> {
    if draft.name != name {
        return Err(ApiError::BadRequest(format!(
            "the body names product `{}`, the path `{name}`: a product keeps its name",
            draft.name
        )));
    }
    let checker = caller.clone();
    let product = with_db(&state, move |conn| {
        let product = managed_product(conn, &checker, &name)?;
        products::update(conn, product.id, &draft)
    })
    .await?;
    state.verifier().forget();
    audited(
        &state,
        &caller,
        "product.update",
        format!("product:{}", product.name),
        serde_json::json!({ "apis": product.apis, "visibility": product.visibility }),
    )
    .await;
    Ok(Json(product))
}

/// `DELETE /api/v1/products/{name}`: deletes a product, its plans and every
/// subscription to it; subscribers' keys stop working for its APIs at once.
#[utoipa::path(delete, path = "/api/v1/products/{name}", tag = "products",
    params(("name" = String, Path, description = "The product's name")),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not the product's owner or an admin", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such product the caller may see", body = Problem, content_type = PROBLEM)))]
async fn delete_product(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let checker = caller.clone();
    let target = format!("product:{name}");
    with_db(&state, move |conn| {
        let product = managed_product(conn, &checker, &name)?;
        products::delete(conn, product.id)
    })
    .await?;
    state.verifier().forget();
    audited(
        &state,
        &caller,
        "product.delete",
        target,
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/products/{name}/plans`: adds a plan.
#[utoipa::path(post, path = "/api/v1/products/{name}/plans", tag = "products",
    params(("name" = String, Path, description = "The product's name")),
    request_body = PlanDraft,
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 201, description = "The plan", body = Plan),
        (status = 400, description = "A malformed body, name or limit, or an unknown billing plan", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not the product's owner or an admin", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such product the caller may see", body = Problem, content_type = PROBLEM),
        (status = 409, description = "The product has a plan of that name", body = Problem, content_type = PROBLEM)))]
async fn create_plan(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    JsonBody(draft): JsonBody<PlanDraft>,
) -> Result<(StatusCode, Json<Plan>), ApiError> {
    crate::billing::check_reference(&state, draft.billing.as_deref()).await?;
    let checker = caller.clone();
    let target = format!("product:{name}");
    let plan = with_db(&state, move |conn| {
        let product = managed_product(conn, &checker, &name)?;
        products::create_plan(conn, product.id, &draft)
    })
    .await?;
    audited(
        &state,
        &caller,
        "plan.create",
        target,
        serde_json::json!({ "plan": plan.name }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(plan)))
}

/// `PUT /api/v1/products/{name}/plans/{plan}`: changes a plan's title,
/// limits and approval; subscribers' keys follow at once.
#[utoipa::path(put, path = "/api/v1/products/{name}/plans/{plan}", tag = "products",
    params(("name" = String, Path, description = "The product's name"), ("plan" = String, Path, description = "The plan's name")),
    request_body = PlanDraft,
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The plan", body = Plan),
        (status = 400, description = "A malformed body or limit, a different name, or an unknown billing plan", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not the product's owner or an admin", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such product or plan", body = Problem, content_type = PROBLEM)))]
async fn update_plan(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((name, plan_name)): ApiPath<(String, String)>,
    JsonBody(draft): JsonBody<PlanDraft>,
) -> Result<Json<Plan>, ApiError> {
    if draft.name != plan_name {
        return Err(ApiError::BadRequest(format!(
            "the body names plan `{}`, the path `{plan_name}`: a plan keeps its name",
            draft.name
        )));
    }
    crate::billing::check_reference(&state, draft.billing.as_deref()).await?;
    let checker = caller.clone();
    let target = format!("product:{name}");
    let plan = with_db(&state, move |conn| {
        let product = managed_product(conn, &checker, &name)?;
        let plan = product
            .plans
            .iter()
            .find(|p| p.name == plan_name)
            .ok_or_else(|| {
                AppsError::NotFound(format!("product `{name}` has no plan `{plan_name}`"))
            })?;
        products::update_plan(conn, plan.id, &draft)
    })
    .await?;
    state.verifier().forget();
    audited(
        &state,
        &caller,
        "plan.update",
        target,
        serde_json::json!({ "plan": plan.name }),
    )
    .await;
    Ok(Json(plan))
}

/// `GET /api/v1/subscriptions`: the subscriptions waiting for the caller's
/// decision (an admin's: every product's), oldest first.
#[utoipa::path(get, path = "/api/v1/subscriptions", tag = "products",
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Requested subscriptions, oldest first", body = Vec<Subscription>),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `products.manage` permission", body = Problem, content_type = PROBLEM)))]
async fn pending_subscriptions(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Vec<Subscription>>, ApiError> {
    let owner = deciding_for(&caller);
    Ok(Json(
        with_db(&state, move |conn| subscriptions::pending(conn, owner)).await?,
    ))
}

/// Whose products the caller decides for: none for an admin (every product).
pub(crate) fn deciding_for(caller: &Caller) -> Option<i64> {
    if caller.actor.roles.contains(ADMIN) {
        None
    } else {
        Some(caller.actor.user_id.unwrap_or(-1))
    }
}

/// `POST /api/v1/subscriptions/{id}/approve`: approves a requested subscription.
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/approve", tag = "products",
    params(("id" = i64, Path, description = "The subscription's id")),
    request_body(content = Decision, description = "An optional note to the developer"),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The approved subscription", body = Subscription),
        (status = 400, description = "No JSON body (send `{}` for no note), or a malformed one", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not the product's owner or an admin", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such subscription", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Decided already", body = Problem, content_type = PROBLEM)))]
async fn approve(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    JsonBody(decision): JsonBody<Decision>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(
        decide(&state, &caller, id, true, decision.note).await?,
    ))
}

/// `POST /api/v1/subscriptions/{id}/reject`: rejects a requested subscription.
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/reject", tag = "products",
    params(("id" = i64, Path, description = "The subscription's id")),
    request_body(content = Decision, description = "An optional note to the developer: why not"),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The rejected subscription", body = Subscription),
        (status = 400, description = "No JSON body (send `{}` for no note), or a malformed one", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "Not the product's owner or an admin", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such subscription", body = Problem, content_type = PROBLEM),
        (status = 409, description = "Decided already", body = Problem, content_type = PROBLEM)))]
async fn reject(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    JsonBody(decision): JsonBody<Decision>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(
        decide(&state, &caller, id, false, decision.note).await?,
    ))
}

/// Records the owner's decision on a subscription, audited.
pub(crate) async fn decide(
    state: &AppState,
    caller: &Caller,
    id: i64,
    approve: bool,
    note: String,
) -> Result<Subscription, ApiError> {
    let actor = caller.actor.clone();
    let subscription = with_db(state, move |conn| {
        let owner = subscriptions::product_owner(conn, id)?;
        if !products::may_manage(&actor, owner) {
            return Err(AppsError::Forbidden(
                "only the product's owner or an admin decides its subscriptions".into(),
            ));
        }
        subscriptions::decide(conn, id, approve, actor.user_id, &note)
    })
    .await?;
    state.verifier().forget();
    let action = if approve {
        "subscription.approve"
    } else {
        "subscription.reject"
    };
    audited(
        state,
        caller,
        action,
        format!("app:{}", subscription.app_id),
        serde_json::json!({ "subscription": id, "product": subscription.product, "plan": subscription.plan }),
    )
    .await;
    Ok(subscription)
}
