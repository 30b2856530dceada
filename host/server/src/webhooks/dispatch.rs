//! The dispatcher: a background task that turns new changelog entries into
//! deliveries, claims the deliveries that are due and sends each in its own
//! task (at most `[webhooks] max_concurrent` at once, so one slow receiver
//! holds one slot), signed, and records how it went. The secret and the
//! signature are never logged.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use url::Url;

use super::store::{self, Attempt, Due};
use super::{events, now_ms, policy, retry_delay};
use crate::config::WebhookSettings;
use crate::fetch::{FetchError, HttpClient};
use crate::state::AppState;

/// How long a claimed delivery is held for its attempt: past the delivery
/// timeout, so it is only claimed again after a crash.
const LEASE: Duration = Duration::from_secs(60);

/// The `user-agent` of deliveries.
const USER_AGENT: &str = concat!("Portico-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Starts the dispatcher; it stops when `stop` fires or is dropped.
pub fn spawn(state: AppState, stop: oneshot::Receiver<()>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let settings = state.config().webhooks.clone();
        let client = policy::client(settings.allow_insecure);
        let slots = Arc::new(Semaphore::new(settings.max_concurrent));
        tokio::pin!(stop);
        loop {
            let wait = match round(&state, &client, &slots, &settings).await {
                Ok(next_due) => next_due.map_or(settings.poll_interval(), |due| {
                    let until = Duration::from_millis(due.saturating_sub(now_ms()).max(0) as u64);
                    until.min(settings.poll_interval())
                }),
                Err(error) => {
                    tracing::error!(error = %error, "webhook dispatch failed");
                    settings.poll_interval()
                }
            };
            tokio::select! {
                _ = &mut stop => return,
                () = state.webhooks().woken() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// One pass: new events in, due deliveries out; returns when the next
/// pending delivery is due (unix ms), if one is.
async fn round(
    state: &AppState,
    client: &HttpClient,
    slots: &Arc<Semaphore>,
    settings: &WebhookSettings,
) -> anyhow::Result<Option<i64>> {
    let db = state.db().clone();
    let public_url = settings.public_url.clone();
    let free = slots.available_permits();
    let (due, next) = tokio::task::spawn_blocking(move || -> rusqlite::Result<_> {
        let mut conn = db.conn();
        while events::enqueue(&mut conn, public_url.as_deref(), now_ms())?.is_some() {}
        let now = now_ms();
        let due = if free > 0 {
            store::claim_due(&conn, now, now + LEASE.as_millis() as i64, free)?
        } else {
            Vec::new()
        };
        Ok((due, store::next_due_ms(&conn)?))
    })
    .await??;
    for delivery in due {
        let permit = slots.clone().acquire_owned().await?;
        tokio::spawn(deliver(
            state.clone(),
            client.clone(),
            settings.clone(),
            delivery,
            permit,
        ));
    }
    Ok(next)
}

/// Sends one delivery and records the attempt, then wakes the dispatcher
/// (a slot is free, and a retry may be due sooner than it planned).
async fn deliver(
    state: AppState,
    client: HttpClient,
    settings: WebhookSettings,
    due: Due,
    permit: OwnedSemaphorePermit,
) {
    let db = state.db().clone();
    let app_id = due.app_id;
    let webhook = tokio::task::spawn_blocking(move || store::get(&db.conn(), app_id)).await;
    let attempt = match webhook {
        Ok(Ok(Some(webhook))) => {
            let made = due.attempts + 1;
            match send(&client, &settings, &webhook, &due).await {
                Ok(status) => Attempt::Delivered { status },
                Err((status, error)) => Attempt::Failed {
                    status,
                    error,
                    retry_at_ms: (made < settings.max_attempts).then(|| {
                        let wait = retry_delay(
                            made,
                            settings.retry_base(),
                            settings.retry_cap(),
                            super::jitter(),
                        );
                        now_ms() + wait.as_millis() as i64
                    }),
                },
            }
        }
        Ok(Ok(None)) => Attempt::NoWebhook,
        Ok(Err(error)) => {
            tracing::error!(delivery = due.id, error = %error, "cannot read a webhook");
            return;
        }
        Err(error) => {
            tracing::error!(delivery = due.id, error = %error, "cannot read a webhook");
            return;
        }
    };
    let outcome = match &attempt {
        Attempt::Delivered { .. } => "delivered",
        Attempt::Failed {
            retry_at_ms: Some(_),
            ..
        } => "retry",
        Attempt::Failed { .. } | Attempt::NoWebhook => "failed",
    };
    tracing::info!(
        delivery = due.id,
        app = due.app_id,
        event = %due.event_type,
        attempt = due.attempts + 1,
        outcome,
        "webhook delivery"
    );
    metrics::counter!("portico_webhook_deliveries_total", "outcome" => outcome).increment(1);
    let db = state.db().clone();
    let id = due.id;
    let recorded =
        tokio::task::spawn_blocking(move || store::record(&db.conn(), id, &attempt)).await;
    if !matches!(recorded, Ok(Ok(()))) {
        tracing::error!(delivery = id, "cannot record a webhook delivery");
    }
    drop(permit);
    state.webhooks().wake();
}

/// POSTs the payload, signed; the status of a 2xx answer, or the status (if
/// any) and what went wrong.
async fn send(
    client: &HttpClient,
    settings: &WebhookSettings,
    webhook: &store::Webhook,
    due: &Due,
) -> Result<u16, (Option<u16>, String)> {
    // Checked again: the URL may predate a stricter configuration.
    let url: Url =
        policy::check_url(&webhook.url, settings.allow_insecure).map_err(|why| (None, why))?;
    let message_id = format!("{}_{}", due.event_id, due.id);
    let timestamp = now_ms() / 1000;
    let body = Bytes::from(due.payload.clone());
    let signature = webhook.secret.sign(&message_id, timestamp, &body);
    let mut headers = HeaderMap::new();
    let value = |text: &str| HeaderValue::from_str(text).map_err(|e| (None, e.to_string()));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    headers.insert("webhook-id", value(&message_id)?);
    headers.insert("webhook-timestamp", value(&timestamp.to_string())?);
    headers.insert("webhook-signature", value(&signature)?);
    match client.send(Method::POST, &url, headers, body).await {
        Ok(answer) if answer.status.is_success() => Ok(answer.status.as_u16()),
        Ok(answer) => Err((
            Some(answer.status.as_u16()),
            format!("the endpoint answered {}", answer.status),
        )),
        Err(error) => Err((None, describe(&error))),
    }
}

/// A failure in words for the app's owner.
fn describe(error: &FetchError) -> String {
    match error {
        FetchError::NotAllowed(_) => "refused: the endpoint is not a public https address \
                                      ([webhooks] allow_insecure is off)"
            .into(),
        FetchError::Timeout(after) => format!("no answer within {} s", after.as_secs()),
        other => other.to_string(),
    }
}
