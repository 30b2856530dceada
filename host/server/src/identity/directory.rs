//! The account directory admins manage from `/admin/users`, `/admin/groups`
//! and `/admin/roles`: every account with its roles, groups and state, every
//! group with its members and the roles it grants them, every role with what
//! it permits and who holds it.
//!
//! Writes are checked here, in one transaction each: roles must exist, and no
//! change may leave the portal without an active admin account when it had one.

use std::collections::{BTreeMap, BTreeSet};

use portico_catalog::Database;
use rusqlite::{Connection, OptionalExtension, params};

use super::roles::{self, Roles};
use super::users;

/// Why a directory change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// No such account or group.
    #[error("{0}")]
    NotFound(String),
    /// The change is not allowed.
    #[error("{0}")]
    Refused(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// An account as the users page lists it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email address.
    pub email: String,
    /// `local`, `oidc` or `scim`.
    pub source: String,
    /// Whether the account may sign in.
    pub active: bool,
    /// Roles given to the account itself.
    pub roles: BTreeSet<String>,
    /// Roles it holds through its groups.
    pub group_roles: BTreeSet<String>,
    /// Its groups.
    pub groups: BTreeSet<String>,
}

/// A group as the groups page lists it.
#[derive(Debug, Clone)]
pub struct GroupRow {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its display name.
    pub display_name: String,
    /// Whether an identity provider manages it (SCIM).
    pub provisioned: bool,
    /// Member usernames.
    pub members: Vec<String>,
    /// Roles its members hold through it.
    pub roles: BTreeSet<String>,
}

/// A role as the roles page lists it.
#[derive(Debug, Clone)]
pub struct RoleRow {
    /// Its name.
    pub name: String,
    /// Built in, or from `[auth.roles]`.
    pub builtin: bool,
    /// What it permits.
    pub permissions: Vec<String>,
    /// Accounts holding it directly.
    pub users: usize,
    /// Groups granting it.
    pub groups: usize,
}

/// The roles a person can be given (every role but `anonymous`).
pub fn assignable(roles: &Roles) -> Vec<String> {
    roles
        .names()
        .filter(|r| *r != roles::ANONYMOUS)
        .map(str::to_owned)
        .collect()
}

/// Every account whose username, display name or email contains `text`.
pub fn users(db: &Database, text: &str) -> Result<Vec<UserRow>, rusqlite::Error> {
    let conn = db.conn();
    let pattern = format!("%{}%", like_escape(text.trim()));
    let mut stmt = conn.prepare_cached(
        "SELECT id, username, display_name, email, source, active FROM users
         WHERE username LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\'
            OR email LIKE ?1 ESCAPE '\\'
         ORDER BY username COLLATE NOCASE",
    )?;
    let mut rows: Vec<UserRow> = stmt
        .query_map([&pattern], |r| {
            Ok(UserRow {
                id: r.get(0)?,
                username: r.get(1)?,
                display_name: r.get(2)?,
                email: r.get(3)?,
                source: r.get(4)?,
                active: r.get(5)?,
                roles: BTreeSet::new(),
                group_roles: BTreeSet::new(),
                groups: BTreeSet::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let by_user = |sql: &str| -> Result<BTreeMap<i64, BTreeSet<String>>, rusqlite::Error> {
        let mut out: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        let mut stmt = conn.prepare_cached(sql)?;
        let pairs = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for pair in pairs {
            let (user, name) = pair?;
            out.entry(user).or_default().insert(name);
        }
        Ok(out)
    };
    let mut own = by_user("SELECT user_id, role FROM user_roles")?;
    let mut through_groups = by_user(
        "SELECT gm.user_id, gr.role FROM group_roles gr
         JOIN group_members gm ON gm.group_id = gr.group_id",
    )?;
    let mut groups = by_user(
        "SELECT gm.user_id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id",
    )?;
    for row in &mut rows {
        row.roles = own.remove(&row.id).unwrap_or_default();
        row.group_roles = through_groups.remove(&row.id).unwrap_or_default();
        row.groups = groups.remove(&row.id).unwrap_or_default();
    }
    Ok(rows)
}

/// Every group, with its members and roles.
pub fn groups(db: &Database) -> Result<Vec<GroupRow>, rusqlite::Error> {
    let conn = db.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, display_name, external_id IS NOT NULL FROM groups
         ORDER BY name COLLATE NOCASE",
    )?;
    let mut rows: Vec<GroupRow> = stmt
        .query_map([], |r| {
            Ok(GroupRow {
                id: r.get(0)?,
                name: r.get(1)?,
                display_name: r.get(2)?,
                provisioned: r.get(3)?,
                members: Vec::new(),
                roles: BTreeSet::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    for row in &mut rows {
        let mut members = conn.prepare_cached(
            "SELECT u.username FROM group_members gm JOIN users u ON u.id = gm.user_id
             WHERE gm.group_id = ?1 ORDER BY u.username COLLATE NOCASE",
        )?;
        row.members = members
            .query_map([row.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut granted =
            conn.prepare_cached("SELECT role FROM group_roles WHERE group_id = ?1")?;
        row.roles = granted
            .query_map([row.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(rows)
}

/// Every role, with what it permits and how many accounts and groups hold it.
pub fn roles(db: &Database, roles: &Roles) -> Result<Vec<RoleRow>, rusqlite::Error> {
    let conn = db.conn();
    let count = |sql: &str, role: &str| -> Result<usize, rusqlite::Error> {
        conn.prepare_cached(sql)?
            .query_row([role], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
    };
    roles
        .names()
        .map(|name| {
            Ok(RoleRow {
                name: name.to_owned(),
                builtin: roles::BUILTIN_ROLES.contains(&name),
                permissions: roles.of(name).into_iter().flatten().cloned().collect(),
                users: count("SELECT count(*) FROM user_roles WHERE role = ?1", name)?,
                groups: count("SELECT count(*) FROM group_roles WHERE role = ?1", name)?,
            })
        })
        .collect()
}

/// Gives an account exactly these roles; returns its username and the roles
/// it had before.
pub fn set_user_roles(
    db: &Database,
    roles: &Roles,
    user_id: i64,
    wanted: &BTreeSet<String>,
) -> Result<(String, BTreeSet<String>), DirectoryError> {
    check_roles(roles, wanted)?;
    users::sync_roles(db, roles)?;
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    let username = username(&tx, user_id)?;
    let before = names(
        &tx,
        "SELECT role FROM user_roles WHERE user_id = ?1",
        user_id,
    )?;
    let admins = active_admins(&tx)?;
    tx.execute("DELETE FROM user_roles WHERE user_id = ?1", [user_id])?;
    for role in wanted {
        tx.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)",
            params![user_id, role],
        )?;
    }
    keep_an_admin(&tx, admins)?;
    tx.commit()?;
    Ok((username, before))
}

/// Lets an account sign in again, or stops it: a deactivated account's
/// sessions end at once. Returns its username.
pub fn set_active(db: &Database, user_id: i64, active: bool) -> Result<String, DirectoryError> {
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    let username = username(&tx, user_id)?;
    let admins = active_admins(&tx)?;
    tx.execute(
        "UPDATE users SET active = ?2 WHERE id = ?1",
        params![user_id, active],
    )?;
    if !active {
        users::deprovision(&tx, user_id)?;
    }
    keep_an_admin(&tx, admins)?;
    tx.commit()?;
    Ok(username)
}

/// Makes a group grant exactly these roles to its members; returns its name
/// and the roles it granted before.
pub fn set_group_roles(
    db: &Database,
    roles: &Roles,
    group_id: i64,
    wanted: &BTreeSet<String>,
) -> Result<(String, BTreeSet<String>), DirectoryError> {
    check_roles(roles, wanted)?;
    users::sync_roles(db, roles)?;
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    let name: String = tx
        .query_row("SELECT name FROM groups WHERE id = ?1", [group_id], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| DirectoryError::NotFound(format!("no group with id {group_id}")))?;
    let before = names(
        &tx,
        "SELECT role FROM group_roles WHERE group_id = ?1",
        group_id,
    )?;
    let admins = active_admins(&tx)?;
    tx.execute("DELETE FROM group_roles WHERE group_id = ?1", [group_id])?;
    for role in wanted {
        tx.execute(
            "INSERT INTO group_roles (group_id, role) VALUES (?1, ?2)",
            params![group_id, role],
        )?;
    }
    keep_an_admin(&tx, admins)?;
    tx.commit()?;
    Ok((name, before))
}

fn check_roles(roles: &Roles, wanted: &BTreeSet<String>) -> Result<(), DirectoryError> {
    match wanted
        .iter()
        .find(|r| !roles.exists(r) || *r == roles::ANONYMOUS)
    {
        Some(role) => Err(DirectoryError::Refused(format!(
            "`{role}` is not a role that can be given"
        ))),
        None => Ok(()),
    }
}

fn username(conn: &Connection, user_id: i64) -> Result<String, DirectoryError> {
    conn.query_row("SELECT username FROM users WHERE id = ?1", [user_id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| DirectoryError::NotFound(format!("no account with id {user_id}")))
}

fn names(conn: &Connection, sql: &str, id: i64) -> Result<BTreeSet<String>, rusqlite::Error> {
    conn.prepare_cached(sql)?
        .query_map([id], |r| r.get(0))?
        .collect()
}

/// Active accounts holding `admin`, themselves or through a group.
fn active_admins(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row(
        "SELECT count(*) FROM users u WHERE u.active = 1 AND (
             EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id AND ur.role = 'admin')
             OR EXISTS (SELECT 1 FROM group_members gm JOIN group_roles gr ON gr.group_id = gm.group_id
                        WHERE gm.user_id = u.id AND gr.role = 'admin'))",
        [],
        |r| r.get(0),
    )
}

fn keep_an_admin(conn: &Connection, before: i64) -> Result<(), DirectoryError> {
    if before > 0 && active_admins(conn)? == 0 {
        return Err(DirectoryError::Refused(
            "that would leave no active admin account; make someone else an admin first".into(),
        ));
    }
    Ok(())
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthSettings;
    use crate::identity::sessions;
    use crate::identity::users::{NewUser, create_user};

    fn directory() -> (tempfile::TempDir, Database, Roles) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("portal.db")).unwrap();
        let roles = Roles::new(&AuthSettings::default());
        users::sync_roles(&db, &roles).unwrap();
        (dir, db, roles)
    }

    fn add(db: &Database, roles: &Roles, name: &str, role: &str) -> i64 {
        let user = NewUser {
            username: name.into(),
            password: "long enough password".into(),
            roles: vec![role.into()],
            ..NewUser::default()
        };
        create_user(db, roles, &user).unwrap()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn roles_change_and_the_last_admin_stays() {
        let (_dir, db, roles) = directory();
        let ada = add(&db, &roles, "ada", "admin");
        let bob = add(&db, &roles, "bob", "developer");
        let (name, before) =
            set_user_roles(&db, &roles, bob, &set(&["viewer", "partner"])).unwrap();
        assert_eq!((name.as_str(), before), ("bob", set(&["developer"])));
        let listed = users(&db, "BO").unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].roles, set(&["partner", "viewer"]));

        let refused = set_user_roles(&db, &roles, ada, &set(&["viewer"])).unwrap_err();
        assert!(refused.to_string().contains("no active admin"), "{refused}");
        assert!(set_active(&db, ada, false).is_err());
        assert_eq!(users(&db, "ada").unwrap()[0].roles, set(&["admin"]));

        assert!(set_user_roles(&db, &roles, bob, &set(&["anonymous"])).is_err());
        assert!(set_user_roles(&db, &roles, bob, &set(&["wizard"])).is_err());
        assert!(matches!(
            set_user_roles(&db, &roles, 999, &set(&[])),
            Err(DirectoryError::NotFound(_))
        ));
        // A search for `_` matches a literal underscore, not any character.
        assert!(users(&db, "_").unwrap().is_empty());
    }

    #[test]
    fn group_roles_reach_members_and_deactivation_ends_sessions() {
        let (_dir, db, roles) = directory();
        add(&db, &roles, "ada", "admin");
        let eve = add(&db, &roles, "eve", "partner");
        users::add_to_group(&db, eve, "acme").unwrap();
        let acme = groups(&db).unwrap()[0].id;
        set_group_roles(&db, &roles, acme, &set(&["developer"])).unwrap();
        let actor = users::actor(&db, &roles, eve).unwrap().unwrap();
        assert!(actor.roles.contains("developer") && actor.roles.contains("partner"));
        assert_eq!(
            users(&db, "eve").unwrap()[0].group_roles,
            set(&["developer"])
        );
        let row = super::roles(&db, &roles).unwrap();
        let developer = row.iter().find(|r| r.name == "developer").unwrap();
        assert_eq!((developer.users, developer.groups), (0, 1));

        let settings = AuthSettings::default();
        let (session, _) = sessions::create(&db, eve, &settings).unwrap();
        assert!(sessions::find(&db, &session, &settings).unwrap().is_some());
        set_active(&db, eve, false).unwrap();
        assert!(sessions::find(&db, &session, &settings).unwrap().is_none());
        assert!(users::actor(&db, &roles, eve).unwrap().is_none());
        set_active(&db, eve, true).unwrap();
        assert!(users::actor(&db, &roles, eve).unwrap().is_some());
    }
}
