//! Write Portico plugins in Rust: one trait per plugin kind, one `export_*!`
//! macro to turn an implementation into a WebAssembly component, and small
//! helpers for what the host lends a plugin (HTTP, key-value storage,
//! configuration, secrets, logs).
//!
//! # Quick start
//!
//! ```ignore
//! use portico_plugin_sdk::connector::{Connector, DiscoveredApi, DiscoveryPage};
//! use portico_plugin_sdk::{PluginError, export_connector};
//!
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn discover(_page: Option<String>) -> Result<DiscoveryPage, PluginError> {
//!         Ok(DiscoveryPage::new(vec![DiscoveredApi::new("hello", "hello")]))
//!     }
//! }
//!
//! export_connector!(Hello);
//! ```
//!
//! The crate is a `cdylib` built with `cargo build --release --target wasm32-wasip2`;
//! no other tool is needed. Plugin kinds and their traits: [`Connector`]
//! (`gateway-connector`), [`Renderer`] (`docs-renderer`), [`Widget`]
//! (`analytics-widget`), [`Billing`] (`billing`) and [`Sandbox`] (`sandbox`).
//! Trait methods are associated functions without `self`: the host may run
//! any call in a fresh instance, so state that must last belongs in [`kv`].
//!
//! # The manifest: `plugin.toml`
//!
//! Every plugin crate has a `plugin.toml` next to its `Cargo.toml`. The
//! `export_*!` macro embeds it in the component (custom section
//! `portico:manifest`), together with the WIT version this SDK was built
//! against ([`WIT_VERSION`], custom section `portico:wit-version`), so a
//! single `.wasm` file is all the host needs.
//!
//! ```toml
//! id = "hello-connector"           # [a-z0-9-], unique among installed plugins
//! version = "0.1.0"                # semver of the plugin
//! world = "gateway-connector"      # gateway-connector, docs-renderer, analytics-widget, billing or sandbox
//! wit = "^0.1"                     # semver requirement on portico:plugin
//! description = "Says hello."
//! author = "Jane Doe <jane@example.com>"
//! license = "Apache-2.0"
//! failure = "open"                 # "open": the host may go on without it; "closed": it may not
//!
//! [capabilities]
//! allowed_outbound_hosts = ["https://api.example.com", "http://127.0.0.1:*"]  # scheme://host[:port|*]
//! kv_quota_bytes = 1048576         # 0 or absent: no key-value storage
//! secrets = ["token"]              # names the plugin may read with `secret::get`
//!
//! [limits]
//! memory_mb = 64                   # linear memory per instance
//! time_ms = 5000                   # wall-clock time per call
//!
//! [config_schema]                  # a JSON Schema, written as TOML, for the instance's config
//! type = "object"
//! ```
//!
//! The manifest says what the plugin needs. The operator's `[plugins.<id>]`
//! table in `portico.toml` decides what an instance gets (it may replace
//! `allowed_outbound_hosts` and the limits, and it supplies the secrets and
//! the configuration), and the host checks every use.

#![deny(missing_docs)]

pub mod billing;
mod bindings;
pub mod connector;
mod host;
pub mod http;
pub mod renderer;
pub mod sandbox;
pub mod widget;

pub use billing::Billing;
pub use connector::Connector;
pub use host::{config, kv, log, secret};
pub use renderer::Renderer;
pub use sandbox::Sandbox;
pub use widget::Widget;

pub use bindings::connector::portico::plugin::types::{
    Money, Pair, PluginError, RateLimitInfo, SpecDocument, SpecFormat, Theme, TimestampMs,
    UsageRecord,
};

/// The version of the `portico:plugin` WIT package this SDK implements.
///
/// Written into every plugin as the custom section `portico:wit-version`; the
/// host compares it with the versions it can load.
pub const WIT_VERSION: &str = "0.1.1";

/// A result whose error is a [`PluginError`].
pub type Result<T, E = PluginError> = core::result::Result<T, E>;

impl Money {
    /// An amount in minor units (cents for EUR and USD) of an ISO 4217 currency.
    pub fn new(minor_units: i64, currency: impl Into<String>) -> Self {
        Self {
            minor_units,
            currency: currency.into(),
        }
    }
}

/// The error of a trait function a plugin does not override.
fn unsupported(function: &str) -> PluginError {
    PluginError::Unsupported(format!("this plugin does not implement `{function}`"))
}

/// What the `export_*!` macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::{billing, connector, renderer, sandbox, widget};

    /// Copies `bytes` into an array whose length the caller's type fixes.
    pub const fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
        let mut out = [0; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }
}

/// Embeds the plugin's `plugin.toml` and the SDK's WIT version in the plugin's crate.
///
/// The statics must live in the final `cdylib`, not in the SDK: the linker
/// keeps every custom section of the objects it links, and the plugin's own
/// object is the one it is sure to link.
#[doc(hidden)]
#[macro_export]
macro_rules! __embed_sections {
    () => {
        const _: () = {
            const MANIFEST: &[u8] =
                include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml"));
            const WIT_VERSION: &[u8] = $crate::WIT_VERSION.as_bytes();

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "portico:manifest")]
            #[used]
            static PORTICO_MANIFEST: [u8; MANIFEST.len()] = $crate::__private::to_array(MANIFEST);

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "portico:wit-version")]
            #[used]
            static PORTICO_WIT_VERSION: [u8; WIT_VERSION.len()] =
                $crate::__private::to_array(WIT_VERSION);

            // Keeps native builds (unit tests) free of unused-constant warnings
            // while still failing when `plugin.toml` is missing.
            let _ = (MANIFEST, WIT_VERSION);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_version_matches_the_wit_package() {
        let package = include_str!("../../wit/package.wit");
        assert!(package.contains(&format!("package portico:plugin@{WIT_VERSION};")));
    }

    #[test]
    fn unsupported_names_the_function() {
        let PluginError::Unsupported(message) = unsupported("fetch-spec") else {
            panic!("wrong variant");
        };
        assert!(message.contains("`fetch-spec`"));
    }
}
