//! Reading the roll-ups: series of buckets over a time range, for a scope
//! (every call, some apps' calls, some APIs' calls), grouped by one
//! dimension. Sums are added up by SQLite; latency sketches are merged here,
//! and only when a latency is asked for.

use std::collections::HashMap;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::rollup::Granularity;
use super::sketch::LatencySketch;

/// Whose usage a query may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every call (an administrator).
    All,
    /// Calls made by these apps (a developer's own).
    Apps(Vec<i64>),
    /// Calls to these APIs, by any consumer (an owner's).
    Apis(Vec<String>),
}

impl Scope {
    /// Whether it covers no call at all (no apps, or no APIs).
    pub fn is_empty(&self) -> bool {
        match self {
            Scope::All => false,
            Scope::Apps(ids) => ids.is_empty(),
            Scope::Apis(refs) => refs.is_empty(),
        }
    }
}

/// How a series is broken down.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// One series.
    #[default]
    None,
    /// By app.
    App,
    /// By key.
    Key,
    /// By API.
    Api,
    /// By operation (with its API when several are read).
    Operation,
    /// By status class: `2xx`, `4xx`, ...
    StatusClass,
}

/// A question to the roll-ups.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    /// Whose calls.
    pub scope: Scope,
    /// Only this app's.
    pub app: Option<i64>,
    /// Only this key's.
    pub key: Option<i64>,
    /// Only this API's (`api:namespace/name`).
    pub api: Option<String>,
    /// From (inclusive), in milliseconds since the epoch.
    pub from_ms: i64,
    /// To (exclusive).
    pub to_ms: i64,
    /// The bucket size.
    pub granularity: Granularity,
    /// The breakdown.
    pub group_by: Dimension,
    /// Whether latencies are wanted (sketches are read and merged).
    pub latency: bool,
}

/// One bucket of a series.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Start of the bucket.
    pub at_ms: i64,
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Bytes served.
    pub bytes: u64,
    /// Latencies, when asked for.
    pub latency: LatencySketch,
}

/// One group's buckets, oldest first.
#[derive(Debug, Clone)]
pub struct Series {
    /// The group's value: an app or key id, an API ref, an operation,
    /// `2xx`; empty without a breakdown.
    pub group: String,
    /// The group as people read it: the app's or key's name for their ids.
    pub label: String,
    /// The buckets that saw calls.
    pub buckets: Vec<Bucket>,
}

impl Series {
    /// The series' total calls.
    pub fn calls(&self) -> u64 {
        self.buckets.iter().map(|b| b.calls).sum()
    }
}

/// Runs a query; the series come largest first.
pub fn run(conn: &Connection, query: &UsageQuery) -> rusqlite::Result<Vec<Series>> {
    let by_consumer = matches!(query.scope, Scope::Apps(_))
        || query.app.is_some()
        || query.key.is_some()
        || matches!(query.group_by, Dimension::App | Dimension::Key);
    let table = if by_consumer {
        "usage_by_consumer"
    } else {
        "usage_by_operation"
    };
    let several_apis =
        query.api.is_none() && !matches!(&query.scope, Scope::Apis(a) if a.len() == 1);
    let group = match query.group_by {
        Dimension::None => "''",
        Dimension::App => "app_id",
        Dimension::Key => "key_id",
        Dimension::Api => "api_ref",
        Dimension::Operation if several_apis => "api_ref || ' ' || operation",
        Dimension::Operation => "operation",
        Dimension::StatusClass => "status_class || 'xx'",
    };
    let mut filters = vec!["granularity = ?", "bucket_ms >= ?", "bucket_ms < ?"];
    let mut values = vec![
        Value::Text(query.granularity.as_str().into()),
        Value::Integer(query.granularity.bucket(query.from_ms)),
        Value::Integer(query.to_ms),
    ];
    if query.scope.is_empty() {
        return Ok(Vec::new());
    }
    // An app scope is the outer loop of a join, so each app is read along
    // the primary key (app, granularity, time); as `app_id IN (...)` the
    // planner would take the time index and read every app's rows.
    let mut source = table.to_owned();
    let mut scope_values = Vec::new();
    let in_list;
    match &query.scope {
        Scope::All => {}
        Scope::Apps(ids) => {
            source = format!(
                "(VALUES {}) AS scope CROSS JOIN {table}",
                vec!["(?)"; ids.len()].join(", ")
            );
            filters.push("app_id = scope.column1");
            scope_values.extend(ids.iter().map(|&id| Value::Integer(id)));
        }
        Scope::Apis(refs) => {
            in_list = format!("api_ref IN ({})", placeholders(refs.len()));
            filters.push(&in_list);
            values.extend(refs.iter().map(|r| Value::Text(r.clone())));
        }
    }
    if let Some(app) = query.app {
        filters.push("app_id = ?");
        values.push(Value::Integer(app));
    }
    if let Some(key) = query.key {
        filters.push("key_id = ?");
        values.push(Value::Integer(key));
    }
    if let Some(api) = &query.api {
        filters.push("api_ref = ?");
        values.push(Value::Text(api.clone()));
    }
    let filter = filters.join(" AND ");
    // The scope's values come first: they are bound in the FROM clause.
    scope_values.append(&mut values);
    let values = scope_values;
    // Sums are SQLite's; sketches can only be merged row by row.
    let sql = if query.latency {
        format!(
            "SELECT bucket_ms, {group}, calls, errors, bytes, latency FROM {source} WHERE {filter}"
        )
    } else {
        format!(
            "SELECT bucket_ms, {group}, sum(calls), sum(errors), sum(bytes), NULL FROM {source}
             WHERE {filter} GROUP BY 1, 2"
        )
    };
    let mut groups: HashMap<String, HashMap<i64, Bucket>> = HashMap::new();
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(values))?;
    while let Some(row) = rows.next()? {
        let at_ms: i64 = row.get(0)?;
        let group: String = match row.get_ref(1)? {
            rusqlite::types::ValueRef::Integer(i) => i.to_string(),
            other => other.as_str().unwrap_or_default().to_owned(),
        };
        let bucket = groups
            .entry(group)
            .or_default()
            .entry(at_ms)
            .or_insert_with(|| Bucket {
                at_ms,
                ..Bucket::default()
            });
        bucket.calls += row.get::<_, i64>(2)? as u64;
        bucket.errors += row.get::<_, i64>(3)? as u64;
        bucket.bytes += row.get::<_, i64>(4)? as u64;
        if let rusqlite::types::ValueRef::Blob(blob) = row.get_ref(5)? {
            // A row written by this version always decodes; one that does not adds nothing.
            let _ = bucket.latency.merge_encoded(blob);
        }
    }
    let mut series: Vec<Series> = groups
        .into_iter()
        .map(|(group, buckets)| {
            let mut buckets: Vec<Bucket> = buckets.into_values().collect();
            buckets.sort_by_key(|b| b.at_ms);
            Series {
                label: group.clone(),
                group,
                buckets,
            }
        })
        .collect();
    series.sort_by(|a, b| {
        b.calls()
            .cmp(&a.calls())
            .then_with(|| a.group.cmp(&b.group))
    });
    Ok(series)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Names apps and keys in their series' labels (`0`, calls without a known
/// app or key, reads `unknown`).
pub fn label(
    conn: &Connection,
    group_by: Dimension,
    series: &mut [Series],
) -> rusqlite::Result<()> {
    let sql = match group_by {
        Dimension::App => "SELECT name FROM apps WHERE id = ?1",
        Dimension::Key => "SELECT name || ' (' || prefix || '…)' FROM api_keys WHERE id = ?1",
        _ => return Ok(()),
    };
    let mut statement = conn.prepare_cached(sql)?;
    for s in series {
        let name: Option<String> = match s.group.parse::<i64>() {
            Ok(0) | Err(_) => None,
            Ok(id) => {
                use rusqlite::OptionalExtension as _;
                statement.query_row([id], |r| r.get(0)).optional()?
            }
        };
        s.label = name.unwrap_or_else(|| {
            if s.group == "0" {
                "unknown".into()
            } else {
                format!("deleted ({})", s.group)
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::usage::log::{Source, UsageRecord};
    use crate::usage::writer::{Writer, write};

    fn call(
        at_ms: i64,
        app: i64,
        api: &str,
        operation: &str,
        status: u16,
        latency_us: f64,
    ) -> UsageRecord {
        UsageRecord {
            at_ms,
            source: Source::Verify,
            key_id: Some(app * 10),
            app_id: Some(app),
            api_ref: Some(Arc::from(api)),
            operation: Some(Arc::from(operation)),
            status,
            calls: 1,
            errors: u64::from(status >= 400),
            latency_us: Some(latency_us),
            bytes: 100,
            quota: None,
        }
    }

    fn query(scope: Scope, granularity: Granularity, group_by: Dimension) -> UsageQuery {
        UsageQuery {
            scope,
            app: None,
            key: None,
            api: None,
            from_ms: 0,
            to_ms: 10 * 86_400_000,
            granularity,
            group_by,
            latency: true,
        }
    }

    /// Two apps, two APIs, three hours; app 1's calls are slower.
    fn seeded() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.db");
        portico_catalog::Database::open(&path).unwrap();
        let mut writer = Writer::open(&path).unwrap();
        let hour = 3_600_000;
        let mut batch = Vec::new();
        for i in 0..300i64 {
            let at = (i % 3) * hour + i;
            let app = 1 + i % 2;
            let status = if i % 10 == 0 { 500 } else { 200 };
            let api = if i % 3 == 0 {
                "api:default/a"
            } else {
                "api:default/b"
            };
            batch.push(call(at, app, api, "GET /x", status, 1000.0 * app as f64));
        }
        // Two batches: the second merges into the rows the first wrote.
        write(&mut writer, &batch[..100]).unwrap();
        write(&mut writer, &batch[100..]).unwrap();
        (dir, writer)
    }

    #[test]
    fn roll_ups_sum_every_call_at_every_granularity() {
        let (_dir, writer) = seeded();
        let conn = writer.conn();
        for granularity in Granularity::ALL {
            let series = run(conn, &query(Scope::All, granularity, Dimension::None)).unwrap();
            assert_eq!(series.len(), 1);
            let s = &series[0];
            assert_eq!(s.calls(), 300, "{granularity:?}");
            assert_eq!(s.buckets.iter().map(|b| b.errors).sum::<u64>(), 30);
            let expected_buckets = match granularity {
                Granularity::Day => 1,
                _ => 3,
            };
            assert_eq!(s.buckets.len(), expected_buckets, "{granularity:?}");
        }
        let raw: i64 = conn
            .query_row("SELECT sum(calls) FROM usage_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(raw, 300);
    }

    #[test]
    fn percentiles_come_from_merged_sketches() {
        let (_dir, writer) = seeded();
        let conn = writer.conn();
        let series = run(conn, &query(Scope::All, Granularity::Day, Dimension::App)).unwrap();
        let by_app: HashMap<&str, &Series> = series.iter().map(|s| (s.group.as_str(), s)).collect();
        let p50 = |app: &str| by_app[app].buckets[0].latency.quantile(0.5).unwrap();
        assert!((p50("1") - 1000.0).abs() <= 10.0, "{}", p50("1"));
        assert!((p50("2") - 2000.0).abs() <= 20.0, "{}", p50("2"));
        // Half the calls at 1 ms and half at 2 ms: the whole p99 is 2 ms.
        let whole = run(conn, &query(Scope::All, Granularity::Hour, Dimension::None)).unwrap();
        let mut merged = LatencySketch::default();
        for b in &whole[0].buckets {
            merged.merge(&b.latency);
        }
        assert!((merged.quantile(0.99).unwrap() - 2000.0).abs() <= 20.0);
    }

    #[test]
    fn scopes_and_filters_narrow_what_is_read() {
        let (_dir, writer) = seeded();
        let conn = writer.conn();
        let mine = run(
            conn,
            &query(Scope::Apps(vec![1]), Granularity::Day, Dimension::None),
        )
        .unwrap();
        assert_eq!(mine[0].calls(), 150);
        let owned = run(
            conn,
            &query(
                Scope::Apis(vec!["api:default/a".into()]),
                Granularity::Day,
                Dimension::Operation,
            ),
        )
        .unwrap();
        assert_eq!((owned[0].group.as_str(), owned[0].calls()), ("GET /x", 100));
        let by_class = run(
            conn,
            &query(Scope::All, Granularity::Day, Dimension::StatusClass),
        )
        .unwrap();
        let classes: Vec<(&str, u64)> = by_class
            .iter()
            .map(|s| (s.group.as_str(), s.calls()))
            .collect();
        assert_eq!(classes, [("2xx", 270), ("5xx", 30)]);
        let nobody = run(
            conn,
            &query(Scope::Apps(vec![]), Granularity::Day, Dimension::None),
        )
        .unwrap();
        assert!(nobody.is_empty());
        let mut one_key = query(Scope::All, Granularity::Hour, Dimension::Key);
        one_key.key = Some(20);
        let keyed = run(conn, &one_key).unwrap();
        assert_eq!(
            (keyed.len(), keyed[0].group.as_str(), keyed[0].calls()),
            (1, "20", 150)
        );
    }
}
