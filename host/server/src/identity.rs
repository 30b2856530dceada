//! Who is calling and what they may do: local accounts, database sessions,
//! roles and permissions checked on every route by one middleware
//! ([`access`]), and the append-only audit log. Designed for OIDC, SCIM and
//! partner groups to come: actors have a kind, users have groups, roles are data.

pub mod access;
pub mod agents;
pub mod audit;
mod csrf;
pub mod directory;
pub mod oidc;
pub mod request_log;
pub mod roles;
pub mod sessions;
pub mod users;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use portico_catalog::Audience;

use crate::config::AuthSettings;
use crate::problem::ApiError;
use roles::Roles;

/// What kind of party acts: recorded with every audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActorKind {
    /// A person signed in with a session.
    Person,
    /// A program with an API key.
    ApiKey,
    /// An AI agent acting for someone.
    Agent,
    /// The portal itself, or the operator's admin token.
    System,
    /// Nobody signed in.
    Anonymous,
}

impl ActorKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Person => "person",
            ActorKind::ApiKey => "api-key",
            ActorKind::Agent => "agent",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

/// Whoever makes a request, with what they may do.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A stable id: `user:<id>`, `system:admin-token` or `anonymous`.
    pub id: String,
    /// What people read: the username, or a description.
    pub name: String,
    /// Which kind of party.
    pub kind: ActorKind,
    /// The user's row, for people.
    pub user_id: Option<i64>,
    /// Role names.
    pub roles: BTreeSet<String>,
    /// Group names.
    pub groups: BTreeSet<String>,
    /// What the roles grant together.
    pub permissions: BTreeSet<String>,
}

impl Actor {
    /// A visitor who is not signed in.
    pub fn anonymous(roles: &Roles) -> Actor {
        Actor {
            id: "anonymous".into(),
            name: "anonymous".into(),
            kind: ActorKind::Anonymous,
            user_id: None,
            roles: BTreeSet::from([roles::ANONYMOUS.to_owned()]),
            groups: BTreeSet::new(),
            permissions: roles.permissions([roles::ANONYMOUS]),
        }
    }

    /// The holder of the configured admin token.
    pub fn admin_token(roles: &Roles) -> Actor {
        Actor {
            id: "system:admin-token".into(),
            name: "admin token".into(),
            kind: ActorKind::System,
            user_id: None,
            roles: BTreeSet::from([roles::ADMIN.to_owned()]),
            groups: BTreeSet::new(),
            permissions: roles.permissions([roles::ADMIN]),
        }
    }

    /// The identity provider holding the `[auth.scim]` token: it may
    /// provision over SCIM and nothing else.
    pub fn scim() -> Actor {
        Actor {
            id: "system:scim".into(),
            name: "SCIM provisioning".into(),
            kind: ActorKind::System,
            user_id: None,
            roles: BTreeSet::new(),
            groups: BTreeSet::new(),
            permissions: BTreeSet::from([roles::SCIM_PROVISION.to_owned()]),
        }
    }

    /// Whether this actor is signed in (or holds a token).
    pub fn is_authenticated(&self) -> bool {
        self.kind != ActorKind::Anonymous
    }

    /// Whether the actor's roles grant `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// Which catalogue entities the actor may see: everything for members
    /// of the organisation, else public ones and those granted to their groups.
    pub fn audience(&self) -> Audience {
        if self.can(roles::CATALOG_READ_INTERNAL) {
            Audience::member()
        } else {
            Audience::outsider(&self.groups)
        }
    }
}

/// The actor and where the request came from: what an audit entry needs.
/// The access middleware puts it on every routed request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub actor: Actor,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's `x-request-id`.
    pub request_id: Option<String>,
    /// The session's CSRF token, when the actor came with a session.
    pub csrf: Option<String>,
    /// The AI agent making the request for the actor, when one is (see [`agents`]).
    pub agent: Option<String>,
}

impl Caller {
    /// The portal itself acting without a request (a CLI command, the
    /// plugins-directory watcher), named by `id` (`system:<id>`) and `name`.
    pub fn system(id: &str, name: &str) -> Caller {
        Caller {
            actor: Actor {
                id: format!("system:{id}"),
                name: name.to_owned(),
                kind: ActorKind::System,
                user_id: None,
                roles: BTreeSet::new(),
                groups: BTreeSet::new(),
                permissions: BTreeSet::new(),
            },
            ip: None,
            user_agent: None,
            request_id: None,
            csrf: None,
            agent: None,
        }
    }

    /// The kind the audit log records: an agent acting for the actor counts as an agent.
    pub fn kind(&self) -> ActorKind {
        if self.agent.is_some() {
            ActorKind::Agent
        } else {
            self.actor.kind
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::internal("a handler needs the caller outside the access layer")
        })
    }
}

/// What identity keeps in memory: roles and the failed sign-in windows.
pub struct Identity {
    roles: Roles,
    limiter: LoginLimiter,
    oidc: Option<oidc::Oidc>,
}

impl Identity {
    /// From `[auth]` (checked when the configuration loaded).
    pub fn new(settings: &AuthSettings) -> Identity {
        Identity {
            roles: Roles::new(settings),
            limiter: LoginLimiter::new(
                settings.max_failed_logins,
                Duration::from_secs(settings.failed_login_window_secs),
            ),
            oidc: settings.oidc.as_ref().map(|s| {
                oidc::Oidc::new(s).expect("[auth.oidc] was checked when the configuration loaded")
            }),
        }
    }

    /// The single sign-on provider, when `[auth.oidc]` is set.
    pub fn oidc(&self) -> Option<&oidc::Oidc> {
        self.oidc.as_ref()
    }

    /// Every role.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// The failed sign-in limiter.
    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }
}

/// Failure times by (lower-cased username, address).
type Failures = HashMap<(String, Option<IpAddr>), VecDeque<Instant>>;

/// Counts failed sign-ins per (username, address) in a sliding window.
/// In memory: a restart forgets, which only gives an attacker one window more.
pub struct LoginLimiter {
    max: u32,
    window: Duration,
    failures: Mutex<Failures>,
}

impl LoginLimiter {
    fn new(max: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this username may try again from this address now.
    pub fn allows(&self, username: &str, ip: Option<IpAddr>) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = (username.to_lowercase(), ip);
        let Some(times) = failures.get_mut(&key) else {
            return true;
        };
        let now = Instant::now();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            times.pop_front();
        }
        if times.is_empty() {
            failures.remove(&key);
            return true;
        }
        times.len() < self.max as usize
    }

    /// Records a failure.
    pub fn failed(&self, username: &str, ip: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a flood of distinct names cannot grow the map without end.
        if failures.len() > 100_000 {
            failures.clear();
        }
        failures
            .entry((username.to_lowercase(), ip))
            .or_default()
            .push_back(Instant::now());
    }

    /// Forgets the failures after a success.
    pub fn succeeded(&self, username: &str, ip: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&(username.to_lowercase(), ip));
    }
}

/// `n` random bytes from the operating system, as hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A state for router tests: a fresh database, no plugins, an admin token.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use portico_catalog::{Database, SqliteStore};
    use portico_runtime::{Registry, Runtime, RuntimeConfig};

    use crate::config::Config;
    use crate::state::{Access, AppState};

    pub(crate) fn state_with_token(token: &str) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("portal.db")).unwrap();
        let catalog = Arc::new(SqliteStore::new(&db).unwrap());
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        let access = Access {
            admin_token: Some(super::access::AdminToken::new(token)),
            ..Access::default()
        };
        let state = AppState::with_access(
            config,
            db,
            catalog,
            Runtime::new(RuntimeConfig::default()).unwrap(),
            Registry::default(),
            metrics,
            access,
        );
        (state, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_sign_ins_are_limited_per_username_and_address() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limiter.allows("Ada", ip));
        limiter.failed("Ada", ip);
        limiter.failed("ada", ip);
        assert!(!limiter.allows("ADA", ip));
        assert!(limiter.allows("ada", Some(IpAddr::from([10, 0, 0, 2]))));
        assert!(limiter.allows("grace", ip));
        limiter.succeeded("ada", ip);
        assert!(limiter.allows("ada", ip));
    }

    #[test]
    fn session_ids_are_256_random_bits() {
        let a = random_hex(32);
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_hex(32));
    }
}
