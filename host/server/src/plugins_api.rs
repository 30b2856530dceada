//! `/api/v1/plugins`: the loaded plugins, and installing, removing, enabling
//! and disabling them while the portal runs.
//!
//! Every change goes through the plugins directory (see
//! [`crate::plugin_store`]) and is applied at once: the answer reports what
//! was loaded and unloaded, and a plugin that fails its checks never replaces
//! the version serving.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use portico_runtime::PluginInfo;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::identity::Caller;
use crate::identity::audit::record_result;
use crate::plugin_store::{
    CHANGES, InstallError, Installed, NotInstalled, PluginStore, Reconciled, reconcile,
};
use crate::problem::{ApiError, Problem};
use crate::query::QueryParams;
use crate::state::AppState;

/// The largest plugin upload (componentize-py components are about 20 MB).
pub(crate) const MAX_UPLOAD: usize = 64 * 1024 * 1024;

/// The header carrying a detached signature (the `.sig` document).
const SIGNATURE_HEADER: &str = "portico-signature";

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins, install_plugin))
        .routes(routes!(get_plugin, remove_plugin))
        .routes(routes!(enable_plugin))
        .routes(routes!(disable_plugin))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
}

/// Every loaded plugin: id, version, world, WIT version, capabilities, limits, health.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, description = "The loaded plugins", body = Vec<PluginInfo>)))]
async fn list_plugins(State(state): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(state.plugins().infos())
}

/// One plugin.
#[utoipa::path(get, path = "/api/v1/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "The plugin's id")),
    responses(
        (status = 200, description = "The plugin", body = PluginInfo),
        (status = 404, description = "No such plugin", body = Problem, content_type = "application/problem+json")))]
async fn get_plugin(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    state
        .plugins()
        .get(&id)
        .map(|p| Json(p.info()))
        .ok_or_else(|| ApiError::NotFound(format!("no plugin with id `{id}`")))
}

/// Options of an upload.
#[derive(Deserialize, IntoParams)]
struct InstallOptions {
    /// Pin this version as the serving one (default: the highest installed version serves).
    #[serde(default)]
    activate: bool,
}

/// A plugin package: the `.wasm` component's bytes. Documentation only.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct PluginPackage(Vec<u8>);

/// What an install did.
#[derive(Serialize, ToSchema)]
pub(crate) struct InstallAnswer {
    /// The file written.
    pub installed: Installed,
    /// What the reload changed.
    pub reloaded: Reconciled,
}

/// Installs a plugin package (the `.wasm` as the body) without a restart.
#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins",
    params(InstallOptions,
        ("portico-signature" = Option<String>, Header, description = "A detached signature (the `.sig` document), if the package carries none")),
    request_body(description = "The plugin package (any media type: the bytes are checked, not the label)",
        content((PluginPackage = "application/wasm"), (PluginPackage = "application/octet-stream"))),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 201, description = "Installed and loaded", body = InstallAnswer),
        (status = 400, description = "Not a plugin, incompatible, unsigned, tampered or untrusted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "That version is installed with other content", body = Problem, content_type = "application/problem+json")))]
async fn install_plugin(
    caller: Caller,
    State(state): State<AppState>,
    QueryParams(options): QueryParams<InstallOptions>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<InstallAnswer>), ApiError> {
    let signature = headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes().to_vec());
    let answer = install(&state, &caller, body, signature, options.activate).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Installs a package (with its detached signature, if any) and loads it,
/// or refuses it and leaves the version serving; audited.
pub(crate) async fn install(
    state: &AppState,
    caller: &Caller,
    package: Bytes,
    signature: Option<Vec<u8>>,
    activate: bool,
) -> Result<InstallAnswer, ApiError> {
    let answer = change(state.clone(), move |state, store| {
        let policy = state
            .config()
            .plugins
            .trust_policy()
            .map_err(ApiError::internal)?;
        let installed = store
            .install(
                state.runtime(),
                &policy,
                &package,
                signature.as_deref(),
                activate,
            )
            .map_err(|e| match e {
                InstallError::Refused(why) => ApiError::BadRequest(why),
                InstallError::Conflict(why) => ApiError::Conflict(why),
                InstallError::Io(e) => ApiError::internal(format!("{e:#}")),
            })?;
        let reloaded = reload(state)?;
        if let Some(failure) = reloaded
            .failed
            .iter()
            .find(|f| f.contains(&installed.path.display().to_string()))
        {
            // It passed the package checks but not the load (a grant, a secret):
            // take it out again so the previous version stays the one installed.
            let failure = format!("{} {}: {failure}", installed.id, installed.version);
            store
                .remove(&installed.id, Some(&installed.version.to_string()))
                .map_err(|e| ApiError::internal(format!("{e:#}")))?;
            return Err(ApiError::BadRequest(failure));
        }
        Ok(InstallAnswer {
            installed,
            reloaded,
        })
    })
    .await;
    let target = match &answer {
        Ok(a) => format!("{}@{}", a.installed.id, a.installed.version),
        Err(_) => "upload".to_owned(),
    };
    record_result(state.db(), caller, "plugin.install", target, &answer).await;
    answer
}

/// Which version to remove.
#[derive(Deserialize, IntoParams)]
struct RemoveOptions {
    /// Only this version (default: every version).
    version: Option<String>,
}

/// Removes an installed plugin (every version, or one); calls in flight finish.
#[utoipa::path(delete, path = "/api/v1/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "The plugin's id"), RemoveOptions),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Removed; what the reload changed", body = Reconciled),
        (status = 404, description = "Not installed", body = Problem, content_type = "application/problem+json")))]
async fn remove_plugin(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(options): QueryParams<RemoveOptions>,
) -> Result<Json<Reconciled>, ApiError> {
    remove(&state, &caller, id, options.version).await.map(Json)
}

/// Removes every version of a plugin, or one; audited.
pub(crate) async fn remove(
    state: &AppState,
    caller: &Caller,
    id: String,
    version: Option<String>,
) -> Result<Reconciled, ApiError> {
    let target = match &version {
        Some(version) => format!("{id}@{version}"),
        None => id.clone(),
    };
    let result = change(state.clone(), move |state, store| {
        store.remove(&id, version.as_deref()).map_err(store_error)?;
        reload(state)
    })
    .await;
    record_result(state.db(), caller, "plugin.remove", target, &result).await;
    result
}

/// Switches a plugin back on.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/enable", tag = "plugins",
    params(("id" = String, Path, description = "The plugin's id")),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Enabled; what the reload changed", body = Reconciled),
        (status = 404, description = "Not installed", body = Problem, content_type = "application/problem+json")))]
async fn enable_plugin(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Reconciled>, ApiError> {
    set_enabled(&state, &caller, id, true).await.map(Json)
}

/// Switches a plugin off without removing it; calls in flight finish.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/disable", tag = "plugins",
    params(("id" = String, Path, description = "The plugin's id")),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Disabled; what the reload changed", body = Reconciled),
        (status = 404, description = "Not installed", body = Problem, content_type = "application/problem+json")))]
async fn disable_plugin(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Reconciled>, ApiError> {
    set_enabled(&state, &caller, id, false).await.map(Json)
}

/// Switches a plugin on or off; audited.
pub(crate) async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    id: String,
    enabled: bool,
) -> Result<Reconciled, ApiError> {
    let target = id.clone();
    let result = change(state.clone(), move |state, store| {
        store.set_enabled(&id, enabled).map_err(store_error)?;
        reload(state)
    })
    .await;
    let action = if enabled {
        "plugin.enable"
    } else {
        "plugin.disable"
    };
    record_result(state.db(), caller, action, target, &result).await;
    result
}

/// A plugin that is not installed is the caller's 404; anything else is the
/// server's (logged, not shown: it names directories).
fn store_error(error: anyhow::Error) -> ApiError {
    match error.downcast_ref::<NotInstalled>() {
        Some(missing) => ApiError::NotFound(missing.to_string()),
        None => ApiError::internal(format!("{error:#}")),
    }
}

/// Runs a change to the installed plugins off the async threads, one at a time.
async fn change<T: Send + 'static>(
    state: AppState,
    work: impl FnOnce(&AppState, &PluginStore) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let _one_at_a_time = CHANGES.lock().unwrap_or_else(|e| e.into_inner());
        let store = PluginStore::new(state.config());
        work(&state, &store)
    })
    .await
    .map_err(ApiError::internal)?
}

fn reload(state: &AppState) -> Result<Reconciled, ApiError> {
    reconcile(state.runtime(), state.config(), state.plugins(), false)
        .map_err(|e| ApiError::internal(format!("{e:#}")))
}
