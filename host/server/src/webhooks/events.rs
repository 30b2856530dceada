//! The outbox: changelog entries past the stored cursor become events (a
//! deprecation, or a version with breaking changes), and each event one
//! delivery per subscribed app with a webhook, its payload frozen as JSON.
//! Cursor and deliveries move in one transaction, so an entry notifies once.

use rusqlite::{Connection, OptionalExtension as _, Row, params};
use serde_json::{Value, json};

/// The event of a breaking version.
pub const BREAKING_CHANGE: &str = "api.breaking_change";
/// The event of a deprecated version.
pub const DEPRECATED: &str = "api.deprecated";
/// Every event a webhook receives.
pub const EVENTS: [&str; 2] = [BREAKING_CHANGE, DEPRECATED];

/// Changelog entries read per transaction.
const BATCH: i64 = 100;

/// One changelog entry as an event.
struct Entry {
    id: i64,
    kind: String,
    version: String,
    previous_version: Option<String>,
    published_at: String,
    breaking: i64,
    summary: String,
    api: String,
    api_key: String,
    namespace: String,
    name: String,
    body: String,
    sunset: Option<String>,
    migration: Option<String>,
}

impl Entry {
    fn read(r: &Row<'_>) -> rusqlite::Result<Entry> {
        Ok(Entry {
            id: r.get(0)?,
            kind: r.get(1)?,
            version: r.get(2)?,
            previous_version: r.get(3)?,
            published_at: r.get(4)?,
            breaking: r.get(5)?,
            summary: r.get(6)?,
            api: r.get(7)?,
            api_key: r.get(8)?,
            namespace: r.get(9)?,
            name: r.get(10)?,
            body: r.get(11)?,
            sunset: r.get(12)?,
            migration: r.get(13)?,
        })
    }

    /// The event type, if the entry is one subscribers hear of.
    fn event_type(&self) -> Option<&'static str> {
        match self.kind.as_str() {
            "deprecation" => Some(DEPRECATED),
            "version" if self.breaking > 0 => Some(BREAKING_CHANGE),
            _ => None,
        }
    }

    /// The payload, `changelog_url` absolute under `public_url` when one is set.
    fn payload(&self, event_id: &str, event_type: &str, public_url: Option<&str>) -> Value {
        let title = serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|b| b.pointer("/metadata/title")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| self.name.clone());
        let path = format!("/apis/{}/{}/changelog", self.namespace, self.name);
        let changelog_url = match public_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => path,
        };
        json!({
            "id": event_id,
            "type": event_type,
            "created_at": self.published_at,
            "data": {
                "api": self.api,
                "title": title,
                "version": self.version,
                "previous_version": self.previous_version,
                "breaking": self.breaking,
                "summary": self.summary,
                "sunset": self.sunset,
                "migration": self.migration,
                "changelog_url": changelog_url,
            }
        })
    }
}

/// Turns the changelog entries past the cursor into deliveries due at
/// `now_ms`; returns how many deliveries were made. Call until it returns
/// `None` (no entries left).
pub fn enqueue(
    conn: &mut Connection,
    public_url: Option<&str>,
    now_ms: i64,
) -> rusqlite::Result<Option<usize>> {
    let tx = conn.transaction()?;
    let cursor: i64 = tx
        .query_row(
            "SELECT changelog_id FROM webhook_cursor WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let entries = tx
        .prepare_cached(
            "SELECT c.id, c.kind, c.version, c.previous_version, c.published_at, c.breaking,
                    coalesce(c.summary, c.generated), e.entity_ref, e.ref_key, e.namespace,
                    e.name, e.body, coalesce(d.sunset, v.sunset), coalesce(d.migration, v.migration)
             FROM api_changelog c JOIN entities e ON e.id = c.entity_id
             LEFT JOIN api_version_deprecations d ON d.entity_id = c.entity_id AND d.version = c.version
             LEFT JOIN api_versions v ON v.entity_id = c.entity_id AND v.version = c.version
             WHERE c.id > ?1 ORDER BY c.id LIMIT ?2",
        )?
        .query_map(params![cursor, BATCH], Entry::read)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let Some(last) = entries.last().map(|e| e.id) else {
        return Ok(None);
    };
    let mut made = 0;
    for entry in &entries {
        let Some(event_type) = entry.event_type() else {
            continue;
        };
        let apps = tx
            .prepare_cached(
                "SELECT DISTINCT w.app_id FROM webhooks w
                 JOIN subscriptions s ON s.app_id = w.app_id AND s.status = 'approved'
                 JOIN product_apis pa ON pa.product_id = s.product_id
                 WHERE pa.api_ref = ?1 ORDER BY w.app_id",
            )?
            .query_map([&entry.api_key], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if apps.is_empty() {
            continue;
        }
        let event_id = new_event_id();
        let payload = entry.payload(&event_id, event_type, public_url).to_string();
        let mut insert = tx.prepare_cached(
            "INSERT INTO webhook_deliveries
                 (app_id, event_id, event_type, changelog_id, payload, status, next_attempt_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
        )?;
        for app in apps {
            insert.execute(params![
                app, event_id, event_type, entry.id, payload, now_ms
            ])?;
            made += 1;
        }
    }
    tx.execute(
        "INSERT INTO webhook_cursor (id, changelog_id) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET changelog_id = excluded.changelog_id",
        [last],
    )?;
    tx.commit()?;
    Ok(Some(made))
}

/// `evt_` and 24 random hex digits.
fn new_event_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    format!("evt_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, breaking: i64) -> Entry {
        Entry {
            id: 1,
            kind: kind.into(),
            version: "2.0.0".into(),
            previous_version: Some("1.0.0".into()),
            published_at: "2026-01-02T03:04:05.000Z".into(),
            breaking,
            summary: "Removed `/owners`.".into(),
            api: "api:default/pets".into(),
            api_key: "api:default/pets".into(),
            namespace: "default".into(),
            name: "pets".into(),
            body: r#"{"metadata":{"title":"Pets API"}}"#.into(),
            sunset: None,
            migration: None,
        }
    }

    #[test]
    fn only_breaking_versions_and_deprecations_are_webhook_events() {
        assert_eq!(entry("version", 2).event_type(), Some(BREAKING_CHANGE));
        assert_eq!(entry("version", 0).event_type(), None);
        assert_eq!(entry("deprecation", 0).event_type(), Some(DEPRECATED));
    }

    #[test]
    fn webhook_payloads_link_the_changelog_under_the_public_url() {
        let e = entry("version", 2);
        let payload = e.payload(
            "evt_1",
            BREAKING_CHANGE,
            Some("https://portal.example.com/"),
        );
        assert_eq!(payload["data"]["title"], "Pets API");
        assert_eq!(payload["data"]["breaking"], 2);
        assert_eq!(
            payload["data"]["changelog_url"],
            "https://portal.example.com/apis/default/pets/changelog"
        );
        let relative = e.payload("evt_1", BREAKING_CHANGE, None);
        assert_eq!(
            relative["data"]["changelog_url"],
            "/apis/default/pets/changelog"
        );
    }
}
