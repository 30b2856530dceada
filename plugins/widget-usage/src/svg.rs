//! A tiny SVG writer. Every attribute value and text it is handed is escaped
//! for XML here, in one place, because labels come from the request (app and
//! operation names are user-controlled) and must never open a tag; the
//! frame gives each widget its accessible `<title>` and `<desc>`.

use portico_plugin_sdk::Theme;

/// The font size of every label, in CSS pixels.
pub(crate) const FONT_SIZE: f64 = 11.0;

/// The average advance of a character at [`FONT_SIZE`]: labels are fitted by
/// counting characters, since a plugin cannot measure text.
pub(crate) const CHAR_WIDTH: f64 = FONT_SIZE * 0.6;

/// Warning amber, for what the theme has no colour for (4xx answers);
/// readable on light and dark backgrounds alike.
pub(crate) const AMBER: &str = "#d97706";

/// Danger red, for 5xx answers and quotas overrun.
pub(crate) const RED: &str = "#dc2626";

/// Text made safe for XML content and attribute values: markup characters
/// become entities, characters XML 1.0 forbids (most controls) become U+FFFD.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate or length with at most one decimal (`12.5`, `40`); what is
/// not finite is 0, so a bad value bends a chart instead of breaking it.
pub(crate) fn num(value: f64) -> String {
    let value = if value.is_finite() { value } else { 0.0 };
    let tenths = (value * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0}")
    } else {
        format!("{tenths:.1}")
    }
}

/// `text` cut to at most `max` characters by dropping its middle, which
/// keeps both the method and the last path segment of `GET /a/b/{id}/c`.
pub(crate) fn truncate_middle(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    if max <= 1 {
        return "…".repeat(max);
    }
    let tail = (max - 1) / 2;
    let head = max - 1 - tail;
    let mut out: String = text.chars().take(head).collect();
    out.push('…');
    out.extend(text.chars().skip(count - tail));
    out
}

/// An SVG document being written.
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    /// Opens the root element, sized by `width` and `height` with a matching
    /// `viewBox`, labelled by a `<title>` and `<desc>` whose ids derive from
    /// the widget's `id`, so several widgets can share a page.
    pub(crate) fn begin(
        id: &str,
        (width, height): (f64, f64),
        theme: &Theme,
        title: &str,
        desc: &str,
    ) -> Self {
        let mut svg = Self { out: String::new() };
        let (title_id, desc_id) = (format!("w-{id}-title"), format!("w-{id}-desc"));
        let view_box = format!("0 0 {} {}", num(width), num(height));
        let labelled_by = format!("{title_id} {desc_id}");
        svg.open(
            "svg",
            &[
                ("xmlns", "http://www.w3.org/2000/svg"),
                ("width", &num(width)),
                ("height", &num(height)),
                ("viewBox", &view_box),
                ("role", "img"),
                ("aria-labelledby", &labelled_by),
                ("font-family", &theme.font_family),
                ("font-size", &num(FONT_SIZE)),
                ("fill", &theme.text_color),
            ],
        );
        svg.leaf("title", &[("id", &title_id)], Some(title));
        svg.leaf("desc", &[("id", &desc_id)], Some(desc));
        svg
    }

    /// `<name attrs>`; close it with [`Svg::close`].
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape(value));
            self.out.push('"');
        }
        self.out.push('>');
    }

    /// `</name>`.
    pub(crate) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name attrs/>`, or `<name attrs>text</name>` with text.
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: Option<&str>) {
        self.open(name, attrs);
        match text {
            Some(text) => {
                self.out.push_str(&escape(text));
                self.close(name);
            }
            None => {
                self.out.pop();
                self.out.push_str("/>");
            }
        }
    }

    /// A filled rectangle with a tooltip (a `<title>` child).
    pub(crate) fn rect(&mut self, (x, y, w, h): (f64, f64, f64, f64), fill: &str, tooltip: &str) {
        self.open(
            "rect",
            &[
                ("x", &num(x)),
                ("y", &num(y)),
                ("width", &num(w.max(0.0))),
                ("height", &num(h.max(0.0))),
                ("fill", fill),
            ],
        );
        self.leaf("title", &[], Some(tooltip));
        self.close("rect");
    }

    /// A label; `anchor` is `start`, `middle` or `end`.
    pub(crate) fn text(&mut self, (x, y): (f64, f64), anchor: &str, fill: &str, text: &str) {
        self.leaf(
            "text",
            &[
                ("x", &num(x)),
                ("y", &num(y)),
                ("text-anchor", anchor),
                ("fill", fill),
            ],
            Some(text),
        );
    }

    /// A straight line, faint unless `opacity` says otherwise.
    pub(crate) fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: &str, opacity: f64) {
        self.leaf(
            "line",
            &[
                ("x1", &num(from.0)),
                ("y1", &num(from.1)),
                ("x2", &num(to.0)),
                ("y2", &num(to.1)),
                ("stroke", stroke),
                ("stroke-opacity", &num(opacity)),
            ],
            None,
        );
    }

    /// A line through `points`, dashed when `dash` is set.
    pub(crate) fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, dash: Option<&str>) {
        let points = points
            .iter()
            .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
            .collect::<Vec<_>>()
            .join(" ");
        let mut attrs = vec![
            ("points", points.as_str()),
            ("fill", "none"),
            ("stroke", stroke),
            ("stroke-width", "2"),
            ("stroke-linejoin", "round"),
        ];
        if let Some(dash) = dash {
            attrs.push(("stroke-dasharray", dash));
        }
        self.leaf("polyline", &attrs, None);
    }

    /// The panel shown instead of a chart when there is nothing to draw.
    pub(crate) fn no_data(&mut self, (width, height): (f64, f64), theme: &Theme, message: &str) {
        self.leaf(
            "rect",
            &[
                ("x", "1"),
                ("y", "1"),
                ("width", &num(width - 2.0)),
                ("height", &num(height - 2.0)),
                ("rx", "6"),
                ("fill", "none"),
                ("stroke", &theme.text_color),
                ("stroke-opacity", "0.3"),
                ("stroke-dasharray", "4 4"),
            ],
            None,
        );
        let centre = (width / 2.0, height / 2.0 + FONT_SIZE / 3.0);
        self.text(centre, "middle", &theme.text_color, message);
    }

    /// Closes the root element and returns the document.
    pub(crate) fn finish(mut self) -> String {
        self.close("svg");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme() -> Theme {
        Theme {
            primary_color: "#123456".into(),
            accent_color: "#abcdef".into(),
            background_color: "#fff".into(),
            text_color: "#222".into(),
            font_family: "'Segoe UI', sans-serif".into(),
            monospace_font_family: "monospace".into(),
            dark: false,
        }
    }

    #[test]
    fn markup_and_forbidden_characters_are_escaped() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &apos;b&apos;&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{ffff}\tc"), "a\u{fffd}b\u{fffd}\tc");
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(f64::NAN), "0");
    }

    #[test]
    fn long_labels_lose_their_middle() {
        assert_eq!(truncate_middle("GET /pets", 20), "GET /pets");
        assert_eq!(
            truncate_middle("GET /pets/{petId}/photos/{photoId}", 20),
            "GET /pets/…{photoId}"
        );
        assert_eq!(truncate_middle("ééééé", 3), "é…é");
        assert_eq!(truncate_middle("abc", 0), "");
    }

    #[test]
    fn the_frame_is_labelled_by_ids_of_the_widget() {
        let mut svg = Svg::begin("calls", (300.0, 100.0), &theme(), "Calls", "1 call");
        svg.rect((0.0, 0.0, 1.0, -2.0), "red", "a < b");
        let svg = svg.finish();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100" viewBox="0 0 300 100" role="img" aria-labelledby="w-calls-title w-calls-desc" font-family="&apos;Segoe UI&apos;, sans-serif""#), "{svg}");
        assert!(svg.contains(
            r#"<title id="w-calls-title">Calls</title><desc id="w-calls-desc">1 call</desc>"#
        ));
        assert!(
            svg.contains(r#"height="0" fill="red"><title>a &lt; b</title></rect>"#),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
    }
}
