//! What an API entity says about its versions: the one its `spec.definition`
//! is (with `spec.lifecycle`, `spec.sunset`, `spec.environments`) and those of
//! Portico's `spec.versions` extension, each checked with a clear error that
//! names the field.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::{Environment, VersionDraft};
use crate::entity::Entity;
use crate::spec::{LifecycleError, ParsedSpec, SpecHint, VersionLifecycle};

/// `$text` file names of an API's definitions, read before substitution, so
/// a parse error names the file and an inline one points at its line.
#[derive(Debug, Default)]
pub(crate) struct DefinitionFiles {
    main: Option<String>,
    versions: BTreeMap<usize, String>,
}

impl DefinitionFiles {
    /// Reads them from a descriptor document (before substitution).
    pub(crate) fn capture(value: &Value) -> DefinitionFiles {
        let text = |v: &Value| {
            v.pointer("/definition/$text")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let spec = value.get("spec").unwrap_or(&Value::Null);
        DefinitionFiles {
            main: text(spec),
            versions: spec
                .get("versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .filter_map(|(i, v)| Some((i, text(v)?)))
                .collect(),
        }
    }
}

/// A problem with an API's definitions, at a field of its descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionProblem {
    /// The dotted field (`spec.versions.1.lifecycle`).
    pub field: String,
    /// Lines past the field's own line (within an inline definition).
    pub offset: usize,
    /// Why, naming the field.
    pub reason: String,
}

impl VersionProblem {
    fn at(field: impl Into<String>, reason: impl Into<String>) -> VersionProblem {
        let field = field.into();
        VersionProblem {
            reason: format!("\"{field}\": {}", reason.into()),
            field,
            offset: 0,
        }
    }
}

/// The versions an API entity publishes: the one its `spec.definition` is
/// (with `spec.lifecycle`, `spec.sunset`, `spec.environments`), then those of
/// `spec.versions`. `None` for other entities and definition types.
pub(crate) fn read_entity(
    entity: &Entity,
    files: &DefinitionFiles,
) -> Option<Result<Vec<VersionDraft>, VersionProblem>> {
    let kind = entity.spec_type()?.to_ascii_lowercase();
    if entity.kind != "API" || !matches!(kind.as_str(), "openapi" | "asyncapi" | "graphql") {
        return None;
    }
    let definition = entity.definition()?;
    Some(read_versions(entity, &kind, definition, files))
}

fn read_versions(
    entity: &Entity,
    kind: &str,
    definition: &str,
    files: &DefinitionFiles,
) -> Result<Vec<VersionDraft>, VersionProblem> {
    let spec = parse_definition("spec.definition", kind, definition, files.main.as_deref())?;
    let mut current = VersionDraft::from_spec(&spec);
    current.lifecycle = lifecycle_of(
        &spec,
        entity.lifecycle(),
        entity.spec.get("sunset"),
        "spec",
        "spec.lifecycle",
    )
    .or_else(|e| match e {
        // Backstage allows any word in `spec.lifecycle`; such words read as production.
        LifecycleProblem::Unknown => Ok(VersionLifecycle::Production),
        LifecycleProblem::Bad(problem) => Err(problem),
    })?;
    if let Some(environments) = entity.spec.get("environments") {
        current.environments = read_environments(environments, "spec.environments")?;
    }
    let mut drafts = Vec::new();
    match entity.spec.get("versions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                drafts.push(read_listed_version(
                    item,
                    i,
                    kind,
                    files.versions.get(&i).map(String::as_str),
                )?);
            }
        }
        Some(_) => {
            return Err(VersionProblem::at(
                "spec.versions",
                "must be a list of versions ({version, definition, lifecycle, sunset, migration, environments})",
            ));
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, draft) in drafts.iter().enumerate() {
        let field = format!("spec.versions.{i}.version");
        if draft.version == current.version {
            return Err(VersionProblem::at(
                field,
                format!(
                    "version \"{}\" is already the version of \"spec.definition\"",
                    draft.version
                ),
            ));
        }
        if let Some(first) = seen.insert(&draft.version, i) {
            return Err(VersionProblem::at(
                field,
                format!(
                    "version \"{}\" is already listed at \"spec.versions.{first}\"",
                    draft.version
                ),
            ));
        }
    }
    // Listed (older or parallel) versions first: the current one is published last.
    drafts.push(current);
    Ok(drafts)
}

const VERSION_FIELDS: [&str; 6] = [
    "version",
    "definition",
    "lifecycle",
    "sunset",
    "migration",
    "environments",
];

fn read_listed_version(
    item: &Value,
    index: usize,
    kind: &str,
    file: Option<&str>,
) -> Result<VersionDraft, VersionProblem> {
    let base = format!("spec.versions.{index}");
    let Value::Object(map) = item else {
        return Err(VersionProblem::at(
            base,
            "must be an object with version, definition, lifecycle, sunset, migration and environments",
        ));
    };
    if let Some(unknown) = map.keys().find(|k| !VERSION_FIELDS.contains(&k.as_str())) {
        return Err(VersionProblem::at(
            base,
            format!(
                "unknown field \"{unknown}\"; a version has {}",
                VERSION_FIELDS.join(", ")
            ),
        ));
    }
    let definition = match map.get("definition") {
        Some(Value::String(text)) if !text.trim().is_empty() => text,
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(VersionProblem::at(
                format!("{base}.definition"),
                "must have a value (the document, or {$text: file})",
            ));
        }
        Some(_) => {
            return Err(VersionProblem::at(
                format!("{base}.definition"),
                "must be the document's text (or {$text: file})",
            ));
        }
    };
    let spec = parse_definition(&format!("{base}.definition"), kind, definition, file)?;
    let mut draft = VersionDraft::from_spec(&spec);
    match map.get("version") {
        Some(Value::String(v)) if !v.trim().is_empty() => draft.version = v.trim().to_owned(),
        Some(Value::Number(n)) => draft.version = n.to_string(),
        None | Some(Value::Null) if spec.info().version.is_some() => {}
        None | Some(Value::Null) => {
            return Err(VersionProblem::at(
                format!("{base}.version"),
                "must have a value: the definition has no info.version",
            ));
        }
        Some(_) => {
            return Err(VersionProblem::at(
                format!("{base}.version"),
                "must be a non-empty string",
            ));
        }
    }
    let lifecycle = match map.get("lifecycle") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.as_str()),
        Some(_) => {
            return Err(VersionProblem::at(
                format!("{base}.lifecycle"),
                "must be experimental, production or deprecated",
            ));
        }
    };
    draft.lifecycle = lifecycle_of(
        &spec,
        lifecycle,
        map.get("sunset"),
        &base,
        &format!("{base}.lifecycle"),
    )
    .map_err(|e| match e {
        LifecycleProblem::Unknown => VersionProblem::at(
            format!("{base}.lifecycle"),
            LifecycleError::Unknown(lifecycle.unwrap_or_default().to_owned()).to_string(),
        ),
        LifecycleProblem::Bad(problem) => problem,
    })?;
    draft.migration = match map.get("migration") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            return Err(VersionProblem::at(
                format!("{base}.migration"),
                "must be text",
            ));
        }
    };
    if let Some(environments) = map.get("environments") {
        draft.environments = read_environments(environments, &format!("{base}.environments"))?;
    }
    Ok(draft)
}

fn parse_definition(
    field: &str,
    kind: &str,
    definition: &str,
    file: Option<&str>,
) -> Result<ParsedSpec, VersionProblem> {
    let hint = file.map(SpecHint::from_file_name).unwrap_or_default();
    ParsedSpec::parse(definition.as_bytes(), &hint).map_err(|e| {
        let offset = if file.is_none() {
            // A parser may notice trouble past the last line; stay inside.
            e.line().unwrap_or(0).min(definition.lines().count())
        } else {
            0
        };
        VersionProblem {
            field: field.to_owned(),
            offset,
            reason: format!("\"{field}\" is not a valid {kind} description: {e}"),
        }
    })
}

/// Why [`lifecycle_of`] refused.
enum LifecycleProblem {
    /// The descriptor's word is not a known state (the caller decides).
    Unknown,
    /// Anything else.
    Bad(VersionProblem),
}

impl From<VersionProblem> for LifecycleProblem {
    fn from(problem: VersionProblem) -> Self {
        LifecycleProblem::Bad(problem)
    }
}

/// A version's lifecycle: the descriptor's words, else the document's
/// `info.x-lifecycle`, else production. A deprecated version's sunset date
/// comes from the lifecycle (`deprecated 2027-06-30`), the descriptor's
/// `sunset`, or `info.x-sunset`; none means not announced yet.
fn lifecycle_of(
    spec: &ParsedSpec,
    declared: Option<&str>,
    sunset: Option<&Value>,
    base: &str,
    field: &str,
) -> Result<VersionLifecycle, LifecycleProblem> {
    let info = spec
        .document()
        .and_then(|d| d.get("info"))
        .and_then(Value::as_object);
    let from_info = |key: &str| info.and_then(|i| i.get(key)).and_then(Value::as_str);
    let (text, text_field) = match declared {
        Some(text) => (Some(text), field.to_owned()),
        None => (from_info("x-lifecycle"), "info.x-lifecycle".to_owned()),
    };
    let lifecycle = match text.map(VersionLifecycle::parse) {
        None => VersionLifecycle::Production,
        Some(Ok(lifecycle)) => lifecycle,
        Some(Err(LifecycleError::Unknown(_))) if declared.is_some() => {
            return Err(LifecycleProblem::Unknown);
        }
        Some(Err(LifecycleError::Unknown(_))) => VersionLifecycle::Production,
        Some(Err(e)) => return Err(VersionProblem::at(text_field, e.to_string()).into()),
    };
    let VersionLifecycle::Deprecated { sunset: None } = lifecycle else {
        return Ok(lifecycle);
    };
    let sunset_field = format!("{base}.sunset");
    let (date, date_field) = match sunset {
        Some(Value::String(date)) => (Some(date.as_str()), sunset_field.clone()),
        None | Some(Value::Null) => (from_info("x-sunset"), "info.x-sunset".to_owned()),
        Some(_) => {
            return Err(VersionProblem::at(sunset_field, "must be a YYYY-MM-DD date").into());
        }
    };
    // Backstage catalogues say `deprecated` without a date: the sunset is
    // then simply not announced yet.
    let Some(date) = date else {
        return Ok(lifecycle);
    };
    VersionLifecycle::parse(&format!("deprecated {}", date.trim()))
        .map_err(|e| VersionProblem::at(date_field, e.to_string()).into())
}

fn read_environments(value: &Value, field: &str) -> Result<Vec<Environment>, VersionProblem> {
    let Value::Array(items) = value else {
        return Err(VersionProblem::at(
            field,
            "must be a list of {name, url, description}",
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{field}.{i}");
            let map: &Map<String, Value> = item.as_object().ok_or_else(|| {
                VersionProblem::at(&at, "must be an object with name, url and description")
            })?;
            if let Some(unknown) = map
                .keys()
                .find(|k| !["name", "url", "description"].contains(&k.as_str()))
            {
                return Err(VersionProblem::at(
                    &at,
                    format!(
                        "unknown field \"{unknown}\"; an environment has name, url and description"
                    ),
                ));
            }
            let text = |key: &str| match map.get(key) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
                None | Some(Value::Null) => Ok(None),
                Some(_) => Err(VersionProblem::at(
                    format!("{at}.{key}"),
                    "must be a non-empty string",
                )),
            };
            let need = |key: &str| {
                text(key)?
                    .ok_or_else(|| VersionProblem::at(format!("{at}.{key}"), "must have a value"))
            };
            Ok(Environment {
                name: need("name")?.to_lowercase(),
                url: need("url")?,
                description: text("description")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse_entity;
    use serde_json::json;

    fn api(spec: Value) -> Entity {
        let mut full = json!({"type": "openapi", "lifecycle": "production", "owner": "team-a"});
        full.as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        parse_entity(
            &json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API",
                             "metadata": {"name": "pets"}, "spec": full}),
        )
        .unwrap()
    }

    fn openapi(version: &str, servers: &str) -> String {
        format!(
            "openapi: 3.0.3\ninfo: {{title: Pets, version: '{version}'}}\nservers: {servers}\npaths:\n  /pets:\n    get: {{operationId: listPets}}\n"
        )
    }

    fn read(entity: &Entity) -> Result<Vec<VersionDraft>, VersionProblem> {
        read_entity(entity, &DefinitionFiles::default()).expect("an API with a definition")
    }

    #[test]
    fn descriptor_environments_and_listed_versions_are_read() {
        let entity = api(json!({
            "definition": openapi("2.0.0", "[]"),
            "environments": [{"name": "Sandbox", "url": "https://sandbox.example.com"}],
            "versions": [{
                "definition": openapi("1.0.0", "[{url: 'https://v1.example.com'}]"),
                "lifecycle": "deprecated", "sunset": "2027-06-30", "migration": "Use v2."
            }]
        }));
        let drafts = read(&entity).unwrap();
        let listed: Vec<&str> = drafts.iter().map(|d| d.version.as_str()).collect();
        assert_eq!(listed, ["1.0.0", "2.0.0"], "listed first, current last");
        assert_eq!(
            drafts[0].lifecycle,
            VersionLifecycle::Deprecated {
                sunset: Some("2027-06-30".into())
            }
        );
        assert_eq!(drafts[0].migration.as_deref(), Some("Use v2."));
        assert_eq!(drafts[0].environments[0].url, "https://v1.example.com");
        assert_eq!(drafts[1].environments[0].name, "sandbox");
        assert_eq!(drafts[1].lifecycle, VersionLifecycle::Production);
    }

    #[test]
    fn deprecation_takes_its_sunset_from_descriptor_or_document() {
        let deprecated = |extra: Value| {
            let mut spec = json!({"lifecycle": "deprecated", "definition": openapi("1.0.0", "[]")});
            spec.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            read(&api(spec))
        };
        let unannounced = deprecated(json!({})).unwrap();
        assert_eq!(
            unannounced[0].lifecycle,
            VersionLifecycle::Deprecated { sunset: None }
        );
        let ok = deprecated(json!({"sunset": "2027-01-31"})).unwrap();
        assert_eq!(ok[0].lifecycle.sunset(), Some("2027-01-31"));
        let err = deprecated(json!({"sunset": "2027-02-30"})).unwrap_err();
        assert_eq!(err.field, "spec.sunset");
        assert!(err.reason.contains("is not a YYYY-MM-DD date"), "{err:?}");
        let in_document =
            "openapi: 3.0.3\ninfo: {title: P, version: '1', x-sunset: '2028-01-01'}\npaths: {}\n";
        let ok = deprecated(json!({"definition": in_document})).unwrap();
        assert_eq!(ok[0].lifecycle.sunset(), Some("2028-01-01"));
    }

    #[test]
    fn bad_listed_versions_are_rejected_with_the_field_and_reason() {
        let current = openapi("2.0.0", "[]");
        let cases = [
            (
                json!("1.0.0"),
                "spec.versions",
                "must be a list of versions",
            ),
            (json!([7]), "spec.versions.0", "must be an object"),
            (
                json!([{"version": "1"}]),
                "spec.versions.0.definition",
                "must have a value",
            ),
            (
                json!([{"definition": openapi("1.0.0", "[]"), "owner": "x"}]),
                "spec.versions.0",
                "unknown field \"owner\"",
            ),
            (
                json!([{"definition": "openapi: 3.0.0\ninfo: {title: [\n"}]),
                "spec.versions.0.definition",
                "is not a valid openapi description",
            ),
            (
                json!([{"definition": openapi("1.0.0", "[]"), "lifecycle": "retired"}]),
                "spec.versions.0.lifecycle",
                "unknown lifecycle",
            ),
            (
                json!([{"definition": openapi("2.0.0", "[]")}]),
                "spec.versions.0.version",
                "already the version of \"spec.definition\"",
            ),
            (
                json!([{"definition": openapi("1.0.0", "[]")}, {"version": "1.0.0", "definition": openapi("1.0.1", "[]")}]),
                "spec.versions.1.version",
                "already listed at \"spec.versions.0\"",
            ),
            (
                json!([{"definition": openapi("1.0.0", "[]"), "environments": [{"name": "sandbox"}]}]),
                "spec.versions.0.environments.0.url",
                "must have a value",
            ),
        ];
        for (versions, field, reason) in cases {
            let entity = api(json!({"definition": current, "versions": versions}));
            let err = read(&entity).unwrap_err();
            assert_eq!(err.field, field, "{err:?}");
            assert!(
                err.reason.contains(reason) && err.reason.contains(field),
                "{err:?} should say {reason}"
            );
        }
    }

    #[test]
    fn other_types_and_kinds_publish_no_versions() {
        let grpc = api(json!({"type": "grpc", "definition": "syntax = \"proto3\";"}));
        assert!(read_entity(&grpc, &DefinitionFiles::default()).is_none());
        let graphql =
            api(json!({"type": "graphql", "definition": "type Query { pets: [String] }"}));
        let drafts = read(&graphql).unwrap();
        assert_eq!(drafts[0].version, crate::versions::UNVERSIONED);
        assert_eq!(drafts[0].document.media_type, "application/graphql");
        assert_eq!(drafts[0].operations[0].path, "pets");
    }

    #[test]
    fn definition_files_are_captured_before_substitution() {
        let files = DefinitionFiles::capture(&json!({"spec": {
            "definition": {"$text": "./v2.yaml"},
            "versions": [{"definition": "inline"}, {"definition": {"$text": "./v1.yaml"}}]
        }}));
        assert_eq!(files.main.as_deref(), Some("./v2.yaml"));
        assert_eq!(
            files.versions.get(&1).map(String::as_str),
            Some("./v1.yaml")
        );
        assert!(!files.versions.contains_key(&0));
    }
}
