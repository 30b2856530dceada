//! The try-it console's pages, without scripts: a form per operation on the
//! docs page, and the result page those forms post to, which calls the same
//! proxy as the API and shows status, headers, body, timing and the curl
//! line above the form again, prefilled with what was sent (the credential
//! excepted). The forms are built here, not by the renderer plugin, because
//! each carries the reader's CSRF token while the rendered docs are shared.
//! A version without a sandbox server offers the synthetic sandbox first,
//! with a form that resets the reader's state in it.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use portico_catalog::{ApiVersion, EntityRef, SpecDocument};
use portico_runtime::worlds::renderer::Operation;

use super::catalog::entity_href;
use super::docs::segment;
use super::entity::not_found;
use super::{Chrome, render};
use crate::identity::Caller;
use crate::state::AppState;
use crate::tryit::operations::{Location, TryOperation};
use crate::tryit::outbound::DeclaredServer;
use crate::tryit::sandbox::{self, SYNTHETIC};
use crate::tryit::{self, TryAnswer, TryCall, TryError, TryTarget};

/// The most operations given a form on one docs page.
const MAX_FORMS: usize = 300;

/// Routes of the result page and of the sandbox reset.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/apis/{namespace}/{name}/versions/{version}/try",
            post(submit),
        )
        .route("/apis/{namespace}/{name}/sandbox/reset", post(reset))
}

/// The docs page's try-it section.
#[derive(Default)]
pub(super) struct TryIt {
    pub(super) forms: Vec<TryForm>,
    /// Where a visitor signs in, when nobody is.
    pub(super) sign_in_href: Option<String>,
    /// Where a visitor creates an account, when sign-up is open.
    pub(super) sign_up_href: Option<String>,
    pub(super) note: Option<String>,
    /// Resets the reader's synthetic sandbox, when the version offers one.
    pub(super) reset: Option<ResetForm>,
}

/// The form that forgets the reader's state in an API's synthetic sandbox.
pub(super) struct ResetForm {
    pub(super) action: String,
    pub(super) version: String,
    pub(super) csrf: String,
}

impl ResetForm {
    fn new(api: &EntityRef, version: &str, csrf: &str) -> ResetForm {
        ResetForm {
            action: format!(
                "/apis/{}/{}/sandbox/reset",
                segment(&api.namespace.to_lowercase()),
                segment(&api.name)
            ),
            version: version.to_owned(),
            csrf: csrf.to_owned(),
        }
    }
}

impl TryIt {
    pub(super) fn shown(&self) -> bool {
        !self.forms.is_empty() || self.sign_in_href.is_some() || self.note.is_some()
    }
}

/// One operation's form.
pub(super) struct TryForm {
    pub(super) action: String,
    /// The form's own anchor on the docs page (`try-<anchor>`).
    pub(super) id: String,
    /// The anchor of the operation's section in the rendered docs.
    pub(super) anchor: String,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) summary: Option<String>,
    pub(super) servers: Vec<ServerChoice>,
    pub(super) fields: Vec<Field>,
    pub(super) extra_headers: String,
    pub(super) body: Option<String>,
    pub(super) content_type: String,
    /// How the credential is sent, when the operation takes one.
    pub(super) credential: Option<String>,
    pub(super) csrf: String,
}

pub(super) struct ServerChoice {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

/// A parameter's input: named `path.id`, `query.limit`, `header.X-Trace`.
pub(super) struct Field {
    pub(super) name: String,
    pub(super) label: String,
    pub(super) location: &'static str,
    pub(super) required: bool,
    pub(super) value: String,
}

/// Where a version's forms post.
fn action(api: &EntityRef, version: &str) -> String {
    format!(
        "/apis/{}/{}/versions/{}/try",
        segment(&api.namespace.to_lowercase()),
        segment(&api.name),
        segment(version)
    )
}

/// The try-it section of a version's docs page: forms for a signed-in
/// reader, a sign-in link for a visitor.
pub(super) async fn for_docs(
    caller: &Caller,
    api: &EntityRef,
    version: &ApiVersion,
    document: &SpecDocument,
    index: &[Operation],
    docs_href: &str,
    signup_open: bool,
) -> TryIt {
    if !caller.actor.is_authenticated() {
        let next: String = url::form_urlencoded::byte_serialize(docs_href.as_bytes()).collect();
        return TryIt {
            sign_in_href: Some(format!("/auth/login?next={next}")),
            sign_up_href: signup_open.then(|| format!("/auth/signup?next={next}")),
            ..TryIt::default()
        };
    }
    let Some(csrf) = caller.csrf.clone() else {
        return TryIt {
            note: Some(format!(
                "The forms need a browser session; with a token, call POST /api/v1{}.",
                action(api, &version.version)
            )),
            ..TryIt::default()
        };
    };
    let (version, document) = (version.clone(), document.clone());
    let Ok(target) = tokio::task::spawn_blocking(move || TryTarget::new(version, &document)).await
    else {
        return TryIt::default();
    };
    let action = action(api, &target.version.version);
    let forms: Vec<TryForm> = target
        .operations
        .iter()
        .take(MAX_FORMS)
        .map(|op| {
            let anchor = index
                .iter()
                .find(|o| o.method.eq_ignore_ascii_case(&op.method) && o.path == op.path)
                .map(|o| o.anchor.clone())
                .unwrap_or_default();
            form(&action, &csrf, &anchor, op, &target, None)
        })
        .collect();
    let total = target.operations.len();
    let note = if total > MAX_FORMS {
        Some(format!(
            "The first {MAX_FORMS} of {total} operations have a form here; the API takes the others too."
        ))
    } else if target.servers.is_empty() && !target.synthetic && total > 0 {
        Some(
            "This version declares no server with an absolute http(s) URL, so nothing can be sent."
                .to_owned(),
        )
    } else {
        None
    };
    let reset = (target.synthetic && total > 0)
        .then(|| ResetForm::new(api, &target.version.version, &csrf));
    TryIt {
        forms,
        note,
        reset,
        ..TryIt::default()
    }
}

/// The server choices of a form: the synthetic sandbox first when offered
/// (and chosen unless another server was), then the declared servers.
fn server_choices(target: &TryTarget, chosen: Option<&str>) -> Vec<ServerChoice> {
    let chosen = chosen.map(str::trim).filter(|c| !c.is_empty());
    let mut choices = Vec::new();
    if target.synthetic {
        choices.push(ServerChoice {
            value: SYNTHETIC.to_owned(),
            label: "Synthetic sandbox: answers from the spec, keeps what you create".to_owned(),
            selected: chosen.is_none_or(|c| c.eq_ignore_ascii_case(SYNTHETIC)),
        });
    }
    let declared: &[DeclaredServer] = &target.servers;
    choices.extend(declared.iter().enumerate().map(|(i, s)| ServerChoice {
        value: s.name.clone(),
        label: format!("{}: {}", s.name, s.url),
        selected: chosen.map_or(i == 0 && !target.synthetic, |c| c == s.name),
    }));
    choices
}

/// A form for an operation, prefilled with what was sent, else the spec's examples.
fn form(
    action: &str,
    csrf: &str,
    anchor: &str,
    op: &TryOperation,
    target: &TryTarget,
    sent: Option<&TryCall>,
) -> TryForm {
    let chosen = sent.and_then(|c| c.server.as_deref());
    let mut extra: Vec<(String, String)> = sent
        .map(|c| c.headers.clone().into_iter().collect())
        .unwrap_or_default();
    let fields = op
        .parameters
        .iter()
        .map(|p| {
            let sent_value = sent.and_then(|c| match p.location {
                Location::Path => c.path_params.get(&p.name).cloned(),
                Location::Query => c.query.get(&p.name).cloned(),
                Location::Header => {
                    let at = extra
                        .iter()
                        .position(|(n, _)| n.eq_ignore_ascii_case(&p.name))?;
                    Some(extra.remove(at).1)
                }
            });
            Field {
                name: format!("{}.{}", p.location.as_str(), p.name),
                label: p.name.clone(),
                location: p.location.as_str(),
                required: p.required,
                value: sent_value.unwrap_or_else(|| p.example.clone()),
            }
        })
        .collect();
    let body = match (sent, &op.body) {
        (Some(call), Some(_)) => Some(call.body.clone().unwrap_or_default()),
        (None, Some(example)) => Some(example.text.clone()),
        (_, None) => None,
    };
    TryForm {
        action: action.to_owned(),
        id: format!(
            "try-{}",
            if anchor.is_empty() {
                "operation"
            } else {
                anchor
            }
        ),
        anchor: anchor.to_owned(),
        method: op.method.clone(),
        path: op.path.clone(),
        summary: op.summary.clone(),
        servers: server_choices(target, chosen),
        fields,
        extra_headers: extra
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        body,
        content_type: sent
            .and_then(|c| c.content_type.clone())
            .or_else(|| op.body.as_ref().map(|b| b.content_type.clone()))
            .unwrap_or_default(),
        credential: op.credential.as_ref().map(|c| c.describe()),
        csrf: csrf.to_owned(),
    }
}

/// A posted form as a call, the operation's anchor, and what was wrong with it.
fn parse_form(bytes: &[u8]) -> (TryCall, String, Option<TryError>) {
    let mut call = TryCall::default();
    let mut anchor = String::new();
    let mut problem = None;
    for (key, value) in url::form_urlencoded::parse(bytes) {
        let value = value.into_owned();
        match key.as_ref() {
            "method" => call.method = value,
            "path" => call.path = value,
            "server" => call.server = Some(value),
            "content_type" => call.content_type = Some(value),
            "body" => call.body = Some(value),
            "credential" => call.credential = Some(value),
            "anchor" => {
                anchor = value
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    .collect();
            }
            "headers" => {
                for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    match line.split_once(':') {
                        Some((name, v)) => {
                            call.headers
                                .insert(name.trim().to_owned(), v.trim().to_owned());
                        }
                        None => {
                            problem = Some(TryError::Invalid(format!(
                                "the header line `{line}` has no `:`; write `Name: value`"
                            )));
                        }
                    }
                }
            }
            other => {
                if let Some(name) = other.strip_prefix("path.") {
                    call.path_params.insert(name.to_owned(), value);
                } else if let Some(name) = other.strip_prefix("query.") {
                    call.query.insert(name.to_owned(), value);
                } else if let Some(name) = other.strip_prefix("header.") {
                    call.headers.insert(name.to_owned(), value);
                }
            }
        }
    }
    (call, anchor, problem)
}

#[derive(Template)]
#[template(path = "tryit.html")]
struct TryPage {
    chrome: Chrome,
    title: String,
    api_href: String,
    docs_href: String,
    anchor: String,
    call_method: String,
    call_path: String,
    answer: Option<TryAnswer>,
    error: Option<String>,
    form: Option<TryForm>,
    reset: Option<ResetForm>,
    /// The banner of a deprecated version.
    deprecation: Option<crate::deprecation::Notice>,
}

async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name, version)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    let (call, anchor, problem) = parse_form(&body);
    let target = match tryit::load_target(&state, &caller, &api, &version).await {
        Ok(target) => target,
        Err(TryError::NotFound(_)) => return not_found(&state),
        Err(error) => {
            return page(
                &state,
                &api,
                &version,
                &call,
                anchor,
                Err(error),
                None,
                None,
                None,
            );
        }
    };
    let result = match problem {
        Some(error) => Err(error),
        None => tryit::call_target(&state, &caller, &api, &target, &call).await,
    };
    let csrf = caller.csrf.clone().unwrap_or_default();
    let form = target.operation(&call.method, &call.path).map(|op| {
        form(
            &action(&api, &version),
            &csrf,
            &anchor,
            op,
            &target,
            Some(&call),
        )
    });
    let reset = sandbox::wanted(&target, &call)
        .then(|| ResetForm::new(&api, &target.version.version, &csrf));
    let deprecation = crate::deprecation::notice(&target.version);
    page(
        &state,
        &api,
        &version,
        &call,
        anchor,
        result,
        form,
        reset,
        deprecation,
    )
}

#[allow(clippy::too_many_arguments)]
fn page(
    state: &AppState,
    api: &EntityRef,
    version: &str,
    call: &TryCall,
    anchor: String,
    result: Result<TryAnswer, TryError>,
    form: Option<TryForm>,
    reset: Option<ResetForm>,
    deprecation: Option<crate::deprecation::Notice>,
) -> Response {
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(error) => error.status(),
    };
    let (answer, error) = match result {
        Ok(answer) => (Some(answer), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let deprecation_headers = answer.as_ref().map(TryAnswer::deprecation_headers);
    let page = TryPage {
        chrome: Chrome::new(
            state.branding(),
            format!("Try {} {}", call.method, call.path),
            "catalog",
        ),
        title: format!("{} {version}", api.name),
        api_href: entity_href(api),
        docs_href: format!(
            "/apis/{}/{}/versions/{}/docs",
            segment(&api.namespace.to_lowercase()),
            segment(&api.name),
            segment(version)
        ),
        anchor,
        call_method: call.method.to_ascii_uppercase(),
        call_path: call.path.clone(),
        answer,
        error,
        form,
        reset,
        deprecation,
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
        .headers_mut()
        .extend(deprecation_headers.unwrap_or_default());
    // The page holds what the developer sent and got back: never cache it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Template)]
#[template(path = "sandbox_reset.html")]
struct ResetPage {
    chrome: Chrome,
    title: String,
    api_href: String,
    docs_href: String,
    error: Option<String>,
}

/// `POST /apis/{namespace}/{name}/sandbox/reset`: forgets what the reader
/// created in the API's synthetic sandbox, and says so.
async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let api = EntityRef::new("api", namespace, name);
    let version = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "version")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty());
    let result = sandbox::reset(&state, &caller, &api).await;
    if let Err(TryError::NotFound(_)) = &result {
        return not_found(&state);
    }
    let base = format!(
        "/apis/{}/{}",
        segment(&api.namespace.to_lowercase()),
        segment(&api.name)
    );
    let docs_href = match &version {
        Some(v) => format!("{base}/versions/{}/docs", segment(v)),
        None => format!("{base}/docs"),
    };
    let status = match &result {
        Ok(()) => StatusCode::OK,
        Err(error) => error.status(),
    };
    let page = ResetPage {
        chrome: Chrome::new(state.branding(), "Sandbox reset".to_owned(), "catalog"),
        title: api.name.clone(),
        api_href: entity_href(&api),
        docs_href,
        error: result.err().map(|e| e.to_string()),
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_form_becomes_a_call_and_bad_header_lines_are_reported() {
        let body = "csrf=t&method=POST&path=%2Fpets%2F%7Bid%7D&server=sandbox&path.id=7\
                    &query.limit=5&header.X-Trace=abc&headers=X-One%3A+1%0D%0Aoops\
                    &body=%7B%7D&credential=k&anchor=pets-add%22%3E";
        let (call, anchor, problem) = parse_form(body.as_bytes());
        assert_eq!(
            (call.method.as_str(), call.path.as_str()),
            ("POST", "/pets/{id}")
        );
        assert_eq!(call.path_params["id"], "7");
        assert_eq!(call.query["limit"], "5");
        assert_eq!(call.headers["X-Trace"], "abc");
        assert_eq!(call.headers["X-One"], "1");
        assert_eq!(call.credential.as_deref(), Some("k"));
        assert_eq!(anchor, "pets-add", "only anchor characters are kept");
        assert!(problem.unwrap().to_string().contains("`oops` has no `:`"));
    }
}
