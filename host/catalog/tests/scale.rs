//! Scale check, run by hand: `cargo test --release -p portico-catalog --test
//! scale -- --ignored --nocapture`. Imports 100,000 generated entities from
//! descriptor files and times the import, a re-import, full-text searches and
//! `filter=kind=api&limit=50` listings against the targets (60 s, p99 10 ms).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico_catalog::{
    CatalogStore, Database, EntityFilter, ImportOptions, ListQuery, Progress, SearchQuery,
    SqliteStore, Stage, import_paths,
};

const ENTITIES: usize = 100_000;
const FILES: usize = 100;

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() * 99 / 100]
}

#[test]
#[ignore = "takes a minute; run by hand"]
fn hundred_thousand_entities_import_and_answer_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    let words = [
        "billing",
        "payments",
        "orders",
        "search",
        "inventory",
        "shipping",
        "users",
        "pets",
    ];
    for f in 0..FILES {
        let mut text = String::new();
        for i in 0..ENTITIES / FILES {
            let n = f * (ENTITIES / FILES) + i;
            let word = words[n % words.len()];
            let team = format!("team-{}", n % 97);
            if n.is_multiple_of(3) {
                write!(
                    text,
                    "---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {word}-api-{n}\n  description: The {word} API number {n}\n  tags: [{word}, rest]\nspec:\n  type: openapi\n  lifecycle: production\n  owner: {team}\n  system: {word}\n  definition: \"openapi: 3.0.0\\ninfo: {{title: {word} {n}, version: '1'}}\\npaths: {{/{word}/{n}: {{get: {{operationId: get{word}{n}}}}}}}\"\n"
                )
                .unwrap();
            } else {
                write!(
                    text,
                    "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {word}-service-{n}\n  description: Serves {word} for shard {n}\n  tags: [{word}]\nspec:\n  type: service\n  lifecycle: experimental\n  owner: {team}\n  providesApis: [{word}-api-{}]\n",
                    n - n % 3
                )
                .unwrap();
            }
        }
        std::fs::write(catalog.join(format!("part-{f:03}.yaml")), text).unwrap();
    }
    // PORTICO_SCALE_DB keeps the database for a closer look.
    let db_path = std::env::var_os("PORTICO_SCALE_DB")
        .map_or_else(|| dir.path().join("catalog.db"), Into::into);
    let _ = std::fs::remove_file(&db_path);
    let db = Database::open(&db_path).unwrap();
    let store = SqliteStore::new(&db).unwrap();

    let started = Instant::now();
    let writing_from = Arc::new(Mutex::new(None));
    let mark = writing_from.clone();
    let options = ImportOptions {
        progress: Some(Arc::new(move |p: Progress| {
            if p.stage == Stage::Writing {
                mark.lock().unwrap().get_or_insert_with(Instant::now);
            }
        })),
        ..ImportOptions::default()
    };
    let report = import_paths(&store, std::slice::from_ref(&catalog), &options).unwrap();
    let import_time = started.elapsed();
    let reading_time = writing_from.lock().unwrap().map(|w| w - started);
    assert_eq!(
        report.added.len(),
        ENTITIES,
        "{:?}",
        report.rejected.first()
    );
    let started = Instant::now();
    let again = import_paths(&store, &[catalog], &ImportOptions::default()).unwrap();
    let reimport_time = started.elapsed();
    assert_eq!(again.unchanged.len(), ENTITIES);

    // Specific queries (a name, a few words) and broad ones (one word shared
    // by an eighth of the catalogue) are timed apart.
    let time_search = |text: String| {
        let query = SearchQuery {
            text,
            limit: 20,
            ..SearchQuery::default()
        };
        let t = Instant::now();
        let results = store.search(&query).unwrap();
        assert!(results.total > 0, "{query:?}");
        t.elapsed()
    };
    let specific: Vec<Duration> = (0..300)
        .map(|i| {
            let n = (i * 7919) % ENTITIES;
            let word = words[n % words.len()];
            time_search(match i % 3 {
                0 if n.is_multiple_of(3) => format!("{word}-api-{n}"),
                0 => format!("{word}-service-{n}"),
                1 => {
                    let c = if n.is_multiple_of(3) { n + 1 } else { n };
                    format!("{} shard {c}", words[c % words.len()])
                }
                _ => {
                    let api = n - n % 3;
                    format!("{} API number {api}", words[api % words.len()])
                }
            })
        })
        .collect();
    let broad: Vec<Duration> = (0..40)
        .map(|i| {
            time_search(if i % 2 == 0 {
                words[i % words.len()].to_owned()
            } else {
                "pay".to_owned()
            })
        })
        .collect();
    let mut list_times = Vec::new();
    let query = ListQuery {
        filter: EntityFilter::parse(&["kind=api"]).unwrap(),
        limit: Some(50),
        offset: 0,
        ..ListQuery::default()
    };
    for _ in 0..200 {
        let t = Instant::now();
        assert_eq!(store.list_entities(&query).unwrap().len(), 50);
        list_times.push(t.elapsed());
    }
    println!(
        "import {import_time:?} (reading {reading_time:?}), re-import {reimport_time:?}, search p99 {:?} (broad one-word: {:?}), \
         kind=api limit 50 p99 {:?}",
        p99(specific.clone()),
        p99(broad),
        p99(list_times.clone())
    );
    assert!(import_time < Duration::from_secs(60));
    assert!(p99(specific) < Duration::from_millis(10));
    assert!(p99(list_times) < Duration::from_millis(10));
}
