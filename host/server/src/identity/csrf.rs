//! The CSRF check of cookie-borne writes: the session's token must come back
//! in the `x-csrf-token` header or, from a form, in its `csrf` field (the
//! first field of a file upload, which is streamed on to the handler).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use subtle::ConstantTimeEq;

use super::sessions::CSRF_HEADER;
use crate::multipart;

/// The largest form read to find its CSRF field.
const MAX_FORM: usize = 1024 * 1024;

/// The most of an upload read to find its first field.
const MAX_UPLOAD_PREFIX: usize = 64 * 1024;

/// Checks the request's CSRF token against `expected`; gives the request
/// back with its body intact.
pub(super) async fn check_csrf(request: Request, expected: &str) -> (Request, bool) {
    let matches = |candidate: &[u8]| -> bool {
        !candidate.is_empty() && bool::from(candidate.ct_eq(expected.as_bytes()))
    };
    if let Some(token) = request.headers().get(CSRF_HEADER) {
        let ok = matches(token.as_bytes());
        return (request, ok);
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(boundary) = multipart::boundary(content_type) {
        return check_upload(request, &boundary, matches).await;
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return (request, false);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
        return (Request::from_parts(parts, Body::empty()), false);
    };
    let ok = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .is_some_and(|(_, v)| matches(v.as_bytes()));
    (Request::from_parts(parts, Body::from(bytes)), ok)
}

/// Reads a `multipart/form-data` body until its first field is complete and
/// checks that it is `csrf`; the body goes on with what was read put back.
async fn check_upload(
    request: Request,
    boundary: &str,
    matches: impl Fn(&[u8]) -> bool,
) -> (Request, bool) {
    let (parts, mut body) = request.into_parts();
    let mut prefix = Vec::new();
    let ok = loop {
        match multipart::first_part(&prefix, boundary) {
            Ok(Some(first)) => break first.name == "csrf" && matches(first.data),
            Ok(None) if prefix.len() < MAX_UPLOAD_PREFIX => {}
            Ok(None) | Err(_) => break false,
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    prefix.extend_from_slice(&data);
                }
            }
            Some(Err(_)) | None => break false,
        }
    };
    let read = futures_util::stream::once(async move { Ok::<_, axum::Error>(Bytes::from(prefix)) });
    let body = Body::from_stream(read.chain(body.into_data_stream()));
    (Request::from_parts(parts, body), ok)
}
