//! The same connector in Rust, JavaScript and Python: one `discover` call
//! (fresh instance, a kv read and write, a log line) and the component's
//! size, for the plugin author's guide (figures in BENCHMARKS.md).
//!
//! `scripts/build-polyglot.sh && cargo bench -p portico-tests --bench polyglot`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use portico_runtime::{Grant, Origin, Runtime, RuntimeConfig};
use portico_tests::guests;

fn discover(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let polyglot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/polyglot");
    let components = [
        ("rust", PathBuf::from(guests::HELLO_CONNECTOR)),
        ("javascript", polyglot.join("hello-connector-js.wasm")),
        ("python", polyglot.join("hello-connector-py.wasm")),
    ];
    let mut group = c.benchmark_group("discover, fresh instance");
    group.sample_size(20);
    for (language, path) in components {
        let Ok(wasm) = std::fs::read(&path) else {
            eprintln!(
                "{language}: {} not built; run scripts/build-polyglot.sh",
                path.display()
            );
            continue;
        };
        let plugin = runtime
            .load(&wasm, Origin::File(language.into()), &Grant::default())
            .unwrap();
        println!("{language}: component {} bytes", wasm.len());
        group.bench_function(language, |b| {
            b.to_async(&rt)
                .iter(|| async { plugin.discover(None).await.unwrap() })
        });
    }
    group.finish();
}

criterion_group!(benches, discover);
criterion_main!(benches);
