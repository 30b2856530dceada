//! API changelogs: when a version is published, its diff against the previous version (by
//! semver) becomes an entry with a generated markdown summary the owner may replace, flagged when
//! breaking changes arrive without a major version bump; deprecations are entries too. Entries
//! live beside the versions (see `sqlite_changelog`) so that feeds and pages read them cheaply.

use serde::{Deserialize, Serialize};

use crate::diff::{DiffError, Severity, Side, SpecDiff, diff_specs};
use crate::spec::{ParsedSpec, SpecHint, lenient_semver};
use crate::versions::SpecDocument;

/// What publishing a version with breaking changes and no major version bump does
/// (`[catalog] breaking_changes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BreakingChanges {
    /// Publish it; its changelog entry carries a warning.
    #[default]
    Warn,
    /// Do not publish it: the import reports the version, the previous one and the count.
    Refuse,
}

/// What publishing a version does under `[catalog] breaking_changes`: decided by one function
/// (`EntryDraft::verdict`) for publishing and for previewing a publication alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// It is published; nothing in it breaks clients without a major version bump.
    Publish,
    /// It is published, and its changelog entry warns of breaking changes without a major
    /// version bump.
    PublishWithWarning,
    /// It is not published: breaking changes without a major version bump, under `refuse`.
    Refused,
}

impl Verdict {
    /// `publish`, `publish-with-warning` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Publish => "publish",
            Verdict::PublishWithWarning => "publish-with-warning",
            Verdict::Refused => "refused",
        }
    }
}

/// What a changelog entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A version was published (or its document replaced).
    Version,
    /// A version was deprecated.
    Deprecation,
}

impl EntryKind {
    /// `version` or `deprecation`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Version => "version",
            EntryKind::Deprecation => "deprecation",
        }
    }
}

/// One change as the changelog keeps it (rule id and severity as text, so that entries outlive
/// rule renames).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedChange {
    /// The rule's id (`path-removed`, ...).
    pub rule: String,
    /// `breaking` or `non-breaking`.
    pub severity: String,
    /// Where, from the operation down.
    pub location: String,
    /// What changed.
    pub message: String,
}

impl LoggedChange {
    /// Whether it can break existing clients.
    pub fn is_breaking(&self) -> bool {
        self.severity == "breaking"
    }
}

/// One entry of an API's changelog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangelogEntry {
    /// The API, `api:namespace/name`.
    pub api: String,
    /// The API's namespace.
    pub namespace: String,
    /// The API's name.
    pub name: String,
    /// A version published, or a deprecation.
    pub kind: EntryKind,
    /// The version.
    pub version: String,
    /// The version it was compared with, if any.
    pub previous_version: Option<String>,
    /// When (RFC 3339, UTC).
    pub published_at: String,
    /// How many changes can break clients.
    pub breaking: usize,
    /// How many cannot.
    pub non_breaking: usize,
    /// The changes, breaking first.
    pub changes: Vec<LoggedChange>,
    /// Why the documents could not be compared, if they could not.
    pub diff_error: Option<String>,
    /// Breaking changes while the major version did not increase.
    pub unbumped_breaking: bool,
    /// The summary the portal wrote (markdown).
    pub generated: String,
    /// The owner's summary (markdown), replacing the generated one where set.
    pub summary: Option<String>,
    /// Who wrote the owner's summary.
    pub edited_by: Option<String>,
    /// When (RFC 3339).
    pub edited_at: Option<String>,
}

impl ChangelogEntry {
    /// The summary to show: the owner's, else the generated one.
    pub fn text(&self) -> &str {
        self.summary.as_deref().unwrap_or(&self.generated)
    }
}

/// A deprecation an owner declares through the portal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Deprecation {
    /// The day the version stops working (`YYYY-MM-DD`), if announced.
    pub sunset: Option<String>,
    /// How to move off it (markdown).
    pub migration: Option<String>,
}

/// What a version's publication records, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryDraft {
    pub(crate) previous_version: Option<String>,
    pub(crate) changes: Vec<LoggedChange>,
    pub(crate) diff_error: Option<String>,
    pub(crate) unbumped_breaking: bool,
    pub(crate) generated: String,
}

impl EntryDraft {
    pub(crate) fn breaking(&self) -> usize {
        self.changes.iter().filter(|c| c.is_breaking()).count()
    }

    /// What publishing it does under `policy`.
    pub(crate) fn verdict(&self, policy: BreakingChanges) -> Verdict {
        let flagged = self.previous_version.is_some() && self.unbumped_breaking;
        match (flagged, policy) {
            (false, _) => Verdict::Publish,
            (true, BreakingChanges::Warn) => Verdict::PublishWithWarning,
            (true, BreakingChanges::Refuse) => Verdict::Refused,
        }
    }

    /// Why `policy` refuses it, if it does ([`Verdict::Refused`]).
    pub(crate) fn refusal(&self, version: &str, policy: BreakingChanges) -> Option<String> {
        if self.verdict(policy) != Verdict::Refused {
            return None;
        }
        let previous = self.previous_version.as_deref()?;
        Some(format!(
            "version {version} has {} breaking change(s) since version {previous} without a \
             major version bump; publish it under a new major version, or set [catalog] \
             breaking_changes = \"warn\"",
            self.breaking()
        ))
    }
}

/// The entry for publishing `version` with `document`, compared with `previous` (the newest
/// older version) when there is one.
pub(crate) fn version_entry(
    version: &str,
    document: &SpecDocument,
    previous: Option<(&str, &SpecDocument)>,
) -> EntryDraft {
    let Some((previous_version, old)) = previous else {
        return EntryDraft {
            previous_version: None,
            changes: Vec::new(),
            diff_error: None,
            unbumped_breaking: false,
            generated: format!("First published version: {version}."),
        };
    };
    let mut draft = EntryDraft {
        previous_version: Some(previous_version.to_owned()),
        changes: Vec::new(),
        diff_error: None,
        unbumped_breaking: false,
        generated: String::new(),
    };
    if !is_openapi(&old.format) || !is_openapi(&document.format) {
        draft.generated = format!(
            "Version {version} published after {previous_version}; only OpenAPI documents are \
             compared."
        );
        return draft;
    }
    match compare(old, document) {
        Ok(diff) => {
            let (breaking, other): (Vec<_>, Vec<_>) = diff
                .changes
                .iter()
                .partition(|c| c.severity == Severity::Breaking);
            draft.changes = breaking
                .into_iter()
                .chain(other)
                .map(|c| LoggedChange {
                    rule: c.rule.id().to_owned(),
                    severity: c.severity.as_str().to_owned(),
                    location: c.location.clone(),
                    message: c.message.clone(),
                })
                .collect();
            draft.unbumped_breaking =
                draft.breaking() > 0 && !major_bump(previous_version, version);
            draft.generated = summary(version, &draft);
        }
        Err(e) => {
            draft.generated = format!(
                "Version {version} published after {previous_version}; the documents could not \
                 be compared: {e}"
            );
            draft.diff_error = Some(e.to_string());
        }
    }
    draft
}

/// The generated summary of a deprecation.
pub(crate) fn deprecation_text(
    version: &str,
    sunset: Option<&str>,
    migration: Option<&str>,
) -> String {
    let mut text = match sunset {
        Some(date) => format!("Version {version} is deprecated; it stops working on {date}."),
        None => format!("Version {version} is deprecated."),
    };
    if let Some(migration) = migration.filter(|m| !m.trim().is_empty()) {
        text.push_str("\n\n");
        text.push_str(migration.trim());
    }
    text
}

fn is_openapi(format: &str) -> bool {
    matches!(format, "openapi2" | "openapi30" | "openapi31")
}

fn compare(old: &SpecDocument, new: &SpecDocument) -> Result<SpecDiff, DiffError> {
    let parse = |doc: &SpecDocument| {
        ParsedSpec::parse(
            doc.content.as_bytes(),
            &SpecHint::from_media_type(&doc.media_type),
        )
    };
    let unreadable = |side| {
        move |e: crate::spec::SpecError| DiffError::Unreadable {
            side,
            reason: e.to_string(),
        }
    };
    let old = parse(old).map_err(unreadable(Side::Old))?;
    let new = parse(new).map_err(unreadable(Side::New))?;
    diff_specs(&old, &new)
}

/// Whether `new`'s major version is above `old`'s; `false` when either is not semver (the
/// portal cannot tell, so breaking changes are flagged).
pub(crate) fn major_bump(old: &str, new: &str) -> bool {
    match (lenient_semver(old), lenient_semver(new)) {
        (Some(old), Some(new)) => {
            // Before 1.0.0 the minor version is the one that may break (semver item 4).
            if old.major == 0 && new.major == 0 {
                new.minor > old.minor
            } else {
                new.major > old.major
            }
        }
        _ => false,
    }
}

fn summary(version: &str, draft: &EntryDraft) -> String {
    let previous = draft.previous_version.as_deref().unwrap_or("");
    let breaking = draft.breaking();
    let other = draft.changes.len() - breaking;
    if draft.changes.is_empty() {
        return format!("Version {version}: no changes to operations since {previous}.");
    }
    let mut text = format!(
        "Version {version}: {breaking} breaking change{}, {other} other change{} since {previous}.",
        plural(breaking),
        plural(other)
    );
    if draft.unbumped_breaking {
        text.push_str(&format!(
            "\n\n**Warning:** breaking changes without a major version bump ({previous} → {version})."
        ));
    }
    for (title, wanted) in [("Breaking changes", true), ("Other changes", false)] {
        let mut changes = draft
            .changes
            .iter()
            .filter(|c| c.is_breaking() == wanted)
            .peekable();
        if changes.peek().is_none() {
            continue;
        }
        text.push_str(&format!("\n\n### {title}\n"));
        for c in changes {
            text.push_str(&format!("\n- `{}`: {}", c.location, c.message));
        }
    }
    text
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(version: &str, paths: &str) -> SpecDocument {
        let content =
            format!("openapi: 3.0.3\ninfo: {{title: Pets, version: '{version}'}}\npaths:\n{paths}");
        SpecDocument {
            hash: version.into(),
            format: "openapi30".into(),
            media_type: "application/yaml".into(),
            content,
        }
    }

    const TWO_PATHS: &str = "  /pets:\n    get: {responses: {'200': {description: ok}}}\n  /pets/{id}:\n    get: {parameters: [{name: id, in: path, required: true, schema: {type: string}}], responses: {'200': {description: ok}}}\n";
    const ONE_PATH: &str = "  /pets:\n    get: {responses: {'200': {description: ok}}}\n";

    #[test]
    fn removing_a_path_in_a_minor_version_is_breaking_and_unbumped() {
        let entry = version_entry(
            "v1.1",
            &doc("1.1", ONE_PATH),
            Some(("1.0.0", &doc("1.0.0", TWO_PATHS))),
        );
        assert_eq!(entry.breaking(), 1, "{entry:?}");
        assert!(entry.unbumped_breaking);
        assert!(entry.changes[0].is_breaking());
        assert!(
            entry.generated.contains("**Warning:**"),
            "{}",
            entry.generated
        );
        assert!(
            entry.generated.contains("/pets/{id}"),
            "{}",
            entry.generated
        );
        assert_eq!(
            entry.verdict(BreakingChanges::Warn),
            Verdict::PublishWithWarning
        );
        assert_eq!(entry.refusal("v1.1", BreakingChanges::Warn), None);
        let refusal = entry.refusal("v1.1", BreakingChanges::Refuse).unwrap();
        assert!(
            refusal.contains("v1.1") && refusal.contains("1.0.0") && refusal.contains("1 breaking"),
            "{refusal}"
        );
    }

    #[test]
    fn a_major_bump_carries_breaking_changes_without_warning() {
        let entry = version_entry(
            "2.0.0",
            &doc("2.0.0", ONE_PATH),
            Some(("v1", &doc("1", TWO_PATHS))),
        );
        assert_eq!(entry.breaking(), 1);
        assert!(!entry.unbumped_breaking);
        assert_eq!(entry.verdict(BreakingChanges::Refuse), Verdict::Publish);
        assert_eq!(entry.refusal("2.0.0", BreakingChanges::Refuse), None);
        let added = version_entry(
            "1.1.0",
            &doc("1.1.0", TWO_PATHS),
            Some(("1.0.0", &doc("1.0.0", ONE_PATH))),
        );
        assert_eq!((added.breaking(), added.changes.len()), (0, 1));
        assert!(!added.unbumped_breaking);
    }

    #[test]
    fn documents_that_cannot_be_compared_keep_the_reason() {
        let mut graphql = doc("2", "");
        graphql.format = "graphql".into();
        let skipped = version_entry("2", &graphql, Some(("1", &doc("1", ONE_PATH))));
        assert!(skipped.diff_error.is_none() && skipped.changes.is_empty());
        let other = SpecDocument {
            content: "openapi: 3.0.3\ninfo: {title: Stores, version: '2'}\npaths:\n  /stores:\n    get: {responses: {'200': {description: ok}}}\n".into(),
            ..doc("2", "")
        };
        let failed = version_entry("2", &other, Some(("1", &doc("1", ONE_PATH))));
        let error = failed.diff_error.unwrap();
        assert!(error.contains("different APIs"), "{error}");
        assert!(failed.generated.contains("could not be compared"));
        let first = version_entry("1", &doc("1", ONE_PATH), None);
        assert_eq!(first.previous_version, None);
    }

    #[test]
    fn zero_major_versions_break_on_minor_bumps() {
        assert!(major_bump("0.1.0", "0.2.0"));
        assert!(!major_bump("0.1.0", "0.1.5"));
        assert!(major_bump("v1.2", "2"));
        assert!(!major_bump("beta", "gamma"));
    }
}
