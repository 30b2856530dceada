//! Installed plugins: the `.wasm` files of the plugins directory, which
//! version of each is active and which are disabled, and bringing the running
//! registry in line with them without a restart.
//!
//! The directory is the truth: `portico plugin install`, the admin API and an
//! operator dropping a file in all change it, and [`reconcile`] loads what
//! changed. A new version that fails its checks is reported and the old one
//! keeps serving; calls in flight finish on the version they started on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use portico_runtime::manifest::read_sections;
use portico_runtime::{Manifest, Origin, Registry, Runtime, TrustPolicy};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Config;
use crate::identity::Caller;
use crate::identity::audit::{self, Outcome};
use crate::loader::{self, check_signature, signature_path};

/// The file recording active versions and disabled plugins, inside the plugins directory.
const STATE_FILE: &str = "plugins-state.toml";

/// Which version of each plugin serves, and which plugins are switched off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreState {
    /// Pinned active version by plugin id; unpinned plugins run their highest version.
    pub active: BTreeMap<String, String>,
    /// Plugins installed but not loaded.
    pub disabled: BTreeSet<String>,
}

/// One installed plugin file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Installed {
    /// The plugin id.
    pub id: String,
    /// Its version.
    #[schema(value_type = String)]
    pub version: semver::Version,
    /// The file.
    #[schema(value_type = String)]
    pub path: PathBuf,
}

/// Why a package was not installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The package is not acceptable: not a plugin, incompatible, untrusted.
    #[error("{0}")]
    Refused(String),
    /// That id and version is installed with other content.
    #[error("{0}")]
    Conflict(String),
    /// The directory could not be written.
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

/// The plugin (or version) asked for is not installed: the caller's
/// mistake, unlike a directory that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotInstalled(pub String);

/// Held by whoever changes the installed plugins or reconciles the registry
/// with them, so an install and a reload never interleave.
pub static CHANGES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The plugins directory.
#[derive(Debug, Clone)]
pub struct PluginStore {
    dir: PathBuf,
}

/// What a scan of the directory found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Installed versions by id, lowest first.
    pub versions: BTreeMap<String, Vec<Installed>>,
    /// Files that are not readable plugins, with the reason.
    pub problems: Vec<(PathBuf, String)>,
}

impl PluginStore {
    /// The store of a configuration's plugins directory.
    pub fn new(config: &Config) -> PluginStore {
        PluginStore {
            dir: config.plugins_dir(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the state file (none yet: nothing pinned or disabled).
    pub fn state(&self) -> anyhow::Result<StoreState> {
        let path = self.dir.join(STATE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("{}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoreState::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn save_state(&self, state: &StoreState) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomically(
            &self.dir.join(STATE_FILE),
            toml::to_string(state)?.as_bytes(),
        )
    }

    /// Every plugin file, grouped by id.
    pub fn scan(&self) -> anyhow::Result<Scan> {
        let mut scan = Scan::default();
        for path in loader::plugin_files(&self.dir)? {
            let manifest = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|wasm| manifest_of(&wasm).map_err(|e| format!("{e:#}")));
            match manifest {
                Ok(m) => scan
                    .versions
                    .entry(m.id.clone())
                    .or_default()
                    .push(Installed {
                        id: m.id,
                        version: m.version,
                        path,
                    }),
                Err(reason) => scan.problems.push((path, reason)),
            }
        }
        for versions in scan.versions.values_mut() {
            versions.sort_by(|a, b| a.version.cmp(&b.version));
        }
        Ok(scan)
    }

    /// The version of `id` that should serve: the pinned one if installed, else the highest.
    pub fn chosen<'s>(
        &self,
        state: &StoreState,
        id: &str,
        versions: &'s [Installed],
    ) -> Option<&'s Installed> {
        let pinned = state.active.get(id);
        pinned
            .and_then(|v| versions.iter().find(|i| &i.version.to_string() == v))
            .or_else(|| versions.last())
    }

    /// Installs a package after checking it loads and is trusted; with
    /// `activate`, pins it as the serving version.
    pub fn install(
        &self,
        runtime: &Runtime,
        policy: &TrustPolicy,
        wasm: &[u8],
        detached_signature: Option<&[u8]>,
        activate: bool,
    ) -> Result<Installed, InstallError> {
        let refused = |e: anyhow::Error| InstallError::Refused(format!("{e:#}"));
        let manifest = manifest_of(wasm).map_err(refused)?;
        let name = format!("{} {}", manifest.id, manifest.version);
        let inspection = runtime.inspect(wasm).map_err(|e| refused(e.into()))?;
        if let Err(reason) = inspection.compatible {
            return Err(InstallError::Refused(format!("{name}: {reason}")));
        }
        policy
            .check(wasm, detached_signature)
            .map_err(|e| InstallError::Refused(format!("{name} refused: {e}")))?;
        if is_bundled(&manifest.id) {
            return Err(InstallError::Refused(format!(
                "`{}` is the id of a plugin bundled in the binary; choose another id",
                manifest.id
            )));
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let path = self
            .dir
            .join(format!("{}-{}.wasm", manifest.id, manifest.version));
        if std::fs::read(&path).is_ok_and(|existing| existing != wasm) {
            return Err(InstallError::Conflict(format!(
                "{name} is already installed with different content; remove it first or raise the version"
            )));
        }
        if let Some(signature) = detached_signature {
            write_atomically(&signature_path(&path), signature)?;
        }
        write_atomically(&path, wasm)?;
        if activate {
            let mut state = self.state()?;
            state
                .active
                .insert(manifest.id.clone(), manifest.version.to_string());
            self.save_state(&state)?;
        }
        Ok(Installed {
            id: manifest.id,
            version: manifest.version,
            path,
        })
    }

    /// Removes every version of a plugin, or one; returns the files removed.
    pub fn remove(&self, id: &str, version: Option<&str>) -> anyhow::Result<Vec<PathBuf>> {
        let scan = self.scan()?;
        let removed: Vec<PathBuf> = scan
            .versions
            .get(id)
            .into_iter()
            .flatten()
            .filter(|i| version.is_none_or(|v| i.version.to_string() == v))
            .map(|i| i.path.clone())
            .collect();
        if removed.is_empty() {
            return Err(NotInstalled(format!(
                "no plugin `{id}`{} is installed",
                version.map(|v| format!(" version {v}")).unwrap_or_default(),
            ))
            .into());
        }
        for path in &removed {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
            let _ = std::fs::remove_file(signature_path(path));
        }
        let mut state = self.state()?;
        if version.is_none_or(|v| state.active.get(id).is_some_and(|a| a == v)) {
            state.active.remove(id);
        }
        if version.is_none() {
            state.disabled.remove(id);
        }
        self.save_state(&state)?;
        Ok(removed)
    }

    /// Switches a plugin on or off (it stays installed).
    pub fn set_enabled(&self, id: &str, enabled: bool) -> anyhow::Result<()> {
        let installed = self.scan()?.versions.contains_key(id) || is_bundled(id);
        if !installed {
            return Err(NotInstalled(format!("no plugin `{id}` is installed")).into());
        }
        let mut state = self.state()?;
        if enabled {
            state.disabled.remove(id);
        } else {
            state.disabled.insert(id.to_owned());
        }
        self.save_state(&state)
    }
}

fn is_bundled(id: &str) -> bool {
    loader::bundled().iter().any(|b| b.id == id)
}

/// The manifest a package carries.
fn manifest_of(wasm: &[u8]) -> anyhow::Result<Manifest> {
    let sections = read_sections(wasm)?;
    let text = sections
        .manifest
        .ok_or(portico_runtime::ManifestError::Missing)?;
    Ok(Manifest::parse(&text)?)
}

/// Writes beside the target and renames, so a failure never leaves half a
/// file (and a watcher never loads one); the file is readable by all, like
/// any other package on disk.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".writing-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut temp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut temp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What one reconciliation changed or could not change.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Reconciled {
    /// Plugins loaded or replaced (`id version`).
    pub loaded: Vec<String>,
    /// Plugins taken out of service (removed or disabled).
    pub unloaded: Vec<String>,
    /// What could not be loaded, and why; the previous version keeps serving.
    pub failed: Vec<String>,
}

/// Brings the registry in line with the directory and the state file
/// (callers hold [`CHANGES`]).
///
/// With `strict` (at start-up) the first failure is an error; otherwise it is
/// recorded and the version already loaded keeps serving.
pub fn reconcile(
    runtime: &Runtime,
    config: &Config,
    registry: &Registry,
    strict: bool,
) -> anyhow::Result<Reconciled> {
    let store = PluginStore::new(config);
    let policy = config.plugins.trust_policy()?;
    let state = store.state()?;
    let scan = store.scan()?;
    let mut report = Reconciled::default();
    let mut fail = |what: String| -> anyhow::Result<()> {
        if strict {
            bail!("{what}");
        }
        tracing::warn!(problem = %what, "plugin not loaded; the previous version keeps serving");
        report.failed.push(what);
        Ok(())
    };
    for (path, reason) in &scan.problems {
        fail(format!("{}: {reason}", path.display()))?;
    }
    let mut wanted = BTreeSet::new();
    for (id, versions) in &scan.versions {
        if state.disabled.contains(id) {
            continue;
        }
        if is_bundled(id) {
            let files: Vec<_> = versions
                .iter()
                .map(|i| i.path.display().to_string())
                .collect();
            fail(format!(
                "{}: `{id}` is the id of a plugin bundled in the binary",
                files.join(", ")
            ))?;
            continue;
        }
        let Some(chosen) = store.chosen(&state, id, versions) else {
            continue;
        };
        wanted.insert(id.clone());
        let result = std::fs::read(&chosen.path)
            .with_context(|| format!("cannot read {}", chosen.path.display()))
            .and_then(|wasm| {
                let digest = portico_runtime::component_digest(&wasm);
                let current = registry.get(id);
                if current.is_some_and(|p| p.info().sha256 == digest) {
                    return Ok(None);
                }
                let trust = check_signature(&policy, &chosen.path, &wasm)?;
                let origin = Origin::File(chosen.path.display().to_string());
                Ok(Some(
                    loader::load_one(runtime, config, &wasm, origin)?.with_trust(trust),
                ))
            });
        match result {
            Ok(Some(plugin)) => {
                report.loaded.push(format!("{id} {}", chosen.version));
                registry.insert(plugin);
            }
            Ok(None) => {}
            Err(e) => fail(format!("{e:#}"))?,
        }
    }
    for bundled in loader::bundled() {
        if !state.disabled.contains(&bundled.id) && registry.get(&bundled.id).is_none() {
            let origin = Origin::Bundled(bundled.name.to_owned());
            match loader::load_one(runtime, config, bundled.wasm, origin) {
                Ok(plugin) => {
                    report.loaded.push(format!("{} (bundled)", bundled.id));
                    registry.insert(plugin);
                }
                Err(e) => fail(format!("{e:#}"))?,
            }
        }
    }
    for plugin in registry.all() {
        let id = plugin.id().to_owned();
        let bundled = matches!(plugin.info().origin, Origin::Bundled(_));
        let keep = if bundled {
            !state.disabled.contains(&id)
        } else {
            wanted.contains(&id)
        };
        if !keep && registry.remove(&id).is_some() {
            report.unloaded.push(id);
        }
    }
    Ok(report)
}

/// What the directory looks like: names, sizes and modification times.
fn fingerprint(dir: &Path) -> Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)> {
    let mut seen: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((e.file_name(), meta.len(), meta.modified().ok()))
        })
        .collect();
    seen.sort();
    seen
}

/// Watches the plugins directory every `interval` and reconciles when it
/// changes, until `stop` fires: files dropped in, `portico plugin install`
/// run beside the server, enable and disable all take effect without a restart.
pub fn spawn_watcher(
    state: crate::AppState,
    interval: std::time::Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let dir = state.config().plugins_dir();
        // Nothing seen yet: the first tick reconciles once, which catches any
        // change made between the start-up load and this task's first run.
        let mut last = Vec::new();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticker.tick() => {}
            }
            let dir_now = dir.clone();
            let Ok(now) = tokio::task::spawn_blocking(move || fingerprint(&dir_now)).await else {
                continue;
            };
            if now == last {
                continue;
            }
            last = now;
            let state = state.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                let _one_at_a_time = CHANGES.lock().unwrap_or_else(|e| e.into_inner());
                let report = reconcile(state.runtime(), state.config(), state.plugins(), false)?;
                audit_reload(&state, &report);
                anyhow::Ok(report)
            })
            .await;
            match outcome {
                Ok(Ok(report)) if !report.loaded.is_empty() || !report.unloaded.is_empty() => {
                    tracing::info!(loaded = ?report.loaded, unloaded = ?report.unloaded, "plugins reloaded");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "cannot reload plugins"),
                Err(e) => tracing::warn!(error = %e, "plugin reload task failed"),
            }
        }
    })
}

/// Records what a reload changed in the audit log, as the watcher's doing:
/// a file dropped in or a `portico plugin` command run beside the server
/// leaves the same trail as a change through the API.
fn audit_reload(state: &crate::AppState, report: &Reconciled) {
    let watcher = Caller::system("plugins-dir", "plugins directory watcher");
    let db = state.db();
    for loaded in &report.loaded {
        let (id, version) = loaded.split_once(' ').unwrap_or((loaded, ""));
        let details = json!({ "version": version });
        audit::record(db, &watcher, "plugin.load", id, Outcome::Success, details);
    }
    for id in &report.unloaded {
        audit::record(
            db,
            &watcher,
            "plugin.unload",
            id,
            Outcome::Success,
            json!({}),
        );
    }
    let dir = state.config().plugins_dir().display().to_string();
    for problem in &report.failed {
        let details = json!({ "error": problem });
        audit::record(db, &watcher, "plugin.load", &dir, Outcome::Failure, details);
    }
}
