//! Portico's synthetic sandbox, for APIs without a sandbox server: each
//! try-it call is checked against the version's OpenAPI 3.0 or 3.1 document
//! (security first, then every parameter and the body, all violations in one
//! 400), then answered from the developer's own state or with the spec's
//! examples and schema-valid synthetic data. See README.md for the rules.

mod answer;
mod generate;
mod request;
mod spec;
mod state;
mod validate;

use portico_plugin_sdk::sandbox::{Sandbox, SandboxRequest, SandboxResponse};
use portico_plugin_sdk::{PluginError, export_sandbox};
use serde_json::{Value, json};

use crate::spec::{NoMatch, Spec};
use crate::validate::Violation;

/// The largest request body the sandbox reads.
const MAX_BODY: usize = 256 * 1024;

/// The longest path or query the sandbox reads.
const MAX_TARGET: usize = 8 * 1024;

struct Synthetic;

impl Sandbox for Synthetic {
    fn handle(request: SandboxRequest) -> Result<SandboxResponse, PluginError> {
        if request.body.len() > MAX_BODY {
            return Ok(problem(
                413,
                "Content Too Large",
                &format!("the sandbox reads bodies of at most {MAX_BODY} bytes"),
                None,
                &[],
            ));
        }
        let target = request.path.len()
            + request
                .query
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        if target > MAX_TARGET || !request.path.starts_with('/') {
            return Ok(problem(
                400,
                "Bad Request",
                "the path must start with `/` and, with the query, be at most 8 KiB",
                None,
                &[],
            ));
        }
        let spec = Spec::parse(&request.spec)?;
        let matched = match spec.find(&request.method, &request.path) {
            Ok(matched) => matched,
            Err(NoMatch::Path) => {
                return Ok(problem(
                    404,
                    "Not Found",
                    &format!("the API's spec has no path matching {}", request.path),
                    None,
                    &[],
                ));
            }
            Err(NoMatch::Method(allowed)) => {
                let allow = allowed.join(", ");
                return Ok(problem(
                    405,
                    "Method Not Allowed",
                    &format!(
                        "{} is not an operation of {}; it takes {allow}",
                        request.method.to_ascii_uppercase(),
                        request.path
                    ),
                    None,
                    &[("allow", &allow)],
                ));
            }
        };
        let schemes = spec.security(matched.operation);
        if !schemes.is_empty() && !request.authenticated {
            let challenge = spec.challenge(schemes[0]);
            return Ok(problem(
                401,
                "Unauthorized",
                &format!(
                    "this operation needs a credential ({}); the sandbox accepts any, so put one in the credential field",
                    schemes.join(" or ")
                ),
                None,
                &[("www-authenticate", &challenge)],
            ));
        }
        let checked = request::check(&spec, &matched, &request);
        if !checked.violations.is_empty() {
            let count = checked.violations.len();
            return Ok(problem(
                400,
                "Bad Request",
                &format!(
                    "the request does not match the API's spec: {count} violation{}",
                    if count == 1 { "" } else { "s" }
                ),
                Some(&checked.violations),
                &[],
            ));
        }
        answer::respond(&spec, &matched, &request, checked.body)
    }

    fn reset(api: String, developer_id: String) -> Result<(), PluginError> {
        state::reset(&api, &developer_id)
    }
}

export_sandbox!(Synthetic);

/// The headers every answer carries.
pub(crate) fn base_headers(content_type: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_owned(), content_type.to_owned()),
        ("x-portico-sandbox".to_owned(), "synthetic".to_owned()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    headers
}

/// An answer without a body.
pub(crate) fn empty(status: u16) -> SandboxResponse {
    SandboxResponse {
        status,
        headers: vec![("x-portico-sandbox".to_owned(), "synthetic".to_owned())],
        body: Vec::new(),
    }
}

/// A JSON answer.
pub(crate) fn json_response(status: u16, body: &Value, extra: &[(&str, &str)]) -> SandboxResponse {
    SandboxResponse {
        status,
        headers: base_headers("application/json", extra),
        body: serde_json::to_vec_pretty(body).unwrap_or_default(),
    }
}

/// An RFC 9457 problem, with the violations as `errors` when there are any.
pub(crate) fn problem(
    status: u16,
    title: &str,
    detail: &str,
    errors: Option<&[Violation]>,
    extra: &[(&str, &str)],
) -> SandboxResponse {
    let slug = title.to_ascii_lowercase().replace(' ', "-");
    let mut body = json!({
        "type": format!("https://portico.dev/problems/sandbox-{slug}"),
        "title": title,
        "status": status,
        "detail": detail,
    });
    if let Some(errors) = errors {
        body["errors"] = errors
            .iter()
            .map(|v| json!({"location": v.location, "message": v.message}))
            .collect();
    }
    SandboxResponse {
        status,
        headers: base_headers("application/problem+json", extra),
        body: serde_json::to_vec_pretty(&body).unwrap_or_default(),
    }
}
