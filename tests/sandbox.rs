//! The synthetic sandbox end to end: the real server with the bundled
//! `sandbox-synthetic` plugin, an API whose only server is production, and
//! try-it calls naming the server `synthetic`, through the proxy API and the
//! docs page's forms: validation, security, examples, synthetic data, state
//! per developer, reset, and the demo's newcomer path.

use portico::config::{AuthSettings, Config, Overrides};
use portico_tests::{AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::identity::{Session, add_user, client, sign_in};

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: shop
  title: Shop
spec:
  type: openapi
  lifecycle: production
  owner: shop-team
  definition:
    $text: ./shop.yaml
";

const SPEC: &str = r##"openapi: 3.0.3
info: {title: Shop, version: 1.0.0}
servers:
  - url: https://shop.example.com/v1
    description: production
security:
  - key: []
paths:
  /items:
    get:
      summary: List items
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 50}}
        - {name: sort, in: query, schema: {type: string, enum: [name, price]}}
      responses:
        '200':
          description: A page of items
          content:
            application/json:
              schema:
                type: object
                required: [items, total]
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/Item'}}
                  total: {type: integer, minimum: 0}
    post:
      summary: Add an item
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewItem'}
      responses:
        '201':
          description: Created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
  /items/{itemId}:
    parameters:
      - {name: itemId, in: path, required: true, schema: {type: string}}
    get:
      summary: Read an item
      responses:
        '200':
          description: The item
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
              example: {id: it-1, name: Teapot, price: 12.5, tags: [kitchen]}
        '404': {description: No such item}
    delete:
      summary: Remove an item
      responses:
        '204': {description: Removed}
  /status:
    get:
      summary: Health
      security: []
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [ok, checkedAt, region]
                properties:
                  ok: {type: boolean}
                  checkedAt: {type: string, format: date-time}
                  region: {type: string, enum: [eu, us]}
                  load: {type: number, minimum: 0, maximum: 1}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Api-Key}
  schemas:
    NewItem:
      type: object
      required: [name, price]
      additionalProperties: false
      properties:
        name: {type: string, minLength: 2, maxLength: 40}
        price: {type: number, minimum: 0}
        tags: {type: array, maxItems: 3, items: {type: string}}
        note: {type: string, nullable: true}
    Item:
      allOf:
        - $ref: '#/components/schemas/NewItem'
        - type: object
          required: [id]
          properties:
            id: {type: string, readOnly: true}
"##;

const TRY: &str = "/api/v1/apis/default/shop/versions/1.0.0/try";
const KEY: &str = "any-key-will-do";

/// A portal with the shop API and two signed-in developers.
async fn app_with_shop() -> (TestApp, Session, Session) {
    let app = spawn_app(AppSpec::default()).await;
    app.import_catalog(&[("catalog-info.yaml", CATALOG), ("shop.yaml", SPEC)])
        .await;
    add_user(&app, "ada", "developer");
    add_user(&app, "bob", "developer");
    let ada = sign_in(&app, "ada").await;
    let bob = sign_in(&app, "bob").await;
    (app, ada, bob)
}

/// Posts a call to the proxy API; returns the proxy's status and answer.
async fn try_call(
    app: &TestApp,
    session: &Session,
    path: &str,
    call: Value,
) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}{path}", app.base))
        .header(COOKIE, session.header())
        .header("x-csrf-token", &session.csrf)
        .json(&call)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// A call on the synthetic sandbox of the shop, with the credential.
async fn shop(app: &TestApp, session: &Session, mut call: Value) -> Answer {
    call["server"] = json!("synthetic");
    if call.get("credential").is_none() {
        call["credential"] = json!(KEY);
    }
    let (status, answer) = try_call(app, session, TRY, call).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    Answer(answer)
}

/// What the sandbox answered, as the proxy API shows it.
struct Answer(Value);

impl Answer {
    fn status(&self) -> u64 {
        self.0["status"].as_u64().unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.0["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h["value"].as_str().unwrap())
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.0["body"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{e}: {}", self.0["body"]))
    }
}

fn get_item(id: &str) -> Value {
    json!({"method": "GET", "path": "/items/{itemId}", "path_params": {"itemId": id}})
}

fn create(name: &str) -> Value {
    json!({"method": "POST", "path": "/items", "body": json!({"name": name, "price": 30}).to_string()})
}

#[tokio::test]
async fn synthetic_sandbox_lists_every_violation_in_one_problem() {
    let (app, ada, _) = app_with_shop().await;
    let body = json!({"name": "x", "price": -1, "tags": [1, "a", "b", "c"], "extra": true});
    let answer = shop(
        &app,
        &ada,
        json!({"method": "POST", "path": "/items", "body": body.to_string()}),
    )
    .await;
    assert_eq!(answer.status(), 400);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    let problem = answer.json();
    assert_eq!(problem["status"], 400);
    let errors: Vec<(String, String)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["location"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (location, message) in [
        ("body.name", "must be at least 2 characters long"),
        ("body.price", "must be at least 0"),
        ("body.tags", "must have at most 3 items"),
        ("body.tags[0]", "must be a string"),
        ("body.extra", "is not a property this object may have"),
    ] {
        assert!(
            errors.iter().any(|(l, m)| l == location && m == message),
            "{location}: {message} in {errors:?}"
        );
    }
    assert!(
        !errors.iter().any(|(l, _)| l == "body.id"),
        "a readOnly id is not asked of a request: {errors:?}"
    );

    let answer = shop(
        &app,
        &ada,
        json!({"method": "GET", "path": "/items", "query": {"limit": "0", "sort": "size"}}),
    )
    .await;
    assert_eq!(answer.status(), 400);
    let problem = answer.json();
    let locations: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["location"].as_str().unwrap())
        .collect();
    assert_eq!(locations, ["query.limit", "query.sort"], "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("2 violations"));
}

#[tokio::test]
async fn synthetic_sandbox_wants_a_credential_where_the_spec_declares_security() {
    let (app, ada, _) = app_with_shop().await;
    let mut call = get_item("it-1");
    call["credential"] = json!("");
    let answer = shop(&app, &ada, call).await;
    assert_eq!(answer.status(), 401);
    assert_eq!(
        answer.header("www-authenticate"),
        Some("ApiKey realm=\"sandbox\", header=\"X-Api-Key\"")
    );
    assert_eq!(answer.json()["title"], "Unauthorized");
    // An operation whose security is `[]` needs none.
    let status = shop(
        &app,
        &ada,
        json!({"method": "GET", "path": "/status", "credential": ""}),
    )
    .await;
    assert_eq!(status.status(), 200, "{}", status.0);
}

#[tokio::test]
async fn synthetic_sandbox_answers_with_the_spec_example_for_the_asked_id() {
    let (app, ada, _) = app_with_shop().await;
    let answer = shop(&app, &ada, get_item("it-7")).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("x-portico-sandbox"), Some("synthetic"));
    assert_eq!(
        answer.json(),
        json!({"id": "it-7", "name": "Teapot", "price": 12.5, "tags": ["kitchen"]})
    );
    assert_eq!(answer.0["url"], "synthetic:/items/it-7");
    let curl = answer.0["curl"].as_str().unwrap();
    assert!(
        curl.contains("$PORTICO_URL/api/v1/apis/default/shop/versions/1.0.0/try")
            && curl.contains("\"credential\":\"***\"")
            && !curl.contains(KEY),
        "{curl}"
    );
    assert!(answer.0["elapsed_ms"].is_u64());
}

#[tokio::test]
async fn synthetic_sandbox_makes_schema_valid_data_without_examples() {
    let (app, ada, _) = app_with_shop().await;
    let status = shop(&app, &ada, json!({"method": "GET", "path": "/status"}))
        .await
        .json();
    assert_eq!(status["ok"], true);
    assert_eq!(status["checkedAt"], "2024-01-01T12:00:00Z");
    assert_eq!(status["region"], "eu");
    let load = status["load"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&load), "{status}");

    let page = shop(&app, &ada, json!({"method": "GET", "path": "/items"}))
        .await
        .json();
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() <= 20, "{page}");
    for item in items {
        assert!(item["id"].is_string(), "{item}");
        let name = item["name"].as_str().unwrap();
        assert!((2..=40).contains(&name.len()), "{item}");
        assert!(item["price"].as_f64().unwrap() >= 0.0, "{item}");
    }
    assert!(page["total"].as_u64().is_some(), "{page}");
    // The same call, the same data.
    let again = shop(&app, &ada, json!({"method": "GET", "path": "/items"}))
        .await
        .json();
    assert_eq!(page, again);
}

#[tokio::test]
async fn created_items_are_read_back_listed_and_deleted_for_their_developer_only() {
    let (app, ada, bob) = app_with_shop().await;
    let created = shop(&app, &ada, create("Kettle")).await;
    assert_eq!(created.status(), 201, "{}", created.0);
    let item = created.json();
    let id = item["id"].as_str().unwrap().to_owned();
    assert_eq!(item["name"], "Kettle");
    assert_eq!(item["price"], 30);
    assert_eq!(
        created.header("location"),
        Some(format!("/items/{id}").as_str())
    );

    let read = shop(&app, &ada, get_item(&id)).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.json(), item);
    let listed = shop(&app, &ada, json!({"method": "GET", "path": "/items"}))
        .await
        .json();
    assert_eq!(listed["items"], json!([item]), "{listed}");

    // Bob's sandbox knows nothing of Ada's kettle.
    let bobs = shop(&app, &bob, get_item(&id)).await;
    assert_eq!(bobs.status(), 200);
    assert_eq!(bobs.json()["name"], "Teapot", "the example, not Ada's item");
    let bobs_list = shop(&app, &bob, json!({"method": "GET", "path": "/items"}))
        .await
        .json();
    assert!(!bobs_list.to_string().contains("Kettle"), "{bobs_list}");

    let deleted = shop(
        &app,
        &ada,
        json!({"method": "DELETE", "path": "/items/{itemId}", "path_params": {"itemId": id}}),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(deleted.0["body"], "");
    let gone = shop(&app, &ada, get_item(&id)).await;
    assert_eq!(gone.status(), 404);
    assert_eq!(
        gone.header("content-type"),
        Some("application/problem+json")
    );
    let listed = shop(&app, &ada, json!({"method": "GET", "path": "/items"}))
        .await
        .json();
    assert_eq!(listed["items"], json!([]));
    // Bob's item after Ada's gets a number of its own sandbox.
    let bobs_item = shop(&app, &bob, create("Mug")).await.json();
    assert_eq!(bobs_item["name"], "Mug");
    assert_eq!(
        shop(&app, &bob, get_item(bobs_item["id"].as_str().unwrap()))
            .await
            .json(),
        bobs_item
    );
}

#[tokio::test]
async fn reset_forgets_only_the_callers_state() {
    let (app, ada, bob) = app_with_shop().await;
    let ada_item = shop(&app, &ada, create("Kettle")).await.json();
    let bob_item = shop(&app, &bob, create("Mug")).await.json();
    let ada_id = ada_item["id"].as_str().unwrap();

    let (status, _) = {
        let response = client()
            .post(format!(
                "{}/api/v1/apis/default/shop/sandbox/reset",
                app.base
            ))
            .header(COOKIE, ada.header())
            .header("x-csrf-token", &ada.csrf)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = shop(&app, &ada, get_item(ada_id)).await;
    assert_eq!(after.status(), 200);
    assert_eq!(after.json()["name"], "Teapot", "the examples are back");
    let bobs = shop(&app, &bob, get_item(bob_item["id"].as_str().unwrap())).await;
    assert_eq!(bobs.json(), bob_item, "Bob keeps his state");

    // The page's form does the same, with the session's CSRF token.
    shop(&app, &bob, create("Plate")).await;
    let page = client()
        .post(format!("{}/apis/default/shop/sandbox/reset", app.base))
        .header(COOKIE, bob.header())
        .form(&[("csrf", bob.csrf.as_str()), ("version", "1.0.0")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Your sandbox for shop is reset"), "{html}");
    assert!(html.contains("href=\"/apis/default/shop/versions/1.0.0/docs#try-it\""));
    let bobs = shop(&app, &bob, json!({"method": "GET", "path": "/items"}))
        .await
        .json();
    assert!(!bobs.to_string().contains("Plate"), "{bobs}");
    let forged = client()
        .post(format!("{}/apis/default/shop/sandbox/reset", app.base))
        .header(COOKIE, bob.header())
        .form(&[("version", "1.0.0")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Resetting an API nobody may see is a 404.
    let missing = client()
        .post(format!(
            "{}/api/v1/apis/default/nope/sandbox/reset",
            app.base
        ))
        .header(COOKIE, ada.header())
        .header("x-csrf-token", &ada.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn docs_page_offers_the_synthetic_sandbox_first_and_shows_its_answer_like_a_proxied_one() {
    let (app, ada, _) = app_with_shop().await;
    let html = client()
        .get(format!("{}/apis/default/shop/docs", app.base))
        .header(COOKIE, ada.header())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form_at = html
        .find("<span class=\"mono\">POST /items</span>")
        .expect("a form for POST /items");
    let form = &html[form_at..];
    let synthetic = form
        .find("<option value=\"synthetic\" selected>")
        .expect("the synthetic sandbox, chosen");
    let production = form.find("<option value=\"production\">").unwrap();
    assert!(synthetic < production, "offered first");
    assert!(html.contains("action=\"/apis/default/shop/sandbox/reset\""));
    assert!(html.contains(">Reset sandbox</button>"));

    let result = client()
        .post(format!("{}/apis/default/shop/versions/1.0.0/try", app.base))
        .header(COOKIE, ada.header())
        .form(&[
            ("csrf", ada.csrf.as_str()),
            ("method", "POST"),
            ("path", "/items"),
            ("server", "synthetic"),
            ("content_type", "application/json"),
            ("body", "{\"name\": \"Kettle\", \"price\": 30}"),
            ("credential", KEY),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(result.status(), StatusCode::OK);
    let page = result.text().await.unwrap();
    assert!(
        page.contains("Response <span class=\"mono try-status\">201</span>"),
        "{page}"
    );
    assert!(page.contains("synthetic:/items"));
    assert!(page.contains("&#34;name&#34;: &#34;Kettle&#34;"), "{page}");
    assert!(page.contains("x-portico-sandbox"));
    assert!(page.contains("$PORTICO_URL/api/v1/apis/default/shop/versions/1.0.0/try"));
    assert!(!page.contains(KEY));
    assert!(page.contains("<option value=\"synthetic\" selected>"));
    assert!(page.contains(">Reset sandbox</button>"));
}

#[tokio::test]
async fn demo_opens_sign_up_and_its_apis_answer_on_the_synthetic_sandbox() {
    let config = Config::load(
        None,
        Overrides {
            demo: true,
            ..Overrides::default()
        },
    )
    .unwrap();
    assert!(config.auth.signup, "a newcomer can create an account");

    let app = spawn_app(AppSpec {
        demo: true,
        auth: AuthSettings {
            signup: true,
            ..AuthSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    add_user(&app, "newcomer", "developer");
    let dev = sign_in(&app, "newcomer").await;
    let petstore = "/api/v1/apis/default/petstore/versions/1.0.0/try";
    let (status, answer) = try_call(
        &app,
        &dev,
        petstore,
        json!({"method": "POST", "path": "/pets", "server": "synthetic", "body": "{\"name\": \"Fido\"}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], 201, "{answer}");
    let pet: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(pet["name"], "Fido");
    let (_, listed) = try_call(
        &app,
        &dev,
        petstore,
        json!({"method": "GET", "path": "/pets", "server": "synthetic"}),
    )
    .await;
    assert_eq!(listed["status"], 200);
    let pets: Value = serde_json::from_str(listed["body"].as_str().unwrap()).unwrap();
    assert_eq!(pets, json!([pet]));

    // Weather declares no server at all: the synthetic sandbox answers unasked.
    let (status, answer) = try_call(
        &app,
        &dev,
        "/api/v1/apis/default/weather/versions/0.3.0/try",
        json!({"method": "GET", "path": "/forecast", "query": {"lat": "38.7", "lon": "-9.1"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(
        answer["url"]
            .as_str()
            .unwrap()
            .starts_with("synthetic:/forecast?")
    );
}
