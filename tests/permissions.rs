//! The permission matrix end to end: every route of `/openapi.json`, every
//! page and every SCIM route, called by a visitor, a viewer, a developer, an
//! api-owner, an admin, the admin token and the SCIM token, against the table
//! of who may call what.

use std::collections::BTreeMap;

use portico::config::AuthSettings;
use portico_tests::{ADMIN_TOKEN, AppSpec, SCIM_TOKEN, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::Value;

use crate::identity::{Session, add_user, client, sign_in};

/// Who may call each route: `A` anonymous, `V` viewer, `D` developer,
/// `P` partner, `O` api-owner, `M` admin (a person), `T` the admin token and
/// `S` the `[auth.scim]` token, which opens the SCIM routes and nothing else.
fn expected(method: &str, route: &str) -> &'static str {
    const EVERYONE: &str = "AVDPOMTS";
    const READERS: &str = "AVDPOMT";
    match (method, route) {
        (
            "GET",
            "/healthz" | "/readyz" | "/openapi.json" | "/api/v1/me" | "/auth/login"
            | "/assets/{file}",
        ) => EVERYONE,
        ("POST", "/auth/login") => EVERYONE,
        ("GET", "/metrics") => "MT",
        ("GET", "/api/v1/plugins" | "/api/v1/plugins/{id}" | "/plugins") => "VOMT",
        ("POST" | "DELETE", r) if r.starts_with("/api/v1/plugins") => "MT",
        ("POST", r) if r.starts_with("/plugins") => "MT",
        ("POST" | "DELETE", r) if r.starts_with("/api/catalog/locations") => "OMT",
        ("GET", "/api/v1/audit" | "/admin/audit") => "MT",
        (_, r) if r.starts_with("/admin/users") || r.starts_with("/admin/groups") => "MT",
        ("GET", "/admin/roles") => "MT",
        ("GET", "/api/v1/gateways" | "/api/v1/gateways/{name}/runs" | "/admin/gateways") => "OMT",
        ("POST", "/api/v1/gateways/{name}/sync" | "/admin/gateways/{name}/sync") => "MT",
        ("GET", "/profile") => "VDPOMT",
        // Apps and keys need `apps.use`. The admin token passes the access
        // layer but holds no account, so handlers that get as far as asking
        // for one refuse it: here only the lists, where no path or body is
        // refused first.
        ("GET", "/api/v1/apps" | "/apps") => "DPOM",
        (_, r) if r.starts_with("/api/v1/apps") || r.starts_with("/apps") => "DPOMT",
        ("POST", "/apis/{namespace}/{name}/access") => "DPOMT",
        // Products are read as the catalogue is, and changed and decided by
        // holders of `products.manage` (their owners, checked by the handlers).
        ("GET", "/api/v1/products" | "/api/v1/products/{name}") => READERS,
        (_, r) if r.starts_with("/api/v1/products") => "OMT",
        (_, r)
            if r.starts_with("/api/v1/subscriptions") || r.starts_with("/admin/subscriptions") =>
        {
            "OMT"
        }
        // Key verification checks the key itself (`Need::Key`): without one,
        // nobody gets through, whatever else they hold.
        (_, "/api/v1/keys/verify") => "",
        // A gateway pushing usage holds its own token, which no role replaces.
        ("POST", "/api/v1/gateways/{name}/usage") => "",
        // Usage and invoices: each reader's own (checked by the handlers).
        ("GET", "/api/v1/usage" | "/api/v1/invoices" | "/dashboard") => "DPOMT",
        ("GET", "/api/v1/invoices/current") => "DPOM",
        ("GET", "/api/v1/usage/sources") => "OMT",
        // Trying needs an account with a role (`Need::SignedIn`), since it spends upstream quota.
        (
            "POST",
            "/api/v1/apis/{namespace}/{name}/versions/{version}/try"
            | "/apis/{namespace}/{name}/versions/{version}/try",
        ) => "VDPOMT",
        // Resetting one's own synthetic sandbox state, like trying, needs an account.
        (
            "POST",
            "/api/v1/apis/{namespace}/{name}/sandbox/reset"
            | "/apis/{namespace}/{name}/sandbox/reset",
        ) => "VDPOMT",
        // Changelogs are read as the catalogue is; summaries and deprecations need `catalog.write`.
        ("PUT" | "DELETE", r)
            if r.starts_with("/api/v1/apis/")
                && (r.contains("/changelog/") || r.ends_with("/deprecation")) =>
        {
            "OMT"
        }
        // Previewing a publication is for those who publish.
        ("POST", "/api/v1/apis/{namespace}/{name}/diff")
        | ("GET" | "POST", "/apis/{namespace}/{name}/preview") => "OMT",
        (
            "GET",
            "/api/v1/changelog"
            | "/changelog"
            | "/changelog.atom"
            | "/apis/{namespace}/{name}/changelog"
            | "/apis/{namespace}/{name}/changelog.atom",
        ) => READERS,
        ("GET", r) if r.starts_with("/api/catalog/") || r.starts_with("/api/v1/apis") => READERS,
        ("POST", "/api/catalog/entities/by-refs") => READERS,
        (
            "GET",
            "/"
            | "/catalog"
            | "/llms.txt"
            | "/llms-full.txt"
            | "/apis/{namespace}/{name}"
            | "/catalog/{kind}/{namespace}/{name}",
        ) => READERS,
        ("GET", r) if r.starts_with("/apis/{namespace}/{name}/") && r.contains("/docs") => READERS,
        // The MCP endpoint reads the catalogue; its tools check visibility per caller.
        ("POST", "/mcp") => READERS,
        (_, r) if r.starts_with("/scim/v2/") => "S",
        _ => panic!("{method} {route} is not in the matrix: say who may call it"),
    }
}

/// The HTML pages (not in /openapi.json).
const PAGES: &[(&str, &str)] = &[
    ("GET", "/"),
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
    ("GET", "/plugins"),
    ("POST", "/plugins"),
    ("POST", "/plugins/{id}/enable"),
    ("POST", "/plugins/{id}/disable"),
    ("POST", "/plugins/{id}/remove"),
    ("GET", "/assets/{file}"),
    ("GET", "/auth/login"),
    ("POST", "/auth/login"),
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
    ("GET", "/apis/{namespace}/{name}/changelog"),
    ("GET", "/apis/{namespace}/{name}/changelog.atom"),
    ("GET", "/changelog"),
    ("GET", "/changelog.atom"),
    ("GET", "/apis/{namespace}/{name}/preview"),
    ("POST", "/apis/{namespace}/{name}/preview"),
];

/// The SCIM routes (described by SCIM's own discovery, not /openapi.json).
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

#[tokio::test]
async fn every_route_allows_exactly_the_roles_in_the_matrix() {
    let app = spawn_app(AppSpec {
        scim: true,
        ..AppSpec::default()
    })
    .await;
    let mut sessions: BTreeMap<char, Session> = BTreeMap::new();
    for (letter, role) in [
        ('V', "viewer"),
        ('D', "developer"),
        ('P', "partner"),
        ('O', "api-owner"),
        ('M', "admin"),
    ] {
        add_user(&app, role, role);
        sessions.insert(letter, sign_in(&app, role).await);
    }
    let doc: Value = client()
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes: Vec<(String, String, bool)> = PAGES
        .iter()
        .map(|(m, r)| ((*m).to_owned(), (*r).to_owned(), true))
        .collect();
    routes.push(("GET".into(), "/openapi.json".into(), false));
    routes.extend(
        SCIM.iter()
            .map(|(m, r)| ((*m).to_owned(), (*r).to_owned(), false)),
    );
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.clone(), false));
        }
    }
    assert!(routes.len() > 35, "{} routes", routes.len());
    let mut failures = Vec::new();
    for (method, route, is_page) in &routes {
        let allowed = expected(method, route);
        let uri = route
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for who in "AVDPOMTS".chars() {
            let mut request = client()
                .request(method.parse().unwrap(), format!("{}{uri}", app.base))
                .header("content-type", "application/json")
                .body("{}");
            match who {
                'A' => {}
                'T' => request = request.bearer_auth(ADMIN_TOKEN),
                'S' => request = request.bearer_auth(SCIM_TOKEN),
                person => {
                    let s = &sessions[&person];
                    request = request
                        .header(COOKIE, s.header())
                        .header("x-csrf-token", &s.csrf);
                }
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let to_login = status == StatusCode::SEE_OTHER
                && response.headers()[LOCATION]
                    .to_str()
                    .unwrap()
                    .starts_with("/auth/login");
            let denied =
                status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN || to_login;
            let should = allowed.contains(who);
            if should == denied {
                failures.push(format!(
                    "{who} {method} {uri}: {status}, expected {}",
                    if should { "allowed" } else { "denied" }
                ));
            } else if denied
                && (route == "/api/v1/keys/verify" || route == "/api/v1/gateways/{name}/usage")
            {
                // These answer for themselves, the same to everyone without their credential.
                if status != StatusCode::UNAUTHORIZED {
                    failures.push(format!("{who} {method} {uri}: {status}, not 401"));
                }
            } else if denied {
                // Denials say why in the way the surface expects.
                let expected_status = match (who, is_page) {
                    ('A', true) => StatusCode::SEE_OTHER,
                    ('A', false) => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::FORBIDDEN,
                };
                if status != expected_status {
                    failures.push(format!(
                        "{who} {method} {uri}: denied with {status}, not {expected_status}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_private_catalogue_sends_visitors_to_sign_in() {
    let app = spawn_app(AppSpec {
        auth: AuthSettings {
            public_catalog: false,
            ..AuthSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    let home = client().get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()[LOCATION], "/auth/login?next=%2F");
    let api = client()
        .get(format!("{}/api/v1/apis", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let login = client()
        .get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        client()
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
