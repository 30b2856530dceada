//! Measurements of plugin distribution (figures in BENCHMARKS.md, "Plugin
//! distribution and hostile plugins"): install to first call, through the
//! admin API and by dropping a file in the plugins directory, and calls
//! failed while a plugin is upgraded several times under load (target: 0).
//!
//! `cargo bench -p portico-tests --bench distribution`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portico_tests::{AppSpec, TestApp, guests, spawn_app};

/// Installs measured per way of installing.
const INSTALLS: usize = 10;
/// Upgrades made while callers hammer the plugin.
const UPGRADES: usize = 5;
/// Callers running at once during the upgrades.
const CALLERS: usize = 16;

/// The hello connector packed at `version` (new bytes, so every install
/// compiles). Versions only rise, so each install is the one that serves.
fn hello_at(version: &str) -> Vec<u8> {
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/hello-connector/plugin.toml"),
    )
    .expect("hello-connector's manifest")
    .replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
    let component = std::fs::read(guests::HELLO_CONNECTOR).expect("hello-connector built");
    portico_runtime::package::pack(&component, &manifest, None).expect("packs")
}

async fn upload(app: &TestApp, wasm: Vec<u8>) {
    let response = app
        .client
        .post(format!("{}/api/v1/plugins", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/wasm")
        .body(wasm)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// Calls the serving hello-connector once; true when it answered.
async fn call(app: &TestApp) -> bool {
    match app.server.state.plugins().get("hello-connector") {
        Some(plugin) => plugin.discover(None).await.is_ok(),
        None => false,
    }
}

/// Waits until `version` serves, then calls it; the time from `started`.
async fn first_call(app: &TestApp, version: &str, started: Instant) -> Duration {
    loop {
        let serving = app.server.state.plugins().get("hello-connector");
        if serving.is_some_and(|p| p.manifest().version.to_string() == version) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(call(app).await, "first call of {version} failed");
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn install_to_first_call() {
    let app = spawn_app(AppSpec::default()).await;
    let mut api = Vec::new();
    for i in 0..INSTALLS {
        let version = format!("1.0.{i}");
        let wasm = hello_at(&version);
        let started = Instant::now();
        upload(&app, wasm).await;
        api.push(first_call(&app, &version, started).await);
    }
    let mut dropped = Vec::new();
    let dir = app.server.state.config().plugins_dir();
    for i in 0..INSTALLS {
        let version = format!("2.0.{i}");
        let wasm = hello_at(&version);
        let started = Instant::now();
        // Written aside and renamed, as an operator's `mv` would.
        let temp = dir.join(format!(".hello-{version}.part"));
        std::fs::write(&temp, wasm).unwrap();
        std::fs::rename(&temp, dir.join(format!("hello-connector-{version}.wasm"))).unwrap();
        dropped.push(first_call(&app, &version, started).await);
    }
    let interval = app.server.state.config().plugins.watch_interval_ms;
    println!(
        "install to first call, POST /api/v1/plugins (compile included): median {:.0} ms, max {:.0} ms",
        median(api.clone()).as_secs_f64() * 1e3,
        api.iter().max().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "install to first call, file dropped in the plugins directory (watch every {interval} ms): median {:.0} ms, max {:.0} ms",
        median(dropped.clone()).as_secs_f64() * 1e3,
        dropped.iter().max().unwrap().as_secs_f64() * 1e3
    );
}

async fn hot_upgrade_under_load() {
    let app = Arc::new(spawn_app(AppSpec::default()).await);
    upload(&app, hello_at("1.0.0")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (app, stop, ok, failed) = (app.clone(), stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let counter = if call(&app).await { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                    // A call that never waits never yields; requests do, on their sockets.
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let started = Instant::now();
    for i in 1..=UPGRADES {
        let version = format!("1.{i}.0");
        upload(&app, hello_at(&version)).await;
        first_call(&app, &version, Instant::now()).await;
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    let elapsed = started.elapsed();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let info = app
        .server
        .state
        .plugins()
        .get("hello-connector")
        .unwrap()
        .info();
    println!(
        "hot upgrade under load: {UPGRADES} upgrades in {:.2} s with {CALLERS} callers: {} calls, {failed} failed; serving version p50 {:?} µs, p99 {:?} µs",
        elapsed.as_secs_f64(),
        ok + failed,
        info.health.p50_call_us,
        info.health.p99_call_us
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        install_to_first_call().await;
        hot_upgrade_under_load().await;
    });
}
