//! The portal's own API as an OpenAPI 3.1 document, generated from the handlers.
//!
//! Every JSON route is declared with `#[utoipa::path]` next to its handler and
//! registered through [`api_router`], so `/openapi.json` cannot drift from the code.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
use crate::{api, catalog_api};

/// The document's fixed parts; paths and schemas come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portico API",
        description = "The API of a Portico developer portal: health, plugins and, as they land, the catalogue, keys and usage."
    ),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "plugins", description = "Installed plugins, their grants and health"),
        (name = "catalog", description = "Backstage-compatible catalogue API"),
        (name = "apis", description = "Search the portal's APIs")
    )
)]
struct ApiDoc;

/// Every JSON route of the portal, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::router())
        .merge(catalog_api::router())
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
        ] {
            assert!(json["paths"].get(path).is_some(), "{path} is documented");
        }
        assert!(json["components"]["schemas"].get("PluginInfo").is_some());
    }
}
