//! What the docs say about each operation and security scheme, gathered once
//! from the document so that the HTML and markdown writers show the same
//! content: parameters, request body, responses with their schema trees and
//! examples, the security that applies, and the code samples.

use serde_json::{Map, Value};

use crate::samples::{Language, Request, json_within, media_example};
use crate::schema::{Builder, Node, Usage};
use crate::spec::{Operation, Spec};

/// The largest example shown, in bytes of pretty JSON; longer ones are cut.
const MAX_EXAMPLE_BYTES: usize = 4096;

/// How much of the schemas an operation's docs expand in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expansion {
    /// Nodes per operation.
    pub(crate) budget: usize,
    /// `$ref`s deep.
    pub(crate) ref_depth: usize,
}

/// One operation as the docs show it.
pub(crate) struct OperationDoc<'s, 'a> {
    /// The operation.
    pub(crate) operation: &'s Operation<'a>,
    /// Alternatives, each a set of schemes with scopes; empty: none declared.
    pub(crate) security: Vec<Vec<(&'a str, Vec<&'a str>)>>,
    /// Parameters.
    pub(crate) parameters: Vec<ParameterDoc<'a>>,
    /// The request body.
    pub(crate) body: Option<BodyDoc<'a>>,
    /// Responses by status, as written.
    pub(crate) responses: Vec<ResponseDoc<'a>>,
    /// Code samples.
    pub(crate) samples: Vec<(Language, String)>,
}

/// A parameter or response header.
pub(crate) struct ParameterDoc<'a> {
    /// Its name.
    pub(crate) name: &'a str,
    /// `path`, `query`, `header`, `cookie` (empty for headers).
    pub(crate) location: &'a str,
    /// Whether it must be sent.
    pub(crate) required: bool,
    /// Whether it is deprecated.
    pub(crate) deprecated: bool,
    /// CommonMark.
    pub(crate) description: Option<&'a str>,
    /// Its schema.
    pub(crate) schema: Node<'a>,
}

/// A request body.
pub(crate) struct BodyDoc<'a> {
    /// CommonMark.
    pub(crate) description: Option<&'a str>,
    /// Whether it must be sent.
    pub(crate) required: bool,
    /// Its media types; only the first carries a schema tree.
    pub(crate) media: Vec<MediaDoc<'a>>,
}

/// A response.
pub(crate) struct ResponseDoc<'a> {
    /// `200`, `4XX`, `default`.
    pub(crate) status: &'a str,
    /// CommonMark.
    pub(crate) description: Option<&'a str>,
    /// Response headers.
    pub(crate) headers: Vec<ParameterDoc<'a>>,
    /// Its media types; only the first carries a schema tree.
    pub(crate) media: Vec<MediaDoc<'a>>,
}

/// One media type of a body.
pub(crate) struct MediaDoc<'a> {
    /// `application/json`...
    pub(crate) media_type: &'a str,
    /// The schema tree (first media type only).
    pub(crate) schema: Option<Node<'a>>,
    /// The example as pretty JSON (or text), cut at [`MAX_EXAMPLE_BYTES`].
    pub(crate) example: Option<String>,
}

impl<'s, 'a> OperationDoc<'s, 'a> {
    /// Gathers what the docs show about one operation.
    pub(crate) fn new(
        spec: &'s Spec<'a>,
        operation: &'s Operation<'a>,
        expansion: Expansion,
        languages: &[Language],
        base_url: &str,
    ) -> Self {
        let mut builder = Builder::new(spec, Usage::Request, expansion.budget, expansion.ref_depth);
        let parameters = operation
            .parameters
            .iter()
            .filter_map(|p| parameter(&mut builder, p, p.get("in").and_then(Value::as_str)?))
            .collect();
        let body = operation
            .object
            .get("requestBody")
            .and_then(|b| spec.resolve_object(b))
            .map(|body| BodyDoc {
                description: text(body, "description"),
                required: body.get("required") == Some(&Value::Bool(true)),
                media: media(spec, &mut builder, body),
            });
        builder.set_usage(Usage::Response);
        let responses = operation
            .object
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(status, _)| !status.starts_with("x-"))
            .filter_map(|(status, response)| {
                let response = spec.resolve_object(response)?;
                let headers = response
                    .get("headers")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter_map(|(name, header)| {
                        let header = spec.resolve_object(header)?;
                        let mut doc = parameter(&mut builder, header, "")?;
                        doc.name = name;
                        Some(doc)
                    })
                    .collect();
                Some(ResponseDoc {
                    status,
                    description: text(response, "description"),
                    headers,
                    media: media(spec, &mut builder, response),
                })
            })
            .collect();
        // The API calls a webhook; the reader has nothing to send.
        let request = (!languages.is_empty() && !operation.webhook)
            .then(|| Request::new(spec, operation, base_url));
        let samples = request
            .map(|r| languages.iter().map(|l| (*l, r.sample(*l))).collect())
            .unwrap_or_default();
        OperationDoc {
            operation,
            security: spec.security(operation),
            parameters,
            body,
            responses,
            samples,
        }
    }
}

fn text<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn parameter<'a>(
    builder: &mut Builder<'_, 'a>,
    object: &'a Map<String, Value>,
    location: &'a str,
) -> Option<ParameterDoc<'a>> {
    static ANY: Value = Value::Null;
    let schema = object
        .get("schema")
        .or_else(|| {
            // `content` instead of `schema`: the first media type's schema.
            object
                .get("content")?
                .as_object()?
                .values()
                .next()?
                .get("schema")
        })
        .unwrap_or(&ANY);
    Some(ParameterDoc {
        name: object.get("name").and_then(Value::as_str).unwrap_or(""),
        location,
        required: object.get("required") == Some(&Value::Bool(true)) || location == "path",
        deprecated: object.get("deprecated") == Some(&Value::Bool(true)),
        description: text(object, "description"),
        schema: builder.root(schema),
    })
}

fn media<'a>(
    spec: &Spec<'a>,
    builder: &mut Builder<'_, 'a>,
    owner: &'a Map<String, Value>,
) -> Vec<MediaDoc<'a>> {
    let Some(content) = owner.get("content").and_then(Value::as_object) else {
        return Vec::new();
    };
    content
        .iter()
        .enumerate()
        .map(|(i, (media_type, media))| {
            let media = media.as_object();
            let first = i == 0;
            MediaDoc {
                media_type,
                schema: media
                    .filter(|_| first)
                    .and_then(|m| m.get("schema"))
                    .map(|s| builder.root(s)),
                example: media
                    .filter(|_| first)
                    .and_then(|m| media_example(spec, m))
                    .map(pretty_example),
            }
        })
        .collect()
}

/// An example as pretty JSON (a string as itself), cut at [`MAX_EXAMPLE_BYTES`].
fn pretty_example(example: &Value) -> String {
    let cut = |mut text: String| {
        text.push_str("\n… (cut short: the full example is in the spec document)");
        text
    };
    match example {
        Value::String(s) if s.len() > MAX_EXAMPLE_BYTES => {
            let mut end = MAX_EXAMPLE_BYTES;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            cut(s[..end].to_owned())
        }
        Value::String(s) => s.clone(),
        other => json_within(other, MAX_EXAMPLE_BYTES, true).unwrap_or_else(cut),
    }
}

/// A security scheme as the Authentication section shows it.
pub(crate) struct SchemeDoc<'a> {
    /// Its name in `components.securitySchemes`.
    pub(crate) name: &'a str,
    /// Its section's anchor.
    pub(crate) anchor: String,
    /// What it is, in words: `API key in header X-Key`, `HTTP bearer (JWT)`...
    pub(crate) kind: String,
    /// CommonMark.
    pub(crate) description: Option<&'a str>,
    /// OAuth 2.0 flows: name, authorization URL, token URL and scopes.
    pub(crate) flows: Vec<FlowDoc<'a>>,
}

/// One OAuth 2.0 flow.
pub(crate) struct FlowDoc<'a> {
    /// `authorizationCode`, `clientCredentials`...
    pub(crate) name: &'a str,
    /// URLs: authorization, token, refresh (when given).
    pub(crate) urls: Vec<(&'static str, &'a str)>,
    /// Scopes with what they allow.
    pub(crate) scopes: Vec<(&'a str, &'a str)>,
}

/// The document's security schemes.
pub(crate) fn schemes<'a>(spec: &Spec<'a>) -> Vec<SchemeDoc<'a>> {
    spec.component("securitySchemes")
        .into_iter()
        .flatten()
        .filter_map(|(name, scheme)| {
            let scheme = spec.resolve_object(scheme)?;
            let field = |key: &str| scheme.get(key).and_then(Value::as_str).unwrap_or("");
            let kind = match field("type") {
                "apiKey" => format!("API key in {} `{}`", field("in"), field("name")),
                "http" if field("bearerFormat").is_empty() => format!("HTTP {}", field("scheme")),
                "http" => format!("HTTP {} ({})", field("scheme"), field("bearerFormat")),
                "oauth2" => "OAuth 2.0".to_owned(),
                "openIdConnect" => {
                    format!("OpenID Connect, discovery at {}", field("openIdConnectUrl"))
                }
                "mutualTLS" => "Mutual TLS".to_owned(),
                other => other.to_owned(),
            };
            let flows = scheme
                .get("flows")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(flow_name, flow)| FlowDoc {
                    name: flow_name,
                    urls: [
                        ("Authorization URL", "authorizationUrl"),
                        ("Token URL", "tokenUrl"),
                        ("Refresh URL", "refreshUrl"),
                    ]
                    .into_iter()
                    .filter_map(|(label, key)| Some((label, flow.get(key)?.as_str()?)))
                    .collect(),
                    scopes: flow
                        .get("scopes")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .map(|(scope, what)| (scope.as_str(), what.as_str().unwrap_or("")))
                        .collect(),
                })
                .collect();
            Some(SchemeDoc {
                name,
                anchor: format!("auth-scheme-{}", crate::text::slug(name)),
                kind,
                description: text(scheme, "description"),
                flows,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_operation_gathers_parameters_body_responses_and_samples() {
        let doc = json!({
            "openapi": "3.1.0",
            "paths": {"/pets": {"post": {
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}},
                                          "example": {"name": "Rex"}},
                    "application/xml": {"schema": {"type": "object"}}
                }},
                "responses": {
                    "201": {"$ref": "#/components/responses/Created"},
                    "x-internal": {}
                }
            }}},
            "components": {"responses": {"Created": {
                "description": "Made",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                "content": {"application/json": {"examples": {"one": {"$ref": "#/components/examples/Pet"}}}}
            }}, "examples": {"Pet": {"value": {"id": 1}}}}
        });
        let spec = Spec::new(doc.as_object().unwrap());
        let expansion = Expansion {
            budget: 100,
            ref_depth: 2,
        };
        let op = OperationDoc::new(
            &spec,
            &spec.operations[0],
            expansion,
            &Language::ALL,
            "https://x",
        );
        assert_eq!(op.parameters[0].name, "limit");
        assert_eq!(op.parameters[0].schema.label, "integer");
        let body = op.body.as_ref().unwrap();
        assert!(body.required);
        assert_eq!(body.media.len(), 2);
        assert_eq!(
            body.media[0].example.as_deref(),
            Some("{\n  \"name\": \"Rex\"\n}")
        );
        assert!(body.media[1].schema.is_none(), "one tree per body");
        assert_eq!(op.responses.len(), 1);
        let created = &op.responses[0];
        assert_eq!((created.status, created.description), ("201", Some("Made")));
        assert_eq!(created.headers[0].name, "Location");
        assert_eq!(created.headers[0].schema.label, "string (uri)");
        assert_eq!(
            created.media[0].example.as_deref(),
            Some("{\n  \"id\": 1\n}")
        );
        assert_eq!(op.samples.len(), 4);
    }

    #[test]
    fn long_examples_are_cut_on_a_character_boundary() {
        let text = pretty_example(&Value::from("é".repeat(5000)));
        assert!(text.len() < MAX_EXAMPLE_BYTES + 100);
        let array = Value::from(vec!["é"; 5000]);
        let text = pretty_example(&array);
        assert!(text.len() < MAX_EXAMPLE_BYTES + 100);
        assert!(text.ends_with("spec document)"));
    }

    #[test]
    fn schemes_are_described_in_words() {
        let doc = json!({"openapi": "3.0.0", "components": {"securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
            "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "oauth": {"type": "oauth2", "flows": {"clientCredentials": {
                "tokenUrl": "https://auth.example/token", "scopes": {"read": "Read things"}}}}
        }}});
        let spec = Spec::new(doc.as_object().unwrap());
        let schemes = schemes(&spec);
        assert_eq!(schemes[0].kind, "API key in header `X-Key`");
        assert_eq!(schemes[1].kind, "HTTP bearer (JWT)");
        assert_eq!(
            schemes[2].flows[0].urls,
            [("Token URL", "https://auth.example/token")]
        );
        assert_eq!(schemes[2].flows[0].scopes, [("read", "Read things")]);
        assert_eq!(schemes[1].anchor, "auth-scheme-jwt");
    }
}
