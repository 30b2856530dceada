//! Query strings as the API reads them: an extractor whose rejection is
//! problem+json like every other error, and counts (`limit`, `offset`) that
//! accept any non-negative integer, as `/openapi.json` documents them, and
//! saturate rather than fail when a number is too large to matter.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;

use crate::problem::ApiError;

/// The largest count a handler sees: SQLite's `LIMIT` and `OFFSET` are `i64`.
pub const MAX_COUNT: usize = i64::MAX as usize;

/// A query string deserialised into `T`; a malformed one (a word where a
/// number belongs, `dryRun=maybe`) is a problem+json 400, not axum's text.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Parses a count: ASCII digits only (no sign, no spaces), capped at
/// [`MAX_COUNT`] however many digits there are; `None` if it is not one.
pub fn parse_count(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.parse::<usize>()
            .map_or(MAX_COUNT, |n| n.min(MAX_COUNT)),
    )
}

/// `#[serde(deserialize_with = "crate::query::count")]` for an `Option<usize>`
/// query field read with [`parse_count`].
pub fn count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_count(&text)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a non-negative integer")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt;

    #[derive(Deserialize)]
    struct Page {
        #[serde(default, deserialize_with = "count")]
        limit: Option<usize>,
        #[serde(default)]
        flag: bool,
    }

    async fn page(QueryParams(page): QueryParams<Page>) -> String {
        format!("{:?} {}", page.limit, page.flag)
    }

    async fn call(uri: &str) -> (StatusCode, String, String) {
        let app = Router::new().route("/", get(page));
        let response = app
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let kind = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, kind, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn malformed_query_string_is_a_problem_json_400() {
        for uri in ["/?limit=-1", "/?limit=ten", "/?flag=maybe", "/?limit=+5"] {
            let (status, kind, body) = call(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(kind, "application/problem+json", "{uri}");
            let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(problem["status"], 400, "{uri}");
            assert!(
                problem["detail"].as_str().unwrap().contains("query string"),
                "{uri}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn well_formed_query_string_reaches_the_handler() {
        let (status, _, body) = call("/?limit=7&flag=true").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "Some(7) true");
        let (_, _, body) = call("/").await;
        assert_eq!(body, "None false");
    }

    #[tokio::test]
    async fn huge_count_saturates_instead_of_failing() {
        let (status, _, body) = call("/?limit=503670737261086179328").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("Some({MAX_COUNT}) false"));
    }

    #[test]
    fn counts_are_plain_digits() {
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count("42"), Some(42));
        assert_eq!(parse_count("99999999999999999999999"), Some(MAX_COUNT));
        for bad in ["", "-1", "+1", " 1", "1.5", "1e3", "x"] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
    }
}
