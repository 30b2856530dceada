//! Sessions in the database: a 256-bit random id in the `portico_session`
//! cookie, stored only as its SHA-256, with an absolute expiry, an idle
//! timeout and a per-session CSRF token. Sign-in always makes a new id.

use axum::http::{HeaderMap, HeaderValue, header};
use portico_catalog::Database;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{now_secs, random_hex};
use crate::config::{AuthSettings, SecureCookies};

/// The session cookie's name.
pub const COOKIE: &str = "portico_session";
/// The cookie that carries the CSRF token of a form shown before sign-in.
pub const PRE_SESSION_COOKIE: &str = "portico_csrf";
/// The header a script sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Whose.
    pub user_id: i64,
    /// The token its forms and scripts must send back.
    pub csrf: String,
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Starts a session; returns the cookie value (the id) and the session.
pub fn create(
    db: &Database,
    user_id: i64,
    settings: &AuthSettings,
) -> Result<(String, Session), rusqlite::Error> {
    let id = random_hex(32);
    let csrf = random_hex(32);
    let now = now_secs();
    let expires = now.saturating_add(settings.session_lifetime_secs as i64);
    let conn = db.conn();
    // Ended and expired sessions go when new ones come, so the table stays small.
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen, expires_at, csrf_token)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
        params![digest(&id), user_id, now, expires, csrf],
    )?;
    Ok((id, Session { user_id, csrf }))
}

/// The live session with this id, touched; none when unknown, expired or idle too long.
pub fn find(
    db: &Database,
    id: &str,
    settings: &AuthSettings,
) -> Result<Option<Session>, rusqlite::Error> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = digest(id);
    let conn = db.conn();
    let found: Option<(i64, i64, i64, String)> = conn
        .query_row(
            "SELECT user_id, last_seen, expires_at, csrf_token FROM sessions WHERE id_hash = ?1",
            [&hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((user_id, last_seen, expires_at, csrf)) = found else {
        return Ok(None);
    };
    let now = now_secs();
    if now >= expires_at || now - last_seen > settings.idle_timeout_secs as i64 {
        conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [&hash])?;
        return Ok(None);
    }
    // One write a minute at most per session.
    if now - last_seen >= 60 {
        conn.execute(
            "UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1",
            params![hash, now],
        )?;
    }
    Ok(Some(Session { user_id, csrf }))
}

/// Ends a session.
pub fn delete(db: &Database, id: &str) -> Result<(), rusqlite::Error> {
    db.conn()
        .execute("DELETE FROM sessions WHERE id_hash = ?1", [digest(id)])?;
    Ok(())
}

/// Ends every session of a user (deprovisioning, a password change).
/// Takes a connection, so it can run inside the caller's transaction.
pub fn delete_for_user(
    conn: &rusqlite::Connection,
    user_id: i64,
) -> Result<usize, rusqlite::Error> {
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request came over https, as the proxy in front says.
pub fn came_over_https(headers: &HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    proto || forwarded
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure as configured.
/// `max_age` zero clears the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: u64,
    settings: &AuthSettings,
    request: &HeaderMap,
) -> HeaderValue {
    let secure = match settings.secure_cookies {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => came_over_https(request),
    };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).expect("cookie values are hex")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Database, tempfile::TempDir, i64) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        db.conn()
            .execute("INSERT INTO users (username) VALUES ('ada')", [])
            .unwrap();
        (db, dir, 1)
    }

    #[test]
    fn a_session_is_found_by_its_id_only_and_ends_when_deleted() {
        let (db, _dir, user) = setup();
        let settings = AuthSettings::default();
        let (id, session) = create(&db, user, &settings).unwrap();
        let stored: String = db
            .conn()
            .query_row("SELECT id_hash FROM sessions", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, id, "only the hash is stored");
        assert_eq!(
            find(&db, &id, &settings).unwrap().unwrap().csrf,
            session.csrf
        );
        assert!(find(&db, &random_hex(32), &settings).unwrap().is_none());
        assert!(find(&db, "forged", &settings).unwrap().is_none());
        delete(&db, &id).unwrap();
        assert!(find(&db, &id, &settings).unwrap().is_none());
    }

    #[test]
    fn idle_and_expired_sessions_end() {
        let (db, _dir, user) = setup();
        let settings = AuthSettings::default();
        let (idle, _) = create(&db, user, &settings).unwrap();
        let (old, _) = create(&db, user, &settings).unwrap();
        let conn = db.conn();
        conn.execute(
            "UPDATE sessions SET last_seen = last_seen - 100000 WHERE id_hash = ?1",
            [digest(&idle)],
        )
        .unwrap();
        conn.execute(
            "UPDATE sessions SET expires_at = 0 WHERE id_hash = ?1",
            [digest(&old)],
        )
        .unwrap();
        drop(conn);
        assert!(find(&db, &idle, &settings).unwrap().is_none());
        assert!(find(&db, &old, &settings).unwrap().is_none());
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_when_https_or_configured() {
        let mut headers = HeaderMap::new();
        let settings = AuthSettings::default();
        let plain = set_cookie(COOKIE, "ab", 60, &settings, &headers);
        assert_eq!(
            plain,
            "portico_session=ab; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let secure = set_cookie(COOKIE, "ab", 60, &settings, &headers);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
        let never = AuthSettings {
            secure_cookies: SecureCookies::Never,
            ..AuthSettings::default()
        };
        assert!(
            !set_cookie(COOKIE, "ab", 60, &never, &headers)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; portico_session=xyz"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("xyz"));
    }
}
