//! The one place that says who may call which route: [`RULES`] maps every
//! (method, route template) to what it needs, and [`authorize`] applies it to
//! every routed request, after finding the actor (admin token, SCIM token,
//! session cookie, or nobody) and checking the CSRF token of cookie-borne writes.
//! A route missing from the table is denied, whoever asks.

use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::csrf::check_csrf;
use super::request_log::RequestEntry;
use super::roles::{
    APPS_USE, AUDIT_READ, CATALOG_READ, CATALOG_WRITE, GATEWAYS_READ, GATEWAYS_SYNC, METRICS_READ,
    PLUGINS_MANAGE, PLUGINS_READ, PRODUCTS_MANAGE, SCIM_PROVISION, USERS_MANAGE,
};
use super::sessions::{self, COOKIE};
use super::{Actor, Caller, agents, audit, users};
use crate::problem::ApiError;
use crate::scim::ScimError;
use crate::state::AppState;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, signed in or not.
    Public,
    /// Anyone signed in who holds a role: a person or the admin token, not
    /// the SCIM token (which may provision and nothing else).
    SignedIn,
    /// A role that grants this permission.
    Permission(&'static str),
    /// A credential the route checks itself: an API key at
    /// `/api/v1/keys/verify`, a gateway's usage token where it pushes usage.
    /// The bearer token there is no portal credential, so no actor is looked
    /// up and the request is metered as usage rather than audited.
    Key,
}

/// How a denial reads: problem+json for the API, a page or a redirect for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A JSON route.
    Api,
    /// An HTML page.
    Page,
    /// SCIM provisioning (`/scim/v2`): SCIM errors, and 404 without `[auth.scim]`.
    Scim,
}

/// One entry of the table.
#[derive(Debug)]
pub struct Rule {
    /// The method (`HEAD` is checked as `GET`).
    pub method: &'static str,
    /// The route template, as axum matched it.
    pub route: &'static str,
    /// What the caller needs.
    pub need: Need,
    /// API or page.
    pub surface: Surface,
}

const fn api(method: &'static str, route: &'static str, need: Need) -> Rule {
    Rule {
        method,
        route,
        need,
        surface: Surface::Api,
    }
}

const fn page(method: &'static str, route: &'static str, need: Need) -> Rule {
    Rule {
        method,
        route,
        need,
        surface: Surface::Page,
    }
}

const fn scim(method: &'static str, route: &'static str) -> Rule {
    Rule {
        method,
        route,
        need: Need::Permission(SCIM_PROVISION),
        surface: Surface::Scim,
    }
}

const READ: Need = Need::Permission(CATALOG_READ);
const APPS: Need = Need::Permission(APPS_USE);
const PRODUCTS: Need = Need::Permission(PRODUCTS_MANAGE);

/// Every route and what it needs.
pub const RULES: &[Rule] = &[
    // Operations
    api("GET", "/healthz", Need::Public),
    api("GET", "/readyz", Need::Public),
    api("GET", "/metrics", Need::Permission(METRICS_READ)),
    api("GET", "/openapi.json", Need::Public),
    page("GET", "/llms.txt", READ),
    page("GET", "/llms-full.txt", READ),
    // The MCP endpoint (stateless Streamable HTTP: POST only); its tools
    // check visibility per caller, and `call_sandbox` needs an account.
    api("POST", "/mcp", READ),
    // Backstage's catalogue API
    api("GET", "/api/catalog/entities", READ),
    api("GET", "/api/catalog/entities/by-query", READ),
    api(
        "GET",
        "/api/catalog/entities/by-name/{kind}/{namespace}/{name}",
        READ,
    ),
    api("POST", "/api/catalog/entities/by-refs", READ),
    api("GET", "/api/catalog/entity-facets", READ),
    api("GET", "/api/catalog/locations", READ),
    api(
        "POST",
        "/api/catalog/locations",
        Need::Permission(CATALOG_WRITE),
    ),
    api("GET", "/api/catalog/locations/{id}", READ),
    api(
        "DELETE",
        "/api/catalog/locations/{id}",
        Need::Permission(CATALOG_WRITE),
    ),
    api(
        "GET",
        "/api/catalog/locations/by-entity/{kind}/{namespace}/{name}",
        READ,
    ),
    // The portal's API
    api("GET", "/api/v1/apis", READ),
    api("GET", "/api/v1/apis/{namespace}/{name}", READ),
    // Changelogs: read as the APIs are; summaries and deprecations by catalogue writers.
    api("GET", "/api/v1/apis/{namespace}/{name}/changelog", READ),
    api(
        "PUT",
        "/api/v1/apis/{namespace}/{name}/changelog/{version}",
        Need::Permission(CATALOG_WRITE),
    ),
    api("GET", "/api/v1/changelog", READ),
    // Previewing a publication: what an import would publish, for those who publish.
    api(
        "POST",
        "/api/v1/apis/{namespace}/{name}/diff",
        Need::Permission(CATALOG_WRITE),
    ),
    api(
        "PUT",
        "/api/v1/apis/{namespace}/{name}/versions/{version}/deprecation",
        Need::Permission(CATALOG_WRITE),
    ),
    api(
        "DELETE",
        "/api/v1/apis/{namespace}/{name}/versions/{version}/deprecation",
        Need::Permission(CATALOG_WRITE),
    ),
    api(
        "GET",
        "/api/v1/apis/{namespace}/{name}/versions/{version}",
        READ,
    ),
    api(
        "GET",
        "/api/v1/apis/{namespace}/{name}/versions/{version}/spec",
        READ,
    ),
    // Trying spends the API's upstream quota: an account is needed.
    api(
        "POST",
        "/api/v1/apis/{namespace}/{name}/versions/{version}/try",
        Need::SignedIn,
    ),
    // Each developer's own synthetic sandbox state.
    api(
        "POST",
        "/api/v1/apis/{namespace}/{name}/sandbox/reset",
        Need::SignedIn,
    ),
    api("GET", "/api/v1/plugins", Need::Permission(PLUGINS_READ)),
    api("POST", "/api/v1/plugins", Need::Permission(PLUGINS_MANAGE)),
    api(
        "GET",
        "/api/v1/plugins/{id}",
        Need::Permission(PLUGINS_READ),
    ),
    api(
        "DELETE",
        "/api/v1/plugins/{id}",
        Need::Permission(PLUGINS_MANAGE),
    ),
    api(
        "POST",
        "/api/v1/plugins/{id}/enable",
        Need::Permission(PLUGINS_MANAGE),
    ),
    api(
        "POST",
        "/api/v1/plugins/{id}/disable",
        Need::Permission(PLUGINS_MANAGE),
    ),
    api("GET", "/api/v1/gateways", Need::Permission(GATEWAYS_READ)),
    api(
        "GET",
        "/api/v1/gateways/{name}/runs",
        Need::Permission(GATEWAYS_READ),
    ),
    api(
        "POST",
        "/api/v1/gateways/{name}/sync",
        Need::Permission(GATEWAYS_SYNC),
    ),
    api("GET", "/api/v1/audit", Need::Permission(AUDIT_READ)),
    api("GET", "/api/v1/me", Need::Public),
    // Apps and keys: each caller reaches their own apps only (checked by the handlers).
    api("GET", "/api/v1/apps", APPS),
    api("POST", "/api/v1/apps", APPS),
    api("GET", "/api/v1/apps/{id}", APPS),
    api("DELETE", "/api/v1/apps/{id}", APPS),
    api("POST", "/api/v1/apps/{id}/subscriptions", APPS),
    api(
        "DELETE",
        "/api/v1/apps/{id}/subscriptions/{subscription_id}",
        APPS,
    ),
    api("GET", "/api/v1/apps/{id}/keys", APPS),
    api("POST", "/api/v1/apps/{id}/keys", APPS),
    api("DELETE", "/api/v1/apps/{id}/keys/{key_id}", APPS),
    api("POST", "/api/v1/apps/{id}/keys/{key_id}/rotate", APPS),
    api("GET", "/api/v1/apps/{id}/webhook", APPS),
    api("PUT", "/api/v1/apps/{id}/webhook", APPS),
    api("DELETE", "/api/v1/apps/{id}/webhook", APPS),
    api("POST", "/api/v1/apps/{id}/webhook/rotate-secret", APPS),
    api("GET", "/api/v1/apps/{id}/webhook/deliveries", APPS),
    // Products: read as the catalogue is; changed by their owners and admins
    // (checked by the handlers), decided likewise.
    api("GET", "/api/v1/products", READ),
    api("POST", "/api/v1/products", PRODUCTS),
    api("GET", "/api/v1/products/{name}", READ),
    api("PUT", "/api/v1/products/{name}", PRODUCTS),
    api("DELETE", "/api/v1/products/{name}", PRODUCTS),
    api("POST", "/api/v1/products/{name}/plans", PRODUCTS),
    api("PUT", "/api/v1/products/{name}/plans/{plan}", PRODUCTS),
    api("GET", "/api/v1/subscriptions", PRODUCTS),
    api("POST", "/api/v1/subscriptions/{id}/approve", PRODUCTS),
    api("POST", "/api/v1/subscriptions/{id}/reject", PRODUCTS),
    // Usage: each caller reads what their view allows (checked by the handler).
    api("GET", "/api/v1/usage", APPS),
    api(
        "GET",
        "/api/v1/usage/sources",
        Need::Permission(GATEWAYS_READ),
    ),
    api("GET", "/api/v1/invoices", APPS),
    api("GET", "/api/v1/invoices/current", APPS),
    // A gateway pushing its logs, with its usage token (checked by the handler).
    api("POST", "/api/v1/gateways/{name}/usage", Need::Key),
    // Key verification for gateways.
    api("GET", "/api/v1/keys/verify", Need::Key),
    api("POST", "/api/v1/keys/verify", Need::Key),
    // Pages
    page("GET", "/", READ),
    page("GET", "/catalog", READ),
    page("GET", "/apis/{namespace}/{name}", READ),
    page("GET", "/apis/{namespace}/{name}/docs", READ),
    page("GET", "/apis/{namespace}/{name}/docs.md", READ),
    page(
        "GET",
        "/apis/{namespace}/{name}/versions/{version}/docs",
        READ,
    ),
    page(
        "GET",
        "/apis/{namespace}/{name}/versions/{version}/docs.md",
        READ,
    ),
    page(
        "POST",
        "/apis/{namespace}/{name}/versions/{version}/try",
        Need::SignedIn,
    ),
    page(
        "POST",
        "/apis/{namespace}/{name}/sandbox/reset",
        Need::SignedIn,
    ),
    page("GET", "/catalog/{kind}/{namespace}/{name}", READ),
    page("GET", "/apis/{namespace}/{name}/changelog", READ),
    page("GET", "/apis/{namespace}/{name}/changelog.atom", READ),
    page("GET", "/changelog", READ),
    page("GET", "/changelog.atom", READ),
    page(
        "GET",
        "/apis/{namespace}/{name}/preview",
        Need::Permission(CATALOG_WRITE),
    ),
    page(
        "POST",
        "/apis/{namespace}/{name}/preview",
        Need::Permission(CATALOG_WRITE),
    ),
    // My apps: each caller reaches their own apps only (checked by the handlers).
    page("GET", "/apps", APPS),
    page("GET", "/dashboard", APPS),
    page("POST", "/apps", APPS),
    page("GET", "/apps/{id}", APPS),
    page("POST", "/apps/{id}/delete", APPS),
    page("POST", "/apps/{id}/subscriptions", APPS),
    page(
        "POST",
        "/apps/{id}/subscriptions/{subscription_id}/cancel",
        APPS,
    ),
    page("POST", "/apps/{id}/keys", APPS),
    page("POST", "/apps/{id}/keys/{key_id}/rotate", APPS),
    page("POST", "/apps/{id}/keys/{key_id}/revoke", APPS),
    page("POST", "/apps/{id}/webhook", APPS),
    page("POST", "/apps/{id}/webhook/delete", APPS),
    page("POST", "/apps/{id}/webhook/rotate-secret", APPS),
    page("POST", "/apis/{namespace}/{name}/access", APPS),
    page("GET", "/plugins", Need::Permission(PLUGINS_READ)),
    page("POST", "/plugins", Need::Permission(PLUGINS_MANAGE)),
    page(
        "POST",
        "/plugins/{id}/enable",
        Need::Permission(PLUGINS_MANAGE),
    ),
    page(
        "POST",
        "/plugins/{id}/disable",
        Need::Permission(PLUGINS_MANAGE),
    ),
    page(
        "POST",
        "/plugins/{id}/remove",
        Need::Permission(PLUGINS_MANAGE),
    ),
    page("GET", "/assets/{file}", Need::Public),
    page("GET", "/auth/login", Need::Public),
    page("POST", "/auth/login", Need::Public),
    page("POST", "/auth/logout", Need::Public),
    page("GET", "/auth/oidc/login", Need::Public),
    page("GET", "/auth/oidc/callback", Need::Public),
    page("GET", "/auth/signup", Need::Public),
    page("POST", "/auth/signup", Need::Public),
    page("GET", "/profile", Need::SignedIn),
    page("GET", "/admin/audit", Need::Permission(AUDIT_READ)),
    page("GET", "/admin/users", Need::Permission(USERS_MANAGE)),
    page(
        "POST",
        "/admin/users/{id}/roles",
        Need::Permission(USERS_MANAGE),
    ),
    page(
        "POST",
        "/admin/users/{id}/deactivate",
        Need::Permission(USERS_MANAGE),
    ),
    page(
        "POST",
        "/admin/users/{id}/activate",
        Need::Permission(USERS_MANAGE),
    ),
    page("GET", "/admin/groups", Need::Permission(USERS_MANAGE)),
    page(
        "POST",
        "/admin/groups/{id}/roles",
        Need::Permission(USERS_MANAGE),
    ),
    page("GET", "/admin/roles", Need::Permission(USERS_MANAGE)),
    // Owners decide requests for their products (checked by the handlers).
    page("GET", "/admin/subscriptions", PRODUCTS),
    page("POST", "/admin/subscriptions/{id}/approve", PRODUCTS),
    page("POST", "/admin/subscriptions/{id}/reject", PRODUCTS),
    page("GET", "/admin/gateways", Need::Permission(GATEWAYS_READ)),
    page(
        "POST",
        "/admin/gateways/{name}/sync",
        Need::Permission(GATEWAYS_SYNC),
    ),
    // SCIM provisioning, for the [auth.scim] token only
    scim("GET", "/scim/v2/ServiceProviderConfig"),
    scim("POST", "/scim/v2/.search"),
    scim("GET", "/scim/v2/Schemas"),
    scim("GET", "/scim/v2/Schemas/{id}"),
    scim("GET", "/scim/v2/ResourceTypes"),
    scim("GET", "/scim/v2/ResourceTypes/{id}"),
    scim("GET", "/scim/v2/Users"),
    scim("POST", "/scim/v2/Users"),
    scim("POST", "/scim/v2/Users/.search"),
    scim("GET", "/scim/v2/Users/{id}"),
    scim("PUT", "/scim/v2/Users/{id}"),
    scim("PATCH", "/scim/v2/Users/{id}"),
    scim("DELETE", "/scim/v2/Users/{id}"),
    scim("GET", "/scim/v2/Groups"),
    scim("POST", "/scim/v2/Groups"),
    scim("POST", "/scim/v2/Groups/.search"),
    scim("GET", "/scim/v2/Groups/{id}"),
    scim("PUT", "/scim/v2/Groups/{id}"),
    scim("PATCH", "/scim/v2/Groups/{id}"),
    scim("DELETE", "/scim/v2/Groups/{id}"),
];

/// The rule of a routed request.
pub fn rule(method: &Method, route: &str) -> Option<&'static Rule> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    RULES
        .iter()
        .find(|r| r.method == method && r.route == route)
}

/// The detail of the denial for a route missing from [`RULES`].
pub const NO_RULE: &str = "this route has no access rule, so nobody may call it";

/// The configured admin token; never printed.
#[derive(Clone)]
pub struct AdminToken {
    /// SHA-256 of the token: compared in constant time, whatever the length.
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// Resolves `admin_token` (`env:VAR` or `file:/path`); an empty token is refused.
    pub fn resolve(reference: &str) -> anyhow::Result<AdminToken> {
        use anyhow::Context as _;
        let token = crate::config::resolve_secret(reference).context("admin_token")?;
        if token.trim().is_empty() {
            anyhow::bail!("admin_token: the token is empty");
        }
        Ok(AdminToken::new(&token))
    }

    /// A token from its value.
    pub fn new(token: &str) -> AdminToken {
        AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `candidate` is the token.
    pub fn matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.digest.ct_eq(&digest).into()
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
}

/// The actor behind a session cookie, with the session's CSRF token.
async fn session_actor(state: &AppState, id: &str) -> Result<Option<(Actor, String)>, ApiError> {
    let state = state.clone();
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        let settings = &state.config().auth;
        let Some(session) = sessions::find(state.db(), &id, settings)? else {
            return Ok(None);
        };
        let actor = users::actor(state.db(), state.identity().roles(), session.user_id)?;
        Ok(actor.map(|a| (a, session.csrf)))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e: rusqlite::Error| ApiError::internal(e))
}

/// Finds the caller and applies the route's rule; see the module docs.
pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Unrouted requests go on to the fallback's 404.
    let Some(route) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let rule = rule(request.method(), &route);
    if rule.is_some_and(|r| r.need == Need::Key) {
        return next.run(request).await;
    }
    let scim_surface = rule.is_some_and(|r| r.surface == Surface::Scim);
    if scim_surface && state.scim_token().is_none() {
        // Without [auth.scim] the SCIM surface does not exist here.
        return ScimError::not_found("SCIM provisioning is not enabled ([auth.scim])")
            .into_response();
    }
    let headers = request.headers();
    let roles = state.identity().roles();
    let (actor, csrf) = if let Some(token) = bearer(headers) {
        match (state.admin_token(), state.scim_token()) {
            (Some(admin), _) if admin.matches(token) => (Actor::admin_token(roles), None),
            (_, Some(scim)) if scim.matches(token) => (Actor::scim(), None),
            _ if scim_surface => {
                return ScimError::unauthorized("the bearer token is not valid").into_response();
            }
            _ => {
                return ApiError::Unauthorized("the bearer token is not valid".into())
                    .into_response();
            }
        }
    } else if let Some(id) = sessions::cookie(headers, COOKIE) {
        match session_actor(&state, id).await {
            Ok(Some((actor, csrf))) => (actor, Some(csrf)),
            Ok(None) => (Actor::anonymous(roles), None),
            Err(error) => return error.into_response(),
        }
    } else {
        (Actor::anonymous(roles), None)
    };
    let caller = Caller {
        actor,
        ip: request
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip()),
        user_agent: header_text(headers, header::USER_AGENT.as_str()),
        request_id: header_text(headers, "x-request-id"),
        csrf,
        agent: agent(&route, headers),
    };
    let started = Instant::now();
    let target = format!("{} {}", request.method(), request.uri().path());
    let response = admit(&state, &caller, rule, &route, request, next).await;
    state.request_log().record(RequestEntry {
        caller,
        target,
        route,
        status: response.status().as_u16(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    });
    response
}

/// The agent behind a request: any call to the MCP endpoint, or a known
/// agent's `User-Agent`.
fn agent(route: &str, headers: &HeaderMap) -> Option<String> {
    if route == "/mcp" {
        return Some("mcp".into());
    }
    let user_agent = headers.get(header::USER_AGENT)?.to_str().ok()?;
    agents::from_user_agent(user_agent).map(str::to_owned)
}

/// Checks the CSRF token of a cookie-borne write and the route's rule, then
/// runs the handler or answers why not.
async fn admit(
    state: &AppState,
    caller: &Caller,
    rule: Option<&'static Rule>,
    route: &str,
    request: Request,
    next: Next,
) -> Response {
    let mut request = request;
    if let Some(expected) = caller.csrf.clone()
        && is_write(request.method())
    {
        let (checked, passed) = check_csrf(request, &expected).await;
        request = checked;
        if !passed {
            audit::record_off_thread(
                state.db(),
                caller,
                "auth.csrf",
                route.to_owned(),
                audit::Outcome::Denied,
                serde_json::Value::Null,
            )
            .await;
            return ApiError::Forbidden(
                "the CSRF token is missing or wrong: send the form again from the portal".into(),
            )
            .into_response();
        }
    }
    let Some(rule) = rule else {
        return no_rule(route, request.method());
    };
    let allowed = match rule.need {
        Need::Public | Need::Key => true,
        Need::SignedIn => caller.actor.is_authenticated() && !caller.actor.roles.is_empty(),
        Need::Permission(p) => caller.actor.can(p),
    };
    if allowed {
        request.extensions_mut().insert(caller.clone());
        return next.run(request).await;
    }
    if caller.actor.is_authenticated() {
        // Someone signed in probing beyond their roles is worth a record.
        audit::record_off_thread(
            state.db(),
            caller,
            "access.denied",
            format!("{} {route}", request.method()),
            audit::Outcome::Denied,
            serde_json::Value::Null,
        )
        .await;
    }
    deny(state, rule, caller, &request)
}

/// A route the table does not name for this method: a method the route does
/// not serve (405, as axum would answer), or a route nobody listed (refused).
fn no_rule(route: &str, method: &Method) -> Response {
    let allowed: Vec<&str> = RULES
        .iter()
        .filter(|r| r.route == route)
        .map(|r| r.method)
        .collect();
    if allowed.is_empty() {
        tracing::error!(%route, %method, "route without an access rule");
        return ApiError::Forbidden(NO_RULE.into()).into_response();
    }
    let problem = crate::problem::Problem {
        kind: "https://portico.dev/problems/method-not-allowed".into(),
        title: "Method not allowed".into(),
        status: 405,
        detail: format!("{route} answers {}", allowed.join(", ")),
    };
    let mut response = (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        axum::Json(problem),
    )
        .into_response();
    if let Ok(value) = allowed.join(", ").parse() {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

fn deny(state: &AppState, rule: &Rule, caller: &Caller, request: &Request) -> Response {
    let signed_in = caller.actor.is_authenticated();
    match (rule.surface, signed_in) {
        (Surface::Api, false) => {
            ApiError::Unauthorized("sign in, or send `Authorization: Bearer <token>`".into())
                .into_response()
        }
        (Surface::Api, true) => ApiError::Forbidden(match rule.need {
            Need::Permission(p) => format!("your roles do not grant `{p}`"),
            _ => "not allowed".into(),
        })
        .into_response(),
        (Surface::Page, false) => {
            let wanted = request.uri().path_and_query().map_or("/", |p| p.as_str());
            let next: String = url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
            Redirect::to(&format!("/auth/login?next={next}")).into_response()
        }
        (Surface::Page, true) => crate::ui::forbidden_page(state),
        (Surface::Scim, false) => {
            ScimError::unauthorized("send `Authorization: Bearer <the [auth.scim] token>`")
                .into_response()
        }
        (Surface::Scim, true) => {
            ScimError::forbidden("only the [auth.scim] token may use SCIM").into_response()
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect())
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use tower::ServiceExt as _;

    use super::*;

    #[test]
    fn tokens_match_only_themselves_and_are_never_printed() {
        let token = AdminToken::new("s3cret");
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre") && !token.matches("s3crett") && !token.matches(""));
        assert_eq!(format!("{token:?}"), "AdminToken(..)");
    }

    #[test]
    fn inline_or_empty_tokens_are_refused_without_echoing_them() {
        let err = format!("{:#}", AdminToken::resolve("hunter2").unwrap_err());
        assert!(
            err.starts_with("admin_token: ") && !err.contains("hunter2"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "\n").unwrap();
        let err = AdminToken::resolve(&format!("file:{}", file.display())).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        std::fs::write(&file, "tok\n").unwrap();
        let token = AdminToken::resolve(&format!("file:{}", file.display())).unwrap();
        assert!(token.matches("tok"));
    }

    #[tokio::test]
    async fn a_method_a_route_does_not_serve_is_405_and_an_unlisted_route_is_refused() {
        let (state, _dir) = crate::identity::test_support::state_with_token("test-token");
        let app = crate::server::app(state);
        let (status, body) = call(&app, "PUT", "/api/v1/plugins").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert!(body.contains("GET, POST"), "{body}");
        let unlisted = axum::Router::new()
            .route("/secret", axum::routing::get(|| async { "secret" }))
            .layer(axum::middleware::from_fn_with_state(
                crate::identity::test_support::state_with_token("test-token").0,
                authorize,
            ));
        let (status, body) = call(&unlisted, "GET", "/secret").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            body.contains(NO_RULE) && !body.contains("secret\""),
            "{body}"
        );
    }

    #[test]
    fn the_table_names_each_route_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(
                seen.insert((r.method, r.route)),
                "{} {} twice",
                r.method,
                r.route
            );
        }
    }

    /// The HTML pages (not in the OpenAPI document).
    const PAGES: &[(&str, &str)] = &[
        ("GET", "/"),
        ("GET", "/apps"),
        ("GET", "/dashboard"),
        ("POST", "/apps"),
        ("GET", "/apps/{id}"),
        ("POST", "/apps/{id}/delete"),
        ("POST", "/apps/{id}/subscriptions"),
        ("POST", "/apps/{id}/subscriptions/{subscription_id}/cancel"),
        ("POST", "/apps/{id}/keys"),
        ("POST", "/apps/{id}/keys/{key_id}/rotate"),
        ("POST", "/apps/{id}/keys/{key_id}/revoke"),
        ("POST", "/apps/{id}/webhook"),
        ("POST", "/apps/{id}/webhook/delete"),
        ("POST", "/apps/{id}/webhook/rotate-secret"),
        ("POST", "/apis/{namespace}/{name}/access"),
        ("GET", "/admin/subscriptions"),
        ("POST", "/admin/subscriptions/{id}/approve"),
        ("POST", "/admin/subscriptions/{id}/reject"),
        ("GET", "/catalog"),
        ("GET", "/llms.txt"),
        ("GET", "/llms-full.txt"),
        ("POST", "/mcp"),
        ("GET", "/apis/{namespace}/{name}"),
        ("GET", "/apis/{namespace}/{name}/docs"),
        ("GET", "/apis/{namespace}/{name}/docs.md"),
        ("GET", "/apis/{namespace}/{name}/versions/{version}/docs"),
        ("GET", "/apis/{namespace}/{name}/versions/{version}/docs.md"),
        ("POST", "/apis/{namespace}/{name}/versions/{version}/try"),
        ("POST", "/apis/{namespace}/{name}/sandbox/reset"),
        ("GET", "/catalog/{kind}/{namespace}/{name}"),
        ("GET", "/apis/{namespace}/{name}/changelog"),
        ("GET", "/apis/{namespace}/{name}/changelog.atom"),
        ("GET", "/changelog"),
        ("GET", "/changelog.atom"),
        ("GET", "/apis/{namespace}/{name}/preview"),
        ("POST", "/apis/{namespace}/{name}/preview"),
        ("GET", "/plugins"),
        ("POST", "/plugins"),
        ("POST", "/plugins/{id}/enable"),
        ("POST", "/plugins/{id}/disable"),
        ("POST", "/plugins/{id}/remove"),
        ("GET", "/assets/{file}"),
        ("GET", "/auth/login"),
        ("POST", "/auth/login"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/oidc/login"),
        ("GET", "/auth/oidc/callback"),
        ("GET", "/auth/signup"),
        ("POST", "/auth/signup"),
        ("GET", "/profile"),
        ("GET", "/admin/audit"),
        ("GET", "/admin/users"),
        ("POST", "/admin/users/{id}/roles"),
        ("POST", "/admin/users/{id}/deactivate"),
        ("POST", "/admin/users/{id}/activate"),
        ("GET", "/admin/groups"),
        ("POST", "/admin/groups/{id}/roles"),
        ("GET", "/admin/roles"),
        ("GET", "/admin/gateways"),
        ("POST", "/admin/gateways/{name}/sync"),
    ];

    /// The SCIM routes (described by SCIM's own discovery endpoints, not by
    /// the OpenAPI document).
    const SCIM: &[(&str, &str)] = &[
        ("GET", "/scim/v2/ServiceProviderConfig"),
        ("POST", "/scim/v2/.search"),
        ("GET", "/scim/v2/Schemas"),
        ("GET", "/scim/v2/Schemas/{id}"),
        ("GET", "/scim/v2/ResourceTypes"),
        ("GET", "/scim/v2/ResourceTypes/{id}"),
        ("GET", "/scim/v2/Users"),
        ("POST", "/scim/v2/Users"),
        ("POST", "/scim/v2/Users/.search"),
        ("GET", "/scim/v2/Users/{id}"),
        ("PUT", "/scim/v2/Users/{id}"),
        ("PATCH", "/scim/v2/Users/{id}"),
        ("DELETE", "/scim/v2/Users/{id}"),
        ("GET", "/scim/v2/Groups"),
        ("POST", "/scim/v2/Groups"),
        ("POST", "/scim/v2/Groups/.search"),
        ("GET", "/scim/v2/Groups/{id}"),
        ("PUT", "/scim/v2/Groups/{id}"),
        ("PATCH", "/scim/v2/Groups/{id}"),
        ("DELETE", "/scim/v2/Groups/{id}"),
    ];

    /// A route template with `x` for every parameter.
    fn fill(route: &str) -> String {
        route
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    async fn call(app: &axum::Router, method: &str, uri: &str) -> (StatusCode, String) {
        let request = HttpRequest::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, "Bearer test-token")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn every_registered_route_has_a_rule_and_every_rule_a_route() {
        let (state, _dir) = crate::identity::test_support::state_with_token("test-token");
        let app = crate::server::app(state);
        let (_, doc) = crate::openapi::api_router().split_for_parts();
        let doc = serde_json::to_value(&doc).unwrap();
        let mut routes: Vec<(String, String)> = PAGES
            .iter()
            .chain(SCIM)
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        routes.push(("GET".into(), "/openapi.json".into()));
        for (path, operations) in doc["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys() {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
        assert!(routes.len() > 30, "{} routes", routes.len());
        for (method, route) in &routes {
            let (status, body) = call(&app, method, &fill(route)).await;
            assert!(
                !body.contains(NO_RULE),
                "{method} {route} has no access rule"
            );
            // The admin token opens every route but key verification, which wants a key.
            if rule(&method.parse().unwrap(), route).is_none_or(|r| r.need != Need::Key) {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {route}: {body}");
            }
        }
        // And the table names no route that does not exist.
        for r in RULES {
            let (_, body) = call(&app, r.method, &fill(r.route)).await;
            assert!(
                !body.contains("no such page or endpoint"),
                "{} {} is in the table but not routed",
                r.method,
                r.route
            );
            assert!(
                routes.iter().any(|(m, p)| m == r.method && p == r.route),
                "{} {} is neither documented nor a known page",
                r.method,
                r.route
            );
        }
    }
}
