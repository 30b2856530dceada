//! What every request handler shares: configuration, database, plugins, metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use portico_catalog::{CatalogStore, Database};
use portico_runtime::{Registry, Runtime};

use crate::branding::Branding;
use crate::config::Config;

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
}

impl AppState {
    /// Bundles the parts a running portal needs.
    pub fn new(
        config: Config,
        db: Database,
        catalog: Arc<dyn CatalogStore>,
        runtime: Runtime,
        plugins: Registry,
        metrics: PrometheusHandle,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                config,
                db,
                catalog,
                runtime,
                plugins,
                metrics,
                started: Instant::now(),
                ready: AtomicBool::new(false),
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
