//! Portico's plugin runtime: the only crate that touches wasmtime.
//!
//! It loads WebAssembly components, checks their manifest and WIT version,
//! compiles them once (cached on disk), and runs every call in a fresh,
//! sandboxed instance with memory and time limits, outbound-HTTP policy,
//! grants narrowed by the operator, call statistics and a circuit breaker.
//! The rest of the host sees plain Rust types and typed errors.

mod bindings;
mod cache;
mod engine;
mod error;
mod grants;
mod health;
mod host_impl;
mod instance;
pub mod manifest;
mod outbound;
pub mod package;
mod plugin;
mod registry;
pub mod signing;
mod state;
mod stats;
pub mod worlds;

use std::sync::LazyLock;

pub use engine::{Runtime, RuntimeConfig};
pub use error::{CallError, FaultKind, LoadError};
pub use grants::{AmountGrant, Grants, HostGrant, SecretGrant};
pub use health::{Health, HealthState, RecentError};
pub use host_impl::{KvBackend, MemoryKv};
pub use instance::PluginInstance;
pub use manifest::{FailureMode, Manifest, ManifestError, World};
pub use outbound::{AllowedHost, OutboundPolicy, is_public_address};
pub use plugin::{Grant, Inspection, Origin, Plugin, PluginInfo};
pub use registry::Registry;
pub use stats::Histogram;

/// The SHA-256 of a component, hex: how plugins are told apart.
pub fn component_digest(wasm: &[u8]) -> String {
    cache::content_hash(wasm)
}
pub use signing::{PublicKey, SecretKey, SignatureError, Trust, TrustPolicy, TrustedPublisher};

/// The version of the `portico:plugin` WIT package this host implements.
pub static WIT_VERSION: LazyLock<semver::Version> = LazyLock::new(|| semver::Version::new(0, 1, 1));
