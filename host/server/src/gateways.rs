//! Gateway instances (`[[gateways]]`): each runs one gateway-connector plugin
//! with its own configuration, secrets, outbound hosts and health, and syncs
//! what it discovers into the catalogue on its own schedule and on demand.
//!
//! Gateways are isolated from each other: one tokio task per schedule, a
//! timeout on every sync, a circuit breaker per instance, and credentials
//! and hosts that only that gateway's calls get.

pub(crate) mod entities;
pub mod runs;
mod sync;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use portico_runtime::{Grant, PluginInstance, Registry, World};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use runs::{Run, Status, Trigger};

use crate::config::{Config, Every, GatewaySettings};
use crate::state::AppState;

/// Why a sync could not be started or recorded (a failed sync is a [`Run`]).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No gateway of that name is configured.
    #[error("{0}")]
    Unknown(String),
    /// A sync of that gateway is already running.
    #[error("{0}")]
    Busy(String),
    /// The run could not be recorded.
    #[error("recording the run failed: {0}")]
    Store(String),
}

/// One configured gateway.
pub struct Gateway {
    /// Its settings (secret references, never values).
    pub settings: GatewaySettings,
    /// Its instance's grant, secrets resolved.
    grant: Grant,
    /// The instance of its connector, made again when the plugin is replaced.
    instance: Mutex<Option<Arc<PluginInstance>>>,
    /// Held while it syncs.
    running: tokio::sync::Mutex<()>,
    /// The token its log plugin pushes usage with, resolved.
    usage_token: Option<String>,
}

impl std::fmt::Debug for Gateway {
    /// Without the grant: it holds the secrets' values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("name", &self.settings.name)
            .field("connector", &self.settings.connector)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The token its log plugin pushes usage with; none: pushes are refused.
    pub fn usage_token(&self) -> Option<&str> {
        self.usage_token.as_deref()
    }

    /// Its connector's instance for this gateway, on the version of the
    /// plugin that serves now.
    pub fn instance(&self, plugins: &Registry) -> Result<Arc<PluginInstance>, String> {
        let connector = &self.settings.connector;
        let plugin = plugins.get(connector).ok_or_else(|| {
            format!("its connector `{connector}` is not installed, or is disabled")
        })?;
        if plugin.world() != World::GatewayConnector {
            return Err(format!(
                "its connector `{connector}` is a {} plugin, not a gateway-connector",
                plugin.world()
            ));
        }
        let mut cached = self.instance.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(instance) = cached.as_ref()
            && Arc::ptr_eq(instance.plugin(), &plugin)
        {
            return Ok(instance.clone());
        }
        let instance = Arc::new(
            plugin
                .instance(&self.settings.name, &self.grant)
                .map_err(|e| e.to_string())?,
        );
        *cached = Some(instance.clone());
        Ok(instance)
    }
}

/// Every configured gateway, by name.
#[derive(Debug, Default)]
pub struct Gateways {
    by_name: BTreeMap<String, Arc<Gateway>>,
}

impl Gateways {
    /// Resolves each gateway's secrets and checks that its connector is an
    /// installed gateway-connector that accepts its grant: the start-up checks.
    pub fn resolve(config: &Config, plugins: &Registry) -> anyhow::Result<Gateways> {
        // A configuration built in code has not been through `Config::parse`.
        crate::config::check_gateways(&config.gateways)?;
        let mut by_name = BTreeMap::new();
        for settings in &config.gateways {
            let at = format!("gateways.{}", settings.name);
            let grant = settings.grant(config.plugins.grants.get(&settings.connector))?;
            let gateway = Gateway {
                settings: settings.clone(),
                grant,
                instance: Mutex::new(None),
                running: tokio::sync::Mutex::new(()),
                usage_token: settings
                    .usage_token
                    .as_deref()
                    .map(crate::config::resolve_secret)
                    .transpose()
                    .with_context(|| format!("{at}.usage_token"))?,
            };
            gateway
                .instance(plugins)
                .map_err(|reason| {
                    let installed: Vec<String> = plugins
                        .of_world(World::GatewayConnector)
                        .iter()
                        .map(|p| p.id().to_owned())
                        .collect();
                    anyhow::anyhow!(
                        "{reason} (installed gateway connectors: {})",
                        if installed.is_empty() {
                            "none".into()
                        } else {
                            installed.join(", ")
                        }
                    )
                })
                .with_context(|| at.clone())?;
            by_name.insert(settings.name.clone(), Arc::new(gateway));
        }
        Ok(Gateways { by_name })
    }

    /// A gateway by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Gateway>> {
        self.by_name.get(name)
    }

    /// Every gateway, by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Gateway>> {
        self.by_name.values()
    }
}

/// Syncs the gateway `name` now and returns its run (which may have failed).
pub async fn sync(state: &AppState, name: &str, trigger: Trigger) -> Result<Run, SyncError> {
    let gateway = state
        .gateways()
        .get(name)
        .cloned()
        .ok_or_else(|| SyncError::Unknown(format!("no gateway called `{name}`")))?;
    sync::run(state, &gateway, trigger).await
}

/// Starts one task per scheduled gateway: a sync at once, then one every
/// `sync_interval`, until `stop` fires or its sender is dropped.
pub fn spawn_schedules(state: AppState, stop: oneshot::Receiver<()>) -> Option<JoinHandle<()>> {
    let scheduled: Vec<(Arc<Gateway>, std::time::Duration)> = state
        .gateways()
        .all()
        .filter_map(|g| match g.settings.sync_interval {
            Every::Interval(d) => Some((g.clone(), d.0)),
            Every::Off => None,
        })
        .collect();
    if scheduled.is_empty() {
        return None;
    }
    let (stopping, _) = tokio::sync::watch::channel(false);
    let tasks: Vec<JoinHandle<()>> = scheduled
        .into_iter()
        .map(|(gateway, period)| {
            let state = state.clone();
            let mut stopped = stopping.subscribe();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = stopped.changed() => return,
                        _ = ticks.tick() => {}
                    }
                    tokio::select! {
                        // A sync stopped here writes nothing: its write is one transaction.
                        _ = stopped.changed() => return,
                        result = sync::run(&state, &gateway, Trigger::Schedule) => {
                            if let Err(error) = result {
                                tracing::debug!(gateway = %gateway.settings.name, %error, "scheduled sync skipped");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    Some(tokio::spawn(async move {
        let _ = stop.await;
        let _ = stopping.send(true);
        for task in tasks {
            let _ = task.await;
        }
    }))
}
