//! Backstage's own example catalogue (`packages/catalog-model/examples`,
//! stored unchanged under `fixtures/backstage-examples`) imports as Backstage
//! would: every entity, Groups and Users included, relations both ways, and
//! the one deliberately invalid component rejected with file and reason.

use std::path::PathBuf;
use std::sync::Arc;

use portico_catalog::{
    CatalogStore, Database, EntityFilter, EntityRef, ImportOptions, ImportReport,
    MANAGED_BY_LOCATION, SearchQuery, SqliteStore, UrlReader, import_paths,
};

/// Stands in for the network: the examples' `$text` URLs point at GitHub.
struct CannedGitHub;

impl UrlReader for CannedGitHub {
    fn read_url(&self, url: &portico_catalog::Url) -> Result<String, String> {
        Ok(format!(
            "openapi: 3.0.0\ninfo:\n  title: canned copy of {url}\n  version: 1.0.0\n\
             paths:\n  /ping:\n    get:\n      operationId: ping\n      responses: {{}}\n"
        ))
    }
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/backstage-examples")
}

fn fresh_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("catalog.db")).unwrap();
    let store = SqliteStore::new(&db).unwrap();
    (dir, store)
}

fn with_github() -> ImportOptions {
    ImportOptions {
        allowed_hosts: vec!["github.com".into()],
        url_reader: Some(Arc::new(CannedGitHub)),
        ..ImportOptions::default()
    }
}

/// What Backstage's app-config registers: the examples and the org.
fn import_registered(store: &SqliteStore, options: &ImportOptions) -> ImportReport {
    let paths = [
        examples().join("all.yaml"),
        examples().join("acme/org.yaml"),
        examples().join("components/invalid-component.yaml"),
    ];
    import_paths(store, &paths, options).unwrap()
}

fn relations_of(store: &SqliteStore, entity: &str) -> Vec<String> {
    let stored = store
        .entity(&EntityRef::parse_full(entity).unwrap())
        .unwrap()
        .unwrap_or_else(|| panic!("{entity} is missing"));
    stored
        .entity
        .relations
        .iter()
        .map(|r| format!("{} {}", r.relation_type, r.target))
        .collect()
}

#[test]
fn every_example_imports_and_only_the_invalid_component_is_rejected() {
    let (_dir, store) = fresh_store();
    let report = import_registered(&store, &with_github());

    assert_eq!(report.rejected.len(), 1, "{:#?}", report.rejected);
    let invalid = &report.rejected[0];
    assert!(
        invalid
            .file
            .ends_with("backstage-examples/components/invalid-component.yaml")
    );
    assert_eq!(invalid.line, Some(4));
    assert_eq!(
        invalid.entity.as_deref(),
        Some("component:default/invalid component")
    );
    assert_eq!(
        invalid.reason,
        "\"metadata.name\" is not valid; expected a string that is sequences of [a-zA-Z0-9] \
         separated by any of [-_.], at most 63 characters in total but found \"invalid component\"; \
         \"metadata.tags.1\" is not valid; expected a string that is sequences of [a-z0-9:+#] \
         separated by [-], at most 63 characters in total but found \"go 1.15.3\""
    );
    assert!(invalid.to_string().contains("invalid-component.yaml:4: component:default/invalid component: \"metadata.name\" is not valid"));

    let kinds = store
        .facets(&EntityFilter::default(), &["kind".into()])
        .unwrap();
    let kinds: Vec<(&str, usize)> = kinds["kind"]
        .iter()
        .map(|f| (f.value.as_str(), f.count))
        .collect();
    assert_eq!(
        kinds,
        [
            ("User", 17),
            ("Component", 13),
            ("API", 10),
            ("Group", 9),
            ("Location", 8),
            ("AiResource", 3),
            ("Domain", 3),
            ("System", 3),
            ("Resource", 1),
        ]
    );
    assert_eq!(report.added.len(), 67);
    assert_eq!(report.files, 50);
}

#[test]
fn example_relations_come_out_both_ways() {
    let (_dir, store) = fresh_store();
    import_registered(&store, &with_github());
    let pairs = [
        (
            "component:default/petstore",
            "providesApi api:default/petstore",
            "api:default/petstore",
            "apiProvidedBy component:default/petstore",
        ),
        (
            "component:default/petstore",
            "ownedBy group:default/team-c",
            "group:default/team-c",
            "ownerOf component:default/petstore",
        ),
        (
            "component:default/wayback-search",
            "consumesApi api:default/wayback-archive",
            "api:default/wayback-archive",
            "apiConsumedBy component:default/wayback-search",
        ),
        (
            "component:default/wayback-archive-storage",
            "partOf component:default/wayback-archive",
            "component:default/wayback-archive",
            "hasPart component:default/wayback-archive-storage",
        ),
        (
            "component:default/artist-lookup",
            "partOf system:default/artist-engagement-portal",
            "system:default/artist-engagement-portal",
            "hasPart component:default/artist-lookup",
        ),
        (
            "system:default/artist-engagement-portal",
            "partOf domain:default/artists",
            "domain:default/artists",
            "hasPart system:default/artist-engagement-portal",
        ),
        (
            "domain:default/artists",
            "partOf domain:default/audio",
            "domain:default/audio",
            "hasPart domain:default/artists",
        ),
        (
            "resource:default/artists-db",
            "partOf system:default/artist-engagement-portal",
            "system:default/artist-engagement-portal",
            "hasPart resource:default/artists-db",
        ),
        (
            "group:default/team-a",
            "childOf group:default/backstage",
            "group:default/backstage",
            "parentOf group:default/team-a",
        ),
        (
            "group:default/infrastructure",
            "childOf group:default/acme-corp",
            "group:default/acme-corp",
            "parentOf group:default/infrastructure",
        ),
        (
            "user:default/breanna.davison",
            "memberOf group:default/team-a",
            "group:default/team-a",
            "hasMember user:default/breanna.davison",
        ),
        (
            "user:development/guest",
            "memberOf group:default/team-a",
            "group:default/team-a",
            "hasMember user:development/guest",
        ),
        (
            "component:default/searcher",
            "ownedBy user:default/guest",
            "user:default/guest",
            "ownerOf component:default/searcher",
        ),
        (
            "airesource:default/frontend-design",
            "ownedBy group:default/team-a",
            "group:default/team-a",
            "ownerOf airesource:default/frontend-design",
        ),
    ];
    for (from, forward, to, backward) in pairs {
        let there = relations_of(&store, from);
        assert!(
            there.contains(&forward.to_owned()),
            "{from} lacks {forward}: {there:#?}"
        );
        let back = relations_of(&store, to);
        assert!(
            back.contains(&backward.to_owned()),
            "{to} lacks {backward}: {back:#?}"
        );
    }
    // Declared from both ends (parent and children), listed once.
    let team_a = relations_of(&store, "group:default/team-a");
    assert_eq!(
        team_a
            .iter()
            .filter(|r| *r == "childOf group:default/backstage")
            .count(),
        1
    );
}

#[test]
fn placeholders_and_provenance_are_filled_in() {
    let (_dir, store) = fresh_store();
    import_registered(&store, &with_github());
    let webhook = store
        .entity(&EntityRef::parse_full("api:petstore-webhook").unwrap())
        .unwrap()
        .unwrap();
    let on_disk =
        std::fs::read_to_string(examples().join("apis/petstore-webhook.oas.yaml")).unwrap();
    assert_eq!(webhook.entity.definition(), Some(on_disk.as_str()));
    assert!(
        webhook.entity.metadata.annotations[MANAGED_BY_LOCATION]
            .ends_with("/apis/petstore-webhook-api.yaml")
    );
    assert!(
        webhook.source.starts_with("file:")
            && webhook.source.ends_with("/backstage-examples/all.yaml")
    );
    let spotify = store
        .entity(&EntityRef::parse_full("api:spotify").unwrap())
        .unwrap()
        .unwrap();
    assert!(
        spotify
            .entity
            .definition()
            .unwrap()
            .contains("canned copy of https://github.com/APIs-guru/")
    );
    let mcp = store
        .entity(&EntityRef::parse_full("api:backstage-mcp-server").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(mcp.entity.spec_type(), Some("mcp-server"));
}

#[test]
fn reimporting_the_examples_changes_nothing() {
    let (_dir, store) = fresh_store();
    let first = import_registered(&store, &with_github());
    let again = import_registered(&store, &with_github());
    assert_eq!(again.unchanged.len(), first.added.len());
    assert!(again.added.is_empty() && again.changed.is_empty());
    assert!(again.orphaned.is_empty() && again.deleted.is_empty());
}

#[test]
fn without_allowed_hosts_remote_placeholders_are_refused_per_entity() {
    let (_dir, store) = fresh_store();
    let report = import_registered(&store, &ImportOptions::default());
    let mut refused: Vec<(String, String)> = report
        .rejected
        .iter()
        .map(|p| (p.entity.clone().unwrap_or_default(), p.reason.clone()))
        .collect();
    refused.sort();
    assert_eq!(refused.len(), 4, "{refused:#?}");
    for (entity, reason) in &refused[..3] {
        assert!(entity.starts_with("api:default/"), "{entity}");
        assert!(
            reason.starts_with("\"spec.definition\": $text: reading https://github.com/")
                && reason.ends_with(
                    "is not allowed: host \"github.com\" is not in the import's allowed hosts"
                ),
            "{reason}"
        );
    }
    assert_eq!(report.added.len(), 67 - 3);
}

#[test]
fn importing_the_whole_folder_reports_what_cannot_be_followed() {
    let (_dir, store) = fresh_store();
    let report = import_paths(&store, &[examples()], &with_github()).unwrap();
    let reasons: Vec<String> = report.rejected.iter().map(ToString::to_string).collect();
    // The invalid component, and acme-corp.yaml's target: a GitHub URL that
    // (served by the canned reader) holds no entity.
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("invalid-component.yaml:4"))
    );
    assert!(reasons.iter().any(|r| r.contains("https://github.com/spotify/backstage/blob/master/packages/catalog-model/examples/acme/org.yaml")));
    // Everything under the folder, including files no Location lists.
    assert_eq!(
        report.added.len(),
        67 + 2,
        "plus company-ai-tools and the acme-corp Location"
    );
}

#[test]
fn searching_the_examples_puts_exact_names_first() {
    let (_dir, store) = fresh_store();
    import_registered(&store, &with_github());
    let results = store
        .search(&SearchQuery {
            text: "petstore".into(),
            ..SearchQuery::default()
        })
        .unwrap();
    let top: Vec<&str> = results
        .hits
        .iter()
        .take(2)
        .map(|h| h.entity_ref.as_str())
        .collect();
    assert_eq!(top, ["api:default/petstore", "component:default/petstore"]);
    assert!(results.hits[2..].iter().all(|h| !h.exact));
    let apis = store
        .search(&SearchQuery {
            text: String::new(),
            filters: vec![
                ("kind".into(), "api".into()),
                ("type".into(), "openapi".into()),
            ],
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(apis.total, 5);
    let owners: Vec<(&str, usize)> = apis.facets["owner"]
        .iter()
        .map(|f| (f.value.as_str(), f.count))
        .collect();
    assert_eq!(
        owners,
        [("group:default/team-a", 3), ("group:default/team-c", 2)]
    );
}

#[test]
fn example_api_definitions_are_indexed_and_searchable() {
    let (_dir, store) = fresh_store();
    import_registered(&store, &with_github());
    let ops = |entity: &str| -> Vec<String> {
        store
            .operations(&EntityRef::parse_full(entity).unwrap())
            .unwrap()
            .into_iter()
            .map(|op| format!("{} {}", op.method, op.path))
            .collect()
    };
    assert_eq!(
        ops("api:petstore"),
        ["GET /pets", "POST /pets", "GET /pets/{petId}"]
    );
    assert!(!ops("api:streetlights").is_empty());
    assert!(!ops("api:starwars-graphql").is_empty());
    assert_eq!(ops("api:spotify"), ["GET /ping"]);
    assert!(ops("api:hello-world").is_empty(), "gRPC is kept as text");
    let found = store
        .search(&SearchQuery {
            text: "showPetById".into(),
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(found.hits.len(), 1);
    assert_eq!(found.hits[0].entity_ref, "api:default/petstore");
}
