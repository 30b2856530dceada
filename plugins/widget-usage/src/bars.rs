//! The charts of one bar per group: a meter per subscription for the quota
//! used, and horizontal bars for the most called operations. Their labels are
//! names users chose, so they are cut to fit and given in full in the
//! description and the tooltips.

use portico_plugin_sdk::widget::Metric;

use crate::svg::{CHAR_WIDTH, FONT_SIZE, RED, num, truncate_middle};
use crate::{Chart, value};

/// The most operations drawn, whatever the host sends.
const TOP: usize = 10;

/// The height of one quota meter with its label.
const METER_ROW: f64 = 32.0;

/// One meter per subscription: the share of the period's quota used, its
/// percentage written out, and anything over 100% in red and said so.
pub(crate) fn quota(chart: &Chart) -> String {
    let meters: Vec<(&str, f64)> = chart
        .of(Metric::QuotaUsed)
        .map(|s| {
            let name = if s.label.is_empty() {
                "Quota"
            } else {
                &s.label
            };
            (name, s.points.last().map_or(0.0, |p| value(p.value)))
        })
        .collect();
    if meters.is_empty() {
        return chart.empty("No quotas in this period");
    }
    let n = chart.numbers;
    let status = |used: f64| {
        if used > 100.0 {
            format!("{} over quota", n.percent(used))
        } else {
            n.percent(used)
        }
    };
    let over = |used: f64| if used > 100.0 { ", over quota" } else { "" };
    let sentences: Vec<String> = match (chart.quota_limit, meters.as_slice()) {
        (Some(limit), [(name, used)]) => vec![format!(
            "{name}: {} of {} calls used{}",
            n.percent(*used),
            n.int(limit as f64),
            over(*used)
        )],
        _ => meters
            .iter()
            .map(|(name, used)| format!("{name}: {} used{}", n.percent(*used), over(*used)))
            .collect(),
    };
    let desc = format!(
        "Quota used in the current period. {}.",
        sentences.join("; ")
    );

    let (width, height) = chart.size;
    let widest = meters
        .iter()
        .map(|(_, used)| status(*used).chars().count())
        .max()
        .unwrap_or(0);
    let track = width - 24.0 - widest as f64 * CHAR_WIDTH;
    let fits = ((height - 4.0) / METER_ROW).floor().max(1.0) as usize;
    let shown = if meters.len() > fits { fits - 1 } else { fits };
    let theme = chart.theme;
    let mut svg = chart.svg(&desc);
    for (i, (name, used)) in meters.iter().take(shown).enumerate() {
        let top = 4.0 + i as f64 * METER_ROW;
        let label = truncate_middle(name, (track / CHAR_WIDTH) as usize);
        svg.text((8.0, top + FONT_SIZE), "start", &theme.text_color, &label);
        svg.leaf(
            "rect",
            &[
                ("x", "8"),
                ("y", &num(top + 15.0)),
                ("width", &num(track)),
                ("height", "10"),
                ("fill", &theme.text_color),
                ("fill-opacity", "0.12"),
            ],
            None,
        );
        let over = *used > 100.0;
        let fill = if over { RED } else { &theme.primary_color };
        let bar = (8.0, top + 15.0, track * used.min(100.0) / 100.0, 10.0);
        svg.rect(bar, fill, &format!("{name}: {} used", status(*used)));
        let colour = if over { RED } else { &theme.text_color };
        let at = (width - 8.0, top + 24.0);
        let weight = if over { "bold" } else { "normal" };
        svg.leaf(
            "text",
            &[
                ("x", &num(at.0)),
                ("y", &num(at.1)),
                ("text-anchor", "end"),
                ("font-weight", weight),
                ("fill", colour),
            ],
            Some(&status(*used)),
        );
    }
    if shown < meters.len() {
        let more = format!("and {} more", n.int((meters.len() - shown) as f64));
        let y = 4.0 + shown as f64 * METER_ROW + FONT_SIZE;
        svg.text((8.0, y), "start", &theme.text_color, &more);
    }
    svg.finish()
}

/// Horizontal bars of the most called operations, largest first.
pub(crate) fn top_operations(chart: &Chart) -> String {
    let mut operations: Vec<(&str, f64)> = chart
        .of(Metric::Calls)
        .map(|s| {
            let name = if s.label.is_empty() {
                "(unknown)"
            } else {
                &s.label
            };
            (name, s.points.iter().map(|p| value(p.value)).sum())
        })
        .collect();
    operations.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    operations.truncate(TOP);
    let Some(&(_, max)) = operations.first().filter(|(_, calls)| *calls > 0.0) else {
        return chart.empty("No calls in this period");
    };
    let n = chart.numbers;
    let listed: Vec<String> = operations
        .iter()
        .map(|(name, count)| format!("{name} ({})", chart.calls(*count)))
        .collect();
    let desc = format!(
        "Most called operations in {}: {}.",
        chart.period(),
        listed.join(", ")
    );

    let (width, height) = chart.size;
    let longest = operations
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    let label_width = (longest as f64 * CHAR_WIDTH + 16.0).min(width * 0.45);
    let label_chars = ((label_width - 12.0) / CHAR_WIDTH).max(1.0) as usize;
    let value_width = n.int(max).chars().count() as f64 * CHAR_WIDTH + 12.0;
    let track = (width - label_width - value_width - 4.0).max(1.0);
    let row = ((height - 8.0) / operations.len() as f64).min(28.0);
    let bar_height = (row * 0.6).clamp(4.0, 16.0);
    let theme = chart.theme;
    let mut svg = chart.svg(&desc);
    for (i, (name, count)) in operations.iter().enumerate() {
        let middle = 4.0 + row * (i as f64 + 0.5);
        let baseline = middle + FONT_SIZE / 3.0;
        svg.leaf(
            "text",
            &[
                ("x", "8"),
                ("y", &num(baseline)),
                ("font-family", &theme.monospace_font_family),
                ("fill", &theme.text_color),
            ],
            Some(&truncate_middle(name, label_chars)),
        );
        let length = track * count / max;
        let bar = (label_width, middle - bar_height / 2.0, length, bar_height);
        let tip = format!("{name}: {}", chart.calls(*count));
        svg.rect(bar, &theme.primary_color, &tip);
        let at = (label_width + length + 4.0, baseline);
        svg.text(at, "start", &theme.text_color, &n.int(*count));
    }
    svg.finish()
}
