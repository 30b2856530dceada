//! The "Webhook" section of an app's page: set or remove the endpoint, read
//! and rotate the signing secret, and see the last deliveries. The forms go
//! through the same functions as the JSON API, so rules and audit match.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;

use super::apps::{Fields, after};
use crate::identity::Caller;
use crate::state::AppState;
use crate::webhooks::store::{self, DeliveryView};
use crate::webhooks_api::{remove, rotate, set};

/// Deliveries shown on the page.
const SHOWN: u32 = 20;

/// Routes of the webhook forms.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/apps/{id}/webhook", post(set_url))
        .route("/apps/{id}/webhook/delete", post(delete))
        .route("/apps/{id}/webhook/rotate-secret", post(rotate_secret))
}

/// What the section shows.
#[derive(Default)]
pub(super) struct WebhookSection {
    /// The endpoint and its secret, when one is set.
    pub(super) endpoint: Option<(String, String)>,
    /// The last deliveries, newest first.
    pub(super) deliveries: Vec<DeliveryRow>,
}

/// A delivery as a row.
pub(super) struct DeliveryRow {
    pub(super) event: String,
    pub(super) status: String,
    pub(super) badge: &'static str,
    pub(super) attempts: u32,
    pub(super) last: String,
    pub(super) next: String,
    pub(super) created: String,
}

impl DeliveryRow {
    fn new(d: DeliveryView) -> DeliveryRow {
        let badge = match d.status.as_str() {
            "delivered" => "badge-good",
            "failed" => "badge-bad",
            _ => "badge-warn",
        };
        let last = match (d.last_status, d.last_error) {
            (_, Some(error)) => error,
            (Some(status), None) => status.to_string(),
            (None, None) => "not tried yet".to_owned(),
        };
        DeliveryRow {
            event: d.event,
            status: d.status,
            badge,
            attempts: d.attempts,
            last,
            next: d.next_attempt_at.unwrap_or_else(|| "—".to_owned()),
            created: d
                .created_at
                .get(..19)
                .unwrap_or(&d.created_at)
                .replace('T', " "),
        }
    }
}

/// The section of an app the caller may act on (checked by the caller).
pub(super) fn section(
    conn: &rusqlite::Connection,
    app_id: i64,
) -> rusqlite::Result<WebhookSection> {
    Ok(WebhookSection {
        endpoint: store::get(conn, app_id)?.map(|w| (w.url, w.secret.expose().to_owned())),
        deliveries: store::deliveries(conn, app_id, SHOWN)?
            .into_iter()
            .map(DeliveryRow::new)
            .collect(),
    })
}

async fn set_url(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    fields: Fields,
) -> Response {
    let url = fields.get("url").map_or("", |v| v.trim()).to_owned();
    let result = set(&state, &caller, id, &url)
        .await
        .map(|w| (format!("Webhook events now go to {}.", w.url), None));
    after(&state, &caller, id, result).await
}

async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Response {
    let result = remove(&state, &caller, id).await.map(|()| {
        (
            "Removed the webhook: no more events are sent.".to_owned(),
            None,
        )
    });
    after(&state, &caller, id, result).await
}

async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    let result = rotate(&state, &caller, id).await.map(|_| {
        (
            "Made a new signing secret: the old one no longer verifies deliveries.".to_owned(),
            None,
        )
    });
    after(&state, &caller, id, result).await
}
