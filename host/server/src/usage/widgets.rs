//! Dashboard panels from analytics-widget plugins: each widget describes
//! the usage it needs; the host runs that query over what the reader may
//! see, and the plugin renders the series as SVG, themed by the branding.
//!
//! A widget's SVG is the plugin's output, so the page shows it as an image
//! (`data:` URL): nothing in it can run or reach the page, and its own
//! description becomes the image's text alternative.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use portico_runtime::manifest::World;
use portico_runtime::worlds::widget::{
    self, Audience, Descriptor, Dimension as WDimension, Granularity as WGranularity, Metric,
    Point, RenderRequest,
};
use rusqlite::Connection;

use super::query::{self, Dimension, Scope, Series, UsageQuery};
use super::rollup::Granularity;
use crate::apps::products::QuotaPeriod;
use crate::state::AppState;

/// A panel's size in CSS pixels.
const WIDTH: u32 = 560;
const HEIGHT: u32 = 240;
/// How long one widget may take to render.
const RENDER_TIMEOUT: Duration = Duration::from_secs(2);
/// Quota meters shown at most.
const QUOTAS_SHOWN: usize = 10;

/// One panel of a dashboard.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The widget's title.
    pub title: String,
    /// Its one-line description.
    pub description: String,
    /// The rendered image as a `data:` URL with its text alternative, or
    /// why it could not be drawn.
    pub image: Result<(String, String), String>,
}

/// The panels of every widget plugin that suit `audience`, over `scope`.
pub async fn panels(
    state: &AppState,
    scope: &Scope,
    audience: Audience,
    now_ms: i64,
) -> Vec<Panel> {
    let mut panels = Vec::new();
    let memo = Memo::default();
    for plugin in state.plugins().of_world(World::AnalyticsWidget) {
        let descriptors = match plugin.describe_widgets().await {
            Ok(descriptors) => descriptors,
            Err(error) => {
                tracing::warn!(plugin = plugin.id(), %error, "a widget plugin cannot describe its widgets");
                continue;
            }
        };
        for descriptor in descriptors
            .into_iter()
            .filter(|d| d.audiences.contains(&audience))
        {
            let request = match series_for(state, scope, &descriptor, now_ms, &memo).await {
                Ok((series, quota_limit)) => RenderRequest {
                    widget_id: descriptor.id.clone(),
                    series,
                    quota_limit,
                    theme: state.branding().theme(),
                    width: WIDTH,
                    height: HEIGHT,
                    locale: "en".into(),
                },
                Err(error) => {
                    tracing::error!(%error, widget = descriptor.id, "cannot read a widget's usage");
                    panels.push(panel(
                        &descriptor,
                        Err("The usage could not be read.".into()),
                    ));
                    continue;
                }
            };
            let image =
                match tokio::time::timeout(RENDER_TIMEOUT, plugin.render_widget(&request)).await {
                    Ok(Ok(svg)) => Ok(image(&svg, &descriptor)),
                    Ok(Err(error)) => Err(format!("The widget failed: {error}")),
                    Err(_) => Err("The widget took too long.".into()),
                };
            panels.push(panel(&descriptor, image));
        }
    }
    panels
}

fn panel(descriptor: &Descriptor, image: Result<(String, String), String>) -> Panel {
    Panel {
        title: descriptor.title.clone(),
        description: descriptor.description.clone(),
        image,
    }
}

/// The `data:` URL of an SVG, and its text alternative: the SVG's own
/// `<desc>` when it has one, else the widget's description.
fn image(svg: &str, descriptor: &Descriptor) -> (String, String) {
    let url = format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    );
    let alt = svg_desc(svg).unwrap_or_else(|| descriptor.description.clone());
    (url, format!("{}: {alt}", descriptor.title))
}

/// The text of an SVG's first `<desc>`, unescaped.
fn svg_desc(svg: &str) -> Option<String> {
    let open = svg.find("<desc")?;
    let start = open + svg[open..].find('>')? + 1;
    let end = start + svg[start..].find("</desc>")?;
    let text = svg[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// One page's query results, by query: charts over the same buckets share them.
#[derive(Clone, Default)]
struct Memo(Arc<Mutex<HashMap<MemoKey, Vec<Series>>>>);

#[derive(PartialEq, Eq, Hash)]
struct MemoKey {
    granularity: Granularity,
    from_ms: i64,
    to_ms: i64,
    group_by: Dimension,
    latency: bool,
}

impl Memo {
    /// The query's result, run once per page.
    fn run(&self, conn: &Connection, query: &UsageQuery) -> rusqlite::Result<Vec<Series>> {
        let key = MemoKey {
            granularity: query.granularity,
            from_ms: query.from_ms,
            to_ms: query.to_ms,
            group_by: query.group_by,
            latency: query.latency,
        };
        let mut results = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = results.get(&key) {
            return Ok(found.clone());
        }
        let mut found = query::run(conn, query)?;
        query::label(conn, query.group_by, &mut found)?;
        results.insert(key, found.clone());
        Ok(found)
    }

    /// Totals without latencies are the status classes summed: the errors
    /// chart's query serves the calls chart too.
    fn totals(&self, conn: &Connection, query: &UsageQuery) -> rusqlite::Result<Vec<Series>> {
        let by_class = UsageQuery {
            group_by: Dimension::StatusClass,
            ..query.clone()
        };
        let mut sums: HashMap<i64, query::Bucket> = HashMap::new();
        for series in self.run(conn, &by_class)? {
            for b in series.buckets {
                let sum = sums.entry(b.at_ms).or_insert_with(|| query::Bucket {
                    at_ms: b.at_ms,
                    ..query::Bucket::default()
                });
                sum.calls += b.calls;
                sum.errors += b.errors;
                sum.bytes += b.bytes;
            }
        }
        if sums.is_empty() {
            return Ok(Vec::new());
        }
        let mut buckets: Vec<query::Bucket> = sums.into_values().collect();
        buckets.sort_by_key(|b| b.at_ms);
        Ok(vec![Series {
            group: String::new(),
            label: String::new(),
            buckets,
        }])
    }
}

/// The series a widget's query asks for, and the quota limit when one applies.
async fn series_for(
    state: &AppState,
    scope: &Scope,
    descriptor: &Descriptor,
    now_ms: i64,
    memo: &Memo,
) -> Result<(Vec<widget::Series>, Option<u64>), rusqlite::Error> {
    let db = state.db().clone();
    let scope = scope.clone();
    let wanted = descriptor.query.clone();
    let memo = memo.clone();
    tokio::task::spawn_blocking(move || {
        let conn = db.conn();
        if wanted.metrics.contains(&Metric::QuotaUsed) {
            return quota_series(&conn, &scope, now_ms);
        }
        Ok((usage_series(&conn, scope, &wanted, now_ms, &memo)?, None))
    })
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "a widget's query panicked");
        Ok((Vec::new(), None))
    })
}

fn usage_series(
    conn: &Connection,
    scope: Scope,
    wanted: &widget::UsageQuery,
    now_ms: i64,
    memo: &Memo,
) -> rusqlite::Result<Vec<widget::Series>> {
    let granularity = match wanted.granularity {
        WGranularity::Minute => Granularity::Minute,
        WGranularity::Hour => Granularity::Hour,
        WGranularity::Day => Granularity::Day,
    };
    let group_by = match wanted.group_by {
        WDimension::None => Dimension::None,
        WDimension::App => Dimension::App,
        WDimension::Key => Dimension::Key,
        WDimension::Api => Dimension::Api,
        WDimension::Operation => Dimension::Operation,
        WDimension::StatusClass => Dimension::StatusClass,
    };
    let lookback = i64::try_from(wanted.lookback_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    // Whole buckets: the oldest one starts `lookback` before the current one ends.
    let to_ms = granularity.bucket(now_ms) + granularity.millis();
    let query = UsageQuery {
        scope,
        app: None,
        key: None,
        api: None,
        from_ms: to_ms.saturating_sub(lookback),
        to_ms,
        granularity,
        group_by,
        latency: wanted.metrics.iter().any(|m| {
            matches!(
                m,
                Metric::LatencyP50 | Metric::LatencyP95 | Metric::LatencyP99
            )
        }),
    };
    let mut found = if group_by == Dimension::None && !query.latency {
        memo.totals(conn, &query)?
    } else {
        memo.run(conn, &query)?
    };
    if let Some(top) = wanted.top {
        found.truncate(top as usize);
    }
    let buckets: Vec<i64> = (0..)
        .map(|i| query.granularity.bucket(query.from_ms) + i * granularity.millis())
        .take_while(|at| *at < to_ms)
        .collect();
    let mut series = Vec::new();
    for s in &found {
        for &metric in &wanted.metrics {
            series.push(widget::Series {
                metric,
                label: if group_by == Dimension::None {
                    String::new()
                } else {
                    s.label.clone()
                },
                points: points(s, metric, &buckets),
            });
        }
    }
    Ok(series)
}

/// A metric's points: counts on every bucket (zero where nothing was
/// called), latencies only where calls were timed.
fn points(series: &Series, metric: Metric, buckets: &[i64]) -> Vec<Point> {
    let quantile = |q| move |b: &query::Bucket| b.latency.quantile(q).map(|us| us / 1000.0);
    let latency = match metric {
        Metric::LatencyP50 => Some(quantile(0.5)),
        Metric::LatencyP95 => Some(quantile(0.95)),
        Metric::LatencyP99 => Some(quantile(0.99)),
        _ => None,
    };
    if let Some(read) = latency {
        return series
            .buckets
            .iter()
            .filter_map(|b| {
                read(b).map(|value| Point {
                    at: b.at_ms as u64,
                    value,
                })
            })
            .collect();
    }
    let mut found = series.buckets.iter().peekable();
    buckets
        .iter()
        .map(|&at| {
            let bucket = found.next_if(|b| b.at_ms == at);
            let value = bucket.map_or(0.0, |b| match metric {
                Metric::Errors => b.errors as f64,
                Metric::Bytes => b.bytes as f64,
                _ => b.calls as f64,
            });
            Point {
                at: at as u64,
                value,
            }
        })
        .collect()
}

/// One series per subscription with a quota: the share of the current
/// period's quota used.
fn quota_series(
    conn: &Connection,
    scope: &Scope,
    now_ms: i64,
) -> rusqlite::Result<(Vec<widget::Series>, Option<u64>)> {
    if scope.is_empty() {
        return Ok((Vec::new(), None));
    }
    let (filter, values): (String, Vec<rusqlite::types::Value>) = match scope {
        Scope::All => ("1".into(), Vec::new()),
        Scope::Apps(ids) => (
            format!("a.id IN ({})", vec!["?"; ids.len()].join(",")),
            ids.iter().map(|&i| i.into()).collect(),
        ),
        Scope::Apis(refs) => (
            format!(
                "s.product_id IN (SELECT product_id FROM product_apis WHERE api_ref IN ({}))",
                vec!["?"; refs.len()].join(",")
            ),
            refs.iter().map(|r| r.clone().into()).collect(),
        ),
    };
    let mut statement = conn.prepare(&format!(
        "SELECT s.id, a.name, p.name, pl.name, pl.quota, pl.quota_period
         FROM subscriptions s JOIN apps a ON a.id = s.app_id JOIN plans pl ON pl.id = s.plan_id
              JOIN products p ON p.id = s.product_id
         WHERE s.status = 'approved' AND pl.quota IS NOT NULL AND {filter}"
    ))?;
    let rows: Vec<(i64, String, String, String, i64, String)> = statement
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut meters = Vec::with_capacity(rows.len());
    for (subscription, app, product, plan, quota, period) in rows {
        let (start, _) = QuotaPeriod::parse(&period).window(now_ms / 1000);
        let used = super::log::quota_used(conn, subscription, start)?;
        let percent = used as f64 * 100.0 / quota.max(1) as f64;
        meters.push((
            percent,
            quota as u64,
            widget::Series {
                metric: Metric::QuotaUsed,
                label: format!("{app} · {product}/{plan}"),
                points: vec![Point {
                    at: (start * 1000) as u64,
                    value: percent,
                }],
            },
        ));
    }
    meters.sort_by(|a, b| b.0.total_cmp(&a.0));
    meters.truncate(QUOTAS_SHOWN);
    let limit = (meters.len() == 1).then(|| meters[0].1);
    Ok((meters.into_iter().map(|(_, _, s)| s).collect(), limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_svg_description_becomes_the_text_alternative() {
        let svg = r#"<svg role="img"><title id="t">Calls</title><desc id="d">1,234 calls &amp; 5 errors</desc></svg>"#;
        assert_eq!(svg_desc(svg).as_deref(), Some("1,234 calls & 5 errors"));
        assert_eq!(svg_desc("<svg></svg>"), None);
        assert_eq!(svg_desc("<svg><desc>   </desc></svg>"), None);
    }

    #[test]
    fn totals_from_the_status_classes_equal_the_totals_query() {
        use crate::usage::log::{Source, UsageRecord};
        use crate::usage::writer::{Writer, write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portico.db");
        portico_catalog::Database::open(&path).unwrap();
        let mut writer = Writer::open(&path).unwrap();
        let call = |at_ms: i64, status: u16| UsageRecord {
            at_ms,
            source: Source::Verify,
            key_id: Some(1),
            app_id: Some(1),
            api_ref: Some(Arc::from("api:default/a")),
            operation: None,
            status,
            calls: 1,
            errors: u64::from(status >= 400),
            latency_us: Some(100.0),
            bytes: 5,
            quota: None,
        };
        let hour = 3_600_000;
        write(
            &mut writer,
            &[call(10, 200), call(20, 500), call(hour + 1, 404)],
        )
        .unwrap();
        let query = UsageQuery {
            scope: Scope::All,
            app: None,
            key: None,
            api: None,
            from_ms: 0,
            to_ms: 2 * hour,
            granularity: Granularity::Hour,
            group_by: Dimension::None,
            latency: false,
        };
        let direct = query::run(writer.conn(), &query).unwrap();
        let shared = Memo::default().totals(writer.conn(), &query).unwrap();
        let sums = |s: &[Series]| -> Vec<(i64, u64, u64, u64)> {
            s[0].buckets
                .iter()
                .map(|b| (b.at_ms, b.calls, b.errors, b.bytes))
                .collect()
        };
        assert_eq!(sums(&shared), [(0, 2, 1, 10), (hour, 1, 1, 5)]);
        assert_eq!(sums(&shared), sums(&direct));
    }

    #[test]
    fn counts_fill_every_bucket_and_latencies_only_timed_ones() {
        let mut timed = query::Bucket {
            at_ms: 120,
            calls: 3,
            ..Default::default()
        };
        timed.latency.add(2000.0, 3);
        let series = Series {
            group: String::new(),
            label: String::new(),
            buckets: vec![timed],
        };
        let calls = points(&series, Metric::Calls, &[60, 120, 180]);
        let values: Vec<(u64, f64)> = calls.iter().map(|p| (p.at, p.value)).collect();
        assert_eq!(values, [(60, 0.0), (120, 3.0), (180, 0.0)]);
        let p50 = points(&series, Metric::LatencyP50, &[60, 120, 180]);
        assert_eq!(p50.len(), 1);
        assert!((p50[0].value - 2.0).abs() < 0.05, "{}", p50[0].value);
    }
}
