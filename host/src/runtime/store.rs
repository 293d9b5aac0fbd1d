//! What each subtask's wasmtime `Store` holds: WASI with nothing granted, the
//! resource table, and the subtask's identity for logs and errors.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::budget::{LogBudget, LogRate};
use super::stdio::LogStream;
use super::tag::SubtaskTag;

/// Capabilities granted to an operator's instances.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Environment variables (name, value).
    pub env: Vec<(String, String)>,
    /// Read-only directories (host path, guest path).
    pub dirs: Vec<(std::path::PathBuf, String)>,
}

/// The data of one subtask's store.
pub struct StoreData {
    /// Identity, for the log import and guest output.
    pub tag: Arc<SubtaskTag>,
    /// Memory limits, enforced by wasmtime through `Store::limiter`.
    pub limits: StoreLimits,
    /// The subtask's log budget (the log import, stdout and stderr).
    pub(crate) log: Arc<LogBudget>,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl StoreData {
    /// A store for `tag` with WASI granting only `grants`: no network ever, and
    /// no files or environment beyond the grants; stdout and stderr go to the
    /// log, which takes at most `log` per second.
    pub fn new(tag: SubtaskTag, memory: usize, log: LogRate, grants: &Grants) -> Result<Self, String> {
        let tag = Arc::new(tag);
        let budget = Arc::new(LogBudget::new(tag.clone(), log));
        let mut wasi = WasiCtx::builder();
        for (k, v) in &grants.env {
            wasi.env(k, v);
        }
        for (host, guest) in &grants.dirs {
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly).map_err(|e| format!("cannot grant directory {} as `{guest}`: {e}", host.display()))?;
        }
        wasi.stdout(LogStream::new(tag.clone(), budget.clone(), "stdout"))
            .stderr(LogStream::new(tag.clone(), budget.clone(), "stderr"))
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false);
        let wasi = wasi.build();
        // Growing memory beyond the limit traps (a clear error) instead of
        // letting the guest's allocator fail in its own way.
        let limits = StoreLimitsBuilder::new().memory_size(memory).instances(64).trap_on_grow_failure(true).build();
        Ok(StoreData { tag, limits, log: budget, wasi, table: ResourceTable::new() })
    }
}

impl StoreData {
    /// Host resources (WASI streams, files, …) the instance holds handles to.
    pub fn resources(&mut self) -> usize {
        self.table.iter_mut().count()
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
