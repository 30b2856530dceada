//! Demo content for `portico serve --demo`, so a newcomer sees a portal at once.

use portico_catalog::{ApiSummary, Database, Lifecycle};

/// Seeds the demo APIs; seeding twice changes nothing.
pub fn seed(db: &Database) -> anyhow::Result<()> {
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
