//! `pipeline.yaml`: the job description, parsed with unknown fields rejected and
//! validated (ids, inputs, cycles) before anything runs.

mod kafka;
mod secrets;
mod units;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use kafka::{Delivery, KafkaSinkSpec, KafkaSourceSpec, PartitionBy, SinkPartition, StartPosition, StopAt, Topics};
pub use secrets::{REDACTED, Secrets, is_secret, redacted};
pub use units::{ByteSize, HumanDuration, Timeout};
pub use validate::Topology;

/// Errors in a pipeline file. Each names the file, and where it can the field and line.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        /// The pipeline file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// YAML syntax error, unknown field, wrong type, bad duration or size.
    #[error("{path}: {message}")]
    Syntax {
        /// The pipeline file.
        path: PathBuf,
        /// the YAML parser's message, which carries line and column.
        message: String,
    },
    /// The file parsed but describes an impossible job.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The pipeline file.
        path: PathBuf,
        /// 1-based line of the culprit, when it could be located.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

/// A whole pipeline.yaml.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PipelineSpec {
    /// The pipeline's name, stable across runs: checkpoints of every run are found under it.
    pub name: String,
    /// Where events come from.
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    /// The WebAssembly operators.
    #[serde(default)]
    pub operators: Vec<OperatorSpec>,
    /// Where events go.
    #[serde(default)]
    pub sinks: Vec<SinkSpec>,
    /// Batching on every edge.
    #[serde(default)]
    pub batch: BatchSpec,
    /// Capacity of each channel between tasks, in batches (backpressure beyond it).
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
    /// Periodic checkpoints and their pacing.
    #[serde(default)]
    pub checkpoints: CheckpointSpec,
    /// Where checkpoints and savepoints are stored.
    #[serde(default)]
    pub storage: StorageSpec,
    /// What to do when a task fails while the job runs.
    #[serde(default)]
    pub restart: RestartSpec,
    /// How often sources emit watermarks (at most).
    #[serde(default = "default_watermark_interval")]
    pub watermark_interval: HumanDuration,
    /// Periodic savepoints and their retention.
    #[serde(default)]
    pub savepoints: SavepointSpec,
    /// The REST API of the running job.
    #[serde(default)]
    pub api: ApiSpec,
}

/// `savepoints:` periodic savepoints, with their own retention. Savepoints taken
/// on request or on stop are never deleted by it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SavepointSpec {
    /// Time between periodic savepoints; absent: none.
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// Periodic savepoints kept (newest first); absent: no count limit.
    #[serde(default)]
    pub retain: Option<usize>,
    /// Periodic savepoints older than this are deleted; absent: no age limit.
    #[serde(default)]
    pub max_age: Option<HumanDuration>,
}

/// `api:` the REST API of a running job.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApiSpec {
    /// Serve the API at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Address to listen on. On anything but loopback, mutating endpoints
    /// require the bearer token from the environment variable `CAIRN_API_TOKEN`
    /// (the job refuses to start without it). Port 0 picks a free port; a busy
    /// port on loopback falls back to a free one (the log says which).
    #[serde(default = "default_api_listen")]
    pub listen: String,
}

fn yes() -> bool {
    true
}

fn default_api_listen() -> String {
    "127.0.0.1:8081".into()
}

impl Default for ApiSpec {
    fn default() -> Self {
        ApiSpec { enabled: true, listen: default_api_listen() }
    }
}

fn default_watermark_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(200))
}

fn default_channel_capacity() -> usize {
    8
}

/// Batching of events on the edges between tasks.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BatchSpec {
    /// A batch is sent when it holds this many events…
    #[serde(default = "default_batch_size")]
    pub size: usize,
    /// …or when its first event has waited this long.
    #[serde(default = "default_linger")]
    pub linger: HumanDuration,
}

fn default_batch_size() -> usize {
    1024
}

fn default_linger() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(20))
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec { size: default_batch_size(), linger: default_linger() }
    }
}

/// `checkpoints:` periodic checkpoints, paced like Flink's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CheckpointSpec {
    /// Time between checkpoint triggers; absent: no periodic checkpoints (a final
    /// checkpoint still commits the sinks when bounded input ends).
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// A checkpoint not complete after this long is aborted and its files removed.
    #[serde(default = "default_checkpoint_timeout")]
    pub timeout: HumanDuration,
    /// Least time between the end of one checkpoint and the start of the next.
    #[serde(default)]
    pub min_pause: HumanDuration,
    /// Consecutive failed checkpoints tolerated before the job fails.
    #[serde(default)]
    pub tolerable_failures: u32,
    /// Completed checkpoints kept; older ones are deleted.
    #[serde(default = "default_retain")]
    pub retain: usize,
    /// The run's checkpoints when the job finishes normally: `delete` (default) or `keep` the last.
    #[serde(default)]
    pub on_finish: EndPolicy,
    /// The run's last checkpoint when the job is cancelled (Ctrl-C): `keep` (default) or `delete`.
    #[serde(default = "keep")]
    pub on_cancel: EndPolicy,
}

/// What happens to a run's checkpoints when the job ends. A job that fails for
/// good always keeps its last checkpoint.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EndPolicy {
    /// Delete the run's checkpoints.
    #[default]
    Delete,
    /// Keep the last one, marked as persistent.
    Keep,
}

fn keep() -> EndPolicy {
    EndPolicy::Keep
}

fn default_checkpoint_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}
fn default_retain() -> usize {
    3
}

impl Default for CheckpointSpec {
    fn default() -> Self {
        CheckpointSpec {
            interval: None,
            timeout: default_checkpoint_timeout(),
            min_pause: HumanDuration::default(),
            tolerable_failures: 0,
            retain: default_retain(),
            on_finish: EndPolicy::Delete,
            on_cancel: EndPolicy::Keep,
        }
    }
}

/// Restart strategy.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartStrategy {
    /// Fail the job at the first task failure.
    None,
    /// Wait `delay` between attempts.
    FixedDelay,
    /// Wait `initial-backoff`, doubling up to `max-backoff`.
    #[default]
    ExponentialDelay,
}

/// `restart:` in-process restarts from the last completed checkpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RestartSpec {
    /// `none`, `fixed-delay` or `exponential-delay` (default).
    #[serde(default)]
    pub strategy: RestartStrategy,
    /// Restarts before the job fails for good.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Wait between attempts (`fixed-delay`).
    #[serde(default = "default_delay")]
    pub delay: HumanDuration,
    /// First wait (`exponential-delay`).
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: HumanDuration,
    /// Longest wait (`exponential-delay`).
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
    /// A run that lasted this long before failing resets the attempt count.
    #[serde(default = "default_reset_after")]
    pub reset_after: HumanDuration,
}

fn default_attempts() -> u32 {
    3
}
fn default_delay() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}
fn default_initial_backoff() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(200))
}
fn default_max_backoff() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn default_reset_after() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}

impl Default for RestartSpec {
    fn default() -> Self {
        RestartSpec {
            strategy: RestartStrategy::default(),
            attempts: default_attempts(),
            delay: default_delay(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            reset_after: default_reset_after(),
        }
    }
}

impl RestartSpec {
    /// The wait before restart number `attempt` (from 1), or `None` when restarts ran out.
    pub fn backoff(&self, attempt: u32) -> Option<std::time::Duration> {
        if attempt > self.attempts {
            return None;
        }
        match self.strategy {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay => Some(self.delay.0),
            RestartStrategy::ExponentialDelay => {
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
                Some(self.initial_backoff.0.saturating_mul(factor).min(self.max_backoff.0))
            }
        }
    }
}

/// `storage:` one URL for checkpoints and savepoints.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StorageSpec {
    /// `file://DIR` or a plain path (relative to the pipeline file when relative),
    /// `memory://NAME`, or `s3://BUCKET/PREFIX`. Default: `storage` beside the pipeline file.
    #[serde(default = "default_storage_url")]
    pub url: String,
    /// Backend options, e.g. for S3 `endpoint`, `region`, `access-key-id`,
    /// `secret-access-key`, `allow-http`. The usual AWS environment variables are read too.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

fn default_storage_url() -> String {
    "storage".into()
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec { url: default_storage_url(), options: BTreeMap::new() }
    }
}

/// One input or several.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Inputs {
    /// `input: tokenize`
    One(String),
    /// `input: [a, b]`
    Many(Vec<String>),
}

impl Inputs {
    /// The input ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        match self {
            Inputs::One(s) => vec![s.as_str()],
            Inputs::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A source of events. `type` selects the kind.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SourceSpec {
    /// Lines or JSON lines read from a file.
    File(FileSourceSpec),
    /// Deterministic synthetic events, for tests and benchmarks.
    Generator(GeneratorSpec),
    /// The Nexmark benchmark's persons, auctions and bids.
    Nexmark(NexmarkSpec),
    /// The records of Kafka topics.
    Kafka(KafkaSourceSpec),
}

impl SourceSpec {
    /// The source's stable id.
    pub fn id(&self) -> &str {
        match self {
            SourceSpec::File(s) => &s.id,
            SourceSpec::Generator(s) => &s.id,
            SourceSpec::Nexmark(s) => &s.id,
            SourceSpec::Kafka(s) => &s.id,
        }
    }
    /// The source's subtasks (a file source has one).
    pub fn parallelism(&self) -> usize {
        match self {
            SourceSpec::Kafka(s) => s.parallelism,
            SourceSpec::Generator(s) => s.parallelism,
            SourceSpec::Nexmark(s) => s.parallelism,
            SourceSpec::File(_) => 1,
        }
    }
}

/// Format of a file source.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// One event per line: no key, the line as value, the line number (from 0) as event time in ms.
    #[default]
    Lines,
    /// One JSON object per line, fields named by `key-field`, `value-field`, `timestamp-field`.
    Json,
}

/// `type: file`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileSourceSpec {
    /// Stable id.
    pub id: String,
    /// The file, relative to the pipeline file when relative.
    pub path: PathBuf,
    /// `lines` (default) or `json`.
    #[serde(default)]
    pub format: FileFormat,
    /// JSON field holding the key (a string; absent or null: no key).
    #[serde(default = "default_key_field")]
    pub key_field: String,
    /// JSON field holding the value (a string is taken as is, anything else as JSON text).
    #[serde(default = "default_value_field")]
    pub value_field: String,
    /// JSON field holding the event time, integer milliseconds since the Unix
    /// epoch. Named: a record without it is malformed. Not named: `ts` when a
    /// record has it, else the record's line index (arrival order, as `lines` does).
    #[serde(default)]
    pub timestamp_field: Option<String>,
    /// How late (in event time) an event may arrive behind the latest one seen.
    #[serde(default)]
    pub out_of_orderness: HumanDuration,
    /// Lines per second to replay at; absent means as fast as possible.
    #[serde(default)]
    pub rate: Option<u64>,
    /// What to do with a line that is not valid UTF-8, or not a valid JSON record.
    #[serde(default)]
    pub on_malformed: OnMalformed,
}

/// Policy for malformed records.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum OnMalformed {
    /// Fail the job, naming the source, file and line.
    #[default]
    Fail,
    /// Drop the record and count it.
    Skip,
    /// Write the record and the reason as a JSON line to this file (relative to
    /// the pipeline file), and count it. At-least-once: a restore may repeat lines.
    DeadLetter(PathBuf),
}

fn default_key_field() -> String {
    "key".into()
}
fn default_value_field() -> String {
    "value".into()
}

/// `type: generator`: event `i` has key `k<n>` with `n` a scramble of `i` modulo
/// `keys` (no key when `keys` is 0), a value of `value-size` letters, and event time
/// `start + i × step`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GeneratorSpec {
    /// Stable id.
    pub id: String,
    /// Subtasks: subtask `s` of `N` emits events `s, s + N, s + 2N, …`, so that
    /// together they emit exactly the events of one subtask.
    #[serde(default = "default_parallelism")]
    pub parallelism: usize,
    /// Number of events; absent means unbounded.
    #[serde(default)]
    pub count: Option<u64>,
    /// Events per second; absent means as fast as possible.
    #[serde(default)]
    pub rate: Option<u64>,
    /// Number of distinct keys (0: events have no key).
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// Bytes per value.
    #[serde(default = "default_value_size")]
    pub value_size: ByteSize,
    /// Event time of the first event, ms since the Unix epoch.
    #[serde(default)]
    pub start: i64,
    /// Event-time step between consecutive events.
    #[serde(default = "default_step")]
    pub step: HumanDuration,
}

fn default_keys() -> u64 {
    1000
}
fn default_value_size() -> ByteSize {
    ByteSize(16)
}
fn default_step() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(1))
}

/// `type: nexmark`: the Nexmark benchmark's event stream (persons, auctions,
/// bids), generated deterministically as the reference generator does; see
/// the `nexmark-model` crate for the fields and their encoding.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NexmarkSpec {
    /// Stable id.
    pub id: String,
    /// Subtasks: subtask `s` of `N` emits events `s, s + N, s + 2N, …` (event
    /// `n` depends only on `n`), so that together they emit exactly the events
    /// of one subtask.
    #[serde(default = "default_parallelism")]
    pub parallelism: usize,
    /// Number of events (of all three kinds); absent means unbounded.
    #[serde(default)]
    pub count: Option<u64>,
    /// Events per second of wall-clock time; absent means as fast as possible.
    #[serde(default)]
    pub rate: Option<u64>,
    /// Seed of the events' random fields.
    #[serde(default)]
    pub seed: u64,
    /// Event time of the first event, ms since the Unix epoch.
    #[serde(default)]
    pub first_event_time: i64,
    /// Events per second of event time: the inter-event delay is its inverse
    /// (default 10 000, i.e. 100 µs, as in the reference).
    #[serde(default = "default_nexmark_event_rate")]
    pub event_rate: u64,
    /// `none` (default): events have no key; `id`: the 8-byte little-endian
    /// auction id (bids, auctions) or person id (persons).
    #[serde(default)]
    pub key: NexmarkKey,
    /// Persons, auctions and bids per 1 + 3 + 46 events (the reference's proportions).
    #[serde(default = "default_nexmark_proportions")]
    pub proportions: [u64; 3],
    /// Persons that auctions and bids pick from.
    #[serde(default = "default_nexmark_active_people")]
    pub active_people: u64,
    /// Recent auctions that bids pick from.
    #[serde(default = "default_nexmark_in_flight_auctions")]
    pub in_flight_auctions: u64,
    /// One bid in this many picks a random auction, the rest the hot one.
    #[serde(default = "default_nexmark_hot_auction_ratio")]
    pub hot_auction_ratio: u64,
    /// One auction in this many has a random seller, the rest the hot one.
    #[serde(default = "default_nexmark_hot_ratio")]
    pub hot_sellers_ratio: u64,
    /// One bid in this many has a random bidder, the rest the hot one.
    #[serde(default = "default_nexmark_hot_ratio")]
    pub hot_bidders_ratio: u64,
}

/// What a `nexmark` source puts in the key column.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NexmarkKey {
    /// No key.
    #[default]
    None,
    /// The auction id of bids and auctions, the person id of persons (8 bytes, little-endian).
    Id,
}

fn default_nexmark_event_rate() -> u64 {
    10_000
}
fn default_nexmark_proportions() -> [u64; 3] {
    [1, 3, 46]
}
fn default_nexmark_active_people() -> u64 {
    1000
}
fn default_nexmark_in_flight_auctions() -> u64 {
    100
}
fn default_nexmark_hot_auction_ratio() -> u64 {
    2
}
fn default_nexmark_hot_ratio() -> u64 {
    4
}

/// A WebAssembly operator.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OperatorSpec {
    /// Stable id: state is matched by it on restore.
    pub id: String,
    /// Path of the component (.wasm), relative to the pipeline file when relative.
    pub component: PathBuf,
    /// Upstream source or operator id(s).
    pub input: Inputs,
    /// Number of subtasks (instances).
    #[serde(default = "default_parallelism")]
    pub parallelism: usize,
    /// Route events to subtasks by a hash of their key, so each key always meets the same subtask.
    #[serde(default)]
    pub key_by: bool,
    /// Handed to the operator's `init` as JSON text.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Sandbox limits of each instance.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Capabilities granted to the operator; nothing by default.
    #[serde(default)]
    pub grants: GrantsSpec,
    /// Who takes the operator's state at checkpoints: `exports` (its own
    /// `snapshot`/`restore`, the default) or `memory` (the host copies its
    /// linear memories and globals; the operator writes no snapshot code).
    #[serde(default)]
    pub state: StateMode,
}

/// `state:` who snapshots an operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StateMode {
    /// The operator's `snapshot`/`restore` exports serialise its state.
    #[default]
    Exports,
    /// The host snapshots the instance's linear memories and mutable globals
    /// (a memory image, incremental by 64 KiB page). Fits only the exact
    /// binary that took it, at the same parallelism.
    Memory,
}

/// `grants:` what an operator may reach beyond its own memory.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GrantsSpec {
    /// Environment variables, by name, passed with the host's values.
    #[serde(default)]
    pub env: Vec<String>,
    /// Directories the operator may read.
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
}

/// A read-only directory grant.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DirGrant {
    /// The directory on the host, relative to the pipeline file when relative.
    pub host: PathBuf,
    /// Where the operator sees it, e.g. `/data`.
    pub guest: String,
}

/// `limits:` what one operator instance may use.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LimitsSpec {
    /// Linear memory per instance; growing beyond it traps.
    #[serde(default = "default_memory")]
    pub memory: ByteSize,
    /// Wall time one call (a batch, a watermark, a snapshot piece) may take.
    /// `none`: no limit — for trusted operators only: a runaway call then
    /// hangs its task. When no operator of a pipeline has a timeout, the engine
    /// runs without epoch interruption, which makes guest code faster (see
    /// BENCHMARKS.md).
    #[serde(default = "default_call_timeout")]
    pub call_timeout: Timeout,
    /// Largest state a snapshot may announce.
    #[serde(default = "default_max_snapshot")]
    pub max_snapshot: ByteSize,
    /// Fuel (roughly, wasm instructions) per call: a deterministic limit for
    /// tests. Absent: no fuel accounting (it costs time on the hot path).
    #[serde(default)]
    pub fuel: Option<u64>,
    /// Most bytes one call may hand from the guest to the host (a batch that
    /// `process` returns, a piece of state, a log line): wasmtime's per-call
    /// copy limit, which keeps a hostile guest from making the host allocate
    /// without bound. A flat-map that emits millions of events in one call
    /// needs more (or smaller input batches).
    #[serde(default = "default_max_call_output")]
    pub max_call_output: ByteSize,
    /// Lines per second a subtask may log (the `log` import, stdout and
    /// stderr together); above it lines are dropped and counted, and one line
    /// says how many were dropped.
    #[serde(default = "default_log_lines")]
    pub log_lines: u64,
    /// Bytes per second of log a subtask may write, counted like `log-lines`.
    #[serde(default = "default_log_bytes")]
    pub log_bytes: ByteSize,
}

fn default_max_call_output() -> ByteSize {
    ByteSize(128 << 20)
}
fn default_log_lines() -> u64 {
    1000
}
fn default_log_bytes() -> ByteSize {
    ByteSize(1 << 20)
}
fn default_memory() -> ByteSize {
    ByteSize(1 << 30)
}
fn default_call_timeout() -> Timeout {
    Timeout(Some(std::time::Duration::from_secs(30)))
}
fn default_max_snapshot() -> ByteSize {
    ByteSize(1 << 30)
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            memory: default_memory(),
            call_timeout: default_call_timeout(),
            max_snapshot: default_max_snapshot(),
            fuel: None,
            max_call_output: default_max_call_output(),
            log_lines: default_log_lines(),
            log_bytes: default_log_bytes(),
        }
    }
}

fn default_parallelism() -> usize {
    1
}

/// How a file or stdout sink writes an event.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SinkFormat {
    /// `key<TAB>value` (just the value for keyless events).
    #[default]
    KeyValue,
    /// The value only.
    Value,
    /// `{"key": …, "value": …, "ts": …}` (key and value as UTF-8 text, lossy).
    Json,
}

/// A sink. `type` selects the kind.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SinkSpec {
    /// Lines into a file.
    File(FileSinkSpec),
    /// Lines on standard output.
    Stdout(StdoutSinkSpec),
    /// Counts events and drops them.
    Blackhole(BlackholeSinkSpec),
    /// Records into a Kafka topic.
    Kafka(KafkaSinkSpec),
}

impl SinkSpec {
    /// The sink's stable id.
    pub fn id(&self) -> &str {
        match self {
            SinkSpec::File(s) => &s.id,
            SinkSpec::Stdout(s) => &s.id,
            SinkSpec::Blackhole(s) => &s.id,
            SinkSpec::Kafka(s) => &s.id,
        }
    }
    /// The sink's inputs.
    pub fn input(&self) -> &Inputs {
        match self {
            SinkSpec::File(s) => &s.input,
            SinkSpec::Stdout(s) => &s.input,
            SinkSpec::Blackhole(s) => &s.input,
            SinkSpec::Kafka(s) => &s.input,
        }
    }
}

/// `type: file`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileSinkSpec {
    /// Stable id.
    pub id: String,
    /// Upstream id(s).
    pub input: Inputs,
    /// Output file, relative to the pipeline file when relative.
    pub path: PathBuf,
    /// Line format.
    #[serde(default)]
    pub format: SinkFormat,
}

/// `type: stdout`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StdoutSinkSpec {
    /// Stable id.
    pub id: String,
    /// Upstream id(s).
    pub input: Inputs,
    /// Line format.
    #[serde(default)]
    pub format: SinkFormat,
}

/// `type: blackhole`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BlackholeSinkSpec {
    /// Stable id.
    pub id: String,
    /// Upstream id(s).
    pub input: Inputs,
}

/// A parsed and validated pipeline, with paths resolved against its file.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The spec as written.
    pub spec: PipelineSpec,
    /// The pipeline file.
    pub path: PathBuf,
    /// The directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// Checked graph: ids, inputs and a topological order.
    pub topology: Topology,
}

impl Pipeline {
    /// Reads, parses and validates a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and validates pipeline text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Pipeline, SpecError> {
        let spec: PipelineSpec = yaml_serde::from_str(text).map_err(|e| SpecError::Syntax { path: path.into(), message: e.to_string() })?;
        let topology = validate::validate(&spec, text).map_err(|(line, message)| SpecError::Invalid { path: path.into(), line, message })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base_dir = if base_dir.as_os_str().is_empty() { PathBuf::from(".") } else { base_dir };
        Ok(Pipeline { spec, path: path.into(), base_dir, topology })
    }

    /// Resolves a path from the file against the pipeline's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.base_dir.join(p) }
    }

    /// Operators by id.
    pub fn operators(&self) -> BTreeMap<&str, &OperatorSpec> {
        self.spec.operators.iter().map(|o| (o.id.as_str(), o)).collect()
    }
}

#[cfg(test)]
mod tests;
