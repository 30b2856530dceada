//! The portal's own API as an OpenAPI 3.1 document, generated from the handlers.
//!
//! Every JSON route is declared with `#[utoipa::path]` next to its handler and
//! registered through [`api_router`], so `/openapi.json` cannot drift from the code.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
use crate::{api, apis_api, catalog_api, gateways_api, identity_api, locations_api, plugins_api};

/// The document's fixed parts; paths and schemas come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        // Replaced by the portal's name when served.
        title = "Portico API",
        description = "The API of this developer portal: health, plugins, the catalogue and its APIs, gateways, the caller and the audit log."
    ),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "plugins", description = "Installed plugins, their grants and health"),
        (name = "catalog", description = "Backstage-compatible catalogue API"),
        (name = "apis", description = "The portal's APIs: search, versions, operations and spec documents"),
        (name = "gateways", description = "Gateway instances, their sync runs, and syncs on demand"),
        (name = "identity", description = "The caller, and the audit log"),
        (name = "apps", description = "A developer's apps, their subscriptions and API keys"),
        (name = "products", description = "Products of APIs with plans, and decisions on subscriptions"),
        (name = "keys", description = "Key verification for gateways")
    ),
    modifiers(&AdminToken)
)]
struct ApiDoc;

/// The schemes routes name: the `admin_token` bearer token and the session cookie.
struct AdminToken;

impl utoipa::Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("The `admin_token` of the portal's configuration".into());
        components.add_security_scheme("admin_token", SecurityScheme::Http(scheme));
        let mut usage = Http::new(HttpAuthScheme::Bearer);
        usage.description =
            Some("A gateway's `usage_token` (`[[gateways]]`), for pushing its usage".into());
        components.add_security_scheme("usage_token", SecurityScheme::Http(usage));
        use utoipa::openapi::security::{ApiKey, ApiKeyValue};
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::identity::sessions::COOKIE,
                "The session of a signed-in person; writes also need the `x-csrf-token` header",
            ))),
        );
    }
}

/// Every JSON route of the portal, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::router())
        .merge(catalog_api::router())
        .merge(apis_api::router())
        .merge(crate::changelog_api::router())
        .merge(crate::publish_preview::router())
        .merge(locations_api::router())
        .merge(plugins_api::router())
        .merge(identity_api::router())
        .merge(gateways_api::router())
        .merge(crate::apps_api::router())
        .merge(crate::webhooks_api::router())
        .merge(crate::products_api::router())
        .merge(crate::verify_api::router())
        .merge(crate::usage_api::router())
        .merge(crate::billing_api::router())
        .merge(crate::tryit::router());
    document_access(router.get_openapi_mut());
    router
}

/// Adds the 401 and 403 answers of every operation that the access table
/// ([`crate::identity::access::RULES`]) does not make public, so the document
/// says what an anonymous or under-privileged caller gets without each handler
/// repeating it.
fn document_access(openapi: &mut utoipa::openapi::OpenApi) {
    use crate::identity::access::{Need, rule};
    use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (route, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (axum::http::Method::GET, &mut item.get),
            (axum::http::Method::POST, &mut item.post),
            (axum::http::Method::PUT, &mut item.put),
            (axum::http::Method::PATCH, &mut item.patch),
            (axum::http::Method::DELETE, &mut item.delete),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            if rule(&method, route).is_none_or(|r| matches!(r.need, Need::Public | Need::Key)) {
                continue;
            }
            let responses = &mut operation.responses.responses;
            responses
                .entry("401".into())
                .or_insert_with(|| problem("Not signed in, or not a valid bearer token"));
            responses
                .entry("403".into())
                .or_insert_with(|| problem("Signed in without the permission this needs"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_and_lists_every_route() {
        let (_, doc) = api_router().split_for_parts();
        let json = serde_json::to_value(&doc).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/api/v1/plugins",
            "/api/v1/plugins/{id}",
            "/api/catalog/locations",
            "/api/catalog/locations/{id}",
            "/api/catalog/locations/by-entity/{kind}/{namespace}/{name}",
            "/api/v1/apis",
            "/api/v1/apis/{namespace}/{name}",
            "/api/v1/apis/{namespace}/{name}/versions/{version}",
            "/api/v1/apis/{namespace}/{name}/versions/{version}/spec",
            "/api/v1/audit",
            "/api/v1/me",
            "/api/v1/gateways",
            "/api/v1/gateways/{name}/runs",
            "/api/v1/gateways/{name}/sync",
        ] {
            assert!(json["paths"].get(path).is_some(), "{path} is documented");
        }
        assert!(json["components"]["schemas"].get("PluginInfo").is_some());
    }

    #[test]
    fn guarded_operations_document_401_and_403_and_public_ones_do_not() {
        let (_, doc) = api_router().split_for_parts();
        let json = serde_json::to_value(&doc).unwrap();
        for (path, method) in [
            ("/api/v1/plugins", "get"),
            ("/api/v1/plugins", "post"),
            ("/metrics", "get"),
            ("/api/catalog/entities", "get"),
        ] {
            let responses = &json["paths"][path][method]["responses"];
            for status in ["401", "403"] {
                assert_eq!(
                    responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} documents {status}"
                );
            }
        }
        assert!(
            json["paths"]["/healthz"]["get"]["responses"]
                .get("401")
                .is_none()
        );
    }
}
