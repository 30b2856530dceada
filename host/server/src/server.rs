//! Starting and stopping the portal: database, plugins, routes, listener.
//!
//! `start` does every check before it binds, so a bad configuration, database
//! or plugin stops the start with one clear message; `app` builds the router
//! alone, so tests can call it without a socket.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use portico_catalog::{Database, SqliteKv, SqliteStore};
use portico_runtime::{KvBackend, Runtime, RuntimeConfig};
use tokio::sync::oneshot;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::gateways::{self, Gateways};
use crate::identity::access::{self, AdminToken};
use crate::identity::{roles::Roles, users};
use crate::problem::ApiError;
use crate::state::{Access, AppState};
use crate::{demo, llms, loader, locations, markdown_twin, mcp, openapi, plugin_store, scim, ui};

/// Builds the whole application router.
pub fn app(state: AppState) -> Router {
    let (api, mut openapi) = openapi::api_router().split_for_parts();
    // A white-label portal's own API carries its name, not ours.
    openapi.info.title = format!("{} API", state.branding().name);
    // Serialised once: the document only changes with the code.
    let openapi: Arc<str> = serde_json::to_string(&openapi)
        .expect("the document serialises")
        .into();
    Router::new()
        .merge(api)
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .merge(ui::router())
        .merge(llms::router())
        .merge(scim::router())
        .merge(mcp::router(&state))
        .fallback(|| async { ApiError::NotFound("no such page or endpoint".into()) })
        .with_state(state.clone())
        // Every routed request passes here: who is calling, and may they.
        .layer(middleware::from_fn_with_state(state, access::authorize))
        .layer(middleware::from_fn(record_request))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Counts requests and their latency by route and status.
async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("portico_http_requests_total", &labels).increment(1);
    metrics::histogram!("portico_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The process-wide Prometheus recorder (a process can start several servers in tests).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding app); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Plugin kv storage in the portal database.
struct DbKv(SqliteKv);

impl KvBackend for DbKv {
    fn get(&self, plugin: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.0.get(plugin, key)?)
    }
    fn set(&self, plugin: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        Ok(self.0.set(plugin, key, value)?)
    }
    fn delete(&self, plugin: &str, key: &str) -> anyhow::Result<()> {
        Ok(self.0.delete(plugin, key)?)
    }
    fn list(&self, plugin: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        Ok(self.0.list(plugin, prefix)?)
    }
    fn usage(&self, plugin: &str) -> anyhow::Result<u64> {
        Ok(self.0.usage(plugin)?)
    }
}

/// Opens the database and the runtime, and loads every plugin: all the checks of a start.
pub fn prepare(config: Config) -> anyhow::Result<AppState> {
    let db = Database::open(&config.database_path())?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(config.cache_dir()),
        max_concurrent_calls: config.runtime.max_concurrent_calls,
        max_queued_calls: config.runtime.max_queued_calls,
        max_memory_mb: config.runtime.max_memory_mb,
        max_time_ms: config.runtime.max_time_ms,
        kv: Arc::new(DbKv(SqliteKv::new(db.clone()))),
    })
    .context("cannot start the plugin runtime")?;
    let plugins = loader::load_all(&runtime, &config)?;
    let catalog =
        Arc::new(SqliteStore::new(&db)?.with_breaking_changes(config.catalog.breaking_changes));
    users::sync_roles(&db, &Roles::new(&config.auth)).context("cannot store the roles")?;
    if !users::any(&db)? && config.admin_token.is_none() {
        tracing::info!(
            "no accounts yet: create the first admin with `portico user add NAME --role admin`"
        );
    }
    if config.demo {
        demo::seed(catalog.as_ref(), &config.data_dir).context("cannot seed the demo content")?;
        demo::seed_products(&db).context("cannot seed the demo products")?;
    }
    let access = Access {
        admin_token: config
            .admin_token
            .as_deref()
            .map(AdminToken::resolve)
            .transpose()?,
        // Outside a runtime (a plain call) there is nothing to drive requests.
        url_reader: match tokio::runtime::Handle::try_current() {
            Ok(handle) => locations::url_reader(&config.catalog, handle)?,
            Err(_) => None,
        },
        gateways: Arc::new(Gateways::resolve(&config, &plugins)?),
        scim_token: config
            .auth
            .scim
            .as_ref()
            .map(|s| scim::ScimToken::resolve(&s.token))
            .transpose()?,
    };
    Ok(AppState::with_access(
        config,
        db,
        catalog,
        runtime,
        plugins,
        metrics_handle(),
        access,
    ))
}

/// A running server.
pub struct Server {
    /// The address it listens on (with the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Its state, for tests and embedding.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Re-reads locations on `[catalog] refresh_interval_secs`.
    refresher: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// Follows the plugins directory on `[plugins] watch_interval_ms`.
    watcher: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// Syncs each gateway on its `sync_interval`.
    gateway_schedules: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// Deletes keys that stopped working from their gateways.
    key_sweeper: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// Sends apps' webhooks.
    webhooks: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// Usage retention, pulls from gateways, invoices.
    usage_upkeep: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl Server {
    /// Prepares everything, binds the listener and starts serving.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let listen = config.listen.clone();
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let mut config = config;
        if config.demo {
            config.gateways.push(demo::gateway(addr));
        }
        let state = tokio::task::spawn_blocking(move || prepare(config)).await??;
        let db = state.db().clone();
        let interrupted =
            tokio::task::spawn_blocking(move || gateways::runs::close_interrupted(&db)).await??;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "gateway syncs interrupted by the last stop were closed as failed"
            );
        }
        let (tx, rx) = oneshot::channel::<()>();
        // The markdown twins wrap the router: they change which route a request reaches.
        let app = tower::Layer::layer(
            &middleware::from_fn(markdown_twin::markdown_twin),
            app(state.clone()),
        );
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
        });
        let (stop_refresh, stopped) = oneshot::channel::<()>();
        let refresher =
            locations::spawn_refresher(state.clone(), stopped).map(|handle| (stop_refresh, handle));
        let (stop_schedules, stopped) = oneshot::channel::<()>();
        let gateway_schedules = gateways::spawn_schedules(state.clone(), stopped)
            .map(|handle| (stop_schedules, handle));
        let (stop_sweeper, stopped) = oneshot::channel::<()>();
        let key_sweeper = crate::apps::provision::spawn_sweeper(state.clone(), stopped)
            .map(|handle| (stop_sweeper, handle));
        let (stop_webhooks, stopped) = oneshot::channel::<()>();
        let webhooks = Some((
            stop_webhooks,
            crate::webhooks::dispatch::spawn(state.clone(), stopped),
        ));
        let (stop_upkeep, stopped) = oneshot::channel::<()>();
        let usage_upkeep = Some((
            stop_upkeep,
            crate::usage::upkeep::spawn(state.clone(), stopped),
        ));
        let watch = state.config().plugins.watch_interval_ms;
        let watcher = (watch > 0).then(|| {
            let (stop, stopped) = oneshot::channel::<()>();
            let interval = Duration::from_millis(watch);
            (
                stop,
                plugin_store::spawn_watcher(state.clone(), interval, stopped),
            )
        });
        if state.config().demo {
            // The demo's second source: the portal's own API, now that it answers.
            match gateways::sync(&state, demo::GATEWAY, gateways::Trigger::Schedule).await {
                Ok(run) if run.error.is_none() => {}
                Ok(run) => tracing::warn!(error = ?run.error, "the demo gateway did not sync"),
                Err(error) => tracing::warn!(%error, "the demo gateway did not sync"),
            }
        }
        state.set_ready();
        tracing::info!(%addr, plugins = state.plugins().len(), "portal ready");
        Ok(Server {
            addr,
            state,
            shutdown: Some(tx),
            task,
            refresher,
            watcher,
            gateway_schedules,
            key_sweeper,
            webhooks,
            usage_upkeep,
        })
    }

    /// Stops accepting connections, lets requests in flight finish (up to `grace`), then returns.
    pub async fn shutdown(mut self, grace: Duration) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for (stop, task) in [
            self.refresher.take(),
            self.watcher.take(),
            self.gateway_schedules.take(),
            self.key_sweeper.take(),
            self.webhooks.take(),
            self.usage_upkeep.take(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = stop.send(());
            let _ = tokio::time::timeout(grace, task).await;
        }
        match tokio::time::timeout(grace, &mut self.task).await {
            Ok(joined) => Ok(joined??),
            Err(_) => {
                self.task.abort();
                Ok(())
            }
        }
    }

    /// Serves until the task ends (it does not, unless shut down).
    pub async fn wait(self) -> anyhow::Result<()> {
        Ok(self.task.await??)
    }
}
