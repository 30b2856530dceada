//! The AWS API Gateway management API (REST APIs, v1) over `wasi:http`:
//! every request signed with SigV4 for service `apigateway`, AWS's error
//! answers turned into plugin errors that say what AWS said, and `item` lists
//! read to the end through `position`.

use portico_plugin_sdk::http::{Request, Response};
use portico_plugin_sdk::{PluginError, RateLimitInfo, secret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::sigv4::{self, Credentials};

/// The signing name of the management API.
const SERVICE: &str = "apigateway";
/// The largest page the list operations accept.
const MAX_LIMIT: &str = "500";
/// At most this many pages of one list, so a misbehaving endpoint cannot loop us.
const MAX_PAGES: usize = 200;

/// A signed client for one account and region.
pub(crate) struct Aws {
    /// `scheme://authority`.
    origin: String,
    /// The `Host` the request carries, as signed.
    authority: String,
    /// A path prefix of the endpoint (empty for AWS itself).
    base_path: String,
    region: String,
    credentials: Credentials,
}

/// One page of a list: AWS's wire field `item`, and where the next page starts.
#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    item: Vec<T>,
    #[serde(default)]
    position: Option<String>,
}

impl Aws {
    /// A client for `endpoint` in `region` with the instance's secrets.
    pub(crate) fn new(endpoint: &str, region: &str) -> Result<Aws, PluginError> {
        let invalid = || {
            PluginError::InvalidConfig(format!(
                "`endpoint` must be an http(s) URL such as https://apigateway.{region}.amazonaws.com, not `{endpoint}`"
            ))
        };
        let (scheme, rest) = endpoint.split_once("://").ok_or_else(invalid)?;
        if !matches!(scheme, "http" | "https") {
            return Err(invalid());
        }
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid());
        }
        let credentials = Credentials {
            access_key_id: secret::require("access_key_id")?.trim().to_owned(),
            secret_access_key: secret::require("secret_access_key")?.trim().to_owned(),
            session_token: secret::get("session_token")
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
        };
        Ok(Aws {
            origin: format!("{scheme}://{authority}"),
            authority: authority.to_owned(),
            base_path: path.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            credentials,
        })
    }

    /// The URL of `path` (for provenance and messages; no query).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin, self.base_path)
    }

    /// Sends a signed request and returns the answer, whatever its status;
    /// only a failure to get one is an error.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        accept: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, PluginError> {
        let body = match body {
            Some(value) => serde_json::to_vec(value)
                .map_err(|e| PluginError::Internal(format!("cannot encode a request: {e}")))?,
            None => Vec::new(),
        };
        let full_path = format!("{}{path}", self.base_path);
        let signed = sigv4::sign(
            &sigv4::Request {
                method,
                host: &self.authority,
                path: &full_path,
                query,
                headers: &[],
                body: &body,
            },
            &self.credentials,
            &self.region,
            SERVICE,
            &sigv4::amz_date(now()),
        );
        let mut url = format!("{}{full_path}", self.origin);
        if !signed.query.is_empty() {
            url.push('?');
            url.push_str(&signed.query);
        }
        let mut request = Request::new(method, url).header("accept", accept);
        if !body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        for (name, value) in signed.headers {
            request = request.header(name, value);
        }
        request.send()
    }

    /// Sends a signed request and parses a successful JSON answer; an error
    /// answer becomes the matching [`PluginError`].
    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, PluginError> {
        let response = self.send(method, path, query, "application/json", body)?;
        self.check(method, response)?.json()
    }

    /// Like [`Aws::call`] for answers whose body does not matter.
    pub(crate) fn call_ignoring_body(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(), PluginError> {
        let response = self.send(method, path, &[], "application/json", body)?;
        self.check(method, response).map(drop)
    }

    /// Every item of a list operation, following `position` to the end.
    pub(crate) fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, PluginError> {
        let mut items = Vec::new();
        let mut position: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params: Vec<(&str, &str)> = query.to_vec();
            params.push(("limit", MAX_LIMIT));
            if let Some(position) = &position {
                params.push(("position", position));
            }
            let page: Page<T> = self.call("GET", path, &params, None)?;
            items.extend(page.item);
            match page.position.filter(|p| !p.is_empty()) {
                Some(next) if position.as_ref() != Some(&next) => position = Some(next),
                _ => return Ok(items),
            }
        }
        Err(PluginError::Unreachable(format!(
            "{} kept answering with more pages after {MAX_PAGES}",
            self.url(path)
        )))
    }

    /// The response if its status is a success, else what AWS said, as an error.
    pub(crate) fn check(&self, method: &str, response: Response) -> Result<Response, PluginError> {
        if response.status < 400 {
            return Ok(response);
        }
        let said = AwsError::from_response(&response);
        let what = format!(
            "{method} {} answered {}{}",
            response.url.split('?').next().unwrap_or_default(),
            response.status,
            said
        );
        Err(match response.status {
            401 | 403 => PluginError::Unauthorized(format!(
                "AWS refused access key `{}`: {what}",
                self.credentials.access_key_id
            )),
            404 => PluginError::NotFound(what),
            409 => PluginError::Conflict(what),
            429 => PluginError::RateLimited(RateLimitInfo {
                retry_after_ms: response
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| s.saturating_mul(1000)),
                message: what,
            }),
            400..=499 => PluginError::Internal(format!("AWS rejected a request: {what}")),
            _ => PluginError::Unreachable(what),
        })
    }
}

/// What an AWS error answer says: the `x-amzn-ErrorType` (or `__type`,
/// or XML `Code`) and the message, cut short.
#[derive(Debug, Default, PartialEq)]
struct AwsError {
    kind: Option<String>,
    message: Option<String>,
}

impl AwsError {
    fn from_response(response: &Response) -> AwsError {
        #[derive(Deserialize)]
        struct Body {
            #[serde(alias = "Message")]
            message: Option<String>,
            #[serde(rename = "__type")]
            kind: Option<String>,
        }
        let text = String::from_utf8_lossy(&response.body);
        let mut said = AwsError {
            kind: response
                .header("x-amzn-errortype")
                .map(|t| t.split(':').next().unwrap_or(t).to_owned()),
            message: None,
        };
        if let Ok(body) = serde_json::from_str::<Body>(&text) {
            said.message = body.message;
            said.kind = said.kind.or(body.kind);
        } else if let Some(message) = xml_element(&text, "Message") {
            said.message = Some(message.to_owned());
            said.kind = said.kind.or(xml_element(&text, "Code").map(str::to_owned));
        } else if !text.trim().is_empty() {
            said.message = Some(text.trim().to_owned());
        }
        said
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(kind) = &self.kind {
            write!(f, " {kind}")?;
        }
        if let Some(message) = &self.message {
            let mut message: String = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(300)
                .collect();
            if message.len() < self.message.as_deref().map_or(0, str::len) {
                message.push('…');
            }
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

fn xml_element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(&text[start..end])
}

/// Seconds since the Unix epoch, from the WASI wall clock.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A path segment (an id, a stage name) encoded for a URL path.
pub(crate) fn segment(text: &str) -> String {
    sigv4::uri_encode(text, false)
}

/// `{"patchOperations": [...]}` for `PATCH` requests.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Patch {
    pub(crate) patch_operations: Vec<PatchOperation>,
}

/// One JSON-patch-like operation, as API Gateway takes them.
#[derive(Debug, Serialize)]
pub(crate) struct PatchOperation {
    pub(crate) op: &'static str,
    pub(crate) path: &'static str,
    pub(crate) value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            url: "http://127.0.0.1:1/restapis?limit=1".into(),
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn aws_errors_say_their_type_and_message() {
        let json = response(
            403,
            &[(
                "x-amzn-ErrorType",
                "UnrecognizedClientException:http://internal.amazon.com/coral/",
            )],
            r#"{"message":"The security token included in the request is invalid."}"#,
        );
        assert_eq!(
            AwsError::from_response(&json).to_string(),
            " UnrecognizedClientException: The security token included in the request is invalid."
        );
        let xml = response(
            403,
            &[],
            "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The request \
             signature we calculated does not match</Message></Error></ErrorResponse>",
        );
        assert_eq!(
            AwsError::from_response(&xml).to_string(),
            " SignatureDoesNotMatch: The request signature we calculated does not match"
        );
        let html = response(502, &[], "<html>bad gateway</html>");
        assert_eq!(
            AwsError::from_response(&html).to_string(),
            ": <html>bad gateway</html>"
        );
        let long = "x".repeat(400);
        assert!(
            AwsError::from_response(&response(500, &[], &long))
                .to_string()
                .ends_with('…')
        );
    }
}
