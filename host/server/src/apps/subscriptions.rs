//! Developers' apps and their subscriptions to product plans. An app holds at
//! most one subscription per product; requesting a plan of an auto-approve
//! plan approves it at once, otherwise the product's owner decides, and both
//! sides read the same state (`requested`, `approved`, `rejected`).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::products::{self, Approval};
use super::{AppsError, check_text, is_unique_violation};

/// An app: a developer's program that holds keys and subscriptions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct App {
    /// Its id.
    pub id: i64,
    /// Its name, unique among its owner's apps.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The owner's username.
    pub owner: String,
    /// When it was created.
    pub created_at: String,
    /// Its subscriptions, by product.
    pub subscriptions: Vec<Subscription>,
}

/// An app to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppDraft {
    /// 1 to 100 characters, unique among the owner's apps.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// What it is for.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    /// Waiting for the product's owner.
    Requested,
    /// Keys of the app may call the product's APIs.
    Approved,
    /// The owner said no; the developer may ask again.
    Rejected,
}

impl SubscriptionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Requested => "requested",
            SubscriptionStatus::Approved => "approved",
            SubscriptionStatus::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> SubscriptionStatus {
        match text {
            "approved" => SubscriptionStatus::Approved,
            "rejected" => SubscriptionStatus::Rejected,
            _ => SubscriptionStatus::Requested,
        }
    }
}

/// An app's subscription to a plan of a product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    /// Its id.
    pub id: i64,
    /// The app's id.
    pub app_id: i64,
    /// The app's name.
    pub app: String,
    /// The app owner's username.
    pub developer: String,
    /// The product's id.
    pub product_id: i64,
    /// The product's name.
    pub product: String,
    /// The product's title.
    pub product_title: String,
    /// The plan's id.
    pub plan_id: i64,
    /// The plan's name.
    pub plan: String,
    /// The plan's title.
    pub plan_title: String,
    /// Where it stands.
    pub status: SubscriptionStatus,
    /// When it was (last) requested.
    pub requested_at: String,
    /// When the owner (or the auto-approving plan) decided.
    pub decided_at: Option<String>,
    /// The owner's note to the developer.
    pub note: String,
}

/// Creates an app for `owner_id`.
pub fn create_app(conn: &Connection, owner_id: i64, draft: &AppDraft) -> Result<App, AppsError> {
    let name = draft.name.trim();
    check_text("app name", name, 100)?;
    if draft.description.len() > 2000 {
        return Err(AppsError::Invalid(
            "the description is longer than 2,000 bytes".into(),
        ));
    }
    match conn.execute(
        "INSERT INTO apps (owner_id, name, description) VALUES (?1, ?2, ?3)",
        params![owner_id, name, draft.description.trim()],
    ) {
        Err(e) if is_unique_violation(&e) => {
            return Err(AppsError::Conflict(format!(
                "you have an app called `{name}` already"
            )));
        }
        other => other?,
    };
    app(conn, conn.last_insert_rowid())?
        .ok_or_else(|| AppsError::NotFound("the app vanished".into()))
}

/// The owner of an app, or not found.
pub fn owner_of(conn: &Connection, app_id: i64) -> Result<i64, AppsError> {
    conn.query_row("SELECT owner_id FROM apps WHERE id = ?1", [app_id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| app_not_found(app_id))
}

fn app_not_found(id: i64) -> AppsError {
    AppsError::NotFound(format!("no app {id}"))
}

/// One app with its subscriptions.
pub fn app(conn: &Connection, app_id: i64) -> Result<Option<App>, AppsError> {
    Ok(apps_where(conn, "WHERE a.id = ?1", app_id)?
        .into_iter()
        .next())
}

/// Every app of one owner, by name.
pub fn apps_of(conn: &Connection, owner_id: i64) -> Result<Vec<App>, AppsError> {
    apps_where(conn, "WHERE a.owner_id = ?1", owner_id)
}

fn apps_where(conn: &Connection, filter: &str, arg: i64) -> Result<Vec<App>, AppsError> {
    let mut apps = conn
        .prepare_cached(&format!(
            "SELECT a.id, a.name, a.description, u.username, a.created_at
             FROM apps a JOIN users u ON u.id = a.owner_id {filter}
             ORDER BY a.name COLLATE NOCASE, a.id"
        ))?
        .query_map([arg], |r| {
            Ok(App {
                id: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                owner: r.get(3)?,
                created_at: r.get(4)?,
                subscriptions: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for app in &mut apps {
        app.subscriptions = subscriptions_where(conn, "WHERE s.app_id = ?1", params![app.id])?;
    }
    Ok(apps)
}

/// Deletes an app with its subscriptions and keys.
pub fn delete_app(conn: &Connection, app_id: i64) -> Result<(), AppsError> {
    if conn.execute("DELETE FROM apps WHERE id = ?1", [app_id])? == 0 {
        return Err(app_not_found(app_id));
    }
    Ok(())
}

/// Subscribes an app to a plan, or moves its subscription to that product
/// onto this plan. An auto-approve plan approves at once; a manual one waits
/// for the owner (even when the app held another plan of the product).
/// Asking again for the plan the app holds changes nothing.
pub fn subscribe(conn: &Connection, app_id: i64, plan_id: i64) -> Result<Subscription, AppsError> {
    let (product_id, plan) = products::plan(conn, plan_id)?
        .ok_or_else(|| AppsError::NotFound(format!("no plan {plan_id}")))?;
    let status = match plan.approval {
        Approval::Auto => SubscriptionStatus::Approved,
        Approval::Manual => SubscriptionStatus::Requested,
    };
    let existing: Option<(i64, i64, String)> = conn
        .query_row(
            "SELECT id, plan_id, status FROM subscriptions WHERE app_id = ?1 AND product_id = ?2",
            params![app_id, product_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let decided = if status == SubscriptionStatus::Approved {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    } else {
        "NULL"
    };
    let id = match existing {
        Some((id, held, ref state)) if held == plan_id && state != "rejected" => id,
        Some((id, _, _)) => {
            conn.execute(
                &format!(
                    "UPDATE subscriptions SET plan_id = ?2, status = ?3, note = '', decided_by = NULL,
                         requested_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), decided_at = {decided}
                     WHERE id = ?1"
                ),
                params![id, plan_id, status.as_str()],
            )?;
            id
        }
        None => {
            conn.execute(
                &format!(
                    "INSERT INTO subscriptions (app_id, plan_id, product_id, status, decided_at)
                     VALUES (?1, ?2, ?3, ?4, {decided})"
                ),
                params![app_id, plan_id, product_id, status.as_str()],
            )?;
            conn.last_insert_rowid()
        }
    };
    subscription(conn, id)?.ok_or_else(|| AppsError::NotFound("the subscription vanished".into()))
}

/// Ends a subscription (the developer's choice): the app's keys stop working for the product.
pub fn cancel(conn: &Connection, subscription_id: i64) -> Result<(), AppsError> {
    if conn.execute("DELETE FROM subscriptions WHERE id = ?1", [subscription_id])? == 0 {
        return Err(subscription_not_found(subscription_id));
    }
    Ok(())
}

fn subscription_not_found(id: i64) -> AppsError {
    AppsError::NotFound(format!("no subscription {id}"))
}

/// The owner's decision on a requested subscription; a decided one is a conflict.
pub fn decide(
    conn: &Connection,
    subscription_id: i64,
    approve: bool,
    decided_by: Option<i64>,
    note: &str,
) -> Result<Subscription, AppsError> {
    if note.len() > 2000 {
        return Err(AppsError::Invalid(
            "the note is longer than 2,000 bytes".into(),
        ));
    }
    let status = if approve {
        SubscriptionStatus::Approved
    } else {
        SubscriptionStatus::Rejected
    };
    let changed = conn.execute(
        "UPDATE subscriptions SET status = ?2, decided_by = ?3, note = ?4,
             decided_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1 AND status = 'requested'",
        params![subscription_id, status.as_str(), decided_by, note.trim()],
    )?;
    let current = subscription(conn, subscription_id)?
        .ok_or_else(|| subscription_not_found(subscription_id))?;
    if changed == 0 {
        return Err(AppsError::Conflict(format!(
            "subscription {subscription_id} is {} already",
            current.status.as_str()
        )));
    }
    Ok(current)
}

/// One subscription.
pub fn subscription(conn: &Connection, id: i64) -> Result<Option<Subscription>, AppsError> {
    Ok(subscriptions_where(conn, "WHERE s.id = ?1", params![id])?
        .into_iter()
        .next())
}

/// The subscriptions waiting for a decision on products `owner` owns (none: every product).
pub fn pending(conn: &Connection, owner: Option<i64>) -> Result<Vec<Subscription>, AppsError> {
    match owner {
        None => subscriptions_where(conn, "WHERE s.status = 'requested'", params![]),
        Some(owner) => subscriptions_where(
            conn,
            "WHERE s.status = 'requested' AND p.owner_id = ?1",
            params![owner],
        ),
    }
}

/// The product owner of a subscription, with the subscription's existence checked.
pub fn product_owner(conn: &Connection, subscription_id: i64) -> Result<Option<i64>, AppsError> {
    conn.query_row(
        "SELECT p.owner_id FROM subscriptions s JOIN products p ON p.id = s.product_id
         WHERE s.id = ?1",
        [subscription_id],
        |r| r.get::<_, Option<i64>>(0),
    )
    .optional()?
    .ok_or_else(|| subscription_not_found(subscription_id))
}

/// The app of a subscription.
pub fn app_of(conn: &Connection, subscription_id: i64) -> Result<i64, AppsError> {
    conn.query_row(
        "SELECT app_id FROM subscriptions WHERE id = ?1",
        [subscription_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| subscription_not_found(subscription_id))
}

fn subscriptions_where(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Subscription>, AppsError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT s.id, s.app_id, a.name, u.username, p.id, p.name, p.title, pl.id, pl.name,
                    pl.title, s.status, s.requested_at, s.decided_at, s.note
             FROM subscriptions s
             JOIN apps a ON a.id = s.app_id
             JOIN users u ON u.id = a.owner_id
             JOIN products p ON p.id = s.product_id
             JOIN plans pl ON pl.id = s.plan_id
             {filter}
             ORDER BY s.requested_at, s.id"
        ))?
        .query_map(args, |r| {
            Ok(Subscription {
                id: r.get(0)?,
                app_id: r.get(1)?,
                app: r.get(2)?,
                developer: r.get(3)?,
                product_id: r.get(4)?,
                product: r.get(5)?,
                product_title: r.get(6)?,
                plan_id: r.get(7)?,
                plan: r.get(8)?,
                plan_title: r.get(9)?,
                status: SubscriptionStatus::parse(&r.get::<_, String>(10)?),
                requested_at: r.get(11)?,
                decided_at: r.get(12)?,
                note: r.get(13)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::products::{PlanDraft, ProductDraft, QuotaPeriod};
    use portico_catalog::Database;

    fn setup() -> (tempfile::TempDir, Database, i64, i64, i64) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        let mut conn = db.conn();
        conn.execute("INSERT INTO users (username) VALUES ('ada')", [])
            .unwrap();
        let product = products::create(
            &mut conn,
            &ProductDraft {
                name: "pets".into(),
                title: "Pets".into(),
                description: String::new(),
                visibility: "public".into(),
                partner_groups: vec![],
                apis: vec!["petstore".into()],
            },
            None,
        )
        .unwrap();
        let plan = |name: &str, approval| PlanDraft {
            name: name.into(),
            title: name.into(),
            description: String::new(),
            rate_limit: None,
            rate_period_secs: 1,
            quota: None,
            quota_period: QuotaPeriod::Day,
            approval,
            billing: None,
        };
        let free = products::create_plan(&conn, product.id, &plan("free", Approval::Auto)).unwrap();
        let pro = products::create_plan(&conn, product.id, &plan("pro", Approval::Manual)).unwrap();
        drop(conn);
        (dir, db, 1, free.id, pro.id)
    }

    #[test]
    fn an_auto_plan_approves_at_once_and_a_manual_one_waits_for_the_owner() {
        let (_dir, db, ada, free, pro) = setup();
        let conn = db.conn();
        let app = create_app(
            &conn,
            ada,
            &AppDraft {
                name: "My app".into(),
                description: String::new(),
            },
        )
        .unwrap();
        assert!(matches!(
            create_app(
                &conn,
                ada,
                &AppDraft {
                    name: " My app ".into(),
                    description: String::new()
                }
            ),
            Err(AppsError::Conflict(_))
        ));
        let sub = subscribe(&conn, app.id, free).unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Approved);
        assert!(sub.decided_at.is_some());
        // Moving to the manual plan of the same product waits, in the same row.
        let moved = subscribe(&conn, app.id, pro).unwrap();
        assert_eq!(
            (moved.id, moved.status),
            (sub.id, SubscriptionStatus::Requested)
        );
        assert_eq!(pending(&conn, None).unwrap().len(), 1);
        let rejected = decide(&conn, sub.id, false, None, "not for bots").unwrap();
        assert_eq!(
            (rejected.status, rejected.note.as_str()),
            (SubscriptionStatus::Rejected, "not for bots")
        );
        assert!(matches!(
            decide(&conn, sub.id, true, None, ""),
            Err(AppsError::Conflict(_))
        ));
        // Asking again after a rejection asks anew.
        assert_eq!(
            subscribe(&conn, app.id, pro).unwrap().status,
            SubscriptionStatus::Requested
        );
        assert_eq!(
            decide(&conn, sub.id, true, None, "").unwrap().status,
            SubscriptionStatus::Approved
        );
        // Asking for the plan held changes nothing.
        assert_eq!(
            subscribe(&conn, app.id, pro).unwrap().status,
            SubscriptionStatus::Approved
        );
        let listed = app_of_owner(&conn, ada);
        assert_eq!(listed[0].subscriptions.len(), 1);
        cancel(&conn, sub.id).unwrap();
        assert!(
            super::app(&conn, app.id)
                .unwrap()
                .unwrap()
                .subscriptions
                .is_empty()
        );
        delete_app(&conn, app.id).unwrap();
        assert!(matches!(
            owner_of(&conn, app.id),
            Err(AppsError::NotFound(_))
        ));
    }

    fn app_of_owner(conn: &Connection, owner: i64) -> Vec<App> {
        apps_of(conn, owner).unwrap()
    }
}
