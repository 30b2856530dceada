//! API versions through imports and the [`CatalogStore`] trait, each test on
//! a fresh temporary database and catalogue directory: publication history,
//! idempotent re-imports, content-addressed documents, ordering, environments
//! and the operation index following the newest version.

use std::path::PathBuf;

use portico_catalog::spec::{ParsedSpec, SpecHint, VersionLifecycle};
use portico_catalog::{
    CatalogError, CatalogStore, Database, EntityRef, ImportOptions, ImportReport, PublishOutcome,
    SearchQuery, SqliteStore, VersionDraft, import_paths,
};

struct Catalogue {
    dir: tempfile::TempDir,
    store: SqliteStore,
}

impl Catalogue {
    fn new() -> Catalogue {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("catalog.db")).unwrap();
        let store = SqliteStore::new(&db).unwrap();
        std::fs::create_dir(dir.path().join("cat")).unwrap();
        Catalogue { dir, store }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join("cat").join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn import(&self) -> ImportReport {
        let root = self.dir.path().join("cat");
        import_paths(&self.store, &[root], &ImportOptions::default()).unwrap()
    }

    fn versions(&self, name: &str) -> Vec<String> {
        self.store
            .versions(&pets(name))
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect()
    }
}

fn pets(name: &str) -> EntityRef {
    EntityRef::new("api", "default", name)
}

/// An OpenAPI document with one operation per entry of `ops`.
fn openapi(version: &str, ops: &[&str]) -> String {
    let mut text = format!(
        "openapi: 3.0.3\ninfo:\n  title: Pets\n  version: '{version}'\nservers:\n  - url: https://api.example.com\n  - url: https://sandbox.example.com\n    description: Sandbox\npaths:\n"
    );
    for op in ops {
        text.push_str(&format!("  /{op}:\n    get:\n      operationId: {op}\n"));
    }
    text
}

/// An API descriptor whose definition is `definition.yaml`, with extra spec lines.
fn descriptor(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./definition.yaml\n{extra}"
    )
}

#[test]
fn reimporting_identical_content_changes_nothing() {
    let c = Catalogue::new();
    c.write("definition.yaml", &openapi("1.0.0", &["listPets"]));
    c.write("api.yaml", &descriptor("pets", ""));
    let first = c.import();
    assert_eq!(first.added, ["api:default/pets"]);
    let before = c.store.versions(&pets("pets")).unwrap();
    assert_eq!(before.len(), 1);

    let again = c.import();
    assert_eq!(again.unchanged, ["api:default/pets"]);
    assert!(again.added.is_empty() && again.changed.is_empty());
    assert_eq!(
        c.store.versions(&pets("pets")).unwrap(),
        before,
        "same rows, same timestamps"
    );
}

#[test]
fn a_new_info_version_adds_a_version_and_keeps_the_old_ones() {
    let c = Catalogue::new();
    c.write("definition.yaml", &openapi("1.0.0", &["listPets"]));
    c.write("api.yaml", &descriptor("pets", ""));
    c.import();
    let v1 = c.store.versions(&pets("pets")).unwrap().remove(0);

    c.write(
        "definition.yaml",
        &openapi("1.1.0", &["listPets", "adoptPet"]),
    );
    let report = c.import();
    assert_eq!(report.changed, ["api:default/pets"]);
    assert_eq!(c.versions("pets"), ["1.1.0", "1.0.0"]);
    let versions = c.store.versions(&pets("pets")).unwrap();
    assert_eq!(versions[1], v1, "the old version is kept as it was");
    assert!(versions[0].published_at > v1.published_at);

    // The operation index (and search) follow the newest version.
    let ops = c.store.operations(&pets("pets")).unwrap();
    assert_eq!(ops.len(), 2);
    let hits = c
        .store
        .search(&SearchQuery {
            text: "adoptPet".into(),
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(hits.hits[0].name, "pets");

    // Each version keeps its own document and operations.
    let old = c.store.version(&pets("pets"), "1.0.0").unwrap().unwrap();
    assert_eq!(old.operations.len(), 1);
    let document = c
        .store
        .spec_document(&old.version.spec_hash)
        .unwrap()
        .unwrap();
    assert_eq!(document.content, openapi("1.0.0", &["listPets"]));
    assert_eq!(document.media_type, "application/yaml");
}

#[test]
fn the_same_version_with_new_content_replaces_its_document() {
    let c = Catalogue::new();
    c.write("definition.yaml", &openapi("1.0.0", &["listPets"]));
    c.write("api.yaml", &descriptor("pets", ""));
    c.import();
    let before = c.store.versions(&pets("pets")).unwrap().remove(0);

    c.write(
        "definition.yaml",
        &openapi("1.0.0", &["listPets", "fixTypo"]),
    );
    assert_eq!(c.import().changed, ["api:default/pets"]);
    let after = c.store.versions(&pets("pets")).unwrap();
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].spec_hash, before.spec_hash);
    assert_eq!(
        after[0].published_at, before.published_at,
        "first seen stays"
    );
    assert!(
        c.store.spec_document(&before.spec_hash).unwrap().is_none(),
        "a document no version uses is forgotten"
    );
}

#[test]
fn documents_are_stored_once_whatever_the_number_of_versions_using_them() {
    let c = Catalogue::new();
    let shared = openapi("1.0.0", &["listPets"]);
    c.write("definition.yaml", &shared);
    c.write("api.yaml", &descriptor("pets", ""));
    c.write("other.yaml", &descriptor("pets-copy", ""));
    c.import();
    let a = c.store.versions(&pets("pets")).unwrap().remove(0);
    let b = c.store.versions(&pets("pets-copy")).unwrap().remove(0);
    assert_eq!(a.spec_hash, b.spec_hash);
    assert_eq!(
        a.spec_hash,
        portico_catalog::spec::content_hash(shared.as_bytes())
    );
    assert!(c.store.delete_entity(&pets("pets")).unwrap());
    assert!(
        c.store.spec_document(&b.spec_hash).unwrap().is_some(),
        "still used by the other API"
    );
    assert!(c.store.delete_entity(&pets("pets-copy")).unwrap());
    assert!(c.store.spec_document(&b.spec_hash).unwrap().is_none());
}

#[test]
fn listed_versions_lifecycles_sunsets_and_environments_are_stored() {
    let c = Catalogue::new();
    c.write("definition.yaml", &openapi("v2", &["listPets"]));
    c.write("v1.yaml", &openapi("1.9.0", &["pets"]));
    c.write(
        "api.yaml",
        &descriptor(
            "pets",
            "  versions:\n    - definition:\n        $text: ./v1.yaml\n      lifecycle: deprecated\n      sunset: 2027-06-30\n      migration: Move to v2.\n      environments:\n        - name: production\n          url: https://v1.example.com\n",
        ),
    );
    let report = c.import();
    assert!(report.rejected.is_empty(), "{report:?}");
    let versions = c.store.versions(&pets("pets")).unwrap();
    let names: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(names, ["v2", "1.9.0"], "semver, newest first");
    assert_eq!(versions[0].lifecycle, VersionLifecycle::Production);
    let envs: Vec<(&str, &str)> = versions[0]
        .environments
        .iter()
        .map(|e| (e.name.as_str(), e.url.as_str()))
        .collect();
    assert_eq!(
        envs,
        [
            ("production", "https://api.example.com"),
            ("sandbox", "https://sandbox.example.com")
        ]
    );
    assert_eq!(
        versions[1].lifecycle,
        VersionLifecycle::Deprecated {
            sunset: Some("2027-06-30".into())
        }
    );
    assert_eq!(versions[1].migration.as_deref(), Some("Move to v2."));
    assert_eq!(versions[1].environments[0].url, "https://v1.example.com");
    assert!(versions[0].source.starts_with("file:"));
    assert!(versions[0].location.ends_with("/cat/api.yaml"));
}

#[test]
fn versions_that_are_not_semver_are_ordered_by_publication() {
    let c = Catalogue::new();
    c.write("api.yaml", &descriptor("pets", ""));
    for version in ["2024-06-01", "beta", "2023-01-01"] {
        c.write("definition.yaml", &openapi(version, &["listPets"]));
        c.import();
    }
    assert_eq!(c.versions("pets"), ["2023-01-01", "beta", "2024-06-01"]);
}

#[test]
fn bad_listed_versions_reject_the_entity_at_their_line_and_keep_the_last_good_one() {
    let c = Catalogue::new();
    c.write("definition.yaml", &openapi("2.0.0", &["listPets"]));
    c.write("api.yaml", &descriptor("pets", ""));
    c.import();
    c.write(
        "api.yaml",
        &descriptor(
            "pets",
            "  versions:\n    - version: 1.0.0\n      definition: |\n        openapi: 3.0.3\n        info: {title: P, version: '1.0.0'}\n        paths: {}\n      lifecycle: deprecated\n      sunset: 2027-02-30\n",
        ),
    );
    let report = c.import();
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let problem = &report.rejected[0];
    assert_eq!(problem.entity.as_deref(), Some("api:default/pets"));
    assert_eq!(
        problem.reason,
        "\"spec.versions.0.sunset\": sunset \"2027-02-30\" is not a YYYY-MM-DD date"
    );
    assert_eq!(problem.line, Some(18));
    assert!(report.orphaned.is_empty());
    assert_eq!(c.versions("pets"), ["2.0.0"]);
}

fn draft(text: &str) -> VersionDraft {
    VersionDraft::from_spec(&ParsedSpec::parse(text.as_bytes(), &SpecHint::default()).unwrap())
}

#[test]
fn publishing_directly_adds_updates_or_leaves_a_version() {
    let c = Catalogue::new();
    c.write("definition.yaml", &openapi("1.0.0", &["listPets"]));
    c.write("api.yaml", &descriptor("pets", ""));
    c.import();
    let mut next = draft(&openapi("1.1.0", &["listPets", "adoptPet"]));
    next.lifecycle = VersionLifecycle::Experimental;
    let publish = |d: &VersionDraft| c.store.publish_version(&pets("pets"), d).unwrap();
    assert_eq!(publish(&next), PublishOutcome::Added);
    assert_eq!(publish(&next), PublishOutcome::Unchanged);
    next.environments.truncate(1);
    assert_eq!(publish(&next), PublishOutcome::Changed);
    assert_eq!(c.versions("pets"), ["1.1.0", "1.0.0"]);
    assert_eq!(c.store.operations(&pets("pets")).unwrap().len(), 2);
    let stored = c.store.version(&pets("pets"), "1.1.0").unwrap().unwrap();
    assert_eq!(stored.version.lifecycle, VersionLifecycle::Experimental);
    assert_eq!(stored.version.environments.len(), 1);

    let missing = c.store.publish_version(&pets("nope"), &next);
    assert!(
        matches!(missing, Err(CatalogError::NotFound(_))),
        "{missing:?}"
    );
    assert!(c.store.version(&pets("pets"), "9.9.9").unwrap().is_none());
    assert!(c.store.versions(&pets("nope")).unwrap().is_empty());
}
