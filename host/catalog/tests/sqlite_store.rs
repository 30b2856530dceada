//! The SQLite store's behaviour through the [`CatalogStore`] trait, each test
//! on a fresh temporary database: idempotent re-imports, orphaning,
//! provenance conflicts, relations, filters, fields, order, cursors, facets,
//! search ranking and the operation index.

use portico_catalog::{
    Audience, CatalogError, CatalogStore, Condition, Database, Entity, EntityFilter, EntityRef,
    Fields, FullTextFilter, ListQuery, OperationRow, Order, OrphanPolicy, PageQuery, SearchQuery,
    SourceSync, SqliteStore, SyncOutcome, parse_entity, upsert_entities,
};
use serde_json::{Value, json};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("catalog.db")).unwrap();
    let store = SqliteStore::new(&db).unwrap();
    (dir, store)
}

fn component(name: &str, owner: &str, kind_type: &str) -> Entity {
    parse_entity(&json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": name, "tags": ["java"]},
        "spec": {"type": kind_type, "lifecycle": "production", "owner": owner}
    }))
    .unwrap()
}

fn api(name: &str, description: &str) -> Entity {
    parse_entity(&json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "API",
        "metadata": {"name": name, "description": description, "tags": ["rest"]},
        "spec": {"type": "openapi", "lifecycle": "experimental", "owner": "team-a",
                 "definition": "openapi: 3.0.0"}
    }))
    .unwrap()
}

fn sync(
    store: &SqliteStore,
    source: &str,
    entities: Vec<Entity>,
    orphans: OrphanPolicy,
) -> SyncOutcome {
    let sync = SourceSync {
        source: source.into(),
        source_type: "file".into(),
        target: source.into(),
        entities: entities
            .into_iter()
            .map(|e| (e, format!("{source}#loc")))
            .collect(),
        complete: true,
        orphans,
        ..SourceSync::default()
    };
    store.sync_source(&sync, &mut |_, _| {}).unwrap()
}

/// Entities as JSON values, however the store hands them out.
fn values<T: serde::Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .map(|item| serde_json::to_value(item).unwrap())
        .collect()
}

fn names<T: serde::Serialize>(items: &[T]) -> Vec<String> {
    values(items)
        .iter()
        .map(|v| {
            v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn list(store: &SqliteStore, filter: &[&str]) -> Vec<String> {
    let query = ListQuery {
        filter: EntityFilter::parse(filter)
            .unwrap()
            .visible_to(Audience::member()),
        ..ListQuery::default()
    };
    names(&store.list_entities(&query).unwrap())
}

#[test]
fn reimporting_identical_content_changes_nothing() {
    let (_dir, store) = store();
    let first = sync(
        &store,
        "file:/a",
        vec![component("a", "team-a", "service")],
        OrphanPolicy::Keep,
    );
    assert_eq!(first.added, ["component:default/a"]);
    let before = store
        .entity(&EntityRef::parse_full("component:a").unwrap())
        .unwrap()
        .unwrap();
    let again = sync(
        &store,
        "file:/a",
        vec![component("a", "team-a", "service")],
        OrphanPolicy::Keep,
    );
    assert_eq!(again.unchanged, ["component:default/a"]);
    assert!(again.added.is_empty() && again.changed.is_empty() && again.orphaned.is_empty());
    let after = store
        .entity(&EntityRef::parse_full("component:a").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(before, after);
    let changed = sync(
        &store,
        "file:/a",
        vec![component("a", "team-b", "service")],
        OrphanPolicy::Keep,
    );
    assert_eq!(changed.changed, ["component:default/a"]);
    let updated = store
        .entity(&EntityRef::parse_full("component:a").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(updated.entity.metadata.uid, before.entity.metadata.uid);
    assert_ne!(updated.entity.metadata.etag, before.entity.metadata.etag);
    assert_eq!(
        list(&store, &["relations.ownedby=group:default/team-b"]),
        ["a"]
    );
    assert!(list(&store, &["relations.ownedby=group:default/team-a"]).is_empty());
}

#[test]
fn entities_a_source_stops_reporting_are_orphaned_then_reclaimed() {
    let (_dir, store) = store();
    let both = vec![
        component("a", "t", "service"),
        component("b", "t", "service"),
    ];
    sync(&store, "file:/x", both, OrphanPolicy::Keep);
    let out = sync(
        &store,
        "file:/x",
        vec![component("a", "t", "service")],
        OrphanPolicy::Keep,
    );
    assert_eq!(out.orphaned, ["component:default/b"]);
    let b = store
        .entity(&EntityRef::parse_full("component:b").unwrap())
        .unwrap()
        .unwrap();
    assert!(b.orphaned);
    assert_eq!(
        b.entity
            .metadata
            .annotations
            .get(portico_catalog::ORPHAN)
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        list(&store, &["metadata.annotations.backstage.io/orphan=true"]),
        ["b"]
    );
    // Orphans are not orphaned twice, and come back when reported again.
    let out = sync(
        &store,
        "file:/x",
        vec![component("a", "t", "service")],
        OrphanPolicy::Keep,
    );
    assert!(out.orphaned.is_empty());
    let back = vec![
        component("a", "t", "service"),
        component("b", "t", "service"),
    ];
    let out = sync(&store, "file:/x", back, OrphanPolicy::Keep);
    assert_eq!(out.changed, ["component:default/b"]);
    let b = store
        .entity(&EntityRef::parse_full("component:b").unwrap())
        .unwrap()
        .unwrap();
    assert!(
        !b.orphaned
            && !b
                .entity
                .metadata
                .annotations
                .contains_key(portico_catalog::ORPHAN)
    );
}

#[test]
fn orphans_are_deleted_when_configured_and_kept_when_protected() {
    let (_dir, store) = store();
    let three = vec![
        component("a", "t", "service"),
        component("b", "t", "service"),
        component("c", "t", "service"),
    ];
    sync(&store, "file:/x", three, OrphanPolicy::Delete);
    let mut sync_b = SourceSync {
        source: "file:/x".into(),
        source_type: "file".into(),
        target: "/x".into(),
        entities: vec![(component("a", "t", "service"), "file:/x#loc".into())],
        complete: true,
        keep: vec!["Component:default/B".into()],
        orphans: OrphanPolicy::Delete,
        ..SourceSync::default()
    };
    let out = store.sync_source(&sync_b, &mut |_, _| {}).unwrap();
    assert_eq!(out.deleted, ["component:default/c"]);
    assert_eq!(list(&store, &[]), ["a", "b"]);
    sync_b.keep.clear();
    sync_b.keep_locations = vec!["file:/x#loc".into()];
    let out = store.sync_source(&sync_b, &mut |_, _| {}).unwrap();
    assert!(out.deleted.is_empty());
    assert_eq!(
        store
            .search(&SearchQuery {
                text: "c".into(),
                ..SearchQuery::default()
            })
            .unwrap()
            .total,
        0
    );
}

#[test]
fn another_sources_entity_is_refused_unless_orphaned() {
    let (_dir, store) = store();
    sync(
        &store,
        "gateway:kong",
        vec![api("pets", "Pets")],
        OrphanPolicy::Keep,
    );
    let out = sync(
        &store,
        "file:/x",
        vec![api("pets", "Other")],
        OrphanPolicy::Keep,
    );
    assert_eq!(out.rejected.len(), 1);
    assert!(
        out.rejected[0]
            .reason
            .contains("already reported by source gateway:kong")
    );
    sync(&store, "gateway:kong", vec![], OrphanPolicy::Keep);
    let out = sync(
        &store,
        "file:/x",
        vec![api("pets", "Other")],
        OrphanPolicy::Keep,
    );
    assert_eq!(out.changed, ["api:default/pets"]);
    let pets = store
        .entity(&EntityRef::parse_full("api:pets").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((pets.source.as_str(), pets.orphaned), ("file:/x", false));
    let sources = store.sources().unwrap();
    assert_eq!(
        sources
            .iter()
            .map(|s| (s.source.as_str(), s.entities))
            .collect::<Vec<_>>(),
        [("file:/x", 1), ("gateway:kong", 0)]
    );
    let out = store
        .remove_source("file:/x", OrphanPolicy::Delete)
        .unwrap();
    assert_eq!(out.deleted, ["api:default/pets"]);
    assert!(matches!(
        store.remove_source("file:/x", OrphanPolicy::Keep),
        Err(CatalogError::NotFound(_))
    ));
}

#[test]
fn relations_are_read_from_both_ends() {
    let (_dir, store) = store();
    let provider = parse_entity(&json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "petstore"},
        "spec": {"type": "service", "lifecycle": "x", "owner": "team-a", "providesApis": ["pets"]}
    }))
    .unwrap();
    upsert_entities(
        &store,
        "api",
        vec![
            (provider, "api".into()),
            (api("pets", "Pets"), "api".into()),
        ],
    )
    .unwrap();
    let pets = store
        .entity(&EntityRef::parse_full("api:pets").unwrap())
        .unwrap()
        .unwrap();
    let rels: Vec<String> = pets
        .entity
        .relations
        .iter()
        .map(|r| format!("{} {}", r.relation_type, r.target))
        .collect();
    assert_eq!(
        rels,
        [
            "apiProvidedBy component:default/petstore",
            "ownedBy group:default/team-a"
        ]
    );
    let team = store.list_entities(&ListQuery::default()).unwrap();
    assert_eq!(team.len(), 2);
    // The group itself is not stored, yet the relation towards it is queryable.
    assert_eq!(
        list(&store, &["relations.ownedBy=group:default/team-a"]),
        ["pets", "petstore"]
    );
    assert!(
        store
            .delete_entity(&EntityRef::parse_full("component:petstore").unwrap())
            .unwrap()
    );
    let pets = store
        .entity(&EntityRef::parse_full("api:pets").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(pets.entity.relations.len(), 1);
    assert!(
        store
            .entity(&EntityRef::parse_full("component:petstore").unwrap())
            .unwrap()
            .is_none()
    );
}

#[test]
fn filters_and_within_a_group_and_or_across_groups() {
    let (_dir, store) = store();
    let entities = vec![
        component("web", "team-a", "website"),
        component("svc", "team-b", "service"),
        api("pets", "Pets"),
    ];
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    assert_eq!(list(&store, &["kind=API"]), ["pets"]);
    assert_eq!(list(&store, &["Kind=component,Spec.Type=SERVICE"]), ["svc"]);
    assert_eq!(
        list(&store, &["kind=component,spec.type=website", "kind=api"]),
        ["pets", "web"]
    );
    assert_eq!(
        list(&store, &["spec.type=website,spec.type=service"]),
        ["svc", "web"]
    );
    assert_eq!(list(&store, &["spec.definition"]), ["pets"]);
    assert_eq!(list(&store, &["metadata.name=web"]), ["web"]);
    assert_eq!(
        list(&store, &["metadata.namespace=default,kind=component"]).len(),
        2
    );
    assert_eq!(list(&store, &["source=file:/x"]).len(), 3);
    assert!(list(&store, &["kind=system"]).is_empty());
}

#[test]
fn listing_projects_fields_orders_and_pages() {
    let (_dir, store) = store();
    let entities = vec![
        component("b", "t", "website"),
        component("a", "t", "service"),
        component("c", "t", "library"),
    ];
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    let query = ListQuery {
        fields: Fields::parse(&["metadata.name,spec.type"]),
        order: vec![Order::parse("desc:spec.type").unwrap()],
        limit: Some(2),
        offset: 0,
        ..ListQuery::default()
    };
    let page = store.list_entities(&query).unwrap();
    assert_eq!(
        values(&page)[0],
        json!({"metadata": {"name": "b"}, "spec": {"type": "website"}})
    );
    assert_eq!(names(&page), ["b", "a"]);
    let rest = store
        .list_entities(&ListQuery { offset: 2, ..query })
        .unwrap();
    assert_eq!(names(&rest), ["c"]);
    let refs = store
        .entities_by_refs(
            &[
                "component:default/c".into(),
                "api:nope".into(),
                "component:a".into(),
            ],
            &Fields::parse(&["metadata.name"]),
            &Audience::member(),
        )
        .unwrap();
    let refs: Vec<Option<Value>> = refs
        .iter()
        .map(|r| r.as_ref().map(|r| serde_json::to_value(r).unwrap()))
        .collect();
    assert_eq!(
        refs,
        [
            Some(json!({"metadata": {"name": "c"}})),
            None,
            Some(json!({"metadata": {"name": "a"}}))
        ]
    );
    assert!(matches!(
        store.entities_by_refs(&["x".into()], &Fields::default(), &Audience::member()),
        Err(CatalogError::Invalid(_))
    ));
}

#[test]
fn cursor_pages_walk_forward_and_back() {
    let (_dir, store) = store();
    let entities = (0..7)
        .map(|i| component(&format!("c{i}"), "t", "service"))
        .collect();
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    let fields = Fields::parse(&["metadata.name"]);
    let first = store
        .query_entities(&PageQuery::First {
            filter: EntityFilter::parse(&["kind=component"])
                .unwrap()
                .visible_to(Audience::member()),
            order: Some(Order::parse("desc:metadata.name").unwrap()),
            full_text: None,
            limit: 3,
            fields: fields.clone(),
        })
        .unwrap();
    assert_eq!(names(&first.items), ["c6", "c5", "c4"]);
    assert_eq!((first.total_items, first.prev_cursor.is_none()), (7, true));
    let page = |cursor: &Option<String>| {
        store
            .query_entities(&PageQuery::Cursor {
                cursor: cursor.clone().unwrap(),
                limit: 3,
                fields: fields.clone(),
                audience: Audience::member(),
            })
            .unwrap()
    };
    let second = page(&first.next_cursor);
    assert_eq!(names(&second.items), ["c3", "c2", "c1"]);
    let third = page(&second.next_cursor);
    assert_eq!(names(&third.items), ["c0"]);
    assert!(third.next_cursor.is_none());
    let back = page(&third.prev_cursor);
    assert_eq!(names(&back.items), ["c3", "c2", "c1"]);
    let start = page(&back.prev_cursor);
    assert_eq!(names(&start.items), ["c6", "c5", "c4"]);
    assert!(start.prev_cursor.is_none() && start.next_cursor.is_some());
    assert_eq!(start.total_items, 7);
}

#[test]
fn paged_full_text_uses_the_index_or_named_fields() {
    let (_dir, store) = store();
    let entities = vec![
        api("pets", "Manage the pet shop"),
        api("orders", "Shop orders"),
    ];
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    let query = |term: &str, fields: Vec<String>| {
        let page = store
            .query_entities(&PageQuery::First {
                filter: EntityFilter::default(),
                order: None,
                full_text: Some(FullTextFilter {
                    term: term.into(),
                    fields,
                }),
                limit: 10,
                fields: Fields::default(),
            })
            .unwrap();
        names(&page.items)
    };
    assert_eq!(query("shop", vec![]), ["orders", "pets"]);
    assert_eq!(query("PET", vec![]), ["pets"]);
    assert_eq!(query("rde", vec!["metadata.name".into()]), ["orders"]);
    assert!(query("50%", vec!["metadata.name".into()]).is_empty());
}

fn with_visibility(name: &str, visibility: &str, partners: &str) -> Entity {
    parse_entity(&json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": name, "description": "payments service", "annotations": {
            "portico.dev/visibility": visibility, "portico.dev/partner-groups": partners}},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
    }))
    .unwrap()
}

#[test]
fn every_read_shows_a_reader_only_what_their_audience_may_see() {
    let (_dir, store) = store();
    let entities = vec![
        component("open", "team-a", "service"),
        with_visibility("staff", "internal", ""),
        with_visibility("acme-only", "partner", "Acme, initech"),
        with_visibility("globex-only", "partner", "globex"),
    ];
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    let readers = [
        (
            Audience::member(),
            vec!["acme-only", "globex-only", "open", "staff"],
        ),
        (Audience::default(), vec!["open"]),
        (Audience::outsider(["ACME"]), vec!["acme-only", "open"]),
        // `_` and `%` are not wildcards: this group is granted nothing.
        (Audience::outsider(["gl_bex"]), vec!["open"]),
    ];
    for (audience, expected) in readers {
        let filter = EntityFilter::parse(&["kind=component"])
            .unwrap()
            .visible_to(audience.clone());
        let listed = store
            .list_entities(&ListQuery {
                filter: filter.clone(),
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(names(&listed), expected, "{audience:?}");

        let first = store
            .query_entities(&PageQuery::First {
                filter: filter.clone(),
                order: None,
                full_text: None,
                limit: 1,
                fields: Fields::default(),
            })
            .unwrap();
        assert_eq!(first.total_items, expected.len(), "{audience:?}");
        let mut paged = names(&first.items);
        let mut cursor = first.next_cursor;
        while let Some(next) = cursor {
            let page = store
                .query_entities(&PageQuery::Cursor {
                    cursor: next,
                    limit: 1,
                    fields: Fields::default(),
                    audience: audience.clone(),
                })
                .unwrap();
            paged.extend(names(&page.items));
            cursor = page.next_cursor;
        }
        assert_eq!(paged, expected, "{audience:?}");

        let facets = store.facets(&filter, &["spec.type".into()]).unwrap();
        assert_eq!(facets["spec.type"][0].count, expected.len(), "{audience:?}");

        let found = store
            .search(&SearchQuery {
                text: "payments".into(),
                audience: audience.clone(),
                ..SearchQuery::default()
            })
            .unwrap();
        let hidden_hits = found
            .hits
            .iter()
            .filter(|h| !expected.contains(&h.name.as_str()))
            .count();
        assert_eq!(hidden_hits, 0, "{audience:?}: {found:?}");
        assert_eq!(found.total, expected.len() - 1, "{audience:?}");

        let all = ["open", "staff", "acme-only", "globex-only"].map(|n| format!("component:{n}"));
        let by_ref = store
            .entities_by_refs(&all, &Fields::parse(&["metadata.name"]), &audience)
            .unwrap();
        let mut shown: Vec<String> = names(&by_ref.into_iter().flatten().collect::<Vec<_>>());
        shown.sort();
        assert_eq!(shown, expected, "{audience:?}");
    }
}

#[test]
fn relations_to_entities_a_reader_may_not_see_are_left_out() {
    let (_dir, store) = store();
    let open = parse_entity(&json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "open"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a",
                 "dependsOn": ["component:staff"]}
    }))
    .unwrap();
    let entities = vec![open, with_visibility("staff", "internal", "")];
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    let depends = |audience: Audience| -> Vec<String> {
        let stored = store
            .visible_entity(&EntityRef::new("component", "default", "open"), &audience)
            .unwrap()
            .unwrap();
        let mut targets: Vec<String> = stored
            .entity
            .relations
            .iter()
            .filter(|r| r.relation_type == "dependsOn")
            .map(|r| r.target.to_string())
            .collect();
        let listed = store
            .list_entities(&ListQuery {
                filter: EntityFilter::parse(&["metadata.name=open"])
                    .unwrap()
                    .visible_to(audience),
                ..ListQuery::default()
            })
            .unwrap();
        let listed = serde_json::to_string(&listed).unwrap();
        assert_eq!(
            listed.contains("component:default/staff"),
            !targets.is_empty(),
            "{listed}"
        );
        targets.sort();
        targets
    };
    assert_eq!(depends(Audience::member()), ["component:default/staff"]);
    assert!(depends(Audience::default()).is_empty());
}

#[test]
fn facets_count_values_under_a_filter() {
    let (_dir, store) = store();
    let entities = vec![
        component("a", "team-a", "service"),
        component("b", "team-a", "service"),
        component("c", "team-b", "website"),
        api("pets", "Pets"),
    ];
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    let facets = store
        .facets(
            &EntityFilter::parse(&["kind=component"]).unwrap(),
            &[
                "spec.type".into(),
                "relations.ownedBy".into(),
                "kind".into(),
            ],
        )
        .unwrap();
    let pairs = |k: &str| {
        facets[k]
            .iter()
            .map(|f| (f.value.as_str(), f.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs("spec.type"), [("service", 2), ("website", 1)]);
    assert_eq!(
        pairs("relations.ownedBy"),
        [("group:default/team-a", 2), ("group:default/team-b", 1)]
    );
    assert_eq!(pairs("kind"), [("Component", 3)]);
}

#[test]
fn search_ranks_exact_name_matches_first() {
    let (_dir, store) = store();
    let entities = vec![
        api(
            "pet-admin",
            "Administer the petstore: petstore petstore petstore settings",
        ),
        api("petstore", "Orders"),
        component("petstore-web", "team-b", "website"),
    ];
    sync(&store, "file:/x", entities, OrphanPolicy::Keep);
    let results = store
        .search(&SearchQuery {
            text: "Petstore".into(),
            ..SearchQuery::default()
        })
        .unwrap();
    let refs: Vec<&str> = results.hits.iter().map(|h| h.entity_ref.as_str()).collect();
    assert_eq!(refs[0], "api:default/petstore");
    assert!(results.hits[0].exact && !results.hits[1].exact);
    assert_eq!(results.total, 3);
    let kinds: Vec<(&str, usize)> = results.facets["kind"]
        .iter()
        .map(|f| (f.value.as_str(), f.count))
        .collect();
    assert_eq!(kinds, [("API", 2), ("Component", 1)]);
    assert_eq!(results.facets["owner"][0].value, "group:default/team-a");
    assert_eq!(results.facets["source"][0].count, 3);
    let highlighted = results.hits.iter().find(|h| h.name == "pet-admin").unwrap();
    assert!(
        highlighted
            .highlight_html
            .as_deref()
            .unwrap()
            .contains("<mark>petstore</mark>")
    );
    let filtered = store
        .search(&SearchQuery {
            text: "petstore".into(),
            filters: vec![("kind".into(), "component".into())],
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(filtered.hits.len(), 1);
    assert_eq!(filtered.hits[0].spec_type.as_deref(), Some("website"));
    let all = store.search(&SearchQuery::default()).unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.facets["lifecycle"].len(), 2);
}

#[test]
fn operations_are_searchable_and_survive_updates() {
    let (_dir, store) = store();
    sync(
        &store,
        "file:/x",
        vec![api("pets", "Pets")],
        OrphanPolicy::Keep,
    );
    let pets = EntityRef::parse_full("api:pets").unwrap();
    let ops = vec![OperationRow {
        method: "GET".into(),
        path: "/pets/{petId}".into(),
        operation_id: Some("showPetById".into()),
        summary: Some("Info for a specific pet".into()),
        tags: vec!["pets".into()],
    }];
    store.set_operations(&pets, &ops).unwrap();
    assert_eq!(store.operations(&pets).unwrap(), ops);
    let hit = |text: &str| {
        store
            .search(&SearchQuery {
                text: text.into(),
                ..SearchQuery::default()
            })
            .unwrap()
            .total
    };
    assert_eq!(hit("showPetById"), 1);
    sync(
        &store,
        "file:/x",
        vec![api("pets", "Pets, renamed")],
        OrphanPolicy::Keep,
    );
    assert_eq!(hit("specific pet"), 1);
    assert!(matches!(
        store.set_operations(&EntityRef::parse_full("api:none").unwrap(), &ops),
        Err(CatalogError::NotFound(_))
    ));
    let by_condition = EntityFilter::all_of(vec![Condition {
        key: "kind".into(),
        values: vec!["api".into()],
    }]);
    assert_eq!(
        store
            .facets(&by_condition, &["metadata.tags".into()])
            .unwrap()["metadata.tags"][0]
            .value,
        "rest"
    );
}

#[test]
fn cached_searches_see_writes_from_this_store_and_from_another_connection() {
    let (dir, store) = store();
    let query = SearchQuery {
        text: "billing".into(),
        ..SearchQuery::default()
    };
    sync(
        &store,
        "file:/a",
        vec![api("billing", "Invoices")],
        OrphanPolicy::Keep,
    );
    assert_eq!(store.search(&query).unwrap().total, 1);
    assert_eq!(
        store.search(&query).unwrap().total,
        1,
        "answered again, from the cache"
    );

    sync(
        &store,
        "file:/b",
        vec![api("billing-v2", "More billing")],
        OrphanPolicy::Keep,
    );
    assert_eq!(
        store.search(&query).unwrap().total,
        2,
        "a write through this store invalidates"
    );

    // Another process (the CLI's import while the server runs) writes through its own store.
    let other = SqliteStore::new(&Database::open(&dir.path().join("catalog.db")).unwrap()).unwrap();
    sync(
        &other,
        "file:/c",
        vec![api("billing-v3", "Even more billing")],
        OrphanPolicy::Keep,
    );
    assert_eq!(
        store.search(&query).unwrap().total,
        3,
        "a write elsewhere invalidates too"
    );
}

#[test]
fn cached_listings_see_writes_from_this_store_and_from_another_connection() {
    let (dir, store) = store();
    let apis = ListQuery {
        filter: EntityFilter::parse(&["kind=api"]).unwrap(),
        ..ListQuery::default()
    };
    let count = |store: &SqliteStore| store.list_entities(&apis).unwrap().len();
    sync(
        &store,
        "file:/a",
        vec![api("one", "One")],
        OrphanPolicy::Keep,
    );
    assert_eq!(count(&store), 1);
    assert_eq!(count(&store), 1, "answered again, from the cache");
    sync(
        &store,
        "file:/b",
        vec![api("two", "Two")],
        OrphanPolicy::Keep,
    );
    assert_eq!(count(&store), 2, "a write through this store invalidates");
    let other = SqliteStore::new(&Database::open(&dir.path().join("catalog.db")).unwrap()).unwrap();
    sync(
        &other,
        "file:/c",
        vec![api("three", "Three")],
        OrphanPolicy::Keep,
    );
    assert_eq!(count(&store), 3, "a write elsewhere invalidates too");
}
