//! Importing descriptor files and directories into the store: follows
//! Location entities, substitutes placeholders, validates every entity and
//! writes each imported path as one source in one transaction.
//!
//! A bad document or entity is reported (file, line, reason) and skipped;
//! the rest of the import proceeds.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::descriptor::{Document, Place, ReadPolicy, UrlReader, parse_documents, substitute};
use crate::entity::{Entity, MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION};
use crate::entity_ref::{DEFAULT_NAMESPACE, EntityRef};
use crate::store::{CatalogError, CatalogStore, OrphanPolicy, SourceSync};
use crate::validate::parse_entity;
use crate::versions::{self, DefinitionFiles, VersionDraft};

/// Which part of the import a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and checking files (the total grows as Locations are followed).
    Reading,
    /// Writing entities to the store.
    Writing,
}

/// Progress of an import, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// Files read, or entities written.
    pub done: usize,
    /// Files known, or entities to write.
    pub total: usize,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How an import may read and what it does with missing entities.
#[derive(Clone, Default)]
pub struct ImportOptions {
    /// Hosts whose URLs placeholders and Location targets may read
    /// (`example.com`, `*.example.com`); none by default.
    pub allowed_hosts: Vec<String>,
    /// Reads allowed URLs (supplied by the server).
    pub url_reader: Option<Arc<dyn UrlReader>>,
    /// Directories local reads must stay within; empty means each imported
    /// path's own directory.
    pub roots: Vec<PathBuf>,
    /// What happens to entities a re-imported path no longer has.
    pub orphans: OrphanPolicy,
    /// Called as the import advances.
    pub progress: Option<ProgressFn>,
}

impl fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportOptions")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("roots", &self.roots)
            .field("orphans", &self.orphans)
            .finish_non_exhaustive()
    }
}

/// Something in the input that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file or URL.
    pub file: String,
    /// The line, where known.
    pub line: Option<usize>,
    /// The entity, where known (`component:default/x`).
    pub entity: Option<String>,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(entity) = &self.entity {
            write!(f, ": {entity}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Entities new to the catalogue.
    pub added: Vec<String>,
    /// Entities whose content changed.
    pub changed: Vec<String>,
    /// Entities already stored with the same content.
    pub unchanged: Vec<String>,
    /// Entities no longer reported, kept and flagged.
    pub orphaned: Vec<String>,
    /// Entities no longer reported, deleted.
    pub deleted: Vec<String>,
    /// What was rejected and why.
    pub rejected: Vec<Problem>,
    /// Files read.
    pub files: usize,
}

/// Imports each path (a descriptor file or a directory of them) as its own
/// source. Fails only when the store fails; bad input lands in `rejected`.
pub fn import_paths(
    store: &dyn CatalogStore,
    paths: &[PathBuf],
    options: &ImportOptions,
) -> Result<ImportReport, CatalogError> {
    let mut report = ImportReport::default();
    for path in paths {
        import_path(store, path, options, &mut report)?;
    }
    Ok(report)
}

/// Where an entity was read, for problem reports.
struct Origin {
    file: String,
    line: usize,
}

/// Everything read for one source before it is written.
#[derive(Default)]
struct Batch {
    entities: Vec<(Entity, String)>,
    origins: Vec<Origin>,
    first_seen: HashMap<String, usize>,
    keep: Vec<String>,
    keep_locations: Vec<String>,
    versions: BTreeMap<String, Vec<VersionDraft>>,
}

fn import_path(
    store: &dyn CatalogStore,
    path: &Path,
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Result<(), CatalogError> {
    let shown = path.display().to_string();
    let root = match path.canonicalize() {
        Ok(p) => p,
        Err(e) => {
            report
                .rejected
                .push(problem(&shown, None, None, format!("cannot read: {e}")));
            return Ok(());
        }
    };
    let is_dir = root.is_dir();
    let policy = ReadPolicy {
        roots: if options.roots.is_empty() {
            vec![if is_dir {
                root.clone()
            } else {
                root.parent().unwrap_or(Path::new("/")).to_owned()
            }]
        } else {
            options
                .roots
                .iter()
                .filter_map(|r| r.canonicalize().ok())
                .collect()
        },
        allowed_hosts: options.allowed_hosts.clone(),
        url_reader: options.url_reader.clone(),
    };
    import_root(store, Place::File(root), is_dir, &policy, options, report)
}

/// Imports each URL (a descriptor document) as its own source, reading it and
/// whatever it points at through `options.url_reader`; see [`import_paths`].
pub fn import_urls(
    store: &dyn CatalogStore,
    urls: &[url::Url],
    options: &ImportOptions,
) -> Result<ImportReport, CatalogError> {
    let policy = ReadPolicy {
        roots: options
            .roots
            .iter()
            .filter_map(|r| r.canonicalize().ok())
            .collect(),
        allowed_hosts: options.allowed_hosts.clone(),
        url_reader: options.url_reader.clone(),
    };
    let mut report = ImportReport::default();
    for url in urls {
        let root = Place::Url(url.clone());
        import_root(store, root, false, &policy, options, &mut report)?;
    }
    Ok(report)
}

/// Reads one source (a file, a directory or a URL) and writes it; nothing is
/// written when the root itself cannot be read.
fn import_root(
    store: &dyn CatalogStore,
    root: Place,
    is_dir: bool,
    policy: &ReadPolicy,
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Result<(), CatalogError> {
    let origin = root.location();
    let progress = |stage, done, total| {
        if let Some(p) = &options.progress {
            p(Progress { stage, done, total });
        }
    };

    let mut queue: VecDeque<(Place, bool)> = VecDeque::new();
    match &root {
        Place::File(dir) if is_dir => {
            let mut files = Vec::new();
            walk(dir, &mut files);
            queue.extend(files.into_iter().map(|f| (Place::File(f), false)));
        }
        _ => queue.push_back((root.clone(), true)),
    }
    let mut visited: BTreeSet<Place> = queue.iter().map(|(p, _)| p.clone()).collect();
    let mut batch = Batch::default();
    let mut done = 0;
    while let Some((place, explicit)) = queue.pop_front() {
        let text = match &place {
            Place::File(p) => std::fs::read_to_string(p).map_err(|e| e.to_string()),
            Place::Url(_) => policy.read(&place, &place_target(&place)).map(|(_, t)| t),
        };
        done += 1;
        report.files += 1;
        progress(Stage::Reading, done, done + queue.len());
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                report.rejected.push(problem(
                    &file_of(&place),
                    None,
                    None,
                    format!("cannot read: {e}"),
                ));
                if place == root {
                    return Ok(());
                }
                batch.keep_locations.push(place.location());
                continue;
            }
        };
        for target in read_file(&place, &text, explicit, &origin, policy, &mut batch, report) {
            if visited.insert(target.clone()) {
                queue.push_back((target, true));
            }
        }
    }

    let sync = SourceSync {
        source: origin.clone(),
        source_type: match root {
            Place::File(_) => "file".into(),
            Place::Url(_) => "url".into(),
        },
        target: place_target(&root),
        entities: std::mem::take(&mut batch.entities),
        complete: true,
        keep: batch.keep,
        keep_locations: batch.keep_locations,
        orphans: options.orphans,
        versions: std::mem::take(&mut batch.versions),
        ..SourceSync::default()
    };
    let outcome = store.sync_source(&sync, &mut |done, total| {
        progress(Stage::Writing, done, total)
    })?;
    report.added.extend(outcome.added);
    report.changed.extend(outcome.changed);
    report.unchanged.extend(outcome.unchanged);
    report.orphaned.extend(outcome.orphaned);
    report.deleted.extend(outcome.deleted);
    for rejected in outcome.rejected {
        let origin = &batch.origins[rejected.index];
        report.rejected.push(problem(
            &origin.file,
            Some(origin.line),
            Some(rejected.entity),
            rejected.reason,
        ));
    }
    Ok(())
}

/// Reads one file's documents into the batch; returns the Location targets
/// to follow.
fn read_file(
    place: &Place,
    text: &str,
    explicit: bool,
    origin: &str,
    policy: &ReadPolicy,
    batch: &mut Batch,
    report: &mut ImportReport,
) -> Vec<Place> {
    let file = file_of(place);
    let docs = parse_documents(text);
    let looks_like_entities = docs.iter().any(|d| match d {
        Ok(doc) => doc.value.get("apiVersion").is_some() || doc.value.get("kind").is_some(),
        Err(_) => true,
    });
    if !explicit && !looks_like_entities {
        return Vec::new();
    }
    let mut targets = Vec::new();
    for doc in docs {
        let mut doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                report.rejected.push(problem(
                    &file,
                    Some(e.line),
                    None,
                    format!("invalid YAML in document {}: {}", e.index + 1, e.message),
                ));
                batch.keep_locations.push(place.location());
                continue;
            }
        };
        let guessed = guess_ref(&doc.value);
        let definition_files = DefinitionFiles::capture(&doc.value);
        if let Err(reason) = substitute(&mut doc.value, place, policy) {
            let field = reason.split('"').nth(1).unwrap_or("").to_owned();
            reject_doc(batch, report, &file, &doc, &field, guessed, reason);
            continue;
        }
        let mut entity = match parse_entity(&doc.value) {
            Ok(entity) => entity,
            Err(invalid) => {
                let field = invalid.0[0].field().unwrap_or("").to_owned();
                reject_doc(
                    batch,
                    report,
                    &file,
                    &doc,
                    &field,
                    guessed,
                    invalid.to_string(),
                );
                continue;
            }
        };
        let key = entity.entity_ref().key();
        if let Some(&first) = batch.first_seen.get(&key) {
            let earlier = &batch.origins[first];
            report.rejected.push(problem(
                &file,
                Some(doc.line),
                Some(entity.entity_ref().to_string()),
                format!(
                    "the entity is already defined at {}:{}",
                    earlier.file, earlier.line
                ),
            ));
            continue;
        }
        match versions::read_entity(&entity, &definition_files) {
            None => {}
            Some(Ok(drafts)) => {
                batch.versions.insert(key.clone(), drafts);
            }
            Some(Err(bad)) => {
                batch.keep.push(key);
                report.rejected.push(problem(
                    &file,
                    Some(doc.field_line(&bad.field) + bad.offset),
                    Some(entity.entity_ref().to_string()),
                    bad.reason,
                ));
                continue;
            }
        }
        if entity.kind == "Location" {
            targets.extend(location_targets(
                &entity, &doc, place, policy, &file, report,
            ));
        }
        let annotations = &mut entity.metadata.annotations;
        annotations.insert(MANAGED_BY_LOCATION.into(), place.location());
        annotations.insert(MANAGED_BY_ORIGIN_LOCATION.into(), origin.to_owned());
        batch.first_seen.insert(key, batch.entities.len());
        batch.origins.push(Origin {
            file: file.clone(),
            line: doc.line,
        });
        batch.entities.push((entity, place.location()));
    }
    targets
}

fn reject_doc(
    batch: &mut Batch,
    report: &mut ImportReport,
    file: &str,
    doc: &Document,
    field: &str,
    guessed: Option<EntityRef>,
    reason: String,
) {
    if let Some(r) = &guessed {
        // Keep the last good version rather than orphaning it.
        batch.keep.push(r.key());
    }
    report.rejected.push(problem(
        file,
        Some(doc.field_line(field)),
        guessed.map(|r| r.to_string()),
        reason,
    ));
}

fn location_targets(
    entity: &Entity,
    doc: &Document,
    place: &Place,
    policy: &ReadPolicy,
    file: &str,
    report: &mut ImportReport,
) -> Vec<Place> {
    let mut out = Vec::new();
    let mut targets: Vec<(&str, String)> = entity
        .spec_str("target")
        .map(|t| (t, "spec.target".to_owned()))
        .into_iter()
        .collect();
    for (i, t) in entity.spec_strings("targets").into_iter().enumerate() {
        targets.push((t, format!("spec.targets.{i}")));
    }
    for (target, field) in targets {
        match policy.resolve(place, target) {
            Ok(p) => out.push(p),
            Err(reason) => report.rejected.push(problem(
                file,
                Some(doc.field_line(&field)),
                Some(entity.entity_ref().to_string()),
                format!("target \"{target}\" not followed: {reason}"),
            )),
        }
    }
    out
}

fn guess_ref(value: &Value) -> Option<EntityRef> {
    let kind = value.get("kind")?.as_str()?;
    let metadata = value.get("metadata")?;
    let name = metadata.get("name")?.as_str()?;
    let namespace = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_NAMESPACE);
    Some(EntityRef::new(kind, namespace, name))
}

fn place_target(place: &Place) -> String {
    match place {
        Place::File(p) => p.display().to_string(),
        Place::Url(u) => u.to_string(),
    }
}

fn file_of(place: &Place) -> String {
    place_target(place)
}

fn problem(file: &str, line: Option<usize>, entity: Option<String>, reason: String) -> Problem {
    Problem {
        file: file.to_owned(),
        line,
        entity,
        reason,
    }
}

/// Descriptor candidates under `dir`: `*.yaml` / `*.yml`, hidden entries
/// skipped, in name order.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, SqliteStore};
    use std::sync::Mutex;

    struct Fixture {
        dir: tempfile::TempDir,
        store: SqliteStore,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let db = Database::open(&dir.path().join("c.db")).unwrap();
            let store = SqliteStore::new(&db).unwrap();
            std::fs::create_dir(dir.path().join("cat")).unwrap();
            Fixture { dir, store }
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join("cat").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        fn import(&self, path: &Path) -> ImportReport {
            import_paths(&self.store, &[path.to_owned()], &ImportOptions::default()).unwrap()
        }
    }

    fn component(name: &str) -> String {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
        )
    }

    #[test]
    fn bad_documents_are_reported_with_file_line_and_reason_and_the_rest_imports() {
        let f = Fixture::new();
        let text = format!(
            "{}---\nkind: [broken\n---\napiVersion: backstage.io/v1alpha1\nkind: Template\nmetadata:\n  name: t\n---\n{}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: c\nspec:\n  type: service\n  lifecycle: x\n  owner: team-a\n  dependsOn:\n    - db\n",
            component("first"),
            component("last")
        );
        let path = f.write("catalog-info.yaml", &text);
        let report = f.import(&path);
        assert_eq!(
            report.added,
            ["component:default/first", "component:default/last"]
        );
        let shown: Vec<String> = report
            .rejected
            .iter()
            .map(|p| {
                let file = p.file.rsplit('/').next().unwrap().to_owned();
                format!("{file}:{}: {}", p.line.unwrap(), p.reason)
            })
            .collect();
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert!(
            shown[0].starts_with("catalog-info.yaml:10: invalid YAML in document 2:"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with("catalog-info.yaml:13: unknown kind \"Template\""),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with(
                "catalog-info.yaml:34: \"spec.dependsOn\": entity reference \"db\" had missing"
            ),
            "{}",
            shown[2]
        );
        assert_eq!(
            report.rejected[2].entity.as_deref(),
            Some("component:default/c")
        );
        assert!(
            report.rejected[2]
                .to_string()
                .contains(":34: component:default/c: \"spec.dependsOn\"")
        );
    }

    #[test]
    fn reimporting_is_idempotent_and_removed_entities_are_orphaned() {
        let f = Fixture::new();
        f.write("a.yaml", &component("a"));
        f.write(
            "sub/b.yaml",
            &format!("{}---\n{}", component("b"), component("c")),
        );
        let root = f.dir.path().join("cat");
        let report = f.import(&root);
        assert_eq!(report.added.len(), 3);
        assert_eq!(report.files, 2);
        let again = f.import(&root);
        assert_eq!(again.unchanged.len(), 3);
        assert!(again.added.is_empty() && again.changed.is_empty() && again.orphaned.is_empty());
        f.write("sub/b.yaml", &component("b"));
        let report = f.import(&root);
        assert_eq!(report.orphaned, ["component:default/c"]);
        assert_eq!(report.unchanged.len(), 2);
        let deleting = ImportOptions {
            orphans: OrphanPolicy::Delete,
            ..ImportOptions::default()
        };
        std::fs::remove_file(root.join("a.yaml")).unwrap();
        let report = import_paths(&f.store, &[root], &deleting).unwrap();
        assert_eq!(report.deleted, ["component:default/a"]);
    }

    #[test]
    fn entities_whose_file_breaks_keep_their_last_good_version() {
        let f = Fixture::new();
        let a = f.write(
            "a.yaml",
            &format!("{}---\n{}", component("a"), component("b")),
        );
        f.write("c.yaml", &component("c"));
        let root = f.dir.path().join("cat");
        f.import(&root);
        std::fs::write(&a, "kind: [broken\n").unwrap();
        let mut bad_c = component("c");
        bad_c = bad_c.replace("  lifecycle: production\n", "");
        f.write("c.yaml", &bad_c);
        let report = f.import(&root);
        assert!(report.orphaned.is_empty(), "{report:#?}");
        assert_eq!(report.rejected.len(), 2);
        assert_eq!(
            report.rejected[1].reason,
            "\"spec.lifecycle\" must have a value"
        );
        assert_eq!(report.rejected[1].line, Some(5));
        let kept = f
            .store
            .entity(&EntityRef::parse_full("component:c").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(kept.entity.lifecycle(), Some("production"));
    }

    #[test]
    fn locations_are_followed_once_and_may_not_leave_the_roots() {
        let f = Fixture::new();
        std::fs::write(f.dir.path().join("outside.yaml"), component("outside")).unwrap();
        f.write("one.yaml", &component("one"));
        let index = f.write(
            "index.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: index\nspec:\n  target: ./one.yaml\n  targets:\n    - ./one.yaml\n    - ./index.yaml\n    - ../outside.yaml\n    - https://example.com/x.yaml\n",
        );
        let report = f.import(&index);
        assert_eq!(
            report.added,
            ["location:default/index", "component:default/one"]
        );
        assert_eq!(report.files, 2);
        let reasons: Vec<&str> = report.rejected.iter().map(|p| p.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(
            reasons[0].contains("\"../outside.yaml\" not followed")
                && reasons[0].contains("outside the directories")
        );
        assert!(reasons[1].contains("host \"example.com\" is not in the import's allowed hosts"));
        assert_eq!(report.rejected[1].line, Some(11));
        let one = f
            .store
            .entity(&EntityRef::parse_full("component:one").unwrap())
            .unwrap()
            .unwrap();
        let annotations = &one.entity.metadata.annotations;
        assert!(annotations[MANAGED_BY_LOCATION].ends_with("/cat/one.yaml"));
        assert!(annotations[MANAGED_BY_ORIGIN_LOCATION].ends_with("/cat/index.yaml"));
        assert_eq!(one.source, annotations[MANAGED_BY_ORIGIN_LOCATION]);
    }

    #[test]
    fn directory_walks_skip_plain_yaml_but_named_files_must_be_entities() {
        let f = Fixture::new();
        let spec = f.write("openapi.yaml", "openapi: 3.0.0\ninfo:\n  title: x\n");
        f.write(".hidden/x.yaml", &component("hidden"));
        f.write("notes.txt", "not yaml");
        f.write("a.yml", &component("a"));
        let report = f.import(&f.dir.path().join("cat"));
        assert_eq!(report.added, ["component:default/a"]);
        assert!(report.rejected.is_empty());
        let report = f.import(&spec);
        assert_eq!(report.rejected.len(), 1);
        let reason = &report.rejected[0].reason;
        assert!(reason.starts_with("\"apiVersion\" must have a value; \"kind\" must have a value"));
        assert!(reason.contains("unknown root field \"openapi\""));
        let missing = f.import(&f.dir.path().join("nope.yaml"));
        assert!(missing.rejected[0].reason.starts_with("cannot read"));
    }

    #[test]
    fn api_definitions_that_do_not_parse_are_reported_at_their_line() {
        let f = Fixture::new();
        let api = |name: &str, definition: &str| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: |\n{definition}"
            )
        };
        let good = api(
            "good",
            "    openapi: 3.0.0\n    info: {title: Good, version: '1'}\n    paths:\n      /a:\n        get:\n          operationId: getA\n",
        );
        let bad = api("bad", "    openapi: 3.0.0\n    info: {title: Bad\n");
        let path = f.write("apis.yaml", &format!("{good}---\n{bad}"));
        let report = f.import(&path);
        assert_eq!(report.added, ["api:default/good"]);
        assert_eq!(report.rejected.len(), 1);
        let problem = &report.rejected[0];
        assert_eq!(problem.entity.as_deref(), Some("api:default/bad"));
        assert!(
            problem
                .reason
                .starts_with("\"spec.definition\" is not a valid openapi description: "),
            "{problem}"
        );
        assert_eq!(problem.line, Some(27), "{problem}");
        let ops = f
            .store
            .operations(&EntityRef::parse_full("api:good").unwrap())
            .unwrap();
        assert_eq!(ops[0].operation_id.as_deref(), Some("getA"));
    }

    #[test]
    fn duplicates_across_files_name_the_first_definition() {
        let f = Fixture::new();
        f.write("a.yaml", &component("same"));
        f.write("b.yaml", &component("Same"));
        let report = f.import(&f.dir.path().join("cat"));
        assert_eq!(report.added, ["component:default/same"]);
        assert_eq!(report.rejected.len(), 1);
        assert!(
            report.rejected[0]
                .reason
                .starts_with("the entity is already defined at ")
        );
        assert!(report.rejected[0].reason.ends_with("/cat/a.yaml:1"));
    }

    #[test]
    fn progress_covers_reading_and_writing() {
        let f = Fixture::new();
        f.write("a.yaml", &component("a"));
        f.write("b.yaml", &component("b"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let options = ImportOptions {
            progress: Some(Arc::new(move |p| sink.lock().unwrap().push(p))),
            ..ImportOptions::default()
        };
        import_paths(&f.store, &[f.dir.path().join("cat")], &options).unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.first(),
            Some(&Progress {
                stage: Stage::Reading,
                done: 1,
                total: 2
            })
        );
        assert_eq!(
            seen.last(),
            Some(&Progress {
                stage: Stage::Writing,
                done: 2,
                total: 2
            })
        );
    }
}
