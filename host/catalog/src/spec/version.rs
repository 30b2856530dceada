//! Ordering an API's versions and reading their lifecycle.
//!
//! Versions sort by semver where `info.version` allows (leniently: `v1.2` is 1.2.0), else by
//! when they were published; a lifecycle is experimental, production, or deprecated with an
//! optional sunset date.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What ordering needs to know about one version of an API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version as written (`info.version`).
    pub version: String,
    /// When it was published, as an RFC 3339 UTC timestamp (`2024-05-01T12:00:00Z`), which
    /// sorts as text; `None` for an unpublished draft, which sorts after published versions.
    pub published_at: Option<String>,
}

/// Reads a version as semver, leniently: a leading `v`, and `1` or `1.2` as `1.0.0`/`1.2.0`
/// (pre-release and build suffixes allowed after two or three parts).
pub fn lenient_semver(version: &str) -> Option<semver::Version> {
    let v = version.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let core_end = v.find(['-', '+']).unwrap_or(v.len());
    let (core, suffix) = v.split_at(core_end);
    let parts = core.split('.').count();
    let padded = match parts {
        // "2023-09-12" is a date, not 2023.0.0 with a pre-release.
        1 if suffix.is_empty() => format!("{core}.0.0"),
        2 => format!("{core}.0{suffix}"),
        3 => format!("{core}{suffix}"),
        _ => return None,
    };
    semver::Version::parse(&padded).ok()
}

/// Orders two versions: by semver when both read as semver (publication breaking ties), else
/// by publication time, then by the text.
///
/// Over a list mixing semver and other versions this is not a total order; sort lists with
/// [`sort_versions`].
pub fn compare_versions(a: &VersionInfo, b: &VersionInfo) -> Ordering {
    match (lenient_semver(&a.version), lenient_semver(&b.version)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| by_publication(a, b)),
        _ => by_publication(a, b),
    }
}

/// Sorts versions oldest first: by semver if every version reads as semver, else all of them
/// by publication time (so the order is total whatever the mix).
pub fn sort_versions(versions: &mut [VersionInfo]) {
    if versions
        .iter()
        .all(|v| lenient_semver(&v.version).is_some())
    {
        versions.sort_by_cached_key(|v| {
            let semver = lenient_semver(&v.version).expect("checked above");
            (semver, v.published_at.is_none(), v.published_at.clone())
        });
    } else {
        versions.sort_by(by_publication);
    }
}

fn by_publication(a: &VersionInfo, b: &VersionInfo) -> Ordering {
    let key = |v: &VersionInfo| (v.published_at.is_none(), v.published_at.clone());
    key(a).cmp(&key(b)).then_with(|| a.version.cmp(&b.version))
}

/// Where a version is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum VersionLifecycle {
    /// Still changing; no promises.
    Experimental,
    /// Stable and supported.
    Production,
    /// Being retired.
    Deprecated {
        /// The day it stops working (`YYYY-MM-DD`), if announced.
        sunset: Option<String>,
    },
}

/// A lifecycle that [`VersionLifecycle::parse`] does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// Not one of the known states.
    #[error("unknown lifecycle {0:?}: expected experimental, production or deprecated")]
    Unknown(String),
    /// A sunset that is not a calendar date.
    #[error("sunset {0:?} is not a YYYY-MM-DD date")]
    BadSunset(String),
}

impl VersionLifecycle {
    /// Reads `experimental`, `production` or `deprecated`, case-insensitively, with the usual
    /// synonyms (`beta`, `alpha`, `preview`; `stable`, `ga`). A deprecation may carry a sunset
    /// date: `deprecated 2026-06-30`, `deprecated:2026-06-30` or `deprecated; sunset=2026-06-30`.
    pub fn parse(text: &str) -> Result<VersionLifecycle, LifecycleError> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "experimental" | "alpha" | "beta" | "preview" => {
                return Ok(VersionLifecycle::Experimental);
            }
            "production" | "stable" | "ga" => return Ok(VersionLifecycle::Production),
            _ => {}
        }
        let separator = |c: char| c.is_whitespace() || c == ':' || c == ';';
        let after = match lower.strip_prefix("deprecated") {
            Some(after) if after.is_empty() || after.starts_with(separator) => after,
            _ => return Err(LifecycleError::Unknown(text.trim().to_owned())),
        };
        let rest = after.trim_start_matches(separator);
        let rest = rest.strip_prefix("sunset").unwrap_or(rest);
        let date = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '=' || c == ':');
        if date.is_empty() {
            return Ok(VersionLifecycle::Deprecated { sunset: None });
        }
        if !is_date(date) {
            return Err(LifecycleError::BadSunset(date.to_owned()));
        }
        Ok(VersionLifecycle::Deprecated {
            sunset: Some(date.to_owned()),
        })
    }

    /// The sunset date of a deprecated version, if announced.
    pub fn sunset(&self) -> Option<&str> {
        match self {
            VersionLifecycle::Deprecated { sunset } => sunset.as_deref(),
            _ => None,
        }
    }
}

/// `experimental`, `production`, `deprecated` or `deprecated; sunset=YYYY-MM-DD`, which
/// [`VersionLifecycle::parse`] reads back.
impl fmt::Display for VersionLifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionLifecycle::Experimental => f.write_str("experimental"),
            VersionLifecycle::Production => f.write_str("production"),
            VersionLifecycle::Deprecated { sunset: None } => f.write_str("deprecated"),
            VersionLifecycle::Deprecated { sunset: Some(d) } => {
                write!(f, "deprecated; sunset={d}")
            }
        }
    }
}

/// `YYYY-MM-DD` with a month of 1-12 and a day that month can have.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return false;
    }
    let year: u32 = text[0..4].parse().unwrap_or(0);
    let month: u32 = text[5..7].parse().unwrap_or(0);
    let day: u32 = text[8..10].parse().unwrap_or(0);
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: &str, published_at: Option<&str>) -> VersionInfo {
        VersionInfo {
            version: version.to_owned(),
            published_at: published_at.map(str::to_owned),
        }
    }

    #[test]
    fn lenient_semver_accepts_v_prefix_and_short_forms() {
        let parse = |s| lenient_semver(s).map(|v| v.to_string());
        assert_eq!(parse("1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(parse("v1.2").as_deref(), Some("1.2.0"));
        assert_eq!(parse("V2").as_deref(), Some("2.0.0"));
        assert_eq!(parse("1.2-beta.1").as_deref(), Some("1.2.0-beta.1"));
        assert_eq!(parse(" 3.0.0+build ").as_deref(), Some("3.0.0+build"));
        assert_eq!(parse("2023-09-12"), None);
        assert_eq!(parse("1.2.3.4"), None);
        assert_eq!(parse("latest"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn semver_versions_compare_by_semver_not_publication() {
        let old_major = v("1.10.0", Some("2024-06-01T00:00:00Z"));
        let new_major = v("v2", Some("2024-01-01T00:00:00Z"));
        assert_eq!(compare_versions(&old_major, &new_major), Ordering::Less);
        assert_eq!(
            compare_versions(&v("1.9", None), &v("1.10", None)),
            Ordering::Less
        );
        assert_eq!(
            compare_versions(&v("2.0.0-rc.1", None), &v("2.0.0", None)),
            Ordering::Less
        );
    }

    #[test]
    fn non_semver_versions_compare_by_publication_with_drafts_last() {
        let a = v("2023-09-12", Some("2023-09-12T00:00:00Z"));
        let b = v("2022-11-15", Some("2024-01-01T00:00:00Z"));
        let draft = v("next", None);
        assert_eq!(compare_versions(&a, &b), Ordering::Less);
        assert_eq!(compare_versions(&b, &draft), Ordering::Less);
        assert_eq!(compare_versions(&a, &v("1.0.0", None)), Ordering::Less);
    }

    #[test]
    fn sort_versions_is_total_over_a_mixed_list() {
        let mut versions = vec![
            v("2.0.0", Some("2024-01-01T00:00:00Z")),
            v("beta", Some("2024-03-01T00:00:00Z")),
            v("1.0.0", Some("2024-05-01T00:00:00Z")),
        ];
        sort_versions(&mut versions);
        let order: Vec<_> = versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(order, ["2.0.0", "beta", "1.0.0"]);

        let mut versions = vec![v("v2", None), v("1.10", None), v("1.9.1", None)];
        sort_versions(&mut versions);
        let order: Vec<_> = versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(order, ["1.9.1", "1.10", "v2"]);
    }

    #[test]
    fn lifecycle_parses_states_synonyms_and_sunset_dates() {
        use VersionLifecycle::*;
        assert_eq!(VersionLifecycle::parse("Experimental"), Ok(Experimental));
        assert_eq!(VersionLifecycle::parse("beta"), Ok(Experimental));
        assert_eq!(VersionLifecycle::parse(" GA "), Ok(Production));
        assert_eq!(
            VersionLifecycle::parse("deprecated"),
            Ok(Deprecated { sunset: None })
        );
        let sunset = Ok(Deprecated {
            sunset: Some("2026-06-30".into()),
        });
        assert_eq!(VersionLifecycle::parse("deprecated 2026-06-30"), sunset);
        assert_eq!(VersionLifecycle::parse("deprecated:2026-06-30"), sunset);
        assert_eq!(
            VersionLifecycle::parse("Deprecated; sunset=2026-06-30"),
            sunset
        );
        assert_eq!(
            VersionLifecycle::parse("deprecated sunset 2026-06-30"),
            sunset
        );
    }

    #[test]
    fn lifecycle_rejects_unknown_states_and_impossible_dates() {
        assert!(matches!(
            VersionLifecycle::parse("retired"),
            Err(LifecycleError::Unknown(_))
        ));
        assert!(matches!(
            VersionLifecycle::parse("deprecatedly"),
            Err(LifecycleError::Unknown(_))
        ));
        for bad in ["2026-02-30", "2026-13-01", "26-06-30", "next year"] {
            let parsed = VersionLifecycle::parse(&format!("deprecated {bad}"));
            assert_eq!(parsed, Err(LifecycleError::BadSunset(bad.into())), "{bad}");
        }
        assert!(VersionLifecycle::parse("deprecated 2024-02-29").is_ok());
    }

    #[test]
    fn lifecycle_display_reads_back() {
        for lifecycle in [
            VersionLifecycle::Experimental,
            VersionLifecycle::Production,
            VersionLifecycle::Deprecated { sunset: None },
            VersionLifecycle::Deprecated {
                sunset: Some("2027-01-31".into()),
            },
        ] {
            assert_eq!(
                VersionLifecycle::parse(&lifecycle.to_string()),
                Ok(lifecycle.clone())
            );
        }
        let json = serde_json::to_value(VersionLifecycle::Deprecated {
            sunset: Some("2027-01-31".into()),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"state": "deprecated", "sunset": "2027-01-31"})
        );
    }
}
