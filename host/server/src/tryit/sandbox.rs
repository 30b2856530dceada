//! The try-it console's synthetic sandbox: for a version that declares no
//! sandbox server, calls naming the server `synthetic` go to a sandbox
//! plugin (`plugins/sandbox-synthetic` is bundled) instead of the network.
//! The plugin checks them against the spec and keeps each developer's state;
//! the answer reads like a proxied one. Also `POST .../sandbox/reset`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use portico_catalog::EntityRef;
use portico_runtime::worlds::sandbox::SandboxRequest;
use portico_runtime::worlds::{PluginError, SpecFormat};
use portico_runtime::{CallError, Origin, Plugin, World};
use serde_json::{Value, json};
use url::Url;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::operations::TryOperation;
use super::outbound::{self, DeclaredServer, MASK};
use super::{HeaderLine, TryAnswer, TryCall, TryError, TryTarget};
use crate::identity::{Caller, audit};
use crate::problem::Problem;
use crate::state::AppState;

/// The server name that picks the synthetic sandbox.
pub const SYNTHETIC: &str = "synthetic";

/// Whether a version's servers leave room for the synthetic sandbox: none
/// of them is a sandbox (an environment whose name says `sandbox`).
pub fn offered(servers: &[DeclaredServer]) -> bool {
    !servers
        .iter()
        .any(|s| s.name.to_ascii_lowercase().contains("sandbox"))
}

/// The sandbox plugin: an installed one before the bundled one, then by id.
pub fn plugin(state: &AppState) -> Option<Arc<Plugin>> {
    let mut candidates: Vec<(bool, Arc<Plugin>)> = state
        .plugins()
        .all()
        .into_iter()
        .filter(|p| p.world() == World::Sandbox)
        .map(|p| (matches!(p.info().origin, Origin::Bundled(_)), p))
        .collect();
    candidates.sort_by(|(a, p), (b, q)| a.cmp(b).then_with(|| p.id().cmp(q.id())));
    candidates.into_iter().next().map(|(_, p)| p)
}

/// Whether a call goes to the synthetic sandbox: it names it, or names no
/// server when the version declares none.
pub fn wanted(target: &TryTarget, call: &TryCall) -> bool {
    if !target.synthetic {
        return false;
    }
    match call
        .server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(asked) => {
            asked.eq_ignore_ascii_case(SYNTHETIC)
                && !target
                    .servers
                    .iter()
                    .any(|s| s.name.eq_ignore_ascii_case(SYNTHETIC))
        }
        None => target.servers.is_empty(),
    }
}

/// Makes one call on the synthetic sandbox.
pub async fn send(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
    target: &TryTarget,
    op: &TryOperation,
    call: &TryCall,
) -> Result<TryAnswer, TryError> {
    let plugin = plugin(state).ok_or_else(|| {
        TryError::Refused(
            "no sandbox plugin is installed, so the synthetic sandbox cannot answer".into(),
        )
    })?;
    // The request as it would go out, built by the proxy's own rules (path
    // parameters as single segments, forbidden headers refused), on a
    // placeholder origin; the credential stays with the host.
    let placeholder = DeclaredServer {
        name: SYNTHETIC.into(),
        url: Url::parse("http://synthetic.invalid/").map_err(|e| internal(&e))?,
    };
    let credential = call.credential.as_deref().is_some_and(|c| !c.is_empty());
    let without_credential = TryCall {
        credential: None,
        ..call.clone()
    };
    let outgoing = outbound::build(op, &placeholder, &without_credential)?;
    let spec = spec_of(state, target).await?;
    let query: Vec<(String, String)> = outgoing
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let request = SandboxRequest {
        api: api.to_string(),
        version: target.version.version.clone(),
        spec,
        developer_id: caller.actor.id.clone(),
        method: outgoing.method.as_str().to_owned(),
        path: outgoing.url.path().to_owned(),
        query,
        headers: outgoing
            .headers
            .iter()
            .map(|(n, v, _)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: outgoing.body.to_vec(),
        authenticated: credential,
    };
    let started = Instant::now();
    let response = plugin
        .sandbox_handle(&request)
        .await
        .map_err(|e| plugin_error(&e))?;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let max = state.config().tryit.max_response_bytes;
    let truncated = response.body.len() > max;
    let kept = &response.body[..response.body.len().min(max)];
    let (body, body_encoding) = match std::str::from_utf8(kept) {
        Ok(text) => (text.to_owned(), "text"),
        Err(e) if truncated && e.error_len().is_none() => (
            String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned(),
            "text",
        ),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(kept),
            "base64",
        ),
    };
    let shown_query = outgoing
        .url
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    Ok(TryAnswer {
        status: response.status,
        headers: response
            .headers
            .into_iter()
            .map(|(name, value)| HeaderLine { name, value })
            .collect(),
        body,
        body_encoding: body_encoding.to_owned(),
        truncated,
        body_bytes: kept.len(),
        elapsed_ms,
        url: format!("{SYNTHETIC}:{}{shown_query}", outgoing.url.path()),
        curl: curl(api, &target.version.version, call),
    })
}

/// The version's spec as the plugin reads it (Swagger 2.0 converted to OpenAPI 3.0).
async fn spec_of(
    state: &AppState,
    target: &TryTarget,
) -> Result<portico_runtime::worlds::SpecDocument, TryError> {
    let store = state.catalog().clone();
    let hash = target.version.spec_hash.clone();
    tokio::task::spawn_blocking(move || {
        let document = store
            .spec_document(&hash)
            .map_err(|e| internal(&e))?
            .ok_or_else(|| TryError::NotFound("the version's spec document is gone".into()))?;
        let format = crate::docs::spec_format(&document.format);
        if format == SpecFormat::Openapi2
            || matches!(format, SpecFormat::Openapi30 | SpecFormat::Openapi31)
        {
            crate::docs::plugin_document(document, format).map_err(|e| internal(&e))
        } else {
            Err(TryError::Invalid(format!(
                "the synthetic sandbox answers for OpenAPI documents, not {}",
                document.format
            )))
        }
    })
    .await
    .map_err(|e| internal(&e))?
}

/// The same call through the portal's API: the sandbox lives in the portal,
/// not on a server curl could reach by itself.
fn curl(api: &EntityRef, version: &str, call: &TryCall) -> String {
    let mut shown = serde_json::Map::new();
    shown.insert("method".into(), json!(call.method.to_ascii_uppercase()));
    shown.insert("path".into(), json!(call.path));
    shown.insert("server".into(), json!(SYNTHETIC));
    let filled = |map: &std::collections::BTreeMap<String, String>| -> Value {
        map.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    for (key, map) in [
        ("path_params", &call.path_params),
        ("query", &call.query),
        ("headers", &call.headers),
    ] {
        let value = filled(map);
        if value.as_object().is_some_and(|m| !m.is_empty()) {
            shown.insert(key.into(), value);
        }
    }
    if let Some(body) = call.body.as_deref().filter(|b| !b.is_empty()) {
        shown.insert("body".into(), json!(body));
        if let Some(content_type) = call.content_type.as_deref().filter(|c| !c.is_empty()) {
            shown.insert("content_type".into(), json!(content_type));
        }
    }
    if call.credential.as_deref().is_some_and(|c| !c.is_empty()) {
        shown.insert("credential".into(), json!(MASK));
    }
    let data = Value::Object(shown).to_string().replace('\'', "'\\''");
    format!(
        "# The synthetic sandbox answers inside the portal: call its API with a portal token.\n\
         curl -X POST \"$PORTICO_URL/api/v1/apis/{}/{}/versions/{}/try\" \\\n  \
         -H \"authorization: Bearer $PORTICO_TOKEN\" \\\n  \
         -H 'content-type: application/json' \\\n  \
         --data-raw '{data}'",
        segment(&api.namespace.to_lowercase()),
        segment(&api.name),
        segment(version)
    )
}

fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Forgets the caller's sandbox state for an API they may see, and records it.
pub async fn reset(state: &AppState, caller: &Caller, api: &EntityRef) -> Result<(), TryError> {
    let store = state.catalog().clone();
    let (wanted, audience) = (api.clone(), caller.actor.audience());
    let visible = tokio::task::spawn_blocking(move || store.visible_entity(&wanted, &audience))
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))?
        .is_some();
    if !visible {
        return Err(TryError::NotFound(format!(
            "no API {}/{}",
            api.namespace, api.name
        )));
    }
    let plugin = plugin(state).ok_or_else(|| {
        TryError::NotFound("no sandbox plugin is installed, so there is nothing to reset".into())
    })?;
    let result = plugin
        .sandbox_reset(&api.to_string(), &caller.actor.id)
        .await
        .map_err(|e| plugin_error(&e));
    audit::record_off_thread(
        state.db(),
        caller,
        "api.sandbox.reset",
        api.to_string(),
        audit::Outcome::of(&result),
        Value::Null,
    )
    .await;
    result
}

/// A plugin failure as the developer reads it; the cause goes to the log.
fn plugin_error(error: &CallError) -> TryError {
    tracing::warn!(%error, "the synthetic sandbox failed");
    match error {
        CallError::Plugin {
            error: PluginError::Unsupported(why),
            ..
        } => TryError::Invalid(format!(
            "the synthetic sandbox cannot answer for this spec: {why}"
        )),
        CallError::Timeout { .. } => {
            TryError::Timeout("the synthetic sandbox did not answer in time".into())
        }
        _ => TryError::Upstream("the synthetic sandbox failed; it has been logged".into()),
    }
}

fn internal(error: &dyn std::fmt::Display) -> TryError {
    tracing::error!(%error, "the synthetic sandbox failed inside");
    TryError::Internal
}

/// The reset route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reset_api))
}

/// `POST /api/v1/apis/{namespace}/{name}/sandbox/reset`: forgets what the
/// caller created in the API's synthetic sandbox, every version.
#[utoipa::path(post, path = "/api/v1/apis/{namespace}/{name}/sandbox/reset", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path)),
    responses(
        (status = 204, description = "The caller's sandbox state for the API is gone"),
        (status = 404, description = "No such API, or no sandbox plugin", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The sandbox plugin failed", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The sandbox plugin did not answer in time", body = Problem, content_type = "application/problem+json")))]
async fn reset_api(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<StatusCode, TryError> {
    let api = EntityRef::new("api", namespace, name);
    reset(&state, &caller, &api).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str) -> DeclaredServer {
        DeclaredServer {
            name: name.into(),
            url: Url::parse("https://api.example.com").unwrap(),
        }
    }

    #[test]
    fn only_versions_without_a_sandbox_server_are_offered_the_synthetic_one() {
        assert!(offered(&[]));
        assert!(offered(&[server("production")]));
        assert!(!offered(&[server("production"), server("Sandbox")]));
        assert!(!offered(&[server("sandbox-eu")]));
    }

    #[test]
    fn curl_goes_through_the_portal_with_the_credential_masked() {
        let call = TryCall {
            method: "post".into(),
            path: "/pets".into(),
            body: Some("{\"name\":\"O'Neil\"}".into()),
            credential: Some("s3cret".into()),
            ..TryCall::default()
        };
        let line = curl(&EntityRef::new("api", "Default", "pets"), "1.0.0", &call);
        assert!(
            line.contains("\"$PORTICO_URL/api/v1/apis/default/pets/versions/1.0.0/try\""),
            "{line}"
        );
        assert!(line.contains("\"credential\":\"***\"") && !line.contains("s3cret"));
        assert!(line.contains("O'\\''Neil"), "{line}");
        assert!(line.contains("\"server\":\"synthetic\""));
    }
}
