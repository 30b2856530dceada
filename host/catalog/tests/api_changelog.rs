//! API changelogs through imports and the [`CatalogStore`] trait, each test on a fresh
//! temporary database: entries computed at publication, `breaking_changes = "refuse"`,
//! documents that cannot be compared, owner summaries, deprecations that outlive re-imports,
//! and the portal-wide changelog keeping to what the audience may see.

use std::path::PathBuf;

use portico_catalog::spec::VersionLifecycle;
use portico_catalog::{
    Audience, BreakingChanges, CatalogError, CatalogStore, Database, Deprecation, EntityRef,
    EntryKind, ImportOptions, ImportReport, SqliteStore, import_paths,
};

struct Catalogue {
    dir: tempfile::TempDir,
    store: SqliteStore,
}

impl Catalogue {
    fn new(policy: BreakingChanges) -> Catalogue {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("catalog.db")).unwrap();
        let store = SqliteStore::new(&db).unwrap().with_breaking_changes(policy);
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
            .versions(&api(name))
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect()
    }
}

fn api(name: &str) -> EntityRef {
    EntityRef::new("api", "default", name)
}

fn openapi(title: &str, version: &str, ops: &[&str]) -> String {
    let mut text =
        format!("openapi: 3.0.3\ninfo:\n  title: {title}\n  version: '{version}'\npaths:\n");
    for op in ops {
        text.push_str(&format!(
            "  /{op}:\n    get:\n      operationId: {op}\n      responses: {{'200': {{description: ok}}}}\n"
        ));
    }
    text
}

fn descriptor(name: &str, file: &str, extra: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\n{extra}spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./{file}\n"
    )
}

#[test]
fn a_minor_version_removing_an_operation_is_logged_as_unbumped_breaking() {
    let c = Catalogue::new(BreakingChanges::Warn);
    c.write("pets.yaml", &descriptor("pets", "def.yaml", ""));
    c.write("def.yaml", &openapi("Pets", "1.0.0", &["pets", "owners"]));
    c.import();
    c.write("def.yaml", &openapi("Pets", "1.1.0", &["pets"]));
    let report = c.import();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(c.versions("pets"), ["1.1.0", "1.0.0"]);
    let log = c.store.changelog(&api("pets")).unwrap();
    let versions: Vec<&str> = log.iter().map(|e| e.version.as_str()).collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"], "newest first");
    let entry = &log[0];
    assert_eq!(entry.kind, EntryKind::Version);
    assert_eq!(entry.previous_version.as_deref(), Some("1.0.0"));
    assert_eq!((entry.breaking, entry.non_breaking), (1, 0));
    assert!(entry.unbumped_breaking);
    assert_eq!(entry.changes[0].rule, "path-removed");
    assert!(entry.generated.contains("/owners"), "{}", entry.generated);
    assert_eq!(log[1].previous_version, None);
    assert_eq!(entry.api, "api:default/pets");
}

#[test]
fn refusing_unbumped_breaking_changes_keeps_the_previous_version_and_the_rest_of_the_import() {
    let c = Catalogue::new(BreakingChanges::Refuse);
    c.write("pets.yaml", &descriptor("pets", "def.yaml", ""));
    c.write("def.yaml", &openapi("Pets", "1.0.0", &["pets", "owners"]));
    c.import();
    c.write("def.yaml", &openapi("Pets", "1.1.0", &["pets"]));
    c.write("stores.yaml", &descriptor("stores", "stores-def.yaml", ""));
    c.write("stores-def.yaml", &openapi("Stores", "1.0.0", &["stores"]));
    let report = c.import();
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    let reason = &report.rejected[0].reason;
    assert!(
        reason.contains("version 1.1.0")
            && reason.contains("version 1.0.0")
            && reason.contains("1 breaking change"),
        "{reason}"
    );
    assert_eq!(
        report.rejected[0].entity.as_deref(),
        Some("api:default/pets")
    );
    assert_eq!(report.added, ["api:default/stores"]);
    assert_eq!(c.versions("pets"), ["1.0.0"]);
    let stored = c.store.entity(&api("pets")).unwrap().unwrap();
    assert!(
        stored.entity.definition().unwrap().contains("owners"),
        "the entity keeps its last good definition"
    );
    // A major bump is published.
    c.write("def.yaml", &openapi("Pets", "2.0.0", &["pets"]));
    let report = c.import();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(c.versions("pets"), ["2.0.0", "1.0.0"]);
}

#[test]
fn documents_of_different_apis_are_published_with_the_reason_they_were_not_compared() {
    let c = Catalogue::new(BreakingChanges::Refuse);
    c.write("pets.yaml", &descriptor("pets", "def.yaml", ""));
    c.write("def.yaml", &openapi("Pets", "1.0.0", &["pets"]));
    c.import();
    c.write("def.yaml", &openapi("Stores", "1.1.0", &["stores"]));
    let report = c.import();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(c.versions("pets"), ["1.1.0", "1.0.0"]);
    let entry = &c.store.changelog(&api("pets")).unwrap()[0];
    let error = entry.diff_error.as_deref().unwrap();
    assert!(error.contains("different APIs"), "{error}");
    assert!(entry.changes.is_empty() && !entry.unbumped_breaking);
}

#[test]
fn a_portal_deprecation_outlives_reimports_and_enters_the_changelog() {
    let c = Catalogue::new(BreakingChanges::Warn);
    c.write("pets.yaml", &descriptor("pets", "def.yaml", ""));
    c.write("def.yaml", &openapi("Pets", "1.0.0", &["pets"]));
    c.import();
    let deprecation = Deprecation {
        sunset: Some("2027-06-30".into()),
        migration: Some("Move to **v2**.".into()),
    };
    c.store
        .deprecate_version(&api("pets"), "1.0.0", &deprecation, "alice")
        .unwrap();
    c.write("def.yaml", &openapi("Pets", "1.0.0", &["pets", "more"]));
    c.import();
    let v = &c.store.versions(&api("pets")).unwrap()[0];
    assert_eq!(
        v.lifecycle,
        VersionLifecycle::Deprecated {
            sunset: Some("2027-06-30".into())
        }
    );
    assert_eq!(v.migration.as_deref(), Some("Move to **v2**."));
    assert!(v.deprecated_at.is_some());
    let log = c.store.changelog(&api("pets")).unwrap();
    let deprecation_entry = log
        .iter()
        .find(|e| e.kind == EntryKind::Deprecation)
        .unwrap();
    assert!(deprecation_entry.generated.contains("2027-06-30"));

    let bad = Deprecation {
        sunset: Some("2027-02-30".into()),
        migration: None,
    };
    let err = c
        .store
        .deprecate_version(&api("pets"), "1.0.0", &bad, "alice")
        .unwrap_err();
    assert!(matches!(err, CatalogError::Invalid(_)), "{err:?}");
    let err = c
        .store
        .deprecate_version(&api("pets"), "9.9.9", &deprecation, "alice")
        .unwrap_err();
    assert!(matches!(err, CatalogError::NotFound(_)), "{err:?}");

    assert!(c.store.undeprecate_version(&api("pets"), "1.0.0").unwrap());
    let v = &c.store.versions(&api("pets")).unwrap()[0];
    assert_eq!(v.lifecycle, VersionLifecycle::Production);
    assert!(v.deprecated_at.is_none());
    let log = c.store.changelog(&api("pets")).unwrap();
    assert!(log.iter().all(|e| e.kind == EntryKind::Version));
}

#[test]
fn owners_replace_the_generated_summary_and_blank_restores_it() {
    let c = Catalogue::new(BreakingChanges::Warn);
    c.write("pets.yaml", &descriptor("pets", "def.yaml", ""));
    c.write("def.yaml", &openapi("Pets", "1.0.0", &["pets"]));
    c.import();
    let edited = c
        .store
        .edit_changelog(&api("pets"), "1.0.0", Some("Hello *world*"), "alice")
        .unwrap();
    assert_eq!(edited.text(), "Hello *world*");
    assert_eq!(edited.edited_by.as_deref(), Some("alice"));
    // A changed document keeps the owner's words.
    c.write("def.yaml", &openapi("Pets", "1.0.0", &["pets", "more"]));
    c.import();
    let entry = &c.store.changelog(&api("pets")).unwrap()[0];
    assert_eq!(entry.summary.as_deref(), Some("Hello *world*"));
    let restored = c
        .store
        .edit_changelog(&api("pets"), "1.0.0", Some("  "), "alice")
        .unwrap();
    assert_eq!(restored.summary, None);
    assert_eq!(restored.text(), restored.generated);
    let err = c
        .store
        .edit_changelog(&api("pets"), "3.0.0", Some("x"), "alice")
        .unwrap_err();
    assert!(matches!(err, CatalogError::NotFound(_)), "{err:?}");
}

#[test]
fn the_portal_changelog_keeps_to_apis_the_audience_sees() {
    let c = Catalogue::new(BreakingChanges::Warn);
    c.write("pets.yaml", &descriptor("pets", "pets-def.yaml", ""));
    c.write("pets-def.yaml", &openapi("Pets", "1.0.0", &["pets"]));
    c.write(
        "secret.yaml",
        &descriptor(
            "secret",
            "secret-def.yaml",
            "  annotations:\n    portico.dev/visibility: internal\n",
        ),
    );
    c.write("secret-def.yaml", &openapi("Secret", "1.0.0", &["secret"]));
    c.import();
    let everyone = c.store.recent_changelog(&Audience::member(), 10).unwrap();
    assert_eq!(everyone.len(), 2);
    let outsider = Audience::outsider(Vec::<String>::new());
    let visible = c.store.recent_changelog(&outsider, 10).unwrap();
    let apis: Vec<&str> = visible.iter().map(|e| e.api.as_str()).collect();
    assert_eq!(apis, ["api:default/pets"]);
    assert_eq!(
        c.store
            .recent_changelog(&Audience::member(), 1)
            .unwrap()
            .len(),
        1
    );
}
