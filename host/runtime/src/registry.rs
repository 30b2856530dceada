//! The set of plugins a host has loaded, by id.
//!
//! Replacing a plugin swaps an `Arc`: calls in flight finish on the old
//! version, new calls reach the new one.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::manifest::World;
use crate::plugin::{Plugin, PluginInfo};

/// Loaded plugins by id.
#[derive(Default)]
pub struct Registry {
    plugins: RwLock<BTreeMap<String, Arc<Plugin>>>,
}

impl Registry {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Plugin>>> {
        self.plugins.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces a plugin; returns the one it replaced.
    pub fn insert(&self, plugin: Plugin) -> Option<Arc<Plugin>> {
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        plugins.insert(plugin.id().to_owned(), Arc::new(plugin))
    }

    /// Takes a plugin out of service; calls in flight finish on it.
    pub fn remove(&self, id: &str) -> Option<Arc<Plugin>> {
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        plugins.remove(id)
    }

    /// A plugin by id.
    pub fn get(&self, id: &str) -> Option<Arc<Plugin>> {
        self.read().get(id).cloned()
    }

    /// Every plugin, by id.
    pub fn all(&self) -> Vec<Arc<Plugin>> {
        self.read().values().cloned().collect()
    }

    /// The plugins serving one world.
    pub fn of_world(&self, world: World) -> Vec<Arc<Plugin>> {
        self.read()
            .values()
            .filter(|p| p.world() == world)
            .cloned()
            .collect()
    }

    /// What the host reports about every plugin.
    pub fn infos(&self) -> Vec<PluginInfo> {
        self.read().values().map(|p| p.info()).collect()
    }

    /// How many plugins are loaded.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}
