//! The `billing` plugin kind: pricing plans, and rating usage into invoice lines.
//!
//! Billing fails closed: when `rate` fails, or returns lines whose amounts the
//! host cannot check, the period stays unbilled; a wrong amount is never issued.

use core::marker::PhantomData;

use crate::PluginError;
use crate::bindings::billing::exports::portico::plugin::rating::Guest;

pub use crate::bindings::billing::exports::portico::plugin::rating::{
    BillingPlan, InvoiceLine, RatingRequest, Tier, UsageLine,
};

/// A billing module; export it with [`export_billing!`](crate::export_billing).
pub trait Billing {
    /// The billing plans this plugin offers.
    fn plans() -> Vec<BillingPlan>;

    /// Prices one app's usage for one period.
    fn rate(request: RatingRequest) -> Result<Vec<InvoiceLine>, PluginError>;
}

/// Binds a [`Billing`] module to the generated exports.
#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Billing> Guest for Export<T> {
    fn plans() -> Vec<BillingPlan> {
        T::plans()
    }

    fn rate(request: RatingRequest) -> Result<Vec<InvoiceLine>, PluginError> {
        T::rate(request)
    }
}

/// Exports a [`Billing`] module as the plugin's `billing` world.
///
/// Use it once, in the plugin's `cdylib` crate, next to its `plugin.toml`
/// (which it embeds).
#[macro_export]
macro_rules! export_billing {
    ($ty:ty) => {
        const _: () = {
            type PorticoBilling = $crate::billing::Export<$ty>;
            $crate::__private::billing::export!(
                PorticoBilling with_types_in $crate::__private::billing
            );
        };
        $crate::__embed_sections!();
    };
}
