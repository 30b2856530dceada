//! Text helpers every part of the output uses: HTML escaping, anchors that are
//! unique and safe in an `id`, and CommonMark descriptions rendered to HTML
//! with raw HTML escaped and only harmless link targets kept.

use std::collections::HashSet;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag};

/// Appends `text` to `out` with the five HTML-special characters escaped.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(entity);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Hands out anchors: lower-case ASCII letters, digits and dashes, each used once.
#[derive(Default)]
pub(crate) struct Anchors {
    taken: HashSet<String>,
}

impl Anchors {
    /// A fresh anchor `prefix-slug(text)`, numbered when it is already taken.
    pub(crate) fn claim(&mut self, prefix: &str, text: &str) -> String {
        let slug = slug(text);
        let base = if slug.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}-{slug}")
        };
        let mut anchor = base.clone();
        let mut n = 2;
        while !self.taken.insert(anchor.clone()) {
            anchor = format!("{base}-{n}");
            n += 1;
        }
        anchor
    }
}

/// Lower-case ASCII letters and digits, other runs of characters as one dash.
pub(crate) fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// Renders a CommonMark description as HTML: raw HTML shows as text, headings
/// sit below the docs' own (`#` becomes `<h5>`), and links or images whose
/// target could run code (`javascript:`, `data:`...) lose their target.
pub(crate) fn markdown_html(out: &mut String, markdown: &str) {
    let markdown = markdown.trim();
    if is_plain(markdown) {
        // Most descriptions are one plain sentence: skip the parser.
        out.push_str("<p>");
        // Of the characters plain text may hold, only `"` needs escaping,
        // and the parser writes it as `&quot;` too.
        for (i, part) in markdown.split('"').enumerate() {
            if i > 0 {
                out.push_str("&quot;");
            }
            out.push_str(part);
        }
        out.push_str("</p>\n");
        return;
    }
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demote(level),
            id,
            classes,
            attrs,
        }),
        Event::End(pulldown_cmark::TagEnd::Heading(level)) => {
            Event::End(pulldown_cmark::TagEnd::Heading(demote(level)))
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    pulldown_cmark::html::push_html(out, events);
}

/// Whether text reads the same as CommonMark and as plain text: one line of
/// words and ordinary punctuation, not starting like a list, quote or heading.
fn is_plain(text: &str) -> bool {
    let starts_plain = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'(' || b == b'"');
    starts_plain
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b' ' | b'.'
                        | b','
                        | b';'
                        | b':'
                        | b'('
                        | b')'
                        | b'"'
                        | b'\''
                        | b'/'
                        | b'-'
                        | b'?'
                        | b'='
                        | b'%'
                        | b'+'
                        | b'@'
                )
        })
        && !text.contains("  ")
        && !text.contains("://")
}

/// Description headings go under the operation's `<h3>` and its `<h4>` parts.
fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 | HeadingLevel::H2 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// The URL when a browser may follow it safely: web, mail, fragments and
/// relative references; `#` otherwise.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    if is_safe_url(&url) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// Whether a link target is web, mail, a fragment or relative (no scheme).
pub(crate) fn is_safe_url(url: &str) -> bool {
    let trimmed = url.trim_start();
    let scheme_end = trimmed.find([':', '/', '?', '#']);
    match scheme_end {
        Some(i) if trimmed.as_bytes()[i] == b':' => {
            let scheme = trimmed[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// The first paragraph of a description on one line, for table cells and
/// markdown list items.
pub(crate) fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    let paragraph = text.trim().split("\n\n").next().unwrap_or("");
    if !paragraph.contains(['\n', '\r', '\t']) && !paragraph.contains("  ") {
        return paragraph.into();
    }
    paragraph
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(markdown: &str) -> String {
        let mut out = String::new();
        markdown_html(&mut out, markdown);
        out
    }

    #[test]
    fn html_special_characters_are_escaped() {
        let mut out = String::new();
        escape_into(&mut out, "<a href=\"x\">'&'</a>");
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn raw_html_in_descriptions_is_shown_as_text() {
        let out =
            html("Hi <script>alert(1)</script> <b>bold</b>\n\n<div onclick=\"x\">block</div>");
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<div"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
    }

    #[test]
    fn markdown_is_rendered_with_headings_demoted_and_unsafe_links_neutralised() {
        let out = html(
            "# Title\n\n**bold** [ok](https://x.example) [bad](javascript:alert(1)) ![i](data:image/png;base64,AA)\n\n| a |\n|---|\n| b |",
        );
        assert!(out.contains("<h5>Title</h5>"), "{out}");
        assert!(out.contains("<strong>bold</strong>"));
        assert!(out.contains("href=\"https://x.example\""));
        assert!(out.contains("href=\"#\">bad"), "{out}");
        assert!(
            !out.contains("javascript:") && !out.contains("data:"),
            "{out}"
        );
        assert!(out.contains("<table>"));
    }

    #[test]
    fn plain_sentences_skip_the_parser_with_the_same_result() {
        for text in [
            "The pet's name (or nickname).",
            "Bad <b>",
            "A *bold* move",
            "http://x.example/a",
            "- item",
            "1. first",
        ] {
            let mut parsed = String::new();
            pulldown_cmark::html::push_html(
                &mut parsed,
                Parser::new(text).map(|e| match e {
                    Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
                    other => other,
                }),
            );
            assert_eq!(html(text), parsed, "{text}");
        }
        assert!(is_plain("The pet's name (or nickname)."));
        assert!(!is_plain("A *bold* move"));
    }

    #[test]
    fn anchors_are_slugs_and_never_repeat() {
        let mut anchors = Anchors::default();
        assert_eq!(anchors.claim("op", "Get /Pets/{id}"), "op-get-pets-id");
        assert_eq!(anchors.claim("op", "get pets id"), "op-get-pets-id-2");
        assert_eq!(anchors.claim("tag", "¿?"), "tag");
        assert_eq!(anchors.claim("tag", ""), "tag-2");
    }

    #[test]
    fn safe_urls_are_web_mail_fragments_and_relative() {
        for url in [
            "https://a",
            "HTTP://a",
            "mailto:a@b",
            "#x",
            "/x",
            "x/y:z",
            "?q",
        ] {
            assert!(is_safe_url(url), "{url}");
        }
        for url in ["javascript:x", " JavaScript:x", "data:x", "vbscript:x"] {
            assert!(!is_safe_url(url), "{url}");
        }
    }
}
