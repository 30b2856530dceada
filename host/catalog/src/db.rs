//! Opening the database: one SQLite file, WAL, foreign keys, migrations.
//!
//! A database that cannot be opened or migrated is reported with its path,
//! and the server refuses to start rather than run half-configured.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Opening, configuring or migrating the file failed.
    #[error("database {path}: {message}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
}

/// The schema, one migration per step; never edit a released step, add one.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE plugin_kv (
        plugin TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (plugin, key)
    ) WITHOUT ROWID;
    CREATE TABLE apis (
        namespace TEXT NOT NULL DEFAULT 'default',
        name TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        owner TEXT NOT NULL DEFAULT '',
        lifecycle TEXT NOT NULL DEFAULT 'production',
        version TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '[]',
        source TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (namespace, name)
    );",
    ),
    // The unified catalogue: entities with provenance, a key/value index for
    // filters and facets, relations both ways, API operations, and FTS5.
    M::up(
        "CREATE TABLE catalog_sources (
        source TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        target TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        synced_at TEXT
    ) WITHOUT ROWID;
    CREATE TABLE entities (
        id INTEGER PRIMARY KEY,
        ref_key TEXT NOT NULL UNIQUE,
        entity_ref TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL UNIQUE,
        etag TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        body TEXT NOT NULL,
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        orphaned INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX entities_by_kind ON entities (kind, ref_key);
    CREATE INDEX entities_by_source ON entities (source);
    CREATE TABLE entity_search (
        entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT,
        -- as written, where that differs from the lowercased value
        original TEXT
    );
    CREATE INDEX entity_search_by_key ON entity_search (key, value, entity_id);
    CREATE INDEX entity_search_by_entity ON entity_search (entity_id);
    CREATE TABLE entity_relations (
        originator INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        source_key TEXT NOT NULL,
        type TEXT NOT NULL,
        type_key TEXT NOT NULL,
        target_key TEXT NOT NULL,
        target_ref TEXT NOT NULL
    );
    CREATE INDEX entity_relations_by_source ON entity_relations (source_key, type_key);
    CREATE INDEX entity_relations_by_target ON entity_relations (type_key, target_key);
    CREATE INDEX entity_relations_by_originator ON entity_relations (originator);
    CREATE TABLE api_operations (
        entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        operation_id TEXT,
        summary TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (entity_id, position)
    ) WITHOUT ROWID;
    CREATE VIRTUAL TABLE entities_fts USING fts5 (
        name, title, description, tags, owner, operations,
        tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
    );
    INSERT INTO entities_fts (entities_fts, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0, 3.0, 2.0, 1.0)');
    CREATE TRIGGER entities_fts_delete AFTER DELETE ON entities BEGIN
        DELETE FROM entities_fts WHERE rowid = old.id;
    END;
    CREATE TABLE entity_facets (
        id INTEGER PRIMARY KEY REFERENCES entities (id) ON DELETE CASCADE,
        kind TEXT NOT NULL COLLATE NOCASE,
        spec_type TEXT COLLATE NOCASE,
        lifecycle TEXT COLLATE NOCASE,
        owner TEXT COLLATE NOCASE,
        source TEXT NOT NULL COLLATE NOCASE,
        tags TEXT NOT NULL DEFAULT '',
        name_lc TEXT NOT NULL,
        title_lc TEXT
    );
    CREATE INDEX entity_facets_by_name ON entity_facets (name_lc);
    CREATE INDEX entity_facets_by_title ON entity_facets (title_lc);
    CREATE INDEX entity_facets_by_kind ON entity_facets (kind);",
    ),
    // A counter every catalogue write bumps, so caches of read results (in
    // this process or another one on the same file) know when they are stale.
    M::up(
        "CREATE TABLE catalog_generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
        INSERT INTO catalog_generation (id, value) VALUES (1, 0);",
    ),
    // API versions: spec documents stored once by content hash, each API's
    // versions (publication history, lifecycle, provenance) and their
    // environments. The foundation's `apis` summary table gives way to the catalogue.
    M::up(
        "DROP TABLE apis;
    CREATE TABLE spec_documents (
        hash TEXT PRIMARY KEY,
        format TEXT NOT NULL,
        media_type TEXT NOT NULL,
        content TEXT NOT NULL,
        -- the operation index of the document, as JSON rows
        operations TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ) WITHOUT ROWID;
    CREATE TABLE api_versions (
        id INTEGER PRIMARY KEY,
        entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        version TEXT NOT NULL,
        published_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        lifecycle TEXT NOT NULL,
        sunset TEXT,
        migration TEXT,
        spec_hash TEXT NOT NULL REFERENCES spec_documents (hash),
        source TEXT NOT NULL,
        location TEXT NOT NULL,
        UNIQUE (entity_id, version)
    );
    CREATE INDEX api_versions_by_spec ON api_versions (spec_hash);
    CREATE TABLE api_environments (
        version_id INTEGER NOT NULL REFERENCES api_versions (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        description TEXT,
        PRIMARY KEY (version_id, position)
    ) WITHOUT ROWID;
    -- A document no version uses any more is forgotten.
    CREATE TRIGGER api_versions_forget_document AFTER DELETE ON api_versions BEGIN
        DELETE FROM spec_documents WHERE hash = old.spec_hash
            AND NOT EXISTS (SELECT 1 FROM api_versions WHERE spec_hash = old.spec_hash);
    END;
    CREATE TRIGGER api_versions_replace_document AFTER UPDATE OF spec_hash ON api_versions
        WHEN old.spec_hash <> new.spec_hash BEGIN
        DELETE FROM spec_documents WHERE hash = old.spec_hash
            AND NOT EXISTS (SELECT 1 FROM api_versions WHERE spec_hash = old.spec_hash);
    END;",
    ),
    // Identity: accounts, groups, roles (built in and custom), sessions
    // (ids stored hashed) and the append-only audit log.
    M::up(
        "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        -- argon2id PHC string; NULL for accounts that sign in elsewhere (OIDC)
        password_hash TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        -- `local`, later `oidc` or `scim`, with the provider's id
        source TEXT NOT NULL DEFAULT 'local',
        external_id TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL DEFAULT '',
        external_id TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE group_members (
        group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX group_members_by_user ON group_members (user_id);
    CREATE TABLE roles (
        name TEXT PRIMARY KEY,
        builtin INTEGER NOT NULL DEFAULT 0,
        -- a JSON array of permission names
        permissions TEXT NOT NULL DEFAULT '[]'
    ) WITHOUT ROWID;
    INSERT INTO roles (name, builtin) VALUES
        ('admin', 1), ('api-owner', 1), ('developer', 1), ('viewer', 1), ('anonymous', 1);
    CREATE TABLE user_roles (
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
        PRIMARY KEY (user_id, role)
    ) WITHOUT ROWID;
    CREATE TABLE group_roles (
        group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        role TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
        PRIMARY KEY (group_id, role)
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        -- SHA-256 of the cookie's 256-bit random id
        id_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        csrf_token TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_by_user ON sessions (user_id);
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL DEFAULT '',
        actor_kind TEXT NOT NULL CHECK (actor_kind IN ('person', 'api-key', 'agent', 'system', 'anonymous')),
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
        source_ip TEXT,
        user_agent TEXT,
        request_id TEXT,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_by_actor ON audit_log (actor_id, id);
    CREATE INDEX audit_log_by_action ON audit_log (action, id);
    CREATE INDEX audit_log_by_time ON audit_log (at);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;",
    ),
    // Gateway syncs: one row per run of a gateway's connector, with what it
    // found and did to the catalogue, how long the plugin and the store took,
    // and why it failed.
    M::up(
        "CREATE TABLE gateway_runs (
        id INTEGER PRIMARY KEY,
        gateway TEXT NOT NULL,
        trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'api', 'cli')),
        status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at TEXT,
        pages INTEGER NOT NULL DEFAULT 0,
        discovered INTEGER NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        orphaned INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        plugin_ms INTEGER NOT NULL DEFAULT 0,
        store_ms INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        -- a JSON array of what was not written, and why
        problems TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX gateway_runs_by_gateway ON gateway_runs (gateway, id);",
    ),
    // SCIM provisioning: a UUID as each resource's SCIM id, the SCIM
    // attributes the portal has no column for (`name`, `emails`) as JSON, and
    // a version (the ETag) and last change for `meta`.
    M::up(
        "ALTER TABLE users ADD COLUMN scim_id TEXT;
    ALTER TABLE users ADD COLUMN scim_attributes TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE users ADD COLUMN updated_at TEXT;
    CREATE UNIQUE INDEX users_by_scim_id ON users (scim_id) WHERE scim_id IS NOT NULL;
    ALTER TABLE groups ADD COLUMN scim_id TEXT;
    ALTER TABLE groups ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE groups ADD COLUMN updated_at TEXT;
    CREATE UNIQUE INDEX groups_by_scim_id ON groups (scim_id) WHERE scim_id IS NOT NULL;",
    ),
    // Single sign-on into a SCIM-provisioned account: the `sub@issuer` it
    // was linked to at its first OIDC sign-in.
    M::up(
        "ALTER TABLE users ADD COLUMN oidc_subject TEXT;
    CREATE UNIQUE INDEX users_by_oidc_subject ON users (oidc_subject) WHERE oidc_subject IS NOT NULL;",
    ),
    // Every request is recorded too (`http.request`): those entries, and only
    // those, may age out; changes are read without wading through them.
    M::up(
        "DROP TRIGGER audit_log_no_delete;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        WHEN old.action <> 'http.request' BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    CREATE INDEX audit_log_changes ON audit_log (id) WHERE action <> 'http.request';",
    ),
    // Self-serve access: products of APIs with plans, developers' apps and
    // their subscriptions, API keys (stored hashed), the gateway credentials
    // keys were provisioned as, quota counters and usage events.
    M::up(
        "CREATE TABLE products (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'internal', 'partner')),
        -- a JSON array of group names, for partner products
        partner_groups TEXT NOT NULL DEFAULT '[]',
        owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE product_apis (
        product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
        -- the API's full entity reference, `api:namespace/name`
        api_ref TEXT NOT NULL,
        PRIMARY KEY (product_id, api_ref)
    ) WITHOUT ROWID;
    CREATE INDEX product_apis_by_api ON product_apis (api_ref);
    CREATE TABLE plans (
        id INTEGER PRIMARY KEY,
        product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        -- requests per rate_period_secs; NULL: no rate limit
        rate_limit INTEGER CHECK (rate_limit > 0),
        rate_period_secs INTEGER NOT NULL DEFAULT 1 CHECK (rate_period_secs > 0),
        -- requests per quota_period; NULL: no quota
        quota INTEGER CHECK (quota > 0),
        quota_period TEXT NOT NULL DEFAULT 'day' CHECK (quota_period IN ('minute', 'hour', 'day', 'month')),
        approval TEXT NOT NULL DEFAULT 'auto' CHECK (approval IN ('auto', 'manual')),
        UNIQUE (product_id, name)
    );
    CREATE TABLE apps (
        id INTEGER PRIMARY KEY,
        owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (owner_id, name)
    );
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
        plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
        -- denormalised from the plan: an app holds one subscription per product
        product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected')),
        requested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        decided_at TEXT,
        decided_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
        -- the owner's reason, shown to the developer
        note TEXT NOT NULL DEFAULT '',
        UNIQUE (app_id, product_id)
    );
    CREATE INDEX subscriptions_by_status ON subscriptions (status, product_id);
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        environment TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
        -- the key's visible start, unique: how a key is found before its hash is compared
        prefix TEXT NOT NULL UNIQUE,
        -- SHA-256 of the whole key; the key itself is never stored
        hash BLOB NOT NULL,
        -- a JSON array of scope names; empty: every operation
        scopes TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        -- the key that replaced this one in a rotation
        rotated_to INTEGER REFERENCES api_keys (id) ON DELETE SET NULL
    );
    CREATE INDEX api_keys_by_app ON api_keys (app_id);
    -- Outlives its key (an app or account deleted), so that the key sweeper
    -- can still delete the credential from its gateway.
    CREATE TABLE key_credentials (
        key_id INTEGER NOT NULL,
        gateway TEXT NOT NULL,
        -- the connector's reference, passed back when the key is revoked
        credential_ref TEXT,
        status TEXT NOT NULL CHECK (status IN ('provisioned', 'failed', 'revoked')),
        error TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (key_id, gateway)
    ) WITHOUT ROWID;
    CREATE TABLE quota_usage (
        subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        -- the start of the quota period, in seconds since the epoch
        period_start INTEGER NOT NULL,
        used INTEGER NOT NULL,
        PRIMARY KEY (subscription_id, period_start)
    ) WITHOUT ROWID;
    CREATE TABLE usage_events (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        -- `verify`, `try-it`, `sandbox` or `gateway:<name>`
        source TEXT NOT NULL,
        key_id INTEGER,
        app_id INTEGER,
        api_ref TEXT,
        operation TEXT,
        status INTEGER NOT NULL,
        latency_us INTEGER NOT NULL
    );
    CREATE INDEX usage_events_by_time ON usage_events (at_ms);",
    ),
    // API changelogs: one entry per published version (its diff against the
    // previous one) or deprecation; deprecations an owner declares through
    // the portal, kept apart so that re-importing a version does not undo
    // them; when a version became deprecated.
    M::up(
        "CREATE TABLE api_changelog (
        id INTEGER PRIMARY KEY,
        entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('version', 'deprecation')),
        version TEXT NOT NULL,
        previous_version TEXT,
        published_at TEXT NOT NULL,
        breaking INTEGER NOT NULL DEFAULT 0,
        non_breaking INTEGER NOT NULL DEFAULT 0,
        -- a JSON array of {rule, severity, location, message}, breaking first
        changes TEXT NOT NULL DEFAULT '[]',
        diff_error TEXT,
        unbumped_breaking INTEGER NOT NULL DEFAULT 0,
        -- markdown: the portal's, and the owner's replacing it
        generated TEXT NOT NULL,
        summary TEXT,
        edited_by TEXT,
        edited_at TEXT,
        UNIQUE (entity_id, kind, version)
    );
    CREATE INDEX api_changelog_by_time ON api_changelog (published_at, id);
    CREATE TABLE api_version_deprecations (
        entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
        version TEXT NOT NULL,
        deprecated_at TEXT NOT NULL,
        sunset TEXT,
        migration TEXT,
        deprecated_by TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (entity_id, version)
    ) WITHOUT ROWID;
    ALTER TABLE api_versions ADD COLUMN deprecated_at TEXT;
    UPDATE api_versions SET deprecated_at = updated_at WHERE lifecycle = 'deprecated';",
    ),
    // Usage analytics and billing: an event may stand for a gateway's window
    // of calls; roll-ups per minute, hour and day, by consumer (app, key) and
    // by operation alone (what owners' and admins' dashboards read); what
    // each usage source sent and refused; billing plans on product plans,
    // and the invoices they issued (kept when an app is deleted).
    M::up(
        "-- latency_us is -1 where a gateway reported no latency
    ALTER TABLE usage_events ADD COLUMN calls INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE usage_events ADD COLUMN errors INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage_events ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE usage_by_consumer (
        granularity TEXT NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
        bucket_ms INTEGER NOT NULL,
        -- 0 and '' for unknown: NULLs would defeat the upsert's key
        app_id INTEGER NOT NULL,
        key_id INTEGER NOT NULL,
        api_ref TEXT NOT NULL,
        operation TEXT NOT NULL,
        -- the status's hundreds: 2 for 2xx
        status_class INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        -- a mergeable latency sketch (usage/sketch.rs)
        latency BLOB NOT NULL,
        PRIMARY KEY (app_id, granularity, bucket_ms, key_id, api_ref, operation, status_class)
    ) WITHOUT ROWID;
    CREATE INDEX usage_by_consumer_by_time ON usage_by_consumer (granularity, bucket_ms);
    CREATE TABLE usage_by_operation (
        granularity TEXT NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
        bucket_ms INTEGER NOT NULL,
        api_ref TEXT NOT NULL,
        operation TEXT NOT NULL,
        status_class INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        latency BLOB NOT NULL,
        PRIMARY KEY (granularity, bucket_ms, api_ref, operation, status_class)
    ) WITHOUT ROWID;
    CREATE INDEX usage_by_operation_by_api ON usage_by_operation (api_ref, granularity, bucket_ms);
    -- the last event the roll-ups cover (usage/writer.rs)
    CREATE TABLE usage_rollup_watermark (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        event_id INTEGER NOT NULL
    );
    CREATE TABLE usage_sources (
        source TEXT PRIMARY KEY,
        accepted INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_error_at INTEGER,
        last_seen_at INTEGER,
        -- where the next pull starts (`collect-usage`)
        cursor TEXT
    ) WITHOUT ROWID;
    -- `<billing plugin id>/<billing plan id>`; NULL: not billed
    ALTER TABLE plans ADD COLUMN billing TEXT;
    -- the first call with a 2xx answer, for the time-to-first-call funnel
    ALTER TABLE apps ADD COLUMN first_call_at INTEGER;
    CREATE TABLE invoices (
        id INTEGER PRIMARY KEY,
        subscription_id INTEGER NOT NULL,
        app_id INTEGER NOT NULL,
        app_name TEXT NOT NULL,
        owner_id INTEGER,
        product TEXT NOT NULL,
        plan TEXT NOT NULL,
        billing TEXT NOT NULL,
        -- milliseconds since the epoch; the end is exclusive
        period_start INTEGER NOT NULL,
        period_end INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('issued', 'failed')),
        currency TEXT,
        total_minor INTEGER,
        -- a JSON array of {description, quantity, unit_price, amount}
        lines TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        created_at INTEGER NOT NULL,
        UNIQUE (subscription_id, period_start)
    );
    CREATE INDEX invoices_by_app ON invoices (app_id, period_start);",
    ),
    // Webhooks: one endpoint per app, with its signing secret; the outbox of
    // deliveries, each with its payload frozen at creation and its retry
    // state; the last changelog entry turned into events (starting at the
    // newest, so that history already published notifies nobody).
    M::up(
        "CREATE TABLE webhooks (
        app_id INTEGER PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        -- `whsec_` and base64: the app owner's to verify with, never logged
        secret TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        changelog_id INTEGER NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER,
        last_error TEXT,
        -- unix milliseconds; also the lease of an attempt in flight
        next_attempt_ms INTEGER,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        delivered_at TEXT,
        UNIQUE (event_id, app_id)
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
    CREATE INDEX webhook_deliveries_by_app ON webhook_deliveries (app_id, id);
    CREATE TABLE webhook_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        changelog_id INTEGER NOT NULL
    );
    INSERT INTO webhook_cursor (id, changelog_id)
        SELECT 1, coalesce(max(id), 0) FROM api_changelog;",
    ),
];

/// A handle on the portal's SQLite database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Database {
    /// Opens or creates the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Database, DbError> {
        let fail = |message: String| DbError::Open {
            path: path.to_owned(),
            message,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create directory {}: {e}", parent.display())))?;
        }
        let mut conn = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| fail(e.to_string()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| fail(e.to_string()))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| fail(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| fail(e.to_string()))?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .map_err(|e| fail(format!("migration failed: {e}")))?;
        Ok(Database {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for one short unit of work (the portal's identity
    /// tables are kept by the server crate through it).
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the database answers a trivial query (for `/readyz`).
    pub fn ping(&self) -> bool {
        self.conn()
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_keeps_the_schema_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/portico.db");
        Database::open(&path).unwrap();
        let db = Database::open(&path).unwrap();
        let mode: String = db
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert!(db.ping());
    }

    #[test]
    fn unusable_path_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let err = Database::open(&file.join("portico.db")).err().unwrap();
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
