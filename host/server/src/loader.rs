//! Loading plugins: the bundled first-party set, then the plugins directory.
//!
//! At start-up any plugin that fails its checks stops the start with a message
//! naming the file and the problem: the server never runs with half its plugins.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::Context as _;
use portico_runtime::manifest::read_sections;
use portico_runtime::{Grant, Manifest, Origin, Plugin, Registry, Runtime, Trust, TrustPolicy};

use crate::config::Config;

/// A first-party plugin embedded in the binary.
pub struct Bundled {
    /// The id its manifest gives it.
    pub id: String,
    /// Its crate's name in `plugins/`.
    pub name: &'static str,
    /// The component.
    pub wasm: &'static [u8],
}

/// The first-party plugins built from `plugins/` and embedded in the binary.
pub fn bundled() -> &'static [Bundled] {
    static BUNDLED: LazyLock<Vec<Bundled>> = LazyLock::new(|| {
        portico_bundled::BUNDLED
            .iter()
            .map(|&(name, wasm)| Bundled {
                // A manifest that does not read fails at load, with a message.
                id: read_sections(wasm)
                    .ok()
                    .and_then(|s| s.manifest)
                    .and_then(|text| Manifest::parse(&text).ok())
                    .map_or_else(|| name.to_owned(), |m| m.id),
                name,
                wasm,
            })
            .collect()
    });
    &BUNDLED
}

/// Loads every plugin a configuration names into a new registry: the bundled
/// ones, then the active version of each plugin in the plugins directory
/// (see [`crate::plugin_store`]), skipping disabled ones.
pub fn load_all(runtime: &Runtime, config: &Config) -> anyhow::Result<Registry> {
    let registry = Registry::default();
    crate::plugin_store::reconcile(runtime, config, &registry, true)?;
    for id in config.plugins.grants.keys() {
        if registry.get(id).is_none() {
            tracing::warn!(plugin = %id, "[plugins.{id}] configures a plugin that is not installed");
        }
    }
    Ok(registry)
}

/// Loads one plugin with the operator's grant for its id.
pub fn load_one(
    runtime: &Runtime,
    config: &Config,
    wasm: &[u8],
    origin: Origin,
) -> anyhow::Result<Plugin> {
    let inspection = runtime
        .inspect(wasm)
        .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    let grant = match inspection
        .manifest
        .as_ref()
        .and_then(|m| config.plugins.grants.get(&m.id))
    {
        Some(settings) => settings.grant(&inspection.manifest.as_ref().expect("matched").id)?,
        None => Grant::default(),
    };
    Ok(runtime.load(wasm, origin, &grant)?)
}

/// Checks a plugin file, and its detached signature `FILE.sig` when there is
/// one, against the operator's trust policy.
pub fn check_signature(policy: &TrustPolicy, path: &Path, wasm: &[u8]) -> anyhow::Result<Trust> {
    let detached_path = signature_path(path);
    let detached = match std::fs::read(&detached_path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", detached_path.display()));
        }
    };
    policy
        .check(wasm, detached.as_deref())
        .with_context(|| format!("{} refused", path.display()))
}

/// Where a package's detached signature lives: `FILE.wasm.sig`.
pub fn signature_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// The `.wasm` files of a plugins directory, sorted; a missing directory holds none.
pub fn plugin_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read plugins directory {}", dir.display()));
        }
    };
    let mut files = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect::<Vec<_>>();
    files.sort();
    Ok(files)
}
