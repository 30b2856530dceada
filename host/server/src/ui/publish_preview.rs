//! The publication preview page: a catalogue writer uploads or pastes the next version of an
//! API's OpenAPI document and reads, before any import publishes it, what changed against the
//! version it would be compared with and what publishing would do (a verdict banner, then the
//! changes, breaking first). It shares `publish_preview::preview` with the JSON route.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portico_catalog::spec::SpecHint;
use portico_catalog::{EntityRef, LoggedChange, PublishPreview, Verdict};

use super::catalog::entity_href;
use super::entity::not_found;
use super::{Chrome, render};
use crate::catalog_api::with_store;
use crate::changelog_feed::changelog_path;
use crate::identity::Caller;
use crate::multipart;
use crate::problem::ApiError;
use crate::publish_preview::{Failure, MAX_DOCUMENT, preview};
use crate::state::AppState;

/// Routes of the preview page and its form.
pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/apis/{namespace}/{name}/preview",
        get(show)
            .post(submit)
            .layer(DefaultBodyLimit::max(MAX_DOCUMENT)),
    )
}

/// The page's path for an API.
pub(super) fn preview_path(namespace: &str, name: &str) -> String {
    format!(
        "{}/preview",
        entity_href(&EntityRef::new("api", namespace, name))
    )
}

#[derive(Template)]
#[template(path = "publish_preview.html")]
struct PreviewPage {
    chrome: Chrome,
    title: String,
    api_href: String,
    changelog_href: String,
    action: String,
    csrf: String,
    /// What the form sent, shown again.
    against: String,
    pasted: String,
    /// Why the last preview failed.
    problem: Option<String>,
    result: Option<Outcome>,
}

/// A preview as the page shows it.
struct Outcome {
    /// `form-notice` (safe) or `form-error` (breaking without a major bump).
    class: &'static str,
    headline: String,
    /// Why publishing would be refused.
    refusal: Option<String>,
    version: String,
    against: Option<String>,
    breaking: Vec<LoggedChange>,
    other: Vec<LoggedChange>,
}

impl Outcome {
    fn new(p: PublishPreview) -> Outcome {
        let (breaking, other) = p
            .changes
            .iter()
            .cloned()
            .partition(LoggedChange::is_breaking);
        Outcome {
            class: match p.verdict {
                Verdict::Publish => "form-notice",
                Verdict::PublishWithWarning | Verdict::Refused => "form-error",
            },
            headline: headline(&p),
            refusal: p.refusal.clone(),
            version: p.version,
            against: p.previous_version,
            breaking,
            other,
        }
    }
}

/// The verdict as one sentence.
fn headline(p: &PublishPreview) -> String {
    let count =
        |n: usize, what: &str| format!("{n} {what} change{}", if n == 1 { "" } else { "s" });
    let version = &p.version;
    let Some(previous) = &p.previous_version else {
        return format!(
            "Publishing {version} is safe: it would be the API's first version, with nothing to \
             compare it with."
        );
    };
    match p.verdict {
        Verdict::Publish if p.changes.is_empty() => {
            format!("Publishing {version} is safe: no changes to operations since {previous}.")
        }
        Verdict::Publish if p.breaking == 0 => format!(
            "Publishing {version} is safe: {} since {previous}.",
            count(p.non_breaking, "non-breaking")
        ),
        Verdict::Publish => format!(
            "Publishing {version} is a new major version: {} since {previous}, which its major \
             version bump announces.",
            count(p.breaking, "breaking")
        ),
        Verdict::PublishWithWarning => format!(
            "{} without a major version bump ({previous} → {version}): publishing would warn.",
            count(p.breaking, "breaking")
        ),
        Verdict::Refused => format!(
            "{} without a major version bump ({previous} → {version}): publishing would be \
             refused.",
            count(p.breaking, "breaking")
        ),
    }
}

/// The API's title, when the caller may see it.
async fn api_title(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
) -> Result<Option<String>, ApiError> {
    let wanted = api.clone();
    let audience = caller.actor.audience();
    with_store(state, move |store| {
        Ok(store.visible_entity(&wanted, &audience)?.map(|stored| {
            let metadata = stored.entity.metadata;
            metadata.title.unwrap_or(metadata.name)
        }))
    })
    .await
}

/// What the form sent.
#[derive(Default)]
struct Form {
    against: String,
    pasted: String,
    document: Option<(Bytes, SpecHint)>,
}

impl Form {
    /// The fields of a `multipart/form-data` body: `csrf` first (checked by the access layer),
    /// then a `document` file, a `pasted` text and an `against` version.
    fn read(headers: &HeaderMap, body: &Bytes) -> Result<Form, String> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let boundary = multipart::boundary(content_type)
            .ok_or("Send the document with the form on this page.")?;
        let parts = multipart::parts(body, &boundary).map_err(|e| e.to_string())?;
        let field = |name: &str| parts.iter().find(|p| p.name == name);
        let text = |name: &str| {
            field(name)
                .map(|p| String::from_utf8_lossy(p.data).trim().to_owned())
                .unwrap_or_default()
        };
        let mut form = Form {
            against: text("against"),
            pasted: field("pasted")
                .map(|p| String::from_utf8_lossy(p.data).into_owned())
                .unwrap_or_default(),
            document: None,
        };
        form.document = match field("document").filter(|p| !p.data.is_empty()) {
            Some(file) => Some((
                body.slice_ref(file.data),
                SpecHint {
                    file_name: file.filename.clone(),
                    media_type: None,
                },
            )),
            None if !form.pasted.trim().is_empty() => {
                Some((Bytes::from(form.pasted.clone()), SpecHint::default()))
            }
            None => None,
        };
        Ok(form)
    }
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    page(
        &state,
        &caller,
        &EntityRef::new("api", namespace, name),
        Form::default(),
        Ok(None),
    )
    .await
}

async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    let form = match body {
        Ok(body) => Form::read(&headers, &body),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(format!(
            "The document is over {} MB.",
            MAX_DOCUMENT / (1024 * 1024)
        )),
        Err(_) => Err("The form could not be read; please send it again.".to_owned()),
    };
    let form = match form {
        Ok(form) => form,
        Err(message) => {
            let outcome = Err((StatusCode::BAD_REQUEST, message));
            return page(&state, &caller, &api, Form::default(), outcome).await;
        }
    };
    let outcome = match form.document.clone() {
        None => Err((
            StatusCode::BAD_REQUEST,
            "Choose a document file or paste one.".to_owned(),
        )),
        Some((bytes, hint)) => {
            let against = Some(form.against.clone()).filter(|a| !a.is_empty());
            preview(&state, &caller, &api, against, bytes, hint)
                .await
                .map(Some)
                .map_err(|f: Failure| (f.status(), f.message()))
        }
    };
    page(&state, &caller, &api, form, outcome).await
}

async fn page(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
    form: Form,
    outcome: Result<Option<PublishPreview>, (StatusCode, String)>,
) -> Response {
    let title = match api_title(state, caller, api).await {
        Ok(Some(title)) => title,
        Ok(None) => return not_found(state),
        Err(error) => return error.into_response(),
    };
    let (status, result, problem) = match outcome {
        Ok(preview) => (StatusCode::OK, preview.map(Outcome::new), None),
        Err((status, message)) => (status, None, Some(message)),
    };
    let mut response = render(&PreviewPage {
        chrome: Chrome::new(
            state.branding(),
            format!("Preview a version of {title}"),
            "catalog",
        ),
        api_href: entity_href(api),
        changelog_href: changelog_path(&api.namespace, &api.name),
        action: preview_path(&api.namespace, &api.name),
        csrf: caller.csrf.clone().unwrap_or_default(),
        title,
        against: form.against,
        pasted: form.pasted,
        problem,
        result,
    });
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(
        verdict: Verdict,
        previous: Option<&str>,
        breaking: usize,
        other: usize,
    ) -> PublishPreview {
        let change = |severity: &str| LoggedChange {
            rule: "path-removed".into(),
            severity: severity.into(),
            location: "GET /owners".into(),
            message: "The path was removed.".into(),
        };
        let mut changes = vec![change("breaking"); breaking];
        changes.extend(vec![change("non-breaking"); other]);
        PublishPreview {
            version: "1.1.0".into(),
            previous_version: previous.map(str::to_owned),
            changes,
            breaking,
            non_breaking: other,
            major_bump: false,
            unbumped_breaking: breaking > 0,
            verdict,
            refusal: None,
            summary: String::new(),
        }
    }

    #[test]
    fn headlines_say_whether_publishing_is_safe_warns_or_is_refused() {
        let h = |v, prev, b, o| headline(&preview(v, prev, b, o));
        assert_eq!(
            h(Verdict::Publish, Some("1.0.0"), 0, 3),
            "Publishing 1.1.0 is safe: 3 non-breaking changes since 1.0.0."
        );
        assert_eq!(
            h(Verdict::Publish, Some("1.0.0"), 0, 0),
            "Publishing 1.1.0 is safe: no changes to operations since 1.0.0."
        );
        assert_eq!(
            h(Verdict::PublishWithWarning, Some("1.0.0"), 2, 1),
            "2 breaking changes without a major version bump (1.0.0 → 1.1.0): publishing would warn."
        );
        assert_eq!(
            h(Verdict::Refused, Some("1.0.0"), 1, 0),
            "1 breaking change without a major version bump (1.0.0 → 1.1.0): publishing would be refused."
        );
        assert!(h(Verdict::Publish, None, 0, 0).contains("first version"));
        assert!(h(Verdict::Publish, Some("1.0.0"), 1, 0).contains("new major version"));
    }

    #[test]
    fn outcomes_group_breaking_changes_first_and_flag_them() {
        let outcome = Outcome::new(preview(Verdict::PublishWithWarning, Some("1.0.0"), 1, 2));
        assert_eq!((outcome.breaking.len(), outcome.other.len()), (1, 2));
        assert_eq!(outcome.class, "form-error");
        assert_eq!(
            Outcome::new(preview(Verdict::Publish, Some("1.0.0"), 0, 1)).class,
            "form-notice"
        );
    }
}
