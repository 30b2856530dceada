//! The `analytics-widget` plugin kind: a panel on a usage dashboard.
//!
//! The host runs the usage query a widget describes, over what the reader may
//! see, and hands the series to `render`, which returns SVG or an HTML fragment.

use core::marker::PhantomData;

use crate::PluginError;
use crate::bindings::widget::exports::portico::plugin::widget::Guest;

pub use crate::bindings::widget::exports::portico::plugin::widget::{
    Audience, Descriptor, Dimension, Granularity, Metric, Point, RenderRequest, Series, UsageQuery,
};

/// An analytics widget; export it with [`export_widget!`](crate::export_widget).
pub trait Widget {
    /// The widgets this plugin offers.
    fn describe() -> Vec<Descriptor>;

    /// Renders one widget as SVG or an HTML fragment with an accessible title.
    fn render(request: RenderRequest) -> Result<String, PluginError>;
}

/// Binds a [`Widget`] to the generated exports.
#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Widget> Guest for Export<T> {
    fn describe() -> Vec<Descriptor> {
        T::describe()
    }

    fn render(request: RenderRequest) -> Result<String, PluginError> {
        T::render(request)
    }
}

/// Exports a [`Widget`] as the plugin's `analytics-widget` world.
///
/// Use it once, in the plugin's `cdylib` crate, next to its `plugin.toml`
/// (which it embeds).
#[macro_export]
macro_rules! export_widget {
    ($ty:ty) => {
        const _: () = {
            type PorticoWidget = $crate::widget::Export<$ty>;
            $crate::__private::widget::export!(
                PorticoWidget with_types_in $crate::__private::widget
            );
        };
        $crate::__embed_sections!();
    };
}
