//! What the service provider says about itself (RFC 7643 §5–7):
//! `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes`. The schemas
//! publish exactly the attributes Portico stores, so a client (and the
//! scim2-tester compliance check) works with what is really kept.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::{GROUP_SCHEMA, LIST_SCHEMA, MAX_RESULTS, ScimError, USER_SCHEMA, base_url, scim_json};
use crate::state::AppState;

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(config))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
}

fn list(resources: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": resources.len(),
            "startIndex": 1,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

async fn config(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [CONFIG_SCHEMA],
            "documentationUri": "https://github.com/portico-dev/portico#sign-in-and-roles",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The token of [auth.scim] in portico.toml",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{base}/ServiceProviderConfig"),
            },
        }),
    )
}

/// One attribute of a schema; `sub` lists a complex attribute's sub-attributes.
struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    uniqueness: &'static str,
    sub: Vec<Attr>,
    references: &'static [&'static str],
}

fn attr(name: &'static str, kind: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        uniqueness: "none",
        sub: Vec::new(),
        references: &[],
    }
}

impl Attr {
    fn json(&self) -> Value {
        let mut a = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "description": self.name,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": "default",
            "uniqueness": self.uniqueness,
        });
        if !self.sub.is_empty() {
            a["subAttributes"] = self.sub.iter().map(Attr::json).collect();
        }
        if !self.references.is_empty() {
            a["referenceTypes"] = json!(self.references);
        }
        a
    }
}

fn complex(name: &'static str, multi: bool, sub: Vec<Attr>) -> Attr {
    Attr {
        multi,
        sub,
        ..attr(name, "complex")
    }
}

fn read_only(a: Attr) -> Attr {
    Attr {
        mutability: "readOnly",
        ..a
    }
}

fn user_schema() -> Value {
    let name = complex(
        "name",
        false,
        [
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
        ]
        .map(|n| attr(n, "string"))
        .into(),
    );
    let emails = complex(
        "emails",
        true,
        vec![
            Attr {
                required: true,
                ..attr("value", "string")
            },
            attr("display", "string"),
            attr("type", "string"),
            attr("primary", "boolean"),
        ],
    );
    let groups = read_only(complex(
        "groups",
        true,
        vec![
            read_only(attr("value", "string")),
            read_only(Attr {
                references: &["Group"],
                ..attr("$ref", "reference")
            }),
            read_only(attr("display", "string")),
            read_only(attr("type", "string")),
        ],
    ));
    let attributes = vec![
        Attr {
            required: true,
            uniqueness: "server",
            ..attr("userName", "string")
        },
        name,
        attr("displayName", "string"),
        attr("active", "boolean"),
        emails,
        groups,
    ];
    schema_json(USER_SCHEMA, "User", "User Account", &attributes)
}

fn group_schema() -> Value {
    let members = complex(
        "members",
        true,
        vec![
            Attr {
                mutability: "immutable",
                case_exact: true,
                ..attr("value", "string")
            },
            Attr {
                mutability: "immutable",
                references: &["User"],
                ..attr("$ref", "reference")
            },
        ],
    );
    let attributes = vec![
        Attr {
            required: true,
            uniqueness: "server",
            ..attr("displayName", "string")
        },
        members,
    ];
    schema_json(GROUP_SCHEMA, "Group", "Group", &attributes)
}

fn schema_json(id: &str, name: &str, description: &str, attributes: &[Attr]) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes.iter().map(Attr::json).collect::<Vec<_>>(),
    })
}

fn all_schemas(base: &str) -> Vec<Value> {
    [user_schema(), group_schema()]
        .into_iter()
        .map(|mut s| {
            let id = s["id"].as_str().unwrap_or_default().to_owned();
            s["meta"] =
                json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")});
            s
        })
        .collect()
}

fn all_resource_types(base: &str) -> Vec<Value> {
    [("User", "/Users", USER_SCHEMA), ("Group", "/Groups", GROUP_SCHEMA)]
        .into_iter()
        .map(|(name, endpoint, schema)| {
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": name,
                "name": name,
                "endpoint": endpoint,
                "description": name,
                "schema": schema,
                "schemaExtensions": [],
                "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
            })
        })
        .collect()
}

async fn schemas(headers: HeaderMap) -> Response {
    list(all_schemas(&base_url(&headers)))
}

async fn schema(headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    all_schemas(&base_url(&headers))
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no schema `{id}`")))
}

async fn resource_types(headers: HeaderMap) -> Response {
    list(all_resource_types(&base_url(&headers)))
}

async fn resource_type(headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    all_resource_types(&base_url(&headers))
        .into_iter()
        .find(|t| t["id"] == id.as_str())
        .map(|t| scim_json(StatusCode::OK, &t))
        .ok_or_else(|| ScimError::not_found(format!("no resource type `{id}`")))
}
