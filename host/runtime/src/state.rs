//! The data of one call's `Store`: WASI contexts, limits and the plugin's grants.
//!
//! A fresh `CallState` is made for every call, so nothing a plugin does
//! survives it except what it writes through `kv`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::host_impl::PluginContext;
use crate::outbound::{DenialLog, OutboundHooks};
use crate::stats::CallStats;

/// How much of the plugin's stderr is kept to explain a crash.
const STDERR_CAPTURE: usize = 16 * 1024;

/// Caps linear memory and tables, remembers whether the cap was hit, and
/// reports the call's memory to its plugin's peak.
pub(crate) struct MemoryCap {
    pub(crate) max_bytes: usize,
    pub(crate) hit: bool,
    /// Linear memory of every instance of this call, in bytes.
    total: usize,
    stats: Arc<CallStats>,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        // Also called when a memory is created (current = 0), so the total
        // covers every memory of the call; growths are rare, so is this atomic.
        self.total = self.total.saturating_add(desired.saturating_sub(current));
        self.stats.record_memory(self.total as u64);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The `T` of `Store<T>` for one call.
pub(crate) struct CallState {
    pub(crate) plugin: Arc<PluginContext>,
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: OutboundHooks,
    pub(crate) table: ResourceTable,
    pub(crate) limits: MemoryCap,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) denials: DenialLog,
    /// Log lines written in this call, against the per-call quota.
    pub(crate) log_lines: AtomicU64,
}

impl CallState {
    pub(crate) fn new(plugin: Arc<PluginContext>) -> CallState {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        // Nothing is inherited: no env, no args, no preopened dirs, no sockets.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let denials = DenialLog::default();
        let hooks = OutboundHooks {
            policy: plugin.outbound.clone(),
            denials: denials.clone(),
            deadline: std::time::Instant::now() + plugin.time_limit(),
        };
        let max_bytes = usize::try_from(plugin.limits.memory_mb << 20).unwrap_or(usize::MAX);
        CallState {
            wasi,
            http: WasiHttpCtx::new(),
            hooks,
            table: ResourceTable::new(),
            limits: MemoryCap {
                max_bytes,
                hit: false,
                total: 0,
                stats: plugin.stats.clone(),
            },
            stderr,
            denials,
            log_lines: AtomicU64::new(0),
            plugin,
        }
    }

    /// The plugin's last words on stderr (a panic message), trimmed.
    pub(crate) fn last_words(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        (!text.is_empty()).then(|| {
            text.lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" | ")
        })
    }

    /// Counts a log line; false once the quota is used up, when the line is
    /// dropped and counted (the first one dropped is reported, once).
    pub(crate) fn take_log_quota(&self, quota: u32) -> bool {
        let line = self.log_lines.fetch_add(1, Ordering::Relaxed);
        let quota = u64::from(quota);
        if line < quota {
            return true;
        }
        if line == quota {
            tracing::warn!(
                plugin = %self.plugin.id,
                quota,
                "plugin went over its log quota for this call; further lines are dropped and counted"
            );
        }
        self.plugin.stats.record_dropped_logs(1);
        false
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
