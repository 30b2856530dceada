//! Gateway sync measurements (figures in BENCHMARKS.md, "Gateway sync"): a
//! real Caddy holding 1,000 reverse-proxy routes, synced through the bundled
//! `connector-caddy`, first into an empty catalogue (1,000 added) and then
//! again (1,000 unchanged). Each run records the time spent in the plugin's
//! calls and in the catalogue write; the rest is the host's own work (the
//! run's records, turning APIs into entities) and the HTTP round trip.
//!
//! `cargo bench -p portico-tests --bench gateway`

use std::time::{Duration, Instant};

use portico_tests::caddy::{Caddy, proxy_route};
use portico_tests::{AppSpec, TestApp, spawn_app};
use serde_json::Value;

/// Routes in the Caddy config.
const ROUTES: usize = 1_000;
/// Samples of each measurement; the median is reported.
const SAMPLES: usize = 7;

struct Sample {
    total: Duration,
    plugin_ms: u64,
    store_ms: u64,
}

async fn sync(app: &TestApp) -> Sample {
    let started = Instant::now();
    let run: Value = app
        .client
        .post(format!("{}/api/v1/gateways/edge/sync", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("sync")
        .json()
        .await
        .expect("a run");
    let total = started.elapsed();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["discovered"], ROUTES as u64);
    Sample {
        total,
        plugin_ms: run["plugin_ms"].as_u64().unwrap_or(0),
        store_ms: run["store_ms"].as_u64().unwrap_or(0),
    }
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

fn report(what: &str, samples: &[Sample]) {
    let total = median(samples.iter().map(|s| s.total).collect());
    let plugin = median(samples.iter().map(|s| s.plugin_ms).collect());
    let store = median(samples.iter().map(|s| s.store_ms).collect());
    let share = plugin as f64 / total.as_millis().max(1) as f64 * 100.0;
    println!(
        "{what:<32} total {:>6} ms   plugin {plugin:>5} ms ({share:>4.1} %)   catalogue write {store:>5} ms",
        total.as_millis()
    );
}

fn app_spec(caddy: &Caddy) -> AppSpec {
    let gateway = toml::from_str(&format!(
        "name = \"edge\"\nconnector = \"connector-caddy\"\nsync_interval = \"off\"\n\
         timeout = \"60s\"\nallow_private_addresses = true\n[config]\nadmin_url = \"{}\"\n",
        caddy.admin_url
    ))
    .expect("a gateway");
    AppSpec {
        gateways: vec![gateway],
        ..AppSpec::default()
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let caddy = Caddy::start().await;
        let routes: Vec<Value> = (0..ROUTES)
            .map(|i| {
                proxy_route(
                    None,
                    &format!("svc{i}.example.com"),
                    "/v1/*",
                    &format!("10.0.{}.{}:8080", i / 250, i % 250),
                )
            })
            .collect();
        caddy.load_routes(Value::Array(routes)).await;

        let mut first = Vec::new();
        let mut again = Vec::new();
        for _ in 0..SAMPLES {
            // A fresh portal each time, so the first sync adds all 1,000.
            let app = spawn_app(app_spec(&caddy)).await;
            first.push(sync(&app).await);
            again.push(sync(&app).await);
        }
        println!("Gateway sync of {ROUTES} Caddy routes, median of {SAMPLES}:");
        report("first sync (1,000 added)", &first);
        report("sync again (1,000 unchanged)", &again);
    });
}
