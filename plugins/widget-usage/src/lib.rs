//! Portico's first-party usage widgets: calls over time, latency percentiles,
//! errors by status class, quota used and top operations. Each is drawn as
//! an inline SVG whose `<desc>` says in words what the chart shows, so a
//! dashboard reads without JavaScript and with a screen reader.

mod bars;
mod format;
mod svg;
mod timeline;

use portico_plugin_sdk::widget::{
    Audience, Descriptor, Dimension, Granularity, Metric, RenderRequest, Series, UsageQuery, Widget,
};
use portico_plugin_sdk::{PluginError, Theme, export_widget};

use crate::format::{Numbers, Step};
use crate::svg::Svg;

/// The smallest frame a chart is drawn in; smaller requests are enlarged.
const MIN_SIZE: (u32, u32) = (160, 100);

/// The largest frame, which also bounds the work a request can ask for.
const MAX_SIZE: (u32, u32) = (4096, 4096);

const SECONDS_PER_DAY: u64 = 86_400;

const EVERYONE: &[Audience] = &[Audience::Developer, Audience::Owner, Audience::Admin];

/// One widget: its descriptor's contents and the function that draws it.
struct Kind {
    /// The id the host stores in dashboards: a contract, never renamed.
    id: &'static str,
    title: &'static str,
    description: &'static str,
    audiences: &'static [Audience],
    metrics: &'static [Metric],
    group_by: Dimension,
    step: Step,
    lookback_days: u64,
    top: Option<u32>,
    draw: fn(&Chart) -> String,
}

const WIDGETS: &[Kind] = &[
    Kind {
        id: "calls",
        title: "Calls over time",
        description: "Calls per hour over the last 7 days.",
        audiences: EVERYONE,
        metrics: &[Metric::Calls],
        group_by: Dimension::None,
        step: Step::Hour,
        lookback_days: 7,
        top: None,
        draw: timeline::calls,
    },
    Kind {
        id: "latency",
        title: "Latency percentiles",
        description: "Median, 95th and 99th percentile latency per hour over the last 7 days.",
        audiences: EVERYONE,
        metrics: &[Metric::LatencyP50, Metric::LatencyP95, Metric::LatencyP99],
        group_by: Dimension::None,
        step: Step::Hour,
        lookback_days: 7,
        top: None,
        draw: timeline::latency,
    },
    Kind {
        id: "errors",
        title: "Errors by status",
        description: "Calls per hour by status class over the last 7 days, with the error rate.",
        audiences: EVERYONE,
        metrics: &[Metric::Calls],
        group_by: Dimension::StatusClass,
        step: Step::Hour,
        lookback_days: 7,
        top: None,
        draw: timeline::errors,
    },
    Kind {
        id: "quota",
        title: "Quota used",
        description: "How much of each subscription's quota the current period has used.",
        audiences: &[Audience::Developer, Audience::Owner],
        metrics: &[Metric::QuotaUsed],
        group_by: Dimension::App,
        step: Step::Day,
        lookback_days: 30,
        top: None,
        draw: bars::quota,
    },
    Kind {
        id: "top-operations",
        title: "Top operations",
        description: "The 10 most called operations over the last 7 days.",
        audiences: &[Audience::Owner, Audience::Admin],
        metrics: &[Metric::Calls],
        group_by: Dimension::Operation,
        step: Step::Day,
        lookback_days: 7,
        top: Some(10),
        draw: bars::top_operations,
    },
];

impl Kind {
    fn descriptor(&self) -> Descriptor {
        Descriptor {
            id: self.id.into(),
            title: self.title.into(),
            description: self.description.into(),
            audiences: self.audiences.to_vec(),
            query: UsageQuery {
                metrics: self.metrics.to_vec(),
                group_by: self.group_by,
                granularity: match self.step {
                    Step::Hour => Granularity::Hour,
                    Step::Day => Granularity::Day,
                },
                lookback_seconds: self.lookback_days * SECONDS_PER_DAY,
                top: self.top,
            },
        }
    }
}

/// What a drawing function works from: the widget, the request's data and
/// the frame, with the size already clamped and the locale already read.
pub(crate) struct Chart<'a> {
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    pub(crate) step: Step,
    pub(crate) lookback_days: u64,
    pub(crate) series: &'a [Series],
    pub(crate) quota_limit: Option<u64>,
    pub(crate) theme: &'a Theme,
    pub(crate) size: (f64, f64),
    pub(crate) numbers: Numbers,
}

impl Chart<'_> {
    /// The SVG frame, with `desc` as the accessible description.
    pub(crate) fn svg(&self, desc: &str) -> Svg {
        Svg::begin(self.id, self.size, self.theme, self.title, desc)
    }

    /// The panel drawn when there is nothing to chart.
    pub(crate) fn empty(&self, message: &str) -> String {
        let mut svg = self.svg(message);
        svg.no_data(self.size, self.theme, message);
        svg.finish()
    }

    /// `the last 7 days`, for sentences.
    pub(crate) fn period(&self) -> String {
        format!("the last {} days", self.lookback_days)
    }

    /// `1 call` or `1,234 calls`.
    pub(crate) fn calls(&self, count: f64) -> String {
        let noun = if count.round() == 1.0 {
            "call"
        } else {
            "calls"
        };
        format!("{} {noun}", self.numbers.int(count))
    }

    /// The series of one metric.
    pub(crate) fn of(&self, metric: Metric) -> impl Iterator<Item = &Series> {
        self.series.iter().filter(move |s| s.metric == metric)
    }
}

/// A value as charts use it: NaN, infinities and negatives are 0, since
/// every metric here is a count, a duration or a share.
pub(crate) fn value(raw: f64) -> f64 {
    if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        0.0
    }
}

struct UsageWidgets;

impl Widget for UsageWidgets {
    fn describe() -> Vec<Descriptor> {
        WIDGETS.iter().map(Kind::descriptor).collect()
    }

    fn render(request: RenderRequest) -> Result<String, PluginError> {
        let kind = WIDGETS
            .iter()
            .find(|kind| kind.id == request.widget_id)
            .ok_or_else(|| {
                let known: Vec<_> = WIDGETS.iter().map(|kind| kind.id).collect();
                PluginError::NotFound(format!(
                    "widget-usage has no widget `{}`; it offers {}",
                    request.widget_id,
                    known.join(", ")
                ))
            })?;
        let size = |value: u32, (min, max): (u32, u32)| f64::from(value.clamp(min, max));
        let chart = Chart {
            id: kind.id,
            title: kind.title,
            step: kind.step,
            lookback_days: kind.lookback_days,
            series: &request.series,
            quota_limit: request.quota_limit,
            theme: &request.theme,
            size: (
                size(request.width, (MIN_SIZE.0, MAX_SIZE.0)),
                size(request.height, (MIN_SIZE.1, MAX_SIZE.1)),
            ),
            numbers: Numbers::for_locale(&request.locale),
        };
        Ok((kind.draw)(&chart))
    }
}

export_widget!(UsageWidgets);

#[cfg(test)]
mod tests {
    use portico_plugin_sdk::widget::Point;

    use super::*;

    /// 2026-11-27T00:00:00Z.
    const START: u64 = 1_795_737_600_000;

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

    fn render(id: &str, series: Vec<Series>) -> Result<String, PluginError> {
        UsageWidgets::render(RenderRequest {
            widget_id: id.into(),
            series,
            quota_limit: None,
            theme: Theme {
                primary_color: "#3b3f8f".into(),
                accent_color: "#e0a526".into(),
                background_color: "#fff".into(),
                text_color: "#1f2328".into(),
                font_family: "system-ui, sans-serif".into(),
                monospace_font_family: "monospace".into(),
                dark: false,
            },
            width: 480,
            height: 200,
            locale: "en-US".into(),
        })
    }

    fn desc(svg: &str) -> &str {
        let start = svg.find("-desc\">").expect("a desc") + 7;
        &svg[start..start + svg[start..].find("</desc>").expect("closed")]
    }

    #[test]
    fn every_widget_is_described_with_its_query() {
        let widgets = UsageWidgets::describe();
        let ids: Vec<_> = widgets.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(
            ids,
            ["calls", "latency", "errors", "quota", "top-operations"]
        );
        let top = &widgets[4].query;
        assert_eq!(top.group_by, Dimension::Operation);
        assert_eq!((top.granularity, top.top), (Granularity::Day, Some(10)));
        assert_eq!(widgets[3].query.lookback_seconds, 30 * 86_400);
    }

    #[test]
    fn unknown_widget_is_an_error_naming_the_known_ones() {
        let Err(PluginError::NotFound(message)) = render("pie", vec![]) else {
            panic!("not a not-found error");
        };
        assert!(message.contains("`pie`") && message.contains("top-operations"));
    }

    #[test]
    fn calls_are_summed_and_the_peak_named() {
        let svg = render(
            "calls",
            vec![series(Metric::Calls, "", &[1000.0, 24.0, 210.0])],
        )
        .unwrap();
        assert_eq!(
            desc(&svg),
            "1,234 calls in the last 7 days; peak 1,000 at 00:00 on 27 Nov."
        );
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
    }

    #[test]
    fn errors_give_the_share_of_4xx_and_5xx() {
        let svg = render(
            "errors",
            vec![
                series(Metric::Calls, "2xx", &[90.0, 60.0]),
                series(Metric::Calls, "4xx", &[8.0]),
                series(Metric::Calls, "5xx", &[0.0, 3.0]),
            ],
        )
        .unwrap();
        assert_eq!(
            desc(&svg),
            "161 calls in the last 7 days: 150 2xx, 8 4xx, 3 5xx; error rate 6.8% (4xx and 5xx)."
        );
        assert!(svg.contains(">Error rate 6.8%</text>"), "{svg}");
    }

    #[test]
    fn latency_lines_skip_buckets_without_calls() {
        let svg = render(
            "latency",
            vec![
                series(Metric::LatencyP50, "", &[12.0, 0.0, 14.0, 15.0]),
                series(Metric::LatencyP99, "", &[80.0, 0.0, 95.5, 70.0]),
            ],
        )
        .unwrap();
        assert!(desc(&svg).starts_with("Highest latency in the last 7 days: p50 15 ms at 03:00"));
        // One run of two buckets per line; the first bucket stands alone.
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
    }

    #[test]
    fn quota_over_its_limit_is_marked() {
        let svg = render(
            "quota",
            vec![
                series(Metric::QuotaUsed, "My app · Pet Store/free", &[87.5]),
                series(Metric::QuotaUsed, "Batch · Pet Store/pro", &[112.0]),
            ],
        )
        .unwrap();
        assert!(desc(&svg).contains("Batch · Pet Store/pro: 112.0% used, over quota"));
        assert!(svg.contains(r##"font-weight="bold" fill="#dc2626">112.0% over quota</text>"##));
    }

    #[test]
    fn top_operations_are_sorted_by_total() {
        let svg = render(
            "top-operations",
            vec![
                series(Metric::Calls, "GET /pets", &[1.0, 2.0]),
                series(Metric::Calls, "POST /pets", &[30.0]),
            ],
        )
        .unwrap();
        assert_eq!(
            desc(&svg),
            "Most called operations in the last 7 days: POST /pets (30 calls), GET /pets (3 calls)."
        );
    }

    #[test]
    fn nothing_or_nonsense_to_show_is_the_no_data_panel() {
        for id in ["calls", "latency", "errors", "top-operations"] {
            let nonsense = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -5.0, 0.0];
            for series in [vec![], vec![series(Metric::Calls, "2xx", &nonsense)]] {
                let svg = render(id, series).unwrap();
                assert!(
                    svg.contains(">No calls in this period</text>"),
                    "{id}: {svg}"
                );
            }
        }
        let svg = render("quota", vec![]).unwrap();
        assert!(svg.contains(">No quotas in this period</text>"), "{svg}");
    }
}
