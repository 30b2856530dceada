//! Catalogue locations end to end: Backstage's `/api/catalog/locations` routes
//! on a real server (file locations within `[catalog] roots`, URL locations
//! served by a real local HTTP server, the admin token) and `catalog import`
//! of URLs from the command line.

use std::path::PathBuf;

use portico::config::CatalogSettings;
use portico_catalog::OrphanPolicy;
use portico_tests::{AppSpec, TestApp, portico_bin, serve_files, spawn_app};
use serde_json::{Value, json};
use tempfile::TempDir;

const TOKEN: &str = "test-admin-token";

fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

const API: &str = "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: pets\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./specs/pets.yaml\n";

const PETS: &str = "openapi: 3.0.0\ninfo: {title: Pets, version: '1'}\npaths:\n  /pets:\n    get:\n      operationId: listPets\n";

/// A server, the directory its file locations may come from, and the token file.
struct Portal {
    app: TestApp,
    files: TempDir,
    _secrets: TempDir,
}

impl Portal {
    fn root(&self) -> PathBuf {
        self.files.path().join("root")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.root().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn post(&self, query: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self
            .app
            .client
            .post(format!("{}/api/catalog/locations{query}", self.app.base))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn delete(&self, id: &str, token: Option<&str>) -> u16 {
        let mut request = self
            .app
            .client
            .delete(format!("{}/api/catalog/locations/{id}", self.app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn entity(&self, kind: &str, name: &str) -> Option<Value> {
        let response = self
            .app
            .get(&format!(
                "/api/catalog/entities/by-name/{kind}/default/{name}"
            ))
            .await;
        match response.status().as_u16() {
            200 => Some(response.json().await.unwrap()),
            404 => None,
            other => panic!("unexpected status {other}"),
        }
    }
}

/// Starts a portal whose `[catalog]` is `catalog` with `roots` set to its own
/// directory (unless `with_roots` is false), and an admin token (unless
/// `with_token` is false).
async fn portal(mut catalog: CatalogSettings, with_roots: bool, with_token: bool) -> Portal {
    let files = tempfile::tempdir().unwrap();
    std::fs::create_dir(files.path().join("root")).unwrap();
    if with_roots {
        catalog.roots = vec![files.path().join("root")];
    }
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("admin-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let app = spawn_app(AppSpec {
        catalog,
        admin_token: with_token.then(|| format!("file:{}", token_file.display())),
        ..AppSpec::default()
    })
    .await;
    Portal {
        app,
        files,
        _secrets: secrets,
    }
}

fn loopback(allow_private_addresses: bool) -> CatalogSettings {
    CatalogSettings {
        allowed_hosts: vec!["http://127.0.0.1:*".into()],
        allow_private_addresses,
        ..CatalogSettings::default()
    }
}

fn names(entities: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = entities
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn file_location_in_roots_imports_at_once_and_a_second_post_conflicts() {
    let p = portal(CatalogSettings::default(), true, true).await;
    let file = p.write(
        "catalog-info.yaml",
        &format!("{}---\n{}", component("a"), component("b")),
    );
    let body = json!({"type": "file", "target": file.display().to_string()});
    let (status, created) = p.post("", body.clone(), Some(TOKEN)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["exists"], false);
    assert_eq!(created["location"]["type"], "file");
    assert_eq!(names(&created["entities"]), ["a", "b"]);
    assert!(p.entity("component", "a").await.is_some());

    let id = created["location"]["id"].as_str().unwrap();
    let location: Value = p
        .app
        .get(&format!("/api/catalog/locations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(location, created["location"]);
    let listed: Value = p
        .app
        .get("/api/catalog/locations")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["data"] == created["location"]),
        "{listed}"
    );
    let by_entity: Value = p
        .app
        .get("/api/catalog/locations/by-entity/component/default/b")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_entity["id"], id);

    let (status, problem) = p.post("", body, Some(TOKEN)).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{problem}"
    );
}

#[tokio::test]
async fn dry_run_reads_a_location_but_registers_nothing() {
    let p = portal(CatalogSettings::default(), true, true).await;
    let file = p.write("catalog-info.yaml", &component("dry"));
    let target = file.display().to_string();
    let body = json!({"type": "file", "target": target});
    let (status, created) = p.post("?dryRun=true", body, Some(TOKEN)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(names(&created["entities"]), ["dry"]);
    assert_eq!(created["exists"], false);
    assert_eq!(created["location"]["id"], format!("file:{target}"));
    assert!(p.entity("component", "dry").await.is_none());
    let listed: Value = p
        .app
        .get("/api/catalog/locations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn deleting_a_location_orphans_its_entities_when_orphans_are_kept() {
    let p = portal(CatalogSettings::default(), true, true).await;
    let file = p.write("catalog-info.yaml", &component("kept"));
    let body = json!({"type": "file", "target": file.display().to_string()});
    let (_, created) = p.post("", body, Some(TOKEN)).await;
    let id = created["location"]["id"].as_str().unwrap();
    assert_eq!(p.delete(id, Some(TOKEN)).await, 204);
    let kept = p
        .entity("component", "kept")
        .await
        .expect("kept as an orphan");
    assert_eq!(
        kept["metadata"]["annotations"]["backstage.io/orphan"],
        "true"
    );
    assert_eq!(p.delete(id, Some(TOKEN)).await, 404);
    let gone = p.app.get(&format!("/api/catalog/locations/{id}")).await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn deleting_a_location_deletes_its_entities_when_configured() {
    let settings = CatalogSettings {
        orphans: OrphanPolicy::Delete,
        ..CatalogSettings::default()
    };
    let p = portal(settings, true, true).await;
    let file = p.write("catalog-info.yaml", &component("doomed"));
    let body = json!({"type": "file", "target": file.display().to_string()});
    let (_, created) = p.post("", body, Some(TOKEN)).await;
    let id = created["location"]["id"].as_str().unwrap();
    assert_eq!(p.delete(id, Some(TOKEN)).await, 204);
    assert!(p.entity("component", "doomed").await.is_none());
}

#[tokio::test]
async fn file_locations_outside_roots_or_without_roots_are_refused() {
    let p = portal(CatalogSettings::default(), true, true).await;
    let outside = p.files.path().join("outside.yaml");
    std::fs::write(&outside, component("outside")).unwrap();
    let body = json!({"type": "file", "target": outside.display().to_string()});
    let (status, problem) = p.post("", body, Some(TOKEN)).await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("outside the directories in [catalog] roots"),
        "{problem}"
    );
    let (status, problem) = p
        .post("", json!({"type": "git", "target": "x"}), Some(TOKEN))
        .await;
    assert_eq!(status, 400, "{problem}");

    let no_roots = portal(CatalogSettings::default(), false, true).await;
    let file = no_roots.write("catalog-info.yaml", &component("x"));
    let body = json!({"type": "file", "target": file.display().to_string()});
    let (status, problem) = no_roots.post("", body, Some(TOKEN)).await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("file locations are disabled"),
        "{problem}"
    );
}

#[tokio::test]
async fn location_writes_need_a_valid_token_or_catalog_write() {
    let open = portal(CatalogSettings::default(), true, true).await;
    let file = open.write("catalog-info.yaml", &component("x"));
    let body = json!({"type": "file", "target": file.display().to_string()});
    let (status, problem) = open.post("", body.clone(), None).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(open.post("", body.clone(), Some("wrong")).await.0, 401);
    assert_eq!(open.delete("any", None).await, 401);
    assert_eq!(open.delete("any", Some("wrong")).await, 401);
    assert!(open.entity("component", "x").await.is_none());
    assert_eq!(open.app.get("/api/catalog/locations").await.status(), 200);
}

#[tokio::test]
async fn url_location_on_an_allowed_host_imports_with_relative_placeholders() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("specs")).unwrap();
    std::fs::write(
        site.path().join("catalog-info.yaml"),
        format!("{API}---\n{}", component("svc")),
    )
    .unwrap();
    std::fs::write(site.path().join("specs/pets.yaml"), PETS).unwrap();
    let base = serve_files(site.path()).await;
    let p = portal(loopback(true), false, true).await;

    let url = format!("{base}/catalog-info.yaml");
    let (status, created) = p
        .post("", json!({"type": "url", "target": url}), Some(TOKEN))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["location"]["type"], "url");
    assert_eq!(created["location"]["target"], url);
    assert_eq!(names(&created["entities"]), ["pets", "svc"]);
    let api = p.entity("api", "pets").await.unwrap();
    assert_eq!(api["spec"]["definition"], PETS);
    assert_eq!(
        api["metadata"]["annotations"]["backstage.io/managed-by-origin-location"],
        format!("url:{url}")
    );

    let missing = format!("{base}/nope.yaml");
    let (status, problem) = p
        .post("", json!({"type": "url", "target": missing}), Some(TOKEN))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("404"),
        "{problem}"
    );
}

#[tokio::test]
async fn url_locations_on_other_hosts_or_loopback_are_refused() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("catalog-info.yaml"), component("remote")).unwrap();
    let base = serve_files(site.path()).await;
    let url = format!("{base}/catalog-info.yaml");

    let strict = portal(loopback(false), false, true).await;
    let (status, problem) = strict
        .post("", json!({"type": "url", "target": url}), Some(TOKEN))
        .await;
    assert_eq!(status, 400, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("resolves to 127.0.0.1, a private, loopback or link-local address")
            && detail.contains("allow_private_addresses = true in [catalog]"),
        "{detail}"
    );

    let other = portal(loopback(true), false, true).await;
    let elsewhere = url.replace("127.0.0.1", "localhost");
    let (status, problem) = other
        .post("", json!({"type": "url", "target": elsewhere}), Some(TOKEN))
        .await;
    assert_eq!(status, 400, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("is not in [catalog] allowed_hosts"),
        "{detail}"
    );

    let none = portal(CatalogSettings::default(), false, true).await;
    let (status, problem) = none
        .post("", json!({"type": "url", "target": url}), Some(TOKEN))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("URL locations are disabled"),
        "{problem}"
    );
    assert!(none.entity("component", "remote").await.is_none());
}

#[tokio::test]
async fn refresh_reads_registered_locations_again() {
    let p = portal(CatalogSettings::default(), true, true).await;
    let file = p.write(
        "catalog-info.yaml",
        &format!("{}---\n{}", component("one"), component("two")),
    );
    let body = json!({"type": "file", "target": file.display().to_string()});
    assert_eq!(p.post("", body, Some(TOKEN)).await.0, 201);
    p.write(
        "catalog-info.yaml",
        &format!("{}---\n{}", component("one"), component("three")),
    );

    let state = p.app.server.state.clone();
    let read = tokio::task::spawn_blocking(move || {
        portico::locations::refresh_all(
            state.catalog().as_ref(),
            &state.config().catalog,
            state.url_reader(),
        )
    })
    .await
    .unwrap();
    assert_eq!(read, 1);
    assert!(p.entity("component", "three").await.is_some());
    let two = p.entity("component", "two").await.unwrap();
    assert_eq!(
        two["metadata"]["annotations"]["backstage.io/orphan"],
        "true"
    );
}

/// Runs `portico catalog import URL` with a config file, off the test's runtime
/// so that the runtime keeps serving the files.
async fn cli_import(url: String, config: String) -> (Option<i32>, String, String) {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("portico.toml");
        std::fs::write(&config_file, config).unwrap();
        let out = std::process::Command::new(portico_bin())
            .args(["catalog", "import", &url, "--config"])
            .arg(&config_file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn cli_imports_urls_only_from_allowed_hosts() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("specs")).unwrap();
    std::fs::write(site.path().join("catalog-info.yaml"), API).unwrap();
    std::fs::write(site.path().join("specs/pets.yaml"), PETS).unwrap();
    let url = format!("{}/catalog-info.yaml", serve_files(site.path()).await);

    let allowed =
        "[catalog]\nallowed_hosts = [\"http://127.0.0.1:*\"]\nallow_private_addresses = true\n";
    let (code, stdout, stderr) = cli_import(url.clone(), allowed.into()).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("1 added, 0 changed"), "{stdout}");

    let (code, _, stderr) = cli_import(url.clone(), String::new()).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&url) && stderr.contains("list the host in [catalog] allowed_hosts"),
        "{stderr}"
    );

    let other = "[catalog]\nallowed_hosts = [\"https://example.com\"]\n";
    let (code, _, stderr) = cli_import(url.clone(), other.into()).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is not in [catalog] allowed_hosts"),
        "{stderr}"
    );

    let private = "[catalog]\nallowed_hosts = [\"http://127.0.0.1:*\"]\n";
    let (code, _, stderr) = cli_import(url, private.into()).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("private, loopback or link-local"),
        "{stderr}"
    );
}
