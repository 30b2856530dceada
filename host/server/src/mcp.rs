//! The Model Context Protocol endpoint, `/mcp` (Streamable HTTP, stateless,
//! JSON answers; the official `rmcp` SDK): tools that let an agent search the
//! catalogue, read an API, an operation's docs and a spec, and call the try-it
//! sandbox.
//!
//! It sits behind the access middleware like every route, so each tool acts
//! for the caller of its HTTP request (session cookie or bearer token, read
//! from the request parts rmcp hands the tool) and sees only what that caller
//! may: a hidden API answers "not found". `[mcp]` says which `Host` and
//! `Origin` values are answered (DNS-rebinding protection).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use http::request::Parts;
use portico_catalog::{EntityRef, SearchQuery, VersionDetail};
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalog_api::with_store;
use crate::identity::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::tryit::{TryCall, try_operation};

/// The largest JSON-RPC request read.
const MAX_REQUEST_BYTES: usize = 1 << 20;

/// The most of a spec document `get_spec` returns; the rest is left to its URL.
pub const MAX_SPEC_BYTES: usize = 256 * 1024;

/// The most of an operation's docs `get_operation` returns.
const MAX_SECTION_BYTES: usize = 64 * 1024;

/// The most hits `search_apis` returns at once.
const MAX_HITS: usize = 100;

/// The `/mcp` route, unless `[mcp] enabled = false`.
pub fn router(state: &AppState) -> Router<AppState> {
    let settings = &state.config().mcp;
    if !settings.enabled {
        return Router::new();
    }
    let listen = &state.config().listen;
    let config = StreamableHttpServerConfig::default()
        // Stateless: every request stands alone, with its own caller.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .with_allowed_origins(settings.origins(listen))
        .enforce_origin_validation();
    let hosts = settings.hosts(listen);
    let config = if hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(hosts)
    };
    let server = PortalMcp {
        state: state.clone(),
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new().route_service("/mcp", service)
}

/// The MCP server: the portal's state; the caller comes with each request.
#[derive(Clone)]
pub struct PortalMcp {
    state: AppState,
}

/// `search_apis`' arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Free text: words of the API's name, title, description, tags or operations. Empty lists every API.
    #[serde(default)]
    pub text: String,
    /// Only APIs in this lifecycle: `production`, `experimental`, `deprecated`.
    #[serde(default)]
    pub lifecycle: Option<String>,
    /// Only APIs of this owner, as an entity ref (`group:default/team-a`).
    #[serde(default)]
    pub owner: Option<String>,
    /// Only APIs with this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only APIs of this spec type: `openapi`, `asyncapi`, `graphql`, ...
    #[serde(default, rename = "type")]
    pub spec_type: Option<String>,
    /// The most hits to return (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// An API by name.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ApiArgs {
    /// The API's namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The API's name, as `search_apis` gives it.
    pub name: String,
}

/// One operation of an API version.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct OperationArgs {
    /// The API's namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The API's name.
    pub name: String,
    /// The version (default: the latest).
    #[serde(default)]
    pub version: Option<String>,
    /// The operation's `operationId`; or give `method` and `path`.
    #[serde(default)]
    pub operation_id: Option<String>,
    /// The HTTP method, e.g. `GET`.
    #[serde(default)]
    pub method: Option<String>,
    /// The path template as the spec writes it, e.g. `/pets/{id}`.
    #[serde(default)]
    pub path: Option<String>,
}

/// An API version's spec document.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SpecArgs {
    /// The API's namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The API's name.
    pub name: String,
    /// The version (default: the latest).
    #[serde(default)]
    pub version: Option<String>,
}

/// One call through the try-it console.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SandboxArgs {
    /// The API's namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The API's name.
    pub name: String,
    /// The version (default: the latest).
    #[serde(default)]
    pub version: Option<String>,
    /// The operation's HTTP method, e.g. `GET`.
    pub method: String,
    /// The operation's path template as the spec writes it, e.g. `/pets/{id}` (never a URL).
    pub path: String,
    /// The server to call: an environment name (`sandbox`) or its URL. Default: the version's only server, or the synthetic sandbox.
    #[serde(default)]
    pub server: Option<String>,
    /// Values of the path template's `{parameters}`.
    #[serde(default)]
    pub path_params: BTreeMap<String, String>,
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request body.
    #[serde(default)]
    pub body: Option<String>,
    /// The body's media type (default: the operation's).
    #[serde(default)]
    pub content_type: Option<String>,
    /// A sandbox credential, put where the operation's security scheme says; never stored or logged.
    #[serde(default)]
    pub credential: Option<String>,
}

type ToolResult = Result<CallToolResult, ErrorData>;

#[tool_router]
impl PortalMcp {
    /// Searches the catalogue's APIs.
    #[tool(
        description = "Search the API catalogue by free text and filters; answers matching APIs with their name, namespace, title, description, lifecycle, owner, tags and markdown docs link.",
        annotations(read_only_hint = true)
    )]
    async fn search_apis(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SearchArgs>,
    ) -> ToolResult {
        let caller = caller(&parts)?;
        let mut filters = vec![("kind".to_owned(), "api".to_owned())];
        for (facet, value) in [
            ("lifecycle", args.lifecycle),
            ("owner", args.owner),
            ("tag", args.tag),
            ("type", args.spec_type),
        ] {
            if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
                filters.push((facet.to_owned(), value));
            }
        }
        let query = SearchQuery {
            text: args.text,
            filters,
            limit: args.limit.unwrap_or(20).clamp(1, MAX_HITS),
            offset: 0,
            audience: caller.actor.audience(),
        };
        let found = match with_store(&self.state, move |store| store.search(&query)).await {
            Ok(found) => found,
            Err(error) => return Ok(api_error(&error)),
        };
        let hits: Vec<Value> = found
            .hits
            .iter()
            .filter_map(|hit| {
                let api = EntityRef::parse_full(&hit.entity_ref).ok()?;
                Some(json!({
                    "namespace": api.namespace,
                    "name": api.name,
                    "title": hit.title,
                    "description": hit.description,
                    "type": hit.spec_type,
                    "lifecycle": hit.lifecycle,
                    "owner": hit.owner,
                    "tags": hit.tags,
                    "docs": docs_link(&api),
                }))
            })
            .collect();
        Ok(CallToolResult::structured(
            json!({ "total": found.total, "hits": hits }),
        ))
    }

    /// One API.
    #[tool(
        description = "Read one API: its summary, owner, lifecycle, environments, versions (newest first) and the latest version's operations.",
        annotations(read_only_hint = true)
    )]
    async fn get_api(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<ApiArgs>,
    ) -> ToolResult {
        let caller = caller(&parts)?;
        let api = api_ref(args.namespace, args.name);
        match crate::apis_api::api_answer(&self.state, &caller, &api).await {
            Ok(Some(answer)) => Ok(structured(&answer)),
            Ok(None) => Ok(not_found(&api, None)),
            Err(error) => Ok(api_error(&error)),
        }
    }

    /// One operation with its docs.
    #[tool(
        description = "Read one operation of an API version, by operation_id or by method and path: its summary and tags, and its section of the API's markdown docs (parameters, request body, responses, code samples).",
        annotations(read_only_hint = true)
    )]
    async fn get_operation(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<OperationArgs>,
    ) -> ToolResult {
        let caller = caller(&parts)?;
        let api = api_ref(args.namespace, args.name);
        let detail = match version_detail(&self.state, &caller, &api, args.version.clone()).await {
            Ok(Some(detail)) => detail,
            Ok(None) => return Ok(not_found(&api, args.version.as_deref())),
            Err(error) => return Ok(api_error(&error)),
        };
        let wanted = detail
            .operations
            .iter()
            .find(|op| match &args.operation_id {
                Some(id) => op.operation_id.as_deref() == Some(id.as_str()),
                None => {
                    args.method
                        .as_deref()
                        .is_some_and(|m| op.method.eq_ignore_ascii_case(m))
                        && args.path.as_deref() == Some(op.path.as_str())
                }
            });
        let Some(operation) = wanted else {
            if args.operation_id.is_none() && (args.method.is_none() || args.path.is_none()) {
                return Ok(tool_error(
                    "give the operation's operation_id, or its method and path",
                ));
            }
            return Ok(tool_error(format!(
                "not found: version {} of API {}/{} has no such operation; get_api lists its operations",
                detail.version.version, api.namespace, api.name
            )));
        };
        let version = detail.version.version.clone();
        let docs = match crate::ui::docs_markdown(
            &self.state,
            &caller,
            api.clone(),
            Some(version.clone()),
        )
        .await
        {
            Ok(Some(markdown)) => operation_section(&markdown, &operation.method, &operation.path)
                .map(|section| cap(section, MAX_SECTION_BYTES).0),
            _ => None,
        };
        Ok(CallToolResult::structured(json!({
            "api": format!("{}/{}", api.namespace, api.name),
            "version": version,
            "method": operation.method.to_ascii_uppercase(),
            "path": operation.path,
            "operation_id": operation.operation_id,
            "summary": operation.summary,
            "tags": operation.tags,
            "docs": docs,
            "docs_link": docs_link(&api),
        })))
    }

    /// A spec document.
    #[tool(
        description = "Read the spec document (OpenAPI, AsyncAPI, GraphQL SDL, ...) of an API version as stored, cut at 256 KiB (then `truncated` is true and `spec_url` serves it whole).",
        annotations(read_only_hint = true)
    )]
    async fn get_spec(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SpecArgs>,
    ) -> ToolResult {
        let caller = caller(&parts)?;
        let api = api_ref(args.namespace, args.name);
        let detail = match version_detail(&self.state, &caller, &api, args.version.clone()).await {
            Ok(Some(detail)) => detail,
            Ok(None) => return Ok(not_found(&api, args.version.as_deref())),
            Err(error) => return Ok(api_error(&error)),
        };
        let hash = detail.version.spec_hash.clone();
        let document = match with_store(&self.state, move |store| store.spec_document(&hash)).await
        {
            Ok(Some(document)) => document,
            Ok(None) => return Ok(not_found(&api, Some(&detail.version.version))),
            Err(error) => return Ok(api_error(&error)),
        };
        let bytes = document.content.len();
        let (content, truncated) = cap(document.content, MAX_SPEC_BYTES);
        Ok(CallToolResult::structured(json!({
            "api": format!("{}/{}", api.namespace, api.name),
            "version": detail.version.version,
            "format": document.format,
            "media_type": document.media_type,
            "bytes": bytes,
            "truncated": truncated,
            "spec_url": format!(
                "/api/v1/apis/{}/{}/versions/{}/spec",
                segment(&api.namespace),
                segment(&api.name),
                segment(&detail.version.version)
            ),
            "content": content,
        })))
    }

    /// One call through the try-it console.
    #[tool(
        description = "Call one operation of an API version through the portal's try-it console, as the signed-in caller: only on a server the version declares (or the synthetic sandbox), audited. Answers the status, headers, body, time taken and the call as curl. Needs a signed-in caller with a role.",
        annotations(read_only_hint = false, open_world_hint = true)
    )]
    async fn call_sandbox(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SandboxArgs>,
    ) -> ToolResult {
        let caller = caller(&parts)?;
        // As `Need::SignedIn` for the try-it routes: calls spend upstream quota.
        if !caller.actor.is_authenticated() || caller.actor.roles.is_empty() {
            return Ok(tool_error(
                "call_sandbox needs a signed-in caller with a role: connect with \
                 `Authorization: Bearer <token>`, or a session cookie with its `X-CSRF-Token`",
            ));
        }
        let api = api_ref(args.namespace, args.name);
        let version = match args.version {
            Some(version) => version,
            None => match version_detail(&self.state, &caller, &api, None).await {
                Ok(Some(detail)) => detail.version.version,
                Ok(None) => return Ok(not_found(&api, None)),
                Err(error) => return Ok(api_error(&error)),
            },
        };
        // Fields the console may gain later keep their defaults.
        #[allow(clippy::needless_update)]
        let call = TryCall {
            method: args.method,
            path: args.path,
            server: args.server,
            path_params: args.path_params,
            query: args.query,
            headers: args.headers,
            body: args.body,
            content_type: args.content_type,
            credential: args.credential,
            ..TryCall::default()
        };
        match try_operation(&self.state, &caller, &api, &version, &call).await {
            Ok(answer) => Ok(structured(&answer)),
            Err(error) => Ok(tool_error(format!(
                "{} ({}): {error}",
                error.status().canonical_reason().unwrap_or("error"),
                error.status().as_u16()
            ))),
        }
    }
}

#[tool_handler]
impl ServerHandler for PortalMcp {
    fn get_info(&self) -> ServerConfig {
        let name = self.state.branding().name.clone();
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("portico", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "{name} is an API developer portal. Find APIs with search_apis, read one with \
                 get_api, an operation's docs with get_operation and its spec with get_spec; \
                 call_sandbox tries an operation for a signed-in caller. You see what the \
                 account you connected with may see."
            ))
    }
}

/// The caller the access middleware found for this HTTP request.
fn caller(parts: &Parts) -> Result<Caller, ErrorData> {
    parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
        tracing::error!("an MCP tool ran outside the access layer");
        ErrorData::internal_error("the caller is unknown", None)
    })
}

fn api_ref(namespace: Option<String>, name: String) -> EntityRef {
    let namespace = namespace
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "default".to_owned());
    EntityRef::new("api", namespace, name)
}

/// The version asked for (the latest by default) with its operations, when
/// the caller may see the API.
async fn version_detail(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
    version: Option<String>,
) -> Result<Option<VersionDetail>, ApiError> {
    let wanted = api.clone();
    let audience = caller.actor.audience();
    with_store(state, move |store| {
        if store.visible_entity(&wanted, &audience)?.is_none() {
            return Ok(None);
        }
        let version = match version {
            Some(version) => version,
            None => match store.versions(&wanted)?.into_iter().next() {
                Some(latest) => latest.version,
                None => return Ok(None),
            },
        };
        store.version(&wanted, &version)
    })
    .await
}

fn structured(value: &impl serde::Serialize) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(value) => CallToolResult::structured(value),
        Err(error) => api_error(&ApiError::internal(error)),
    }
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// What a hidden API answers too.
fn not_found(api: &EntityRef, version: Option<&str>) -> CallToolResult {
    let what = match version {
        Some(version) => format!("version {version} of API {}/{}", api.namespace, api.name),
        None => format!("API {}/{} (or a version of it)", api.namespace, api.name),
    };
    tool_error(format!(
        "not found: no {what}; search_apis lists the APIs you may see"
    ))
}

fn api_error(error: &ApiError) -> CallToolResult {
    tool_error(error.to_string())
}

fn docs_link(api: &EntityRef) -> String {
    format!(
        "/apis/{}/{}/docs.md",
        segment(&api.namespace.to_lowercase()),
        segment(&api.name)
    )
}

fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `text` cut to at most `max` bytes on a character boundary, and whether it was cut.
fn cap(mut text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

/// An operation's section of rendered markdown docs: from the heading above
/// its `` `METHOD /path` `` line to the next heading of the same or a higher
/// level (code fences are skipped over).
fn operation_section(markdown: &str, method: &str, path: &str) -> Option<String> {
    let marker = format!("`{} {}`", method.to_ascii_uppercase(), path);
    let lines: Vec<&str> = markdown.lines().collect();
    let level = |line: &str| -> Option<usize> {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        (hashes > 0 && line[hashes..].starts_with(' ')).then_some(hashes)
    };
    let mut in_fence = false;
    let mut heading: Option<(usize, usize)> = None;
    let mut start: Option<(usize, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if let Some(depth) = level(line) {
            if let Some((from, section_level)) = start
                && depth <= section_level
            {
                return Some(lines[from..i].join("\n").trim_end().to_owned() + "\n");
            }
            heading = Some((i, depth));
            continue;
        }
        if start.is_none() && (*line == marker || line.starts_with(&format!("{marker} "))) {
            start = heading.or(Some((i, 6)));
        }
    }
    start.map(|(from, _)| lines[from..].join("\n").trim_end().to_owned() + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &str = "# Petstore 1.0.0\n\n## pets\n\n### List all pets\n\n`GET /pets`\n\n\
        #### Parameters\n\n| limit | query |\n\n```sh\n# not a heading\ncurl /pets\n```\n\n\
        ### Create a pet\n\n`POST /pets`\n\nBody.\n\n## Schemas\n\n### Pet\n";

    #[test]
    fn an_operations_section_runs_to_the_next_heading_of_its_level() {
        let list = operation_section(DOCS, "get", "/pets").unwrap();
        assert!(
            list.starts_with("### List all pets\n\n`GET /pets`"),
            "{list}"
        );
        assert!(list.contains("#### Parameters") && list.contains("# not a heading"));
        assert!(!list.contains("Create a pet"), "{list}");
        let create = operation_section(DOCS, "POST", "/pets").unwrap();
        assert_eq!(create, "### Create a pet\n\n`POST /pets`\n\nBody.\n");
        assert!(operation_section(DOCS, "DELETE", "/pets").is_none());
    }

    #[tokio::test]
    async fn mcp_is_routed_unless_turned_off() {
        use tower::ServiceExt as _;
        let state_with = |enabled: bool| {
            let dir = tempfile::tempdir().unwrap();
            let db = portico_catalog::Database::open(&dir.path().join("p.db")).unwrap();
            let catalog = Arc::new(portico_catalog::SqliteStore::new(&db).unwrap());
            let config = crate::Config {
                data_dir: dir.path().to_owned(),
                mcp: crate::config::McpSettings {
                    enabled,
                    ..Default::default()
                },
                ..Default::default()
            };
            let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
                .build_recorder()
                .handle();
            let state = AppState::with_access(
                config,
                db,
                catalog,
                portico_runtime::Runtime::new(portico_runtime::RuntimeConfig::default()).unwrap(),
                portico_runtime::Registry::default(),
                metrics,
                crate::state::Access::default(),
            );
            (state, dir)
        };
        for (enabled, expected) in [(true, 200), (false, 404)] {
            let (state, _dir) = state_with(enabled);
            let request = axum::http::Request::post("/mcp")
                .header("host", "localhost")
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(axum::body::Body::from(
                    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
                ))
                .unwrap();
            let response = crate::server::app(state).oneshot(request).await.unwrap();
            assert_eq!(response.status().as_u16(), expected, "enabled = {enabled}");
        }
    }

    #[test]
    fn caps_cut_on_a_character_boundary() {
        assert_eq!(cap("héllo".into(), 2), ("h".to_owned(), true));
        assert_eq!(cap("abc".into(), 3), ("abc".to_owned(), false));
    }
}
