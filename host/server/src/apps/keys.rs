//! API keys: `pt_test_…` for the sandbox and `pt_live_…` for production,
//! then 12 random base62 characters, `:` and 28 more (40 in all, 238 bits).
//! The colon makes every key a `keyId:keySecret` pair, the form gateways such
//! as Express Gateway require. Only the SHA-256 of a key is stored, with its
//! visible prefix (the tag and the 12 characters before the colon), by which
//! a key is found before its hash is compared in constant time. A key is
//! shown once, when it is created or rotated in.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{AppsError, check_text};
use crate::identity::now_secs;

/// The random characters after the tag.
const SECRET_CHARS: usize = 40;
/// The random characters kept in the visible prefix, before the colon.
const PREFIX_CHARS: usize = 12;
/// A key's length: the tag, the prefix's characters, the colon, the rest.
const KEY_LEN: usize = 8 + SECRET_CHARS + 1;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The longest overlap a rotation may grant the old key.
pub const MAX_OVERLAP_SECS: i64 = 30 * 86_400;
/// The most keys one app holds that are not revoked.
const MAX_LIVE_KEYS_PER_APP: i64 = 20;

/// Where a key works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Sandbox servers and the synthetic sandbox only.
    Sandbox,
    /// Production servers only.
    Production,
}

impl Environment {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Environment::Sandbox => "pt_test_",
            Environment::Production => "pt_live_",
        }
    }

    /// From a stored or asked-for name.
    pub fn parse(text: &str) -> Option<Environment> {
        match text {
            "sandbox" => Some(Environment::Sandbox),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }

    /// The class of a declared server by its name: sandbox-like names
    /// (`sandbox`, `test`, `staging`, `dev`, `mock`) are the sandbox; any other
    /// server counts as production, so a sandbox key never reaches one.
    pub fn of_server(name: &str) -> Environment {
        let name = name.to_ascii_lowercase();
        if ["sandbox", "test", "staging", "dev", "mock", "synthetic"]
            .iter()
            .any(|word| name.contains(word))
        {
            Environment::Sandbox
        } else {
            Environment::Production
        }
    }
}

/// A well-formed API key; its `Debug` shows the prefix only.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}…)", self.prefix())
    }
}

impl ApiKey {
    /// A new random key for `environment`.
    pub fn generate(environment: Environment) -> ApiKey {
        let mut key = String::with_capacity(KEY_LEN);
        key.push_str(environment.tag());
        let mut bytes = [0u8; 64];
        while key.len() < KEY_LEN {
            getrandom::fill(&mut bytes).expect("the operating system's random source");
            // 62 * 4 = 248: rejecting 248..=255 keeps every character equally likely.
            for b in bytes.iter().filter(|b| **b < 248) {
                if key.len() == 8 + PREFIX_CHARS {
                    key.push(':');
                }
                if key.len() == KEY_LEN {
                    break;
                }
                key.push(BASE62[(*b % 62) as usize] as char);
            }
        }
        ApiKey(key)
    }

    /// Whether a credential claims to be a portal key (by its tag), whether or
    /// not it is well formed: such credentials are checked, not passed on blindly.
    pub fn is_claimed_by(text: &str) -> bool {
        let text = text.trim();
        text.starts_with(Environment::Sandbox.tag())
            || text.starts_with(Environment::Production.tag())
    }

    /// Parses what a caller sent; the error says what is wrong, never the key.
    pub fn parse(text: &str) -> Result<ApiKey, &'static str> {
        let text = text.trim();
        let Some(rest) = text
            .strip_prefix(Environment::Sandbox.tag())
            .or_else(|| text.strip_prefix(Environment::Production.tag()))
        else {
            return Err("an API key starts with `pt_test_` or `pt_live_`");
        };
        let well_formed = rest.len() == SECRET_CHARS + 1
            && rest.bytes().enumerate().all(|(i, b)| {
                if i == PREFIX_CHARS {
                    b == b':'
                } else {
                    b.is_ascii_alphanumeric()
                }
            });
        if !well_formed {
            return Err(
                "an API key is `pt_test_` or `pt_live_`, 12 letters and digits, `:` and 28 more",
            );
        }
        Ok(ApiKey(text.to_owned()))
    }

    /// Where it works.
    pub fn environment(&self) -> Environment {
        if self.0.starts_with(Environment::Sandbox.tag()) {
            Environment::Sandbox
        } else {
            Environment::Production
        }
    }

    /// The visible prefix: the tag and the first 12 random characters.
    pub fn prefix(&self) -> &str {
        &self.0[..8 + PREFIX_CHARS]
    }

    /// SHA-256 of the whole key.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The key itself, to show once or hand to a gateway.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where a key stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// It works.
    Active,
    /// Its expiry passed.
    Expired,
    /// It was revoked.
    Revoked,
}

/// A key as its owner sees it: never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyView {
    /// Its id.
    pub id: i64,
    /// Its app's id.
    pub app_id: i64,
    /// Its name.
    pub name: String,
    /// Where it works.
    pub environment: Environment,
    /// Its visible start, to recognise it by.
    pub prefix: String,
    /// Its scopes; empty: every operation the app's plans allow.
    pub scopes: Vec<String>,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
    /// When it stops working, if it does.
    pub expires_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// The key that replaced it in a rotation.
    pub rotated_to: Option<i64>,
    /// Where it stands now.
    pub status: KeyStatus,
    /// Where it was provisioned on gateways.
    pub gateways: Vec<GatewayCredential>,
}

/// A key's credential on one gateway.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayCredential {
    /// The gateway's name.
    pub gateway: String,
    /// `provisioned`, `failed` or `revoked`.
    pub status: String,
    /// Why provisioning or revoking failed.
    pub error: Option<String>,
}

/// A key to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyDraft {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// `sandbox` or `production`.
    pub environment: Environment,
    /// Limits the key: `read` (safe methods only) and `api:namespace/name`
    /// (only those APIs); empty: every operation of the app's plans.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub scopes: Vec<String>,
    /// When it stops working (seconds since the epoch); none: never.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

impl KeyDraft {
    fn check(&self, now: i64) -> Result<Vec<String>, AppsError> {
        check_text("key name", self.name.trim(), 100)?;
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(AppsError::Invalid("the expiry is in the past".into()));
        }
        if self.scopes.len() > 50 {
            return Err(AppsError::Invalid("a key has at most 50 scopes".into()));
        }
        let mut scopes = Vec::new();
        for scope in &self.scopes {
            let scope = scope.trim();
            let ok = scope == "read"
                || scope.strip_prefix("api:").is_some_and(|rest| {
                    portico_catalog::EntityRef::parse(rest, Some("api"), "").is_ok()
                });
            if !ok {
                return Err(AppsError::Invalid(format!(
                    "scope `{scope}` is not `read` or `api:namespace/name`"
                )));
            }
            let scope = if scope == "read" {
                scope.to_owned()
            } else {
                portico_catalog::EntityRef::parse(&scope[4..], Some("api"), "")
                    .expect("checked above")
                    .key()
            };
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(scopes)
    }
}

/// Creates a key for an app: the view, and the key to show once.
pub fn create(
    conn: &Connection,
    app_id: i64,
    draft: &KeyDraft,
) -> Result<(KeyView, ApiKey), AppsError> {
    let now = now_secs();
    let scopes = draft.check(now)?;
    let live: i64 = conn.query_row(
        "SELECT count(*) FROM api_keys WHERE app_id = ?1 AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > ?2)",
        params![app_id, now],
        |r| r.get(0),
    )?;
    if live >= MAX_LIVE_KEYS_PER_APP {
        return Err(AppsError::Conflict(format!(
            "an app holds at most {MAX_LIVE_KEYS_PER_APP} working keys: revoke one first"
        )));
    }
    insert(
        conn,
        app_id,
        draft.name.trim(),
        draft.environment,
        &scopes,
        now,
        draft.expires_at,
    )
}

fn insert(
    conn: &Connection,
    app_id: i64,
    name: &str,
    environment: Environment,
    scopes: &[String],
    now: i64,
    expires_at: Option<i64>,
) -> Result<(KeyView, ApiKey), AppsError> {
    // A prefix is 71 random bits: a clash is all but impossible, but cheap to survive.
    for _ in 0..3 {
        let key = ApiKey::generate(environment);
        let inserted = conn.execute(
            "INSERT INTO api_keys (app_id, name, environment, prefix, hash, scopes, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                app_id,
                name,
                environment.as_str(),
                key.prefix(),
                key.hash().to_vec(),
                serde_json::to_string(scopes).expect("strings serialise"),
                now,
                expires_at
            ],
        );
        match inserted {
            Err(e) if super::is_unique_violation(&e) => continue,
            other => other?,
        };
        let view = get(conn, conn.last_insert_rowid())?
            .ok_or_else(|| AppsError::NotFound("the key vanished".into()))?;
        return Ok((view, key));
    }
    Err(AppsError::Conflict(
        "could not pick a unique key prefix".into(),
    ))
}

/// Replaces a key with a new one of the same name, environment, scopes and
/// lifetime; the old key keeps working for `overlap_secs` (0: it stops now).
pub fn rotate(
    conn: &mut Connection,
    key_id: i64,
    overlap_secs: i64,
) -> Result<(KeyView, ApiKey), AppsError> {
    if !(0..=MAX_OVERLAP_SECS).contains(&overlap_secs) {
        return Err(AppsError::Invalid(format!(
            "the overlap must be between 0 and {MAX_OVERLAP_SECS} seconds"
        )));
    }
    let now = now_secs();
    let tx = conn.transaction()?;
    let old = get(&tx, key_id)?.ok_or_else(|| not_found(key_id))?;
    if old.status != KeyStatus::Active || old.rotated_to.is_some() {
        return Err(AppsError::Conflict(format!(
            "key {key_id} is {} or rotated already: create a new key instead",
            status_word(old.status)
        )));
    }
    let lifetime = old.expires_at.map(|at| now + (at - old.created_at));
    let (new, key) = insert(
        &tx,
        old.app_id,
        &old.name,
        old.environment,
        &old.scopes,
        now,
        lifetime,
    )?;
    let end = now + overlap_secs;
    tx.execute(
        "UPDATE api_keys SET rotated_to = ?2,
             expires_at = CASE WHEN expires_at IS NULL OR expires_at > ?3 THEN ?3 ELSE expires_at END,
             revoked_at = CASE WHEN ?4 = 0 THEN ?3 ELSE revoked_at END
         WHERE id = ?1",
        params![key_id, new.id, end, overlap_secs],
    )?;
    tx.commit()?;
    Ok((new, key))
}

fn status_word(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Active => "active",
        KeyStatus::Expired => "expired",
        KeyStatus::Revoked => "revoked",
    }
}

/// Revokes a key at once; revoking a revoked key changes nothing.
pub fn revoke(conn: &Connection, key_id: i64) -> Result<KeyView, AppsError> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![key_id, now_secs()],
    )?;
    get(conn, key_id)?.ok_or_else(|| not_found(key_id))
}

/// Revokes every working key of a user's apps (deprovisioning); their ids.
pub fn revoke_all_of_owner(conn: &Connection, owner_id: i64) -> Result<Vec<i64>, rusqlite::Error> {
    let ids: Vec<i64> = conn
        .prepare(
            "SELECT k.id FROM api_keys k JOIN apps a ON a.id = k.app_id
             WHERE a.owner_id = ?1 AND k.revoked_at IS NULL",
        )?
        .query_map([owner_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let now = now_secs();
    for id in &ids {
        conn.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
    }
    Ok(ids)
}

fn not_found(id: i64) -> AppsError {
    AppsError::NotFound(format!("no key {id}"))
}

/// The app of a key, or not found.
pub fn app_of(conn: &Connection, key_id: i64) -> Result<i64, AppsError> {
    conn.query_row("SELECT app_id FROM api_keys WHERE id = ?1", [key_id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| not_found(key_id))
}

const COLUMNS: &str =
    "id, app_id, name, environment, prefix, scopes, created_at, expires_at, revoked_at, rotated_to";

fn row(r: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<KeyView> {
    let scopes: String = r.get(5)?;
    let expires_at: Option<i64> = r.get(7)?;
    let revoked_at: Option<i64> = r.get(8)?;
    let status = if revoked_at.is_some() {
        KeyStatus::Revoked
    } else if expires_at.is_some_and(|at| at <= now) {
        KeyStatus::Expired
    } else {
        KeyStatus::Active
    };
    Ok(KeyView {
        id: r.get(0)?,
        app_id: r.get(1)?,
        name: r.get(2)?,
        environment: Environment::parse(&r.get::<_, String>(3)?).unwrap_or(Environment::Production),
        prefix: r.get(4)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        created_at: r.get(6)?,
        expires_at,
        revoked_at,
        rotated_to: r.get(9)?,
        status,
        gateways: Vec::new(),
    })
}

/// One key.
pub fn get(conn: &Connection, key_id: i64) -> Result<Option<KeyView>, AppsError> {
    let now = now_secs();
    let key = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))?
        .query_row([key_id], |r| row(r, now))
        .optional()?;
    key.map(|mut k| {
        k.gateways = credentials(conn, k.id)?;
        Ok(k)
    })
    .transpose()
}

/// An app's keys, newest first.
pub fn list(conn: &Connection, app_id: i64) -> Result<Vec<KeyView>, AppsError> {
    let now = now_secs();
    let mut keys = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE app_id = ?1 ORDER BY id DESC"
        ))?
        .query_map([app_id], |r| row(r, now))?
        .collect::<Result<Vec<_>, _>>()?;
    for key in &mut keys {
        key.gateways = credentials(conn, key.id)?;
    }
    Ok(keys)
}

fn credentials(conn: &Connection, key_id: i64) -> Result<Vec<GatewayCredential>, AppsError> {
    Ok(conn
        .prepare_cached(
            "SELECT gateway, status, error FROM key_credentials WHERE key_id = ?1 ORDER BY gateway",
        )?
        .query_map([key_id], |r| {
            Ok(GatewayCredential {
                gateway: r.get(0)?,
                status: r.get(1)?,
                error: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_catalog::Database;

    #[test]
    fn keys_are_random_base62_with_a_tag_and_parse_back() {
        let key = ApiKey::generate(Environment::Sandbox);
        assert!(key.expose().starts_with("pt_test_"));
        assert_eq!(key.expose().len(), 49);
        assert_eq!(key.expose().find(':'), Some(20));
        assert_eq!(ApiKey::parse(key.expose()).unwrap(), key);
        assert_eq!(key.environment(), Environment::Sandbox);
        assert_eq!(key.prefix().len(), 20);
        assert_ne!(key, ApiKey::generate(Environment::Sandbox));
        let live = ApiKey::generate(Environment::Production);
        assert_eq!(live.environment(), Environment::Production);
        assert!(!format!("{live:?}").contains(&live.expose()[20..]));
        for bad in [
            "",
            "pt_test_short",
            "sk_live_012345678901:2345678901234567890123456789",
            &format!("{}!", &key.expose()[..48]),
            &key.expose().replace(':', "0"),
        ] {
            assert!(ApiKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_names_sort_into_sandbox_and_production() {
        for name in ["sandbox", "Test server", "staging", "dev", "synthetic"] {
            assert_eq!(Environment::of_server(name), Environment::Sandbox, "{name}");
        }
        for name in ["production", "prod", "eu", ""] {
            assert_eq!(
                Environment::of_server(name),
                Environment::Production,
                "{name}"
            );
        }
    }

    fn app(db: &Database) -> i64 {
        let conn = db.conn();
        conn.execute("INSERT INTO users (username) VALUES ('ada')", [])
            .unwrap();
        conn.execute("INSERT INTO apps (owner_id, name) VALUES (1, 'a')", [])
            .unwrap();
        conn.last_insert_rowid()
    }

    fn draft(scopes: &[&str], expires_at: Option<i64>) -> KeyDraft {
        KeyDraft {
            name: "ci".into(),
            environment: Environment::Production,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at,
        }
    }

    #[test]
    fn only_the_hash_and_prefix_are_stored_and_rotation_keeps_the_old_key_for_the_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("k.db")).unwrap();
        let app_id = app(&db);
        let mut conn = db.conn();
        let (view, key) = create(&conn, app_id, &draft(&["read", "api:petstore"], None)).unwrap();
        assert_eq!(view.scopes, ["read", "api:default/petstore"]);
        let stored: Vec<u8> = conn
            .query_row("SELECT hash FROM api_keys WHERE id = ?1", [view.id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stored, key.hash());
        let dump: String = conn
            .query_row(
                "SELECT group_concat(prefix || scopes || name) FROM api_keys",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!dump.contains(key.expose()));

        let (new, new_key) = rotate(&mut conn, view.id, 3600).unwrap();
        assert_ne!(new_key, key);
        assert_eq!(
            (new.name.as_str(), new.environment),
            ("ci", Environment::Production)
        );
        let old = get(&conn, view.id).unwrap().unwrap();
        assert_eq!(old.rotated_to, Some(new.id));
        assert_eq!(old.status, KeyStatus::Active);
        assert!(old.expires_at.unwrap() <= now_secs() + 3600);
        assert!(matches!(
            rotate(&mut conn, view.id, 0),
            Err(AppsError::Conflict(_))
        ));

        let (_, _) = rotate(&mut conn, new.id, 0).unwrap();
        assert_eq!(
            get(&conn, new.id).unwrap().unwrap().status,
            KeyStatus::Revoked
        );
        assert!(matches!(
            rotate(&mut conn, new.id, MAX_OVERLAP_SECS + 1),
            Err(AppsError::Invalid(_))
        ));

        assert_eq!(revoke(&conn, view.id).unwrap().status, KeyStatus::Revoked);
        assert_eq!(list(&conn, app_id).unwrap().len(), 3);
    }

    #[test]
    fn bad_drafts_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("k.db")).unwrap();
        let app_id = app(&db);
        let conn = db.conn();
        for (bad, why) in [
            (draft(&["admin"], None), "scope"),
            (draft(&[], Some(1)), "past"),
        ] {
            let error = create(&conn, app_id, &bad).unwrap_err().to_string();
            assert!(error.contains(why), "{error}");
        }
        for _ in 0..MAX_LIVE_KEYS_PER_APP {
            create(&conn, app_id, &draft(&[], None)).unwrap();
        }
        assert!(matches!(
            create(&conn, app_id, &draft(&[], None)),
            Err(AppsError::Conflict(_))
        ));
    }
}
