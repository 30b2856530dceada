//! Local accounts: argon2id password hashes, users with their roles and
//! groups, and the `roles` table kept in step with the configuration.
//!
//! A sign-in for a name that does not exist still verifies a hash, so the
//! answer takes as long as for a wrong password.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use portico_catalog::Database;
use rusqlite::{OptionalExtension, params};

use super::roles::Roles;
use super::{Actor, ActorKind};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A bad username, password or role.
    #[error("{0}")]
    Invalid(String),
    /// The username is taken.
    #[error("user `{0}` exists already")]
    Exists(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// An account to create.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Letters, digits, `.`, `_`, `-` and `@`; 1 to 64 characters.
    pub username: String,
    /// The name shown; the username when empty.
    pub display_name: String,
    /// Email address (not verified).
    pub email: String,
    /// The password in clear; only its hash is stored.
    pub password: String,
    /// Role names.
    pub roles: Vec<String>,
}

/// A user as the profile page shows it.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email address.
    pub email: String,
    /// When the account was created.
    pub created_at: String,
    /// Where the account comes from (`local`).
    pub source: String,
}

/// Checks a username's form.
pub fn check_username(name: &str) -> Result<(), UserError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(UserError::Invalid(format!(
            "`{name}` is not a valid username: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"
        )))
    }
}

/// An argon2id hash (PHC string) with a fresh salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

/// Whether `password` matches the stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, verified when the username is unknown.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&super::random_hex(16)))
}

/// Creates an account with its roles.
pub fn create_user(db: &Database, roles: &Roles, user: &NewUser) -> Result<i64, UserError> {
    check_username(&user.username)?;
    if user.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if let Some(role) = user.roles.iter().find(|r| !roles.exists(r)) {
        let known: Vec<&str> = roles.names().collect();
        return Err(UserError::Invalid(format!(
            "unknown role `{role}` (known: {})",
            known.join(", ")
        )));
    }
    let hash = hash_password(&user.password);
    sync_roles(db, roles)?;
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
        [&user.username],
        |r| r.get(0),
    )?;
    if taken {
        return Err(UserError::Exists(user.username.clone()));
    }
    tx.execute(
        "INSERT INTO users (username, display_name, email, password_hash) VALUES (?1, ?2, ?3, ?4)",
        params![user.username, user.display_name, user.email, hash],
    )?;
    let id = tx.last_insert_rowid();
    for role in &user.roles {
        tx.execute(
            "INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)",
            params![id, role],
        )?;
    }
    tx.commit()?;
    Ok(id)
}

/// Writes every role and its permissions to the `roles` table, so the
/// database names the same roles the configuration does.
pub fn sync_roles(db: &Database, roles: &Roles) -> Result<(), rusqlite::Error> {
    let conn = db.conn();
    for name in roles.names() {
        let permissions: Vec<&String> = roles.of(name).into_iter().flatten().collect();
        let builtin = super::roles::BUILTIN_ROLES.contains(&name);
        conn.execute(
            "INSERT INTO roles (name, builtin, permissions) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET builtin = excluded.builtin, permissions = excluded.permissions",
            params![
                name,
                builtin,
                serde_json::to_string(&permissions).unwrap_or_default()
            ],
        )?;
    }
    Ok(())
}

/// Whether any account exists.
pub fn any(db: &Database) -> Result<bool, rusqlite::Error> {
    db.conn()
        .query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))
}

/// The user id for a username and password, if they match an active account.
pub fn authenticate(
    db: &Database,
    username: &str,
    password: &str,
) -> Result<Option<i64>, rusqlite::Error> {
    let found: Option<(i64, Option<String>, bool)> = db
        .conn()
        .query_row(
            "SELECT id, password_hash, active FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(match found {
        Some((id, Some(hash), true)) => verify_password(password, &hash).then_some(id),
        _ => {
            verify_password(password, decoy_hash());
            None
        }
    })
}

/// A user as an actor with their roles (their own and their groups') and groups.
pub fn actor(db: &Database, roles: &Roles, user_id: i64) -> Result<Option<Actor>, rusqlite::Error> {
    let conn = db.conn();
    let username: Option<String> = conn
        .query_row(
            "SELECT username FROM users WHERE id = ?1 AND active = 1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(username) = username else {
        return Ok(None);
    };
    let names = |sql: &str| -> Result<BTreeSet<String>, rusqlite::Error> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([user_id], |r| r.get(0))?;
        rows.collect()
    };
    let role_names = names(
        "SELECT role FROM user_roles WHERE user_id = ?1
         UNION SELECT gr.role FROM group_roles gr
           JOIN group_members gm ON gm.group_id = gr.group_id WHERE gm.user_id = ?1",
    )?;
    let groups = names(
        "SELECT g.name FROM groups g JOIN group_members gm ON gm.group_id = g.id WHERE gm.user_id = ?1",
    )?;
    Ok(Some(Actor {
        id: format!("user:{user_id}"),
        name: username,
        kind: ActorKind::Person,
        user_id: Some(user_id),
        permissions: roles.permissions(role_names.iter().map(String::as_str)),
        roles: role_names,
        groups,
    }))
}

/// The account behind a user id.
pub fn profile(db: &Database, user_id: i64) -> Result<Option<Profile>, rusqlite::Error> {
    db.conn()
        .query_row(
            "SELECT id, username, display_name, email, created_at, source FROM users WHERE id = ?1",
            [user_id],
            |r| {
                Ok(Profile {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    display_name: r.get(2)?,
                    email: r.get(3)?,
                    created_at: r.get(4)?,
                    source: r.get(5)?,
                })
            },
        )
        .optional()
}

/// The account of a person an identity provider vouched for, created at
/// their first sign-in (`source = 'oidc'`, linked by `external_id`, a taken
/// username gets a number) and brought in line with the provider's roles and
/// groups at every one. Someone the provider provisioned over SCIM signs in
/// to that account instead (matched once by username, then by subject), which
/// SCIM keeps managing. `None` when the account was deactivated here.
pub fn sign_in_external(
    db: &Database,
    roles: &Roles,
    person: &super::oidc::ExternalPerson,
) -> Result<Option<i64>, UserError> {
    if let Some(role) = person.roles.iter().find(|r| !roles.exists(r)) {
        return Err(UserError::Invalid(format!("unknown role `{role}`")));
    }
    sync_roles(db, roles)?;
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    let found: Option<(i64, bool, String)> = tx
        .query_row(
            "SELECT id, active, source FROM users
             WHERE (source = 'oidc' AND external_id = ?1) OR oidc_subject = ?1",
            [&person.external_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    // The first sign-in of someone the identity provider provisioned over
    // SCIM links to that account, by the username both name them with.
    let found = match found {
        Some(found) => Some(found),
        None => tx
            .query_row(
                "SELECT id, active, source FROM users
                 WHERE source = 'scim' AND oidc_subject IS NULL AND username = ?1",
                [&person.username],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?,
    };
    let id = match found {
        Some((_, false, _)) => return Ok(None),
        Some((id, true, source)) if source == "scim" => {
            // SCIM keeps managing the account's profile, groups and roles.
            tx.execute(
                "UPDATE users SET oidc_subject = ?2 WHERE id = ?1",
                params![id, person.external_id],
            )?;
            tx.commit()?;
            return Ok(Some(id));
        }
        Some((id, true, _)) => {
            tx.execute(
                "UPDATE users SET display_name = ?2, email = ?3 WHERE id = ?1",
                params![id, person.display_name, person.email],
            )?;
            id
        }
        None => {
            let base = if person.username.is_empty() {
                "user"
            } else {
                &person.username
            };
            let mut username = base.to_owned();
            for n in 2.. {
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
                    [&username],
                    |r| r.get(0),
                )?;
                if !taken {
                    break;
                }
                username = format!("{base}-{n}");
            }
            tx.execute(
                "INSERT INTO users (username, display_name, email, source, external_id)
                 VALUES (?1, ?2, ?3, 'oidc', ?4)",
                params![
                    username,
                    person.display_name,
                    person.email,
                    person.external_id
                ],
            )?;
            tx.last_insert_rowid()
        }
    };
    tx.execute("DELETE FROM user_roles WHERE user_id = ?1", [id])?;
    for role in &person.roles {
        tx.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)",
            params![id, role],
        )?;
    }
    tx.execute("DELETE FROM group_members WHERE user_id = ?1", [id])?;
    for group in &person.groups {
        join_group(&tx, id, group)?;
    }
    tx.commit()?;
    Ok(Some(id))
}

/// Takes from an account deactivated or deleted (by SCIM) everything it could
/// still use, inside the caller's transaction: its sessions end now and its API keys are revoked. Signing
/// in again is refused by [`authenticate`] and [`actor`], which need `active`.
pub fn deprovision(conn: &rusqlite::Connection, user_id: i64) -> Result<(), rusqlite::Error> {
    super::sessions::delete_for_user(conn, user_id)?;
    // Their keys stop here; caches forget them within `KEY_TTL`, and the key
    // sweeper deletes them from gateways.
    crate::apps::keys::revoke_all_of_owner(conn, user_id)?;
    Ok(())
}

/// Adds a user to a group, creating the group when it is new.
pub fn add_to_group(db: &Database, user_id: i64, group: &str) -> Result<(), rusqlite::Error> {
    join_group(&db.conn(), user_id, group)
}

fn join_group(
    conn: &rusqlite::Connection,
    user_id: i64,
    group: &str,
) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO groups (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        [group],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO group_members (group_id, user_id)
         SELECT id, ?2 FROM groups WHERE name = ?1",
        params![group, user_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthSettings;

    fn db() -> (Database, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Database::open(&dir.path().join("p.db")).unwrap(), dir)
    }

    #[test]
    fn passwords_are_stored_as_argon2id_and_only_the_right_one_signs_in() {
        let (db, _dir) = db();
        let roles = Roles::new(&AuthSettings::default());
        let user = NewUser {
            username: "ada".into(),
            password: "correct horse".into(),
            roles: vec!["viewer".into()],
            ..NewUser::default()
        };
        let id = create_user(&db, &roles, &user).unwrap();
        let hash: String = db
            .conn()
            .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
            .unwrap();
        assert!(hash.starts_with("$argon2id$") && !hash.contains("correct"));
        assert_eq!(authenticate(&db, "ada", "correct horse").unwrap(), Some(id));
        assert_eq!(authenticate(&db, "ADA", "correct horse").unwrap(), Some(id));
        assert_eq!(authenticate(&db, "ada", "wrong horse").unwrap(), None);
        assert_eq!(authenticate(&db, "bob", "correct horse").unwrap(), None);
        assert!(matches!(
            create_user(&db, &roles, &user),
            Err(UserError::Exists(_))
        ));
    }

    #[test]
    fn roles_come_from_the_user_and_their_groups() {
        let (db, _dir) = db();
        let roles = Roles::new(&AuthSettings::default());
        let id = create_user(
            &db,
            &roles,
            &NewUser {
                username: "grace".into(),
                password: "12345678".into(),
                roles: vec!["developer".into()],
                ..NewUser::default()
            },
        )
        .unwrap();
        add_to_group(&db, id, "payments-team").unwrap();
        db.conn()
            .execute(
                "INSERT INTO group_roles (group_id, role) SELECT id, 'api-owner' FROM groups",
                [],
            )
            .unwrap();
        let actor = actor(&db, &roles, id).unwrap().unwrap();
        assert_eq!(actor.kind, ActorKind::Person);
        assert!(actor.roles.contains("api-owner") && actor.roles.contains("developer"));
        assert!(actor.groups.contains("payments-team"));
        assert!(actor.can(super::super::roles::CATALOG_WRITE));
    }

    #[test]
    fn bad_names_short_passwords_and_unknown_roles_are_refused() {
        let (db, _dir) = db();
        let roles = Roles::new(&AuthSettings::default());
        let mut user = NewUser {
            username: "a b".into(),
            password: "12345678".into(),
            ..NewUser::default()
        };
        assert!(matches!(
            create_user(&db, &roles, &user),
            Err(UserError::Invalid(_))
        ));
        user.username = "ab".into();
        user.password = "short".into();
        assert!(matches!(
            create_user(&db, &roles, &user),
            Err(UserError::Invalid(_))
        ));
        user.password = "long enough".into();
        user.roles = vec!["root".into()];
        let err = create_user(&db, &roles, &user).unwrap_err().to_string();
        assert!(err.contains("unknown role `root`"), "{err}");
    }

    #[test]
    fn single_sign_on_reaches_the_account_scim_provisioned_and_never_a_local_one() {
        let (db, _dir) = db();
        let roles = Roles::new(&AuthSettings::default());
        sync_roles(&db, &roles).unwrap();
        let conn = db.conn();
        conn.execute(
            "INSERT INTO users (username, source, scim_id) VALUES ('grace', 'scim', 'u-1')",
            [],
        )
        .unwrap();
        let grace: i64 = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (?1, 'viewer')",
            [grace],
        )
        .unwrap();
        drop(conn);
        add_to_group(&db, grace, "platform").unwrap();
        let person = |username: &str, sub: &str| super::super::oidc::ExternalPerson {
            external_id: format!("{sub}@https://idp.example"),
            username: username.into(),
            display_name: String::new(),
            email: String::new(),
            roles: vec!["admin".into()],
            groups: vec![],
        };

        let first = sign_in_external(&db, &roles, &person("Grace", "s-1")).unwrap();
        assert_eq!(first, Some(grace));
        // Linked by subject from now on; SCIM's roles and groups stay.
        let again = sign_in_external(&db, &roles, &person("renamed", "s-1")).unwrap();
        assert_eq!(again, Some(grace));
        let actor = actor(&db, &roles, grace).unwrap().unwrap();
        assert_eq!(actor.roles, BTreeSet::from(["viewer".to_owned()]));
        assert!(actor.groups.contains("platform"));
        // Another subject with that username gets an account of its own.
        let other = sign_in_external(&db, &roles, &person("grace", "s-2")).unwrap();
        assert_ne!(other, Some(grace));

        // A local account is never taken over by a provider's username.
        create_user(
            &db,
            &roles,
            &NewUser {
                username: "root".into(),
                password: "long enough password".into(),
                roles: vec!["admin".into()],
                ..NewUser::default()
            },
        )
        .unwrap();
        let root: i64 = db
            .conn()
            .query_row("SELECT id FROM users WHERE username = 'root'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let intruder = sign_in_external(&db, &roles, &person("root", "s-3")).unwrap();
        assert_ne!(intruder, Some(root));

        // A deactivated SCIM account is refused.
        db.conn()
            .execute("UPDATE users SET active = 0 WHERE id = ?1", [grace])
            .unwrap();
        assert_eq!(
            sign_in_external(&db, &roles, &person("grace", "s-1")).unwrap(),
            None
        );
    }
}
