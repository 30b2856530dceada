//! Recognising what kind of API description a document is.
//!
//! The content decides (`openapi`, `swagger`, `asyncapi` keys; GraphQL SDL keywords). A file
//! name or media type only picks the parser to try first, and so whose errors are reported.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Operation, SpecError, graphql, line_column, syntax};

/// The kind of API description a document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecFormat {
    /// Swagger 2.0 (converted to OpenAPI 3.0 when parsed).
    OpenApi2,
    /// OpenAPI 3.0.x.
    OpenApi30,
    /// OpenAPI 3.1.x, or a later 3.x (a superset as far as indexing goes).
    OpenApi31,
    /// AsyncAPI 2.x or 3.x.
    AsyncApi,
    /// A GraphQL schema (SDL).
    GraphQl,
    /// Anything else: kept as a document, not indexed.
    Other,
}

impl SpecFormat {
    /// Recognises a document's format from its content, using the hint where the content does
    /// not parse. Parses the whole document: call [`super::ParsedSpec::parse`] to keep the result.
    pub fn detect(bytes: &[u8], hint: &SpecHint) -> SpecFormat {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let Ok(text) = std::str::from_utf8(bytes) else {
            return SpecFormat::Other;
        };
        match load(text, hint) {
            Ok(Loaded::Structured(value)) => classify(&value).unwrap_or(SpecFormat::Other),
            Ok(Loaded::GraphQl(_)) => SpecFormat::GraphQl,
            Ok(Loaded::Opaque) => SpecFormat::Other,
            Err(_) if hint.syntax() == Some(Syntax::GraphQl) => SpecFormat::GraphQl,
            Err(_) => SpecFormat::Other,
        }
    }

    /// The stable lowercase name (`openapi2`, `openapi30`, ...), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecFormat::OpenApi2 => "openapi2",
            SpecFormat::OpenApi30 => "openapi30",
            SpecFormat::OpenApi31 => "openapi31",
            SpecFormat::AsyncApi => "asyncapi",
            SpecFormat::GraphQl => "graphql",
            SpecFormat::Other => "other",
        }
    }

    /// Whether this is some version of OpenAPI (Swagger 2.0 included).
    pub fn is_openapi(self) -> bool {
        matches!(
            self,
            SpecFormat::OpenApi2 | SpecFormat::OpenApi30 | SpecFormat::OpenApi31
        )
    }
}

impl std::fmt::Display for SpecFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller knows about a document besides its bytes. All of it is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecHint {
    /// The file name or path it came from; named in errors, and its extension is a hint.
    pub file_name: Option<String>,
    /// The media type it was served or uploaded with (`application/yaml`, ...).
    pub media_type: Option<String>,
}

impl SpecHint {
    /// A hint that names the file a document came from.
    pub fn from_file_name(name: impl Into<String>) -> SpecHint {
        SpecHint {
            file_name: Some(name.into()),
            media_type: None,
        }
    }

    /// A hint that gives the media type a document came with.
    pub fn from_media_type(media_type: impl Into<String>) -> SpecHint {
        SpecHint {
            file_name: None,
            media_type: Some(media_type.into()),
        }
    }

    /// The syntax the hint suggests; the media type wins over the extension.
    fn syntax(&self) -> Option<Syntax> {
        let from_media_type = self.media_type.as_deref().and_then(|mt| {
            let mt = mt
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if mt.contains("graphql") {
                Some(Syntax::GraphQl)
            } else if mt.ends_with("json") {
                Some(Syntax::Json)
            } else if mt.contains("yaml") {
                Some(Syntax::Yaml)
            } else {
                None
            }
        });
        from_media_type.or_else(|| {
            let name = self.file_name.as_deref()?;
            let (_, ext) = name.rsplit_once('.')?;
            match ext.to_ascii_lowercase().as_str() {
                "json" => Some(Syntax::Json),
                "yaml" | "yml" => Some(Syntax::Yaml),
                "graphql" | "graphqls" | "gql" | "sdl" => Some(Syntax::GraphQl),
                _ => None,
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Json,
    Yaml,
    GraphQl,
    /// Markup and the like: kept, not parsed.
    Opaque,
}

/// A document after the syntax pass, before its format is decided.
pub(super) enum Loaded {
    Structured(Value),
    GraphQl(Vec<Operation>),
    Opaque,
}

/// Parses the text with the hinted syntax first, then the one the content suggests; if neither
/// works, the first attempt's error is the one reported.
pub(super) fn load(text: &str, hint: &SpecHint) -> Result<Loaded, SpecError> {
    let sniffed = sniff(text);
    let first = hint.syntax().unwrap_or(sniffed);
    let first_error = match load_as(first, text, hint) {
        Ok(loaded) => return Ok(loaded),
        Err(e) => e,
    };
    if sniffed != first
        && let Ok(loaded) = load_as(sniffed, text, hint)
    {
        return Ok(loaded);
    }
    Err(first_error)
}

fn load_as(syntax: Syntax, text: &str, hint: &SpecHint) -> Result<Loaded, SpecError> {
    match syntax {
        Syntax::Json => match serde_json::from_str(text) {
            Ok(value) => Ok(Loaded::Structured(value)),
            Err(e) => {
                let (line, column) = (e.line(), e.column());
                let reason = strip_position(&e.to_string(), line, column);
                Err(syntax_at(hint, line, column, reason))
            }
        },
        Syntax::Yaml => match serde_yaml_ng::from_str(text) {
            Ok(value) => Ok(Loaded::Structured(value)),
            Err(e) => {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                let reason = strip_position(&e.to_string(), line, column);
                Err(syntax_at(hint, line, column, reason))
            }
        },
        Syntax::GraphQl => match graphql::operations(text) {
            Ok(operations) => Ok(Loaded::GraphQl(operations)),
            Err((reason, offset)) => {
                let (line, column) = line_column(text, offset);
                Err(syntax_at(hint, line, column, reason))
            }
        },
        Syntax::Opaque => Ok(Loaded::Opaque),
    }
}

/// A position of 0 means the parser did not say.
fn syntax_at(hint: &SpecHint, line: usize, column: usize, reason: String) -> SpecError {
    let known = |n: usize| (n > 0).then_some(n);
    syntax(hint, known(line), known(column), reason)
}

/// Parsers append " at line L column C"; the position travels in its own fields.
fn strip_position(message: &str, line: usize, column: usize) -> String {
    message.replacen(&format!(" at line {line} column {column}"), "", 1)
}

/// The syntax the content looks like, from its first significant characters.
fn sniff(text: &str) -> Syntax {
    let start = text.trim_start();
    match start.chars().next() {
        Some('{' | '[') => Syntax::Json,
        Some('<') => Syntax::Opaque,
        _ if looks_like_graphql(start) => Syntax::GraphQl,
        _ => Syntax::Yaml,
    }
}

/// GraphQL SDL starts (after comments and a description) with a definition keyword followed
/// by a name, `{` or `@`; a YAML key such as `type:` never does.
fn looks_like_graphql(text: &str) -> bool {
    const KEYWORDS: [&str; 12] = [
        "schema",
        "type",
        "interface",
        "union",
        "enum",
        "input",
        "scalar",
        "directive",
        "extend",
        "query",
        "mutation",
        "subscription",
    ];
    let mut rest = text.trim_start();
    loop {
        if rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("\"\"\"") {
            rest = after
                .split_once("\"\"\"")
                .map_or("", |(_, r)| r)
                .trim_start();
        } else if rest.starts_with('"') {
            rest = rest[1..]
                .split_once('"')
                .map_or("", |(_, r)| r)
                .trim_start();
        } else {
            break;
        }
    }
    let word_end = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    let (word, after) = rest.split_at(word_end);
    if !KEYWORDS.contains(&word) || !after.starts_with(char::is_whitespace) {
        return false;
    }
    let after = after.trim_start();
    after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '{' || c == '@')
}

/// The format of a JSON/YAML document, from its version key; an error for versions we know
/// and do not take.
pub(super) fn classify(doc: &Value) -> Result<SpecFormat, String> {
    let Value::Object(root) = doc else {
        return Ok(SpecFormat::Other);
    };
    let version = |key: &str| {
        root.get(key).map(|v| match v {
            Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        })
    };
    if let Some(v) = version("openapi") {
        return if v.starts_with("3.0") {
            Ok(SpecFormat::OpenApi30)
        } else if v.starts_with("3.") {
            Ok(SpecFormat::OpenApi31)
        } else {
            Err(format!("unsupported OpenAPI version {v:?}"))
        };
    }
    if let Some(v) = version("swagger") {
        return if v == "2.0" || v == "2" {
            Ok(SpecFormat::OpenApi2)
        } else {
            Err(format!("unsupported Swagger version {v:?}"))
        };
    }
    if root.contains_key("swaggerVersion") {
        return Err("Swagger 1.x is not supported; convert it to OpenAPI 3 first".to_owned());
    }
    if root.contains_key("asyncapi") {
        return Ok(SpecFormat::AsyncApi);
    }
    Ok(SpecFormat::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(text: &str, hint: SpecHint) -> SpecFormat {
        SpecFormat::detect(text.as_bytes(), &hint)
    }

    #[test]
    fn openapi_and_swagger_versions_are_recognised_in_json_and_yaml() {
        let none = SpecHint::default;
        assert_eq!(detect("swagger: '2.0'\n", none()), SpecFormat::OpenApi2);
        assert_eq!(detect("swagger: 2.0\n", none()), SpecFormat::OpenApi2);
        assert_eq!(
            detect(r#"{"swagger": "2.0"}"#, none()),
            SpecFormat::OpenApi2
        );
        assert_eq!(detect("openapi: 3.0.3\n", none()), SpecFormat::OpenApi30);
        assert_eq!(
            detect(r#"{"openapi":"3.0.0"}"#, none()),
            SpecFormat::OpenApi30
        );
        assert_eq!(
            detect("openapi: \"3.1.0\"\n", none()),
            SpecFormat::OpenApi31
        );
        assert_eq!(detect("openapi: 3.2.0\n", none()), SpecFormat::OpenApi31);
    }

    #[test]
    fn asyncapi_documents_are_recognised() {
        let hint = SpecHint::from_media_type("application/vnd.aai.asyncapi+yaml");
        assert_eq!(detect("asyncapi: 2.6.0\n", hint), SpecFormat::AsyncApi);
        let json = r#"{"asyncapi": "3.0.0", "info": {}}"#;
        assert_eq!(detect(json, SpecHint::default()), SpecFormat::AsyncApi);
    }

    #[test]
    fn graphql_sdl_is_recognised_without_a_hint() {
        let sdl = "# The schema\n\"\"\"Root\"\"\"\ntype Query {\n  me: User\n}\n";
        assert_eq!(detect(sdl, SpecHint::default()), SpecFormat::GraphQl);
        assert_eq!(
            detect("schema { query: Q }\n", SpecHint::default()),
            SpecFormat::GraphQl
        );
        assert_eq!(
            detect("directive @key on OBJECT\n", SpecHint::default()),
            SpecFormat::GraphQl
        );
    }

    #[test]
    fn yaml_key_named_like_a_graphql_keyword_is_not_graphql() {
        assert!(!looks_like_graphql("type: object\n"));
        assert!(!looks_like_graphql("schema:\n  a: 1\n"));
        assert!(looks_like_graphql("extend type Query {\n a: Int }"));
    }

    #[test]
    fn graphql_hint_reports_graphql_errors() {
        let hint = SpecHint::from_file_name("schema.graphql");
        assert_eq!(detect("type Query {", hint.clone()), SpecFormat::GraphQl);
        let Err(e) = load("type Query {\n  a: \n}", &hint) else {
            panic!("broken SDL parsed")
        };
        assert_eq!(e.line(), Some(3), "{e}");
    }

    #[test]
    fn misnamed_file_is_parsed_by_its_content() {
        let hint = SpecHint::from_file_name("api.json");
        assert_eq!(detect("openapi: 3.0.1\n", hint), SpecFormat::OpenApi30);
    }

    #[test]
    fn hint_picks_whose_error_is_reported() {
        let text = "{\"openapi\": \"3.0.0\",\n";
        let Err(e) = load(
            text,
            &SpecHint::from_media_type("application/json; charset=utf-8"),
        ) else {
            panic!("broken JSON parsed")
        };
        assert!(e.to_string().contains("EOF"), "{e}");
    }

    #[test]
    fn unknown_or_unparseable_content_is_other() {
        assert_eq!(
            detect("<definitions/>", SpecHint::default()),
            SpecFormat::Other
        );
        assert_eq!(
            detect("{\"name\": \"x\"}", SpecHint::default()),
            SpecFormat::Other
        );
        assert_eq!(detect("a: [", SpecHint::default()), SpecFormat::Other);
        assert_eq!(
            SpecFormat::detect(b"\xff\xfe", &SpecHint::default()),
            SpecFormat::Other
        );
    }

    #[test]
    fn format_names_round_trip_through_serde() {
        for format in [
            SpecFormat::OpenApi2,
            SpecFormat::OpenApi30,
            SpecFormat::OpenApi31,
            SpecFormat::AsyncApi,
            SpecFormat::GraphQl,
            SpecFormat::Other,
        ] {
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{format}\""));
            assert_eq!(serde_json::from_str::<SpecFormat>(&json).unwrap(), format);
        }
    }
}
