//! The three plans this plugin offers, as data: one static per plan, in
//! integer minor units and without a currency (the operator's config picks
//! it), so prices read as a table and `rating` stays free of plan branches.

use core::num::NonZeroU64;

use portico_plugin_sdk::Money;
use portico_plugin_sdk::billing::{BillingPlan, Tier};

/// A plan's terms; amounts in minor units of the configured currency.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The stable id hosts store and send back in `rate` (a contract).
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) base_fee: Option<i64>,
    pub(crate) included: Option<Included>,
    /// Bounds rise from tier to tier; the last is open unless calls beyond it are not sold.
    pub(crate) tiers: &'static [PlanTier],
    pub(crate) period_days: u32,
}

/// Calls a plan includes at no charge before its tiers apply.
#[derive(Debug)]
pub(crate) struct Included {
    pub(crate) calls: u64,
    /// What the invoice line calls them.
    pub(crate) label: &'static str,
}

/// A price tier: the calls above the previous bound (or the included calls)
/// up to `up_to`, priced per `unit_calls` calls.
#[derive(Debug)]
pub(crate) struct PlanTier {
    /// Upper bound in calls of the whole period, inclusive; `None` when open.
    pub(crate) up_to: Option<u64>,
    pub(crate) unit_calls: NonZeroU64,
    pub(crate) unit_price: i64,
    pub(crate) flat_fee: Option<i64>,
}

/// A unit of `calls` calls; the `expect` runs at compile time.
const fn per(calls: u64) -> NonZeroU64 {
    NonZeroU64::new(calls).expect("a unit holds at least one call")
}

/// `free`: 10,000 calls a period; the product plan's quota caps it, so nothing beyond is billed.
pub(crate) static FREE: Plan = Plan {
    id: "free",
    name: "Free tier",
    description: "10,000 calls included every 30 days, free of charge; the product plan's quota caps usage.",
    base_fee: None,
    included: Some(Included {
        calls: 10_000,
        label: "Calls included in the free tier",
    }),
    tiers: &[],
    period_days: 30,
};

/// `tiered`: a base fee with calls included, then cheaper per call as usage grows.
pub(crate) static TIERED: Plan = Plan {
    id: "tiered",
    name: "Growth",
    description: "49.00 every 30 days with 100,000 calls included, then 0.40 per 1,000 calls up to 1,000,000 calls and 0.25 per 1,000 calls beyond.",
    base_fee: Some(4_900),
    included: Some(Included {
        calls: 100_000,
        label: "Calls included in the Growth plan",
    }),
    tiers: &[
        PlanTier {
            up_to: Some(1_000_000),
            unit_calls: per(1_000),
            unit_price: 40,
            flat_fee: None,
        },
        PlanTier {
            up_to: None,
            unit_calls: per(1_000),
            unit_price: 25,
            flat_fee: None,
        },
    ],
    period_days: 30,
};

/// `usage`: no fee, every call billed.
pub(crate) static USAGE: Plan = Plan {
    id: "usage",
    name: "Pay as you go",
    description: "No base fee and nothing included: 0.50 per 1,000 calls, billed per started 1,000.",
    base_fee: None,
    included: None,
    tiers: &[PlanTier {
        up_to: None,
        unit_calls: per(1_000),
        unit_price: 50,
        flat_fee: None,
    }],
    period_days: 30,
};

/// Every plan, in the order `plans` lists them.
pub(crate) static PLANS: [&Plan; 3] = [&FREE, &TIERED, &USAGE];

/// The plan with this id.
pub(crate) fn find(id: &str) -> Option<&'static Plan> {
    PLANS.iter().copied().find(|plan| plan.id == id)
}

impl Plan {
    /// How many calls come before the first tier.
    pub(crate) fn included_calls(&self) -> u64 {
        self.included.as_ref().map_or(0, |included| included.calls)
    }

    /// The plan as the host's `billing-plan`, priced in `currency`.
    pub(crate) fn to_wit(&self, currency: &str) -> BillingPlan {
        let money = |minor_units| Money::new(minor_units, currency);
        BillingPlan {
            id: self.id.into(),
            name: self.name.into(),
            description: self.description.into(),
            base_fee: self.base_fee.map(money),
            tiers: self
                .tiers
                .iter()
                .map(|tier| Tier {
                    up_to: tier.up_to,
                    unit_calls: tier.unit_calls.get(),
                    unit_price: money(tier.unit_price),
                    flat_fee: tier.flat_fee.map(money),
                })
                .collect(),
            included_calls: self.included_calls(),
            period_days: self.period_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_found() {
        for plan in PLANS {
            assert!(core::ptr::eq(find(plan.id).unwrap(), plan), "{}", plan.id);
        }
        assert!(find("gold").is_none());
    }

    #[test]
    fn tier_bounds_rise_above_the_included_calls_and_only_the_last_is_open() {
        for plan in PLANS {
            let mut floor = plan.included_calls();
            for (i, tier) in plan.tiers.iter().enumerate() {
                match tier.up_to {
                    Some(bound) => {
                        assert!(bound > floor, "{}: tier {i}", plan.id);
                        floor = bound;
                    }
                    None => assert_eq!(i + 1, plan.tiers.len(), "{}: tier {i}", plan.id),
                }
            }
        }
    }

    #[test]
    fn the_wit_plan_carries_the_currency_everywhere() {
        let plan = TIERED.to_wit("USD");
        assert_eq!(plan.base_fee.unwrap().currency, "USD");
        assert!(plan.tiers.iter().all(|t| t.unit_price.currency == "USD"));
        assert_eq!(plan.tiers[0].unit_calls, 1_000);
    }
}
