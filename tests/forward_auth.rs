//! Gateways asking the portal about keys, as they are configured in the
//! field: a real Caddy whose `forward_auth` asks `/api/v1/keys/verify` in
//! front of an upstream served by the test (the Caddyfile of `docs/keys.md`),
//! nginx's `auth_request` form sent by hand, and the portal's own logs,
//! read from a real `portico serve`, holding no key.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portico_tests::caddy::Caddy;
use portico_tests::{TestApp, portico_bin};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::identity::{PASSWORD, Session, client};
use crate::verify::{
    CATALOG, VERIFY, app_on, as_developer, new_key, pets_portal, pets_product, secret, spec, verify,
};

/// Answers every request with the path and headers it got.
async fn echo_upstream() -> String {
    let app = axum::Router::new().fallback(
        |uri: axum::http::Uri, headers: axum::http::HeaderMap| async move {
            let headers: BTreeMap<String, String> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            axum::Json(json!({ "path": uri.path(), "headers": headers }))
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The Caddyfile of `docs/keys.md`: `forward_auth` to the portal, then the upstream.
fn caddyfile(admin: &str, port: u16, portal: &str, upstream: &str) -> String {
    format!(
        "{{
	admin {admin}
}}

http://127.0.0.1:{port} {{
	forward_auth {portal} {{
		uri /api/v1/keys/verify?
		copy_headers X-Portico-App-Id X-Portico-Key-Id X-Portico-Plan
	}}
	reverse_proxy {upstream}
}}
"
    )
}

/// Loads a Caddyfile through Caddy's admin API, which adapts it.
async fn load_caddyfile(caddy: &Caddy, text: String) {
    let response = reqwest::Client::new()
        .post(format!("{}/load", caddy.admin_url))
        .header("content-type", "text/caddyfile")
        .body(text)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "caddy refused the Caddyfile: {status} {}",
        response.text().await.unwrap_or_default()
    );
}

/// A GET of `path` through Caddy with `key` in `X-API-Key`.
async fn through(
    edge: &str,
    path: &str,
    key: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = client().get(format!("{edge}{path}"));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    // A caller cannot pass the portal's headers off as its own.
    request = request.header("x-portico-plan", "pets/forged");
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The usage events of a key, as (status, operation), once there are `count`:
/// the usage writer inserts a moment after the answer.
fn usage_of(app: &TestApp, key_id: i64, count: usize) -> Vec<(u16, Option<String>, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events: Vec<(u16, Option<String>, String)> = {
            let conn = app.server.state.db().conn();
            let mut statement = conn
                .prepare(&format!(
                    "SELECT status, operation, coalesce(api_ref, '') FROM usage_events
                     WHERE key_id = {key_id} AND source = 'verify' ORDER BY id"
                ))
                .unwrap();
            statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        if events.len() >= count || Instant::now() > deadline {
            return events;
        }
        std::thread::yield_now();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_lets_good_keys_through_and_gives_each_refusal_its_reason() {
    let caddy = Caddy::start().await;
    let edge = format!("http://127.0.0.1:{}", caddy.http_port);
    let (app, plans, dev) = pets_portal(&edge).await;
    let base = app.base.as_str();
    let upstream = echo_upstream().await;
    let admin = caddy.admin_url.trim_start_matches("http://");
    let portal = base.trim_start_matches("http://");
    load_caddyfile(&caddy, caddyfile(admin, caddy.http_port, portal, &upstream)).await;

    let (main, _) = app_on(base, &dev, "main", Some(plans.free)).await;
    let created = new_key(
        base,
        &dev,
        main,
        json!({"name": "prod", "environment": "production"}),
    )
    .await;
    let (key, key_id) = (secret(&created), created["id"].as_i64().unwrap());

    // A good key reaches the upstream, which is told the app, key and plan.
    let (status, _, seen) = through(&edge, "/v1/pets/7?full=1", Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["path"], "/v1/pets/7");
    let headers = &seen["headers"];
    assert_eq!(headers["x-portico-app-id"], main.to_string());
    assert_eq!(headers["x-portico-key-id"], key_id.to_string());
    assert_eq!(
        headers["x-portico-plan"], "pets/free",
        "not the caller's forgery"
    );

    // The caller's query stays with the call: `uri` ends in `?`, which
    // empties the query Caddy would otherwise pass to the portal, where
    // `?environment=sandbox` would pass a sandbox key off on a production server.
    let sandbox_smuggled = secret(
        &new_key(
            base,
            &dev,
            main,
            json!({"name": "smuggler", "environment": "sandbox"}),
        )
        .await,
    );
    let (status, _, body) = through(
        &edge,
        "/v1/pets/7?environment=sandbox&api=default/pets",
        Some(&sandbox_smuggled),
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("key-wrong-environment")),
        "{body}"
    );

    // No key: Caddy hands back the portal's answer.
    let (status, headers, body) = through(&edge, "/v1/pets/7", None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key-missing")),
        "{body}"
    );
    assert_eq!(headers["content-type"], "application/problem+json");

    // Sandbox keys work on the sandbox server only, production keys on production only.
    let sandbox = secret(
        &new_key(
            base,
            &dev,
            main,
            json!({"name": "test", "environment": "sandbox"}),
        )
        .await,
    );
    let (status, _, body) = through(&edge, "/v1/pets/7", Some(&sandbox)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("key-wrong-environment")),
        "{body}"
    );
    let (status, _, seen) = through(&edge, "/sandbox/v1/pets/7", Some(&sandbox)).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let (status, _, body) = through(&edge, "/sandbox/v1/pets/7", Some(&key)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("key-wrong-environment"))
    );

    // Revoked: refused on the very next call.
    let doomed = new_key(
        base,
        &dev,
        main,
        json!({"name": "doomed", "environment": "production"}),
    )
    .await;
    assert_eq!(
        through(&edge, "/v1/pets/1", Some(&secret(&doomed))).await.0,
        StatusCode::OK
    );
    as_developer(
        base,
        &dev,
        reqwest::Method::DELETE,
        &format!("/api/v1/apps/{main}/keys/{}", doomed["id"]),
        None,
    )
    .await;
    let (status, _, body) = through(&edge, "/v1/pets/1", Some(&secret(&doomed))).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key-revoked"))
    );

    // The plan's rate limit, then a quota, answered 429 with Retry-After.
    let (burst, _) = app_on(base, &dev, "burst", Some(plans.burst)).await;
    let burst_key = secret(
        &new_key(
            base,
            &dev,
            burst,
            json!({"name": "k", "environment": "production"}),
        )
        .await,
    );
    for _ in 0..2 {
        assert_eq!(
            through(&edge, "/v1/pets/1", Some(&burst_key)).await.0,
            StatusCode::OK
        );
    }
    let (status, headers, body) = through(&edge, "/v1/pets/1", Some(&burst_key)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate-limited"))
    );
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let (metered, _) = app_on(base, &dev, "metered", Some(plans.metered)).await;
    let metered_key = secret(
        &new_key(
            base,
            &dev,
            metered,
            json!({"name": "k", "environment": "production"}),
        )
        .await,
    );
    for _ in 0..2 {
        assert_eq!(
            through(&edge, "/v1/pets/1", Some(&metered_key)).await.0,
            StatusCode::OK
        );
    }
    let (status, headers, body) = through(&edge, "/v1/pets/1", Some(&metered_key)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("quota-exceeded"))
    );
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );

    // Every verification of the key is a usage event with the API and operation.
    let get = Some("GET /pets/{id}".to_owned());
    let pets = "api:default/pets".to_owned();
    assert_eq!(
        usage_of(&app, key_id, 2),
        [(200, get.clone(), pets.clone()), (403, get, pets)],
        "the good call, then the production key on the sandbox server"
    );

    // No key in the audit log.
    let audit: String = app
        .server
        .state
        .db()
        .conn()
        .query_row(
            "SELECT group_concat(target || ' ' || details, ' ') FROM audit_log",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        audit.contains("key.create") || audit.contains("key:"),
        "{audit}"
    );
    for k in [&key, &sandbox, &burst_key, &metered_key] {
        assert!(!audit.contains(&k[20..]), "a key in the audit log");
    }
}

#[tokio::test]
async fn nginx_auth_request_form_turns_exceeded_limits_into_403_with_retry_after() {
    let edge = "http://api.example.com:8443";
    let (app, plans, dev) = pets_portal(edge).await;
    let base = app.base.as_str();
    let (metered, _) = app_on(base, &dev, "metered", Some(plans.metered)).await;
    let key = secret(
        &new_key(
            base,
            &dev,
            metered,
            json!({"name": "k", "environment": "production"}),
        )
        .await,
    );
    // As nginx's `auth_request` subrequest carries them (see docs/keys.md).
    let nginx = [
        ("x-api-key", key.as_str()),
        ("x-forwarded-host", "api.example.com:8443"),
        ("x-original-uri", "/v1/pets/7?full=1"),
        ("x-original-method", "POST"),
    ];
    let (status, headers, grant) = verify(base, "?limits_as=403", &nginx).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["operation"], "POST /pets/{id}");
    assert_eq!(headers["x-portico-plan"], "pets/metered");
    assert_eq!(headers["x-quota-remaining"], "1");
    assert_eq!(
        verify(base, "?limits_as=403", &nginx).await.0,
        StatusCode::OK
    );
    let (status, headers, body) = verify(base, "?limits_as=403", &nginx).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("quota-exceeded")),
        "{body}"
    );
    assert!(headers.contains_key("retry-after"));
    // Without `limits_as`, the same is a 429.
    assert_eq!(
        verify(base, "", &nginx).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A `portico serve` process, its standard error kept in a file.
struct Served {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signs `user` in through the login form; the session and its CSRF token.
async fn sign_in_at(base: &str, user: &str) -> Session {
    let field = |html: &str| {
        let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        html[at..at + 64].to_owned()
    };
    let cookie = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_owned())
    };
    let page = client()
        .get(format!("{base}/auth/login"))
        .send()
        .await
        .unwrap();
    let pre = cookie(&page, "portico_csrf").expect("a csrf cookie");
    let csrf = field(&page.text().await.unwrap());
    let signed = client()
        .post(format!("{base}/auth/login"))
        .header(COOKIE, format!("portico_csrf={pre}"))
        .form(&[
            ("username", user),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/profile"),
        ])
        .send()
        .await
        .unwrap();
    let session = cookie(&signed, "portico_session").expect("signed in");
    let profile = client()
        .get(format!("{base}/profile"))
        .header(COOKIE, format!("portico_session={session}"))
        .send()
        .await
        .unwrap();
    Session {
        cookie: session,
        csrf: field(&profile.text().await.unwrap()),
    }
}

#[tokio::test]
async fn no_key_reaches_the_portals_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let catalog = data.join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    std::fs::write(catalog.join("catalog-info.yaml"), CATALOG).unwrap();
    std::fs::write(catalog.join("pets.yaml"), spec("http://edge.example.com")).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(portico_bin())
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .env("PORTICO_PASSWORD", PASSWORD)
            .env_remove("PORTICO_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["user", "add", "dev", "--role", "developer"]);
    run(&["catalog", "import", catalog.to_str().unwrap()]);
    std::fs::write(data.join("admin-token"), "log-test-admin-token").unwrap();
    let config = data.join("portico.toml");
    std::fs::write(
        &config,
        format!(
            "admin_token = \"file:{}\"\n",
            data.join("admin-token").display()
        ),
    )
    .unwrap();
    let log = data.join("stderr.log");
    let mut child = Command::new(portico_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(data)
        // Everything the portal itself says, and the HTTP layers' requests.
        .env(
            "PORTICO_LOG",
            "trace,cranelift=info,wasmtime=info,wasmtime_cranelift=info",
        )
        .env_remove("PORTICO_CONFIG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let served = Served {
        base: line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{line}"))
            .to_owned(),
        child,
        log,
    };
    let base = served.base.as_str();

    let plans = pets_product(base, "log-test-admin-token").await;
    let dev = sign_in_at(base, "dev").await;
    let (main, _) = app_on(base, &dev, "main", Some(plans.free)).await;
    let first = new_key(
        base,
        &dev,
        main,
        json!({"name": "prod", "environment": "production"}),
    )
    .await;
    let rotated = as_developer(
        base,
        &dev,
        reqwest::Method::POST,
        &format!("/api/v1/apps/{main}/keys/{}/rotate", first["id"]),
        Some(json!({"overlap_secs": 0})),
    )
    .await;
    let keys = [secret(&first), secret(&rotated)];
    for key in &keys {
        // As header, bearer and body; good, revoked and as an unknown key's twin.
        verify(base, "?api=default/pets", &[("x-api-key", key)]).await;
        verify(
            base,
            "?api=default/pets",
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await;
        client()
            .post(format!("{base}{VERIFY}"))
            .json(&json!({"key": key, "api": "default/pets"}))
            .send()
            .await
            .unwrap();
        verify(base, "", &[("x-api-key", &format!("{key}x"))]).await;
    }
    let (status, _, _) = verify(base, "?api=default/pets", &[("x-api-key", &keys[1])]).await;
    assert_eq!(status, StatusCode::OK);
    let text = std::fs::read_to_string(&served.log).unwrap();
    assert!(
        text.contains("/api/v1/keys/verify"),
        "the log has the requests at trace level"
    );
    for key in &keys {
        // The visible prefix may be logged; the secret after it may not.
        assert!(!text.contains(&key[20..]), "a key in the log:\n{text}");
    }
}
