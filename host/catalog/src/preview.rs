//! Previewing a publication: what publishing a document as a version of an API would record
//! and do — its diff against the version it would be compared with, and the verdict of
//! `[catalog] breaking_changes` — without writing anything. It runs the code publishing runs
//! (`changelog::version_entry` and `EntryDraft::verdict`), so the preview cannot disagree.

use crate::changelog::{self, BreakingChanges, LoggedChange, Verdict, major_bump};
use crate::spec::{ParsedSpec, SpecError, SpecHint};
use crate::versions::{SpecDocument, VersionDraft};

/// What publishing a document would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishPreview {
    /// The version it would be published as (its `info.version`).
    pub version: String,
    /// The version it is compared with; `None` when the API has none yet.
    pub previous_version: Option<String>,
    /// The changes, breaking first.
    pub changes: Vec<LoggedChange>,
    /// How many changes can break clients.
    pub breaking: usize,
    /// How many cannot.
    pub non_breaking: usize,
    /// Whether the major version goes up (the minor one before 1.0.0); `false` with nothing
    /// to compare with, or when either version is not semver.
    pub major_bump: bool,
    /// Breaking changes while the major version does not go up.
    pub unbumped_breaking: bool,
    /// What publishing does under the policy.
    pub verdict: Verdict,
    /// Why publishing is refused, when [`Verdict::Refused`].
    pub refusal: Option<String>,
    /// The changelog entry's generated summary (markdown).
    pub summary: String,
}

/// Why a document cannot be previewed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    /// It does not parse; the error carries the line and column where the parser knows them.
    #[error("the document cannot be read: {0}")]
    Unreadable(SpecError),
    /// It parses, but is no OpenAPI document.
    #[error(
        "only OpenAPI documents (3.x, or Swagger 2.0) can be compared; this one reads as `{0}`"
    )]
    NotOpenApi(&'static str),
    /// It cannot be compared with the previous version (a different API, for one).
    #[error("{0}")]
    Incomparable(String),
}

/// Reads a candidate document (JSON or YAML, OpenAPI 3.x or Swagger 2.0) as the draft
/// publishing would make of it, named by its `info.version`.
pub fn read_candidate(bytes: &[u8], hint: &SpecHint) -> Result<VersionDraft, PreviewError> {
    let spec = ParsedSpec::parse(bytes, hint).map_err(PreviewError::Unreadable)?;
    if !spec.format().is_openapi() {
        return Err(PreviewError::NotOpenApi(spec.format().as_str()));
    }
    Ok(VersionDraft::from_spec(&spec))
}

/// What publishing `draft` after `previous` (its version and document; see
/// [`crate::versions::previous_version`]) would do under `policy`.
pub fn preview_publication(
    draft: &VersionDraft,
    previous: Option<(&str, &SpecDocument)>,
    policy: BreakingChanges,
) -> Result<PublishPreview, PreviewError> {
    let entry = changelog::version_entry(&draft.version, &draft.document, previous);
    if let Some(error) = entry.diff_error.clone() {
        return Err(PreviewError::Incomparable(error));
    }
    let breaking = entry.breaking();
    let verdict = entry.verdict(policy);
    Ok(PublishPreview {
        version: draft.version.clone(),
        major_bump: previous.is_some_and(|(old, _)| major_bump(old, &draft.version)),
        breaking,
        non_breaking: entry.changes.len() - breaking,
        unbumped_breaking: entry.unbumped_breaking,
        verdict,
        refusal: entry.refusal(&draft.version, policy),
        previous_version: entry.previous_version,
        changes: entry.changes,
        summary: entry.generated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "openapi: 3.0.3\ninfo: {title: Pets, version: '1.0.0'}\npaths:\n  /pets:\n    get: {responses: {'200': {description: ok}}}\n  /owners:\n    get: {responses: {'200': {description: ok}}}\n";

    fn candidate(version: &str, paths: &[&str]) -> VersionDraft {
        let mut text =
            format!("openapi: 3.0.3\ninfo: {{title: Pets, version: '{version}'}}\npaths:\n");
        for path in paths {
            text.push_str(&format!(
                "  /{path}:\n    get: {{responses: {{'200': {{description: ok}}}}}}\n"
            ));
        }
        read_candidate(text.as_bytes(), &SpecHint::default()).unwrap()
    }

    fn v1() -> SpecDocument {
        read_candidate(V1.as_bytes(), &SpecHint::default())
            .unwrap()
            .document
    }

    #[test]
    fn a_breaking_minor_version_warns_or_is_refused_by_policy() {
        let draft = candidate("1.1.0", &["pets"]);
        let old = v1();
        let warn =
            preview_publication(&draft, Some(("1.0.0", &old)), BreakingChanges::Warn).unwrap();
        assert_eq!((warn.breaking, warn.non_breaking), (1, 0));
        assert_eq!(warn.verdict, Verdict::PublishWithWarning);
        assert!(warn.unbumped_breaking && !warn.major_bump);
        assert_eq!(warn.refusal, None);
        assert_eq!(warn.changes[0].rule, "path-removed");
        let refuse =
            preview_publication(&draft, Some(("1.0.0", &old)), BreakingChanges::Refuse).unwrap();
        assert_eq!(refuse.verdict, Verdict::Refused);
        assert!(refuse.refusal.unwrap().contains("1 breaking change"));
    }

    #[test]
    fn a_major_bump_or_an_addition_publishes_and_a_first_version_has_nothing_to_compare() {
        let old = v1();
        let major = candidate("2.0.0", &["pets"]);
        let major =
            preview_publication(&major, Some(("1.0.0", &old)), BreakingChanges::Refuse).unwrap();
        assert_eq!((major.verdict, major.major_bump), (Verdict::Publish, true));
        let added = candidate("1.1.0", &["pets", "owners", "toys"]);
        let added =
            preview_publication(&added, Some(("1.0.0", &old)), BreakingChanges::Refuse).unwrap();
        assert_eq!((added.breaking, added.non_breaking), (0, 1));
        assert_eq!(added.verdict, Verdict::Publish);
        let first = preview_publication(
            &candidate("1.0.0", &["pets"]),
            None,
            BreakingChanges::Refuse,
        )
        .unwrap();
        assert_eq!(first.previous_version, None);
        assert!(first.changes.is_empty() && first.verdict == Verdict::Publish);
    }

    #[test]
    fn unreadable_foreign_and_unrelated_documents_are_errors() {
        let syntax = read_candidate(b"{\"openapi\": ", &SpecHint::default()).unwrap_err();
        assert!(
            matches!(&syntax, PreviewError::Unreadable(e) if e.line().is_some()),
            "{syntax}"
        );
        let graphql =
            read_candidate(b"type Query { pets: [String] }", &SpecHint::default()).unwrap_err();
        assert!(matches!(graphql, PreviewError::NotOpenApi(_)), "{graphql}");
        let stores = b"openapi: 3.0.3\ninfo: {title: Stores, version: '2'}\npaths:\n  /stores:\n    get: {responses: {'200': {description: ok}}}\n";
        let stores = read_candidate(stores, &SpecHint::default()).unwrap();
        let error = preview_publication(&stores, Some(("1.0.0", &v1())), BreakingChanges::Warn)
            .unwrap_err();
        assert!(error.to_string().contains("different APIs"), "{error}");
    }
}
