//! How changelog entries read outside JSON: Atom 1.0 feeds (RFC 4287) and the small markdown
//! subset their summaries are shown with. Owners write those summaries, so every character is
//! escaped first and only paragraphs, headings, lists, code, emphasis and http(s) links come
//! out as markup; the portal has no other markdown renderer outside the docs plugins.

use portico_catalog::{ChangelogEntry, EntryKind};

/// `application/atom+xml`, as feeds are served.
pub const ATOM: &str = "application/atom+xml; charset=utf-8";

/// A feed's own parts; URLs are absolute.
pub(crate) struct Feed<'a> {
    /// The feed's id and `rel="self"` link (`https://portal/changelog.atom`).
    pub(crate) self_url: &'a str,
    /// The page it is the feed of.
    pub(crate) page_url: &'a str,
    /// Its title.
    pub(crate) title: &'a str,
    /// The portal's name, as the feed's author.
    pub(crate) author: &'a str,
    /// The portal's origin (`https://portal`), which entry links hang from.
    pub(crate) origin: &'a str,
}

/// A whole feed; `updated` is its newest entry's time (the epoch when it has none).
pub(crate) fn atom(feed: &Feed<'_>, entries: &[ChangelogEntry]) -> String {
    let newest = entries
        .iter()
        .map(updated)
        .max()
        .unwrap_or("1970-01-01T00:00:00Z");
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    xml.push_str(&format!("  <id>{}</id>\n", escape(feed.self_url)));
    xml.push_str(&format!("  <title>{}</title>\n", escape(feed.title)));
    xml.push_str(&format!("  <updated>{}</updated>\n", escape(newest)));
    xml.push_str(&format!(
        "  <author><name>{}</name></author>\n",
        escape(feed.author)
    ));
    xml.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        escape(feed.self_url)
    ));
    xml.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        escape(feed.page_url)
    ));
    for entry in entries {
        let link = format!("{}{}", feed.origin, entry_href(entry));
        xml.push_str("  <entry>\n");
        xml.push_str(&format!("    <id>{}</id>\n", escape(&link)));
        xml.push_str(&format!(
            "    <title>{}</title>\n",
            escape(&entry_title(entry))
        ));
        xml.push_str(&format!(
            "    <updated>{}</updated>\n",
            escape(updated(entry))
        ));
        xml.push_str(&format!(
            "    <published>{}</published>\n",
            escape(&entry.published_at)
        ));
        xml.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            escape(&link)
        ));
        xml.push_str(&format!(
            "    <content type=\"html\">{}</content>\n",
            escape(&entry_html(entry))
        ));
        xml.push_str("  </entry>\n");
    }
    xml.push_str("</feed>\n");
    xml
}

/// When an entry last changed: its publication, or the owner's edit after it.
fn updated(entry: &ChangelogEntry) -> &str {
    match &entry.edited_at {
        Some(edited) if edited.as_str() > entry.published_at.as_str() => edited,
        _ => &entry.published_at,
    }
}

/// `Pets 1.1.0: 2 breaking changes`, `Pets 1.0.0 deprecated`.
pub(crate) fn entry_title(entry: &ChangelogEntry) -> String {
    let api = &entry.name;
    match entry.kind {
        EntryKind::Deprecation => format!("{api} {} deprecated", entry.version),
        EntryKind::Version if entry.breaking > 0 => format!(
            "{api} {}: {} breaking change{}",
            entry.version,
            entry.breaking,
            if entry.breaking == 1 { "" } else { "s" }
        ),
        EntryKind::Version => format!("{api} {} published", entry.version),
    }
}

/// The entry's place on its API's changelog page (path and fragment).
pub(crate) fn entry_href(entry: &ChangelogEntry) -> String {
    format!(
        "{}#{}",
        changelog_path(&entry.namespace, &entry.name),
        anchor(entry)
    )
}

/// `/apis/{namespace}/{name}/changelog`, segments escaped.
pub(crate) fn changelog_path(namespace: &str, name: &str) -> String {
    let segment = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "/apis/{}/{}/changelog",
        segment(&namespace.to_lowercase()),
        segment(name)
    )
}

/// A fragment id naming the entry (`version-1.1.0`, `deprecation-1.0.0`).
pub(crate) fn anchor(entry: &ChangelogEntry) -> String {
    let version: String = entry
        .version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-{version}", entry.kind.as_str())
}

/// An entry as HTML: the warning, the summary and the changes, breaking first.
pub(crate) fn entry_html(entry: &ChangelogEntry) -> String {
    let mut html = String::new();
    if entry.unbumped_breaking {
        html.push_str(&format!(
            "<p><strong>Warning:</strong> breaking changes without a major version bump ({} → {}).</p>",
            escape(entry.previous_version.as_deref().unwrap_or("")),
            escape(&entry.version)
        ));
    }
    html.push_str(&markdown_html(entry.text()));
    // A generated summary already lists the changes.
    if entry.summary.is_some() && !entry.changes.is_empty() {
        html.push_str("<ul>");
        for change in &entry.changes {
            html.push_str(&format!(
                "<li>{}<code>{}</code>: {}</li>",
                if change.is_breaking() {
                    "<strong>Breaking:</strong> "
                } else {
                    ""
                },
                escape(&change.location),
                escape(&change.message)
            ));
        }
        html.push_str("</ul>");
    }
    html
}

/// Escapes text for XML and HTML, in content and in attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// Markdown's common subset as HTML: `#` headings (shown one level under the entry's),
/// paragraphs, `-`/`*` lists, `` `code` ``, `**strong**`, `*em*` and `[text](link)` to
/// http(s) or portal paths. Everything else is text.
pub(crate) fn markdown_html(text: &str) -> String {
    let mut html = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut list: Vec<&str> = Vec::new();
    let flush = |html: &mut String, paragraph: &mut Vec<&str>, list: &mut Vec<&str>| {
        if !paragraph.is_empty() {
            html.push_str(&format!("<p>{}</p>", inline(&paragraph.join("\n"))));
            paragraph.clear();
        }
        if !list.is_empty() {
            html.push_str("<ul>");
            for item in list.iter() {
                html.push_str(&format!("<li>{}</li>", inline(item)));
            }
            html.push_str("</ul>");
            list.clear();
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush(&mut html, &mut paragraph, &mut list);
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            if !paragraph.is_empty() {
                flush(&mut html, &mut paragraph, &mut list);
            }
            list.push(item);
        } else if trimmed.starts_with('#') && trimmed.trim_start_matches('#').starts_with(' ') {
            flush(&mut html, &mut paragraph, &mut list);
            html.push_str(&format!(
                "<h4>{}</h4>",
                inline(trimmed.trim_start_matches('#').trim())
            ));
        } else {
            if !list.is_empty() {
                flush(&mut html, &mut paragraph, &mut list);
            }
            paragraph.push(trimmed);
        }
    }
    flush(&mut html, &mut paragraph, &mut list);
    html
}

fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let delimited = |open: &str, close: &str| -> Option<(&str, usize)> {
            let body = rest.strip_prefix(open)?;
            let end = body.find(close).filter(|&e| e > 0)?;
            Some((&body[..end], open.len() + end + close.len()))
        };
        if let Some((code, used)) = delimited("`", "`") {
            out.push_str(&format!("<code>{}</code>", escape(code)));
            rest = &rest[used..];
        } else if let Some((strong, used)) = delimited("**", "**") {
            out.push_str(&format!("<strong>{}</strong>", inline(strong)));
            rest = &rest[used..];
        } else if let Some((em, used)) = delimited("*", "*") {
            out.push_str(&format!("<em>{}</em>", inline(em)));
            rest = &rest[used..];
        } else if let Some((label, used)) = delimited("[", "](") {
            let after = &rest[used..];
            match after.find(')') {
                Some(end) if safe_link(&after[..end]) => {
                    out.push_str(&format!(
                        "<a href=\"{}\">{}</a>",
                        escape(&after[..end]),
                        inline(label)
                    ));
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push_str(&escape("["));
                    rest = &rest[1..];
                }
            }
        } else {
            out.push_str(&escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn safe_link(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || href.starts_with('/'))
        && !href.starts_with("//")
        && !href.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_catalog::LoggedChange;

    fn entry(summary: Option<&str>) -> ChangelogEntry {
        ChangelogEntry {
            api: "api:default/pets".into(),
            namespace: "default".into(),
            name: "pets".into(),
            kind: EntryKind::Version,
            version: "1.1.0".into(),
            previous_version: Some("1.0.0".into()),
            published_at: "2026-01-02T03:04:05.678Z".into(),
            breaking: 1,
            non_breaking: 0,
            changes: vec![LoggedChange {
                rule: "path-removed".into(),
                severity: "breaking".into(),
                location: "GET /owners".into(),
                message: "the path was removed <really> & gone".into(),
            }],
            diff_error: None,
            unbumped_breaking: true,
            generated: "Version 1.1.0: 1 breaking change.\n\n### Breaking changes\n\n- `GET /owners`: removed".into(),
            summary: summary.map(str::to_owned),
            edited_by: None,
            edited_at: summary.map(|_| "2026-02-01T00:00:00Z".to_owned()),
        }
    }

    /// A hand-written well-formedness check: tags nest and close, attributes are quoted,
    /// and text holds no raw `<` or stray `&`. Returns the element names in document order.
    fn parse_xml(xml: &str) -> Vec<String> {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")
            .expect("an XML declaration");
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(tag) = rest.strip_prefix('<') {
                let end = tag.find('>').expect("a closed tag");
                let inner = &tag[..end];
                if let Some(name) = inner.strip_prefix('/') {
                    assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
                } else {
                    let self_closing = inner.ends_with('/');
                    let inner = inner.trim_end_matches('/');
                    let name = inner.split_whitespace().next().unwrap().to_owned();
                    let attributes = inner[name.len()..].trim();
                    assert_eq!(attributes.matches('"').count() % 2, 0, "{inner}");
                    assert!(!attributes.contains('<'), "{inner}");
                    names.push(name.clone());
                    if !self_closing {
                        stack.push(name);
                    }
                }
                rest = &tag[end + 1..];
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let text = &rest[..end];
                for (i, _) in text.match_indices('&') {
                    let reference = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
                    assert!(
                        ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].contains(&reference),
                        "stray & in {text:?}"
                    );
                }
                rest = &rest[end..];
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        names
    }

    fn feed() -> Feed<'static> {
        Feed {
            self_url: "https://portal.example/apis/default/pets/changelog.atom",
            page_url: "https://portal.example/apis/default/pets/changelog",
            title: "Pets & co changelog",
            author: "Portico <dev>",
            origin: "https://portal.example",
        }
    }

    #[test]
    fn atom_feeds_are_well_formed_with_the_required_elements() {
        let xml = atom(&feed(), &[entry(None), entry(Some("Owner's <b>note</b>"))]);
        let names = parse_xml(&xml);
        assert_eq!(names[0], "feed");
        for required in [
            "id", "title", "updated", "author", "link", "entry", "content",
        ] {
            assert!(names.iter().any(|n| n == required), "{required} in {xml}");
        }
        assert_eq!(names.iter().filter(|n| *n == "entry").count(), 2);
        assert!(
            xml.contains("<title>Pets &amp; co changelog</title>"),
            "{xml}"
        );
        assert!(
            xml.contains("<updated>2026-02-01T00:00:00Z</updated>"),
            "feed updated: {xml}"
        );
        assert!(
            xml.contains("Owner&amp;#39;s &amp;lt;b&amp;gt;note"),
            "content is escaped HTML: {xml}"
        );
        assert!(
            xml.contains(
                "<id>https://portal.example/apis/default/pets/changelog#version-1.1.0</id>"
            )
        );
        assert!(xml.contains("<title>pets 1.1.0: 1 breaking change</title>"));
    }

    #[test]
    fn an_empty_feed_is_still_valid() {
        let names = parse_xml(&atom(&feed(), &[]));
        assert_eq!(names.iter().filter(|n| *n == "entry").count(), 0);
        assert!(names.iter().any(|n| n == "updated"));
    }

    #[test]
    fn markdown_summaries_escape_everything_but_the_subset() {
        let html = markdown_html(
            "Hello **world** and `a<b>`\nsame *para*\n\n## Moves\n\n- [docs](https://x.example/a?b=1&c=2)\n- [bad](javascript:alert(1))\n\n<script>x</script>",
        );
        assert_eq!(
            html,
            "<p>Hello <strong>world</strong> and <code>a&lt;b&gt;</code>\nsame <em>para</em></p>\
             <h4>Moves</h4>\
             <ul><li><a href=\"https://x.example/a?b=1&amp;c=2\">docs</a></li>\
             <li>[bad](javascript:alert(1))</li></ul>\
             <p>&lt;script&gt;x&lt;/script&gt;</p>"
        );
    }

    #[test]
    fn owner_summaries_keep_the_list_of_changes_under_them() {
        let html = entry_html(&entry(Some("Short note.")));
        assert!(html.starts_with("<p><strong>Warning:</strong>"), "{html}");
        assert!(html.contains("<p>Short note.</p>"));
        assert!(
            html.contains(
                "<code>GET /owners</code>: the path was removed &lt;really&gt; &amp; gone"
            )
        );
        let generated = entry_html(&entry(None));
        assert_eq!(generated.matches("GET /owners").count(), 1, "{generated}");
    }
}
