//! What every request handler shares: configuration, database, plugins, metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use portico_catalog::{CatalogStore, Database};
use portico_runtime::{Registry, Runtime};

use crate::apps::verify::Verifier;
use crate::branding::Branding;
use crate::config::Config;
use crate::docs::DocsService;
use crate::fetch::BlockingReader;
use crate::gateways::Gateways;
use crate::identity::Identity;
use crate::identity::access::AdminToken;
use crate::identity::request_log::RequestLog;
use crate::scim::ScimToken;
use crate::usage::UsageLog;
use crate::webhooks::Waker;

/// What start-up resolves for guarded and outbound work: the admin token and
/// the catalogue's URL reader. The default grants nothing.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Acts as the system actor with the admin role; none: no bearer token is accepted.
    pub admin_token: Option<AdminToken>,
    /// Reads URLs on `[catalog] allowed_hosts`; none: no URL is read.
    pub url_reader: Option<BlockingReader>,
    /// The gateway instances of `[[gateways]]`, their secrets resolved.
    pub gateways: Arc<Gateways>,
    /// The `[auth.scim]` token; none: `/scim/v2` answers 404.
    pub scim_token: Option<ScimToken>,
}

/// The shared state of the app; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    db: Database,
    catalog: Arc<dyn CatalogStore>,
    runtime: Runtime,
    plugins: Registry,
    metrics: PrometheusHandle,
    started: Instant,
    ready: AtomicBool,
    access: Access,
    identity: Identity,
    /// Held while a location is registered or deleted, so two requests for
    /// the same target cannot both register it.
    locations: tokio::sync::Mutex<()>,
    /// Rendered API docs, cached.
    docs: DocsService,
    /// Every request, on its way to the audit log.
    request_log: RequestLog,
    /// API keys checked for gateways, with their usage recorded.
    verifier: Verifier,
    /// Wakes the webhook dispatcher.
    webhooks: Waker,
}

impl AppState {
    /// Bundles the parts and what [`Access`] grants.
    pub fn with_access(
        config: Config,
        db: Database,
        catalog: Arc<dyn CatalogStore>,
        runtime: Runtime,
        plugins: Registry,
        metrics: PrometheusHandle,
        access: Access,
    ) -> AppState {
        let db_for_log = db.clone();
        let audit = config.audit.clone();
        AppState {
            inner: Arc::new(Inner {
                identity: Identity::new(&config.auth),
                config,
                db,
                catalog,
                runtime,
                plugins,
                metrics,
                started: Instant::now(),
                ready: AtomicBool::new(false),
                access,
                locations: tokio::sync::Mutex::new(()),
                docs: DocsService::default(),
                request_log: RequestLog::start(db_for_log.clone(), &audit),
                verifier: Verifier::new(db_for_log.clone(), UsageLog::start(&db_for_log)),
                webhooks: Waker::default(),
            }),
        }
    }

    /// The configuration the server started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The portal's branding.
    pub fn branding(&self) -> &Branding {
        &self.inner.config.branding
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// Where every request is recorded.
    pub fn request_log(&self) -> &RequestLog {
        &self.inner.request_log
    }

    /// Checks API keys and records their usage.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// Wakes the webhook dispatcher when the changelog may have grown.
    pub fn webhooks(&self) -> &Waker {
        &self.inner.webhooks
    }

    /// The catalogue.
    pub fn catalog(&self) -> &Arc<dyn CatalogStore> {
        &self.inner.catalog
    }

    /// The plugin runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> &Registry {
        &self.inner.plugins
    }

    /// The Prometheus recorder's handle.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    /// The admin token, when one is configured.
    pub fn admin_token(&self) -> Option<&AdminToken> {
        self.inner.access.admin_token.as_ref()
    }

    /// The SCIM token, when `[auth.scim]` is set.
    pub fn scim_token(&self) -> Option<&ScimToken> {
        self.inner.access.scim_token.as_ref()
    }

    /// Roles and the failed sign-in limiter.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The catalogue's URL reader, when `[catalog] allowed_hosts` lists any.
    pub fn url_reader(&self) -> Option<&BlockingReader> {
        self.inner.access.url_reader.as_ref()
    }

    /// The configured gateway instances.
    pub fn gateways(&self) -> &Gateways {
        &self.inner.access.gateways
    }

    /// Rendered API docs and their cache.
    pub fn docs(&self) -> &DocsService {
        &self.inner.docs
    }

    /// The lock that serialises location registrations and deletions.
    pub fn locations_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.locations
    }

    /// Seconds since start.
    pub fn uptime_s(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }

    /// Whether start-up has finished.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Marks start-up as finished.
    pub fn set_ready(&self) {
        self.inner.ready.store(true, Ordering::Release);
    }
}
