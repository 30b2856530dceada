//! The charts over time: calls as bars, errors as bars stacked by status
//! class, latency percentiles as lines. They share one plot: a UTC time axis
//! whose ticks fall on whole hours or days, and a value axis with round steps.

use std::collections::BTreeMap;

use portico_plugin_sdk::widget::{Metric, Series};

use crate::format;
use crate::svg::{AMBER, CHAR_WIDTH, FONT_SIZE, RED, Svg, num};
use crate::{Chart, value};

const DAY_MS: u64 = 86_400_000;

/// Time tick spacings, narrowest first; longer spans fall back to whole days.
const TICK_STEPS_MS: &[u64] = &[
    3_600_000,
    2 * 3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    DAY_MS,
    2 * DAY_MS,
    7 * DAY_MS,
    14 * DAY_MS,
];

/// Horizontal room each time label needs.
const TICK_SPACING_PX: f64 = 70.0;

/// Sum of the values per bucket start of some series.
type Buckets = BTreeMap<u64, f64>;

fn buckets<'a>(series: impl IntoIterator<Item = &'a Series>) -> Buckets {
    let mut out = Buckets::new();
    for point in series.into_iter().flat_map(|s| &s.points) {
        *out.entry(point.at).or_default() += value(point.value);
    }
    out
}

/// The bucket with the largest value; the earliest on a tie.
fn peak(buckets: &Buckets) -> Option<(u64, f64)> {
    buckets.iter().fold(None, |best, (&at, &v)| match best {
        Some((_, top)) if top >= v => best,
        _ => Some((at, v)),
    })
}

/// Calls per bucket as bars in the primary colour.
pub(crate) fn calls(chart: &Chart) -> String {
    let data = buckets(chart.of(Metric::Calls));
    let total: f64 = data.values().sum();
    let Some((peak_at, peak)) = peak(&data).filter(|_| total > 0.0) else {
        return chart.empty("No calls in this period");
    };
    let desc = format!(
        "{} in {}; peak {} at {}.",
        chart.calls(total),
        chart.period(),
        chart.numbers.int(peak),
        chart.step.moment(peak_at),
    );
    let layer = Layer {
        name: String::new(),
        colour: chart.theme.primary_color.clone(),
        data,
    };
    let mut svg = chart.svg(&desc);
    stacked_bars(chart, &mut svg, &[layer], None);
    svg.finish()
}

/// Calls per bucket stacked by status class, with the share of 4xx and 5xx.
pub(crate) fn errors(chart: &Chart) -> String {
    let theme = chart.theme;
    let classes = [
        ("2xx", theme.primary_color.as_str()),
        ("3xx", theme.accent_color.as_str()),
        ("4xx", AMBER),
        ("5xx", RED),
    ];
    let calls: Vec<&Series> = chart.of(Metric::Calls).collect();
    let mut layers: Vec<Layer> = classes
        .iter()
        .map(|(class, colour)| Layer {
            name: (*class).into(),
            colour: (*colour).into(),
            data: buckets(calls.iter().copied().filter(|s| s.label == *class)),
        })
        .collect();
    // A label the host should not send still counts, so totals stay true.
    let other = buckets(
        calls
            .iter()
            .copied()
            .filter(|s| !classes.iter().any(|(class, _)| s.label == *class)),
    );
    if !other.is_empty() {
        layers.push(Layer {
            name: "other".into(),
            colour: theme.text_color.clone(),
            data: other,
        });
    }
    let totals: Vec<f64> = layers.iter().map(|l| l.data.values().sum()).collect();
    let total: f64 = totals.iter().sum();
    if total <= 0.0 {
        return chart.empty("No calls in this period");
    }
    // The classes come first, in order: 2 and 3 are 4xx and 5xx.
    let rate = chart
        .numbers
        .percent((totals[2] + totals[3]) / total * 100.0);
    let parts: Vec<String> = layers
        .iter()
        .zip(&totals)
        .filter(|(_, t)| **t > 0.0)
        .map(|(l, t)| format!("{} {}", chart.numbers.int(*t), l.name))
        .collect();
    let desc = format!(
        "{} in {}: {}; error rate {rate} (4xx and 5xx).",
        chart.calls(total),
        chart.period(),
        parts.join(", "),
    );
    layers.retain(|l| l.data.values().sum::<f64>() > 0.0);
    let mut svg = chart.svg(&desc);
    stacked_bars(
        chart,
        &mut svg,
        &layers,
        Some(&format!("Error rate {rate}")),
    );
    svg.finish()
}

/// The three latency percentiles as lines: primary, accent, then dashed text colour.
pub(crate) fn latency(chart: &Chart) -> String {
    let theme = chart.theme;
    let lines = [
        (
            "p50",
            Metric::LatencyP50,
            theme.primary_color.as_str(),
            None,
        ),
        ("p95", Metric::LatencyP95, theme.accent_color.as_str(), None),
        (
            "p99",
            Metric::LatencyP99,
            theme.text_color.as_str(),
            Some("5 3"),
        ),
    ]
    .map(|(name, metric, colour, dash)| (name, colour, dash, buckets(chart.of(metric))));
    let peaks: Vec<(&str, u64, f64)> = lines
        .iter()
        .filter_map(|(name, _, _, data)| peak(data).map(|(at, v)| (*name, at, v)))
        .filter(|(_, _, v)| *v > 0.0)
        .collect();
    if peaks.is_empty() {
        return chart.empty("No calls in this period");
    }
    let highest: Vec<String> = peaks
        .iter()
        .map(|(name, at, v)| {
            format!(
                "{name} {} at {}",
                chart.numbers.ms(*v),
                chart.step.moment(*at)
            )
        })
        .collect();
    let desc = format!(
        "Highest latency in {}: {}.",
        chart.period(),
        highest.join("; ")
    );
    let max = peaks.iter().map(|(_, _, v)| *v).fold(0.0, f64::max);
    let span = lines.iter().flat_map(|(.., data)| data.keys().copied());
    let legend: Vec<(&str, &str)> = lines.iter().map(|(n, c, ..)| (*c, *n)).collect();
    let mut svg = chart.svg(&desc);
    let plot = Plot::new(chart, span, max, Scale::Fractional, true, &|v| {
        chart.numbers.ms(v)
    });
    plot.axes(chart, &mut svg);
    legend_row(chart, &mut svg, &legend, None);
    for (name, colour, dash, data) in &lines {
        // Buckets without calls have no latency: a gap, not a drop to 0.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut last: Option<u64> = None;
        for (&at, &v) in data.iter().filter(|(_, v)| **v > 0.0) {
            if last.is_some_and(|l| at.saturating_sub(l) > chart.step.ms()) {
                draw_run(&mut svg, &run, colour, *dash);
                run.clear();
            }
            let point = (plot.x(at) + plot.bucket_width() / 2.0, plot.y(v));
            run.push(point);
            last = Some(at);
            svg.open(
                "circle",
                &[
                    ("cx", &num(point.0)),
                    ("cy", &num(point.1)),
                    ("r", "1.5"),
                    ("fill", colour),
                ],
            );
            let tip = format!(
                "{name} at {}: {}",
                chart.step.moment(at),
                chart.numbers.ms(v)
            );
            svg.leaf("title", &[], Some(&tip));
            svg.close("circle");
        }
        draw_run(&mut svg, &run, colour, *dash);
    }
    svg.finish()
}

/// A line through a run of neighbouring buckets; a lone point keeps only its dot.
fn draw_run(svg: &mut Svg, run: &[(f64, f64)], colour: &str, dash: Option<&str>) {
    if run.len() > 1 {
        svg.polyline(run, colour, dash);
    }
}

/// One colour of stacked bars.
struct Layer {
    /// Its legend entry; empty for plain calls, which need no legend.
    name: String,
    colour: String,
    data: Buckets,
}

/// Bars per bucket, one segment per layer from the bottom up, each with a tooltip.
fn stacked_bars(chart: &Chart, svg: &mut Svg, layers: &[Layer], note: Option<&str>) {
    let mut totals = Buckets::new();
    for layer in layers {
        for (&at, &v) in &layer.data {
            *totals.entry(at).or_default() += v;
        }
    }
    let max = totals.values().copied().fold(0.0, f64::max);
    let legend = layers.iter().any(|l| !l.name.is_empty());
    let plot = Plot::new(
        chart,
        totals.keys().copied(),
        max,
        Scale::Whole,
        legend,
        &|v| chart.numbers.int(v),
    );
    plot.axes(chart, svg);
    if legend {
        let legend: Vec<(&str, &str)> = layers
            .iter()
            .map(|l| (l.colour.as_str(), l.name.as_str()))
            .collect();
        legend_row(chart, svg, &legend, note);
    }
    let width = plot.bucket_width();
    let gap = (width * 0.2).min(1.0);
    for &at in totals.keys() {
        let mut base = 0.0;
        for layer in layers {
            let v = layer.data.get(&at).copied().unwrap_or_default();
            if v <= 0.0 {
                continue;
            }
            let (top, bottom) = (plot.y(base + v), plot.y(base));
            let what = if layer.name.is_empty() {
                String::new()
            } else {
                format!(" {}", layer.name)
            };
            let tip = format!("{}: {}{what}", chart.step.moment(at), chart.calls(v));
            let bar = (plot.x(at) + gap / 2.0, top, width - gap, bottom - top);
            svg.rect(bar, &layer.colour, &tip);
            base += v;
        }
    }
}

/// A row of colour swatches and names above the plot, and a note at its right.
fn legend_row(chart: &Chart, svg: &mut Svg, entries: &[(&str, &str)], note: Option<&str>) {
    let y = FONT_SIZE + 2.0;
    let mut x = 4.0;
    for (colour, name) in entries {
        svg.leaf(
            "rect",
            &[
                ("x", &num(x)),
                ("y", &num(y - 9.0)),
                ("width", "10"),
                ("height", "10"),
                ("fill", colour),
            ],
            None,
        );
        svg.text((x + 14.0, y), "start", &chart.theme.text_color, name);
        x += 14.0 + name.chars().count() as f64 * CHAR_WIDTH + 12.0;
    }
    if let Some(note) = note {
        svg.text(
            (chart.size.0 - 4.0, y),
            "end",
            &chart.theme.text_color,
            note,
        );
    }
}

/// The plot area and its scales: time across, value up.
struct Plot {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
    /// First bucket start and last bucket end, in ms since the epoch.
    start: u64,
    end: u64,
    step_ms: u64,
    /// The value at the top of the axis.
    max: f64,
    /// Gridline values and their labels.
    labels: Vec<(f64, String)>,
}

impl Plot {
    /// Scales fitting the bucket starts `times` and values up to `max`,
    /// leaving room above for a legend when there is one.
    fn new(
        chart: &Chart,
        times: impl Iterator<Item = u64>,
        max: f64,
        scale: Scale,
        legend: bool,
        label: &dyn Fn(f64) -> String,
    ) -> Self {
        let step_ms = chart.step.ms();
        let (mut start, mut last) = (u64::MAX, 0);
        for at in times {
            start = start.min(at);
            last = last.max(at);
        }
        let start = start.min(last);
        let (top_value, tick) = nice_scale(max, scale);
        let labels: Vec<(f64, String)> = (0..)
            .map(|i| f64::from(i) * tick)
            .take_while(|v| *v <= top_value + tick / 2.0)
            .map(|v| (v, label(v)))
            .collect();
        let widest = labels
            .iter()
            .map(|(_, l)| l.chars().count())
            .max()
            .unwrap_or(1);
        let (width, height) = chart.size;
        Self {
            left: widest as f64 * CHAR_WIDTH + 10.0,
            top: if legend {
                2.0 * FONT_SIZE + 4.0
            } else {
                FONT_SIZE
            },
            right: width - 8.0,
            bottom: height - FONT_SIZE - 10.0,
            start,
            end: last.saturating_add(step_ms),
            step_ms,
            max: top_value,
            labels,
        }
    }

    fn x(&self, at: u64) -> f64 {
        let span = self.end.saturating_sub(self.start).max(1) as f64;
        self.left + (at.saturating_sub(self.start)) as f64 / span * (self.right - self.left)
    }

    fn y(&self, v: f64) -> f64 {
        self.bottom - v / self.max * (self.bottom - self.top)
    }

    fn bucket_width(&self) -> f64 {
        self.x(self.start.saturating_add(self.step_ms)) - self.left
    }

    /// Gridlines with value labels, and time labels on whole hours or days.
    fn axes(&self, chart: &Chart, svg: &mut Svg) {
        let colour = &chart.theme.text_color;
        for (v, label) in &self.labels {
            let y = self.y(*v);
            let opacity = if *v == 0.0 { 0.6 } else { 0.15 };
            svg.line((self.left, y), (self.right, y), colour, opacity);
            svg.text((self.left - 6.0, y + FONT_SIZE / 3.0), "end", colour, label);
        }
        let span = self.end.saturating_sub(self.start);
        let room = ((self.right - self.left) / TICK_SPACING_PX).max(2.0) as u64;
        let spacing = TICK_STEPS_MS
            .iter()
            .copied()
            .find(|s| span / s <= room)
            .unwrap_or_else(|| {
                let wide = span.div_ceil(room);
                wide.checked_next_multiple_of(DAY_MS).unwrap_or(wide)
            });
        let y = self.bottom + FONT_SIZE + 4.0;
        let mut next = self.start.checked_next_multiple_of(spacing);
        while let Some(at) = next.filter(|at| *at < self.end) {
            let x = self.x(at);
            let label = if spacing < DAY_MS {
                format::hour(at)
            } else {
                format::day(at)
            };
            let half = label.len() as f64 * CHAR_WIDTH / 2.0;
            if x - half >= 0.0 && x + half <= chart.size.0 {
                svg.line((x, self.bottom), (x, self.bottom + 3.0), colour, 0.6);
                svg.text((x, y), "middle", colour, &label);
            }
            next = at.checked_add(spacing);
        }
    }
}

/// What a value axis counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// Counts: gridlines on whole numbers.
    Whole,
    /// Durations: any round step.
    Fractional,
}

/// A round top for a value axis and the spacing of about four gridlines:
/// 1, 2, 2.5 or 5 times a power of ten.
fn nice_scale(max: f64, scale: Scale) -> (f64, f64) {
    let raw = (max / 4.0).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let tick = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .filter(|t| scale == Scale::Fractional || t.fract() == 0.0)
        .find(|t| *t >= raw)
        .unwrap_or(10.0 * magnitude);
    let tick = match scale {
        Scale::Whole => tick.max(1.0).round(),
        Scale::Fractional => tick,
    };
    let top = ((max / tick).ceil() * tick).max(tick);
    (top, tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_axes_have_round_steps() {
        assert_eq!(nice_scale(210.0, Scale::Whole), (300.0, 100.0));
        assert_eq!(nice_scale(10.0, Scale::Whole), (10.0, 5.0));
        assert_eq!(nice_scale(1.0, Scale::Whole), (1.0, 1.0));
        assert_eq!(nice_scale(890.0, Scale::Fractional), (1000.0, 250.0));
        assert_eq!(nice_scale(9.0, Scale::Fractional), (10.0, 2.5));
    }
}
