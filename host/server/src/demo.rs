//! Demo content for `portico serve --demo`, so a newcomer sees a portal at once,
//! with a catalogue from two sources as a real one has:
//!
//! - the sample catalogue of `examples/catalog` (APIs with versions,
//!   lifecycles and sandbox environments), embedded in the binary and
//!   imported like any descriptor files;
//! - a gateway, `portal`, whose connector (the bundled `connector-openapi`)
//!   discovers the portal's own API from its `/openapi.json`, synced once the
//!   server listens;
//! - a product per API group (Pet Store, Payments, Weather), each with a
//!   `free` plan approved at once and a `pro` plan the owner approves.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use portico_catalog::{CatalogStore, Database, ImportOptions, import_paths};

use crate::apps::products::{self, Approval, PlanDraft, ProductDraft, QuotaPeriod};
use crate::config::{Every, GatewaySettings, HumaneDuration};

/// The demo gateway's name; its APIs come from the source `gateway:portal`.
pub const GATEWAY: &str = "portal";

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
        "specs/payments-v1.yaml",
        include_str!("../../../examples/catalog/specs/payments-v1.yaml"),
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
pub fn seed(store: &dyn CatalogStore, data_dir: &Path) -> anyhow::Result<()> {
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
    Ok(())
}

/// The demo products: (name, title, description, APIs).
const PRODUCTS: &[(&str, &str, &str, &[&str])] = &[
    (
        "pet-store",
        "Pet Store",
        "Adopt, list and look after pets.",
        &["default/petstore"],
    ),
    (
        "payments",
        "Payments",
        "Charge cards, refund orders and list payouts; with the legacy orders API.",
        &["default/payments", "default/legacy-orders"],
    ),
    (
        "weather",
        "Weather",
        "Forecasts and observations.",
        &["default/weather"],
    ),
];

/// Creates the demo products and their plans; products that exist are left alone.
pub fn seed_products(db: &Database) -> anyhow::Result<()> {
    let mut conn = db.conn();
    for (name, title, description, apis) in PRODUCTS {
        if products::by_name(&conn, name)?.is_some() {
            continue;
        }
        let draft = ProductDraft {
            name: (*name).into(),
            title: (*title).into(),
            description: (*description).into(),
            visibility: "public".into(),
            partner_groups: Vec::new(),
            apis: apis.iter().map(|a| (*a).to_owned()).collect(),
        };
        let product = products::create(&mut conn, &draft, None)
            .with_context(|| format!("cannot create the demo product {name}"))?;
        for plan in [
            PlanDraft {
                name: "free".into(),
                title: "Free".into(),
                description: "To try the API: approved at once.".into(),
                rate_limit: Some(10),
                rate_period_secs: 1,
                quota: Some(1000),
                quota_period: QuotaPeriod::Day,
                approval: Approval::Auto,
                billing: Some("billing-standard/free".into()),
            },
            PlanDraft {
                name: "pro".into(),
                title: "Pro".into(),
                description: "For production traffic: the owner approves.".into(),
                rate_limit: Some(100),
                rate_period_secs: 1,
                quota: Some(100_000),
                quota_period: QuotaPeriod::Month,
                approval: Approval::Manual,
                billing: Some("billing-standard/tiered".into()),
            },
        ] {
            products::create_plan(&conn, product.id, &plan)
                .with_context(|| format!("cannot create the demo plan {name}/{}", plan.name))?;
        }
    }
    Ok(())
}

/// The demo gateway: the portal's own API, discovered over HTTP from the
/// address the server listens on.
pub fn gateway(listening: SocketAddr) -> GatewaySettings {
    let mut address = listening;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let mut config = toml::Table::new();
    config.insert(
        "urls".into(),
        toml::Value::Array(vec![format!("http://{address}/openapi.json").into()]),
    );
    GatewaySettings {
        name: GATEWAY.into(),
        connector: "connector-openapi".into(),
        // Synced once at start: the portal's own API does not change while it runs.
        sync_interval: Every::Off,
        timeout: HumaneDuration(std::time::Duration::from_secs(30)),
        owner: "group:default/platform".into(),
        allowed_outbound_hosts: None,
        allow_private_addresses: true,
        // The portal's own API checks sessions and tokens, not gateway keys.
        keys: crate::config::KeyProvisioning::None,
        config,
        secrets: Default::default(),
        usage_token: None,
    }
}

#[cfg(test)]
mod tests {
    use portico_catalog::{Database, EntityRef, SqliteStore};

    use super::*;

    #[test]
    fn the_demo_has_an_api_with_two_versions_and_a_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("portal.db")).unwrap();
        let store = SqliteStore::new(&db).unwrap();
        seed(&store, dir.path()).unwrap();
        seed(&store, dir.path()).unwrap();
        let versions = store
            .versions(&EntityRef::new("api", "default", "payments"))
            .unwrap();
        let names: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(names, ["2.1.0", "1.8.0"]);
        assert_eq!(versions[1].lifecycle.sunset(), Some("2027-06-30"));
        assert!(
            versions[0]
                .environments
                .iter()
                .any(|e| e.name == "sandbox" && e.url == "https://sandbox.payments.example.com")
        );
    }
}
