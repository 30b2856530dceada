//! One portal, three audiences, end to end: a public, an internal and a
//! partner API read by a visitor, a partner outside the granted group, a
//! partner in it and a developer of the organisation, through every surface
//! that shows APIs (search, the catalogue API, pages, docs, specs, llms.txt);
//! and the admin pages that give roles to accounts and groups.

use portico_tests::{AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::Value;

use crate::identity::{Session, add_user, client, sign_in};

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: open-weather
spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./spec.yaml}}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payroll
  annotations: {portico.dev/visibility: internal}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./spec.yaml}}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: acme-orders
  annotations: {portico.dev/visibility: partner, portico.dev/partner-groups: 'acme, globex'}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./spec.yaml}}
";

const SPEC: &str = "openapi: 3.0.3
info: {title: Shared, version: 1.0.0}
paths:
  /things:
    get: {responses: {'200': {description: ok}}}
";

async fn portal() -> TestApp {
    let app = spawn_app(AppSpec::default()).await;
    app.import_catalog(&[("catalog-info.yaml", CATALOG), ("spec.yaml", SPEC)])
        .await;
    app
}

fn join_group(app: &TestApp, user: &str, group: &str) {
    let db = app.server.state.db();
    let id: i64 = db
        .conn()
        .query_row("SELECT id FROM users WHERE username = ?1", [user], |r| {
            r.get(0)
        })
        .unwrap();
    portico::identity::users::add_to_group(db, id, group).unwrap();
}

async fn get(app: &TestApp, who: Option<&Session>, path: &str) -> (StatusCode, String) {
    let mut request = client().get(format!("{}{path}", app.base));
    if let Some(s) = who {
        request = request.header(COOKIE, s.header());
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// API names in a JSON answer's hits or items.
fn names(body: &str, list: &str, field: &[&str]) -> Vec<String> {
    let value: Value = serde_json::from_str(body).unwrap();
    let mut names: Vec<String> = value[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            field
                .iter()
                .fold(item, |v, f| &v[*f])
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn each_reader_sees_public_apis_and_only_the_private_ones_granted_to_them() {
    let app = portal().await;
    add_user(&app, "outsider", "partner");
    add_user(&app, "acme-dev", "partner");
    join_group(&app, "acme-dev", "ACME");
    add_user(&app, "staff", "developer");
    let outsider = sign_in(&app, "outsider").await;
    let acme = sign_in(&app, "acme-dev").await;
    let staff = sign_in(&app, "staff").await;

    let readers: [(&str, Option<&Session>, &[&str]); 4] = [
        ("visitor", None, &["open-weather"]),
        (
            "partner without the group",
            Some(&outsider),
            &["open-weather"],
        ),
        (
            "acme partner",
            Some(&acme),
            &["acme-orders", "open-weather"],
        ),
        (
            "developer",
            Some(&staff),
            &["acme-orders", "open-weather", "payroll"],
        ),
    ];
    for (who, session, visible) in readers {
        let (_, body) = get(&app, session, "/api/v1/apis").await;
        assert_eq!(names(&body, "hits", &["name"]), visible, "{who}: search");
        let (_, body) = get(
            &app,
            session,
            "/api/catalog/entities/by-query?filter=kind=api",
        )
        .await;
        assert_eq!(
            names(&body, "items", &["metadata", "name"]),
            visible,
            "{who}: by-query"
        );
        let (_, llms) = get(&app, session, "/llms.txt").await;
        let (_, home) = get(&app, session, "/").await;
        for api in ["open-weather", "payroll", "acme-orders"] {
            let shown = visible.contains(&api);
            let expected = if shown {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            for path in [
                format!("/api/v1/apis/default/{api}"),
                format!("/api/catalog/entities/by-name/api/default/{api}"),
                format!("/apis/default/{api}"),
                format!("/apis/default/{api}/docs.md"),
            ] {
                let (status, _) = get(&app, session, &path).await;
                assert_eq!(status, expected, "{who}: {path}");
            }
            assert_eq!(
                llms.contains(&format!("/apis/default/{api}/")),
                shown,
                "{who}: llms.txt {api}"
            );
            assert_eq!(
                home.contains(&format!("/apis/default/{api}\"")),
                shown,
                "{who}: home {api}"
            );
        }
    }
}

#[tokio::test]
async fn admins_give_roles_to_accounts_and_groups_and_deactivate_accounts() {
    let app = portal().await;
    add_user(&app, "root", "admin");
    add_user(&app, "eve", "partner");
    join_group(&app, "eve", "acme");
    let root = sign_in(&app, "root").await;
    let eve = sign_in(&app, "eve").await;
    let id = |name: &str| -> i64 {
        app.server
            .state
            .db()
            .conn()
            .query_row(
                "SELECT id FROM users WHERE username = ?1 UNION SELECT id FROM groups WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
    };
    let post = |path: String, form: Vec<(&'static str, String)>, who: &Session| {
        let mut form = form;
        form.push(("csrf", who.csrf.clone()));
        client()
            .post(format!("{}{path}", app.base))
            .header(COOKIE, who.header())
            .form(&form)
            .send()
    };

    let (status, users) = get(&app, Some(&root), "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(users.contains("id=\"user-eve\"") && users.contains("Save roles"));
    let (status, _) = get(&app, Some(&eve), "/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The group grants its members a role: eve now sees internal APIs.
    let (status, _) = get(&app, Some(&eve), "/apis/default/payroll").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let answer = post(
        format!("/admin/groups/{}/roles", id("acme")),
        vec![("role", "developer".into())],
        &root,
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("Members of acme now hold developer.")
    );
    let (status, _) = get(&app, Some(&eve), "/apis/default/payroll").await;
    assert_eq!(status, StatusCode::OK, "the group's role applies at once");

    // An account's own roles.
    let answer = post(
        format!("/admin/users/{}/roles", id("eve")),
        vec![("role", "viewer".into()), ("role", "partner".into())],
        &root,
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let (_, me) = get(&app, Some(&eve), "/api/v1/me").await;
    let me: Value = serde_json::from_str(&me).unwrap();
    assert_eq!(
        me["roles"],
        serde_json::json!(["developer", "partner", "viewer"])
    );

    // Refused: an unknown role, and leaving the portal without an admin.
    let answer = post(
        format!("/admin/users/{}/roles", id("eve")),
        vec![("role", "wizard".into())],
        &root,
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("`wizard` is not a role")
    );
    let answer = post(
        format!("/admin/users/{}/deactivate", id("root")),
        vec![],
        &root,
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::CONFLICT);

    // Deactivating ends the account's sessions at once.
    let answer = post(
        format!("/admin/users/{}/deactivate", id("eve")),
        vec![],
        &root,
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let (_, me) = get(&app, Some(&eve), "/api/v1/me").await;
    assert_eq!(
        serde_json::from_str::<Value>(&me).unwrap()["kind"],
        "anonymous"
    );

    // A change without the session's CSRF token changes nothing.
    let forged = client()
        .post(format!("{}/admin/users/{}/activate", app.base, id("eve")))
        .header(COOKIE, root.header())
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let (_, audit) = get(&app, Some(&root), "/api/v1/audit?action=user.").await;
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user.roles") && actions.contains(&"user.deactivate"),
        "{actions:?}"
    );

    let (status, roles) = get(&app, Some(&root), "/admin/roles").await;
    assert_eq!(status, StatusCode::OK);
    assert!(roles.contains("id=\"role-partner\"") && roles.contains("catalog.read-internal"));
}
