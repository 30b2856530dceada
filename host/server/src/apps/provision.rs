//! Keys on gateways: when a key is created or rotated in, it is pushed
//! (portal-chosen value) to every configured gateway that serves an API of
//! the app's approved subscriptions and takes keys of the key's environment
//! (`[[gateways]] keys`); when it is revoked, it is deleted there too.
//! Each outcome is stored per (key, gateway) in `key_credentials`, so the
//! developer sees where the key works and why not. The key itself is only in
//! memory for the call: a subscription approved later reaches the gateways
//! with the next key or rotation, which the app page says. Keys that stop
//! working without a request to say so (a rotation's overlap ending, an
//! account deprovisioned) are deleted from their gateways by [`spawn_sweeper`].

use std::collections::BTreeMap;
use std::time::Duration;

use portico_catalog::EntityRef;
use portico_runtime::worlds::connector::{CredentialRequest, KeySource, RevokeMode};
use rusqlite::params;

use super::keys::{ApiKey, Environment, KeyView};
use crate::config::KeyProvisioning;
use crate::gateways::entities::{GATEWAY_ANNOTATION, GATEWAY_API_ID_ANNOTATION};
use crate::identity::now_secs;
use crate::state::AppState;

/// The owner of the app a key belongs to, as gateways are told.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    /// The owner's username.
    pub username: String,
    /// The owner's e-mail, when known.
    pub email: Option<String>,
}

/// Pushes a new key to the gateways its app's subscriptions reach; failures
/// are stored with the key, not returned: the key works through `verify` anyway.
pub async fn provision(state: &AppState, key: &KeyView, secret: &ApiKey, owner: &KeyOwner) {
    let targets = match targets(state, key.app_id, key.environment).await {
        Ok(targets) => targets,
        Err(error) => {
            tracing::error!(%error, key = key.id, "cannot tell which gateways serve a key's APIs");
            return;
        }
    };
    for (gateway, api_ids) in targets {
        let outcome = match state.gateways().get(&gateway) {
            None => Err(format!("the gateway `{gateway}` is no longer configured")),
            Some(configured) => match configured.instance(state.plugins()) {
                Err(why) => Err(why),
                Ok(instance) => {
                    let request = CredentialRequest {
                        app_id: key.app_id.to_string(),
                        owner_id: owner.username.clone(),
                        owner_email: owner.email.clone().filter(|e| !e.is_empty()),
                        display_name: key.name.clone(),
                        plan_ids: vec![],
                        api_ids,
                        key: KeySource::Portal(secret.expose().to_owned()),
                        expires_at: key.expires_at.map(|at| (at.max(0) as u64) * 1000),
                        labels: vec![
                            ("portico-app".into(), key.app_id.to_string()),
                            ("portico-key".into(), key.id.to_string()),
                        ],
                    };
                    instance
                        .provision_credential(&request)
                        .await
                        .map(|done| done.credential_ref)
                        .map_err(|e| e.to_string())
                }
            },
        };
        if let Err(why) = &outcome {
            tracing::warn!(key = key.id, %gateway, error = %why, "a key could not be provisioned");
        }
        let (reference, status, error) = match outcome {
            Ok(reference) => (Some(reference), "provisioned", None),
            Err(why) => (None, "failed", Some(why)),
        };
        store(state, key.id, &gateway, reference, status, error).await;
    }
}

/// Deletes revoked keys' credentials from the gateways they were provisioned on.
pub async fn revoke(state: &AppState, key_ids: &[i64]) {
    let db = state.db().clone();
    let ids = key_ids.to_vec();
    let credentials = tokio::task::spawn_blocking(
        move || -> Result<Vec<(i64, String, String)>, rusqlite::Error> {
            let conn = db.conn();
            let mut statement = conn.prepare_cached(
                "SELECT key_id, gateway, credential_ref FROM key_credentials
             WHERE key_id = ?1 AND status = 'provisioned' AND credential_ref IS NOT NULL",
            )?;
            let mut all = Vec::new();
            for id in ids {
                all.extend(
                    statement
                        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            Ok(all)
        },
    )
    .await;
    let credentials = match credentials {
        Ok(Ok(found)) => found,
        Ok(Err(error)) => return tracing::error!(%error, "cannot read keys' gateway credentials"),
        Err(error) => return tracing::error!(%error, "cannot read keys' gateway credentials"),
    };
    for (key_id, gateway, reference) in credentials {
        let outcome = match state.gateways().get(&gateway) {
            None => Err(format!("the gateway `{gateway}` is no longer configured")),
            Some(configured) => match configured.instance(state.plugins()) {
                Err(why) => Err(why),
                Ok(instance) => instance
                    .revoke_credential(&reference, RevokeMode::Delete)
                    .await
                    .map_err(|e| e.to_string()),
            },
        };
        match outcome {
            Ok(()) => store(state, key_id, &gateway, Some(reference), "revoked", None).await,
            Err(why) => {
                tracing::warn!(key = key_id, %gateway, error = %why, "a key could not be revoked on its gateway");
                // Still provisioned there: kept so that a retry knows what to delete.
                store(
                    state,
                    key_id,
                    &gateway,
                    Some(reference),
                    "provisioned",
                    Some(format!("revoking failed: {why}")),
                )
                .await;
            }
        }
    }
}

/// How often keys that stopped working are looked for on gateways.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Deletes from their gateways the credentials of keys that no longer work
/// (revoked, expired after a rotation's overlap, or deleted with their app
/// or account); at most 100 a round.
pub async fn sweep(state: &AppState) {
    let db = state.db().clone();
    let stopped = tokio::task::spawn_blocking(move || -> Result<Vec<i64>, rusqlite::Error> {
        db.conn()
            .prepare_cached(
                "SELECT DISTINCT c.key_id FROM key_credentials c LEFT JOIN api_keys k ON k.id = c.key_id
                 WHERE c.status = 'provisioned'
                   AND (k.id IS NULL OR k.revoked_at IS NOT NULL OR k.expires_at <= ?1)
                 LIMIT 100",
            )?
            .query_map([now_secs()], |r| r.get(0))?
            .collect()
    })
    .await;
    match stopped {
        Ok(Ok(ids)) if !ids.is_empty() => revoke(state, &ids).await,
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::error!(%error, "cannot look for stopped keys"),
        Err(error) => tracing::error!(%error, "cannot look for stopped keys"),
    }
}

/// Runs [`sweep`] every [`SWEEP_EVERY`] until `stop` fires; none when no
/// gateway takes keys.
pub fn spawn_sweeper(
    state: AppState,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Option<tokio::task::JoinHandle<()>> {
    let takes_keys = state
        .gateways()
        .all()
        .any(|g| g.settings.keys != KeyProvisioning::None);
    if !takes_keys {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticks.tick() => sweep(&state).await,
            }
        }
    }))
}

/// The gateways (by name) that take keys of `environment` and serve an API
/// of the app's approved subscriptions, each with those APIs' gateway ids.
async fn targets(
    state: &AppState,
    app_id: i64,
    environment: Environment,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let db = state.db().clone();
    let apis = tokio::task::spawn_blocking(move || -> Result<Vec<String>, rusqlite::Error> {
        db.conn()
            .prepare_cached(
                "SELECT DISTINCT pa.api_ref FROM subscriptions s
                 JOIN product_apis pa ON pa.product_id = s.product_id
                 WHERE s.app_id = ?1 AND s.status = 'approved' ORDER BY pa.api_ref",
            )?
            .query_map([app_id], |r| r.get(0))?
            .collect()
    })
    .await??;
    let wanted = match environment {
        Environment::Production => KeyProvisioning::Production,
        Environment::Sandbox => KeyProvisioning::Sandbox,
    };
    let catalog = state.catalog().clone();
    let entities = tokio::task::spawn_blocking(move || {
        apis.iter()
            .filter_map(|api| EntityRef::parse_full(api).ok())
            .map(|reference| catalog.entity(&reference))
            .collect::<Result<Vec<_>, _>>()
    })
    .await??;
    let mut targets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for stored in entities.into_iter().flatten() {
        let annotations = &stored.entity.metadata.annotations;
        let (Some(gateway), Some(api_id)) = (
            annotations.get(GATEWAY_ANNOTATION),
            annotations.get(GATEWAY_API_ID_ANNOTATION),
        ) else {
            continue;
        };
        let takes = state
            .gateways()
            .get(gateway)
            .is_some_and(|g| g.settings.keys == wanted);
        if takes {
            targets
                .entry(gateway.clone())
                .or_default()
                .push(api_id.clone());
        }
    }
    Ok(targets)
}

async fn store(
    state: &AppState,
    key_id: i64,
    gateway: &str,
    reference: Option<String>,
    status: &'static str,
    error: Option<String>,
) {
    let db = state.db().clone();
    let gateway = gateway.to_owned();
    let written = tokio::task::spawn_blocking(move || {
        db.conn().execute(
            "INSERT INTO key_credentials (key_id, gateway, credential_ref, status, error, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (key_id, gateway) DO UPDATE SET
                 credential_ref = coalesce(excluded.credential_ref, credential_ref),
                 status = excluded.status, error = excluded.error, updated_at = excluded.updated_at",
            params![key_id, gateway, reference, status, error, now_secs()],
        )
    })
    .await;
    if !matches!(written, Ok(Ok(_))) {
        tracing::error!(key = key_id, "cannot record a key's gateway credential");
    }
}
