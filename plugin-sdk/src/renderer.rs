//! The `docs-renderer` plugin kind: a spec document becomes readable docs.
//!
//! The host picks a renderer by spec format, caches its output by spec hash and
//! renderer version, and uses the operation index for search and agents.

use core::marker::PhantomData;

use crate::bindings::renderer::exports::portico::plugin::renderer::Guest;
use crate::{PluginError, SpecDocument, SpecFormat, unsupported};

pub use crate::bindings::renderer::exports::portico::plugin::renderer::{
    Operation, RenderOptions, Rendered, TocEntry,
};

/// A docs renderer; export it with [`export_renderer!`](crate::export_renderer).
pub trait Renderer {
    /// The spec formats this renderer handles.
    fn formats() -> Vec<SpecFormat>;

    /// Renders a spec document.
    fn render(spec: SpecDocument, options: RenderOptions) -> Result<Rendered, PluginError>;

    /// Extracts the operation index only, without rendering (cheaper, for search).
    fn operations(spec: SpecDocument) -> Result<Vec<Operation>, PluginError> {
        let _ = spec;
        Err(unsupported("operations"))
    }
}

/// Binds a [`Renderer`] to the generated exports.
#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Renderer> Guest for Export<T> {
    fn formats() -> Vec<SpecFormat> {
        T::formats()
    }

    fn render(spec: SpecDocument, options: RenderOptions) -> Result<Rendered, PluginError> {
        T::render(spec, options)
    }

    fn operations(spec: SpecDocument) -> Result<Vec<Operation>, PluginError> {
        T::operations(spec)
    }
}

/// Exports a [`Renderer`] as the plugin's `docs-renderer` world.
///
/// Use it once, in the plugin's `cdylib` crate, next to its `plugin.toml`
/// (which it embeds).
#[macro_export]
macro_rules! export_renderer {
    ($ty:ty) => {
        const _: () = {
            type PorticoRenderer = $crate::renderer::Export<$ty>;
            $crate::__private::renderer::export!(
                PorticoRenderer with_types_in $crate::__private::renderer
            );
        };
        $crate::__embed_sections!();
    };
}
