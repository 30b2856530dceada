//! The markdown twin of every page: the same path plus `.md` (`/index.md` for
//! the home page), or `Accept: text/markdown`, answers the page's main
//! content as markdown, for agents and for people who prefer text.
//!
//! The twin is made from the page itself, so it can never say something the
//! page does not, and it passes the same routes and permission checks. API
//! docs have a twin of their own from the docs renderer (`…/docs.md`), which
//! is richer than a conversion; requests for it are routed there.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The largest page converted.
const MAX_PAGE: usize = 32 * 1024 * 1024;

const MARKDOWN: &str = "text/markdown; charset=utf-8";

/// Routes `.md` paths and `Accept: text/markdown` to the page, and turns the
/// page into markdown; everything else passes untouched. Wraps the whole
/// router, because it changes which route a request reaches.
pub async fn markdown_twin(mut request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let accepts_markdown = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/markdown"));
    let page_path = match path.strip_suffix(".md") {
        // The docs renderer's own twin.
        _ if path.ends_with("/docs.md") => return next.run(request).await,
        Some("/index") => "/".to_owned(),
        Some(page) if !page.is_empty() && !path.starts_with("/api/") => page.to_owned(),
        _ if accepts_markdown && path.ends_with("/docs") => {
            set_path(&mut request, &format!("{path}.md"));
            return next.run(request).await;
        }
        _ if accepts_markdown && !path.starts_with("/api/") => path.clone(),
        _ => return next.run(request).await,
    };
    set_path(&mut request, &page_path);
    let response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page is too large to convert",
        )
            .into_response();
    };
    let html = String::from_utf8_lossy(&bytes);
    let markdown = html_to_markdown(main_content(&html));
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MARKDOWN));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ETAG);
    Response::from_parts(parts, Body::from(markdown))
}

/// Replaces the request's path, keeping its query.
fn set_path(request: &mut Request, path: &str) {
    let uri = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    if let Ok(uri) = uri.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
}

/// The inside of the page's `<main>`, or the whole page without one.
fn main_content(html: &str) -> &str {
    let Some(open) = html.find("<main") else {
        return html;
    };
    let Some(start) = html[open..].find('>').map(|i| open + i + 1) else {
        return html;
    };
    let end = html[start..]
        .rfind("</main>")
        .map_or(html.len(), |i| start + i);
    &html[start..end]
}

/// Converts the portal's own (well-formed, template-made) HTML to markdown:
/// headings, paragraphs, links, lists, tables, definitions, code, emphasis.
/// Forms, scripts, styles and hidden parts are left out.
pub fn html_to_markdown(html: &str) -> String {
    let mut out = Converter::default();
    let mut rest = html;
    while !rest.is_empty() {
        match rest.find('<') {
            Some(0) => {
                let Some(end) = rest.find('>') else { break };
                out.tag(&rest[1..end]);
                rest = &rest[end + 1..];
            }
            Some(i) => {
                out.text(&rest[..i]);
                rest = &rest[i..];
            }
            None => {
                out.text(rest);
                break;
            }
        }
    }
    out.finish()
}

/// Elements without a closing tag.
const VOID: &[&str] = &[
    "input", "img", "br", "hr", "meta", "link", "source", "wbr", "col",
];

/// Tags whose content is not part of the twin.
const SKIPPED: &[&str] = &[
    "script", "style", "form", "button", "select", "textarea", "svg", "template",
];

#[derive(Default)]
struct Converter {
    /// Finished text; links and cells build in `stack` first.
    stack: Vec<String>,
    out: String,
    /// Inside skipped tags (nesting depth).
    skipping: usize,
    /// Inside `<pre>`.
    pre: bool,
    /// Open lists: `None` for bullets, `Some(n)` for the next number.
    lists: Vec<Option<usize>>,
    /// Hrefs of open links.
    links: Vec<String>,
    /// Cells of the current table row, and whether it had header cells.
    row: Vec<String>,
    row_is_header: bool,
    /// Whether the current table has its header separator yet.
    table_has_header: bool,
}

impl Converter {
    fn buffer(&mut self) -> &mut String {
        self.stack.last_mut().unwrap_or(&mut self.out)
    }

    fn block(&mut self) {
        let buffer = self.buffer();
        let trimmed = buffer.trim_end_matches([' ', '\n']).len();
        buffer.truncate(trimmed);
        if !buffer.is_empty() {
            buffer.push_str("\n\n");
        }
    }

    fn line(&mut self) {
        let buffer = self.buffer();
        let trimmed = buffer.trim_end_matches(' ').len();
        buffer.truncate(trimmed);
        if !buffer.is_empty() && !buffer.ends_with('\n') {
            buffer.push('\n');
        }
    }

    fn text(&mut self, raw: &str) {
        if self.skipping > 0 {
            return;
        }
        let text = decode_entities(raw);
        if self.pre {
            self.buffer().push_str(&text);
            return;
        }
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let buffer = self.buffer();
        let starts_space = text.starts_with(char::is_whitespace);
        let ends_space = text.ends_with(char::is_whitespace) && !collapsed.is_empty();
        if starts_space && !buffer.is_empty() && !buffer.ends_with([' ', '\n', '[', '(']) {
            buffer.push(' ');
        }
        buffer.push_str(&collapsed);
        if ends_space {
            buffer.push(' ');
        }
    }

    fn tag(&mut self, tag: &str) {
        let closing = tag.starts_with('/');
        let tag = tag.trim_start_matches('/').trim_end_matches('/');
        let name = tag
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name.starts_with('!') {
            return;
        }
        let void = VOID.contains(&name.as_str()) || tag.ends_with('/');
        if self.skipping > 0 {
            if closing {
                self.skipping -= 1;
            } else if !void {
                self.skipping += 1;
            }
            return;
        }
        let hidden = tag.contains(" hidden") || tag.contains("aria-hidden=\"true\"");
        if !closing && (SKIPPED.contains(&name.as_str()) || hidden) {
            if !void {
                self.skipping = 1;
            }
            return;
        }
        match (name.as_str(), closing) {
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                self.block();
                let level = name[1..].parse().unwrap_or(1);
                self.buffer().push_str(&"#".repeat(level));
                self.buffer().push(' ');
            }
            (
                "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "p" | "section" | "article" | "header"
                | "footer" | "details" | "figure" | "blockquote" | "table",
                _,
            )
            | ("caption", true)
            | ("div" | "nav" | "dl", true) => {
                if name == "table" {
                    self.table_has_header = false;
                }
                self.block();
            }
            ("div" | "nav" | "dl", false) => self.line(),
            ("br", _) => self.buffer().push('\n'),
            ("ul", false) => {
                self.line();
                self.lists.push(None);
            }
            ("ol", false) => {
                self.line();
                self.lists.push(Some(1));
            }
            ("ul" | "ol", true) => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.block();
                }
            }
            ("li", false) => {
                self.line();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "- ".to_owned(),
                };
                let indent = "  ".repeat(depth);
                self.buffer().push_str(&format!("{indent}{marker}"));
            }
            ("dt", true) => {
                self.buffer().push_str("**");
                self.line();
            }
            ("li" | "dd" | "summary", true) => self.line(),
            ("dt", false) => {
                self.line();
                self.buffer().push_str("**");
            }
            ("dd", false) => {
                self.line();
                self.buffer().push_str(": ");
            }
            ("summary", false) => self.line(),
            ("strong" | "b", _) => self.buffer().push_str("**"),
            ("em" | "i", _) => self.buffer().push('_'),
            ("code", _) if !self.pre => self.buffer().push('`'),
            ("pre", false) => {
                self.block();
                self.buffer().push_str("```\n");
                self.pre = true;
            }
            ("pre", true) => {
                self.pre = false;
                self.line();
                self.buffer().push_str("```");
                self.block();
            }
            ("a", false) => {
                self.links.push(attribute(tag, "href").unwrap_or_default());
                self.stack.push(String::new());
            }
            ("a", true) => {
                let text = self.stack.pop().unwrap_or_default();
                let href = self.links.pop().unwrap_or_default();
                let text = text.trim();
                let link = if href.is_empty() || href.starts_with('#') || text.is_empty() {
                    text.to_owned()
                } else {
                    format!("[{text}]({href})")
                };
                self.buffer().push_str(&link);
            }
            ("img", false) => {
                if let Some(alt) = attribute(tag, "alt").filter(|a| !a.is_empty()) {
                    self.buffer().push_str(&alt);
                }
            }
            ("tr", false) => {
                self.row.clear();
                self.row_is_header = false;
            }
            ("th" | "td", false) => {
                self.row_is_header |= name == "th";
                self.stack.push(String::new());
            }
            ("th" | "td", true) => {
                let cell = self.stack.pop().unwrap_or_default();
                self.row
                    .push(cell.trim().replace('\n', " ").replace('|', "\\|"));
            }
            ("tr", true) => {
                let cells = std::mem::take(&mut self.row);
                let line = format!("| {} |\n", cells.join(" | "));
                let separator = (self.row_is_header && !self.table_has_header)
                    .then(|| format!("|{}\n", "---|".repeat(cells.len())));
                self.table_has_header |= separator.is_some();
                self.line();
                self.buffer().push_str(&line);
                if let Some(separator) = separator {
                    self.buffer().push_str(&separator);
                }
            }
            _ => {}
        }
    }

    fn finish(mut self) -> String {
        while let Some(open) = self.stack.pop() {
            self.buffer().push_str(&open);
        }
        let mut text = self.out.trim().to_owned();
        // No runs of blank lines.
        while text.contains("\n\n\n") {
            text = text.replace("\n\n\n", "\n\n");
        }
        text.push('\n');
        text
    }
}

/// The value of `name="..."` in a tag's attributes.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')?;
    Some(decode_entities(&tag[at..at + end]))
}

/// Decodes the entities askama and the renderers write.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_become_readable_markdown() {
        let html = r#"<div class="wrap"><h1>Payments</h1><p>Take   card payments &amp; refunds.</p>
            <form method="post"><input name="csrf" value="x"><button>Go</button></form>
            <ul><li><a href="/apis/default/payments/docs">Docs</a></li><li>Owner: <strong>team-a</strong></li></ul>
            <table><thead><tr><th>Version</th><th>State</th></tr></thead>
            <tbody><tr><td>2.0.0</td><td>a | b</td></tr></tbody></table>
            <dl><dt>Lifecycle</dt><dd>production</dd></dl>
            <span aria-hidden="true"><b>P</b></span><input name="q">
            <pre><code>curl https://x/pay</code></pre><script>alert(1)</script></div>"#;
        assert_eq!(
            html_to_markdown(html),
            "# Payments\n\nTake card payments & refunds.\n\n\
             - [Docs](/apis/default/payments/docs)\n- Owner: **team-a**\n\n\
             | Version | State |\n|---|---|\n| 2.0.0 | a \\| b |\n\n\
             **Lifecycle**\n: production\n\n```\ncurl https://x/pay\n```\n"
        );
    }

    #[test]
    fn entities_decode_and_stray_ampersands_stay() {
        assert_eq!(
            decode_entities("a &lt;b&gt; &#39;c&#x27; & d"),
            "a <b> 'c' & d"
        );
    }

    #[test]
    fn main_content_is_what_is_converted() {
        let page = "<header>nav</header><main id=\"main\"><h1>T</h1></main><footer>f</footer>";
        assert_eq!(main_content(page), "<h1>T</h1>");
    }
}
