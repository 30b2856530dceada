//! The one wasmtime `Engine` of a host, its linker, epoch ticker and call pool.
//!
//! The engine runs with epoch interruption (time limits) and the pooling
//! allocator (a fresh instance per call in microseconds). A semaphore of the
//! pool's size makes excess calls queue instead of failing, up to a bounded
//! queue; beyond it a call is refused at once rather than pile up.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::CompileCache;
use crate::host_impl::{KvBackend, MemoryKv};
use crate::state::CallState;

/// How often the epoch advances; time limits are multiples of this.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How the runtime is set up.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; none: compile at every load.
    pub cache_dir: Option<PathBuf>,
    /// Calls that may run at once; more wait in a queue.
    pub max_concurrent_calls: u32,
    /// Calls that may wait for a slot; more are refused with `CallError::Overloaded`.
    pub max_queued_calls: u32,
    /// The most memory any plugin may be granted, in MiB.
    pub max_memory_mb: u64,
    /// The longest time any plugin may be granted per call, in milliseconds.
    pub max_time_ms: u64,
    /// Where plugins' key-value data lives.
    pub kv: Arc<dyn KvBackend>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            max_concurrent_calls: 64,
            max_queued_calls: 1024,
            max_memory_mb: 512,
            max_time_ms: 60_000,
            kv: Arc::new(MemoryKv::default()),
        }
    }
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) cache: Option<CompileCache>,
    pub(crate) permits: Semaphore,
    /// Calls waiting for a permit now.
    pub(crate) queued: AtomicU32,
    pub(crate) config: RuntimeConfig,
}

/// The plugin runtime: cheap to clone, shared by the whole host.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// Builds the engine, the linker with every host import, and the epoch ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let slots = config.max_concurrent_calls.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 16)
            .total_memories(slots * 4)
            .total_tables(slots * 8)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .max_core_instances_per_component(32)
            .max_memory_size(usize::try_from(config.max_memory_mb << 20)?);

        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .wasm_component_model(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)?;

        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::host::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;

        let cache = config
            .cache_dir
            .as_deref()
            .map(CompileCache::open)
            .transpose()?;
        spawn_epoch_ticker(&engine);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache,
                permits: Semaphore::new(slots as usize),
                queued: AtomicU32::new(0),
                config,
            }),
        })
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }
}

/// Advances the engine's epoch until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("portico-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
