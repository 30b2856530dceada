//! A real Caddy (the Debian package's `caddy`) for gateway tests and
//! benchmarks: started with `caddy run` on free ports, configured through
//! its admin API, stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

/// A running Caddy.
pub struct Caddy {
    child: Child,
    /// Its admin API, `http://127.0.0.1:PORT`.
    pub admin_url: String,
    admin_listen: String,
    /// A free port for the HTTP server its routes are loaded into.
    pub http_port: u16,
    _home: TempDir,
}

/// A port nobody listens on now: bound to port 0, then released.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Caddy {
    /// Starts `caddy run` with only its admin API, and waits until it answers.
    pub async fn start() -> Caddy {
        let home = tempfile::tempdir().expect("a home for caddy");
        let admin_listen = format!("127.0.0.1:{}", free_port());
        let config = home.path().join("caddy.json");
        std::fs::write(&config, admin_only(&admin_listen).to_string()).expect("caddy.json");
        let child = Command::new(caddy_bin())
            .args(["run", "--config"])
            .arg(&config)
            // Caddy keeps its data and autosaved config under these.
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting caddy (apt-get install caddy)");
        let caddy = Caddy {
            child,
            admin_url: format!("http://{admin_listen}"),
            admin_listen,
            http_port: free_port(),
            _home: home,
        };
        caddy.wait_ready().await;
        caddy
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = client
                .get(format!("{}/config/", self.admin_url))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "caddy's admin API never answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Replaces the config with one server (on [`Caddy::http_port`]) holding `routes`.
    pub async fn load_routes(&self, routes: Value) {
        let mut config = admin_only(&self.admin_listen);
        config["apps"] = json!({"http": {"servers": {"edge": {
            "listen": [format!("127.0.0.1:{}", self.http_port)],
            "automatic_https": {"disable": true},
            "routes": routes,
        }}}});
        let response = reqwest::Client::new()
            .post(format!("{}/load", self.admin_url))
            .json(&config)
            .send()
            .await
            .expect("POST /load");
        let status = response.status();
        assert!(
            status.is_success(),
            "caddy refused the config: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config with the admin API on `listen`, not saved to disk.
fn admin_only(listen: &str) -> Value {
    json!({"admin": {"listen": listen, "config": {"persist": false}}})
}

/// A reverse-proxy route, tagged with `@id` when given.
pub fn proxy_route(id: Option<&str>, host: &str, path: &str, upstream: &str) -> Value {
    let mut route = json!({
        "match": [{"host": [host], "path": [path]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": upstream}]}],
    });
    if let Some(id) = id {
        route["@id"] = json!(id);
    }
    route
}

fn caddy_bin() -> PathBuf {
    std::env::var_os("PORTICO_CADDY").map_or_else(|| PathBuf::from("caddy"), PathBuf::from)
}
