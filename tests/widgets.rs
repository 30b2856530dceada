//! The bundled `widget-usage` plugin end to end: the component the server
//! embeds, loaded by the real runtime under its own manifest's limits.
//! `describe` offers its five widgets with the queries the host runs, and
//! `render` draws each as well-formed, themed, accessible SVG in which labels
//! from the request cannot open a tag.
//!
//! The plugin needs nothing from the server, so these tests load it alone
//! rather than starting a server, which compiles every bundled plugin.

use std::collections::HashSet;

use portico_runtime::worlds::widget::{
    Audience, Dimension, Granularity, Metric, Point, RenderRequest, Series,
};
use portico_runtime::worlds::{PluginError, Theme};
use portico_runtime::{CallError, Grant, Origin, Plugin, Runtime, RuntimeConfig};

const PLUGIN: &str = "widget-usage";

/// A primary colour no default theme uses, so finding it proves the theme was read.
const PRIMARY: &str = "#0a7e5c";

/// 2026-11-27T00:00:00Z.
const START: u64 = 1_795_737_600_000;

/// The bundled component, loaded with no grants (it asks for none).
fn widgets() -> Plugin {
    let bundled = portico::loader::bundled()
        .iter()
        .find(|b| b.id == PLUGIN)
        .expect("widget-usage is bundled");
    let runtime = Runtime::new(RuntimeConfig::default()).expect("a runtime");
    runtime
        .load(
            bundled.wasm,
            Origin::Bundled(bundled.name.into()),
            &Grant::default(),
        )
        .expect("the component loads")
}

fn theme() -> Theme {
    Theme {
        primary_color: PRIMARY.into(),
        accent_color: "#b4005a".into(),
        ..portico::branding::Branding::default().theme()
    }
}

/// A series of hourly points from [`START`].
fn series(metric: Metric, label: &str, values: &[f64]) -> Series {
    Series {
        metric,
        label: label.into(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, &value)| Point {
                at: START + i as u64 * 3_600_000,
                value,
            })
            .collect(),
    }
}

fn request(id: &str, series: Vec<Series>) -> RenderRequest {
    RenderRequest {
        widget_id: id.into(),
        series,
        quota_limit: None,
        theme: theme(),
        width: 480,
        height: 200,
        locale: "en-GB".into(),
    }
}

/// Checks that `svg` is one well-formed XML element (tags nest and close,
/// attributes are quoted and unique, `<` only opens markup, `&` only starts
/// an entity, no comments, CDATA or processing instructions) and returns
/// the names of its elements in document order.
fn elements(svg: &str) -> Vec<String> {
    fn entity_ok(rest: &str) -> bool {
        let Some(end) = rest.find(';') else {
            return false;
        };
        let name = &rest[1..end];
        matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name
                .strip_prefix('#')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }
    let mut names = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                assert!(
                    !open.is_empty() || names.is_empty(),
                    "a second root: {rest}"
                );
                let end = rest
                    .find('>')
                    .unwrap_or_else(|| panic!("unclosed tag: {rest}"));
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    assert_eq!(open.pop().as_deref(), Some(name), "mismatched </{name}>");
                    continue;
                }
                let (tag, empty) = match tag.strip_suffix('/') {
                    Some(tag) => (tag, true),
                    None => (tag, false),
                };
                let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
                let name = &tag[..name_end];
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
                    "bad element name in <{tag}>"
                );
                let mut attrs = tag[name_end..].trim();
                let mut seen = HashSet::new();
                while !attrs.is_empty() {
                    let (key, rest) = attrs
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("unquoted attribute in <{tag}>"));
                    let (value, rest) = rest
                        .split_once('"')
                        .unwrap_or_else(|| panic!("unterminated attribute in <{tag}>"));
                    assert!(
                        key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                        "bad attribute name {key:?} in <{tag}>"
                    );
                    assert!(seen.insert(key), "duplicate {key} in <{tag}>");
                    assert!(!value.contains('<'), "`<` in an attribute of <{tag}>");
                    for (i, _) in value.match_indices('&') {
                        assert!(entity_ok(&value[i..]), "bare `&` in <{tag}>");
                    }
                    attrs = rest.trim_start();
                }
                names.push(name.to_owned());
                if !empty {
                    open.push(name.to_owned());
                }
            }
            '&' => {
                assert!(entity_ok(rest), "bare `&` in text: {rest}");
                rest = &rest[1..];
            }
            _ => {
                assert!(
                    !open.is_empty() || c.is_whitespace(),
                    "text outside the root: {rest}"
                );
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    assert!(open.is_empty(), "unclosed elements: {open:?}");
    names
}

async fn render(plugin: &Plugin, id: &str, series: Vec<Series>) -> String {
    plugin.render_widget(&request(id, series)).await.unwrap()
}

/// The text of the `<desc>`.
fn desc(svg: &str) -> &str {
    let start = svg.find("-desc\">").expect("a desc") + "-desc\">".len();
    let end = start + svg[start..].find("</desc>").expect("a closed desc");
    &svg[start..end]
}

#[tokio::test]
async fn describe_offers_the_five_widgets_with_their_queries() {
    let plugin = widgets();
    let offered = plugin.describe_widgets().await.unwrap();
    let everyone = vec![Audience::Developer, Audience::Owner, Audience::Admin];
    let week = 7 * 86_400;
    let expected = [
        (
            "calls",
            vec![Metric::Calls],
            Dimension::None,
            Granularity::Hour,
            week,
            None,
            everyone.clone(),
        ),
        (
            "latency",
            vec![Metric::LatencyP50, Metric::LatencyP95, Metric::LatencyP99],
            Dimension::None,
            Granularity::Hour,
            week,
            None,
            everyone.clone(),
        ),
        (
            "errors",
            vec![Metric::Calls],
            Dimension::StatusClass,
            Granularity::Hour,
            week,
            None,
            everyone,
        ),
        (
            "quota",
            vec![Metric::QuotaUsed],
            Dimension::App,
            Granularity::Day,
            30 * 86_400,
            None,
            vec![Audience::Developer, Audience::Owner],
        ),
        (
            "top-operations",
            vec![Metric::Calls],
            Dimension::Operation,
            Granularity::Day,
            week,
            Some(10),
            vec![Audience::Owner, Audience::Admin],
        ),
    ];
    assert_eq!(offered.len(), expected.len());
    for (widget, (id, metrics, group_by, granularity, lookback, top, audiences)) in
        offered.iter().zip(expected)
    {
        assert_eq!(widget.id, id);
        assert!(
            !widget.title.is_empty() && !widget.description.is_empty(),
            "{id}"
        );
        assert_eq!(widget.audiences, audiences, "{id}");
        let query = &widget.query;
        assert_eq!(query.metrics, metrics, "{id}");
        assert_eq!(query.group_by, group_by, "{id}");
        assert_eq!(query.granularity, granularity, "{id}");
        assert_eq!(query.lookback_seconds, lookback, "{id}");
        assert_eq!(query.top, top, "{id}");
    }
}

#[tokio::test]
async fn every_widget_renders_well_formed_themed_accessible_svg() {
    let plugin = widgets();
    let hourly: Vec<f64> = (0..168).map(|i| f64::from(i % 24 * 10)).collect();
    let cases = [
        (
            "calls",
            "Calls over time",
            vec![series(Metric::Calls, "", &hourly)],
        ),
        (
            "latency",
            "Latency percentiles",
            vec![
                series(Metric::LatencyP50, "", &[12.0, 14.5, 13.0]),
                series(Metric::LatencyP95, "", &[80.0, 95.0, 90.0]),
                series(Metric::LatencyP99, "", &[310.0, 402.0, 350.0]),
            ],
        ),
        (
            "errors",
            "Errors by status",
            vec![
                series(Metric::Calls, "2xx", &[900.0, 950.0]),
                series(Metric::Calls, "4xx", &[40.0, 60.0]),
                series(Metric::Calls, "5xx", &[0.0, 50.0]),
            ],
        ),
        (
            "quota",
            "Quota used",
            vec![
                series(Metric::QuotaUsed, "My app · Pet Store/free", &[42.0]),
                series(Metric::QuotaUsed, "Batch · Pet Store/pro", &[125.0]),
            ],
        ),
        (
            "top-operations",
            "Top operations",
            vec![
                series(Metric::Calls, "GET /pets/{petId}", &[1200.0, 34.0]),
                series(Metric::Calls, "POST /pets", &[5.0]),
            ],
        ),
    ];
    for (id, title, data) in cases {
        let svg = render(&plugin, id, data).await;
        let names = elements(&svg);
        assert_eq!(names[..3], ["svg", "title", "desc"], "{id}: {svg}");
        assert!(
            svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="480" height="200" viewBox="0 0 480 200" role="img""#),
            "{id}: {svg}"
        );
        assert!(
            svg.contains(&format!(r#"aria-labelledby="w-{id}-title w-{id}-desc""#)),
            "{id}: {svg}"
        );
        assert!(
            svg.contains(&format!(r#"<title id="w-{id}-title">{title}</title>"#)),
            "{id}: {svg}"
        );
        assert!(desc(&svg).len() > 20, "{id} describes its data: {svg}");
        assert!(svg.contains(&format!(r#"fill="{PRIMARY}""#)), "{id}: {svg}");
        assert!(svg.contains(r#"font-family="system-ui"#), "{id}: {svg}");
        for forbidden in ["script", "foreignObject", "image", "use", "a"] {
            assert!(
                !names.iter().any(|n| n == forbidden),
                "{id} has <{forbidden}>"
            );
        }
        assert!(!svg.contains("href"), "{id} links nothing: {svg}");
    }
}

#[tokio::test]
async fn descriptions_say_what_the_charts_show() {
    let plugin = widgets();
    let calls = render(
        &plugin,
        "calls",
        vec![series(Metric::Calls, "", &[1000.0, 24.0, 210.0])],
    )
    .await;
    assert_eq!(
        desc(&calls),
        "1,234 calls in the last 7 days; peak 1,000 at 00:00 on 27 Nov."
    );
    let errors = render(
        &plugin,
        "errors",
        vec![
            series(Metric::Calls, "2xx", &[900.0]),
            series(Metric::Calls, "5xx", &[100.0]),
        ],
    )
    .await;
    assert!(
        desc(&errors).contains("error rate 10.0% (4xx and 5xx)"),
        "{errors}"
    );
    let mut quota = request(
        "quota",
        vec![series(
            Metric::QuotaUsed,
            "My app · Pet Store/free",
            &[125.0],
        )],
    );
    quota.quota_limit = Some(10_000);
    let quota = plugin.render_widget(&quota).await.unwrap();
    assert_eq!(
        desc(&quota),
        "Quota used in the current period. My app · Pet Store/free: 125.0% of 10,000 calls used, over quota."
    );
    assert!(quota.contains(">125.0% over quota</text>"), "{quota}");
}

#[tokio::test]
async fn labels_from_the_request_are_escaped() {
    let plugin = widgets();
    let hostile = r#"<script>alert("x")</script> & co"#;
    for id in ["quota", "top-operations"] {
        let metric = if id == "quota" {
            Metric::QuotaUsed
        } else {
            Metric::Calls
        };
        let data = vec![series(metric, hostile, &[50.0])];
        let svg = render(&plugin, id, data).await;
        elements(&svg);
        assert!(!svg.contains("<script"), "{id}: {svg}");
        assert!(
            svg.contains("&lt;script&gt;alert(&quot;x&quot;)"),
            "{id}: {svg}"
        );
        assert!(svg.contains("&amp; co"), "{id}: {svg}");
    }
}

#[tokio::test]
async fn no_data_renders_a_readable_panel() {
    let plugin = widgets();
    let nonsense = [0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let cases = [
        ("calls", vec![]),
        ("latency", vec![series(Metric::LatencyP99, "", &nonsense)]),
        ("errors", vec![series(Metric::Calls, "5xx", &nonsense)]),
        (
            "top-operations",
            vec![series(Metric::Calls, "GET /pets", &[0.0])],
        ),
    ];
    for (id, data) in cases {
        let svg = render(&plugin, id, data).await;
        elements(&svg);
        assert_eq!(desc(&svg), "No calls in this period", "{id}");
        assert!(
            svg.contains(">No calls in this period</text>"),
            "{id}: {svg}"
        );
    }
}

#[tokio::test]
async fn unknown_widget_is_a_plugin_error() {
    let plugin = widgets();
    let err = plugin
        .render_widget(&request("pie-chart", vec![]))
        .await
        .unwrap_err();
    let CallError::Plugin {
        error: PluginError::NotFound(message),
        ..
    } = &err
    else {
        panic!("not a plugin's not-found error: {err}");
    };
    assert!(message.contains("`pie-chart`"), "{message}");
}
