//! Loading plugins at start-up: the bundled first-party set, then the plugins directory.
//!
//! Any plugin that fails its checks stops the start with a message naming the
//! file and the problem: the server never runs with half its plugins.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use portico_runtime::{Grant, Origin, Plugin, Registry, Runtime};

use crate::config::Config;

/// The first-party plugins built from `plugins/` and embedded in the binary.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Loads every plugin a configuration names into a new registry.
pub fn load_all(runtime: &Runtime, config: &Config) -> anyhow::Result<Registry> {
    let registry = Registry::default();
    for (name, wasm) in bundled::BUNDLED {
        let plugin = load_one(runtime, config, wasm, Origin::Bundled((*name).to_owned()))?;
        add(&registry, plugin)?;
    }
    for path in plugin_files(&config.plugins_dir())? {
        let wasm =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let plugin = load_one(
            runtime,
            config,
            &wasm,
            Origin::File(path.display().to_string()),
        )?;
        add(&registry, plugin)?;
    }
    for id in config.plugins.keys() {
        if registry.get(id).is_none() {
            tracing::warn!(plugin = %id, "[plugins.{id}] configures a plugin that is not installed");
        }
    }
    Ok(registry)
}

fn add(registry: &Registry, plugin: Plugin) -> anyhow::Result<()> {
    let id = plugin.id().to_owned();
    let origin = plugin.info().origin;
    if let Some(previous) = registry.insert(plugin) {
        bail!(
            "two plugins have the id `{id}`: {} and {origin}",
            previous.info().origin
        );
    }
    Ok(())
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
        .and_then(|m| config.plugins.get(&m.id))
    {
        Some(settings) => settings.grant(&inspection.manifest.as_ref().expect("matched").id)?,
        None => Grant::default(),
    };
    Ok(runtime.load(wasm, origin, &grant)?)
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
