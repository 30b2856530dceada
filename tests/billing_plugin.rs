//! The bundled `billing-standard` plugin through the real runtime: its three
//! plans, exact invoice lines for each (amounts computed by hand here), the
//! configured currency, and the errors that keep a period unbilled.

use portico::config::PluginSettings;
use portico_runtime::CallError;
use portico_runtime::worlds::{PluginError, billing};
use portico_tests::{AppSpec, TestApp, spawn_app};

use crate::hostile::toml_table;

const PLUGIN: &str = "billing-standard";

/// A line as (description, quantity, unit price, amount), minor units.
type Line = (&'static str, u64, i64, i64);

const BASE_FEE: Line = ("Base fee", 1, 4_900, 4_900);
const GROWTH_INCLUDED: &str = "Calls included in the Growth plan";
const GROWTH_FIRST_TIER: &str = "Calls 100,001–1,000,000 (per 1,000)";
const GROWTH_OPEN_TIER: &str = "Calls over 1,000,000 (per 1,000)";

async fn app(config: Option<&str>) -> TestApp {
    let settings = config
        .map(|config| {
            let settings = PluginSettings {
                config: toml_table(config),
                ..Default::default()
            };
            vec![(PLUGIN, settings)]
        })
        .unwrap_or_default();
    spawn_app(AppSpec {
        settings,
        ..Default::default()
    })
    .await
}

fn usage(calls: u64, errors: u64) -> billing::UsageLine {
    billing::UsageLine {
        api: "api:default/orders".into(),
        operation: Some("listOrders".into()),
        calls,
        errors,
    }
}

fn request(plan: &str, usage: Vec<billing::UsageLine>) -> billing::RatingRequest {
    billing::RatingRequest {
        plan_id: plan.into(),
        app_id: "app-1".into(),
        period_start: 1_700_000_000_000,
        period_end: 1_700_000_000_000 + 30 * 86_400_000,
        usage,
    }
}

/// Rates `usage` on `plan`, checks every line is exactly quantity × unit
/// price in `currency`, and returns the lines as tuples.
async fn rate(
    app: &TestApp,
    plan: &str,
    usage: Vec<billing::UsageLine>,
    currency: &str,
) -> Vec<(String, u64, i64, i64)> {
    let lines = app
        .plugin(PLUGIN)
        .rate(&request(plan, usage))
        .await
        .unwrap();
    lines
        .into_iter()
        .map(|line| {
            assert_eq!(line.unit_price.currency, currency, "{}", line.description);
            assert_eq!(line.amount.currency, currency, "{}", line.description);
            let quantity = i64::try_from(line.quantity).unwrap();
            assert_eq!(
                Some(line.amount.minor_units),
                quantity.checked_mul(line.unit_price.minor_units),
                "{}: amount is quantity × unit price",
                line.description
            );
            (
                line.description,
                line.quantity,
                line.unit_price.minor_units,
                line.amount.minor_units,
            )
        })
        .collect()
}

fn owned(lines: &[Line]) -> Vec<(String, u64, i64, i64)> {
    lines
        .iter()
        .map(|&(d, q, u, a)| (d.to_owned(), q, u, a))
        .collect()
}

fn total(lines: &[(String, u64, i64, i64)]) -> i64 {
    lines.iter().map(|line| line.3).sum()
}

async fn plugin_error(app: &TestApp, request: &billing::RatingRequest) -> PluginError {
    match app.plugin(PLUGIN).rate(request).await {
        Err(CallError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[tokio::test]
async fn plans_are_free_tiered_and_usage_with_their_tiers_in_eur() {
    let app = app(None).await;
    let plans = app.plugin(PLUGIN).billing_plans().await.unwrap();
    let ids: Vec<_> = plans.iter().map(|plan| plan.id.as_str()).collect();
    assert_eq!(ids, ["free", "tiered", "usage"]);
    let summary: Vec<_> = plans
        .iter()
        .map(|plan| {
            let tiers: Vec<_> = plan
                .tiers
                .iter()
                .map(|t| {
                    assert_eq!(t.unit_price.currency, "EUR");
                    assert!(t.flat_fee.is_none());
                    (t.up_to, t.unit_calls, t.unit_price.minor_units)
                })
                .collect();
            (
                plan.base_fee.as_ref().map(|fee| fee.minor_units),
                plan.included_calls,
                tiers,
                plan.period_days,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (None, 10_000, vec![], 30),
            (
                Some(4_900),
                100_000,
                vec![(Some(1_000_000), 1_000, 40), (None, 1_000, 25)],
                30
            ),
            (None, 0, vec![(None, 1_000, 50)], 30),
        ]
    );
    assert_eq!(plans[0].name, "Free tier");
    assert_eq!(plans[1].name, "Growth");
    assert_eq!(plans[2].name, "Pay as you go");
    assert_eq!(plans[1].base_fee.as_ref().unwrap().currency, "EUR");
}

#[tokio::test]
async fn tiered_bills_base_fee_included_calls_and_each_tier_in_whole_thousands() {
    let app = app(None).await;
    let cases: [(u64, Vec<Line>, i64); 6] = [
        (0, vec![BASE_FEE, (GROWTH_INCLUDED, 0, 0, 0)], 4_900),
        (
            10_000,
            vec![BASE_FEE, (GROWTH_INCLUDED, 10_000, 0, 0)],
            4_900,
        ),
        (
            100_000,
            vec![BASE_FEE, (GROWTH_INCLUDED, 100_000, 0, 0)],
            4_900,
        ),
        // One call into the first tier starts a unit of 1,000: 40 cents.
        (
            100_001,
            vec![
                BASE_FEE,
                (GROWTH_INCLUDED, 100_000, 0, 0),
                (GROWTH_FIRST_TIER, 1, 40, 40),
            ],
            4_940,
        ),
        // 900,000 calls in the first tier: 900 units × 40.
        (
            1_000_000,
            vec![
                BASE_FEE,
                (GROWTH_INCLUDED, 100_000, 0, 0),
                (GROWTH_FIRST_TIER, 900, 40, 36_000),
            ],
            40_900,
        ),
        // 4,900 + 0 + 900 × 40 + 1,500 × 25 = 4,900 + 36,000 + 37,500.
        (
            2_500_000,
            vec![
                BASE_FEE,
                (GROWTH_INCLUDED, 100_000, 0, 0),
                (GROWTH_FIRST_TIER, 900, 40, 36_000),
                (GROWTH_OPEN_TIER, 1_500, 25, 37_500),
            ],
            78_400,
        ),
    ];
    for (calls, expected, expected_total) in cases {
        let lines = rate(&app, "tiered", vec![usage(calls, 0)], "EUR").await;
        assert_eq!(lines, owned(&expected), "{calls} calls");
        assert_eq!(total(&lines), expected_total, "{calls} calls");
    }
}

#[tokio::test]
async fn usage_bills_a_started_thousand_free_bills_nothing_and_errors_are_free() {
    let app = app(None).await;
    assert_eq!(
        rate(&app, "usage", vec![usage(1, 0)], "EUR").await,
        owned(&[("Calls (per 1,000)", 1, 50, 50)])
    );
    assert_eq!(rate(&app, "usage", vec![], "EUR").await, owned(&[]));

    let free = rate(&app, "free", vec![usage(7_000, 12), usage(3_000, 0)], "EUR").await;
    assert_eq!(
        free,
        owned(&[("Calls included in the free tier", 10_000, 0, 0)])
    );
    assert_eq!(total(&free), 0, "a €0 invoice is still an invoice");

    // 2,000 successful calls over two lines; a million errors cost nothing.
    let lines = rate(
        &app,
        "usage",
        vec![usage(1_500, 1_000_000), usage(500, 0)],
        "EUR",
    )
    .await;
    assert_eq!(lines, owned(&[("Calls (per 1,000)", 2, 50, 100)]));
    let growth = rate(&app, "tiered", vec![usage(100_000, 5_000_000)], "EUR").await;
    assert_eq!(total(&growth), 4_900, "errors do not reach a tier");
}

#[tokio::test]
async fn unknown_plans_backwards_periods_and_overflowing_usage_are_errors() {
    let app = app(None).await;
    let error = plugin_error(&app, &request("gold", vec![usage(1, 0)])).await;
    let PluginError::NotFound(message) = error else {
        panic!("unknown plan: {error:?}");
    };
    assert!(message.contains("`gold`"), "{message}");
    assert!(message.contains("free, tiered, usage"), "{message}");

    let mut backwards = request("tiered", vec![usage(1, 0)]);
    backwards.period_end = backwards.period_start;
    let error = plugin_error(&app, &backwards).await;
    assert!(matches!(error, PluginError::Internal(_)), "{error:?}");

    let overflowing = request("usage", vec![usage(u64::MAX, 0), usage(1, 0)]);
    let error = plugin_error(&app, &overflowing).await;
    let PluginError::Internal(message) = error else {
        panic!("overflow: {error:?}");
    };
    assert!(message.contains("overflows"), "{message}");
}

#[tokio::test]
async fn configured_currency_prices_every_line_and_a_malformed_one_falls_back_to_eur() {
    let usd = app(Some("currency = \"USD\"")).await;
    let plans = usd.plugin(PLUGIN).billing_plans().await.unwrap();
    assert!(
        plans
            .iter()
            .flat_map(|plan| &plan.tiers)
            .all(|tier| tier.unit_price.currency == "USD")
    );
    let lines = rate(&usd, "tiered", vec![usage(2_500_000, 0)], "USD").await;
    assert_eq!(
        total(&lines),
        78_400,
        "the same numbers in another currency"
    );

    let malformed = app(Some("currency = \"usd\"")).await;
    let lines = rate(&malformed, "usage", vec![usage(1, 0)], "EUR").await;
    assert_eq!(lines, owned(&[("Calls (per 1,000)", 1, 50, 50)]));
}
