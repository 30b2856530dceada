//! Sign-in, sessions, CSRF, roles and the audit log end to end: a real
//! server, real HTTP, cookies read and sent by hand (no redirects followed),
//! and `portico user add` as a process.

use portico::config::AuthSettings;
use portico::identity::users::{self, NewUser};
use portico_tests::{ADMIN_TOKEN, AppSpec, TestApp, guests, portico_bin, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

pub(crate) const PASSWORD: &str = "correct horse battery";

/// A client that follows no redirects, so tests see every 303 and cookie.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Creates an account straight in the portal's database.
pub(crate) fn add_user(app: &TestApp, name: &str, role: &str) {
    let state = &app.server.state;
    users::create_user(
        state.db(),
        state.identity().roles(),
        &NewUser {
            username: name.into(),
            password: PASSWORD.into(),
            roles: vec![role.into()],
            ..NewUser::default()
        },
    )
    .unwrap();
}

/// The value of `name="csrf"` in a page's form.
fn form_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + 64].to_owned()
}

/// A cookie's value among a response's `Set-Cookie` headers, and the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_owned();
            (value, v.to_owned())
        })
}

/// A signed-in person: the session cookie and the session's CSRF token.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

impl Session {
    pub(crate) fn header(&self) -> String {
        format!("portico_session={}", self.cookie)
    }
}

/// Posts the sign-in form as a browser would; returns the answer.
async fn post_login(
    app: &TestApp,
    user: &str,
    password: &str,
    old: Option<&Session>,
) -> reqwest::Response {
    let c = client();
    let mut page = c.get(format!("{}/auth/login", app.base));
    if let Some(old) = old {
        page = page.header(COOKIE, old.header());
    }
    let page = page.send().await.unwrap();
    let pre = set_cookie(&page, "portico_csrf").map(|(v, _)| v);
    let csrf = form_csrf(&page.text().await.unwrap());
    let mut cookies = Vec::new();
    if let Some(pre) = pre {
        cookies.push(format!("portico_csrf={pre}"));
    }
    if let Some(old) = old {
        cookies.push(old.header());
    }
    c.post(format!("{}/auth/login", app.base))
        .header(COOKIE, cookies.join("; "))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/profile"),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn sign_in(app: &TestApp, user: &str) -> Session {
    let response = post_login(app, user, PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{user} signs in");
    let (cookie, _) = set_cookie(&response, "portico_session").expect("a session cookie");
    let csrf = session_csrf(app, &cookie).await;
    Session { cookie, csrf }
}

/// The session's CSRF token, from the sign-out form of the profile page.
async fn session_csrf(app: &TestApp, cookie: &str) -> String {
    let profile = client()
        .get(format!("{}/profile", app.base))
        .header(COOKIE, format!("portico_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), StatusCode::OK);
    form_csrf(&profile.text().await.unwrap())
}

async fn me(app: &TestApp, session: Option<&Session>) -> Value {
    let mut request = client().get(format!("{}/api/v1/me", app.base));
    if let Some(s) = session {
        request = request.header(COOKIE, s.header());
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/audit?{query}"))
        .await
        .json()
        .await
        .unwrap();
    page["entries"].as_array().expect("entries").clone()
}

#[tokio::test]
async fn sign_in_sets_a_safe_session_cookie_and_a_new_id_each_time() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "ada", "viewer");
    let response = post_login(&app, "ada", PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/profile");
    let (id, header) = set_cookie(&response, "portico_session").unwrap();
    assert_eq!(id.len(), 64, "256 bits as hex");
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax") && header.contains("Path=/"),
        "{header}"
    );
    assert!(!header.contains("Secure"), "plain http: {header}");
    let csrf = session_csrf(&app, &id).await;
    let first = Session { cookie: id, csrf };
    let who = me(&app, Some(&first)).await;
    assert_eq!(who["name"], "ada");
    assert_eq!(who["kind"], "person");
    assert_eq!(who["roles"], serde_json::json!(["viewer"]));

    // Over https (as the proxy says), the cookie is Secure.
    let page = client()
        .get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    let pre = set_cookie(&page, "portico_csrf").unwrap().0;
    let csrf = form_csrf(&page.text().await.unwrap());
    let secure = client()
        .post(format!("{}/auth/login", app.base))
        .header("x-forwarded-proto", "https")
        .header(COOKIE, format!("portico_csrf={pre}"))
        .form(&[("username", "ada"), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    let (_, header) = set_cookie(&secure, "portico_session").unwrap();
    assert!(header.contains("; Secure"), "{header}");

    // Signing in again with the old cookie gives a new id and ends the old one.
    let again = post_login(&app, "ada", PASSWORD, Some(&first)).await;
    let (second, _) = set_cookie(&again, "portico_session").unwrap();
    assert_ne!(second, first.cookie);
    assert_eq!(me(&app, Some(&first)).await["kind"], "anonymous");
    let second = Session {
        csrf: session_csrf(&app, &second).await,
        cookie: second,
    };
    assert_eq!(me(&app, Some(&second)).await["name"], "ada");
}

#[tokio::test]
async fn the_profile_page_shows_who_you_are_with_roles_and_groups() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "grace", "api-owner");
    let db = app.server.state.db();
    let id = users::authenticate(db, "grace", PASSWORD).unwrap().unwrap();
    users::add_to_group(db, id, "payments-team").unwrap();
    let session = sign_in(&app, "grace").await;
    let html = client()
        .get(format!("{}/profile", app.base))
        .header(COOKIE, session.header())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Signed in as <strong>grace</strong> (person)"),
        "{html}"
    );
    assert!(html.contains("<li class=\"tag\">api-owner</li>"), "{html}");
    assert!(
        html.contains("<li class=\"tag\">payments-team</li>"),
        "{html}"
    );
    assert!(
        html.contains("<li class=\"tag\">catalog.write</li>"),
        "{html}"
    );
    assert!(html.contains("action=\"/auth/logout\""), "a sign-out form");
}

#[tokio::test]
async fn a_wrong_password_gets_the_generic_message_no_session_and_an_audit_entry() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "ada", "viewer");
    let wrong = post_login(&app, "ada", "not the password", None).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong, "portico_session").is_none());
    let wrong_text = wrong.text().await.unwrap();
    let unknown = post_login(&app, "nobody", PASSWORD, None).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_text = unknown.text().await.unwrap();
    for html in [&wrong_text, &unknown_text] {
        assert!(
            html.contains("The username or password is not right."),
            "{html}"
        );
    }
    sign_in(&app, "ada").await;
    let entries = audit(&app, "action=auth.login").await;
    let outcomes: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ada", "success"),
            ("nobody", "failure"),
            ("ada", "failure")
        ]
    );
    let success = &entries[0];
    assert_eq!(success["actor_kind"], "person");
    assert_eq!(success["actor_name"], "ada");
    assert_eq!(success["source_ip"], "127.0.0.1");
    assert!(
        success["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_refused_even_with_the_right_password() {
    let app = spawn_app(AppSpec {
        auth: AuthSettings {
            max_failed_logins: 2,
            ..AuthSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    add_user(&app, "ada", "viewer");
    for _ in 0..2 {
        assert_eq!(
            post_login(&app, "ada", "guess", None).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = post_login(&app, "ada", PASSWORD, None).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&blocked, "portico_session").is_none());
    let denied = audit(&app, "action=auth.login").await;
    assert_eq!(denied[0]["outcome"], "denied");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "ada", "developer");
    let session = sign_in(&app, "ada").await;
    let out = client()
        .post(format!("{}/auth/logout", app.base))
        .header(COOKIE, session.header())
        .form(&[("csrf", session.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (cleared, header) = set_cookie(&out, "portico_session").unwrap();
    assert!(
        cleared.is_empty() && header.contains("Max-Age=0"),
        "{header}"
    );
    assert_eq!(me(&app, Some(&session)).await["kind"], "anonymous");
    let entries = audit(&app, "action=auth.logout").await;
    assert_eq!(entries[0]["actor_name"], "ada");
    assert_eq!(entries[0]["outcome"], "success");
}

#[tokio::test]
async fn a_forged_or_unknown_cookie_is_anonymous() {
    let app = spawn_app(AppSpec::default()).await;
    for forged in ["0".repeat(64), "not-hex".into(), "a".repeat(500)] {
        let session = Session {
            cookie: forged,
            csrf: String::new(),
        };
        assert_eq!(me(&app, Some(&session)).await["kind"], "anonymous");
        let profile = client()
            .get(format!("{}/profile", app.base))
            .header(COOKIE, session.header())
            .send()
            .await
            .unwrap();
        assert_eq!(profile.status(), StatusCode::SEE_OTHER);
        assert_eq!(profile.headers()[LOCATION], "/auth/login?next=%2Fprofile");
    }
}

#[tokio::test]
async fn a_cross_site_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::HELLO_CONNECTOR],
        ..AppSpec::default()
    })
    .await;
    add_user(&app, "root", "admin");
    let session = sign_in(&app, "root").await;
    let disable = format!("{}/api/v1/plugins/hello-connector/disable", app.base);
    // What a form on another site can send: the cookie, a form body, no token.
    let forged = client()
        .post(&disable)
        .header(COOKIE, session.header())
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = client()
        .post(&disable)
        .header(COOKIE, session.header())
        .header("x-csrf-token", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        app.server.state.plugins().get("hello-connector").is_some(),
        "still serving"
    );
    let logout = client()
        .post(format!("{}/auth/logout", app.base))
        .header(COOKIE, session.header())
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        me(&app, Some(&session)).await["name"],
        "root",
        "still signed in"
    );
    let csrf = audit(&app, "action=auth.csrf").await;
    assert_eq!(csrf.len(), 3);

    let real = client()
        .post(&disable)
        .header(COOKIE, session.header())
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(real.status(), StatusCode::OK);
    assert!(app.server.state.plugins().get("hello-connector").is_none());
}

#[tokio::test]
async fn plugin_changes_are_audited_with_who_did_them() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::HELLO_CONNECTOR],
        ..AppSpec::default()
    })
    .await;
    let by_token = app
        .client
        .post(format!(
            "{}/api/v1/plugins/hello-connector/disable",
            app.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-request-id", "disable-1")
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), 200);
    add_user(&app, "root", "admin");
    let session = sign_in(&app, "root").await;
    let by_person = client()
        .post(format!(
            "{}/api/v1/plugins/hello-connector/enable",
            app.base
        ))
        .header(COOKIE, session.header())
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(by_person.status(), 200);
    let missing = app
        .client
        .post(format!(
            "{}/api/v1/plugins/no-such-plugin/disable",
            app.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let entries = audit(&app, "action=plugin.").await;
    let rows: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["actor_kind"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("plugin.disable", "no-such-plugin", "system", "failure"),
            ("plugin.enable", "hello-connector", "person", "success"),
            ("plugin.disable", "hello-connector", "system", "success"),
        ]
    );
    assert_eq!(entries[2]["request_id"], "disable-1");
    assert_eq!(entries[1]["actor_name"], "root");

    // Paged by cursor, filtered by actor, and exported as JSON lines.
    let page: Value = app
        .get("/api/v1/audit?action=plugin.&limit=2")
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_i64().expect("a next page");
    let older = audit(&app, &format!("action=plugin.&limit=2&cursor={cursor}")).await;
    assert_eq!(older.len(), 1);
    assert_eq!(older[0]["request_id"], "disable-1");
    assert_eq!(
        audit(&app, "actor=root&requests=false").await.len(),
        2,
        "the sign-in and the enable"
    );
    assert_eq!(audit(&app, "action=plugin.&from=2000-01-01").await.len(), 3);
    assert!(audit(&app, "action=plugin.&to=2000-01-01").await.is_empty());
    let bad = app.get("/api/v1/audit?from=yesterday").await;
    assert_eq!(bad.status(), 400);
    let export = app.get("/api/v1/audit?format=jsonl&requests=false").await;
    assert_eq!(export.headers()["content-type"], "application/jsonl");
    let lines: Vec<Value> = export
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let html = client()
        .get(format!("{}/admin/audit?action=plugin.", app.base))
        .header(COOKIE, session.header())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<td class=\"nowrap\">plugin.enable</td>"),
        "{html}"
    );
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "ada", "viewer");
    sign_in(&app, "ada").await;
    let db = app.server.state.db();
    let conn = db.conn();
    let update = conn.execute("UPDATE audit_log SET outcome = 'failure'", ());
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = conn.execute("DELETE FROM audit_log", ());
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn sign_up_makes_developers_only_when_open() {
    let closed = spawn_app(AppSpec::default()).await;
    let page = client()
        .get(format!("{}/auth/signup", closed.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);

    let open = spawn_app(AppSpec {
        auth: AuthSettings {
            signup: true,
            ..AuthSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    let page = client()
        .get(format!("{}/auth/signup", open.base))
        .send()
        .await
        .unwrap();
    let pre = set_cookie(&page, "portico_csrf").unwrap().0;
    let csrf = form_csrf(&page.text().await.unwrap());
    let created = client()
        .post(format!("{}/auth/signup", open.base))
        .header(COOKIE, format!("portico_csrf={pre}"))
        .form(&[
            ("username", "newdev"),
            ("password", PASSWORD),
            ("email", "d@example.com"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let (cookie, _) = set_cookie(&created, "portico_session").unwrap();
    let session = Session {
        csrf: session_csrf(&open, &cookie).await,
        cookie,
    };
    let who = me(&open, Some(&session)).await;
    assert_eq!(who["roles"], serde_json::json!(["developer"]));
    let without_token = client()
        .post(format!("{}/auth/signup", open.base))
        .form(&[("username", "other"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(without_token.status(), StatusCode::FORBIDDEN);
}

/// Runs `portico user add` on a data directory; returns the exit code and standard error.
fn user_add(
    data_dir: &std::path::Path,
    args: &[&str],
    password: Option<&str>,
) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(portico_bin());
    command
        .args(["user", "add"])
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("PORTICO_PASSWORD")
        .env_remove("PORTICO_CONFIG")
        .stdin(std::process::Stdio::null())
        .current_dir(data_dir);
    if let Some(password) = password {
        command.env("PORTICO_PASSWORD", password);
    }
    let out = command.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn user_add_creates_the_first_admin_and_refuses_bad_input_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = user_add(dir.path(), &["root", "--role", "admin"], Some(PASSWORD));
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = user_add(
        dir.path(),
        &["other", "--role", "superuser"],
        Some(PASSWORD),
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown role `superuser`"), "{stderr}");
    let (code, stderr) = user_add(dir.path(), &["root", "--role", "viewer"], Some(PASSWORD));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("exists already"), "{stderr}");
    let (code, stderr) = user_add(dir.path(), &["nopass", "--role", "viewer"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORTICO_PASSWORD"), "{stderr}");
    let (code, _) = user_add(dir.path(), &["short", "--role", "viewer"], Some("2short"));
    assert_eq!(code, Some(2));
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let (code, stderr) = user_add(
        dir.path(),
        &[
            "fromfile",
            "--role",
            "developer",
            "--password-file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{stderr}");

    let db = portico_catalog::Database::open(&dir.path().join("portico.db")).unwrap();
    assert!(
        users::authenticate(&db, "root", PASSWORD)
            .unwrap()
            .is_some()
    );
    assert!(
        users::authenticate(&db, "fromfile", PASSWORD)
            .unwrap()
            .is_some()
    );
    assert!(
        users::authenticate(&db, "other", PASSWORD)
            .unwrap()
            .is_none()
    );
}

/// Single sign-on's bad inputs, without a provider to answer: a callback
/// this browser did not start is refused (and audited), and a provider that
/// cannot be reached gets a clear page, never a 500. The whole flow against
/// a real provider is a browser test (tests/browser, oidc-provider).
#[tokio::test]
async fn single_sign_on_refuses_foreign_callbacks_and_explains_an_unreachable_provider() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "s3cret").unwrap();
    // A port nothing listens on: bind, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let oidc: portico::config::OidcSettings = toml::from_str(&format!(
        "issuer = \"http://127.0.0.1:{port}\"\nclient_id = \"portal\"\n\
         client_secret = \"file:{}\"\nbutton = \"Sign in with Example SSO\"\n\
         allow_private_addresses = true\n",
        secret.display()
    ))
    .unwrap();
    let app = spawn_app(AppSpec {
        auth: AuthSettings {
            oidc: Some(oidc),
            ..AuthSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    let login = client()
        .get(format!("{}/auth/login?next=/plugins", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        login.contains("href=\"/auth/oidc/login?next=/plugins\"")
            && login.contains("Sign in with Example SSO"),
        "{login}"
    );

    for uri in [
        "/auth/oidc/callback?state=forged&code=stolen",
        "/auth/oidc/callback?error=access_denied&error_description=cancelled",
    ] {
        let response = client()
            .get(format!("{}{uri}", app.base))
            .header(COOKIE, "portico_oidc_state=forged")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "no session for {uri}"
        );
        let page = response.text().await.unwrap();
        assert!(
            page.contains("not valid any more")
                || page.contains("refused the sign-in: access_denied cancelled"),
            "{page}"
        );
    }
    let entries = audit(&app, "action=auth.login").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["outcome"] == "failure" && e["details"]["method"] == "oidc")
    );

    let unreachable = client()
        .get(format!("{}/auth/oidc/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unreachable.status(), StatusCode::BAD_GATEWAY);
    let page = unreachable.text().await.unwrap();
    assert!(page.contains("identity provider cannot be used"), "{page}");
}

/// The `http.request` entries matching `query`, once there are `count` of
/// them: the request log writes off the request path, a moment later.
async fn requests_logged(app: &TestApp, query: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = audit(app, &format!("action=http.request&{query}")).await;
        if found.len() >= count || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn every_request_is_logged_with_its_actor_kind_and_agents_are_told_from_people() {
    let app = spawn_app(AppSpec::default()).await;
    add_user(&app, "ada", "developer");
    let ada = sign_in(&app, "ada").await;
    let agent_ua = "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)";
    for (user_agent, session) in [
        ("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", Some(&ada)),
        (agent_ua, Some(&ada)),
        (agent_ua, None),
    ] {
        let mut request = client()
            .get(format!("{}/catalog?q=weather", app.base))
            .header("user-agent", user_agent);
        if let Some(s) = session {
            request = request.header(COOKIE, s.header());
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
    }
    client()
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();

    let agents = requests_logged(&app, "kind=agent", 2).await;
    assert_eq!(agents.len(), 2, "{agents:?}");
    let actors: Vec<&str> = agents
        .iter()
        .map(|e| e["actor_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        actors,
        ["anonymous", "ada"],
        "the agent acts for whoever it signed in as"
    );
    assert!(agents.iter().all(|e| e["target"] == "GET /catalog"
        && e["details"]["agent"] == "ClaudeBot"
        && e["details"]["status"] == 200));

    let people = requests_logged(&app, "kind=person", 1).await;
    assert!(
        people
            .iter()
            .any(|e| e["target"] == "GET /catalog" && e["actor_name"] == "ada"),
        "{people:?}"
    );
    let probes = audit(&app, "action=http.request").await;
    assert!(probes.iter().all(|e| e["target"] != "GET /healthz"));
    // Changes stay easy to read: the requests can be left out.
    let changes = audit(&app, "requests=false").await;
    assert!(changes.iter().all(|e| e["action"] != "http.request"));
    assert!(changes.iter().any(|e| e["action"] == "auth.login"));
}
