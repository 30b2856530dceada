//! What the host lends every plugin, whatever its kind: key-value storage,
//! configuration, secrets and structured logs (WIT interface `host`).
//!
//! Each is scoped to the plugin instance; nothing here reaches another plugin's data.

pub mod kv {
    //! The plugin instance's own key-value store.
    //!
    //! Keys of other plugins are unreachable, and writes count against the
    //! `kv_quota_bytes` the manifest asks for. [`KvError`] converts into
    //! [`PluginError`](crate::PluginError), so `?` works in trait methods.

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::PluginError;
    use crate::bindings::connector::portico::plugin::host;

    pub use host::KvError;

    /// Reads the value of `key`, or `None` when it is not set.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        host::kv_get(key)
    }

    /// Writes `value` under `key`.
    pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
        host::kv_set(key, value)
    }

    /// Deletes `key`; deleting a missing key succeeds.
    pub fn delete(key: &str) -> Result<(), KvError> {
        host::kv_delete(key)
    }

    /// Lists the keys that start with `prefix`, in byte order.
    pub fn list(prefix: &str) -> Result<Vec<String>, KvError> {
        host::kv_list(prefix)
    }

    /// Reads `key` as JSON; a value that does not parse is an internal error.
    pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, PluginError> {
        let Some(bytes) = get(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| PluginError::Internal(format!("kv key `{key}` holds bad JSON: {e}")))
    }

    /// Writes `value` as JSON under `key`.
    pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), PluginError> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            PluginError::Internal(format!("cannot encode kv key `{key}` as JSON: {e}"))
        })?;
        Ok(set(key, &bytes)?)
    }

    impl From<KvError> for PluginError {
        fn from(error: KvError) -> Self {
            PluginError::Internal(match error {
                KvError::QuotaExceeded(quota) => {
                    format!("key-value quota of {quota} bytes exceeded")
                }
                KvError::Denied => "key-value storage was not granted to this plugin".into(),
                KvError::Internal(message) => format!("key-value store failed: {message}"),
            })
        }
    }
}

pub mod config {
    //! The plugin instance's configuration, set by the operator.
    //!
    //! The host has already validated it against the manifest's `config_schema`.

    use serde::de::DeserializeOwned;

    use crate::PluginError;
    use crate::bindings::connector::portico::plugin::host;

    /// Looks up one value by key; nested values are addressed with dots
    /// (`auth.header`), and non-string values come back as JSON text.
    pub fn get(key: &str) -> Option<String> {
        host::config_get(key)
    }

    /// The whole configuration as a JSON object.
    pub fn json() -> String {
        host::config_json()
    }

    /// Parses the whole configuration into `T`; failing to parse is [`PluginError::InvalidConfig`].
    pub fn parse<T: DeserializeOwned>() -> Result<T, PluginError> {
        serde_json::from_str(&json()).map_err(|e| PluginError::InvalidConfig(e.to_string()))
    }
}

pub mod secret {
    //! Secrets the operator granted this plugin instance.
    //!
    //! Only names listed under `capabilities.secrets` in the manifest can be granted.
    //! Never log a secret's value: the host keeps secrets out of its own logs only.

    use crate::PluginError;
    use crate::bindings::connector::portico::plugin::host;

    /// The value of the secret `name`, or `None` when it was not granted.
    pub fn get(name: &str) -> Option<String> {
        host::secret_get(name)
    }

    /// The value of the secret `name`; a missing one is [`PluginError::InvalidConfig`].
    pub fn require(name: &str) -> Result<String, PluginError> {
        get(name).ok_or_else(|| PluginError::InvalidConfig(format!("secret `{name}` is not set")))
    }
}

pub mod log {
    //! Structured log lines, attributed by the host to the plugin and the call.
    //!
    //! Fields become structured fields of the host's log event. The host applies
    //! a per-call quota; lines beyond it are counted and dropped.

    use core::fmt::Display;

    use crate::bindings::connector::portico::plugin::host;

    pub use host::LogLevel as Level;

    /// Writes a log line at `level` with `fields`, e.g. `&[("calls", &3)]`.
    pub fn log(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.to_string()))
            .collect();
        host::log(level, message, &fields);
    }

    /// Whether a line at `level` would be recorded: check it before building
    /// costly trace or debug output that the operator's filter would drop.
    pub fn enabled(level: Level) -> bool {
        host::log_enabled(level)
    }

    /// Fine detail for debugging a plugin.
    pub fn trace(message: &str, fields: &[(&str, &dyn Display)]) {
        log(Level::Trace, message, fields);
    }

    /// Developer-oriented detail.
    pub fn debug(message: &str, fields: &[(&str, &dyn Display)]) {
        log(Level::Debug, message, fields);
    }

    /// Normal operation worth recording.
    pub fn info(message: &str, fields: &[(&str, &dyn Display)]) {
        log(Level::Info, message, fields);
    }

    /// Something unexpected that the plugin handled.
    pub fn warn(message: &str, fields: &[(&str, &dyn Display)]) {
        log(Level::Warn, message, fields);
    }

    /// Something failed.
    pub fn error(message: &str, fields: &[(&str, &dyn Display)]) {
        log(Level::Error, message, fields);
    }
}
