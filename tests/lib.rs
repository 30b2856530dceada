//! Shared by the end-to-end tests and the benchmarks: the built guest
//! components, and `spawn_app`, which starts the real server on port 0 with a
//! fresh temporary data directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use portico::config::{
    AuthSettings, CatalogSettings, GatewaySettings, PluginSettings, PublisherConfig, ScimSettings,
};
use portico::{Config, Server};
use tempfile::TempDir;

pub mod caddy;

/// Paths of the components built from `tests/fixtures/` and `examples/`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A server running for one test, with its own data directory.
pub struct TestApp {
    /// The real server.
    pub server: Server,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The data directory (deleted when the app is dropped).
    pub data_dir: TempDir,
    /// The admin token's value: [`ADMIN_TOKEN`] unless the spec set its own.
    pub admin_token: String,
}

/// The admin token of every test app whose spec sets none.
pub const ADMIN_TOKEN: &str = "portico-test-admin-token";

/// The `[auth.scim]` token of test apps with `scim: true`.
pub const SCIM_TOKEN: &str = "portico-test-scim-token";

impl TestApp {
    /// GETs a path as the administrator (with the admin token) and returns
    /// the response; tests of what others may do send their own requests.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("request")
    }

    /// Writes descriptor and spec files (name, text) into `catalog/` in the
    /// data directory and imports them as an operator's files would be;
    /// panics when one is rejected.
    pub async fn import_catalog(&self, files: &[(&str, &str)]) {
        let dir = self.data_dir.path().join("catalog");
        std::fs::create_dir_all(&dir).expect("catalog directory");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("catalog file");
        }
        let store = self.server.state.catalog().clone();
        let report = tokio::task::spawn_blocking(move || {
            portico_catalog::import_paths(
                store.as_ref(),
                &[dir.canonicalize().expect("catalog directory")],
                &portico_catalog::ImportOptions::default(),
            )
        })
        .await
        .expect("import task")
        .expect("import");
        assert!(report.rejected.is_empty(), "{report:?}");
    }

    /// A loaded plugin by id.
    pub fn plugin(&self, id: &str) -> std::sync::Arc<portico_runtime::Plugin> {
        self.server
            .state
            .plugins()
            .get(id)
            .unwrap_or_else(|| panic!("plugin {id} is not loaded"))
    }
}

/// What a test wants installed and configured.
#[derive(Default)]
pub struct AppSpec {
    /// Components copied into the plugins directory.
    pub plugins: Vec<&'static str>,
    /// Plugin files a test made (packed, signed), copied there too.
    pub plugin_files: Vec<PathBuf>,
    /// `[plugins.<id>]` settings.
    pub settings: Vec<(&'static str, PluginSettings)>,
    /// Start with demo content.
    pub demo: bool,
    /// `[catalog]`.
    pub catalog: CatalogSettings,
    /// `admin_token` (a secret reference such as `file:/path`); none:
    /// [`ADMIN_TOKEN`], from a file in the data directory.
    pub admin_token: Option<String>,
    /// `[auth]`.
    pub auth: AuthSettings,
    /// Turns on SCIM: `[auth.scim]` with [`SCIM_TOKEN`], from a file in the
    /// data directory (unless `auth.scim` is set already).
    pub scim: bool,
    /// `[plugins] require_signatures`.
    pub require_signatures: bool,
    /// `[plugins] trusted_publishers`.
    pub trusted_publishers: Vec<PublisherConfig>,
    /// `[[gateways]]`.
    pub gateways: Vec<GatewaySettings>,
    /// `[tryit]`.
    pub tryit: portico::tryit::TrySettings,
    /// `[webhooks]`.
    pub webhooks: portico::config::WebhookSettings,
    /// `[usage]`.
    pub usage: portico::config::UsageSettings,
}

/// A fresh configuration on port 0 with a temporary data directory.
pub fn test_config(data_dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_owned(),
        plugins_dir: Some(data_dir.join("plugins")),
        ..Config::default()
    }
}

/// Starts the real server with the given plugins installed.
pub async fn spawn_app(spec: AppSpec) -> TestApp {
    try_spawn_app(spec).await.expect("server starts")
}

/// Starts the real server, returning the start-up error if there is one.
pub async fn try_spawn_app(spec: AppSpec) -> anyhow::Result<TestApp> {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut config = test_config(data_dir.path());
    install(&config.plugins_dir(), &spec.plugins);
    install(&config.plugins_dir(), &spec.plugin_files);
    config.demo = spec.demo;
    config.catalog = spec.catalog;
    let reference = spec.admin_token.unwrap_or_else(|| {
        let file = data_dir.path().join("admin-token");
        std::fs::write(&file, ADMIN_TOKEN).expect("writing the admin token");
        format!("file:{}", file.display())
    });
    let admin_token = match reference.split_once(':') {
        Some(("file", path)) => std::fs::read_to_string(path)?.trim_end().to_owned(),
        Some(("env", var)) => std::env::var(var)?,
        _ => anyhow::bail!("admin_token must be env:VAR or file:PATH"),
    };
    config.admin_token = Some(reference);
    config.auth = spec.auth;
    if spec.scim && config.auth.scim.is_none() {
        let file = data_dir.path().join("scim-token");
        std::fs::write(&file, SCIM_TOKEN).expect("writing the SCIM token");
        config.auth.scim = Some(ScimSettings {
            token: format!("file:{}", file.display()),
            default_role: "developer".into(),
        });
    }
    config.plugins.grants = spec
        .settings
        .into_iter()
        .map(|(id, s)| (id.to_owned(), s))
        .collect();
    config.plugins.require_signatures = spec.require_signatures;
    config.plugins.trusted_publishers = spec.trusted_publishers;
    config.gateways = spec.gateways;
    config.tryit = spec.tryit;
    config.webhooks = spec.webhooks;
    config.usage = spec.usage;
    let server = Server::start(config).await?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    Ok(TestApp {
        server,
        base,
        client,
        data_dir,
        admin_token,
    })
}

/// Copies components into a plugins directory.
pub fn install(plugins_dir: &Path, components: &[impl AsRef<Path>]) {
    std::fs::create_dir_all(plugins_dir).expect("plugins directory");
    for component in components {
        let component = component.as_ref();
        let name = component.file_name().expect("a file name");
        std::fs::copy(component, plugins_dir.join(name)).expect("copying a component");
    }
}

/// The `portico` binary built next to this test.
pub fn portico_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.ancestors()
        .map(|dir| dir.join("portico"))
        .find(|candidate| candidate.is_file())
        .expect("the portico binary (cargo builds it with the workspace)")
}

/// Serves the files of `dir` over HTTP on a free loopback port (404 for a
/// missing one) until the test's runtime ends; returns its base URL.
pub async fn serve_files(dir: &Path) -> String {
    use axum::extract::Path as UrlPath;
    let dir = dir.to_owned();
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::get(move |UrlPath(path): UrlPath<String>| {
            let file = dir.join(&path);
            async move { std::fs::read(file).map_err(|_| axum::http::StatusCode::NOT_FOUND) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}
