//! Key verification, the hot path gateways call for every request: is this
//! key good for this API in this environment, within its plan's rate limit
//! and quota? Answered from memory: keys are cached by their visible prefix
//! (the hash compared in constant time), rate limits are GCRA cells and
//! quota counters are atomics written through by the usage writer. Every
//! change to keys, apps, subscriptions or plans in this process forgets the
//! cache at once; entries also expire after [`KEY_TTL`], which bounds how
//! long another replica's change takes to reach this one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use portico_catalog::Database;
use rusqlite::{Connection, OptionalExtension};
use subtle::ConstantTimeEq;

use super::keys::{ApiKey, Environment};
use super::products::QuotaPeriod;
use super::routes::Routes;
use crate::identity::now_secs;
use crate::usage::{Source, UsageEvent, UsageLog, now_ms};

/// How long a cached key is trusted before it is read again.
pub const KEY_TTL: Duration = Duration::from_secs(5);
/// Cached keys (known or unknown prefixes) before the cache starts over.
const MAX_CACHED: usize = 100_000;

/// What a caller asks about, besides the key.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The API (`namespace/name` or `api:namespace/name`), when the caller says.
    pub api: Option<String>,
    /// The environment, when the caller says; else the matched server's, else production.
    pub environment: Option<Environment>,
    /// The host the original request was sent to (`X-Forwarded-Host`).
    pub host: Option<String>,
    /// Whether the original request came over TLS (`X-Forwarded-Proto: https`).
    pub https: bool,
    /// The original request's method.
    pub method: Option<String>,
    /// The original request's path (a query is ignored).
    pub path: Option<String>,
}

/// Why a key may not make this call; each reason reads differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No key was sent.
    Missing,
    /// What was sent is not a key.
    Malformed(&'static str),
    /// No such key.
    Unknown,
    /// The key's expiry passed.
    Expired,
    /// The key was revoked.
    Revoked,
    /// The call does not say which API, and no declared server matches.
    UnknownApi(String),
    /// A sandbox key on a production server, or the other way round.
    WrongEnvironment {
        /// The key's environment.
        key: Environment,
        /// The server's.
        server: Environment,
    },
    /// The app holds no subscription to a product with this API.
    NotSubscribed(String),
    /// The app's subscription waits for the owner.
    Pending(String),
    /// The owner rejected the app's subscription.
    Rejected(String),
    /// The key's scopes leave this call out.
    OutOfScope(String),
    /// Too many calls: the plan's rate limit; retry after this many seconds.
    RateLimited(u64),
    /// The plan's quota for the period is used up; it resets after this many seconds.
    QuotaExceeded {
        /// The quota.
        limit: u64,
        /// Seconds until the next period.
        retry_after: u64,
    },
    /// The portal could not check the key (the database failed).
    Unavailable,
}

impl Denial {
    /// The HTTP status, a stable problem slug, and what happened.
    pub fn parts(&self) -> (u16, &'static str, String) {
        match self {
            Denial::Missing => (
                401,
                "key-missing",
                "no API key: send it as `Authorization: Bearer <key>` or `X-API-Key`".into(),
            ),
            Denial::Malformed(why) => (
                401,
                "key-malformed",
                format!("the API key is malformed: {why}"),
            ),
            Denial::Unknown => (
                401,
                "key-unknown",
                "the API key is not known to this portal".into(),
            ),
            Denial::Expired => (
                401,
                "key-expired",
                "the API key has expired: create or rotate a key in the portal".into(),
            ),
            Denial::Revoked => (401, "key-revoked", "the API key was revoked".into()),
            Denial::UnknownApi(why) => (400, "api-unknown", why.clone()),
            Denial::WrongEnvironment { key, server } => (
                403,
                "key-wrong-environment",
                format!(
                    "a {} key does not work against a {} server",
                    key.as_str(),
                    server.as_str()
                ),
            ),
            Denial::NotSubscribed(api) => (
                403,
                "not-subscribed",
                format!("the key's app has no subscription that includes `{api}`"),
            ),
            Denial::Pending(api) => (
                403,
                "subscription-pending",
                format!("the app's subscription for `{api}` waits for the owner's approval"),
            ),
            Denial::Rejected(api) => (
                403,
                "subscription-rejected",
                format!("the owner rejected the app's subscription for `{api}`"),
            ),
            Denial::OutOfScope(why) => (403, "key-out-of-scope", why.clone()),
            Denial::RateLimited(after) => (
                429,
                "rate-limited",
                format!("the plan's rate limit is reached: retry in {after} s"),
            ),
            Denial::QuotaExceeded { limit, retry_after } => (
                429,
                "quota-exceeded",
                format!(
                    "the plan's quota of {limit} calls is used up: it resets in {retry_after} s"
                ),
            ),
            Denial::Unavailable => (
                503,
                "unavailable",
                "the portal cannot check keys now".into(),
            ),
        }
    }

    /// Seconds to wait before retrying, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Denial::RateLimited(after) => Some(*after),
            Denial::QuotaExceeded { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// A call a key may make, with what the gateway may pass on.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Grant {
    /// Always true.
    pub valid: bool,
    /// The key's id, name, prefix and environment.
    pub key: GrantKey,
    /// The key's app.
    pub app: GrantApp,
    /// The API called.
    pub api: String,
    /// The operation, when the call's method and path matched one.
    pub operation: Option<String>,
    /// The plan the call counts against.
    pub plan: GrantPlan,
    /// What is left of the quota, when the plan has one.
    pub quota: Option<QuotaLeft>,
    /// What is left of the rate limit, when the plan has one.
    pub rate_limit: Option<RateLeft>,
}

/// The key of a [`Grant`].
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct GrantKey {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its visible prefix.
    pub prefix: String,
    /// Where it works.
    pub environment: Environment,
}

/// The app of a [`Grant`].
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct GrantApp {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its owner's username.
    pub owner: String,
}

/// The plan of a [`Grant`].
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct GrantPlan {
    /// The product's name.
    pub product: String,
    /// The plan's name.
    pub name: String,
}

/// A quota's state after this call.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct QuotaLeft {
    /// Calls allowed per period.
    pub limit: u64,
    /// Calls left in this period.
    pub remaining: u64,
    /// When the period ends (seconds since the epoch).
    pub resets_at: i64,
}

/// A rate limit's state after this call.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RateLeft {
    /// Calls allowed per period.
    pub limit: u64,
    /// The period in seconds.
    pub period_secs: u64,
    /// Calls that could be made at once now.
    pub remaining: u64,
}

/// A key as verification needs it.
struct KeyRecord {
    id: i64,
    hash: [u8; 32],
    name: String,
    prefix: String,
    environment: Environment,
    scopes: Vec<String>,
    expires_at: Option<i64>,
    revoked: bool,
    app_id: i64,
    app_name: String,
    owner: String,
    subscriptions: Vec<SubscriptionRecord>,
}

struct SubscriptionRecord {
    id: i64,
    status: String,
    product: String,
    plan: String,
    apis: Vec<String>,
    rate: Option<Arc<Gcra>>,
    quota: Option<(u64, QuotaPeriod)>,
}

enum Slot {
    Known(Arc<KeyRecord>, Instant),
    Unknown(Instant),
}

/// The verifier: one per portal, shared by every request.
pub struct Verifier {
    db: Database,
    keys: RwLock<HashMap<String, Slot>>,
    limiters: Mutex<HashMap<i64, Arc<Gcra>>>,
    quotas: Mutex<HashMap<i64, Arc<QuotaCounter>>>,
    routes: Routes,
    usage: UsageLog,
}

impl Verifier {
    /// A verifier over this database, recording usage to `usage`.
    pub fn new(db: Database, usage: UsageLog) -> Verifier {
        Verifier {
            routes: Routes::new(db.clone()),
            db,
            keys: RwLock::new(HashMap::new()),
            limiters: Mutex::new(HashMap::new()),
            quotas: Mutex::new(HashMap::new()),
            usage,
        }
    }

    /// The usage log verification records to.
    pub fn usage(&self) -> &UsageLog {
        &self.usage
    }

    /// Forgets every cached key: called after any change to keys, apps,
    /// subscriptions, plans or products.
    pub fn forget(&self) {
        self.keys.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Checks a key for a call and records the verdict as a usage event.
    pub async fn verify(
        &self,
        key: Option<&str>,
        target: &Target,
        source: Source,
    ) -> Result<Grant, Denial> {
        let started = Instant::now();
        let (verdict, event) = self.verdict(key, target, source).await;
        if let Some(mut event) = event {
            event.status = match &verdict {
                Ok(_) => 200,
                Err(denial) => denial.parts().0,
            };
            event.latency_us = started.elapsed().as_micros() as u64;
            self.usage.record(event);
        }
        verdict
    }

    /// Checks a key for a call the portal makes itself (try-it): the verdict,
    /// and, when the key was recognised, the usage event to fill in with the
    /// call's status and latency and record.
    pub async fn verdict(
        &self,
        key: Option<&str>,
        target: &Target,
        source: Source,
    ) -> (Result<Grant, Denial>, Option<UsageEvent>) {
        let mut event = UsageEvent {
            at_ms: now_ms(),
            source,
            key_id: None,
            app_id: None,
            api_ref: None,
            operation: None,
            status: 0,
            latency_us: 0,
            quota: None,
        };
        let verdict = self.check(key, target, &mut event).await;
        (verdict, event.key_id.is_some().then_some(event))
    }

    async fn check(
        &self,
        key: Option<&str>,
        target: &Target,
        event: &mut UsageEvent,
    ) -> Result<Grant, Denial> {
        let key = ApiKey::parse(key.ok_or(Denial::Missing)?).map_err(Denial::Malformed)?;
        let record = self.record(&key).await?;
        if !bool::from(record.hash.ct_eq(&key.hash())) {
            return Err(Denial::Unknown);
        }
        event.key_id = Some(record.id);
        event.app_id = Some(record.app_id);
        if record.revoked {
            return Err(Denial::Revoked);
        }
        let now = now_secs();
        if record.expires_at.is_some_and(|at| at <= now) {
            return Err(Denial::Expired);
        }
        let resolved = match self.routes.table().await.resolve(target) {
            Ok(resolved) => resolved,
            Err(_) => self
                .routes
                .table_after_miss()
                .await
                .resolve(target)
                .map_err(Denial::UnknownApi)?,
        };
        event.api_ref = Some(resolved.api.clone());
        event.operation = resolved.operation.clone();
        let server = target
            .environment
            .or(resolved.environment)
            .unwrap_or(Environment::Production);
        if record.environment != server {
            return Err(Denial::WrongEnvironment {
                key: record.environment,
                server,
            });
        }
        check_scopes(&record.scopes, &resolved.api, target.method.as_deref())?;
        let subscription = subscription_for(&record, &resolved.api)?;
        let rate_limit = match &subscription.rate {
            Some(cell) => Some(cell.take(Instant::now()).map_err(Denial::RateLimited)?),
            None => None,
        };
        let quota = match subscription.quota {
            Some((limit, period)) => {
                let (start, end) = period.window(now);
                let counter = self.quota_counter(subscription.id, start).await?;
                let used = counter.take(start, limit).ok_or(Denial::QuotaExceeded {
                    limit,
                    retry_after: (end - now).max(1) as u64,
                })?;
                event.quota = Some((subscription.id, start));
                Some(QuotaLeft {
                    limit,
                    remaining: limit - used,
                    resets_at: end,
                })
            }
            None => None,
        };
        Ok(Grant {
            valid: true,
            key: GrantKey {
                id: record.id,
                name: record.name.clone(),
                prefix: record.prefix.clone(),
                environment: record.environment,
            },
            app: GrantApp {
                id: record.app_id,
                name: record.app_name.clone(),
                owner: record.owner.clone(),
            },
            api: resolved.api.to_string(),
            operation: resolved.operation.map(|o| o.to_string()),
            plan: GrantPlan {
                product: subscription.product.clone(),
                name: subscription.plan.clone(),
            },
            quota,
            rate_limit,
        })
    }

    /// The key's record, from the cache or the database.
    async fn record(&self, key: &ApiKey) -> Result<Arc<KeyRecord>, Denial> {
        let prefix = key.prefix();
        {
            let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
            match keys.get(prefix) {
                Some(Slot::Known(record, at)) if at.elapsed() < KEY_TTL => {
                    return Ok(record.clone());
                }
                Some(Slot::Unknown(at)) if at.elapsed() < KEY_TTL => return Err(Denial::Unknown),
                _ => {}
            }
        }
        let db = self.db.clone();
        let owned = prefix.to_owned();
        let loaded = tokio::task::spawn_blocking(move || load(&db.conn(), &owned))
            .await
            .map_err(|_| Denial::Unavailable)?
            .map_err(|error| {
                tracing::error!(%error, "cannot read a key");
                Denial::Unavailable
            })?;
        let loaded = loaded.map(|mut record| {
            self.attach_limiters(&mut record);
            Arc::new(record)
        });
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_CACHED {
            keys.clear();
        }
        let now = Instant::now();
        match loaded {
            Some(record) => {
                keys.insert(prefix.to_owned(), Slot::Known(record.clone(), now));
                Ok(record)
            }
            None => {
                keys.insert(prefix.to_owned(), Slot::Unknown(now));
                Err(Denial::Unknown)
            }
        }
    }

    /// Gives each subscription its rate-limit cell, kept across cache reloads
    /// (a changed limit starts a new cell).
    fn attach_limiters(&self, record: &mut KeyRecord) {
        let mut limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        for subscription in &mut record.subscriptions {
            let Some(rate) = subscription.rate.take() else {
                continue;
            };
            let cell = limiters
                .entry(subscription.id)
                .and_modify(|cell| {
                    if !cell.same_limit(&rate) {
                        *cell = rate.clone();
                    }
                })
                .or_insert(rate);
            subscription.rate = Some(cell.clone());
        }
    }

    /// The quota counter of a subscription for the period starting at `start`,
    /// read from the database when the period is new to this process.
    async fn quota_counter(
        &self,
        subscription: i64,
        start: i64,
    ) -> Result<Arc<QuotaCounter>, Denial> {
        let counter = self
            .quotas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(subscription)
            .or_insert_with(|| Arc::new(QuotaCounter::new()))
            .clone();
        if counter.period.load(Ordering::Acquire) != start {
            let db = self.db.clone();
            let stored = tokio::task::spawn_blocking(move || {
                crate::usage::log::quota_used(&db.conn(), subscription, start)
            })
            .await
            .map_err(|_| Denial::Unavailable)?
            .map_err(|error| {
                tracing::error!(%error, "cannot read a quota counter");
                Denial::Unavailable
            })?;
            counter.start_period(start, stored);
        }
        Ok(counter)
    }
}

/// Reads a key, its app and its subscriptions with their plans and APIs.
fn load(conn: &Connection, prefix: &str) -> Result<Option<KeyRecord>, rusqlite::Error> {
    let Some(mut record) = conn
        .prepare_cached(
            "SELECT k.id, k.hash, k.name, k.prefix, k.environment, k.scopes, k.expires_at,
                    k.revoked_at IS NOT NULL, a.id, a.name, u.username
             FROM api_keys k JOIN apps a ON a.id = k.app_id JOIN users u ON u.id = a.owner_id
             WHERE k.prefix = ?1",
        )?
        .query_row([prefix], |r| {
            let hash: Vec<u8> = r.get(1)?;
            let scopes: String = r.get(5)?;
            Ok(KeyRecord {
                id: r.get(0)?,
                hash: hash.try_into().unwrap_or([0; 32]),
                name: r.get(2)?,
                prefix: r.get(3)?,
                environment: Environment::parse(&r.get::<_, String>(4)?)
                    .unwrap_or(Environment::Production),
                scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                expires_at: r.get(6)?,
                revoked: r.get(7)?,
                app_id: r.get(8)?,
                app_name: r.get(9)?,
                owner: r.get(10)?,
                subscriptions: Vec::new(),
            })
        })
        .optional()?
    else {
        return Ok(None);
    };
    let mut apis = conn.prepare_cached("SELECT api_ref FROM product_apis WHERE product_id = ?1")?;
    let rows = conn
        .prepare_cached(
            "SELECT s.id, s.status, p.id, p.name, pl.name, pl.rate_limit, pl.rate_period_secs,
                    pl.quota, pl.quota_period
             FROM subscriptions s JOIN products p ON p.id = s.product_id JOIN plans pl ON pl.id = s.plan_id
             WHERE s.app_id = ?1 ORDER BY s.id",
        )?
        .query_map([record.app_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, status, product_id, product, plan, rate, period, quota, quota_period) in rows {
        record.subscriptions.push(SubscriptionRecord {
            id,
            status,
            product,
            plan,
            apis: apis
                .query_map([product_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
            rate: rate
                .map(|limit| Arc::new(Gcra::new(limit as u64, Duration::from_secs(period as u64)))),
            quota: quota.map(|q| (q as u64, QuotaPeriod::parse(&quota_period))),
        });
    }
    Ok(Some(record))
}

/// A key's scopes: `read` allows safe methods only; `api:…` scopes name the
/// only APIs it may call. No scopes: no limits beyond the plans.
fn check_scopes(scopes: &[String], api: &str, method: Option<&str>) -> Result<(), Denial> {
    if scopes.iter().any(|s| s == "read") {
        let safe = method
            .is_some_and(|m| matches!(m.to_ascii_uppercase().as_str(), "GET" | "HEAD" | "OPTIONS"));
        if !safe {
            return Err(Denial::OutOfScope(format!(
                "the key is read-only (scope `read`), and this call is {}",
                method.map_or("of an unknown method".to_owned(), |m| format!("a {m}"))
            )));
        }
    }
    let apis: Vec<&str> = scopes
        .iter()
        .filter_map(|s| s.strip_prefix("api:").map(|_| s.as_str()))
        .collect();
    if !apis.is_empty() && !apis.contains(&api) {
        return Err(Denial::OutOfScope(format!(
            "the key's scopes do not include `{api}`"
        )));
    }
    Ok(())
}

/// The approved subscription that covers `api`, or why there is none.
fn subscription_for<'r>(
    record: &'r KeyRecord,
    api: &str,
) -> Result<&'r SubscriptionRecord, Denial> {
    let covering = || {
        record
            .subscriptions
            .iter()
            .filter(|s| s.apis.iter().any(|a| a == api))
    };
    if let Some(approved) = covering().find(|s| s.status == "approved") {
        return Ok(approved);
    }
    match covering().next() {
        Some(s) if s.status == "requested" => Err(Denial::Pending(api.to_owned())),
        Some(_) => Err(Denial::Rejected(api.to_owned())),
        None => Err(Denial::NotSubscribed(api.to_owned())),
    }
}

/// A rate limit as a GCRA cell: `limit` calls per `period`, all of them
/// allowed at once, then one per `period / limit`.
pub struct Gcra {
    limit: u64,
    period: Duration,
    interval_ns: u64,
    tolerance_ns: u64,
    /// The theoretical arrival time, in nanoseconds after `origin`.
    tat: Mutex<u64>,
    origin: Instant,
}

impl Gcra {
    /// A full cell.
    pub fn new(limit: u64, period: Duration) -> Gcra {
        let limit = limit.max(1);
        let interval_ns = (period.as_nanos() as u64 / limit).max(1);
        Gcra {
            limit,
            period,
            interval_ns,
            tolerance_ns: interval_ns * (limit - 1),
            tat: Mutex::new(0),
            origin: Instant::now(),
        }
    }

    fn same_limit(&self, other: &Gcra) -> bool {
        self.limit == other.limit && self.period == other.period
    }

    /// Takes one call at `now`: what is left, or the whole seconds to wait.
    pub fn take(&self, now: Instant) -> Result<RateLeft, u64> {
        let now_ns = now.saturating_duration_since(self.origin).as_nanos() as u64;
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let start = (*tat).max(now_ns);
        if start - now_ns > self.tolerance_ns {
            let wait_ns = start - now_ns - self.tolerance_ns;
            return Err(wait_ns.div_ceil(1_000_000_000).max(1));
        }
        *tat = start + self.interval_ns;
        let used_ns = *tat - now_ns;
        let remaining =
            (self.tolerance_ns + self.interval_ns).saturating_sub(used_ns) / self.interval_ns;
        Ok(RateLeft {
            limit: self.limit,
            period_secs: self.period.as_secs(),
            remaining,
        })
    }
}

/// Calls counted against a quota in the current period.
struct QuotaCounter {
    period: AtomicI64,
    used: AtomicU64,
    reset: Mutex<()>,
}

impl QuotaCounter {
    fn new() -> QuotaCounter {
        QuotaCounter {
            period: AtomicI64::new(i64::MIN),
            used: AtomicU64::new(0),
            reset: Mutex::new(()),
        }
    }

    /// Moves to the period starting at `start`, with `stored` calls already counted.
    fn start_period(&self, start: i64, stored: u64) {
        let _guard = self.reset.lock().unwrap_or_else(|e| e.into_inner());
        if self.period.load(Ordering::Acquire) != start {
            self.used.store(stored, Ordering::Release);
            self.period.store(start, Ordering::Release);
        }
    }

    /// Counts one call if the quota allows it: the calls used, this one included.
    fn take(&self, start: i64, limit: u64) -> Option<u64> {
        if self.period.load(Ordering::Acquire) != start {
            return None;
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < limit).then_some(used + 1)
            })
            .ok()
            .map(|before| before + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gcra_cell_allows_the_limit_at_once_then_one_per_interval() {
        let cell = Gcra::new(3, Duration::from_secs(3));
        let t0 = Instant::now();
        assert_eq!(cell.take(t0).unwrap().remaining, 2);
        assert_eq!(cell.take(t0).unwrap().remaining, 1);
        assert_eq!(cell.take(t0).unwrap().remaining, 0);
        assert_eq!(cell.take(t0).unwrap_err(), 1);
        // One interval later, one more call.
        let t1 = t0 + Duration::from_secs(1);
        assert!(cell.take(t1).is_ok());
        assert!(cell.take(t1).is_err());
        // After the whole period, the burst is back.
        let t2 = t1 + Duration::from_secs(3);
        for _ in 0..3 {
            assert!(cell.take(t2).is_ok());
        }
        assert!(cell.take(t2).is_err());
    }

    #[test]
    fn a_quota_counts_up_to_its_limit_and_starts_over_each_period() {
        let counter = QuotaCounter::new();
        assert_eq!(counter.take(60, 2), None, "no period yet");
        counter.start_period(60, 1);
        assert_eq!(counter.take(60, 2), Some(2));
        assert_eq!(counter.take(60, 2), None);
        counter.start_period(120, 0);
        assert_eq!(counter.take(120, 2), Some(1));
    }

    #[test]
    fn read_scopes_allow_safe_methods_and_api_scopes_name_apis() {
        let scopes = vec!["read".to_owned(), "api:default/petstore".to_owned()];
        assert!(check_scopes(&scopes, "api:default/petstore", Some("GET")).is_ok());
        assert!(matches!(
            check_scopes(&scopes, "api:default/petstore", Some("POST")),
            Err(Denial::OutOfScope(_))
        ));
        assert!(matches!(
            check_scopes(&scopes, "api:default/orders", Some("GET")),
            Err(Denial::OutOfScope(_))
        ));
        assert!(check_scopes(&[], "api:default/orders", None).is_ok());
    }

    #[test]
    fn every_denial_has_its_own_slug() {
        let denials = [
            Denial::Missing,
            Denial::Malformed("x"),
            Denial::Unknown,
            Denial::Expired,
            Denial::Revoked,
            Denial::UnknownApi("x".into()),
            Denial::WrongEnvironment {
                key: Environment::Sandbox,
                server: Environment::Production,
            },
            Denial::NotSubscribed("a".into()),
            Denial::Pending("a".into()),
            Denial::Rejected("a".into()),
            Denial::OutOfScope("a".into()),
            Denial::RateLimited(1),
            Denial::QuotaExceeded {
                limit: 1,
                retry_after: 1,
            },
            Denial::Unavailable,
        ];
        let slugs: std::collections::BTreeSet<_> = denials.iter().map(|d| d.parts().1).collect();
        assert_eq!(slugs.len(), denials.len());
    }
}
