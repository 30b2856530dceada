//! The `sandbox` plugin kind: an API with real behaviour on synthetic data.
//!
//! Where an API has no sandbox server, the host passes try-it calls to a
//! sandbox plugin, which keeps per-developer state in its key-value store.

use core::marker::PhantomData;

use crate::bindings::sandbox::exports::portico::plugin::sandbox_handler::Guest;
use crate::{PluginError, unsupported};

pub use crate::bindings::sandbox::exports::portico::plugin::sandbox_handler::{
    SandboxRequest, SandboxResponse,
};

/// A sandbox; export it with [`export_sandbox!`](crate::export_sandbox).
pub trait Sandbox {
    /// Handles one call.
    fn handle(request: SandboxRequest) -> Result<SandboxResponse, PluginError>;

    /// Forgets a developer's state for one API (the "reset sandbox" button).
    fn reset(api: String, developer_id: String) -> Result<(), PluginError> {
        let _ = (api, developer_id);
        Err(unsupported("reset"))
    }
}

/// Binds a [`Sandbox`] to the generated exports.
#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Sandbox> Guest for Export<T> {
    fn handle(request: SandboxRequest) -> Result<SandboxResponse, PluginError> {
        T::handle(request)
    }

    fn reset(api: String, developer_id: String) -> Result<(), PluginError> {
        T::reset(api, developer_id)
    }
}

/// Exports a [`Sandbox`] as the plugin's `sandbox` world.
///
/// Use it once, in the plugin's `cdylib` crate, next to its `plugin.toml`
/// (which it embeds).
#[macro_export]
macro_rules! export_sandbox {
    ($ty:ty) => {
        const _: () = {
            type PorticoSandbox = $crate::sandbox::Export<$ty>;
            $crate::__private::sandbox::export!(
                PorticoSandbox with_types_in $crate::__private::sandbox
            );
        };
        $crate::__embed_sections!();
    };
}
