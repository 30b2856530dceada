//! Docs rendering of GitHub's 13 MB OpenAPI description (figures in BENCHMARKS.md):
//! cold renders through the bundled `docs-openapi` plugin, and the cached page
//! over HTTP. Skips with a notice when `../shared/corpus` is not beside the repository.
//!
//! `cargo bench -p portico-tests --bench docs`

use std::path::Path;
use std::time::{Duration, Instant};

use portico::docs::{DocsRequest, DocsService};
use portico_catalog::SpecDocument;
use portico_catalog::spec::{ParsedSpec, SpecHint};
use portico_tests::{AppSpec, spawn_app};

/// Runs per figure; the median is reported.
const RUNS: usize = 7;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/openapi/github-api.github.com.json");
    let Ok(bytes) = std::fs::read(&spec) else {
        eprintln!("skipped: no {}", spec.display());
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let app = spawn_app(AppSpec::default()).await;
        let state = &app.server.state;
        let parsed = ParsedSpec::parse(&bytes, &SpecHint::from_file_name("github.json")).unwrap();
        let document = SpecDocument {
            hash: parsed.content_hash().to_owned(),
            format: parsed.format().as_str().to_owned(),
            media_type: "application/json".into(),
            content: parsed.text().to_owned(),
        };
        let request = DocsRequest {
            base_path: "/apis/default/github/docs".into(),
            servers: Vec::new(),
        };

        let mut cold = Vec::new();
        let mut sizes = (0, 0);
        for _ in 0..RUNS {
            // A fresh service has an empty cache: every run calls the plugin.
            let service = DocsService::default();
            let started = Instant::now();
            let docs = service
                .render(
                    state.plugins().all(),
                    state.branding(),
                    document.clone(),
                    request.clone(),
                )
                .await
                .unwrap();
            cold.push(started.elapsed());
            sizes = (docs.html.len(), docs.markdown.len());
        }
        let service = DocsService::default();
        let render = || {
            service.render(
                state.plugins().all(),
                state.branding(),
                document.clone(),
                request.clone(),
            )
        };
        render().await.unwrap();
        let mut cached = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            render().await.unwrap();
            cached.push(started.elapsed());
        }
        let plugin = app.plugin("docs-openapi");
        let health = plugin.health();
        println!("github-api.github.com.json, {} bytes", bytes.len());
        println!(
            "cold render through docs-openapi (median of {RUNS}): {:?}",
            median(cold)
        );
        println!("cached (median of {RUNS}): {:?}", median(cached));
        println!("html {} bytes, markdown {} bytes", sizes.0, sizes.1);
        println!(
            "plugin: peak linear memory {} MiB",
            health.peak_memory_bytes >> 20
        );
    });
}
