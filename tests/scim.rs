//! SCIM 2.0 provisioning end to end: users and groups created, read, listed,
//! filtered, replaced, patched and deleted over `/scim/v2` with the
//! `[auth.scim]` token; errors in SCIM's format; deprovisioning that ends a
//! live session; the audit trail; and the scim2-tester compliance check
//! (`scim2 test`, run when `PORTICO_SCIM_TESTER` names the tool).

use portico::identity::users;
use portico_tests::{ADMIN_TOKEN, AppSpec, SCIM_TOKEN, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::identity::{PASSWORD, add_user, client, sign_in};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

async fn scim_app() -> TestApp {
    spawn_app(AppSpec {
        scim: true,
        ..AppSpec::default()
    })
    .await
}

/// Calls `/scim/v2{path}` with the SCIM token; the status and the JSON body.
async fn call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = client()
        .request(
            method.parse().unwrap(),
            format!("{}/scim/v2{path}", app.base),
        )
        .bearer_auth(SCIM_TOKEN);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if status != StatusCode::NO_CONTENT {
        assert_eq!(
            response.headers()["content-type"],
            "application/scim+json",
            "{method} {path}"
        );
    }
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create_user(app: &TestApp, name: &str) -> Value {
    let (status, user) = call(
        app,
        "POST",
        "/Users",
        Some(json!({
            "schemas": [USER], "userName": name, "externalId": format!("ext-{name}"), "active": true,
            "name": {"givenName": name, "familyName": "Example"},
            "displayName": format!("{name} Example"),
            "emails": [{"value": format!("{name}@work.example"), "type": "work", "primary": true}]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, scim_type: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], expected.as_u16().to_string());
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

/// The audit entries of one action, newest first.
async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/audit?action={action}"))
        .await
        .json()
        .await
        .unwrap();
    page["entries"].as_array().unwrap().clone()
}

async fn me(app: &TestApp, cookie: &str) -> Value {
    client()
        .get(format!("{}/api/v1/me", app.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn scim_users_are_created_read_listed_filtered_replaced_patched_and_deleted() {
    let app = scim_app().await;
    let ada = create_user(&app, "ada").await;
    let id = ada["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(ada["meta"]["resourceType"], "User");
    assert_eq!(ada["meta"]["version"], "W/\"1\"");
    assert!(
        ada["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/scim/v2/Users/{id}"))
    );
    assert_eq!(ada["active"], true);
    assert_eq!(ada["externalId"], "ext-ada");
    create_user(&app, "grace").await;

    // The account is a portal account with the default role.
    let row: (String, String, String) = app
        .server
        .state
        .db()
        .conn()
        .query_row(
            "SELECT source, email, (SELECT role FROM user_roles WHERE user_id = users.id)
             FROM users WHERE username = 'ada'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        ("scim".into(), "ada@work.example".into(), "developer".into())
    );

    let (status, read) = call(&app, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!((status, &read), (StatusCode::OK, &ada));

    let (_, list) = call(&app, "GET", "/Users?filter=userName%20eq%20%22ADA%22", None).await;
    assert_eq!(list["totalResults"], 1, "{list}");
    assert_eq!(list["Resources"][0]["id"], id);
    let (_, list) = call(
        &app,
        "GET",
        "/Users?filter=emails%5Btype%20eq%20%22work%22%20and%20value%20sw%20%22gr%22%5D",
        None,
    )
    .await;
    assert_eq!(list["Resources"][0]["userName"], "grace", "{list}");
    let (_, page) = call(
        &app,
        "GET",
        "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=1&attributes=userName",
        None,
    )
    .await;
    assert_eq!(page["totalResults"], 2);
    assert_eq!(page["itemsPerPage"], 1);
    assert_eq!(
        page["Resources"][0],
        json!({"schemas": [USER], "id": id, "userName": "ada"})
    );

    let (status, patched) = call(
        &app,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "name.familyName", "value": "Lovelace"},
            {"op": "add", "path": "emails", "value": [{"value": "ada@home.example", "type": "home"}]},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"},
            {"op": "remove", "path": "displayName"}
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"]["familyName"], "Lovelace");
    assert_eq!(patched["emails"][0]["value"], "ada@new.example");
    assert_eq!(patched["emails"][1]["value"], "ada@home.example");
    assert!(patched.get("displayName").is_none());
    assert_eq!(patched["meta"]["version"], "W/\"2\"");

    let (status, replaced) = call(
        &app,
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [USER], "userName": "ada.lovelace", "displayName": "Ada"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["userName"], "ada.lovelace");
    assert!(replaced.get("emails").is_none() && replaced.get("externalId").is_none());
    assert_eq!(replaced["meta"]["created"], ada["meta"]["created"]);

    // A stale If-Match is refused.
    let stale = client()
        .delete(format!("{}/scim/v2/Users/{id}", app.base))
        .bearer_auth(SCIM_TOKEN)
        .header("if-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);

    let (status, _) = call(&app, "DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&app, "GET", &format!("/Users/{id}"), None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
    let (_, list) = call(&app, "GET", "/Users", None).await;
    assert_eq!(list["totalResults"], 1);
}

#[tokio::test]
async fn scim_user_names_are_unique_and_bad_input_changes_nothing() {
    let app = scim_app().await;
    add_user(&app, "local-admin", "admin");
    let ada = create_user(&app, "ada").await;
    let id = ada["id"].as_str().unwrap();
    let body = json!({"schemas": [USER], "userName": "ADA"});
    let (status, err) = call(&app, "POST", "/Users", Some(body)).await;
    assert_error(status, &err, StatusCode::CONFLICT, Some("uniqueness"));
    // Local accounts' names are taken too, and SCIM never sees them.
    let body = json!({"schemas": [USER], "userName": "local-admin"});
    let (status, err) = call(&app, "POST", "/Users", Some(body)).await;
    assert_error(status, &err, StatusCode::CONFLICT, Some("uniqueness"));
    let (_, list) = call(&app, "GET", "/Users", None).await;
    assert_eq!(list["totalResults"], 1);

    let (status, err) = call(&app, "GET", "/Users?filter=userName%20eq", None).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    let bad = [
        (
            "POST",
            "/Users".to_owned(),
            json!({"schemas": [USER], "userName": "a b"}),
            "invalidValue",
        ),
        (
            "POST",
            "/Users".to_owned(),
            json!({"schemas": [USER]}),
            "invalidValue",
        ),
        (
            "PUT",
            format!("/Users/{id}"),
            json!({"schemas": [USER], "userName": "x", "active": 7}),
            "invalidValue",
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"schemas": [PATCH], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "x@y"}
            ]}),
            "noTarget",
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            json!({"Operations": []}),
            "invalidSyntax",
        ),
    ];
    for (method, path, body, scim_type) in bad {
        let (status, err) = call(&app, method, &path, Some(body.clone())).await;
        assert_error(status, &err, StatusCode::BAD_REQUEST, Some(scim_type));
    }
    let not_json = client()
        .post(format!("{}/scim/v2/Users", app.base))
        .bearer_auth(SCIM_TOKEN)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    // The failed PATCH's first operation was not kept either.
    let (_, after) = call(&app, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!(after, ada);
    let (status, err) = call(&app, "GET", "/Nonsense", None).await;
    assert_error(status, &err, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn scim_answers_only_its_own_token() {
    let app = scim_app().await;
    add_user(&app, "root", "admin");
    let session = sign_in(&app, "root").await;
    let url = format!("{}/scim/v2/Users", app.base);
    let anonymous = client().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["content-type"], "application/scim+json");
    let wrong = client().get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["schemas"], json!([ERROR]));
    let admin = client()
        .get(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    let person = client()
        .get(&url)
        .header(COOKIE, session.header())
        .send()
        .await
        .unwrap();
    assert_eq!(person.status(), StatusCode::FORBIDDEN);
    // And the SCIM token opens nothing else.
    let plugins = client()
        .get(format!("{}/api/v1/plugins", app.base))
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(plugins.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scim_is_not_found_without_auth_scim() {
    let app = spawn_app(AppSpec::default()).await;
    let response = client()
        .get(format!("{}/scim/v2/Users", app.base))
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["schemas"], json!([ERROR]));
}

#[tokio::test]
async fn scim_discovery_describes_users_and_groups() {
    let app = scim_app().await;
    let (status, config) = call(&app, "GET", "/ServiceProviderConfig", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    let (_, types) = call(&app, "GET", "/ResourceTypes", None).await;
    assert_eq!(types["totalResults"], 2);
    let (_, user_type) = call(&app, "GET", "/ResourceTypes/User", None).await;
    assert_eq!(user_type["endpoint"], "/Users");
    let (_, schema) = call(&app, "GET", &format!("/Schemas/{USER}"), None).await;
    let names: Vec<&str> = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        names.contains(&"userName") && names.contains(&"emails"),
        "{names:?}"
    );
    let (status, _) = call(&app, "GET", "/Schemas/urn:nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scim_groups_keep_their_members_in_step() {
    let app = scim_app().await;
    let ada = create_user(&app, "ada").await;
    let grace = create_user(&app, "grace").await;
    let (ada_id, grace_id) = (ada["id"].as_str().unwrap(), grace["id"].as_str().unwrap());
    let (status, group) = call(
        &app,
        "POST",
        "/Groups",
        Some(
            json!({"schemas": [GROUP], "displayName": "payments", "externalId": "g1",
            "members": [{"value": ada_id}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap();
    assert_eq!(group["members"][0]["value"], ada_id);
    assert!(
        group["members"][0]["$ref"]
            .as_str()
            .unwrap()
            .ends_with(ada_id)
    );
    let (_, ada_now) = call(&app, "GET", &format!("/Users/{ada_id}"), None).await;
    assert_eq!(ada_now["groups"][0]["display"], "payments");

    let (status, err) = call(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Payments"})),
    )
    .await;
    assert_error(status, &err, StatusCode::CONFLICT, Some("uniqueness"));
    let (status, err) = call(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "x", "members": [{"value": "nobody"}]})),
    )
    .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, Some("invalidValue"));

    let path = format!("/Groups/{gid}");
    let ops = |ops: Value| Some(json!({"schemas": [PATCH], "Operations": ops}));
    let (_, g) = call(
        &app,
        "PATCH",
        &path,
        ops(json!([
            {"op": "add", "path": "members", "value": [{"value": grace_id}]}
        ])),
    )
    .await;
    assert_eq!(g["members"].as_array().unwrap().len(), 2, "{g}");
    let (_, g) = call(
        &app,
        "PATCH",
        &path,
        ops(json!([
            {"op": "remove", "path": format!("members[value eq \"{ada_id}\"]")},
            {"op": "replace", "path": "displayName", "value": "payments-team"}
        ])),
    )
    .await;
    assert_eq!(
        g["members"],
        json!([{"value": grace_id, "$ref": grace["meta"]["location"]}])
    );
    assert_eq!(g["displayName"], "payments-team");
    // The portal's group: grace is in it, with the permissions of its roles.
    let state = &app.server.state;
    // The row id first: the connection's lock must be let go before `actor` takes it.
    let grace_row: i64 = state
        .db()
        .conn()
        .query_row("SELECT id FROM users WHERE username = 'grace'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let actor = users::actor(state.db(), state.identity().roles(), grace_row)
        .unwrap()
        .unwrap();
    assert!(actor.groups.contains("payments-team"), "{:?}", actor.groups);

    let (_, list) = call(
        &app,
        "GET",
        "/Groups?filter=displayName%20sw%20%22PAY%22",
        None,
    )
    .await;
    assert_eq!(list["totalResults"], 1);
    let (_, list) = call(
        &app,
        "GET",
        &format!("/Groups?filter=members%5Bvalue%20eq%20%22{ada_id}%22%5D"),
        None,
    )
    .await;
    assert_eq!(list["totalResults"], 0);
    let (_, g) = call(
        &app,
        "PUT",
        &path,
        Some(json!({"schemas": [GROUP], "displayName": "payments-team"})),
    )
    .await;
    assert!(g.get("members").is_none(), "{g}");
    // Deleting a member user takes them out of the group.
    let (_, _) = call(
        &app,
        "PATCH",
        &path,
        ops(json!([
            {"op": "add", "value": {"members": [{"value": ada_id}]}}
        ])),
    )
    .await;
    call(&app, "DELETE", &format!("/Users/{ada_id}"), None).await;
    let (_, g) = call(&app, "GET", &path, None).await;
    assert!(g.get("members").is_none(), "{g}");
    let (status, _) = call(&app, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "GET", &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Gives a SCIM account a password, so the test can sign in as a person
/// would through single sign-on.
fn set_password(app: &TestApp, name: &str) {
    app.server
        .state
        .db()
        .conn()
        .execute(
            "UPDATE users SET password_hash = ?2 WHERE username = ?1",
            [name, &users::hash_password(PASSWORD)],
        )
        .unwrap();
}

#[tokio::test]
async fn scim_deprovisioning_ends_live_sessions_and_refuses_sign_in() {
    let app = scim_app().await;
    let ada = create_user(&app, "ada").await;
    let id = ada["id"].as_str().unwrap();
    set_password(&app, "ada");
    let session = sign_in(&app, "ada").await;
    assert_eq!(me(&app, &session.header()).await["name"], "ada");

    let (status, body) = call(
        &app,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(me(&app, &session.header()).await["kind"], "anonymous");
    let sessions: i64 = app
        .server
        .state
        .db()
        .conn()
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 0);
    let db = app.server.state.db().clone();
    let refused = users::authenticate(&db, "ada", PASSWORD).unwrap();
    assert_eq!(refused, None, "an inactive account cannot sign in");

    // Active again (PUT), a person signs in anew; DELETE ends that too.
    let (_, back) = call(
        &app,
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [USER], "userName": "ada", "active": true})),
    )
    .await;
    assert_eq!(back["active"], true);
    let session = sign_in(&app, "ada").await;
    call(&app, "DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(me(&app, &session.header()).await["kind"], "anonymous");

    let entries = audit(&app, "scim.user.patch").await;
    assert_eq!(entries[0]["details"]["deprovisioned"], true);
}

#[tokio::test]
async fn scim_changes_are_audited_as_the_scim_system_actor() {
    let app = scim_app().await;
    let ada = create_user(&app, "ada").await;
    let body = json!({"schemas": [USER], "userName": "ada"});
    call(&app, "POST", "/Users", Some(body)).await;
    let (_, group) = call(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "g"})),
    )
    .await;
    call(
        &app,
        "DELETE",
        &format!("/Groups/{}", group["id"].as_str().unwrap()),
        None,
    )
    .await;
    let created = audit(&app, "scim.user.create").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["outcome"], "failure");
    assert!(
        created[0]["details"]["error"]
            .as_str()
            .unwrap()
            .contains("taken")
    );
    assert_eq!(created[1]["outcome"], "success");
    assert_eq!(created[1]["actor_id"], "system:scim");
    assert_eq!(created[1]["actor_kind"], "system");
    assert_eq!(created[1]["details"]["id"], ada["id"]);
    assert_eq!(audit(&app, "scim.group.").await.len(), 2);
}

/// The scim2-tester compliance check (PyPI `scim2-cli`) against a live
/// server. `PORTICO_SCIM_TESTER` names the `scim2` program (scripts/test.sh
/// installs it in a venv); unset, the test says so and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_reports_no_failures() {
    let Some(tool) = std::env::var_os("PORTICO_SCIM_TESTER") else {
        eprintln!("skipped: PORTICO_SCIM_TESTER is not set (scripts/test.sh sets it)");
        return;
    };
    let app = scim_app().await;
    let url = format!("{}/scim/v2", app.base);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&tool)
            .args(["--url", &url, "test", "--verbose"])
            // The token goes in the environment, not on a command line others can read.
            .env(
                "SCIM_CLI_HEADERS",
                format!("Authorization: Bearer {SCIM_TOKEN}"),
            )
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.to_string_lossy()))
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&output.stderr));
    let failures: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("CRITICAL"))
        .collect();
    assert!(
        output.status.success() && failures.is_empty(),
        "scim2 test failed:\n{}",
        failures.join("\n")
    );
    assert!(report.contains("SUCCESS"), "no check ran:\n{report}");
}
