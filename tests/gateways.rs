//! Gateway syncs end to end: a real Caddy started by the test, the bundled
//! `connector-caddy`, the real server; and stand-in admin APIs that are
//! down, slow, answer garbage or record what reaches them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use portico::config::GatewaySettings;
use portico_tests::caddy::{Caddy, free_port, proxy_route};
use portico_tests::{AppSpec, TestApp, guests, portico_bin, spawn_app, try_spawn_app};
use serde_json::{Value, json};

/// A `[[gateways]]` table from TOML text.
fn gateway(toml_text: &str) -> GatewaySettings {
    toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"))
}

/// An on-demand Caddy gateway called `name` for the admin API at `url`.
fn caddy_gateway(name: &str, url: &str, extra: &str) -> GatewaySettings {
    gateway(&format!(
        "name = \"{name}\"\nconnector = \"connector-caddy\"\nsync_interval = \"off\"\n\
         timeout = \"5s\"\nallow_private_addresses = true\n{extra}\n\
         [config]\nadmin_url = \"{url}\"\n"
    ))
}

async fn sync(app: &TestApp, name: &str) -> Value {
    let response = app
        .client
        .post(format!("{}/api/v1/gateways/{name}/sync", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sync {name}");
    response.json().await.unwrap()
}

async fn json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

fn two_routes() -> Value {
    json!([
        proxy_route(Some("orders"), "api.example.com", "/orders/*", "127.0.0.1:9001"),
        {
            "match": [{"host": ["shop.example.com"]}],
            "handle": [{"handler": "subroute", "routes": [
                {"match": [{"path": ["/cart/*"]}],
                 "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:9002"}]}]}
            ]}]
        }
    ])
}

#[tokio::test]
async fn caddy_gateway_routes_sync_into_the_catalogue_and_orphan_when_removed() {
    let caddy = Caddy::start().await;
    caddy.load_routes(two_routes()).await;
    let app = spawn_app(AppSpec {
        gateways: vec![caddy_gateway("edge", &caddy.admin_url, "")],
        ..AppSpec::default()
    })
    .await;

    let run = sync(&app, "edge").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        (run["discovered"].as_u64(), run["added"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(run["trigger"], "api");

    let hits = json(&app, "/api/v1/apis?source=gateway:edge").await;
    assert_eq!(hits["total"], 2, "{hits}");
    assert!(
        hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["source"] == "gateway:edge")
    );
    let orders = json(&app, "/api/v1/apis/default/orders").await;
    assert_eq!(orders["source"], "gateway:edge");
    assert_eq!(
        orders["environments"],
        json!([{"name": "production", "url": format!("http://api.example.com:{}/orders", caddy.http_port), "description": null}])
    );
    let cart = json(&app, "/api/v1/apis/default/shop-example-com-cart").await;
    assert_eq!(
        cart["environments"][0]["url"],
        format!("http://shop.example.com:{}/cart", caddy.http_port)
    );
    let entity = json(&app, "/api/catalog/entities/by-name/api/default/orders").await;
    assert_eq!(
        entity["metadata"]["annotations"]["portico.dev/gateway"],
        "edge"
    );
    assert_eq!(
        entity["metadata"]["annotations"]["portico.dev/gateway-api-id"],
        "orders"
    );

    // The cart route goes away: its API is orphaned, the other one untouched.
    caddy
        .load_routes(json!([proxy_route(
            Some("orders"),
            "api.example.com",
            "/orders/*",
            "127.0.0.1:9001"
        )]))
        .await;
    let run = sync(&app, "edge").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        (run["orphaned"].as_u64(), run["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    let cart = json(
        &app,
        "/api/catalog/entities/by-name/api/default/shop-example-com-cart",
    )
    .await;
    assert_eq!(
        cart["metadata"]["annotations"]["backstage.io/orphan"],
        "true"
    );

    let runs = json(&app, "/api/v1/gateways/edge/runs").await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs[0]["id"].as_i64() > runs[1]["id"].as_i64(),
        "newest first"
    );
    assert_eq!(runs[1]["added"], 2);
    assert!(runs[0]["finished_at"].is_string());
    let gateways = json(&app, "/api/v1/gateways").await;
    assert_eq!(gateways[0]["name"], "edge");
    assert_eq!(gateways[0]["last_run"]["id"], runs[0]["id"]);
    let audit = json(&app, "/api/v1/audit?action=gateway.sync").await;
    assert!(audit.to_string().contains("\"target\":\"edge\""), "{audit}");
    let page = app.get("/admin/gateways").await.text().await.unwrap();
    assert!(
        page.contains("edge") && page.contains("1 orphaned"),
        "{page}"
    );
}

/// A stand-in admin API: answers `body` and records each request's
/// `Authorization` header; `stall` makes it accept and never answer.
struct FakeAdmin {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
    body: Arc<Mutex<String>>,
}

impl FakeAdmin {
    async fn start(body: &str, stall: bool) -> FakeAdmin {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let text = Arc::new(Mutex::new(body.to_owned()));
        let (log, answer) = (seen.clone(), text.clone());
        let app = axum::Router::new().fallback(move |headers: HeaderMap| {
            let (log, answer) = (log.clone(), answer.clone());
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                log.lock().unwrap().push(auth);
                if stall {
                    std::future::pending::<()>().await;
                }
                let body = answer.lock().unwrap().clone();
                ([("content-type", "application/json")], body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeAdmin {
            url: format!("http://{addr}"),
            seen,
            body: text,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

const ONE_ROUTE: &str = r#"{"srv": {"listen": [":8080"], "routes": [
    {"@id": "billing", "match": [{"host": ["pay.example.com"]}],
     "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "10.0.0.9:80"}]}]}]}}"#;

#[tokio::test]
async fn a_gateway_that_is_down_or_slow_fails_within_its_timeout_while_another_gateway_syncs() {
    let caddy = Caddy::start().await;
    caddy.load_routes(two_routes()).await;
    let slow = FakeAdmin::start(ONE_ROUTE, true).await;
    let down = format!("http://127.0.0.1:{}", free_port());
    let mut slow_gateway = caddy_gateway("slow", &slow.url, "");
    slow_gateway.timeout = portico::config::HumaneDuration::parse("1s").unwrap();
    let app = spawn_app(AppSpec {
        gateways: vec![
            caddy_gateway("edge", &caddy.admin_url, ""),
            caddy_gateway("down", &down, ""),
            slow_gateway,
        ],
        ..AppSpec::default()
    })
    .await;

    let started = Instant::now();
    let (edge, down_run, slow_run) =
        tokio::join!(sync(&app, "edge"), sync(&app, "down"), sync(&app, "slow"));
    let elapsed = started.elapsed();
    assert_eq!(edge["status"], "succeeded", "{edge}");
    assert_eq!(edge["added"], 2);

    assert_eq!(down_run["status"], "failed");
    let error = down_run["error"].as_str().unwrap();
    assert!(
        error.contains("discover (page 1)")
            && error.contains(&down)
            && error.contains("nothing was written"),
        "{error}"
    );
    assert_eq!(slow_run["status"], "failed");
    let error = slow_run["error"].as_str().unwrap();
    assert!(
        error.contains("time limit of 1000 ms") || error.contains("timeout of 1s"),
        "{error}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "bounded by the slow gateway's 1s: {elapsed:?}"
    );
    assert!(!slow.seen().is_empty(), "the slow gateway was called");
    // The portal kept serving, and the failed gateways wrote nothing.
    let hits = json(&app, "/api/v1/apis").await;
    assert_eq!(hits["total"], 2, "{hits}");
}

#[tokio::test]
async fn a_gateway_answering_garbage_fails_cleanly_and_keeps_its_apis() {
    let admin = FakeAdmin::start(ONE_ROUTE, false).await;
    let app = spawn_app(AppSpec {
        gateways: vec![caddy_gateway("pay", &admin.url, "")],
        ..AppSpec::default()
    })
    .await;
    assert_eq!(sync(&app, "pay").await["added"], 1);

    for garbage in ["<html>oops</html>", r#"{"srv": {"routes": "not a list"}}"#] {
        *admin.body.lock().unwrap() = garbage.to_owned();
        let run = sync(&app, "pay").await;
        assert_eq!(run["status"], "failed", "{run}");
        let error = run["error"].as_str().unwrap();
        assert!(
            error.contains("answered") && error.contains("JSON"),
            "{error}"
        );
    }
    let billing = json(&app, "/api/catalog/entities/by-name/api/default/billing").await;
    assert!(
        billing["metadata"]["annotations"]
            .get("backstage.io/orphan")
            .is_none(),
        "a failed sync orphans nothing: {billing}"
    );
}

#[tokio::test]
async fn gateway_credentials_reach_only_their_own_gateway_and_hosts_outside_the_allowlist_are_denied()
 {
    let a = FakeAdmin::start(ONE_ROUTE, false).await;
    let b = FakeAdmin::start(&ONE_ROUTE.replace("billing", "ledger"), false).await;
    let secrets = tempfile::tempdir().unwrap();
    let token = |name: &str, value: &str| {
        let path = secrets.path().join(name);
        std::fs::write(&path, value).unwrap();
        format!("[secrets]\ntoken = \"file:{}\"", path.display())
    };
    let app = spawn_app(AppSpec {
        gateways: vec![
            caddy_gateway("a", &a.url, &token("a", "token-a")),
            caddy_gateway("b", &b.url, &token("b", "token-b")),
            // Configured to call b's admin API, but granted only a's host.
            caddy_gateway(
                "sneaky",
                &b.url,
                &format!("allowed_outbound_hosts = [\"{}\"]", a.url),
            ),
        ],
        ..AppSpec::default()
    })
    .await;
    assert_eq!(sync(&app, "a").await["status"], "succeeded");
    assert_eq!(sync(&app, "b").await["status"], "succeeded");
    assert_eq!(a.seen(), ["Bearer token-a"]);
    assert_eq!(b.seen(), ["Bearer token-b"]);

    let run = sync(&app, "sneaky").await;
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("denied"), "{error}");
    assert_eq!(
        b.seen().len(),
        1,
        "the denied request never left the portal"
    );
    let gateways = json(&app, "/api/v1/gateways").await;
    let sneaky = gateways
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "sneaky")
        .unwrap();
    assert_eq!(sneaky["allowed_outbound_hosts"], json!([a.url.clone()]));
    assert!(
        !gateways.to_string().contains("token-a"),
        "secret values are never shown"
    );
}

#[tokio::test]
async fn a_gateway_without_an_installed_connector_stops_the_start() {
    for (connector, expected) in [
        ("connector-nope", "is not installed"),
        ("fixture-renderer", "not a gateway-connector"),
    ] {
        let settings = gateway(&format!(
            "name = \"edge\"\nconnector = \"{connector}\"\n[config]\nadmin_url = \"http://127.0.0.1:1\"\n"
        ));
        let error = try_spawn_app(AppSpec {
            plugins: vec![guests::FIXTURE_RENDERER],
            gateways: vec![settings],
            ..AppSpec::default()
        })
        .await
        .err()
        .expect("the start is refused");
        let error = format!("{error:#}");
        assert!(
            error.contains("gateways.edge") && error.contains(expected),
            "{error}"
        );
    }
}

#[tokio::test]
async fn scheduled_gateway_syncs_run_on_their_own() {
    let admin = FakeAdmin::start(ONE_ROUTE, false).await;
    let mut settings = caddy_gateway("pay", &admin.url, "");
    settings.sync_interval =
        portico::config::Every::Interval(portico::config::HumaneDuration::parse("1s").unwrap());
    let app = spawn_app(AppSpec {
        gateways: vec![settings],
        ..AppSpec::default()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let runs = json(&app, "/api/v1/gateways/pay/runs").await;
        let done: Vec<&Value> = runs
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["trigger"] == "schedule" && r["status"] == "succeeded")
            .collect();
        if done.len() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no two scheduled runs: {runs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn gateway_cli_lists_gateways_and_syncs_one() {
    let caddy = Caddy::start().await;
    caddy.load_routes(two_routes()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portico.toml");
    std::fs::write(
        &config,
        format!(
            "[[gateways]]\nname = \"edge\"\nconnector = \"connector-caddy\"\nsync_interval = \"off\"\n\
             allow_private_addresses = true\n[gateways.config]\nadmin_url = \"{}\"\n\
             [[gateways]]\nname = \"down\"\nconnector = \"connector-caddy\"\ntimeout = \"2s\"\n\
             allow_private_addresses = true\n[gateways.config]\nadmin_url = \"http://127.0.0.1:{}\"\n",
            caddy.admin_url,
            free_port()
        ),
    )
    .unwrap();
    let portico = |args: &[&str]| {
        let mut command = std::process::Command::new(portico_bin());
        command
            .args(args)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"));
        command.output().unwrap()
    };
    let out = portico(&["gateway", "sync", "edge"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("succeeded: 2 found, 2 added"), "{text}");

    let out = portico(&["gateway", "sync", "down"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("failed"));

    let out = portico(&["gateway", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("edge") && text.contains("connector-caddy") && text.contains("run 1"),
        "{text}"
    );
    assert!(text.contains("down") && text.contains("failed"), "{text}");

    let out = portico(&["gateway", "sync", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no gateway called `nope`") && err.contains("edge, down"),
        "{err}"
    );

    std::fs::write(
        &config,
        "[[gateways]]\nname = \"x\"\nconnector = \"c\"\nsync_interval = \"soon\"\n",
    )
    .unwrap();
    let out = portico(&["gateway", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("portico.toml") && err.contains("soon"),
        "{err}"
    );
}
