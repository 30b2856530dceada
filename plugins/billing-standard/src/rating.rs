//! Rating: a plan and a period's billable calls in, invoice lines out, in
//! integer minor units. Pure and checked: every line's amount is exactly
//! quantity × unit price, and an amount that does not fit is an error, never
//! a wrapped number, because the host fails closed on anything inconsistent.

use core::fmt;

use portico_plugin_sdk::billing::UsageLine;

use crate::plans::{Plan, PlanTier};

/// An invoice line before a currency is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) description: String,
    pub(crate) quantity: u64,
    pub(crate) unit_price: i64,
    pub(crate) amount: i64,
}

/// Why usage cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RatingError {
    /// A count or an amount does not fit its integer type.
    Overflow(String),
    /// Calls beyond the last tier's bound, which the plan does not sell.
    Unpriced { calls: u64, bound: u64 },
}

impl fmt::Display for RatingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RatingError::Overflow(what) => write!(f, "{what} overflows"),
            RatingError::Unpriced { calls, bound } => write!(
                f,
                "{} calls exceed the plan's last tier, which ends at {}",
                grouped(*calls),
                grouped(*bound)
            ),
        }
    }
}

/// The calls billed: successful ones only; errors are free.
pub(crate) fn billable_calls(usage: &[UsageLine]) -> Result<u64, RatingError> {
    usage.iter().try_fold(0_u64, |sum, line| {
        sum.checked_add(line.calls)
            .ok_or_else(|| RatingError::Overflow("the sum of the usage's calls".into()))
    })
}

/// Prices `calls` on `plan`: the base fee, the included calls, then one line
/// per tier the calls reach (preceded by the tier's flat fee, when it has one).
pub(crate) fn rate(plan: &Plan, calls: u64) -> Result<Vec<Line>, RatingError> {
    if let Some(bound) = plan.tiers.last().and_then(|tier| tier.up_to)
        && calls > bound
    {
        return Err(RatingError::Unpriced { calls, bound });
    }
    let mut lines = Vec::new();
    if let Some(fee) = plan.base_fee {
        lines.push(Line::priced("Base fee".into(), 1, fee)?);
    }
    if let Some(included) = &plan.included {
        // Without tiers nothing beyond the included calls is sold, so the
        // line counts every call: the invoice still shows the whole usage.
        let quantity = if plan.tiers.is_empty() {
            calls
        } else {
            calls.min(included.calls)
        };
        lines.push(Line::priced(included.label.into(), quantity, 0)?);
    }
    let mut floor = plan.included_calls();
    for tier in plan.tiers {
        if calls <= floor {
            break;
        }
        rate_tier(tier, floor, calls, &mut lines)?;
        floor = tier.up_to.unwrap_or(u64::MAX);
    }
    lines.iter().try_fold(0_i64, |total, line| {
        total
            .checked_add(line.amount)
            .ok_or_else(|| RatingError::Overflow("the invoice's total".into()))
    })?;
    Ok(lines)
}

/// The lines of one tier that `calls` reach beyond `floor`.
fn rate_tier(
    tier: &PlanTier,
    floor: u64,
    calls: u64,
    lines: &mut Vec<Line>,
) -> Result<(), RatingError> {
    let range = match tier.up_to {
        Some(bound) => format!("Calls {}–{}", grouped(floor + 1), grouped(bound)),
        None if floor == 0 => "Calls".to_owned(),
        None => format!("Calls over {}", grouped(floor)),
    };
    if let Some(fee) = tier.flat_fee {
        lines.push(Line::priced(format!("{range}: tier fee"), 1, fee)?);
    }
    let in_tier = calls
        .min(tier.up_to.unwrap_or(u64::MAX))
        .saturating_sub(floor);
    let units = in_tier / tier.unit_calls + u64::from(in_tier % tier.unit_calls != 0);
    let per = match tier.unit_calls.get() {
        1 => "per call".to_owned(),
        n => format!("per {}", grouped(n)),
    };
    lines.push(Line::priced(
        format!("{range} ({per})"),
        units,
        tier.unit_price,
    )?);
    Ok(())
}

impl Line {
    /// A line whose amount is `quantity × unit_price`, checked.
    fn priced(description: String, quantity: u64, unit_price: i64) -> Result<Line, RatingError> {
        let amount = i64::try_from(quantity)
            .ok()
            .and_then(|quantity| quantity.checked_mul(unit_price))
            .ok_or_else(|| RatingError::Overflow(format!("the amount of `{description}`")))?;
        Ok(Line {
            description,
            quantity,
            unit_price,
            amount,
        })
    }
}

/// `n` with thousands separators: `1,000,000`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use core::num::NonZeroU64;

    use super::*;
    use crate::plans::{FREE, Included, TIERED, USAGE};

    fn line(description: &str, quantity: u64, unit_price: i64) -> Line {
        Line {
            description: description.into(),
            quantity,
            unit_price,
            amount: i64::try_from(quantity).unwrap() * unit_price,
        }
    }

    fn total(lines: &[Line]) -> i64 {
        lines.iter().map(|l| l.amount).sum()
    }

    fn usage(calls: u64, errors: u64) -> UsageLine {
        UsageLine {
            api: "api:default/orders".into(),
            operation: None,
            calls,
            errors,
        }
    }

    #[test]
    fn tiered_bills_each_tier_in_whole_thousands() {
        let base = line("Base fee", 1, 4_900);
        let included = |n| line("Calls included in the Growth plan", n, 0);
        let first = |n| line("Calls 100,001–1,000,000 (per 1,000)", n, 40);
        let open = |n| line("Calls over 1,000,000 (per 1,000)", n, 25);
        assert_eq!(rate(&TIERED, 0).unwrap(), [base.clone(), included(0)]);
        assert_eq!(
            rate(&TIERED, 100_000).unwrap(),
            [base.clone(), included(100_000)]
        );
        assert_eq!(
            rate(&TIERED, 100_001).unwrap(),
            [base.clone(), included(100_000), first(1)]
        );
        let lines = rate(&TIERED, 2_500_000).unwrap();
        assert_eq!(lines, [base, included(100_000), first(900), open(1_500)]);
        assert_eq!(total(&lines), 78_400);
    }

    #[test]
    fn usage_rounds_a_started_thousand_up() {
        assert_eq!(rate(&USAGE, 0).unwrap(), []);
        assert_eq!(rate(&USAGE, 1).unwrap(), [line("Calls (per 1,000)", 1, 50)]);
        assert_eq!(rate(&USAGE, 2_001).unwrap()[0].amount, 150);
    }

    #[test]
    fn free_counts_every_call_at_zero() {
        assert_eq!(
            rate(&FREE, 12_345).unwrap(),
            [line("Calls included in the free tier", 12_345, 0)]
        );
    }

    static FEE_AND_CAP: Plan = Plan {
        id: "test",
        name: "Test",
        description: "",
        base_fee: None,
        included: Some(Included {
            calls: 10,
            label: "Included",
        }),
        tiers: &[PlanTier {
            up_to: Some(20),
            unit_calls: NonZeroU64::MIN,
            unit_price: i64::MAX / 8,
            flat_fee: Some(500),
        }],
        period_days: 30,
    };

    #[test]
    fn a_tier_fee_is_its_own_line_before_the_tier() {
        assert_eq!(
            rate(&FEE_AND_CAP, 11).unwrap(),
            [
                line("Included", 10, 0),
                line("Calls 11–20: tier fee", 1, 500),
                line("Calls 11–20 (per call)", 1, i64::MAX / 8),
            ]
        );
    }

    #[test]
    fn overflow_is_an_error_never_a_wrapped_amount() {
        let err = rate(&FEE_AND_CAP, 20).unwrap_err();
        assert_eq!(
            err,
            RatingError::Overflow("the amount of `Calls 11–20 (per call)`".into())
        );
        assert_eq!(
            billable_calls(&[usage(u64::MAX, 0), usage(1, 0)]).unwrap_err(),
            RatingError::Overflow("the sum of the usage's calls".into())
        );
    }

    #[test]
    fn a_total_that_does_not_fit_is_an_error() {
        static HUGE: Plan = Plan {
            id: "huge",
            name: "Huge",
            description: "",
            base_fee: Some(i64::MAX),
            included: None,
            tiers: &[PlanTier {
                up_to: None,
                unit_calls: NonZeroU64::MIN,
                unit_price: 1,
                flat_fee: None,
            }],
            period_days: 30,
        };
        assert_eq!(rate(&HUGE, 0).unwrap(), [line("Base fee", 1, i64::MAX)]);
        assert_eq!(
            rate(&HUGE, 1).unwrap_err(),
            RatingError::Overflow("the invoice's total".into())
        );
    }

    #[test]
    fn calls_beyond_a_closed_last_tier_are_refused() {
        assert_eq!(
            rate(&FEE_AND_CAP, 21).unwrap_err().to_string(),
            "21 calls exceed the plan's last tier, which ends at 20"
        );
    }

    #[test]
    fn errors_are_not_billed() {
        assert_eq!(billable_calls(&[usage(3, 100), usage(4, 0)]).unwrap(), 7);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(100_001), "100,001");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }
}
