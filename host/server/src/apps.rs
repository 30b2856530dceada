//! Self-serve access: API owners group APIs into products with plans; a
//! developer creates apps, subscribes them to a plan (approved at once or by
//! the owner) and creates API keys for them, shown once and stored hashed.
//! Gateways ask [`verify`] whether a key may call an API, which enforces
//! the plan's rate limit and quota and records a usage event.

pub mod keys;
pub mod products;
pub mod provision;
pub mod routes;
pub mod subscriptions;
pub mod verify;

use crate::identity::Caller;
use crate::identity::roles::ADMIN;
use crate::problem::ApiError;
use crate::state::AppState;

/// Why a change to products, apps, subscriptions or keys was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    /// Nothing of that id, or nothing the caller may see.
    #[error("{0}")]
    NotFound(String),
    /// The input is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The change clashes with what exists (a taken name, a decided subscription).
    #[error("{0}")]
    Conflict(String),
    /// The caller may see it but not change it.
    #[error("{0}")]
    Forbidden(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

impl From<AppsError> for ApiError {
    fn from(e: AppsError) -> ApiError {
        match e {
            AppsError::NotFound(why) => ApiError::NotFound(why),
            AppsError::Invalid(why) => ApiError::BadRequest(why),
            AppsError::Conflict(why) => ApiError::Conflict(why),
            AppsError::Forbidden(why) => ApiError::Forbidden(why),
            AppsError::Db(e) => ApiError::internal(e),
        }
    }
}

/// Runs `work` on the database off the async threads.
pub(crate) async fn with_db<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut rusqlite::Connection) -> Result<T, AppsError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = state.db().clone();
    tokio::task::spawn_blocking(move || work(&mut db.conn()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// The caller's account: apps belong to people, not to tokens.
pub(crate) fn account(caller: &Caller) -> Result<i64, ApiError> {
    caller.actor.user_id.ok_or_else(|| {
        ApiError::Forbidden(
            "apps belong to accounts: sign in as a person to hold apps and keys".into(),
        )
    })
}

/// Checks that the caller may act on an app: its owner, or an admin. Anyone
/// else is told it does not exist.
pub(crate) fn check_app_access(
    conn: &rusqlite::Connection,
    caller: &Caller,
    app_id: i64,
) -> Result<(), AppsError> {
    let owner = subscriptions::owner_of(conn, app_id)?;
    if Some(owner) == caller.actor.user_id || caller.actor.roles.contains(ADMIN) {
        Ok(())
    } else {
        Err(AppsError::NotFound(format!("no app {app_id}")))
    }
}

/// Whether a database error is a broken UNIQUE constraint.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Checks a machine name: 1 to 63 lower-case letters, digits and `-`, starting with a letter.
pub(crate) fn check_slug(what: &str, name: &str) -> Result<(), AppsError> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AppsError::Invalid(format!(
            "`{name}` is not a valid {what} name: use 1 to 63 lower-case letters, digits and `-`, starting with a letter"
        )))
    }
}

/// Checks a display text: not blank, at most `max` characters, no control characters.
pub(crate) fn check_text(what: &str, text: &str, max: usize) -> Result<(), AppsError> {
    if text.trim().is_empty() {
        return Err(AppsError::Invalid(format!("the {what} is empty")));
    }
    if text.chars().count() > max {
        return Err(AppsError::Invalid(format!(
            "the {what} is longer than {max} characters"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AppsError::Invalid(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_names_that_start_with_a_letter() {
        assert!(check_slug("product", "pet-store-2").is_ok());
        for bad in [
            "",
            "Pet",
            "2pets",
            "pet store",
            "pet_store",
            &"a".repeat(64),
        ] {
            assert!(check_slug("product", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_must_not_be_blank_long_or_hold_control_characters() {
        assert!(check_text("title", "Pet Store", 10).is_ok());
        assert!(check_text("title", "  ", 10).is_err());
        assert!(check_text("title", "Pet Store!!", 10).is_err());
        assert!(check_text("title", "a\u{7}b", 10).is_err());
    }
}
