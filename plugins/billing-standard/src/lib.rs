//! Portico's standard billing plans (`free`, `tiered`, `usage`) and their
//! rating into invoice lines. Plans are data (`plans`), the arithmetic is
//! pure and checked (`rating`); this file binds them to the `billing` world
//! and picks the currency from the operator's config. See README.md.

mod plans;
mod rating;

use portico_plugin_sdk::billing::{Billing, BillingPlan, InvoiceLine, RatingRequest};
use portico_plugin_sdk::{Money, PluginError, config, export_billing, log};

use crate::plans::PLANS;

/// The currency when the config names none, or names one badly.
const DEFAULT_CURRENCY: &str = "EUR";

struct Standard;

impl Billing for Standard {
    fn plans() -> Vec<BillingPlan> {
        let currency = currency();
        PLANS.iter().map(|plan| plan.to_wit(&currency)).collect()
    }

    fn rate(request: RatingRequest) -> Result<Vec<InvoiceLine>, PluginError> {
        let plan = plans::find(&request.plan_id).ok_or_else(|| {
            let offered: Vec<_> = PLANS.iter().map(|plan| plan.id).collect();
            PluginError::NotFound(format!(
                "no billing plan `{}`; this plugin offers {}",
                request.plan_id,
                offered.join(", ")
            ))
        })?;
        if request.period_end <= request.period_start {
            return Err(PluginError::Internal(format!(
                "the period ends ({} ms) at or before it starts ({} ms)",
                request.period_end, request.period_start
            )));
        }
        let rated = rating::billable_calls(&request.usage)
            .and_then(|calls| rating::rate(plan, calls))
            .map_err(|e| PluginError::Internal(format!("cannot rate plan `{}`: {e}", plan.id)))?;
        let currency = currency();
        Ok(rated
            .into_iter()
            .map(|line| InvoiceLine {
                description: line.description,
                quantity: line.quantity,
                unit_price: Money::new(line.unit_price, &currency),
                amount: Money::new(line.amount, &currency),
            })
            .collect())
    }
}

/// The config's `currency`, when it is shaped like an ISO 4217 code; else EUR.
fn currency() -> String {
    match config::get("currency") {
        None => DEFAULT_CURRENCY.to_owned(),
        Some(code) if is_currency_code(&code) => code,
        Some(code) => {
            log::warn(
                "config `currency` is not an ISO 4217 code (three capital letters); billing in EUR",
                &[("currency", &code)],
            );
            DEFAULT_CURRENCY.to_owned()
        }
    }
}

/// Whether `code` has the shape of an ISO 4217 code: three ASCII capitals.
fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

export_billing!(Standard);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_capitals() {
        assert!(is_currency_code("USD"));
        for bad in ["usd", "EURO", "EU", "", "E1R", "ÉUR"] {
            assert!(!is_currency_code(bad), "{bad}");
        }
    }
}
