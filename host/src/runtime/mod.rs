//! The wasmtime side: one engine, each operator's component compiled and
//! pre-linked once per run, one instance per subtask.

mod bindings;
mod budget;
mod cache;
pub mod image;
mod instance;
mod log;
mod stdio;
mod store;
mod tag;
mod typecheck;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, Store};

pub use bindings::{Batch, Level, StateInfo};
pub use budget::LogRate;
pub use cache::{CacheOutcome, CompileCache};
pub use instance::{OperatorInstance, Part, Restore, RestorePiece, STATE_CHUNK, Snapshot, check_batch};
pub use store::{Grants, StoreData};
pub use tag::SubtaskTag;

use bindings::{v1, v2};
use instance::Bound;

/// The version of the operator contract a component targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum World {
    /// `cairn:operator@0.1.0`: one input, state the host cannot look into (fixed parallelism).
    #[serde(rename = "0.1.0")]
    V0_1,
    /// `cairn:operator@0.2.0`: keyed state by key-hash ranges (rescales), input indices (joins).
    #[serde(rename = "0.2.0")]
    V0_2,
}

impl World {
    /// The interface a component of this version exports.
    pub fn export(self) -> &'static str {
        match self {
            World::V0_1 => "cairn:operator/operator@0.1.0",
            World::V0_2 => "cairn:operator/operator@0.2.0",
        }
    }

    /// `0.1.0` or `0.2.0`.
    pub fn version(self) -> &'static str {
        match self {
            World::V0_1 => "0.1.0",
            World::V0_2 => "0.2.0",
        }
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cairn:operator@{}", self.version())
    }
}

/// A pre-linked component, by contract version.
enum Pre {
    V1(v1::OperatorWorldPre<StoreData>),
    V2(v2::OperatorWorldV2Pre<StoreData>),
}

/// Errors from loading components and calling operators. Each names the operator
/// (and subtask, for calls) and says whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The component file could not be read.
    #[error("operator `{operator}`: cannot read component {path}: {source}")]
    Read {
        /// Operator id.
        operator: String,
        /// Component path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a WebAssembly component.
    #[error("operator `{operator}`: {path} is not a WebAssembly component: {reason}")]
    NotAComponent {
        /// Operator id.
        operator: String,
        /// Component path.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// The component does not implement the `cairn:operator` world.
    #[error("operator `{operator}`: component {path} does not fit the cairn:operator world (0.1.0 or 0.2.0): {reason}")]
    Incompatible {
        /// Operator id.
        operator: String,
        /// Component path.
        path: PathBuf,
        /// Which import or export is wrong.
        reason: String,
    },
    /// `state: memory` for a component whose state a memory image cannot hold.
    #[error(
        "operator `{operator}`: `state: memory` cannot capture the state of component {path}: {reason}; write `snapshot`/`restore` exports instead and drop `state: memory`"
    )]
    Uncapturable {
        /// Operator id.
        operator: String,
        /// Component path.
        path: PathBuf,
        /// What cannot be captured.
        reason: String,
    },
    /// The host refuses to start the operator as configured (its state does
    /// not fit the component, a grant cannot be given): the host's check, not
    /// the guest's fault.
    #[error("operator `{operator}`: {message}")]
    Refused {
        /// Operator id.
        operator: String,
        /// What does not fit, and what would.
        message: String,
    },
    /// An operator export returned an error.
    #[error("operator `{operator}` subtask {subtask}: `{call}` returned an error: {message}")]
    Guest {
        /// Operator id.
        operator: String,
        /// Subtask index.
        subtask: usize,
        /// The export called.
        call: &'static str,
        /// The operator's message.
        message: String,
    },
    /// An operator trapped (panic, unreachable, out of bounds, …) or broke the contract.
    #[error("operator `{operator}` subtask {subtask}: `{call}` trapped: {message}")]
    Trap {
        /// Operator id.
        operator: String,
        /// Subtask index.
        subtask: usize,
        /// The export called.
        call: &'static str,
        /// The trap and its cause.
        message: String,
    },
}

/// How often the engine's epoch advances: the granularity of call timeouts.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// What one instance may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Linear memory, bytes.
    pub memory: usize,
    /// Wall time per call; `None`: no limit.
    pub call_timeout: Option<std::time::Duration>,
    /// Largest snapshot, bytes.
    pub max_snapshot: u64,
    /// Fuel per call (needs a runtime made with fuel).
    pub fuel: Option<u64>,
    /// Most bytes one call may copy from the guest to the host.
    pub max_call_output: usize,
    /// Guest log lines and bytes per second (per subtask).
    pub log: LogRate,
}

impl Default for Limits {
    fn default() -> Self {
        let spec = crate::spec::LimitsSpec::default();
        Limits::from(&spec)
    }
}

impl From<&crate::spec::LimitsSpec> for Limits {
    fn from(s: &crate::spec::LimitsSpec) -> Self {
        Limits {
            memory: usize::try_from(s.memory.0).unwrap_or(usize::MAX),
            call_timeout: s.call_timeout.0,
            max_snapshot: s.max_snapshot.0,
            fuel: s.fuel,
            max_call_output: usize::try_from(s.max_call_output.0).unwrap_or(usize::MAX),
            log: LogRate { lines: s.log_lines, bytes: s.log_bytes.0 },
        }
    }
}

/// The host's wasmtime engine and linker, shared by every component of a run.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<StoreData>>,
    cache: CompileCache,
    epochs: bool,
}

impl Runtime {
    /// An engine tuned for throughput, with WASI p2 (nothing granted) and the log import linked,
    /// and the compile cache the environment asks for ([`CompileCache::from_env`]).
    pub fn new() -> anyhow::Result<Runtime> {
        Self::with_fuel(false)
    }

    /// The runtime `pipeline` needs: with fuel accounting only if an operator
    /// asks for fuel, and with epoch interruption unless no operator has a call timeout.
    pub fn for_pipeline(pipeline: &crate::spec::Pipeline) -> anyhow::Result<Runtime> {
        let ops = &pipeline.spec.operators;
        Self::with_options(ops.iter().any(|o| o.limits.fuel.is_some()), ops.iter().any(|o| o.limits.call_timeout.0.is_some()))
    }

    /// A runtime, with fuel accounting when `fuel` (slower; for deterministic limits).
    pub fn with_fuel(fuel: bool) -> anyhow::Result<Runtime> {
        Self::with_options(fuel, true)
    }

    /// A runtime with fuel accounting when `fuel`, and call timeouts (epoch
    /// interruption: every loop back-edge of guest code checks the epoch) when `epochs`.
    pub fn with_options(fuel: bool, epochs: bool) -> anyhow::Result<Runtime> {
        // The buffers state is copied out into at a checkpoint are freed after the
        // upload: keep that memory resident for the next checkpoint ([`crate::alloc`]).
        if let Err(e) = crate::alloc::keep_freed_memory() {
            tracing::warn!("{e}; every checkpoint faults its state's host buffers in afresh");
        }
        let mut config = Config::new();
        config.consume_fuel(fuel);
        config.wasm_component_model(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // Call timeouts by epoch interruption (cheap on the hot path, unlike fuel).
        config.epoch_interruption(epochs);
        // `CAIRN_PROFILER=perfmap`: write /tmp/perf-<pid>.map so that `perf`
        // names the guests' compiled functions.
        if std::env::var("CAIRN_PROFILER").is_ok_and(|p| p == "perfmap") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("cannot create the wasmtime engine: {e}"))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("cairn-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot start the epoch ticker: {e}"))?;
        let mut linker = Linker::<StoreData>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("cannot link WASI: {e}"))?;
        // 0.2.0 imports 0.1.0's `log`: linking the 0.1.0 world serves both.
        v1::OperatorWorld::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("cannot link the log import: {e}"))?;
        Ok(Runtime { engine, linker: Arc::new(linker), cache: CompileCache::from_env(), epochs })
    }

    /// This runtime with compiled components cached in `cache` instead.
    pub fn with_cache(mut self, cache: CompileCache) -> Runtime {
        self.cache = cache;
        self
    }

    /// Where compiled components are cached.
    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads, compiles (or loads from the compile cache) and pre-links the
    /// component of operator `operator`, checking that it fits the world before
    /// any instance exists. Its state crosses through its `snapshot`/`restore` exports.
    pub fn load(&self, operator: &str, path: &Path) -> Result<OperatorComponent, RuntimeError> {
        self.load_as(operator, path, crate::spec::StateMode::Exports)
    }

    /// [`load`](Self::load), with state taken as `state` says: with
    /// [`StateMode::Memory`](crate::spec::StateMode::Memory) the component is
    /// rewritten so that the host can copy its memories and globals
    /// ([`image`]), and what could not be captured is refused here.
    pub fn load_as(&self, operator: &str, path: &Path, state: crate::spec::StateMode) -> Result<OperatorComponent, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Read { operator: operator.into(), path: path.into(), source })?;
        let not_component = |reason: &str| RuntimeError::NotAComponent { operator: operator.into(), path: path.into(), reason: reason.into() };
        match bytes.get(..8) {
            Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => {}
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => {
                return Err(not_component("it is a core WebAssembly module; build it as a component (target wasm32-wasip2, or `wasm-tools component new`)"));
            }
            _ => return Err(not_component("it does not start with the WebAssembly magic bytes")),
        }
        let digest = hex::encode(Sha256::digest(&bytes));
        let (compiled, key, layout) = match state {
            crate::spec::StateMode::Exports => (bytes, digest.clone(), None),
            crate::spec::StateMode::Memory => {
                let t = std::time::Instant::now();
                let done = image::instrument::instrument(&bytes).map_err(|e| RuntimeError::Uncapturable {
                    operator: operator.into(),
                    path: path.into(),
                    reason: e.to_string(),
                })?;
                tracing::debug!(
                    operator,
                    memories = done.layout.memories.len(),
                    globals = done.layout.globals.len(),
                    ms = t.elapsed().as_millis() as u64,
                    "component instrumented for memory images"
                );
                let key = hex::encode(Sha256::digest(&done.bytes));
                (done.bytes, key, Some(Arc::new(done.layout)))
            }
        };
        let (component, outcome) = self.cache.component(&self.engine, &compiled, &key).map_err(|e| not_component(&format!("{e:?}")))?;
        tracing::debug!(operator, ?outcome, "component ready");
        let incompatible = |reason: String| RuntimeError::Incompatible { operator: operator.into(), path: path.into(), reason };
        let exports: Vec<String> = component.component_type().exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let world = [World::V0_2, World::V0_1].into_iter().find(|w| exports.iter().any(|e| e == w.export())).ok_or_else(|| {
            let found = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
            incompatible(format!(
                "it exports neither `{}` nor `{}` (it exports {found}); build it against wit/ (0.1.0) or wit/0.2/ (0.2.0)",
                World::V0_1.export(),
                World::V0_2.export()
            ))
        })?;
        typecheck::check_exports(&self.engine, &component, world).map_err(incompatible)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| incompatible(format!("{e:#}")))?;
        let pre = match world {
            World::V0_1 => Pre::V1(v1::OperatorWorldPre::new(pre).map_err(|e| incompatible(format!("{e:?}")))?),
            World::V0_2 => Pre::V2(v2::OperatorWorldV2Pre::new(pre).map_err(|e| incompatible(format!("{e:?}")))?),
        };
        tracing::debug!(operator, %world, "component targets");
        Ok(OperatorComponent { operator: operator.into(), path: path.into(), digest, world, pre: Arc::new(pre), epochs: self.epochs, layout })
    }
}

/// A compiled, pre-linked operator component: instantiating it is cheap.
#[derive(Clone)]
pub struct OperatorComponent {
    operator: Arc<str>,
    path: PathBuf,
    digest: String,
    world: World,
    pre: Arc<Pre>,
    /// Whether the engine interrupts by epoch (call timeouts).
    epochs: bool,
    /// What the host captures of each instance (`state: memory`); `None`: the
    /// operator's own `snapshot`/`restore`.
    layout: Option<Arc<image::Layout>>,
}

impl OperatorComponent {
    /// SHA-256 of the component file, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The contract version the component targets.
    pub fn world(&self) -> World {
        self.world
    }

    /// The same compiled component for another operator of the pipeline (its
    /// instances, logs, errors and snapshots are that operator's).
    pub fn for_operator(&self, operator: &str) -> OperatorComponent {
        OperatorComponent { operator: operator.into(), ..self.clone() }
    }

    /// Whether the host takes this operator's state as a memory image.
    pub fn is_memory_image(&self) -> bool {
        self.layout.is_some()
    }

    /// The component file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh instance for subtask `subtask` (not yet initialised), within
    /// `limits`, granted only `grants`.
    pub fn instantiate(&self, subtask: usize, limits: Limits, grants: &Grants) -> Result<OperatorInstance, RuntimeError> {
        let tag = SubtaskTag { operator: self.operator.clone(), subtask };
        let data = StoreData::new(tag, limits.memory, limits.log, grants).map_err(|message| RuntimeError::Trap {
            operator: self.operator.to_string(),
            subtask,
            call: "instantiate",
            message,
        })?;
        let engine = match &*self.pre {
            Pre::V1(p) => p.engine(),
            Pre::V2(p) => p.engine(),
        };
        let mut store = Store::new(engine, data);
        store.limiter(|d| &mut d.limits);
        store.set_hostcall_fuel(limits.max_call_output);
        if !self.epochs && limits.call_timeout.is_some() {
            return Err(RuntimeError::Trap {
                operator: self.operator.to_string(),
                subtask,
                call: "instantiate",
                message: "`limits.call-timeout` needs a runtime with epoch interruption".into(),
            });
        }
        if self.epochs {
            store.epoch_deadline_trap();
            store.set_epoch_deadline(ticks(limits.call_timeout));
        }
        if let Some(fuel) = limits.fuel {
            store.set_fuel(fuel).map_err(|e| RuntimeError::Trap {
                operator: self.operator.to_string(),
                subtask,
                call: "instantiate",
                message: format!("`limits.fuel` needs a runtime with fuel accounting: {e}"),
            })?;
        }
        let trap = |message: String| RuntimeError::Trap { operator: self.operator.to_string(), subtask, call: "instantiate", message };
        let (world, access) = match &self.layout {
            None => {
                let world = match &*self.pre {
                    Pre::V1(p) => p.instantiate(&mut store).map(Bound::V1),
                    Pre::V2(p) => p.instantiate(&mut store).map(Bound::V2),
                };
                (world.map_err(|e| trap(format!("{e:?}")))?, None)
            }
            Some(layout) => {
                // The instance itself is needed to reach the accessor exports.
                let (instance, world) = match &*self.pre {
                    Pre::V1(p) => p.instance_pre().instantiate(&mut store).and_then(|i| {
                        let w = v1::OperatorWorld::new(&mut store, &i)?;
                        Ok((i, Bound::V1(w)))
                    }),
                    Pre::V2(p) => p.instance_pre().instantiate(&mut store).and_then(|i| {
                        let w = v2::OperatorWorldV2::new(&mut store, &i)?;
                        Ok((i, Bound::V2(w)))
                    }),
                }
                .map_err(|e| trap(format!("{e:?}")))?;
                let access = image::Access::new(&mut store, &instance, layout.clone()).map_err(trap)?;
                (world, Some((access, self.digest.clone())))
            }
        };
        Ok(OperatorInstance::new(store, world, limits, self.epochs, access))
    }
}

/// Epoch ticks in `d` (at least one).
pub(crate) fn ticks(d: Option<std::time::Duration>) -> u64 {
    match d {
        Some(d) => (d.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1,
        None => u64::MAX / 4, // never, in practice (and no overflow when added to the epoch)
    }
}
