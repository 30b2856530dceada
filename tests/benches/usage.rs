//! Usage analytics measurements (figures in BENCHMARKS.md, "Usage analytics").
//!
//! 1. **Ingestion**: events offered to `UsageLog` (the request path's side)
//!    at 50,000 and 100,000 a second for 10 seconds, appended and rolled up
//!    (minute, hour and day, by consumer and by operation, latency sketches
//!    merged) by its writer thread: how many made it, and how soon after the
//!    last was sent they were all rolled up. Then 30 days of history written
//!    oldest first through the same writer, as the events/s it sustains.
//! 2. **Dashboards at 10 million events**: a portal with 50 developers (100
//!    apps, 200 keys), 5 APIs of 8 operations in 2 products of one owner, and
//!    10 million events over 30 days, retention applied as configured by
//!    default. The median time of `GET /api/v1/usage` and of the whole
//!    `/dashboard` page (the bundled widget plugin drawing every chart) for a
//!    developer, the owner and the administrator, through the real server.
//!
//! `cargo bench -p portico-tests --bench usage` (`EVENTS=1000000` for a quicker run)

use std::sync::Arc;
use std::time::{Duration, Instant};

use portico::apps::keys::{self, Environment, KeyDraft};
use portico::apps::products::{self, Approval, PlanDraft, ProductDraft, QuotaPeriod};
use portico::apps::subscriptions::{self, AppDraft};
use portico::config::UsageSettings;
use portico::identity::sessions;
use portico::identity::users::{self, NewUser};
use portico::usage::log::{Source, UsageLog, UsageRecord};
use portico::usage::now_ms;
use portico::usage::upkeep::apply_retention;
use portico::usage::writer::Writer;
use portico::usage_api::rfc3339;
use portico_tests::{AppSpec, TestApp, spawn_app};

const DEVELOPERS: i64 = 50;
const APIS: usize = 5;
const OPERATIONS: usize = 8;
const DAY_MS: i64 = 86_400_000;
/// Samples of each timing; the median is reported.
const SAMPLES: usize = 21;

/// A small deterministic generator (xorshift), so runs compare.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What events are made of: each app with its two keys, the APIs and operations.
struct World {
    apps: Vec<(i64, [i64; 2])>,
    apis: Vec<Arc<str>>,
    operations: Vec<Arc<str>>,
}

impl World {
    fn event(&self, random: &mut Random, at_ms: i64) -> UsageRecord {
        let (app, keys) = self.apps[random.below(self.apps.len() as u64) as usize];
        let status = match random.below(100) {
            0..85 => 200,
            85..90 => 201,
            90..95 => 404,
            95..98 => 429,
            _ => 500,
        };
        // A long tail: mostly a few milliseconds, sometimes a second.
        let latency = 500.0 + random.unit().powi(4) * 1_000_000.0;
        UsageRecord {
            at_ms,
            source: Source::Verify,
            key_id: Some(keys[random.below(2) as usize]),
            app_id: Some(app),
            api_ref: Some(self.apis[random.below(APIS as u64) as usize].clone()),
            operation: Some(self.operations[random.below(OPERATIONS as u64) as usize].clone()),
            status,
            calls: 1,
            errors: u64::from(status >= 400),
            latency_us: Some(latency),
            bytes: 0,
            quota: None,
        }
    }
}

/// Accounts, products, apps and keys, made through the portal's own functions.
/// Returns the world, the owner's id and the first developer's id.
fn seed(app: &TestApp) -> (World, i64, i64) {
    let state = &app.server.state;
    let roles = state.identity().roles();
    let user = |name: &str, role: &str| {
        users::create_user(
            state.db(),
            roles,
            &NewUser {
                username: name.into(),
                password: "benchmark-password".into(),
                roles: vec![role.into()],
                ..NewUser::default()
            },
        )
        .expect("a user")
    };
    let owner = user("owner", "api-owner");
    let apis: Vec<String> = (0..APIS).map(|i| format!("bench-{i}")).collect();
    let mut conn = state.db().conn();
    let mut plans = Vec::new();
    for (name, members) in [("first", &apis[..2]), ("second", &apis[2..])] {
        let product = products::create(
            &mut conn,
            &ProductDraft {
                name: name.into(),
                title: name.into(),
                description: String::new(),
                visibility: "public".into(),
                partner_groups: Vec::new(),
                apis: members.to_vec(),
            },
            Some(owner),
        )
        .expect("a product");
        let plan = products::create_plan(
            &conn,
            product.id,
            &PlanDraft {
                name: "metered".into(),
                title: "Metered".into(),
                description: String::new(),
                rate_limit: None,
                rate_period_secs: 1,
                quota: Some(10_000_000),
                quota_period: QuotaPeriod::Month,
                approval: Approval::Auto,
                billing: Some("billing-standard/tiered".into()),
            },
        )
        .expect("a plan");
        plans.push(plan.id);
    }
    drop(conn);
    let mut world = World {
        apps: Vec::new(),
        apis: apis
            .iter()
            .map(|a| Arc::from(format!("api:default/{a}")))
            .collect(),
        operations: (0..OPERATIONS)
            .map(|i| Arc::from(format!("{} /things/{i}", ["GET", "POST"][i % 2])))
            .collect(),
    };
    let mut first_developer = 0;
    for d in 0..DEVELOPERS {
        let developer = user(&format!("developer-{d}"), "developer");
        if d == 0 {
            first_developer = developer;
        }
        let conn = state.db().conn();
        for a in 0..2 {
            let made = subscriptions::create_app(
                &conn,
                developer,
                &AppDraft {
                    name: format!("app-{a}"),
                    description: String::new(),
                },
            )
            .expect("an app");
            for &plan in &plans {
                subscriptions::subscribe(&conn, made.id, plan).expect("a subscription");
            }
            let key = |n: &str| {
                keys::create(
                    &conn,
                    made.id,
                    &KeyDraft {
                        name: n.into(),
                        environment: Environment::Production,
                        scopes: Vec::new(),
                        expires_at: None,
                    },
                )
                .expect("a key")
                .0
                .id
            };
            world.apps.push((made.id, [key("one"), key("two")]));
        }
    }
    (world, owner, first_developer)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn per_second(events: usize, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

/// Offers events to `UsageLog` at `rate` a second for 10 seconds; returns
/// how many were appended and how long after the last was sent they were
/// all rolled up.
fn offered(app: &TestApp, world: &World, rate: u32, random: &mut Random) -> (i64, Duration) {
    let conn = rusqlite::Connection::open(app.server.state.db().path()).expect("a connection");
    let sum = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect("a sum") };
    let appended = || sum("SELECT coalesce(sum(calls), 0) FROM usage_events");
    let rolled_up =
        || sum("SELECT coalesce(sum(calls), 0) FROM usage_by_consumer WHERE granularity = 'day'");
    let before = appended();
    let log = UsageLog::start(app.server.state.db());
    let started = Instant::now();
    for tick in 0..1000u32 {
        // A hundredth of a second's events every 10 ms.
        for _ in 0..rate / 100 {
            log.record_window(world.event(random, now_ms()));
        }
        let due = Duration::from_millis(10) * (tick + 1);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let sent = Instant::now();
    // The writer drains its queue, flushes its roll-ups and stops: done when
    // everything appended is rolled up and nothing more is appended.
    drop(log);
    loop {
        let now = appended();
        if rolled_up() == now {
            std::thread::sleep(Duration::from_millis(500));
            if appended() == now {
                return (now - before, sent.elapsed() - Duration::from_millis(500));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ten million events (or `EVENTS`) over the last 30 days, oldest first, as
/// they would have arrived: appended in the writer's largest batches, the
/// roll-ups flushed every 262,144 events (about `writer::FLUSH` at 50,000 a second).
fn history(app: &TestApp, world: &World, events: usize, random: &mut Random) -> f64 {
    let mut writer = Writer::open(app.server.state.db().path()).expect("a writer");
    let now = now_ms();
    let step = 30.0 * DAY_MS as f64 / events as f64;
    let started = Instant::now();
    let mut written = 0;
    while written < events {
        let size = (events - written).min(32_768);
        let batch: Vec<UsageRecord> = (written..written + size)
            .map(|i| world.event(random, now - 30 * DAY_MS + (i as f64 * step) as i64))
            .collect();
        writer.append(&batch).expect("a batch written");
        written += size;
        if written % 262_144 == 0 {
            writer.flush().expect("roll-ups written");
        }
    }
    writer.flush().expect("roll-ups written");
    per_second(events, started.elapsed())
}

async fn time_get(app: &TestApp, path: &str, auth: &Auth) -> Duration {
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let request = app.client.get(format!("{}{path}", app.base));
        let request = match auth {
            Auth::Token => request.bearer_auth(&app.admin_token),
            Auth::Session(cookie) => request.header("cookie", format!("portico_session={cookie}")),
        };
        let started = Instant::now();
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let body = response.text().await.expect("a body");
        samples.push(started.elapsed());
        assert!(status.is_success(), "{path}: {status} {body}");
        if path.starts_with("/dashboard") {
            assert!(
                body.contains("data:image/svg+xml"),
                "{path} draws its charts"
            );
        }
    }
    median(samples)
}

enum Auth {
    Token,
    Session(String),
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(10_000_000);
    let app = spawn_app(AppSpec {
        // Upkeep would race the measurements; retention is applied below.
        usage: UsageSettings {
            upkeep_interval_secs: 86_400,
            ..UsageSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    let (world, owner, developer) = seed(&app);
    let mut random = Random(0x9e37_79b9_7f4a_7c15);

    println!("## Ingestion through UsageLog, 10 s at a fixed offered rate");
    for rate in [50_000u32, 100_000] {
        let (written, lag) = offered(&app, &world, rate, &mut random);
        let offered = i64::from(rate) * 10;
        println!(
            "offered {offered} at {rate}/s: {written} appended and rolled up ({} dropped), the last rolled up {lag:?} after the last was sent",
            offered - written
        );
    }

    println!("## History: {events} events over 30 days");
    let rate = history(&app, &world, events, &mut random);
    println!("appended and rolled up at {rate:.0} events/s");
    let path = app.server.state.db().path().to_owned();
    let started = Instant::now();
    let deleted = apply_retention(&path, &UsageSettings::default(), now_ms()).expect("retention");
    println!(
        "default retention deleted {deleted} rows in {:?}",
        started.elapsed()
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("database: {} MB", size / 1_000_000);

    let settings = &app.server.state.config().auth;
    let session = |user| {
        Auth::Session(
            sessions::create(app.server.state.db(), user, settings)
                .expect("a session")
                .0,
        )
    };
    let developer = session(developer);
    let owner = session(owner);
    println!("## Dashboards (median of {SAMPLES})");
    for (who, auth, view) in [
        ("developer", &developer, "mine"),
        ("owner", &owner, "owned"),
        ("admin", &Auth::Token, "all"),
    ] {
        let api = time_get(
            &app,
            &format!(
                "/api/v1/usage?view={view}&group_by=status_class&from={}",
                rfc3339(now_ms() - 7 * DAY_MS)
            ),
            auth,
        )
        .await;
        let page = time_get(&app, &format!("/dashboard?view={view}"), auth).await;
        println!(
            "{who:>9}: /api/v1/usage (7 days by status class, hourly) {api:?}, /dashboard {page:?}"
        );
    }
}
