//! Products and their plans, as API owners define them: a product groups
//! APIs (by entity reference) behind one audience, like a catalogue entity's
//! visibility; a plan sets a rate limit, a quota per period and whether
//! subscriptions are approved at once or by the product's owner.

use std::collections::BTreeMap;

use portico_catalog::{Audience, EntityRef, PARTNER_GROUPS, VISIBILITIES, VISIBILITY};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppsError, check_slug, check_text, is_unique_violation};
use crate::identity::Actor;
use crate::identity::roles::ADMIN;

/// How long a quota counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuotaPeriod {
    /// A calendar minute.
    Minute,
    /// A calendar hour.
    Hour,
    /// A UTC day.
    Day,
    /// A UTC calendar month.
    Month,
}

impl QuotaPeriod {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaPeriod::Minute => "minute",
            QuotaPeriod::Hour => "hour",
            QuotaPeriod::Day => "day",
            QuotaPeriod::Month => "month",
        }
    }

    /// From its stored name; anything else reads as a day.
    pub(crate) fn parse(text: &str) -> QuotaPeriod {
        match text {
            "minute" => QuotaPeriod::Minute,
            "hour" => QuotaPeriod::Hour,
            "month" => QuotaPeriod::Month,
            _ => QuotaPeriod::Day,
        }
    }

    /// The period holding `now` (seconds since the epoch), as (start, end).
    pub fn window(self, now: i64) -> (i64, i64) {
        let fixed = |len: i64| {
            let start = now - now.rem_euclid(len);
            (start, start + len)
        };
        match self {
            QuotaPeriod::Minute => fixed(60),
            QuotaPeriod::Hour => fixed(3600),
            QuotaPeriod::Day => fixed(86_400),
            QuotaPeriod::Month => {
                let Some(date) = chrono::DateTime::from_timestamp(now, 0) else {
                    return fixed(86_400);
                };
                use chrono::{Datelike, NaiveDate};
                let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1)
                    .expect("the first of a month exists");
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(first);
                let at = |d: NaiveDate| {
                    d.and_hms_opt(0, 0, 0)
                        .map_or(0, |t| t.and_utc().timestamp())
                };
                (at(first), at(next))
            }
        }
    }
}

/// Who decides a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Approved as soon as it is requested.
    Auto,
    /// The product's owner approves or rejects it.
    Manual,
}

impl Approval {
    fn as_str(self) -> &'static str {
        match self {
            Approval::Auto => "auto",
            Approval::Manual => "manual",
        }
    }
}

/// A plan of a product.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    /// Its id.
    pub id: i64,
    /// Its machine name, unique within the product.
    pub name: String,
    /// Its display name.
    pub title: String,
    /// What it offers (CommonMark).
    pub description: String,
    /// Requests allowed per `rate_period_secs`; none: no rate limit.
    pub rate_limit: Option<u64>,
    /// The rate limit's period in seconds.
    pub rate_period_secs: u64,
    /// Requests allowed per `quota_period`; none: no quota.
    pub quota: Option<u64>,
    /// The quota's period.
    pub quota_period: QuotaPeriod,
    /// Who decides subscriptions.
    pub approval: Approval,
    /// The billing plan that prices its usage, `<billing plugin>/<plan id>`.
    pub billing: Option<String>,
}

/// A product: APIs offered together, with plans.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    /// Its id.
    pub id: i64,
    /// Its machine name, unique in the portal.
    pub name: String,
    /// Its display name.
    pub title: String,
    /// What it offers (CommonMark).
    pub description: String,
    /// `public`, `internal` or `partner`, as for catalogue entities.
    pub visibility: String,
    /// The groups a partner product is granted to.
    pub partner_groups: Vec<String>,
    /// The APIs it covers, as `api:namespace/name`.
    pub apis: Vec<String>,
    /// Its plans, by name.
    pub plans: Vec<Plan>,
    /// The owner's username, when an account owns it.
    pub owner: Option<String>,
}

impl Product {
    /// Whether `audience` may see it (the rule of catalogue entities).
    pub fn visible_to(&self, audience: &Audience) -> bool {
        let mut annotations = BTreeMap::from([(VISIBILITY.to_owned(), self.visibility.clone())]);
        annotations.insert(PARTNER_GROUPS.to_owned(), self.partner_groups.join(","));
        audience.sees(&annotations)
    }
}

/// A product to create or the new state of one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDraft {
    /// Machine name: 1 to 63 lower-case letters, digits and `-`.
    #[schema(pattern = "^[a-z][a-z0-9-]{0,62}$")]
    pub name: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
    /// What it offers (CommonMark).
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    /// `public` (the default), `internal` or `partner`.
    #[serde(default = "public")]
    #[schema(pattern = "^(public|internal|partner)$")]
    pub visibility: String,
    /// The groups a partner product is granted to.
    #[serde(default)]
    pub partner_groups: Vec<String>,
    /// The APIs it covers: `namespace/name` or `api:namespace/name`.
    #[serde(default)]
    pub apis: Vec<String>,
}

fn public() -> String {
    "public".into()
}

/// A plan to create or the new state of one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanDraft {
    /// Machine name, unique within the product.
    #[schema(pattern = "^[a-z][a-z0-9-]{0,62}$")]
    pub name: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
    /// What it offers.
    #[serde(default)]
    pub description: String,
    /// Requests allowed per `rate_period_secs`; none: no rate limit.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub rate_limit: Option<u64>,
    /// The rate limit's period in seconds (default 1).
    #[serde(default = "one_second")]
    #[schema(minimum = 1, maximum = 86400)]
    pub rate_period_secs: u64,
    /// Requests allowed per `quota_period`; none: no quota.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub quota: Option<u64>,
    /// The quota's period (default `day`).
    #[serde(default = "a_day")]
    pub quota_period: QuotaPeriod,
    /// `auto` (the default) or `manual`.
    #[serde(default = "auto")]
    pub approval: Approval,
    /// The billing plan that prices its usage, `<billing plugin>/<plan id>`
    /// (`billing-standard/tiered`); none: not billed.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*/[A-Za-z0-9._-]+$")]
    pub billing: Option<String>,
}

fn one_second() -> u64 {
    1
}
fn a_day() -> QuotaPeriod {
    QuotaPeriod::Day
}
fn auto() -> Approval {
    Approval::Auto
}

/// The longest rate-limit period: a day (longer spans are quotas).
const MAX_RATE_PERIOD_SECS: u64 = 86_400;
/// The most APIs one product covers.
const MAX_PRODUCT_APIS: usize = 500;

impl ProductDraft {
    /// Checks the draft; API references come back in full form.
    fn checked(&self) -> Result<Vec<String>, AppsError> {
        check_slug("product", &self.name)?;
        check_text("title", &self.title, 200)?;
        if self.description.len() > 20_000 {
            return Err(AppsError::Invalid(
                "the description is longer than 20,000 bytes".into(),
            ));
        }
        if !VISIBILITIES.contains(&self.visibility.as_str()) {
            return Err(AppsError::Invalid(format!(
                "visibility `{}` is not one of public, internal, partner",
                self.visibility
            )));
        }
        if self.visibility == "partner" && self.partner_groups.is_empty() {
            return Err(AppsError::Invalid(
                "a partner product needs at least one partner group".into(),
            ));
        }
        if self.apis.len() > MAX_PRODUCT_APIS {
            return Err(AppsError::Invalid(format!(
                "a product covers at most {MAX_PRODUCT_APIS} APIs"
            )));
        }
        let mut apis = Vec::new();
        for text in &self.apis {
            let reference = EntityRef::parse(text, Some("api"), "")
                .map_err(|e| AppsError::Invalid(format!("API `{text}`: {e}")))?;
            if !reference.is_kind("api") {
                return Err(AppsError::Invalid(format!("`{text}` is not an API")));
            }
            let key = reference.key();
            if !apis.contains(&key) {
                apis.push(key);
            }
        }
        Ok(apis)
    }
}

impl PlanDraft {
    fn check(&self) -> Result<(), AppsError> {
        check_slug("plan", &self.name)?;
        check_text("title", &self.title, 200)?;
        if self.rate_limit == Some(0) || self.quota == Some(0) {
            return Err(AppsError::Invalid(
                "a rate limit or quota of 0 allows nothing: leave it out for no limit".into(),
            ));
        }
        if !(1..=MAX_RATE_PERIOD_SECS).contains(&self.rate_period_secs) {
            return Err(AppsError::Invalid(format!(
                "rate_period_secs must be between 1 and {MAX_RATE_PERIOD_SECS}"
            )));
        }
        let too_big = |v: Option<u64>| v.is_some_and(|v| v > i64::MAX as u64);
        if too_big(self.rate_limit) || too_big(self.quota) {
            return Err(AppsError::Invalid("a limit is too large".into()));
        }
        Ok(())
    }
}

/// Whether `actor` may change `product`: its owner, or an admin.
pub fn may_manage(actor: &Actor, owner_id: Option<i64>) -> bool {
    actor.roles.contains(ADMIN) || (owner_id.is_some() && owner_id == actor.user_id)
}

/// Creates a product owned by `owner_id`.
pub fn create(
    conn: &mut Connection,
    draft: &ProductDraft,
    owner_id: Option<i64>,
) -> Result<Product, AppsError> {
    let apis = draft.checked()?;
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT INTO products (name, title, description, visibility, partner_groups, owner_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            draft.name,
            draft.title.trim(),
            draft.description,
            draft.visibility,
            serde_json::to_string(&draft.partner_groups).expect("strings serialise"),
            owner_id
        ],
    );
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(AppsError::Conflict(format!(
                "a product called `{}` exists already",
                draft.name
            )));
        }
        other => other?,
    };
    let id = tx.last_insert_rowid();
    set_apis(&tx, id, &apis)?;
    tx.commit()?;
    get(conn, id)?.ok_or_else(|| AppsError::NotFound("the product vanished".into()))
}

/// Replaces a product's title, description, audience and APIs (its name stays).
pub fn update(conn: &mut Connection, id: i64, draft: &ProductDraft) -> Result<Product, AppsError> {
    let apis = draft.checked()?;
    let tx = conn.transaction()?;
    let changed = tx.execute(
        "UPDATE products SET title = ?2, description = ?3, visibility = ?4, partner_groups = ?5
         WHERE id = ?1",
        params![
            id,
            draft.title.trim(),
            draft.description,
            draft.visibility,
            serde_json::to_string(&draft.partner_groups).expect("strings serialise"),
        ],
    )?;
    if changed == 0 {
        return Err(not_found(id));
    }
    tx.execute("DELETE FROM product_apis WHERE product_id = ?1", [id])?;
    set_apis(&tx, id, &apis)?;
    tx.commit()?;
    get(conn, id)?.ok_or_else(|| not_found(id))
}

fn set_apis(conn: &Connection, id: i64, apis: &[String]) -> Result<(), rusqlite::Error> {
    let mut insert =
        conn.prepare_cached("INSERT INTO product_apis (product_id, api_ref) VALUES (?1, ?2)")?;
    for api in apis {
        insert.execute(params![id, api])?;
    }
    Ok(())
}

/// Deletes a product with its plans and every subscription to them.
pub fn delete(conn: &Connection, id: i64) -> Result<(), AppsError> {
    if conn.execute("DELETE FROM products WHERE id = ?1", [id])? == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

fn not_found(id: i64) -> AppsError {
    AppsError::NotFound(format!("no product {id}"))
}

/// The owner of a product (none: no account owns it), or not found.
pub fn owner_of(conn: &Connection, id: i64) -> Result<Option<i64>, AppsError> {
    conn.query_row("SELECT owner_id FROM products WHERE id = ?1", [id], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .optional()?
    .ok_or_else(|| not_found(id))
}

/// One product with its APIs and plans.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Product>, AppsError> {
    Ok(query(conn, "WHERE p.id = ?1", params![id])?
        .into_iter()
        .next())
}

/// One product by name.
pub fn by_name(conn: &Connection, name: &str) -> Result<Option<Product>, AppsError> {
    Ok(query(conn, "WHERE p.name = ?1", params![name])?
        .into_iter()
        .next())
}

/// Every product `audience` may see, by title.
pub fn list(conn: &Connection, audience: &Audience) -> Result<Vec<Product>, AppsError> {
    Ok(query(conn, "", params![])?
        .into_iter()
        .filter(|p| p.visible_to(audience))
        .collect())
}

/// The products `audience` may see that cover an API (`api:namespace/name`).
pub fn for_api(
    conn: &Connection,
    api_ref: &str,
    audience: &Audience,
) -> Result<Vec<Product>, AppsError> {
    Ok(query(
        conn,
        "WHERE p.id IN (SELECT product_id FROM product_apis WHERE api_ref = ?1)",
        params![api_ref],
    )?
    .into_iter()
    .filter(|p| p.visible_to(audience))
    .collect())
}

fn query(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Product>, AppsError> {
    let mut statement = conn.prepare(&format!(
        "SELECT p.id, p.name, p.title, p.description, p.visibility, p.partner_groups, u.username
         FROM products p LEFT JOIN users u ON u.id = p.owner_id {filter}
         ORDER BY p.title COLLATE NOCASE, p.id"
    ))?;
    let mut products = statement
        .query_map(args, |r| {
            let groups: String = r.get(5)?;
            Ok(Product {
                id: r.get(0)?,
                name: r.get(1)?,
                title: r.get(2)?,
                description: r.get(3)?,
                visibility: r.get(4)?,
                partner_groups: serde_json::from_str(&groups).unwrap_or_default(),
                apis: Vec::new(),
                plans: Vec::new(),
                owner: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut apis = conn.prepare_cached(
        "SELECT api_ref FROM product_apis WHERE product_id = ?1 ORDER BY api_ref",
    )?;
    for product in &mut products {
        product.apis = apis
            .query_map([product.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        product.plans = plans(conn, product.id)?;
    }
    Ok(products)
}

const PLAN_COLUMNS: &str = "id, name, title, description, rate_limit, rate_period_secs, quota,
    quota_period, approval, billing";

/// A product's plans, by name.
pub fn plans(conn: &Connection, product_id: i64) -> Result<Vec<Plan>, rusqlite::Error> {
    conn.prepare_cached(&format!(
        "SELECT {PLAN_COLUMNS} FROM plans WHERE product_id = ?1 ORDER BY name"
    ))?
    .query_map([product_id], |r| plan_row_at(r, 0))?
    .collect()
}

/// One plan with its product's id.
pub fn plan(conn: &Connection, plan_id: i64) -> Result<Option<(i64, Plan)>, rusqlite::Error> {
    conn.query_row(
        &format!("SELECT product_id, {PLAN_COLUMNS} FROM plans WHERE id = ?1"),
        [plan_id],
        |r| {
            // The plan's columns follow the product id.
            Ok((r.get(0)?, plan_row_at(r, 1)?))
        },
    )
    .optional()
}

fn plan_row_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Plan> {
    Ok(Plan {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        title: r.get(at + 2)?,
        description: r.get(at + 3)?,
        rate_limit: r.get::<_, Option<i64>>(at + 4)?.map(|v| v as u64),
        rate_period_secs: r.get::<_, i64>(at + 5)? as u64,
        quota: r.get::<_, Option<i64>>(at + 6)?.map(|v| v as u64),
        quota_period: QuotaPeriod::parse(&r.get::<_, String>(at + 7)?),
        approval: if r.get::<_, String>(at + 8)? == "manual" {
            Approval::Manual
        } else {
            Approval::Auto
        },
        billing: r.get(at + 9)?,
    })
}

/// Adds a plan to a product.
pub fn create_plan(
    conn: &Connection,
    product_id: i64,
    draft: &PlanDraft,
) -> Result<Plan, AppsError> {
    draft.check()?;
    owner_of(conn, product_id)?;
    let inserted = conn.execute(
        "INSERT INTO plans (product_id, name, title, description, rate_limit, rate_period_secs,
                            quota, quota_period, approval, billing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            product_id,
            draft.name,
            draft.title.trim(),
            draft.description,
            draft.rate_limit.map(|v| v as i64),
            draft.rate_period_secs as i64,
            draft.quota.map(|v| v as i64),
            draft.quota_period.as_str(),
            draft.approval.as_str(),
            draft.billing,
        ],
    );
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(AppsError::Conflict(format!(
            "the product has a plan called `{}` already",
            draft.name
        ))),
        Err(e) => Err(e.into()),
        Ok(_) => plan(conn, conn.last_insert_rowid())?
            .map(|(_, p)| p)
            .ok_or_else(|| AppsError::NotFound("the plan vanished".into())),
    }
}

/// Changes a plan's title, description, limits and approval (its name stays).
pub fn update_plan(conn: &Connection, plan_id: i64, draft: &PlanDraft) -> Result<Plan, AppsError> {
    draft.check()?;
    let changed = conn.execute(
        "UPDATE plans SET title = ?2, description = ?3, rate_limit = ?4, rate_period_secs = ?5,
                          quota = ?6, quota_period = ?7, approval = ?8, billing = ?9
         WHERE id = ?1",
        params![
            plan_id,
            draft.title.trim(),
            draft.description,
            draft.rate_limit.map(|v| v as i64),
            draft.rate_period_secs as i64,
            draft.quota.map(|v| v as i64),
            draft.quota_period.as_str(),
            draft.approval.as_str(),
            draft.billing,
        ],
    )?;
    if changed == 0 {
        return Err(AppsError::NotFound(format!("no plan {plan_id}")));
    }
    plan(conn, plan_id)?
        .map(|(_, p)| p)
        .ok_or_else(|| AppsError::NotFound(format!("no plan {plan_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_catalog::Database;

    fn draft(name: &str, apis: &[&str]) -> ProductDraft {
        ProductDraft {
            name: name.into(),
            title: "Pets".into(),
            description: String::new(),
            visibility: "public".into(),
            partner_groups: vec![],
            apis: apis.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn plan_draft(name: &str) -> PlanDraft {
        PlanDraft {
            name: name.into(),
            title: "Free".into(),
            description: String::new(),
            rate_limit: Some(10),
            rate_period_secs: 1,
            quota: Some(1000),
            quota_period: QuotaPeriod::Day,
            approval: Approval::Auto,
            billing: None,
        }
    }

    #[test]
    fn a_product_keeps_its_apis_and_plans_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        let mut conn = db.conn();
        let product = create(
            &mut conn,
            &draft(
                "pets",
                &["petstore", "api:default/petstore", "ops/inventory"],
            ),
            None,
        )
        .unwrap();
        assert_eq!(product.apis, ["api:default/petstore", "api:ops/inventory"]);
        let free = create_plan(&conn, product.id, &plan_draft("free")).unwrap();
        assert_eq!(free.rate_limit, Some(10));
        assert!(matches!(
            create_plan(&conn, product.id, &plan_draft("free")),
            Err(AppsError::Conflict(_))
        ));
        assert!(matches!(
            create(&mut conn, &draft("pets", &[]), None),
            Err(AppsError::Conflict(_))
        ));
        assert!(matches!(
            create(&mut conn, &draft("bad", &["component:x"]), None),
            Err(AppsError::Invalid(_))
        ));
        let found = for_api(&conn, "api:ops/inventory", &Audience::member()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].plans.len(), 1);
        let updated = update(&mut conn, product.id, &draft("pets", &["inventory"])).unwrap();
        assert_eq!(updated.apis, ["api:default/inventory"]);
        delete(&conn, product.id).unwrap();
        assert!(get(&conn, product.id).unwrap().is_none());
    }

    #[test]
    fn a_partner_product_is_seen_by_members_and_its_groups_only() {
        let mut product = draft("p", &[]);
        product.visibility = "partner".into();
        product.partner_groups = vec!["acme".into()];
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        let stored = create(&mut db.conn(), &product, None).unwrap();
        assert!(stored.visible_to(&Audience::member()));
        assert!(stored.visible_to(&Audience::outsider(["acme"])));
        assert!(!stored.visible_to(&Audience::outsider(["globex"])));
        assert!(!stored.visible_to(&Audience::default()));
        product.partner_groups.clear();
        assert!(matches!(
            create(&mut db.conn(), &product, None),
            Err(AppsError::Invalid(_))
        ));
    }

    #[test]
    fn quota_periods_are_calendar_windows() {
        // 2026-11-27T21:13:58Z
        let now = 1_795_814_038;
        assert_eq!(
            QuotaPeriod::Minute.window(now),
            (1_795_813_980, 1_795_814_040)
        );
        let (start, end) = QuotaPeriod::Day.window(now);
        assert_eq!((start % 86_400, end - start), (0, 86_400));
        let (start, end) = QuotaPeriod::Month.window(now);
        assert_eq!(
            chrono::DateTime::from_timestamp(start, 0)
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            chrono::DateTime::from_timestamp(end, 0)
                .unwrap()
                .to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
    }
}
