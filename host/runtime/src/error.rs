//! Typed errors of loading and calling plugins, each naming the plugin.
//!
//! A plugin's expected failures (`plugin-error` in WIT) and its faults (traps,
//! exceeded limits) are kept apart: callers branch on the kind, operators read
//! the attribution.

use serde::Serialize;

use crate::manifest::ManifestError;

/// Why a plugin could not be loaded. Nothing of it runs until all checks pass.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The manifest or WIT version is refused.
    #[error("{origin}: {source}")]
    Manifest {
        /// Where the plugin came from.
        origin: String,
        /// What is wrong (boxed: semver versions make it large).
        source: Box<ManifestError>,
    },
    /// The component does not fit its declared world (missing export, unknown import).
    #[error("{origin}: does not fit world `{world}`: {reason}")]
    WorldMismatch {
        /// Where the plugin came from.
        origin: String,
        /// The world it declared.
        world: String,
        /// What does not fit.
        reason: String,
    },
    /// Cranelift could not compile it.
    #[error("{origin}: cannot be compiled: {reason}")]
    Compile {
        /// Where the plugin came from.
        origin: String,
        /// Why.
        reason: String,
    },
    /// The operator's configuration of the plugin is invalid.
    #[error("{origin}: invalid configuration: {reason}")]
    Config {
        /// Where the plugin came from.
        origin: String,
        /// Why.
        reason: String,
    },
}

/// How a plugin faulted; counted in its health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The call ran past its time limit.
    Timeout,
    /// The plugin tried to grow its memory past its limit.
    OutOfMemory,
    /// The plugin trapped (a panic, an unreachable, a bad access).
    Trap,
    /// The plugin tried to reach a host it was not granted.
    Denied,
    /// The plugin returned an error value.
    PluginError,
    /// The plugin is switched off by its circuit breaker.
    CircuitOpen,
    /// Every call slot was busy and the queue in front of them was full.
    Overloaded,
}

impl FaultKind {
    /// Whether this kind counts towards the circuit breaker (a fault, not an expected error).
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            FaultKind::Timeout | FaultKind::OutOfMemory | FaultKind::Trap
        )
    }
}

/// Why a call into a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call exceeded the plugin's time limit and was stopped.
    #[error(
        "plugin `{plugin}` exceeded its time limit of {limit_ms} ms in `{function}` and was stopped"
    )]
    Timeout {
        /// The plugin id.
        plugin: String,
        /// The function called.
        function: String,
        /// The limit.
        limit_ms: u64,
    },
    /// The plugin exceeded its memory limit.
    #[error(
        "plugin `{plugin}` exceeded its memory limit of {limit_mb} MiB in `{function}` and was stopped"
    )]
    OutOfMemory {
        /// The plugin id.
        plugin: String,
        /// The function called.
        function: String,
        /// The limit.
        limit_mb: u64,
    },
    /// The plugin trapped.
    #[error("plugin `{plugin}` crashed in `{function}`: {message}")]
    Trap {
        /// The plugin id.
        plugin: String,
        /// The function called.
        function: String,
        /// The trap, and the plugin's last words on stderr when it left any.
        message: String,
    },
    /// The plugin tried to reach a host that was not granted.
    #[error("plugin `{plugin}` was denied outbound access in `{function}`: {reason}")]
    Denied {
        /// The plugin id.
        plugin: String,
        /// The function called.
        function: String,
        /// Which destination and why.
        reason: String,
    },
    /// The plugin returned an error value.
    #[error("plugin `{plugin}` failed in `{function}`: {error}")]
    Plugin {
        /// The plugin id.
        plugin: String,
        /// The function called.
        function: String,
        /// The plugin's error.
        error: crate::worlds::PluginError,
    },
    /// The plugin is switched off by its circuit breaker after repeated faults.
    #[error(
        "plugin `{plugin}` is switched off after {faults} faults in a row; it is retried after {retry_in_s} s"
    )]
    CircuitOpen {
        /// The plugin id.
        plugin: String,
        /// Faults in a row.
        faults: u32,
        /// Seconds until a trial call is let through.
        retry_in_s: u64,
    },
    /// Every call slot was busy and the queue in front of them was full; the call never ran.
    #[error(
        "plugin `{plugin}` was not called: all {slots} call slots are busy and {queued} calls are already queued; retry later"
    )]
    Overloaded {
        /// The plugin id.
        plugin: String,
        /// Calls that may run at once (`runtime.max_concurrent_calls`).
        slots: u32,
        /// Calls waiting (`runtime.max_queued_calls`).
        queued: u32,
    },
    /// The plugin does not serve the world this call needs.
    #[error("plugin `{plugin}` serves `{world}`, not `{wanted}`")]
    WrongWorld {
        /// The plugin id.
        plugin: String,
        /// Its world.
        world: String,
        /// The world the caller wanted.
        wanted: String,
    },
    /// The host failed to set up the call (not the plugin's fault).
    #[error("host error calling plugin `{plugin}`: {message}")]
    Host {
        /// The plugin id.
        plugin: String,
        /// What failed.
        message: String,
    },
}

impl CallError {
    /// The kind of failure, as counted in health.
    pub fn kind(&self) -> Option<FaultKind> {
        Some(match self {
            CallError::Timeout { .. } => FaultKind::Timeout,
            CallError::OutOfMemory { .. } => FaultKind::OutOfMemory,
            CallError::Trap { .. } => FaultKind::Trap,
            CallError::Denied { .. } => FaultKind::Denied,
            CallError::Plugin { .. } => FaultKind::PluginError,
            CallError::CircuitOpen { .. } => FaultKind::CircuitOpen,
            CallError::Overloaded { .. } => FaultKind::Overloaded,
            CallError::WrongWorld { .. } | CallError::Host { .. } => return None,
        })
    }
}
