//! Breaking-change detection between two versions of an OpenAPI document.
//!
//! Compares paths, operations, parameters, bodies, responses, schemas and security of two
//! OpenAPI 3.0/3.1 (or Swagger 2.0) documents and classifies each change with a [`Rule`], so a
//! CI step can fail on the breaking ones. The rule groups and severities follow oasdiff.

mod operation;
mod paths;
mod rules;
mod schema;
mod security;

use std::collections::HashMap;
use std::rc::Rc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::spec::{ParsedSpec, SpecFormat, SpecHint};

pub use rules::{Rule, Severity};

use paths::{match_paths, path_items};
use schema::{Direction, Origin, Schemas};

/// Separates the steps of a [`Change::location`].
const SEP: &str = " › ";

/// One difference between the two documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// What kind of change this is.
    pub rule: Rule,
    /// Whether it can break existing clients (always `rule.severity()`).
    pub severity: Severity,
    /// Where it is, from the operation down: `GET /pets/{petId} › parameter `limit` (query)`,
    /// `POST /pets › request body › application/json › owner.name`.
    pub location: String,
    /// What changed, as a sentence.
    pub message: String,
}

impl Change {
    fn new(rule: Rule, location: String, message: String) -> Change {
        Change {
            rule,
            severity: rule.severity(),
            location,
            message,
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Every change from one document to the other, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecDiff {
    /// The changes, document-level ones (servers, security) first, then path by path.
    pub changes: Vec<Change>,
}

impl SpecDiff {
    /// The changes that can break existing clients.
    pub fn breaking(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.severity == Severity::Breaking)
    }

    /// The changes existing clients can ignore.
    pub fn non_breaking(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.severity == Severity::NonBreaking)
    }

    /// Whether any change can break existing clients.
    pub fn is_breaking(&self) -> bool {
        self.breaking().next().is_some()
    }

    /// Whether the documents are equivalent as far as the rules look.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes of one kind.
    pub fn with_rule(&self, rule: Rule) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.rule == rule)
    }
}

/// Serialised as `{"breaking": n, "non_breaking": m, "changes": [...]}`.
impl Serialize for SpecDiff {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("SpecDiff", 3)?;
        s.serialize_field("breaking", &self.breaking().count())?;
        s.serialize_field("non_breaking", &self.non_breaking().count())?;
        s.serialize_field("changes", &self.changes)?;
        s.end()
    }
}

/// Which of the two documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The earlier version.
    Old,
    /// The later version.
    New,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Old => "old",
            Side::New => "new",
        })
    }
}

/// Why two documents could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// One side is not an OpenAPI 3.x or Swagger 2.0 document.
    #[error("the {side} document cannot be diffed: {reason}")]
    Unreadable {
        /// Which document.
        side: Side,
        /// What is wrong with it.
        reason: String,
    },
    /// The documents have different titles and no path in common: not two versions of one API.
    #[error(
        "the documents describe different APIs (`{old_title}` and `{new_title}`, with no path in \
         common); compare two versions of the same API"
    )]
    DifferentApi {
        /// `info.title` of the old document.
        old_title: String,
        /// `info.title` of the new document.
        new_title: String,
    },
}

/// Compares two OpenAPI 3.0/3.1 documents (a Swagger 2.0 one is converted to 3.0 first).
///
/// YAML callers parse to [`Value`] first, or use [`diff_documents`] on the bytes.
pub fn diff(old: &Value, new: &Value) -> Result<SpecDiff, DiffError> {
    let old = normalise(old, Side::Old)?;
    let new = normalise(new, Side::New)?;
    compare_documents(old.as_ref(), new.as_ref())
}

/// Compares two parsed descriptions; both must be OpenAPI (Swagger 2.0 included).
pub fn diff_specs(old: &ParsedSpec, new: &ParsedSpec) -> Result<SpecDiff, DiffError> {
    compare_documents(
        openapi_document(old, Side::Old)?,
        openapi_document(new, Side::New)?,
    )
}

/// Parses and compares two documents given as bytes: JSON or YAML, OpenAPI 3.x or Swagger 2.0.
///
/// A document that does not parse, or is not OpenAPI, is [`DiffError::Unreadable`] naming
/// the side, with the file name, line and column when the hint and the parser know them.
pub fn diff_documents(
    old: &[u8],
    old_hint: &SpecHint,
    new: &[u8],
    new_hint: &SpecHint,
) -> Result<SpecDiff, DiffError> {
    let parse = |bytes: &[u8], hint: &SpecHint, side| {
        ParsedSpec::parse(bytes, hint).map_err(|e| unreadable(side, e.to_string()))
    };
    let old_spec = parse(old, old_hint, Side::Old)?;
    let new_spec = parse(new, new_hint, Side::New)?;
    diff_specs(&old_spec, &new_spec).map_err(|error| match error {
        DiffError::Unreadable { side, reason } => {
            let hint = if side == Side::Old {
                old_hint
            } else {
                new_hint
            };
            let reason = match &hint.file_name {
                Some(file) => format!("{file}: {reason}"),
                None => reason,
            };
            DiffError::Unreadable { side, reason }
        }
        other => other,
    })
}

fn openapi_document(spec: &ParsedSpec, side: Side) -> Result<&Value, DiffError> {
    let reason = match spec.format() {
        SpecFormat::AsyncApi => "it is an AsyncAPI document; only OpenAPI can be diffed",
        SpecFormat::GraphQl => "it is a GraphQL schema; only OpenAPI can be diffed",
        SpecFormat::Other => "it is not an OpenAPI document (no `openapi` or `swagger` version)",
        SpecFormat::OpenApi2 | SpecFormat::OpenApi30 | SpecFormat::OpenApi31 => {
            return spec
                .document()
                .ok_or_else(|| unreadable(side, "no document"));
        }
    };
    Err(unreadable(side, reason))
}

fn unreadable(side: Side, reason: impl Into<String>) -> DiffError {
    DiffError::Unreadable {
        side,
        reason: reason.into(),
    }
}

/// The document as OpenAPI 3.x: borrowed when it already is, converted from Swagger 2.0.
fn normalise(doc: &Value, side: Side) -> Result<std::borrow::Cow<'_, Value>, DiffError> {
    let Some(root) = doc.as_object() else {
        return Err(unreadable(side, "it is not a JSON object"));
    };
    match (root.get("openapi"), root.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.") => Ok(std::borrow::Cow::Borrowed(doc)),
        (_, Some(_)) => {
            // The converter lives behind `ParsedSpec`, which also checks the shape.
            let bytes = serde_json::to_vec(doc).map_err(|e| unreadable(side, e.to_string()))?;
            let hint = SpecHint::from_media_type("application/json");
            let spec =
                ParsedSpec::parse(&bytes, &hint).map_err(|e| unreadable(side, e.to_string()))?;
            openapi_document(&spec, side).map(|d| std::borrow::Cow::Owned(d.clone()))
        }
        (Some(v), _) => Err(unreadable(
            side,
            format!("unsupported OpenAPI version {v}; expected 3.0, 3.1 or Swagger 2.0"),
        )),
        (None, None) => Err(unreadable(
            side,
            "it is not an OpenAPI document (no `openapi` or `swagger` version)",
        )),
    }
}

fn compare_documents(old: &Value, new: &Value) -> Result<SpecDiff, DiffError> {
    let old_paths = path_items(old);
    let new_paths = path_items(new);
    let matched = match_paths(&old_paths, &new_paths);
    check_same_api(old, new, &old_paths, &new_paths, &matched)?;

    let mut d = Differ {
        old,
        new,
        schemas: Schemas::new(old, new),
        changes: Vec::new(),
        shared: HashMap::new(),
    };
    d.servers();
    security::compare_schemes(&mut d);
    security::compare_requirements(
        &mut d,
        "security (global)",
        old.get("security"),
        new.get("security"),
    );

    paths::compare(&mut d, &old_paths, &new_paths, &matched);
    Ok(d.finish())
}

fn check_same_api(
    old: &Value,
    new: &Value,
    old_paths: &[(String, &Map<String, Value>)],
    new_paths: &[(String, &Map<String, Value>)],
    matched: &HashMap<&str, &str>,
) -> Result<(), DiffError> {
    let title = |doc: &Value| {
        doc.pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let (old_title, new_title) = (title(old), title(new));
    let disjoint = !old_paths.is_empty() && !new_paths.is_empty() && matched.is_empty();
    if disjoint && !old_title.eq_ignore_ascii_case(&new_title) {
        return Err(DiffError::DifferentApi {
            old_title,
            new_title,
        });
    }
    Ok(())
}

/// Follows local `$ref`s: the value a reference leads to, and the last reference's name.
#[derive(Clone, Copy)]
pub(crate) struct Resolved<'a> {
    /// The value reached; a `$ref` that leads nowhere (or outside the document) is kept as is.
    pub(crate) value: &'a Value,
    /// The last segment of the last `$ref` followed (`Pet` for `#/components/schemas/Pet`).
    pub(crate) name: Option<&'a str>,
    /// Whether any `$ref` was followed.
    pub(crate) via_ref: bool,
}

/// Resolves `value` in `doc`, following at most 32 references so that cycles end.
pub(crate) fn resolve<'a>(doc: &'a Value, value: &'a Value) -> Resolved<'a> {
    let mut out = Resolved {
        value,
        name: None,
        via_ref: false,
    };
    for _ in 0..32 {
        let Some(reference) = out.value.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            break;
        };
        let target = if pointer.contains('%') {
            doc.pointer(&percent_decode(pointer))
        } else {
            doc.pointer(pointer)
        };
        let Some(target) = target else {
            break;
        };
        out = Resolved {
            value: target,
            name: reference.rsplit('/').next(),
            via_ref: true,
        };
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a › b`, or `a` alone when `b` is empty.
pub(crate) fn join(location: &str, step: &str) -> String {
    if step.is_empty() {
        location.to_owned()
    } else {
        format!("{location}{SEP}{step}")
    }
}

/// Up to six values as code, then how many more.
pub(crate) fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let mut out: Vec<String> = items.iter().take(6).map(|i| format!("`{i}`")).collect();
    if items.len() > 6 {
        out.push(format!("{} more", items.len() - 6));
    }
    match out.len() {
        0 => String::new(),
        1 => out.remove(0),
        n => format!("{} and {}", out[..n - 1].join(", "), out[n - 1]),
    }
}

/// The comparison in progress: both documents, the schema comparer and what was found.
pub(crate) struct Differ<'a> {
    pub(crate) old: &'a Value,
    pub(crate) new: &'a Value,
    schemas: Schemas<'a>,
    changes: Vec<Change>,
    /// Changes inside named schemas already reported: their index and how often they recur.
    /// A schema shared by many operations would otherwise repeat each change thousands of
    /// times (Stripe's expandable objects nest the same schemas at every depth).
    shared: HashMap<(Rule, Rc<Origin>, String), (usize, usize)>,
}

impl<'a> Differ<'a> {
    pub(crate) fn push(&mut self, rule: Rule, location: String, message: String) {
        self.changes.push(Change::new(rule, location, message));
    }

    /// Compares two schemas met at `location`, reporting what changed inside them.
    pub(crate) fn schema(
        &mut self,
        location: &str,
        old: &'a Value,
        new: &'a Value,
        direction: Direction,
    ) {
        let found = self.schemas.compare(old, new, direction);
        for f in found.iter() {
            if let Some(origin) = &f.origin {
                let key = (f.rule, origin.clone(), f.message.clone());
                if let Some((index, uses)) = self.shared.get_mut(&key) {
                    *uses += 1;
                    // Name the change where it is easiest to see: the shortest way in.
                    let at = join(location, &f.path);
                    let change = &mut self.changes[*index];
                    if at.len() < change.location.len() {
                        change.location = at;
                    }
                    continue;
                }
                self.shared.insert(key, (self.changes.len(), 1));
            }
            self.push(f.rule, join(location, &f.path), f.message.clone());
        }
    }

    /// The changes, each change inside a shared schema once, saying how many places it affects.
    fn finish(mut self) -> SpecDiff {
        for ((_, origin, _), (index, uses)) in self.shared {
            if uses > 1 {
                let message = &mut self.changes[index].message;
                let note = format!(" (in schema `{}`, used in {uses} places)", origin.schema);
                match message.strip_suffix('.') {
                    Some(sentence) => *message = format!("{sentence}{note}."),
                    None => message.push_str(&note),
                }
            }
        }
        SpecDiff {
            changes: self.changes,
        }
    }

    fn servers(&mut self) {
        let urls = |doc: &'a Value| -> Vec<&'a str> {
            doc.get("servers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("url").and_then(Value::as_str))
                .collect()
        };
        let (old, new) = (urls(self.old), urls(self.new));
        for url in old.iter().filter(|u| !new.contains(u)) {
            let message = format!("Server `{url}` was removed.");
            self.push(Rule::ServerRemoved, "servers".into(), message);
        }
        for url in new.iter().filter(|u| !old.contains(u)) {
            let message = format!("Server `{url}` was added.");
            self.push(Rule::ServerAdded, "servers".into(), message);
        }
    }
}

pub(crate) fn is_deprecated(value: &Value) -> bool {
    value.get("deprecated").and_then(Value::as_bool) == Some(true)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    /// One hand-made pair of documents and the rule it must trigger.
    pub(crate) struct Case {
        pub(crate) rule: Rule,
        pub(crate) old: Value,
        pub(crate) new: Value,
    }

    /// A document with the given paths and extra top-level members.
    pub(crate) fn doc(paths: Value, extra: Value) -> Value {
        let mut doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "Pets", "version": "1"},
            "paths": paths,
        });
        if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
            doc.extend(extra.clone());
        }
        doc
    }

    /// A document whose only operation is `GET /pets` as given.
    pub(crate) fn op_doc(op: Value) -> Value {
        doc(json!({"/pets": {"get": op}}), json!({}))
    }

    pub(crate) fn case(rule: Rule, old: Value, new: Value) -> Case {
        Case { rule, old, new }
    }

    /// Checks that every case reports its rule, with its severity, and nothing breaking
    /// unless the rule is breaking.
    pub(crate) fn check(cases: &[Case]) {
        for Case { rule, old, new } in cases {
            let result = diff(old, new).unwrap_or_else(|e| panic!("{rule}: {e}"));
            let found: Vec<_> = result.with_rule(*rule).collect();
            assert!(
                !found.is_empty(),
                "{rule} not reported; got {:#?}",
                result.changes
            );
            assert!(found.iter().all(|c| c.severity == rule.severity()));
            if rule.severity() == Severity::NonBreaking {
                assert!(!result.is_breaking(), "{rule}: {:#?}", result.changes);
            }
            assert!(
                diff(old, old).unwrap().is_empty() && diff(new, new).unwrap().is_empty(),
                "{rule}: a document differs from itself"
            );
        }
    }

    pub(crate) fn cases() -> Vec<Case> {
        let servers = |urls: &[&str]| {
            let list: Vec<Value> = urls.iter().map(|u| json!({"url": u})).collect();
            doc(json!({"/pets": {"get": {}}}), json!({"servers": list}))
        };
        vec![
            case(
                Rule::ServerAdded,
                servers(&["https://a"]),
                servers(&["https://a", "https://b"]),
            ),
            case(
                Rule::ServerRemoved,
                servers(&["https://a", "https://b"]),
                servers(&["https://b"]),
            ),
        ]
    }

    #[test]
    fn every_document_case_reports_its_rule() {
        check(&cases());
    }

    #[test]
    fn every_rule_has_a_hand_made_pair() {
        let mut covered: HashSet<Rule> = HashSet::new();
        for cases in [
            cases(),
            paths::tests::cases(),
            operation::tests::cases(),
            schema::tests::cases(),
            security::tests::cases(),
        ] {
            covered.extend(cases.iter().map(|c| c.rule));
        }
        let missing: Vec<_> = Rule::ALL.iter().filter(|r| !covered.contains(r)).collect();
        assert!(missing.is_empty(), "rules without a case: {missing:?}");
    }

    #[test]
    fn documents_with_other_titles_and_no_common_path_are_different_apis() {
        let old = doc(json!({"/pets": {"get": {}}}), json!({}));
        let mut new = doc(json!({"/invoices": {"get": {}}}), json!({}));
        new["info"]["title"] = json!("Billing");
        let err = diff(&old, &new).unwrap_err();
        assert_eq!(
            err,
            DiffError::DifferentApi {
                old_title: "Pets".into(),
                new_title: "Billing".into()
            }
        );
        assert!(err.to_string().contains("different APIs"), "{err}");
        // Same title: a rewrite of one API, reported path by path.
        new["info"]["title"] = json!("Pets");
        assert!(diff(&old, &new).unwrap().is_breaking());
    }

    #[test]
    fn documents_that_are_not_openapi_are_unreadable_naming_the_side() {
        let good = op_doc(json!({}));
        let err = diff(&good, &json!({"asyncapi": "2.6.0"})).unwrap_err();
        assert!(
            matches!(
                err,
                DiffError::Unreadable {
                    side: Side::New,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("the new document"), "{err}");
        let err = diff(&json!({"openapi": "4.0.0"}), &good).unwrap_err();
        assert!(
            matches!(
                err,
                DiffError::Unreadable {
                    side: Side::Old,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("4.0.0"), "{err}");
        let err = diff(&json!([1, 2]), &good).unwrap_err();
        assert!(
            matches!(
                err,
                DiffError::Unreadable {
                    side: Side::Old,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn swagger2_documents_are_converted_before_comparing() {
        let swagger = json!({
            "swagger": "2.0",
            "info": {"title": "Pets", "version": "1"},
            "basePath": "/v1",
            "paths": {"/pets": {"get": {
                "parameters": [{"name": "limit", "in": "query", "type": "integer"}],
                "responses": {"200": {"description": "ok", "schema": {"type": "string"}}}
            }}}
        });
        let openapi = doc(
            json!({"/pets": {"get": {
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "ok", "content": {
                    "application/json": {"schema": {"type": "string"}}
                }}}
            }}}),
            json!({"servers": [{"url": "/v1"}]}),
        );
        let result = diff(&swagger, &openapi).unwrap();
        assert!(result.is_empty(), "{:#?}", result.changes);
    }

    #[test]
    fn local_references_resolve_through_chains_and_percent_escapes() {
        let doc = json!({
            "components": {"schemas": {
                "A B": {"$ref": "#/components/schemas/C"},
                "C": {"type": "string"},
                "Loop": {"$ref": "#/components/schemas/Loop"}
            }}
        });
        let r = json!({"$ref": "#/components/schemas/A%20B"});
        let resolved = resolve(&doc, &r);
        assert_eq!(resolved.value, &json!({"type": "string"}));
        assert_eq!((resolved.name, resolved.via_ref), (Some("C"), true));
        let looping = json!({"$ref": "#/components/schemas/Loop"});
        assert!(resolve(&doc, &looping).via_ref, "a cycle ends");
        let external = json!({"$ref": "other.yaml#/Pet"});
        assert!(!resolve(&doc, &external).via_ref);
    }

    #[test]
    fn values_are_listed_as_code_up_to_six() {
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(
            list(&[1, 2, 3, 4, 5, 6, 7, 8]),
            "`1`, `2`, `3`, `4`, `5`, `6` and 2 more"
        );
    }

    #[test]
    fn changes_serialise_with_counts_rule_ids_and_severities() {
        let old = doc(json!({"/pets": {"get": {}, "post": {}}}), json!({}));
        let new = doc(
            json!({"/pets": {"get": {}}, "/toys": {"get": {}}}),
            json!({}),
        );
        let json = serde_json::to_value(diff(&old, &new).unwrap()).unwrap();
        assert_eq!(json["breaking"], 1);
        assert_eq!(json["non_breaking"], 1);
        assert_eq!(
            json["changes"][0],
            json!({
                "rule": "operation-removed",
                "severity": "breaking",
                "location": "POST /pets",
                "message": "The operation was removed."
            })
        );
    }
}
