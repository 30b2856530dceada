//! A loaded plugin: its checked manifest, its grants, its pre-linked instance
//! and its health, plus the machinery every call goes through.
//!
//! Loading refuses, with a message naming the file and the problem, anything
//! that is not a component, lacks a manifest, targets another WIT version or
//! does not fit its declared world. Calls get a fresh store, the plugin's
//! memory and time limits, and attribution of every failure.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::Store;
use wasmtime::component::Component;

use crate::bindings;
use crate::cache::{CacheOutcome, content_hash};
use crate::engine::{EPOCH_TICK, Runtime, RuntimeInner};
use crate::error::{CallError, FaultKind, LoadError};
use crate::grants::Grants;
use crate::health::{Admission, Health, HealthTracker};
use crate::host_impl::PluginContext;
use crate::instance;
use crate::manifest::{self, Capabilities, FailureMode, Limits, Manifest, World};
use crate::signing::Trust;
use crate::state::CallState;
use crate::worlds::PluginError;

/// Where a plugin came from, for messages and the plugins page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Origin {
    /// Built into the binary.
    Bundled(String),
    /// A file in the plugins directory or given on the command line.
    File(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Bundled(name) => write!(f, "bundled plugin {name}"),
            Origin::File(path) => f.write_str(path),
        }
    }
}

/// What the operator grants one plugin instance (from `[plugins.<id>]`).
///
/// Each value can only narrow what the manifest asks for (see [`Grants`]).
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// The instance's configuration, handed to the plugin through `config-get`.
    pub config: serde_json::Value,
    /// Secrets by name, already resolved by the host; those the manifest does not name are dropped.
    pub secrets: BTreeMap<String, String>,
    /// Outbound destinations, narrowing the manifest's; none: the manifest's own.
    pub allowed_outbound_hosts: Option<Vec<String>>,
    /// Whether private, loopback and link-local addresses may be reached.
    pub allow_private_addresses: bool,
    /// A lower key-value quota than the manifest's, in bytes.
    pub kv_quota_bytes: Option<u64>,
    /// A lower memory limit than the manifest's, in MiB (capped by the runtime).
    pub memory_mb: Option<u64>,
    /// A lower time limit than the manifest's, in ms (capped by the runtime).
    pub time_ms: Option<u64>,
}

/// What `plugin inspect` shows of a component, without running it.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The manifest, when the component carries one.
    pub manifest: Option<Manifest>,
    /// The WIT version the plugin was built against.
    pub wit_version: Option<String>,
    /// Whether this host can load it, and if not, why.
    pub compatible: Result<(), String>,
    /// Top-level imports of the component.
    pub imports: Vec<String>,
    /// Top-level exports of the component.
    pub exports: Vec<String>,
    /// Size in bytes.
    pub size: usize,
    /// SHA-256, hex.
    pub sha256: String,
}

/// A plugin as the host reports it (`GET /api/v1/plugins`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginInfo {
    /// Its id.
    pub id: String,
    /// Its version.
    pub version: String,
    /// Its world.
    pub world: World,
    /// The WIT version it was built against.
    pub wit_version: String,
    /// One line about it.
    pub description: String,
    /// Who made it.
    pub author: String,
    /// Its licence.
    pub license: String,
    /// Where it came from.
    pub origin: Origin,
    /// What its signature check found.
    pub trust: Trust,
    /// Fail open or closed.
    pub failure: FailureMode,
    /// What its manifest asks for.
    pub capabilities: Capabilities,
    /// Outbound destinations actually granted.
    pub granted_outbound_hosts: Vec<String>,
    /// Limits actually applied per call.
    pub limits: Limits,
    /// Requested against granted, for every capability and limit.
    pub grants: Grants,
    /// SHA-256 of the component.
    pub sha256: String,
    /// Whether the compiled artifact came from the cache.
    pub cache: CacheOutcome,
    /// Its health.
    pub health: Health,
}

pub(crate) enum WorldPre {
    Connector(bindings::connector::GatewayConnectorPre<CallState>),
    Renderer(bindings::renderer::DocsRendererPre<CallState>),
    Widget(bindings::widget::AnalyticsWidgetPre<CallState>),
    Billing(bindings::billing::BillingPre<CallState>),
    Sandbox(bindings::sandbox::SandboxPre<CallState>),
}

/// A loaded plugin, ready for calls.
pub struct Plugin {
    pub(crate) manifest: Manifest,
    pub(crate) origin: Origin,
    pub(crate) wit_version: semver::Version,
    pub(crate) pre: WorldPre,
    pub(crate) context: Arc<PluginContext>,
    pub(crate) health: HealthTracker,
    pub(crate) runtime: Arc<RuntimeInner>,
    sha256: String,
    cache: CacheOutcome,
    grants: Grants,
    trust: Trust,
}

/// The future a call body returns: the store back, and the plugin's own result or a fault.
pub(crate) type CallFuture<'c, T> = Pin<
    Box<
        dyn Future<Output = (Store<CallState>, wasmtime::Result<Result<T, PluginError>>)>
            + Send
            + 'c,
    >,
>;

impl Runtime {
    /// Reads a component's manifest, WIT version, imports and exports without running it.
    pub fn inspect(&self, wasm: &[u8]) -> Result<Inspection, ManifestError> {
        let sections = manifest::read_sections(wasm)?;
        let manifest = sections
            .manifest
            .as_deref()
            .map(Manifest::parse)
            .transpose()?;
        let (imports, exports) = top_level_names(wasm)?;
        let compatible = match (&manifest, &sections.wit_version) {
            (None, _) => Err(ManifestError::Missing.to_string()),
            (Some(_), None) => Err("no `portico:wit-version` section".to_owned()),
            (Some(m), Some(v)) => manifest::check_wit_version(v, &m.wit)
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        Ok(Inspection {
            manifest,
            wit_version: sections.wit_version,
            compatible,
            imports,
            exports,
            size: wasm.len(),
            sha256: content_hash(wasm),
        })
    }

    /// Loads a plugin from bytes.
    pub fn load(&self, wasm: &[u8], origin: Origin, grant: &Grant) -> Result<Plugin, LoadError> {
        let refuse = |source| LoadError::Manifest {
            origin: origin.to_string(),
            source: Box::new(source),
        };
        let sections = manifest::read_sections(wasm).map_err(refuse)?;
        let text = sections
            .manifest
            .ok_or(ManifestError::Missing)
            .map_err(refuse)?;
        let manifest = Manifest::parse(&text).map_err(refuse)?;
        let built = sections
            .wit_version
            .or_else(|| imported_wit_version(wasm))
            .ok_or_else(|| ManifestError::Invalid("no `portico:wit-version` section".into()))
            .map_err(refuse)?;
        let wit_version = manifest::check_wit_version(&built, &manifest.wit).map_err(refuse)?;
        let world = manifest.world();

        let inner = &self.inner;
        let sha256 = content_hash(wasm);
        let compiled = match &inner.cache {
            Some(cache) => cache.load_or_compile(&inner.engine, wasm, &sha256),
            None => Component::new(&inner.engine, wasm)
                .map(|c| (c, CacheOutcome::Compiled))
                .map_err(anyhow::Error::from),
        };
        let (component, cache) = compiled.map_err(|e| LoadError::Compile {
            origin: origin.to_string(),
            reason: format!("{e:#}"),
        })?;

        let mismatch = |e: wasmtime::Error| LoadError::WorldMismatch {
            origin: origin.to_string(),
            world: world.to_string(),
            reason: format!("{e:#}"),
        };
        let instance_pre = inner.linker.instantiate_pre(&component).map_err(mismatch)?;
        let pre = match world {
            World::GatewayConnector => WorldPre::Connector(
                bindings::connector::GatewayConnectorPre::new(instance_pre).map_err(mismatch)?,
            ),
            World::DocsRenderer => WorldPre::Renderer(
                bindings::renderer::DocsRendererPre::new(instance_pre).map_err(mismatch)?,
            ),
            World::AnalyticsWidget => WorldPre::Widget(
                bindings::widget::AnalyticsWidgetPre::new(instance_pre).map_err(mismatch)?,
            ),
            World::Billing => WorldPre::Billing(
                bindings::billing::BillingPre::new(instance_pre).map_err(mismatch)?,
            ),
            World::Sandbox => WorldPre::Sandbox(
                bindings::sandbox::SandboxPre::new(instance_pre).map_err(mismatch)?,
            ),
        };

        let health = HealthTracker::new();
        let (context, granted) = instance::granted_context(
            manifest.id.clone(),
            &manifest,
            grant,
            &inner.config,
            health.stats.clone(),
        )
        .map_err(|reason| LoadError::Config {
            origin: origin.to_string(),
            reason,
        })?;
        tracing::info!(plugin = %manifest.id, version = %manifest.version, %world, %origin, ?cache, "plugin loaded");
        let trust = match origin {
            Origin::Bundled(_) => Trust::Bundled,
            Origin::File(_) => Trust::Unsigned,
        };
        Ok(Plugin {
            manifest,
            origin,
            wit_version,
            pre,
            context,
            health,
            runtime: inner.clone(),
            sha256,
            cache,
            grants: granted,
            trust,
        })
    }
}

use crate::manifest::ManifestError;

impl Plugin {
    /// The plugin's id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// The world it serves.
    pub fn world(&self) -> World {
        self.manifest.world()
    }

    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Records what the loader's signature check found.
    pub fn with_trust(mut self, trust: Trust) -> Plugin {
        self.trust = trust;
        self
    }

    /// Its health now.
    pub fn health(&self) -> Health {
        self.health.snapshot()
    }

    /// Everything the host reports about it.
    pub fn info(&self) -> PluginInfo {
        let m = &self.manifest;
        PluginInfo {
            id: m.id.clone(),
            version: m.version.to_string(),
            world: m.world(),
            wit_version: self.wit_version.to_string(),
            description: m.description.clone(),
            author: m.author.clone(),
            license: m.license.clone(),
            origin: self.origin.clone(),
            trust: self.trust.clone(),
            failure: m.failure,
            capabilities: m.capabilities.clone(),
            granted_outbound_hosts: self.grants.outbound_hosts.granted.clone(),
            limits: self.context.limits,
            grants: self.grants.clone(),
            sha256: self.sha256.clone(),
            cache: self.cache,
            health: self.health.snapshot(),
        }
    }

    pub(crate) fn wrong_world(&self, wanted: World) -> CallError {
        CallError::WrongWorld {
            plugin: self.id().to_owned(),
            world: self.world().to_string(),
            wanted: wanted.to_string(),
        }
    }

    /// Runs one call in a fresh store under the plugin's limits, and attributes its outcome.
    pub(crate) async fn call<'c, T: Send>(
        &'c self,
        function: &'static str,
        body: impl FnOnce(Store<CallState>) -> CallFuture<'c, T>,
    ) -> Result<T, CallError> {
        self.call_in(&self.context, &self.health, function, body)
            .await
    }

    /// [`call`](Self::call) with the grants and health of one instance of the
    /// plugin (see [`crate::PluginInstance`]) instead of the plugin's own.
    pub(crate) async fn call_in<'c, T: Send>(
        &'c self,
        context: &Arc<PluginContext>,
        health: &HealthTracker,
        function: &'static str,
        body: impl FnOnce(Store<CallState>) -> CallFuture<'c, T>,
    ) -> Result<T, CallError> {
        let plugin = self.id().to_owned();
        if let Admission::Refused { faults, retry_in } = health.admit() {
            let error = CallError::CircuitOpen {
                plugin,
                faults,
                retry_in_s: retry_in.as_secs().max(1),
            };
            health.record_refused(FaultKind::CircuitOpen);
            return Err(error);
        }
        let _permit = self.permit(health).await?;
        let started = Instant::now();
        let limits = context.limits;
        let limit = context.time_limit();
        let mut store = Store::new(&self.runtime.engine, CallState::new(context.clone()));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(ticks(limit));
        store.epoch_deadline_trap();

        // The epoch stops guest code; the timer also stops a call parked on the host (a slow HTTP peer).
        let outcome = tokio::time::timeout(limit + 2 * EPOCH_TICK, body(store)).await;
        let result = match outcome {
            Err(_elapsed) => Err(self.timeout(function, limits)),
            Ok((_, Ok(Ok(value)))) => Ok(value),
            Ok((store, Ok(Err(error)))) => Err(self.plugin_failure(function, error, store.data())),
            Ok((store, Err(fault))) => Err(self.classify(function, limits, &fault, store.data())),
        };
        let elapsed = started.elapsed();
        match &result {
            Ok(_) => health.record(elapsed, Ok(())),
            Err(e) => {
                let kind = e.kind().unwrap_or(FaultKind::Trap);
                tracing::warn!(plugin = %context.id, function, error = %e, "plugin call failed");
                health.record(elapsed, Err((kind, e.to_string())));
            }
        }
        result
    }

    /// A call slot: at once when one is free, else after a wait in the
    /// bounded queue; refused when the queue is full.
    async fn permit(
        &self,
        health: &HealthTracker,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, CallError> {
        let runtime = &self.runtime;
        if let Ok(permit) = runtime.permits.try_acquire() {
            return Ok(permit);
        }
        let max_queued = runtime.config.max_queued_calls;
        let queued = runtime.queued.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&runtime.queued);
        if queued >= max_queued {
            let error = CallError::Overloaded {
                plugin: self.id().to_owned(),
                slots: runtime.config.max_concurrent_calls.max(1),
                queued: max_queued,
            };
            health.record_refused(FaultKind::Overloaded);
            return Err(error);
        }
        runtime
            .permits
            .acquire()
            .await
            .map_err(|e| CallError::Host {
                plugin: self.id().to_owned(),
                message: e.to_string(),
            })
    }

    /// An error the plugin returned; a denied outbound request explains it best.
    fn plugin_failure(&self, function: &str, error: PluginError, state: &CallState) -> CallError {
        let plugin = self.id().to_owned();
        let function = function.to_owned();
        let denials = state.denials.lock().unwrap_or_else(|e| e.into_inner());
        match denials.first() {
            Some(reason) => CallError::Denied {
                plugin,
                function,
                reason: reason.clone(),
            },
            None => CallError::Plugin {
                plugin,
                function,
                error,
            },
        }
    }

    fn timeout(&self, function: &str, limits: Limits) -> CallError {
        CallError::Timeout {
            plugin: self.id().to_owned(),
            function: function.to_owned(),
            limit_ms: limits.time_ms,
        }
    }

    fn classify(
        &self,
        function: &str,
        limits: Limits,
        fault: &wasmtime::Error,
        state: &CallState,
    ) -> CallError {
        if state.limits.hit {
            return CallError::OutOfMemory {
                plugin: self.id().to_owned(),
                function: function.to_owned(),
                limit_mb: limits.memory_mb,
            };
        }
        let trap = fault
            .chain()
            .find_map(|e| e.downcast_ref::<wasmtime::Trap>())
            .copied();
        if trap == Some(wasmtime::Trap::Interrupt) {
            return self.timeout(function, limits);
        }
        let mut message = match trap {
            Some(trap) => trap.to_string(),
            None => format!("{fault:#}"),
        };
        if let Some(words) = state.last_words() {
            message = format!("{message}; it said: {words}");
        }
        CallError::Trap {
            plugin: self.id().to_owned(),
            function: function.to_owned(),
            message,
        }
    }
}

/// Takes a call off the queue count however its wait ends (a permit, a
/// refusal, or the caller dropping the call).
struct Leave<'q>(&'q AtomicU32);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Epoch ticks that cover `limit`.
fn ticks(limit: Duration) -> u64 {
    (limit.as_micros() / EPOCH_TICK.as_micros()) as u64 + 1
}

/// The WIT version a component imports `portico:plugin/host` at, for plugins without the section.
fn imported_wit_version(wasm: &[u8]) -> Option<String> {
    let (imports, _) = top_level_names(wasm).ok()?;
    imports
        .iter()
        .find_map(|name| name.strip_prefix("portico:plugin/host@").map(str::to_owned))
}

/// The names of a component's top-level imports and exports.
fn top_level_names(wasm: &[u8]) -> Result<(Vec<String>, Vec<String>), ManifestError> {
    use wasmparser::{Parser, Payload};
    let (mut imports, mut exports, mut depth) = (Vec::new(), Vec::new(), 0usize);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| ManifestError::NotAComponent(e.to_string()))? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    let import = import.map_err(|e| ManifestError::NotAComponent(e.to_string()))?;
                    imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    let export = export.map_err(|e| ManifestError::NotAComponent(e.to_string()))?;
                    exports.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}
