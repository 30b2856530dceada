//! Demo content for `portico serve --demo`, so a newcomer sees a portal at once:
//! the sample catalogue of `examples/catalog`, embedded in the binary and
//! imported like any descriptor files.

use std::path::Path;

use anyhow::Context as _;
use portico_catalog::{ApiSummary, CatalogStore, Database, ImportOptions, Lifecycle, import_paths};

/// The files of `examples/catalog`, by path relative to it.
const FILES: &[(&str, &str)] = &[
    (
        "catalog-info.yaml",
        include_str!("../../../examples/catalog/catalog-info.yaml"),
    ),
    (
        "specs/petstore.yaml",
        include_str!("../../../examples/catalog/specs/petstore.yaml"),
    ),
    (
        "specs/payments.yaml",
        include_str!("../../../examples/catalog/specs/payments.yaml"),
    ),
    (
        "specs/weather.yaml",
        include_str!("../../../examples/catalog/specs/weather.yaml"),
    ),
    (
        "specs/orders-v1.yaml",
        include_str!("../../../examples/catalog/specs/orders-v1.yaml"),
    ),
];

/// Seeds the demo catalogue under `data_dir`; seeding twice changes nothing.
pub fn seed(db: &Database, store: &dyn CatalogStore, data_dir: &Path) -> anyhow::Result<()> {
    let dir = data_dir.join("demo-catalog");
    for (name, text) in FILES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("files sit in a directory"))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let dir = dir.canonicalize()?;
    let report = import_paths(store, &[dir], &ImportOptions::default())?;
    if let Some(problem) = report.rejected.first() {
        anyhow::bail!("the demo catalogue does not import: {problem}");
    }
    seed_summaries(db)
}

/// The home page's API cards (until the home page reads the catalogue).
fn seed_summaries(db: &Database) -> anyhow::Result<()> {
    let api =
        |name: &str, title: &str, description: &str, owner: &str, lifecycle, tags: &[&str]| {
            ApiSummary {
                namespace: "default".into(),
                name: name.into(),
                title: title.into(),
                description: description.into(),
                owner: owner.into(),
                lifecycle,
                version: "1.0.0".into(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                source: "demo".into(),
            }
        };
    let apis = [
        api(
            "petstore",
            "Petstore",
            "Adopt, list and look after pets. The classic OpenAPI example.",
            "group:default/pets-team",
            Lifecycle::Production,
            &["pets", "rest"],
        ),
        api(
            "payments",
            "Payments",
            "Charge cards, refund orders and list payouts.",
            "group:default/payments-team",
            Lifecycle::Production,
            &["payments", "rest"],
        ),
        api(
            "weather",
            "Weather",
            "Forecasts and observations for any place on earth.",
            "group:default/data-team",
            Lifecycle::Experimental,
            &["data"],
        ),
        api(
            "legacy-orders",
            "Orders (v1)",
            "The first orders API; use Payments for new work.",
            "group:default/payments-team",
            Lifecycle::Deprecated,
            &["orders"],
        ),
    ];
    for api in &apis {
        db.upsert_api(api)?;
    }
    Ok(())
}
