//! How a deprecated version announces itself: the `Deprecation` (RFC 9745: `@` and the Unix
//! time it was deprecated) and `Sunset` (RFC 8594: an HTTP-date) headers that try-it answers
//! carry, and the banner its docs and try-it pages show with the migration note.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, NaiveDate};
use portico_catalog::ApiVersion;
use portico_catalog::spec::VersionLifecycle;

use crate::changelog_feed::markdown_html;
use crate::tryit::HeaderLine;

/// The banner of a deprecated version.
pub(crate) struct Notice {
    /// The day it stops working (`YYYY-MM-DD`), if announced.
    pub(crate) sunset: Option<String>,
    /// How to move off it, as HTML (escaped markdown).
    pub(crate) migration_html: Option<String>,
}

/// The banner, for a deprecated version.
pub(crate) fn notice(version: &ApiVersion) -> Option<Notice> {
    let VersionLifecycle::Deprecated { sunset } = &version.lifecycle else {
        return None;
    };
    Some(Notice {
        sunset: sunset.clone(),
        migration_html: version
            .migration
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(markdown_html),
    })
}

/// `Deprecation` and `Sunset` header lines for a deprecated version (none for others); the
/// deprecation time falls back to the version's last change when it was not recorded.
pub fn header_lines(version: &ApiVersion) -> Vec<HeaderLine> {
    let VersionLifecycle::Deprecated { sunset } = &version.lifecycle else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let since = version
        .deprecated_at
        .as_deref()
        .unwrap_or(&version.updated_at);
    if let Ok(at) = DateTime::parse_from_rfc3339(since) {
        lines.push(HeaderLine {
            name: "deprecation".to_owned(),
            value: format!("@{}", at.timestamp()),
        });
    }
    if let Some(date) = sunset
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    {
        lines.push(HeaderLine {
            name: "sunset".to_owned(),
            value: date.format("%a, %d %b %Y 00:00:00 GMT").to_string(),
        });
    }
    lines
}

/// Those of `lines` that are `Deprecation` or `Sunset`, as response headers.
pub fn headers(lines: &[HeaderLine]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let name = line.name.to_ascii_lowercase();
        if !matches!(name.as_str(), "deprecation" | "sunset") {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&line.value),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}

/// Adds the version's `Deprecation` and `Sunset` lines to an answer's headers, unless the
/// upstream sent its own.
pub fn mark(version: &ApiVersion, answer_headers: &mut Vec<HeaderLine>) {
    for line in header_lines(version) {
        if !answer_headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(&line.name))
        {
            answer_headers.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(lifecycle: VersionLifecycle, deprecated_at: Option<&str>) -> ApiVersion {
        ApiVersion {
            version: "1.0.0".into(),
            published_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-02-01T00:00:00.000Z".into(),
            lifecycle,
            migration: Some("Use **v2**.".into()),
            deprecated_at: deprecated_at.map(str::to_owned),
            spec_hash: String::new(),
            spec_format: "openapi30".into(),
            environments: Vec::new(),
            source: "file".into(),
            location: "file".into(),
        }
    }

    #[test]
    fn deprecated_versions_carry_rfc_9745_and_8594_headers() {
        let deprecated = version(
            VersionLifecycle::Deprecated {
                sunset: Some("2027-06-30".into()),
            },
            Some("2026-03-01T12:00:00.500Z"),
        );
        let lines = header_lines(&deprecated);
        let pairs: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("deprecation", "@1772366400"),
                ("sunset", "Wed, 30 Jun 2027 00:00:00 GMT")
            ]
        );
        let headers = headers(&lines);
        assert_eq!(headers["deprecation"], "@1772366400");
        assert_eq!(
            notice(&deprecated).unwrap().migration_html.as_deref(),
            Some("<p>Use <strong>v2</strong>.</p>")
        );
    }

    #[test]
    fn other_versions_and_upstream_headers_are_left_alone() {
        assert!(header_lines(&version(VersionLifecycle::Production, None)).is_empty());
        let unannounced = version(VersionLifecycle::Deprecated { sunset: None }, None);
        let mut answer = vec![HeaderLine {
            name: "Deprecation".into(),
            value: "@1".into(),
        }];
        mark(&unannounced, &mut answer);
        assert_eq!(
            answer.len(),
            1,
            "the upstream's own header stays: {answer:?}"
        );
        assert_eq!(header_lines(&unannounced)[0].value, "@1769904000");
    }
}
