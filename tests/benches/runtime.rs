//! Benchmarks of the plugin runtime and start-up (figures in BENCHMARKS.md).
//!
//! `cargo bench -p portico-tests --bench runtime`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use portico_runtime::worlds::{SpecDocument, SpecFormat, renderer};
use portico_runtime::{Grant, Origin, Runtime, RuntimeConfig};
use portico_tests::guests;

fn options() -> renderer::RenderOptions {
    renderer::RenderOptions {
        theme: portico::branding::Branding::default().theme(),
        base_path: "/docs".into(),
        try_it_endpoint: None,
        servers: vec![],
        code_sample_languages: vec![],
        locale: "en".into(),
    }
}

fn plugin_call(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let wasm = std::fs::read(guests::FIXTURE_RENDERER).unwrap();
    let plugin = runtime
        .load(&wasm, Origin::File("fixture".into()), &Grant::default())
        .unwrap();
    let spec = SpecDocument {
        format: SpecFormat::Openapi31,
        media_type: "text/plain".into(),
        content: "x".repeat(10 * 1024),
        source: None,
    };
    let options = options();
    c.bench_function("call: fresh instance, 10 KB string in and out", |b| {
        b.to_async(&rt).iter(|| async {
            let out = plugin.render_docs(&spec, &options).await.unwrap();
            assert!(out.html.len() >= 10 * 1024);
        })
    });
}

fn component_load(c: &mut Criterion) {
    let wasm = std::fs::read(guests::HELLO_CONNECTOR).unwrap();
    let cold = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 4,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let mut group = c.benchmark_group("load hello-connector");
    group.sample_size(20);
    group.bench_function("cold (compile)", |b| {
        b.iter(|| {
            cold.load(&wasm, Origin::File("hello".into()), &Grant::default())
                .unwrap()
        })
    });
    let cache = tempfile::tempdir().unwrap();
    let cached = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
        max_concurrent_calls: 4,
        ..RuntimeConfig::default()
    })
    .unwrap();
    cached
        .load(&wasm, Origin::File("hello".into()), &Grant::default())
        .unwrap();
    group.bench_function("from the cache", |b| {
        b.iter(|| {
            cached
                .load(&wasm, Origin::File("hello".into()), &Grant::default())
                .unwrap()
        })
    });
    group.finish();
}

fn startup(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = portico_tests::test_config(data.path());
    portico_tests::install(&config.plugins_dir(), &[guests::HELLO_CONNECTOR]);
    // Warm the compiled-component cache, as every start after the first finds it.
    rt.block_on(async {
        portico::Server::start(config.clone())
            .await
            .unwrap()
            .shutdown(Duration::from_secs(1))
            .await
            .unwrap()
    });
    let mut group = c.benchmark_group("start-up");
    group.sample_size(20);
    group.bench_function("to ready, cache warm (bundled + 1 plugin, demo)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut config = config.clone();
                config.demo = true;
                let started = Instant::now();
                let server = rt.block_on(portico::Server::start(config)).unwrap();
                total += started.elapsed();
                rt.block_on(server.shutdown(Duration::from_secs(1)))
                    .unwrap();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, plugin_call, component_load, startup);
criterion_main!(benches);
