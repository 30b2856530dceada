//! Previewing a publication: `POST /api/v1/apis/{namespace}/{name}/diff` takes an OpenAPI
//! document and answers what publishing it would do — its changes against the version it
//! would be compared with, and the verdict of `[catalog] breaking_changes` — before any
//! import publishes it. The catalogue's publication code decides, so preview and import agree;
//! the preview page (`ui::publish_preview`) shares [`preview`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_catalog::spec::{SpecError, SpecHint};
use portico_catalog::{
    CatalogError, EntityRef, PreviewError, PublishPreview, preview_publication, previous_version,
    read_candidate,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::changelog_api::ChangeView;
use crate::identity::Caller;
use crate::problem::{ApiError, Problem};
use crate::query::QueryParams;
use crate::state::AppState;

/// The largest document previewed: GitHub's description is about 13 MB.
pub(crate) const MAX_DOCUMENT: usize = 32 * 1024 * 1024;

/// Routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview_diff))
        .layer(DefaultBodyLimit::max(MAX_DOCUMENT))
}

/// What publishing a document would do.
#[derive(Serialize, ToSchema)]
pub(crate) struct PreviewAnswer {
    /// The API, `api:namespace/name`.
    api: String,
    /// The version compared against: `against`, else the one publishing compares with (the
    /// newest older version); `null` when the API has no version yet (nothing to compare).
    against: Option<String>,
    /// The document's `info.version`: the version it would be published as.
    version: String,
    /// Changes that can break clients.
    breaking: usize,
    /// Changes that cannot.
    non_breaking: usize,
    /// Whether the major version goes up (the minor one before 1.0.0).
    major_bump: bool,
    /// Breaking changes while the major version does not go up.
    unbumped_breaking: bool,
    /// `[catalog] breaking_changes`: `warn` or `refuse`.
    policy: String,
    /// What publishing would do: `publish`, `publish-with-warning` or `refused`.
    verdict: String,
    /// Why publishing would be refused, when it would.
    refusal: Option<String>,
    /// The changelog entry publishing would record (markdown).
    summary: String,
    /// The changes, breaking first.
    changes: Vec<ChangeView>,
}

impl PreviewAnswer {
    fn new(api: &EntityRef, policy: portico_catalog::BreakingChanges, p: PublishPreview) -> Self {
        PreviewAnswer {
            api: api.to_string(),
            against: p.previous_version,
            version: p.version,
            breaking: p.breaking,
            non_breaking: p.non_breaking,
            major_bump: p.major_bump,
            unbumped_breaking: p.unbumped_breaking,
            policy: match policy {
                portico_catalog::BreakingChanges::Warn => "warn",
                portico_catalog::BreakingChanges::Refuse => "refuse",
            }
            .to_owned(),
            verdict: p.verdict.as_str().to_owned(),
            refusal: p.refusal,
            summary: p.summary,
            changes: p.changes.into_iter().map(ChangeView::from).collect(),
        }
    }
}

/// `?against=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    /// The version to compare with (default: the one publishing would compare with, the
    /// newest version older than the document's).
    against: Option<String>,
}

/// An OpenAPI document. Documentation only.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct OpenApiDocument(Vec<u8>);

/// Why a preview failed: an API error, or a document that does not parse (with where).
#[derive(Debug)]
pub(crate) enum Failure {
    /// Not found, bad request, internal...
    Api(ApiError),
    /// The document does not parse.
    Unreadable(SpecError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Api(error)
    }
}

impl Failure {
    /// What a person reads: the problem's detail, with line and column where known.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Api(error) => error.to_string(),
            Failure::Unreadable(error) => PreviewError::Unreadable(error.clone()).to_string(),
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Failure::Api(error) => error.status(),
            Failure::Unreadable(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// A 400 problem whose `line` and `column` extension members say where the parser stopped.
#[derive(Serialize)]
struct UnreadableProblem {
    #[serde(flatten)]
    problem: Problem,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let error = match self {
            Failure::Api(error) => return error.into_response(),
            Failure::Unreadable(error) => error,
        };
        let (line, column) = match &error {
            SpecError::Syntax { line, column, .. } => (*line, *column),
            SpecError::Invalid { .. } => (None, None),
        };
        let body = UnreadableProblem {
            problem: Problem {
                kind: "https://portico.dev/problems/bad-request".into(),
                title: "Bad request".into(),
                status: StatusCode::BAD_REQUEST.as_u16(),
                detail: PreviewError::Unreadable(error).to_string(),
            },
            line,
            column,
        };
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(body),
        )
            .into_response()
    }
}

/// What publishing `document` (with its media type and file name, where known) as a version
/// of `api` would do, compared with `against` or the version publishing would compare with.
/// An API the caller may not see is not found.
pub(crate) async fn preview(
    state: &AppState,
    caller: &Caller,
    api: &EntityRef,
    against: Option<String>,
    document: Bytes,
    hint: SpecHint,
) -> Result<PublishPreview, Failure> {
    let store = state.catalog().clone();
    let audience = caller.actor.audience();
    let policy = state.config().catalog.breaking_changes;
    let api = api.clone();
    tokio::task::spawn_blocking(move || {
        let missing = || ApiError::NotFound(format!("no API {}/{}", api.namespace, api.name));
        let catalog = |e: CatalogError| Failure::Api(e.into());
        if store
            .visible_entity(&api, &audience)
            .map_err(catalog)?
            .is_none()
        {
            return Err(missing().into());
        }
        let draft = read_candidate(&document, &hint).map_err(invalid)?;
        let versions = store.versions(&api).map_err(catalog)?;
        let previous = match &against {
            Some(wanted) => Some(versions.iter().find(|v| &v.version == wanted).ok_or_else(
                || {
                    ApiError::NotFound(format!(
                        "API {}/{} has no version {wanted}",
                        api.namespace, api.name
                    ))
                },
            )?),
            None => previous_version(&draft.version, &versions),
        };
        let previous = match previous {
            Some(v) => {
                let doc = store
                    .spec_document(&v.spec_hash)
                    .map_err(catalog)?
                    .ok_or_else(|| {
                        ApiError::internal(format!("version {} has no document", v.version))
                    })?;
                Some((v.version.clone(), doc))
            }
            None => None,
        };
        preview_publication(
            &draft,
            previous.as_ref().map(|(v, doc)| (v.as_str(), doc)),
            policy,
        )
        .map_err(invalid)
    })
    .await
    .map_err(|e| Failure::Api(ApiError::internal(e)))?
}

fn invalid(error: PreviewError) -> Failure {
    match error {
        PreviewError::Unreadable(error) => Failure::Unreadable(error),
        other => Failure::Api(ApiError::BadRequest(other.to_string())),
    }
}

/// `POST /api/v1/apis/{namespace}/{name}/diff`: what publishing this document would do.
/// Needs `catalog.write`. Publishes nothing.
#[utoipa::path(post, path = "/api/v1/apis/{namespace}/{name}/diff", tag = "apis",
    params(("namespace" = String, Path), ("name" = String, Path), DiffQuery),
    request_body(description = "The candidate document as the raw body: JSON or YAML, OpenAPI 3.x or Swagger 2.0, at most 32 MB",
        content((OpenApiDocument = "application/yaml"), (OpenApiDocument = "application/json"))),
    security(("admin_token" = []), ("session" = [])),
    responses(
        (status = 200, description = "Its changes against the version publishing would compare it with (`against: null` when the API has none yet), and what publishing would do", body = PreviewAnswer),
        (status = 400, description = "A document that does not parse (with `line` and `column` where known), is not OpenAPI, or describes another API", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such API, or no such `against` version", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A document over 32 MB", body = Problem, content_type = "application/problem+json")))]
async fn preview_diff(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    QueryParams(query): QueryParams<DiffQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PreviewAnswer>, Response> {
    let body = body.map_err(too_large)?;
    let api = EntityRef::new("api", namespace, name);
    let hint = SpecHint {
        file_name: None,
        media_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let policy = state.config().catalog.breaking_changes;
    preview(&state, &caller, &api, query.against, body, hint)
        .await
        .map(|p| Json(PreviewAnswer::new(&api, policy, p)))
        .map_err(IntoResponse::into_response)
}

/// A body axum would not read (over the limit, mostly), as problem+json.
pub(crate) fn too_large(rejection: BytesRejection) -> Response {
    let status = rejection.status();
    let slug = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "too-large"
    } else {
        "bad-request"
    };
    let body = Problem {
        kind: format!("https://portico.dev/problems/{slug}"),
        title: status.canonical_reason().unwrap_or("Bad request").into(),
        status: status.as_u16(),
        detail: if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the document is over {} MB", MAX_DOCUMENT / (1024 * 1024))
        } else {
            "the body could not be read".into()
        },
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(body),
    )
        .into_response()
}
