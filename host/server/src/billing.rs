//! Billing: a product plan may name a billing plan of a billing plugin
//! (`billing-standard/tiered`). When one of an app's billing periods ends,
//! its usage of the product's APIs (from the day roll-ups) is priced by the
//! plugin's `rate`, and the invoice is stored per app and period.
//!
//! Billing fails closed: a plugin that fails, or returns lines whose amounts
//! are not quantity × unit price in one currency, leaves the period unbilled
//! with the reason (a `failed` invoice, tried again each round); a wrong
//! amount is never issued. Periods start on the UTC day the subscription was
//! approved and last the billing plan's `period-days`.

use std::collections::HashMap;
use std::sync::Arc;

use portico_runtime::Plugin;
use portico_runtime::manifest::World;
use portico_runtime::worlds::Money;
use portico_runtime::worlds::billing::{BillingPlan, InvoiceLine, RatingRequest, UsageLine};
use rusqlite::{Connection, params};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::ApiError;
use crate::state::AppState;
use crate::usage::now_ms;

const DAY_MS: i64 = 86_400_000;
/// Periods invoiced per subscription per round, at most (a backlog catches up over rounds).
const PERIODS_PER_ROUND: usize = 36;

/// A plan's billing reference, `<plugin>/<plan id>`, split.
fn split(reference: &str) -> Option<(&str, &str)> {
    reference
        .split_once('/')
        .filter(|(plugin, plan)| !plugin.is_empty() && !plan.is_empty())
}

/// The billing plugin of that id, when one is installed and enabled.
fn plugin(state: &AppState, id: &str) -> Option<Arc<Plugin>> {
    state
        .plugins()
        .get(id)
        .filter(|p| p.world() == World::Billing)
}

/// Checks a plan's billing reference before it is stored: the plugin is an
/// installed billing plugin and offers that plan.
pub async fn check_reference(state: &AppState, reference: Option<&str>) -> Result<(), ApiError> {
    let Some(reference) = reference else {
        return Ok(());
    };
    let (plugin_id, plan_id) = split(reference).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`billing` must be `<billing plugin>/<plan id>`, e.g. `billing-standard/tiered`, not `{reference}`"
        ))
    })?;
    let installed: Vec<String> = state
        .plugins()
        .of_world(World::Billing)
        .iter()
        .map(|p| p.id().to_owned())
        .collect();
    let plugin = plugin(state, plugin_id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "no billing plugin `{plugin_id}` is installed (installed: {})",
            if installed.is_empty() {
                "none".into()
            } else {
                installed.join(", ")
            }
        ))
    })?;
    let plans = plugin.billing_plans().await.map_err(|e| {
        ApiError::BadRequest(format!(
            "billing plugin `{plugin_id}` cannot list its plans: {e}"
        ))
    })?;
    if plans.iter().any(|p| p.id == plan_id) {
        Ok(())
    } else {
        let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
        Err(ApiError::BadRequest(format!(
            "billing plugin `{plugin_id}` has no plan `{plan_id}` (its plans: {})",
            ids.join(", ")
        )))
    }
}

/// A subscription that is billed.
#[derive(Debug, Clone)]
struct Billed {
    subscription_id: i64,
    app_id: i64,
    app_name: String,
    owner_id: i64,
    product_id: i64,
    product: String,
    plan: String,
    billing: String,
    /// The start of its first period: the UTC day it was approved.
    anchor_ms: i64,
}

fn billed_subscriptions(conn: &Connection, app: Option<i64>) -> rusqlite::Result<Vec<Billed>> {
    let mut statement = conn.prepare_cached(
        "SELECT s.id, a.id, a.name, a.owner_id, p.id, p.name, pl.name, pl.billing,
                coalesce(s.decided_at, s.requested_at)
         FROM subscriptions s JOIN apps a ON a.id = s.app_id JOIN plans pl ON pl.id = s.plan_id
              JOIN products p ON p.id = s.product_id
         WHERE s.status = 'approved' AND pl.billing IS NOT NULL AND (?1 IS NULL OR a.id = ?1)
         ORDER BY s.id",
    )?;
    let rows = statement.query_map([app], |r| {
        let since: String = r.get(8)?;
        let at = chrono::DateTime::parse_from_rfc3339(&since).map_or(0, |t| t.timestamp_millis());
        Ok(Billed {
            subscription_id: r.get(0)?,
            app_id: r.get(1)?,
            app_name: r.get(2)?,
            owner_id: r.get(3)?,
            product_id: r.get(4)?,
            product: r.get(5)?,
            plan: r.get(6)?,
            billing: r.get(7)?,
            anchor_ms: at - at.rem_euclid(DAY_MS),
        })
    })?;
    rows.collect()
}

/// An app's usage of a product's APIs in a period, per API and operation.
fn usage_lines(
    conn: &Connection,
    billed: &Billed,
    start: i64,
    end: i64,
) -> rusqlite::Result<Vec<UsageLine>> {
    let mut statement = conn.prepare_cached(
        "SELECT u.api_ref, u.operation, sum(u.calls) - sum(u.errors), sum(u.errors)
         FROM usage_by_consumer u
         WHERE u.app_id = ?1 AND u.granularity = 'day' AND u.bucket_ms >= ?2 AND u.bucket_ms < ?3
           AND u.api_ref IN (SELECT api_ref FROM product_apis WHERE product_id = ?4)
         GROUP BY u.api_ref, u.operation ORDER BY u.api_ref, u.operation",
    )?;
    let rows = statement.query_map(params![billed.app_id, start, end, billed.product_id], |r| {
        let operation: String = r.get(1)?;
        Ok(UsageLine {
            api: r.get(0)?,
            operation: (!operation.is_empty()).then_some(operation),
            calls: r.get::<_, i64>(2)?.max(0) as u64,
            errors: r.get::<_, i64>(3)?.max(0) as u64,
        })
    })?;
    rows.collect()
}

/// A line as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Line {
    /// What it is for.
    pub description: String,
    /// How many units.
    pub quantity: u64,
    /// Price of one unit, in minor units of the invoice's currency.
    pub unit_price: i64,
    /// quantity × unit price, in minor units.
    pub amount: i64,
}

/// The currency a billing plan prices in: its base fee's, else its first tier's; none for a plan without a price.
fn plan_currency(plan: &BillingPlan) -> Option<&str> {
    plan.base_fee
        .as_ref()
        .or_else(|| plan.tiers.first().map(|t| &t.unit_price))
        .map(|m| m.currency.as_str())
}

/// Checks a plugin's lines: all in the plan's ISO 4217 currency, every
/// amount exactly quantity × unit price, a total that does not overflow.
/// Returns the currency, the total and the lines as stored (no lines: a
/// zero invoice).
pub fn check_lines(
    lines: &[InvoiceLine],
    currency: &str,
) -> Result<(String, i64, Vec<Line>), String> {
    let currency = currency.to_owned();
    let is_iso = |c: &str| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase());
    if !is_iso(&currency) {
        return Err(format!("`{currency}` is no ISO 4217 currency code"));
    }
    let mut total: i64 = 0;
    let mut stored = Vec::with_capacity(lines.len());
    for line in lines {
        let same = |m: &Money| m.currency == currency;
        if !same(&line.amount) || !same(&line.unit_price) {
            return Err(format!(
                "line `{}` is not in {currency}, the plan's currency",
                line.description
            ));
        }
        let quantity = i64::try_from(line.quantity)
            .map_err(|_| format!("line `{}`: quantity overflows", line.description))?;
        let expected = quantity
            .checked_mul(line.unit_price.minor_units)
            .ok_or_else(|| {
                format!(
                    "line `{}`: quantity × unit price overflows",
                    line.description
                )
            })?;
        if expected != line.amount.minor_units {
            return Err(format!(
                "line `{}`: amount {} is not quantity {} × unit price {}",
                line.description,
                line.amount.minor_units,
                line.quantity,
                line.unit_price.minor_units
            ));
        }
        total = total
            .checked_add(expected)
            .ok_or_else(|| "the invoice total overflows".to_owned())?;
        stored.push(Line {
            description: line.description.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price.minor_units,
            amount: expected,
        });
    }
    Ok((currency, total, stored))
}

/// A period priced: the lines and total, or why it could not be.
#[derive(Debug, Clone)]
pub struct Priced {
    /// The period's start (inclusive), in milliseconds since the epoch.
    pub start: i64,
    /// Its end (exclusive).
    pub end: i64,
    /// (currency, total, lines), or the reason it stays unbilled.
    pub outcome: Result<(String, i64, Vec<Line>), String>,
}

/// The billing plans of the plugins named, by reference; a plugin that
/// cannot list its plans is left out (its subscriptions fail to price).
async fn plan_table(state: &AppState, billed: &[Billed]) -> HashMap<String, BillingPlan> {
    let mut table = HashMap::new();
    let mut asked = std::collections::HashSet::new();
    for b in billed {
        let Some((plugin_id, _)) = split(&b.billing) else {
            continue;
        };
        if !asked.insert(plugin_id.to_owned()) {
            continue;
        }
        let Some(plugin) = plugin(state, plugin_id) else {
            continue;
        };
        match plugin.billing_plans().await {
            Ok(plans) => {
                for plan in plans {
                    table.insert(format!("{plugin_id}/{}", plan.id), plan);
                }
            }
            Err(error) => {
                tracing::warn!(plugin = plugin_id, %error, "a billing plugin cannot list its plans")
            }
        }
    }
    table
}

/// Prices one period of one subscription.
async fn price(
    state: &AppState,
    billed: &Billed,
    plan: Option<&BillingPlan>,
    start: i64,
    end: i64,
) -> Priced {
    let outcome = async {
        let (plugin_id, plan_id) = split(&billed.billing).ok_or("a malformed billing reference")?;
        let plugin = plugin(state, plugin_id).ok_or_else(|| {
            format!("billing plugin `{plugin_id}` is not installed or is disabled")
        })?;
        let plan =
            plan.ok_or_else(|| format!("billing plugin `{plugin_id}` offers no plan `{plan_id}`"))?;
        let db = state.db().clone();
        let for_usage = billed.clone();
        let usage =
            tokio::task::spawn_blocking(move || usage_lines(&db.conn(), &for_usage, start, end))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot read the period's usage: {e}"))?;
        let request = RatingRequest {
            plan_id: plan_id.to_owned(),
            app_id: billed.app_id.to_string(),
            period_start: start as u64,
            period_end: end as u64,
            usage,
        };
        let lines = plugin
            .rate(&request)
            .await
            .map_err(|e| format!("the billing plugin failed: {e}"))?;
        // A plan without a price (a free tier) prices in its lines' currency;
        // with no lines either, the zero invoice is in XXX, ISO 4217's "no currency".
        let currency = plan_currency(plan)
            .or_else(|| lines.first().map(|l| l.amount.currency.as_str()))
            .unwrap_or("XXX")
            .to_owned();
        check_lines(&lines, &currency)
            .map_err(|why| format!("the billing plugin's invoice was refused: {why}"))
    }
    .await;
    Priced {
        start,
        end,
        outcome,
    }
}

/// The periods of a subscription that ended by `now` and hold no issued invoice.
fn due_periods(
    conn: &Connection,
    billed: &Billed,
    period_ms: i64,
    now: i64,
) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut issued = conn.prepare_cached(
        "SELECT period_start FROM invoices WHERE subscription_id = ?1 AND status = 'issued'",
    )?;
    let issued: std::collections::HashSet<i64> = issued
        .query_map([billed.subscription_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut due = Vec::new();
    let mut start = billed.anchor_ms;
    while start + period_ms <= now && due.len() < PERIODS_PER_ROUND {
        if !issued.contains(&start) {
            due.push((start, start + period_ms));
        }
        start += period_ms;
    }
    Ok(due)
}

/// Issues the invoices of every billing period that ended, and tries the
/// failed ones again.
pub async fn issue_due(state: &AppState) {
    let db = state.db().clone();
    let billed =
        match tokio::task::spawn_blocking(move || billed_subscriptions(&db.conn(), None)).await {
            Ok(Ok(billed)) => billed,
            _ => {
                tracing::error!("cannot read the billed subscriptions");
                return;
            }
        };
    if billed.is_empty() {
        return;
    }
    let plans = plan_table(state, &billed).await;
    let now = now_ms();
    for b in &billed {
        let plan = plans.get(&b.billing);
        // A plan that cannot be read prices (and fails) one period a round.
        let period_ms = plan.map_or(30, |p| i64::from(p.period_days.max(1))) * DAY_MS;
        let db = state.db().clone();
        let for_periods = b.clone();
        let due = tokio::task::spawn_blocking(move || {
            due_periods(&db.conn(), &for_periods, period_ms, now)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
        for (start, end) in due {
            let priced = price(state, b, plan, start, end).await;
            if let Err(why) = &priced.outcome {
                tracing::warn!(app = b.app_id, subscription = b.subscription_id, error = %why, "a billing period stays unbilled");
            }
            let db = state.db().clone();
            let for_store = b.clone();
            let stored = tokio::task::spawn_blocking(move || {
                store(&db.conn(), &for_store, &priced, now_ms())
            })
            .await;
            if !matches!(stored, Ok(Ok(()))) {
                tracing::error!(subscription = b.subscription_id, "cannot store an invoice");
            }
        }
    }
}

/// Stores an invoice; an issued one is never replaced, a failed one is.
fn store(conn: &Connection, b: &Billed, priced: &Priced, now: i64) -> rusqlite::Result<()> {
    let (status, currency, total, lines, error) = match &priced.outcome {
        Ok((currency, total, lines)) => (
            "issued",
            Some(currency.as_str()),
            Some(*total),
            serde_json::to_string(lines).unwrap_or_else(|_| "[]".into()),
            None,
        ),
        Err(why) => ("failed", None, None, "[]".into(), Some(why.as_str())),
    };
    conn.execute(
        "INSERT INTO invoices (subscription_id, app_id, app_name, owner_id, product, plan, billing,
             period_start, period_end, status, currency, total_minor, lines, error, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (subscription_id, period_start) DO UPDATE SET
             status = excluded.status, currency = excluded.currency,
             total_minor = excluded.total_minor, lines = excluded.lines, error = excluded.error,
             created_at = excluded.created_at
         WHERE invoices.status = 'failed'",
        params![
            b.subscription_id,
            b.app_id,
            b.app_name,
            b.owner_id,
            b.product,
            b.plan,
            b.billing,
            priced.start,
            priced.end,
            status,
            currency,
            total,
            lines,
            error,
            now
        ],
    )?;
    Ok(())
}

/// The running total of an app's current periods: one per billed subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunningTotal {
    /// The app.
    pub app_id: i64,
    /// The app's name.
    pub app: String,
    /// The product.
    pub product: String,
    /// The product plan.
    pub plan: String,
    /// The billing plan, `<plugin>/<plan id>`.
    pub billing: String,
    /// The billing plan's name.
    pub billing_name: Option<String>,
    /// The current period's start (RFC 3339).
    pub period_start: String,
    /// Its end (RFC 3339, exclusive).
    pub period_end: String,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// The total so far, in minor units.
    pub total_minor: Option<i64>,
    /// The lines so far.
    pub lines: Vec<Line>,
    /// Why it cannot be priced now.
    pub error: Option<String>,
}

/// The running totals of the current periods of these apps' billed subscriptions.
pub async fn running_totals(state: &AppState, apps: &[i64]) -> Vec<RunningTotal> {
    let db = state.db().clone();
    let ids = apps.to_vec();
    let billed = tokio::task::spawn_blocking(move || -> rusqlite::Result<Vec<Billed>> {
        let conn = db.conn();
        let mut all = Vec::new();
        for id in ids {
            all.extend(billed_subscriptions(&conn, Some(id))?);
        }
        Ok(all)
    })
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default();
    let plans = plan_table(state, &billed).await;
    let now = now_ms();
    let mut totals = Vec::with_capacity(billed.len());
    for b in &billed {
        let plan = plans.get(&b.billing);
        let period_ms = plan.map_or(30, |p| i64::from(p.period_days.max(1))) * DAY_MS;
        let elapsed = (now - b.anchor_ms).max(0) / period_ms;
        let start = b.anchor_ms + elapsed * period_ms;
        let priced = price(state, b, plan, start, start + period_ms).await;
        let (currency, total_minor, lines, error) = match priced.outcome {
            Ok((currency, total, lines)) => (Some(currency), Some(total), lines, None),
            Err(why) => (None, None, Vec::new(), Some(why)),
        };
        totals.push(RunningTotal {
            app_id: b.app_id,
            app: b.app_name.clone(),
            product: b.product.clone(),
            plan: b.plan.clone(),
            billing: b.billing.clone(),
            billing_name: plan.map(|p| p.name.clone()),
            period_start: crate::usage_api::rfc3339(start),
            period_end: crate::usage_api::rfc3339(start + period_ms),
            currency,
            total_minor,
            lines,
            error,
        });
    }
    totals
}

/// An amount for people: `49.00 EUR` (two decimals, except for currencies without).
pub fn format_money(minor: i64, currency: &str) -> String {
    const NO_DECIMALS: &[&str] = &["JPY", "KRW", "VND", "CLP", "ISK", "HUF", "XAF", "XOF"];
    if NO_DECIMALS.contains(&currency) {
        return format!("{minor} {currency}");
    }
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, currency: &str) -> Money {
        Money {
            minor_units: minor,
            currency: currency.into(),
        }
    }

    fn line(quantity: u64, unit: i64, amount: i64) -> InvoiceLine {
        InvoiceLine {
            description: "Calls".into(),
            quantity,
            unit_price: money(unit, "EUR"),
            amount: money(amount, "EUR"),
        }
    }

    #[test]
    fn lines_are_checked_before_an_invoice_is_issued() {
        let (currency, total, lines) =
            check_lines(&[line(1, 4900, 4900), line(900, 40, 36_000)], "EUR").unwrap();
        assert_eq!((currency.as_str(), total, lines.len()), ("EUR", 40_900, 2));
        let wrong = check_lines(&[line(3, 40, 121)], "EUR").unwrap_err();
        assert!(wrong.contains("not quantity 3 × unit price 40"), "{wrong}");
        assert_eq!(check_lines(&[], "EUR").unwrap().1, 0);
        let mut mixed = line(1, 10, 10);
        mixed.amount.currency = "USD".into();
        let refused = check_lines(&[line(1, 10, 10), mixed], "EUR").unwrap_err();
        assert!(refused.contains("the plan's currency"), "{refused}");
        let overflow = check_lines(&[line(u64::MAX / 2, 40, 0)], "EUR").unwrap_err();
        assert!(overflow.contains("overflows"), "{overflow}");
        assert!(check_lines(&[], "eur").unwrap_err().contains("ISO 4217"));
    }

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(format_money(4900, "EUR"), "49.00 EUR");
        assert_eq!(format_money(-5, "USD"), "-0.05 USD");
        assert_eq!(format_money(1200, "JPY"), "1200 JPY");
    }
}
