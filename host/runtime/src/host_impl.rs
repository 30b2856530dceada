//! The `host` interface of the WIT: log, kv, config and secrets, scoped to one plugin.
//!
//! Key-value storage is behind [`KvBackend`] so the server can keep it in its
//! database; [`MemoryKv`] serves tests and tools.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bindings::host::{self, KvError, LogLevel};
use crate::bindings::types;
use crate::manifest::Limits;
use crate::outbound::OutboundPolicy;
use crate::state::CallState;
use crate::stats::CallStats;

/// Log lines a plugin may write per call; the rest are counted and dropped.
const LOG_QUOTA_PER_CALL: u32 = 1_000;
/// Longest log message kept, in bytes; the rest is cut off.
const MAX_LOG_MESSAGE: usize = 4 * 1024;
/// Longest key a plugin may use.
const MAX_KEY_LEN: usize = 512;

/// Storage for plugins' key-value data, namespaced by plugin id.
pub trait KvBackend: Send + Sync {
    /// Reads a value.
    fn get(&self, plugin: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Writes a value.
    fn set(&self, plugin: &str, key: &str, value: &[u8]) -> anyhow::Result<()>;
    /// Deletes a key.
    fn delete(&self, plugin: &str, key: &str) -> anyhow::Result<()>;
    /// Lists keys starting with `prefix`, in byte order.
    fn list(&self, plugin: &str, prefix: &str) -> anyhow::Result<Vec<String>>;
    /// Bytes used by a plugin (keys and values).
    fn usage(&self, plugin: &str) -> anyhow::Result<u64>;
}

/// An in-memory [`KvBackend`].
#[derive(Debug, Default)]
pub struct MemoryKv {
    data: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl MemoryKv {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Vec<u8>>> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KvBackend for MemoryKv {
    fn get(&self, plugin: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .lock()
            .get(&(plugin.to_owned(), key.to_owned()))
            .cloned())
    }
    fn set(&self, plugin: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.lock()
            .insert((plugin.to_owned(), key.to_owned()), value.to_vec());
        Ok(())
    }
    fn delete(&self, plugin: &str, key: &str) -> anyhow::Result<()> {
        self.lock().remove(&(plugin.to_owned(), key.to_owned()));
        Ok(())
    }
    fn list(&self, plugin: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .lock()
            .keys()
            .filter(|(p, k)| p == plugin && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect())
    }
    fn usage(&self, plugin: &str) -> anyhow::Result<u64> {
        Ok(self
            .lock()
            .iter()
            .filter(|((p, _), _)| p == plugin)
            .map(|((_, k), v)| (k.len() + v.len()) as u64)
            .sum())
    }
}

/// What every call of one plugin instance shares: its identity and grants.
pub(crate) struct PluginContext {
    pub(crate) id: String,
    pub(crate) config: serde_json::Value,
    pub(crate) secrets: BTreeMap<String, String>,
    pub(crate) kv: Arc<dyn KvBackend>,
    pub(crate) kv_quota_bytes: u64,
    pub(crate) outbound: Arc<OutboundPolicy>,
    pub(crate) limits: Limits,
    /// The plugin's statistics, which calls record into.
    pub(crate) stats: Arc<CallStats>,
}

impl PluginContext {
    pub(crate) fn time_limit(&self) -> Duration {
        Duration::from_millis(self.limits.time_ms)
    }

    fn kv_internal(&self, op: &str, err: anyhow::Error) -> KvError {
        tracing::error!(plugin = %self.id, op, error = %format!("{err:#}"), "plugin kv failed");
        KvError::Internal(format!("kv {op} failed"))
    }
}

impl types::Host for CallState {}

impl host::Host for CallState {
    async fn log(&mut self, level: LogLevel, message: String, fields: Vec<(String, String)>) {
        if !self.take_log_quota(LOG_QUOTA_PER_CALL) {
            return;
        }
        let plugin = &self.plugin.id;
        let message = truncate(&message, MAX_LOG_MESSAGE);
        let fields = fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let fields = truncate(&fields, MAX_LOG_MESSAGE);
        match level {
            LogLevel::Trace => tracing::trace!(target: "plugin", %plugin, %fields, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "plugin", %plugin, %fields, "{message}"),
            LogLevel::Info => tracing::info!(target: "plugin", %plugin, %fields, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "plugin", %plugin, %fields, "{message}"),
            LogLevel::Error => tracing::error!(target: "plugin", %plugin, %fields, "{message}"),
        }
    }

    async fn log_enabled(&mut self, level: LogLevel) -> bool {
        match level {
            LogLevel::Trace => tracing::enabled!(target: "plugin", tracing::Level::TRACE),
            LogLevel::Debug => tracing::enabled!(target: "plugin", tracing::Level::DEBUG),
            LogLevel::Info => tracing::enabled!(target: "plugin", tracing::Level::INFO),
            LogLevel::Warn => tracing::enabled!(target: "plugin", tracing::Level::WARN),
            LogLevel::Error => tracing::enabled!(target: "plugin", tracing::Level::ERROR),
        }
    }

    async fn kv_get(&mut self, key: String) -> Result<Option<Vec<u8>>, KvError> {
        let p = &self.plugin;
        if p.kv_quota_bytes == 0 {
            return Err(KvError::Denied);
        }
        p.kv.get(&p.id, &key).map_err(|e| p.kv_internal("get", e))
    }

    async fn kv_set(&mut self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        let p = &self.plugin;
        if p.kv_quota_bytes == 0 {
            return Err(KvError::Denied);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(KvError::Internal(format!(
                "keys are limited to {MAX_KEY_LEN} bytes"
            )));
        }
        let used = p.kv.usage(&p.id).map_err(|e| p.kv_internal("usage", e))?;
        let old = p.kv.get(&p.id, &key).map_err(|e| p.kv_internal("get", e))?;
        let freed = old.map_or(0, |v| (key.len() + v.len()) as u64);
        if used - freed.min(used) + (key.len() + value.len()) as u64 > p.kv_quota_bytes {
            return Err(KvError::QuotaExceeded(p.kv_quota_bytes));
        }
        p.kv.set(&p.id, &key, &value)
            .map_err(|e| p.kv_internal("set", e))
    }

    async fn kv_delete(&mut self, key: String) -> Result<(), KvError> {
        let p = &self.plugin;
        if p.kv_quota_bytes == 0 {
            return Err(KvError::Denied);
        }
        p.kv.delete(&p.id, &key)
            .map_err(|e| p.kv_internal("delete", e))
    }

    async fn kv_list(&mut self, prefix: String) -> Result<Vec<String>, KvError> {
        let p = &self.plugin;
        if p.kv_quota_bytes == 0 {
            return Err(KvError::Denied);
        }
        p.kv.list(&p.id, &prefix)
            .map_err(|e| p.kv_internal("list", e))
    }

    async fn config_get(&mut self, key: String) -> Option<String> {
        let mut value = &self.plugin.config;
        for part in key.split('.') {
            value = value.get(part)?;
        }
        Some(match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    async fn config_json(&mut self) -> String {
        self.plugin.config.to_string()
    }

    async fn secret_get(&mut self, name: String) -> Option<String> {
        self.plugin.secrets.get(&name).cloned()
    }
}

/// At most `max` bytes of `text`, cut at a character boundary and marked when cut.
fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..end], text.len() - end).into()
}
