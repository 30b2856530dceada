//! Invoices in the portal's API: `GET /api/v1/invoices` lists the invoices
//! a caller may see (their apps', their products', or every one for an
//! administrator) as JSON or CSV, and `GET /api/v1/invoices/current` the
//! running totals of the caller's apps' current billing periods.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::apps::{AppsError, account, with_db};
use crate::billing::{Line, RunningTotal};
use crate::identity::{Actor, Caller};
use crate::problem::{ApiError, Problem};
use crate::query::QueryParams;
use crate::state::AppState;
use crate::usage::scope::{self, View};
use crate::usage_api::rfc3339;

const PROBLEM: &str = "application/problem+json";
/// Invoices listed at most.
const MAX_INVOICES: i64 = 1000;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invoices))
        .routes(routes!(current))
}

/// The query of `GET /api/v1/invoices`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceParams {
    /// Whose invoices: `mine` (the caller's apps; the default for people),
    /// `owned` (the caller's products) or `all` (administrators; the default
    /// for the admin token).
    view: Option<View>,
    /// Only this app's.
    app: Option<i64>,
    /// `json` (the default) or `csv`; `Accept: text/csv` asks for CSV too.
    format: Option<Format>,
}

/// An answer's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON.
    Json,
    /// CSV, a row per invoice line.
    Csv,
}

/// An invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    /// Its id.
    id: i64,
    /// The app billed.
    app_id: i64,
    /// The app's name when billed.
    app: String,
    /// The product.
    product: String,
    /// The product plan.
    plan: String,
    /// The billing plan, `<plugin>/<plan id>`.
    billing: String,
    /// The period's start (RFC 3339).
    period_start: String,
    /// The period's end (RFC 3339, exclusive).
    period_end: String,
    /// `issued`, or `failed` (unbilled, with `error`; tried again).
    status: String,
    /// ISO 4217 currency.
    currency: Option<String>,
    /// The total in minor units.
    total_minor: Option<i64>,
    /// The lines.
    lines: Vec<Line>,
    /// Why the period is unbilled.
    error: Option<String>,
    /// When it was issued or last tried (RFC 3339).
    created_at: String,
}

/// `GET /api/v1/invoices`: invoices, newest period first.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "usage",
    params(InvoiceParams),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The invoices (JSON, or CSV with a row per line)",
            content((Vec<Invoice> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A malformed parameter", body = Problem, content_type = PROBLEM),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission, or `view=all` without being an administrator", body = Problem, content_type = PROBLEM)))]
async fn invoices(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<InvoiceParams>,
) -> Result<Response, ApiError> {
    let view = params
        .view
        .unwrap_or_else(|| View::default_for(&caller.actor));
    let actor = caller.actor.clone();
    let app = params.app;
    let invoices = with_db(&state, move |conn| read(conn, &actor, view, app)).await?;
    let wants_csv = params.format == Some(Format::Csv)
        || (params.format.is_none()
            && headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/csv")));
    if wants_csv {
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"invoices.csv\"",
                ),
            ],
            csv(&invoices),
        )
            .into_response())
    } else {
        Ok(Json(invoices).into_response())
    }
}

fn read(
    conn: &Connection,
    actor: &Actor,
    view: View,
    app: Option<i64>,
) -> Result<Vec<Invoice>, AppsError> {
    let mut filters = Vec::new();
    let mut values = Vec::new();
    match view {
        View::All if scope::is_admin(actor) => {}
        View::All => {
            return Err(AppsError::Forbidden(
                "only administrators see every app's invoices".into(),
            ));
        }
        View::Mine => {
            let user = actor.user_id.ok_or_else(|| {
                AppsError::Forbidden(
                    "invoices belong to apps, and apps to accounts: sign in as a person".into(),
                )
            })?;
            filters.push("owner_id = ?".to_owned());
            values.push(Value::Integer(user));
        }
        View::Owned => {
            filters.push("product IN (SELECT name FROM products WHERE owner_id = ?)".to_owned());
            values.push(Value::Integer(actor.user_id.unwrap_or(0)));
        }
    }
    if let Some(app) = app {
        filters.push("app_id = ?".into());
        values.push(Value::Integer(app));
    }
    let filter = if filters.is_empty() {
        "1".to_owned()
    } else {
        filters.join(" AND ")
    };
    let mut statement = conn.prepare(&format!(
        "SELECT id, app_id, app_name, product, plan, billing, period_start, period_end, status,
                currency, total_minor, lines, error, created_at
         FROM invoices WHERE {filter} ORDER BY period_start DESC, id DESC LIMIT {MAX_INVOICES}"
    ))?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), |r| {
        let lines: String = r.get(11)?;
        Ok(Invoice {
            id: r.get(0)?,
            app_id: r.get(1)?,
            app: r.get(2)?,
            product: r.get(3)?,
            plan: r.get(4)?,
            billing: r.get(5)?,
            period_start: rfc3339(r.get(6)?),
            period_end: rfc3339(r.get(7)?),
            status: r.get(8)?,
            currency: r.get(9)?,
            total_minor: r.get(10)?,
            lines: serde_json::from_str(&lines).unwrap_or_default(),
            error: r.get(12)?,
            created_at: rfc3339(r.get(13)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A row per invoice line (a failed invoice: one row with its error).
fn csv(invoices: &[Invoice]) -> String {
    let mut out = String::from(
        "invoice_id,app_id,app,product,plan,billing,period_start,period_end,status,currency,\
         description,quantity,unit_price_minor,amount_minor,invoice_total_minor,error\r\n",
    );
    for invoice in invoices {
        let head = [
            invoice.id.to_string(),
            invoice.app_id.to_string(),
            field(&invoice.app),
            field(&invoice.product),
            field(&invoice.plan),
            field(&invoice.billing),
            invoice.period_start.clone(),
            invoice.period_end.clone(),
            invoice.status.clone(),
            invoice.currency.clone().unwrap_or_default(),
        ]
        .join(",");
        let total = invoice
            .total_minor
            .map(|t| t.to_string())
            .unwrap_or_default();
        let error = field(invoice.error.as_deref().unwrap_or_default());
        if invoice.lines.is_empty() {
            out.push_str(&format!("{head},,,,,{total},{error}\r\n"));
        }
        for line in &invoice.lines {
            out.push_str(&format!(
                "{head},{},{},{},{},{total},{error}\r\n",
                field(&line.description),
                line.quantity,
                line.unit_price,
                line.amount
            ));
        }
    }
    out
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line
/// break; a leading `=`, `+`, `-` or `@` is defused for spreadsheets.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `GET /api/v1/invoices/current`: what the caller's apps' current billing
/// periods cost so far.
#[utoipa::path(get, path = "/api/v1/invoices/current", tag = "usage",
    security(("session" = [])),
    responses(
        (status = 200, description = "A running total per billed subscription", body = Vec<RunningTotal>),
        (status = 401, description = "Not signed in", body = Problem, content_type = PROBLEM),
        (status = 403, description = "No `apps.use` permission, or not a person", body = Problem, content_type = PROBLEM)))]
async fn current(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Vec<RunningTotal>>, ApiError> {
    let user = account(&caller)?;
    let apps = with_db(&state, move |conn| Ok(scope::app_ids(conn, user)?)).await?;
    Ok(Json(crate::billing::running_totals(&state, &apps).await))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
