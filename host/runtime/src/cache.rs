//! The on-disk cache of compiled components.
//!
//! Compiling a component with Cranelift takes tens of milliseconds to seconds;
//! loading a precompiled artifact takes microseconds. Artifacts are keyed by the
//! component's SHA-256 and the engine's compatibility hash, and each carries an
//! HMAC under a key only this host holds, so the host deserialises native code
//! it compiled itself and nothing else.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;

/// Whether a load hit the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    /// Loaded a precompiled artifact.
    Hit,
    /// Compiled now (and stored, when a cache is configured).
    Compiled,
}

/// A directory of compiled artifacts, signed with this host's key.
pub(crate) struct CompileCache {
    dir: PathBuf,
    key: [u8; 32],
}

impl CompileCache {
    /// Opens (or creates) a cache directory and its host key.
    pub(crate) fn open(dir: &Path) -> anyhow::Result<CompileCache> {
        use anyhow::Context as _;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create plugin cache {}", dir.display()))?;
        let key_path = dir.join("host.key");
        let key = match std::fs::read(&key_path) {
            Ok(bytes) if bytes.len() == 32 => bytes.try_into().expect("length checked"),
            _ => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
                write_private(&key_path, &key)
                    .with_context(|| format!("cannot write {}", key_path.display()))?;
                key
            }
        };
        Ok(CompileCache {
            dir: dir.to_owned(),
            key,
        })
    }

    fn mac(&self, artifact: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length works");
        mac.update(artifact);
        mac
    }

    /// Loads a component from the cache, or compiles and stores it.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        content_hash: &str,
    ) -> anyhow::Result<(Component, CacheOutcome)> {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let stem = format!("{content_hash}-{:016x}", hasher.finish());
        let artifact_path = self.dir.join(format!("{stem}.cwasm"));
        let mac_path = self.dir.join(format!("{stem}.mac"));

        if let (Ok(artifact), Ok(tag)) = (std::fs::read(&artifact_path), std::fs::read(&mac_path)) {
            if self.mac(&artifact).verify_slice(&tag).is_ok() {
                if let Ok(component) = deserialize_own_artifact(engine, &artifact) {
                    return Ok((component, CacheOutcome::Hit));
                }
            } else {
                tracing::warn!(path = %artifact_path.display(), "ignoring a cached artifact whose signature does not match");
            }
        }
        let component = Component::new(engine, wasm)?;
        let artifact = component.serialize()?;
        let tag = self.mac(&artifact).finalize().into_bytes();
        // Best effort: a read-only cache still serves, it just compiles every time.
        if let Err(e) =
            write_private(&artifact_path, &artifact).and_then(|()| write_private(&mac_path, &tag))
        {
            tracing::warn!(path = %artifact_path.display(), error = %e, "cannot store compiled plugin");
        }
        Ok((component, CacheOutcome::Compiled))
    }
}

/// Deserialises an artifact whose HMAC this host has just verified.
#[allow(unsafe_code)]
fn deserialize_own_artifact(engine: &Engine, artifact: &[u8]) -> anyhow::Result<Component> {
    // SAFETY: wasmtime requires that the bytes come from `Component::serialize`
    // of a compatible engine and were not tampered with. The caller verified an
    // HMAC made with a key only this host holds over exactly these bytes, and
    // the file name carries the engine's compatibility hash.
    Ok(unsafe { Component::deserialize(engine, artifact)? })
}

/// Writes a file atomically (temporary file, then rename) with owner-only permissions.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The SHA-256 of a component, hex-encoded.
pub(crate) fn content_hash(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}
