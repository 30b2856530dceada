//! API description documents: recognising, parsing and indexing them.
//!
//! OpenAPI 3.0/3.1 is kept as JSON and Swagger 2.0 is converted to OpenAPI 3.0, so later stages
//! (docs, diffs, `/openapi.json`) see one shape; AsyncAPI and GraphQL are kept as written. Each
//! document yields its info and an operation index for search; bad input names file, line, reason.

mod detect;
mod graphql;
mod index;
mod swagger2;
mod version;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub use detect::{SpecFormat, SpecHint};
pub use index::{Operation, Server, SpecInfo};
pub use version::{
    LifecycleError, VersionInfo, VersionLifecycle, compare_versions, lenient_semver, sort_versions,
};

use detect::{Loaded, classify};

/// Why a document could not be taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The bytes are not well-formed JSON, YAML or GraphQL (or not UTF-8 text at all).
    #[error("{}{reason}", location_prefix(file.as_deref(), *line, *column))]
    Syntax {
        /// The file name the caller gave, if any.
        file: Option<String>,
        /// 1-based line of the error, where the parser tells.
        line: Option<usize>,
        /// 1-based column of the error, where the parser tells.
        column: Option<usize>,
        /// What the parser said, without the position.
        reason: String,
    },
    /// Well-formed, but not a description this crate accepts (wrong shape, unsupported version).
    #[error("{}{reason}{}", location_prefix(file.as_deref(), None, None), pointer_suffix(pointer))]
    Invalid {
        /// The file name the caller gave, if any.
        file: Option<String>,
        /// JSON pointer to the offending value (`""` for the whole document).
        pointer: String,
        /// What is wrong.
        reason: String,
    },
}

impl SpecError {
    /// The file name the caller gave in its [`SpecHint`], if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            SpecError::Syntax { file, .. } | SpecError::Invalid { file, .. } => file.as_deref(),
        }
    }

    /// The 1-based line of the error, where known.
    pub fn line(&self) -> Option<usize> {
        match self {
            SpecError::Syntax { line, .. } => *line,
            SpecError::Invalid { .. } => None,
        }
    }
}

fn location_prefix(file: Option<&str>, line: Option<usize>, column: Option<usize>) -> String {
    match (file, line, column) {
        (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}: "),
        (Some(f), Some(l), None) => format!("{f}:{l}: "),
        (Some(f), None, _) => format!("{f}: "),
        (None, Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (None, Some(l), None) => format!("line {l}: "),
        (None, None, _) => String::new(),
    }
}

fn pointer_suffix(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" (at {pointer})")
    }
}

/// The SHA-256 of a document's bytes, as lowercase hex: the key it is stored under.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A parsed API description: its original text, its format and its content.
#[derive(Debug, Clone)]
pub struct ParsedSpec {
    format: SpecFormat,
    text: String,
    hash: String,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    /// OpenAPI normalised to 3.x, or AsyncAPI as written.
    Document(Value),
    /// GraphQL root fields, extracted while checking the syntax.
    GraphQl(Vec<Operation>),
    /// Something we keep but do not understand.
    Opaque,
}

impl ParsedSpec {
    /// Parses a document, recognising its format from the content and the hint.
    ///
    /// Text that is neither OpenAPI, AsyncAPI nor GraphQL but well-formed is accepted as
    /// [`SpecFormat::Other`]; text that does not parse is a [`SpecError::Syntax`] with a position.
    pub fn parse(bytes: &[u8], hint: &SpecHint) -> Result<ParsedSpec, SpecError> {
        let hash = content_hash(bytes);
        let text = decode(bytes, hint)?;
        let (format, body) = match detect::load(&text, hint)? {
            Loaded::Structured(value) => {
                let format = classify(&value).map_err(|reason| invalid(hint, "", reason))?;
                let body = match format {
                    SpecFormat::OpenApi2 => {
                        check_openapi(&value, hint)?;
                        Body::Document(swagger2::to_openapi30(value))
                    }
                    SpecFormat::OpenApi30 | SpecFormat::OpenApi31 => {
                        check_openapi(&value, hint)?;
                        Body::Document(value)
                    }
                    SpecFormat::AsyncApi => {
                        check_info(&value, hint)?;
                        Body::Document(value)
                    }
                    SpecFormat::GraphQl | SpecFormat::Other => Body::Opaque,
                };
                (format, body)
            }
            Loaded::GraphQl(operations) => (SpecFormat::GraphQl, Body::GraphQl(operations)),
            Loaded::Opaque => (SpecFormat::Other, Body::Opaque),
        };
        Ok(ParsedSpec {
            format,
            text,
            hash,
            body,
        })
    }

    /// What kind of description this is (for Swagger 2.0, the format it was written in).
    pub fn format(&self) -> SpecFormat {
        self.format
    }

    /// The document exactly as given (less a UTF-8 byte-order mark).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// [`content_hash`] of the bytes given to [`ParsedSpec::parse`].
    pub fn content_hash(&self) -> &str {
        &self.hash
    }

    /// The document as JSON: OpenAPI normalised to 3.x (Swagger 2.0 converted to 3.0),
    /// AsyncAPI as written; `None` for GraphQL and other formats, which are kept as text.
    pub fn document(&self) -> Option<&Value> {
        match &self.body {
            Body::Document(value) => Some(value),
            Body::GraphQl(_) | Body::Opaque => None,
        }
    }

    /// Title, version, description, servers, tags and security scheme names.
    pub fn info(&self) -> SpecInfo {
        match (&self.body, self.format) {
            (Body::Document(doc), SpecFormat::AsyncApi) => index::asyncapi_info(doc),
            (Body::Document(doc), _) => index::openapi_info(doc),
            (Body::GraphQl(_) | Body::Opaque, _) => SpecInfo::default(),
        }
    }

    /// The operation index: HTTP operations for OpenAPI, channel operations for AsyncAPI,
    /// root fields (`query`, `mutation`, `subscription`) for GraphQL; empty otherwise.
    pub fn operations(&self) -> Vec<Operation> {
        match (&self.body, self.format) {
            (Body::Document(doc), SpecFormat::AsyncApi) => index::asyncapi_operations(doc),
            (Body::Document(doc), _) => index::openapi_operations(doc),
            (Body::GraphQl(operations), _) => operations.clone(),
            (Body::Opaque, _) => Vec::new(),
        }
    }
}

/// UTF-8 text, less a byte-order mark; the position of the first bad byte otherwise.
fn decode(bytes: &[u8], hint: &SpecHint) -> Result<String, SpecError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let valid = std::str::from_utf8(valid).expect("checked prefix");
            let (line, column) = line_column(valid, valid.len());
            Err(syntax(
                hint,
                Some(line),
                Some(column),
                "not UTF-8 text".to_owned(),
            ))
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn syntax(
    hint: &SpecHint,
    line: Option<usize>,
    column: Option<usize>,
    reason: String,
) -> SpecError {
    SpecError::Syntax {
        file: hint.file_name.clone(),
        line,
        column,
        reason,
    }
}

fn invalid(hint: &SpecHint, pointer: &str, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        file: hint.file_name.clone(),
        pointer: pointer.to_owned(),
        reason: reason.into(),
    }
}

fn check_info(doc: &Value, hint: &SpecHint) -> Result<(), SpecError> {
    match doc.get("info") {
        Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(invalid(hint, "/info", "`info` is not an object")),
        None => Err(invalid(hint, "", "no `info` object")),
    }
}

/// The shape later stages rely on: `info` and `paths` are objects, path items and operations
/// are objects. Anything finer is the docs renderer's and the linter's business.
fn check_openapi(doc: &Value, hint: &SpecHint) -> Result<(), SpecError> {
    check_info(doc, hint)?;
    let paths = match doc.get("paths") {
        None => return Ok(()),
        Some(Value::Object(paths)) => paths,
        Some(_) => return Err(invalid(hint, "/paths", "`paths` is not an object")),
    };
    for (path, item) in paths {
        if path.starts_with("x-") {
            continue;
        }
        let pointer = format!("/paths/{}", escape_pointer(path));
        let Value::Object(item) = item else {
            return Err(invalid(hint, &pointer, "path item is not an object"));
        };
        for method in index::METHODS {
            if let Some(op) = item.get(method)
                && !op.is_object()
            {
                let reason = format!("`{method}` operation is not an object");
                return Err(invalid(hint, &format!("{pointer}/{method}"), reason));
            }
        }
    }
    Ok(())
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str, file: &str) -> Result<ParsedSpec, SpecError> {
        ParsedSpec::parse(text.as_bytes(), &SpecHint::from_file_name(file))
    }

    #[test]
    fn content_hash_is_sha256_hex() {
        assert_eq!(
            content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parsed_spec_keeps_text_and_hashes_the_original_bytes() {
        let bytes = b"\xEF\xBB\xBFopenapi: 3.0.3\ninfo: {title: T, version: '1'}\npaths: {}\n";
        let spec = ParsedSpec::parse(bytes, &SpecHint::default()).unwrap();
        assert_eq!(spec.format(), SpecFormat::OpenApi30);
        assert!(spec.text().starts_with("openapi: 3.0.3"));
        assert_eq!(spec.content_hash(), content_hash(bytes));
    }

    #[test]
    fn broken_yaml_reports_file_line_and_reason() {
        let text = "openapi: 3.0.0\ninfo:\n  title: x\n  version: [1\npaths: {}\n";
        let err = parse_str(text, "api.yaml").unwrap_err();
        assert_eq!(err.file(), Some("api.yaml"));
        assert_eq!(err.line(), Some(5));
        let message = err.to_string();
        assert!(message.starts_with("api.yaml:5:"), "{message}");
        assert!(
            !message.contains("at line 5"),
            "position said twice: {message}"
        );
    }

    #[test]
    fn broken_json_reports_line_and_column() {
        let err = parse_str("{\n  \"openapi\": \"3.1.0\",\n  \"info\": }\n", "a.json").unwrap_err();
        match err {
            SpecError::Syntax { line, column, .. } => {
                assert_eq!((line, column), (Some(3), Some(11)));
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn invalid_utf8_reports_the_line_of_the_bad_byte() {
        let bytes = b"openapi: 3.0.0\ninfo:\n  title: caf\xE9\n";
        let err = ParsedSpec::parse(bytes, &SpecHint::default()).unwrap_err();
        assert_eq!(err.line(), Some(3));
        assert!(err.to_string().contains("not UTF-8"));
    }

    #[test]
    fn openapi_without_info_is_invalid() {
        let err = parse_str("openapi: 3.0.0\npaths: {}\n", "a.yaml").unwrap_err();
        assert!(matches!(err, SpecError::Invalid { .. }), "{err:?}");
        assert_eq!(err.to_string(), "a.yaml: no `info` object");
    }

    #[test]
    fn operation_that_is_not_an_object_is_invalid_with_its_pointer() {
        let text = "openapi: 3.0.0\ninfo: {title: T, version: '1'}\npaths:\n  /a/b:\n    get: 3\n";
        let err = parse_str(text, "a.yaml").unwrap_err();
        let SpecError::Invalid { pointer, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(pointer, "/paths/~1a~1b/get");
    }

    #[test]
    fn unsupported_openapi_version_is_invalid() {
        let err = parse_str("openapi: 4.0.0\ninfo: {}\n", "a.yaml").unwrap_err();
        assert!(err.to_string().contains("4.0.0"), "{err}");
        let err = parse_str("{\"swaggerVersion\": \"1.2\"}", "a.json").unwrap_err();
        assert!(err.to_string().contains("Swagger 1"), "{err}");
    }

    #[test]
    fn well_formed_text_of_unknown_kind_is_kept_as_other() {
        let spec = parse_str("name: not an api\n", "notes.yaml").unwrap();
        assert_eq!(spec.format(), SpecFormat::Other);
        assert!(spec.document().is_none());
        assert!(spec.operations().is_empty());
        assert_eq!(spec.info(), SpecInfo::default());
    }

    #[test]
    fn line_column_counts_characters_not_bytes() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 0), (1, 1));
    }
}
