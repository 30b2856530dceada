//! Whose usage a caller may read: a developer their own apps' calls, an API
//! owner every call to the APIs of the products they own, an administrator
//! every call. The API and the dashboards ask here, so both see alike.

use rusqlite::{Connection, params};

use super::query::Scope;
use crate::apps::AppsError;
use crate::identity::Actor;
use crate::identity::roles::ADMIN;

/// The view asked for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The caller's own apps.
    Mine,
    /// The APIs of the products the caller owns, every consumer's calls.
    Owned,
    /// Every call (administrators).
    All,
}

impl View {
    /// The view when none is asked for: a person's own apps; the admin
    /// token, which holds no apps, sees everything.
    pub fn default_for(actor: &Actor) -> View {
        if actor.user_id.is_none() && is_admin(actor) {
            View::All
        } else {
            View::Mine
        }
    }
}

/// Whether the actor administers the portal.
pub fn is_admin(actor: &Actor) -> bool {
    actor.roles.contains(ADMIN)
}

/// The scope of `view` for `actor`, or why they may not have it.
pub fn resolve(conn: &Connection, actor: &Actor, view: View) -> Result<Scope, AppsError> {
    match view {
        View::All if is_admin(actor) => Ok(Scope::All),
        View::All => Err(AppsError::Forbidden(
            "only administrators see every app's usage".into(),
        )),
        View::Owned => Ok(Scope::Apis(match actor.user_id {
            Some(user) => owned_apis(conn, user)?,
            None => Vec::new(),
        })),
        View::Mine => {
            let user = actor.user_id.ok_or_else(|| {
                AppsError::Forbidden(
                    "usage belongs to apps, and apps to accounts: sign in as a person".into(),
                )
            })?;
            Ok(Scope::Apps(app_ids(conn, user)?))
        }
    }
}

/// The ids of a user's apps.
pub fn app_ids(conn: &Connection, user: i64) -> rusqlite::Result<Vec<i64>> {
    let mut statement =
        conn.prepare_cached("SELECT id FROM apps WHERE owner_id = ?1 ORDER BY id")?;
    let ids = statement.query_map([user], |r| r.get(0))?;
    ids.collect()
}

/// The APIs (`api:namespace/name`) of the products a user owns.
pub fn owned_apis(conn: &Connection, user: i64) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT a.api_ref FROM product_apis a JOIN products p ON p.id = a.product_id
         WHERE p.owner_id = ?1 ORDER BY a.api_ref",
    )?;
    let refs = statement.query_map(params![user], |r| r.get(0))?;
    refs.collect()
}
