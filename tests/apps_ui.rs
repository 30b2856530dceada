//! The "My apps" pages, the API page's "Get a key" and the owners' approvals
//! page end to end: forms posted as a browser posts them, the key shown once
//! (and never cached), apps private to their owners, CSRF on every form.

use portico_tests::{AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE};
use serde_json::{Value, json};

use crate::identity::{Session, add_user, client, sign_in};

/// GETs a page as `session`.
async fn page(app: &TestApp, session: &Session, path: &str) -> (StatusCode, String) {
    let response = client()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, session.header())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Posts a form as `session`, with its CSRF token; the whole response.
async fn post_form(
    app: &TestApp,
    session: &Session,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields = fields.to_vec();
    fields.push(("csrf", &session.csrf));
    client()
        .post(format!("{}{path}", app.base))
        .header(COOKIE, session.header())
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Calls the JSON API as `session`; the status and body.
async fn api(
    app: &TestApp,
    session: &Session,
    method: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = client()
        .request(method.parse().unwrap(), format!("{}{path}", app.base))
        .header(COOKIE, session.header())
        .header("x-csrf-token", &session.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A product with a `free` (auto) and a `pro` (manual) plan, owned by
/// `owner`; the plans' ids.
async fn product(app: &TestApp, owner: &Session, name: &str, title: &str) -> (i64, i64) {
    let (status, body) = api(
        app,
        owner,
        "POST",
        "/api/v1/products",
        json!({ "name": name, "title": title, "apis": ["default/petstore"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut ids = Vec::new();
    for (plan, approval) in [("free", "auto"), ("pro", "manual")] {
        let (status, body) = api(
            app,
            owner,
            "POST",
            &format!("/api/v1/products/{name}/plans"),
            json!({ "name": plan, "title": plan.to_uppercase(), "approval": approval, "rate_limit": 5 }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    (ids[0], ids[1])
}

/// An app of `session`'s, made through the JSON API; its id.
async fn new_app(app: &TestApp, session: &Session, name: &str) -> i64 {
    let (status, body) = api(
        app,
        session,
        "POST",
        "/api/v1/apps",
        json!({ "name": name }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

/// The value of the copy-once dialog's key field.
fn shown_key(html: &str) -> String {
    let dialog = html.find("<dialog open").expect("the copy-once dialog");
    let field = html[dialog..]
        .find("id=\"new-key\"")
        .expect("the key field")
        + dialog;
    let value = html[field..].find("value=\"").unwrap() + field + 7;
    let end = html[value..].find('"').unwrap() + value;
    html[value..end].to_owned()
}

#[tokio::test]
async fn an_app_page_is_its_owners_alone_and_another_developer_gets_not_found() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "alice", "developer");
    add_user(&app, "bob", "developer");
    let alice = sign_in(&app, "alice").await;
    let bob = sign_in(&app, "bob").await;

    let created = post_form(&app, &alice, "/apps", &[("name", "Weather widget")]).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let html = created.text().await.unwrap();
    assert!(html.contains("<h1>Weather widget</h1>"), "{html}");
    let id = new_app(&app, &alice, "Second").await;

    let (status, list) = page(&app, &alice, "/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(">Weather widget</a></h2>") && list.contains(">Second</a></h2>"));
    assert!(list.contains("<a href=\"/apps\" aria-current=\"page\">My apps</a>"));
    let (_, theirs) = page(&app, &bob, "/apps").await;
    assert!(!theirs.contains("Weather widget"), "{theirs}");
    assert!(theirs.contains("No apps yet"));

    let (status, _) = page(&app, &alice, &format!("/apps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    for path in [format!("/apps/{id}"), format!("/apps/{id}.md")] {
        let (status, html) = page(&app, &bob, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!html.contains("Second"), "{html}");
    }
    // Nor may bob change alice's app.
    let denied = post_form(
        &app,
        &bob,
        &format!("/apps/{id}/keys"),
        &[("name", "x"), ("environment", "sandbox")],
    )
    .await;
    assert_eq!(denied.status(), StatusCode::NOT_FOUND);
    let denied = post_form(&app, &bob, &format!("/apps/{id}/delete"), &[]).await;
    assert_eq!(denied.status(), StatusCode::NOT_FOUND);
    let (status, _) = page(&app, &alice, &format!("/apps/{id}")).await;
    assert_eq!(status, StatusCode::OK, "still there");

    let deleted = post_form(&app, &alice, &format!("/apps/{id}/delete"), &[]).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(deleted.text().await.unwrap().contains("Deleted Second"));
    let (status, _) = page(&app, &alice, &format!("/apps/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_key_is_shown_once_uncached_and_never_again() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "alice", "developer");
    let alice = sign_in(&app, "alice").await;
    let id = new_app(&app, &alice, "Shop").await;

    let created = post_form(
        &app,
        &alice,
        &format!("/apps/{id}/keys"),
        &[
            ("name", "laptop"),
            ("environment", "production"),
            ("expires", "2099-12-31"),
            ("scopes", "read"),
        ],
    )
    .await;
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(created.headers()[CACHE_CONTROL], "no-store");
    let html = created.text().await.unwrap();
    let key = shown_key(&html);
    assert!(key.starts_with("pt_live_") && key.len() == 49, "{key}");
    assert_eq!(html.matches(&key).count(), 1, "the key is on the page once");
    assert!(html.contains("This is the only time this key is shown: copy it now"));
    assert!(html.contains(" readonly"));
    let prefix = &key[..20];
    assert!(
        html.contains(&format!("starts with {prefix}")),
        "its prefix names it"
    );

    let (_, later) = page(&app, &alice, &format!("/apps/{id}")).await;
    assert!(
        !later.contains(&key) && !later.contains("<dialog"),
        "{later}"
    );
    assert!(
        later.contains(&format!("{prefix}…")),
        "the prefix identifies the key"
    );
    assert!(
        later.contains("2100-01-01 00:00 UTC"),
        "works through the day it expires"
    );
    let (_, twin) = page(&app, &alice, &format!("/apps/{id}.md")).await;
    assert!(twin.contains("laptop") && !twin.contains(&key), "{twin}");
    let (_, list) = page(&app, &alice, "/apps").await;
    assert!(!list.contains(&key));
    let audit: Value = app
        .get("/api/v1/audit?action=key.create")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !audit.to_string().contains(&key),
        "the audit log holds no key"
    );

    // Rotated with an overlap: a new key, shown once; both work for a day.
    let key_id = later
        .split(&format!("/apps/{id}/keys/"))
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let rotated = post_form(
        &app,
        &alice,
        &format!("/apps/{id}/keys/{key_id}/rotate"),
        &[("overlap", "86400")],
    )
    .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert_eq!(rotated.headers()[CACHE_CONTROL], "no-store");
    let html = rotated.text().await.unwrap();
    let second = shown_key(&html);
    assert_ne!(second, key);
    assert!(
        html.contains("the old key keeps working for a day"),
        "{html}"
    );

    let revoked = post_form(
        &app,
        &alice,
        &format!("/apps/{id}/keys/{key_id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let html = revoked.text().await.unwrap();
    assert!(html.contains("it stopped working at once"), "{html}");
    assert!(!html.contains("<dialog"));
    assert!(html.contains("badge-bad\">revoked</span>"));
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "alice", "developer");
    let alice = sign_in(&app, "alice").await;
    let id = new_app(&app, &alice, "Shop").await;
    for (path, fields) in [
        ("/apps".to_owned(), vec![("name", "Sneaky")]),
        (
            format!("/apps/{id}/keys"),
            vec![("name", "k"), ("environment", "sandbox")],
        ),
        (format!("/apps/{id}/delete"), vec![]),
        (
            "/apis/default/petstore/access".to_owned(),
            vec![("plan_id", "1")],
        ),
    ] {
        for csrf in [None, Some("0".repeat(64))] {
            let mut form = fields.clone();
            if let Some(token) = &csrf {
                form.push(("csrf", token.as_str()));
            }
            let response = client()
                .post(format!("{}{path}", app.base))
                .header(COOKIE, alice.header())
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} {csrf:?}");
        }
    }
    let (_, apps) = api(&app, &alice, "GET", "/api/v1/apps", Value::Null).await;
    assert_eq!(apps.as_array().unwrap().len(), 1, "{apps}");
    let (_, keys) = api(
        &app,
        &alice,
        "GET",
        &format!("/api/v1/apps/{id}/keys"),
        Value::Null,
    )
    .await;
    assert_eq!(keys, json!([]));
}

#[tokio::test]
async fn an_owner_approves_only_requests_for_their_products_and_the_developer_sees_it() {
    let app = spawn_app(AppSpec::default()).await;
    for (name, role) in [
        ("olga", "api-owner"),
        ("oscar", "api-owner"),
        ("dev", "developer"),
    ] {
        add_user(&app, name, role);
    }
    let olga = sign_in(&app, "olga").await;
    let oscar = sign_in(&app, "oscar").await;
    let dev = sign_in(&app, "dev").await;
    let (_, olga_pro) = product(&app, &olga, "pets", "Pets").await;
    let (_, oscar_pro) = product(&app, &oscar, "weather", "Weather").await;
    let id = new_app(&app, &dev, "Shop").await;

    let (_, offers) = page(&app, &dev, &format!("/apps/{id}")).await;
    assert!(
        offers.contains("<h3>Pets</h3>")
            && offers.contains("5 requests per second; No quota; the owner approves."),
        "{offers}"
    );
    for plan in [olga_pro, oscar_pro] {
        let asked = post_form(
            &app,
            &dev,
            &format!("/apps/{id}/subscriptions"),
            &[("plan_id", &plan.to_string())],
        )
        .await;
        assert_eq!(asked.status(), StatusCode::OK);
        assert!(
            asked
                .text()
                .await
                .unwrap()
                .contains("it waits for the owner&#39;s approval")
        );
    }
    let (_, mine) = page(&app, &dev, "/apps").await;
    assert_eq!(
        mine.matches("badge-warn\">requested</span>").count(),
        2,
        "{mine}"
    );

    let (status, approvals) = page(&app, &olga, "/admin/subscriptions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        approvals.contains("<td>Pets</td>") && !approvals.contains("<td>Weather</td>"),
        "{approvals}"
    );
    assert!(
        approvals.contains("<th scope=\"row\">Shop</th>") && approvals.contains("<td>dev</td>")
    );
    assert!(
        approvals.contains("<strong>Pets</strong> <span class=\"mono\">pets</span>"),
        "her products"
    );
    assert!(
        approvals.contains("<a href=\"/admin/subscriptions\" aria-current=\"page\">Approvals</a>")
    );
    let request = approvals
        .split("/admin/subscriptions/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    // Not hers to decide: oscar's product.
    let (_, theirs) = page(&app, &oscar, "/admin/subscriptions").await;
    let other = theirs
        .split("/admin/subscriptions/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let refused = post_form(
        &app,
        &olga,
        &format!("/admin/subscriptions/{other}/approve"),
        &[],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let approved = post_form(
        &app,
        &olga,
        &format!("/admin/subscriptions/{request}/approve"),
        &[("note", "Welcome aboard")],
    )
    .await;
    assert_eq!(approved.status(), StatusCode::OK);
    let html = approved.text().await.unwrap();
    assert!(
        html.contains("Approved PRO of Pets for Shop (dev)."),
        "{html}"
    );
    assert!(html.contains("Nothing waits for you"));
    let rejected = post_form(
        &app,
        &oscar,
        &format!("/admin/subscriptions/{other}/reject"),
        &[("note", "Not yet")],
    )
    .await;
    assert_eq!(rejected.status(), StatusCode::OK);

    let (_, mine) = page(&app, &dev, &format!("/apps/{id}")).await;
    assert!(
        mine.contains(
            "badge-good\">approved</span><span class=\"sub\">Owner's note: Welcome aboard</span>"
        ),
        "{mine}"
    );
    assert!(
        mine.contains(
            "badge-bad\">rejected</span><span class=\"sub\">Owner's note: Not yet</span>"
        )
    );
    // Developers have no approvals page.
    let (status, _) = page(&app, &dev, "/admin/subscriptions").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        !mine.contains("href=\"/admin/subscriptions\""),
        "no Approvals link for developers"
    );
}

#[tokio::test]
async fn get_a_key_on_an_api_page_makes_an_app_and_shows_a_sandbox_key_or_waits_for_approval() {
    let app = spawn_app(AppSpec {
        demo: true,
        ..AppSpec::default()
    })
    .await;
    add_user(&app, "newcomer", "developer");
    add_user(&app, "reader", "viewer");

    let visitor = client()
        .get(format!("{}/apis/default/petstore", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(visitor.contains("<h3>Pet Store</h3>"), "{visitor}");
    assert!(visitor.contains("10 requests per second; 1,000 requests per day; approved at once."));
    assert!(
        visitor
            .contains("100 requests per second; 100,000 requests per month; the owner approves.")
    );
    assert!(visitor.contains(
        "<a href=\"/auth/login?next=%2Fapis%2Fdefault%2Fpetstore\">Sign in</a> or <a href=\"/auth/signup?next=%2Fapis%2Fdefault%2Fpetstore\">create an account</a> to get a key."
    ) || visitor.contains("<a href=\"/auth/login?next=%2Fapis%2Fdefault%2Fpetstore\">Sign in</a> to get a key."), "{visitor}");
    assert!(!visitor.contains("/access\""), "no form for visitors");
    assert!(
        !visitor.contains("href=\"/apps\""),
        "no My apps link for visitors"
    );
    let reader = sign_in(&app, "reader").await;
    let (_, html) = page(&app, &reader, "/apis/default/petstore").await;
    assert!(
        html.contains("ask an administrator for the developer role") && !html.contains("/access\"")
    );

    let newcomer = sign_in(&app, "newcomer").await;
    let (_, html) = page(&app, &newcomer, "/apis/default/petstore").await;
    assert!(
        html.contains("<a href=\"/apps\">My apps</a>"),
        "the header links to My apps"
    );
    let plan = |title: &str| {
        let at = html.find(&format!("<strong>{title}</strong>")).unwrap();
        let id = html[at..].find("name=\"plan_id\" value=\"").unwrap() + at + 22;
        html[id..].split('"').next().unwrap().to_owned()
    };
    let (free, pro) = (plan("Free"), plan("Pro"));

    let got = post_form(
        &app,
        &newcomer,
        "/apis/default/petstore/access",
        &[("plan_id", &free)],
    )
    .await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()[CACHE_CONTROL], "no-store");
    let html = got.text().await.unwrap();
    let key = shown_key(&html);
    assert!(key.starts_with("pt_test_"), "a sandbox key");
    assert!(html.contains("<h1>newcomer&#39;s app</h1>"), "{html}");
    assert!(html.contains(
        "<a class=\"button\" href=\"/apis/default/petstore/docs\">Try it in the docs</a>"
    ));
    assert!(html.contains("Free of Pet Store is yours"));

    // The key calls the API on its sandbox through try-it.
    let (status, answer) = api(
        &app,
        &newcomer,
        "POST",
        "/api/v1/apis/default/petstore/versions/1.0.0/try",
        json!({ "method": "GET", "path": "/pets", "server": "synthetic", "credential": key }),
    )
    .await;
    assert!(status.is_success(), "{status} {answer}");
    assert!(
        answer["status"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s)),
        "{answer}"
    );

    // A manual plan for the same app waits for the owner, with no key made.
    let asked = post_form(
        &app,
        &newcomer,
        "/apis/default/petstore/access",
        &[("plan_id", &pro)],
    )
    .await;
    let html = asked.text().await.unwrap();
    assert!(!html.contains("<dialog"), "{html}");
    assert!(html.contains("You asked for Pro of Pet Store for newcomer&#39;s app: it waits for the owner&#39;s approval."), "{html}");
    let (_, apps) = api(&app, &newcomer, "GET", "/api/v1/apps", Value::Null).await;
    assert_eq!(apps.as_array().unwrap().len(), 1, "the same app: {apps}");
    // A plan of no product covering this API is refused.
    let other = post_form(
        &app,
        &newcomer,
        "/apis/default/weather/access",
        &[("plan_id", &free)],
    )
    .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}
