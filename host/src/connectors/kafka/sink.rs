//! The Kafka sink. Exactly-once: a two-phase commit of Kafka transactions with
//! the checkpoints.
//!
//! - Each subtask owns [`SLOTS`] transactional ids, `<prefix>-<subtask>-<slot>`.
//!   Every transaction runs on a producer of its own (created and initialised
//!   for its slot, so its epoch is new), whose producer id and epoch are read
//!   from the transaction coordinator when it is created.
//! - Events go into the open transaction. At the barrier of checkpoint `n` the
//!   sink flushes it (pre-commit), records it as pending for `n` in the
//!   checkpoint — transactional id, producer id, epoch — and opens the next
//!   one in a free slot. When `n` completes, every pending transaction up to `n`
//!   is committed (those of failed checkpoints before it as well: `n` covers them).
//! - Restore (after a crash or a restart) finishes the job of the restored
//!   checkpoint: each transaction it lists as pending is committed with
//!   `EndTxn` in the dead producer's name (id and epoch from the checkpoint) —
//!   unless it already was. Then every slot is initialised afresh, which aborts
//!   whatever a later, uncompleted checkpoint had open and fences any producer
//!   of the old process: its epoch is stale, so it can never commit.
//!
//! At-least-once: one idempotent producer, flushed at every barrier.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use serde::{Deserialize, Serialize};

use super::protocol::{TxnClient, TxnState};
use super::{client_config, creation_error, fail, partitions_of};
use crate::connectors::{ConnectorError, Sink};
use crate::dataflow::batch::Batch;
use crate::spec::{Delivery, KafkaSinkSpec, SinkPartition};

/// Transactional ids per subtask: one open transaction, the ones awaiting
/// their checkpoint's completion, and spare. More than `SLOTS - 1` checkpoints
/// failing in a row makes the next barriers fail too, until one completes.
pub const SLOTS: usize = 8;

/// Collects the first delivery error of a producer.
#[derive(Clone, Default)]
struct Ctx {
    error: Arc<Mutex<Option<String>>>,
}

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.error.lock().expect("delivery error").get_or_insert_with(|| e.to_string());
        }
    }
}

type Prod = BaseProducer<Ctx>;

/// A transaction's producer and who the coordinator knows it as.
struct Txn {
    slot: usize,
    producer: Prod,
    producer_id: i64,
    epoch: i16,
}

/// A pre-committed transaction, as a checkpoint records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Pending {
    checkpoint: u64,
    transactional_id: String,
    producer_id: i64,
    producer_epoch: i16,
}

/// The sink's part of a checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SinkState {
    /// `<prefix>-<subtask>`: the slots' ids are this and `-<slot>`.
    transactional_ids: String,
    /// Slots that may hold transactions (fenced on restore).
    slots: usize,
    /// Transactions to commit once the checkpoint completes.
    pending: Vec<Pending>,
}

/// The transactions of the exactly-once mode.
struct Txns {
    ids: String,
    config: ClientConfig,
    client: TxnClient,
    current: Txn,
    pending: Vec<(u64, Txn)>,
    spare: Option<Txn>,
}

enum Mode {
    AtLeastOnce(Prod),
    ExactlyOnce(Box<Txns>),
}

/// One subtask of a `type: kafka` sink.
pub struct KafkaSink {
    who: String,
    topic: String,
    partition: Option<i32>,
    timeout: Duration,
    error: Arc<Mutex<Option<String>>>,
    mode: Mode,
    /// Test hook (`CAIRN_KAFKA_FAULT=exit-before-commit`): the process exits where a
    /// crash between a checkpoint's completion and its commit would hit.
    exit_before_commit: bool,
}

/// The client configuration of subtask `subtask` of `spec`.
fn sink_config(spec: &KafkaSinkSpec, subtask: usize) -> ClientConfig {
    let txn_ms = spec.transaction_timeout.0.as_millis().min(i32::MAX as u128) as u64;
    let mut defaults = vec![
        // Java clients' partitioner: a key lands where theirs would put it.
        ("partitioner", "murmur2_random".to_string()),
        ("message.timeout.ms", txn_ms.min(300_000).to_string()),
        ("client.id", format!("cairn-{}-{subtask}", spec.id)),
    ];
    if spec.delivery == Delivery::ExactlyOnce {
        defaults.push(("transaction.timeout.ms", txn_ms.to_string()));
    } else {
        defaults.push(("enable.idempotence", "true".into()));
    }
    client_config(&spec.bootstrap_servers, &spec.options, &defaults)
}

/// A producer that has reached the brokers, and the partition written to
/// (`None`: by key); refuses a topic that does not exist or lacks the partition.
fn probe(who: &str, spec: &KafkaSinkSpec, config: &ClientConfig, ctx: &Ctx) -> Result<(Prod, Option<i32>), ConnectorError> {
    let probe: Prod = config.create_with_context(ctx.clone()).map_err(|e| creation_error(who, config, e))?;
    let partitions = partitions_of(who, probe.client(), &spec.bootstrap_servers, &spec.topic, spec.connect_timeout.0)?;
    let partition = match spec.partition {
        SinkPartition::Fixed(p) if !partitions.contains(&p) => {
            return Err(fail(who, format!("topic `{}` has no partition {p} (it has {})", spec.topic, partitions.len())));
        }
        SinkPartition::Fixed(p) => Some(p),
        SinkPartition::By(_) => None,
    };
    Ok((probe, partition))
}

/// The sink's state in a checkpoint, read (`None`: nothing to restore).
fn restored_state(who: &str, restore: Option<&serde_json::Value>) -> Result<Option<SinkState>, ConnectorError> {
    match restore {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| fail(who, format!("cannot restore the sink state {v}: {e}"))),
    }
}

impl KafkaSink {
    /// Checks that `spec` could be opened with `restore`: the brokers answer,
    /// the topic (and partition) exist, the state reads. Creates no transaction,
    /// fences nobody, commits nothing.
    pub fn check(spec: &KafkaSinkSpec, restore: Option<&serde_json::Value>) -> Result<(), ConnectorError> {
        let who = format!("kafka sink `{}`", spec.id);
        let ctx = Ctx { error: Arc::new(Mutex::new(None)) };
        probe(&who, spec, &sink_config(spec, 0), &ctx)?;
        if spec.delivery == Delivery::ExactlyOnce {
            restored_state(&who, restore)?;
        }
        Ok(())
    }

    /// Opens subtask 0 of `spec` for `pipeline`; `restore` is the sink's state in
    /// the checkpoint restored from, whose pending transactions are committed here.
    pub fn open(spec: &KafkaSinkSpec, pipeline: &str, restore: Option<&serde_json::Value>) -> Result<KafkaSink, ConnectorError> {
        let who = format!("kafka sink `{}`", spec.id);
        let subtask = 0;
        let timeout = spec.connect_timeout.0;
        let config = sink_config(spec, subtask);
        let error = Arc::new(Mutex::new(None));
        let ctx = Ctx { error: error.clone() };
        let (probe, partition) = probe(&who, spec, &config, &ctx)?;
        let mode = match spec.delivery {
            Delivery::AtLeastOnce => Mode::AtLeastOnce(probe),
            Delivery::ExactlyOnce => {
                drop(probe);
                let prefix = spec.transactional_id_prefix.clone().unwrap_or_else(|| format!("cairn-{pipeline}-{}", spec.id));
                let ids = format!("{prefix}-{subtask}");
                let state = restored_state(&who, restore)?;
                let client = TxnClient::new(&spec.bootstrap_servers, spec.options.get("security.protocol").map(String::as_str), timeout);
                let slots = state.as_ref().map_or(SLOTS, |s| s.slots.max(SLOTS));
                if let Some(s) = &state {
                    for p in &s.pending {
                        finish_pending(&who, &client, p, timeout)?;
                    }
                    if s.transactional_ids != ids {
                        tracing::warn!(sink = %spec.id, old = %s.transactional_ids, new = %ids, "the transactional id prefix changed; the old ids are not fenced");
                    }
                }
                let mut fenced = fence(&who, &config, &ctx, &client, &ids, slots, timeout)?;
                let current = fenced.remove(0);
                let spare = Some(fenced.remove(0));
                drop(fenced);
                current.producer.begin_transaction().map_err(|e| fail(&who, format!("cannot begin a transaction: {e}")))?;
                Mode::ExactlyOnce(Box::new(Txns { ids, config, client, current, pending: Vec::new(), spare }))
            }
        };
        let exit_before_commit = std::env::var("CAIRN_KAFKA_FAULT").is_ok_and(|f| f == "exit-before-commit");
        Ok(KafkaSink { who, topic: spec.topic.clone(), partition, timeout, error, mode, exit_before_commit })
    }

    fn producer(&self) -> &Prod {
        match &self.mode {
            Mode::AtLeastOnce(p) => p,
            Mode::ExactlyOnce(t) => &t.current.producer,
        }
    }

    /// Fails when a record could not be delivered (the transaction cannot commit).
    fn check_delivery(&self) -> Result<(), ConnectorError> {
        match self.error.lock().expect("delivery error").take() {
            Some(e) => Err(fail(&self.who, format!("a record could not be written to topic `{}`: {e}", self.topic))),
            None => Ok(()),
        }
    }

    /// Flushes the open transaction (or the producer); a broker out of reach is
    /// `Unavailable`: the checkpoint fails, the sink goes on.
    fn flush(&self) -> Result<(), ConnectorError> {
        let producer = self.producer();
        match producer.flush(self.timeout) {
            Ok(()) => self.check_delivery(),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => Err(ConnectorError::Unavailable {
                who: self.who.clone(),
                message: format!("records not acknowledged within {} (broker unreachable?)", humantime::format_duration(self.timeout)),
            }),
            Err(e) => Err(fail(&self.who, format!("cannot flush: {e}"))),
        }
    }
}

/// Commits, in the dead producer's name, a transaction that a checkpoint lists
/// as pending, unless the coordinator says it is no longer open.
fn finish_pending(who: &str, client: &TxnClient, p: &Pending, timeout: Duration) -> Result<(), ConnectorError> {
    let id = &p.transactional_id;
    let same = |s: &TxnState| s.producer_id == p.producer_id && s.producer_epoch == p.producer_epoch;
    if p.producer_id < 0 {
        // Written over TLS or SASL, which the recovery client does not speak: the
        // commit normally follows the checkpoint within milliseconds, so assume it did.
        tracing::warn!(
            sink = %who, transactional_id = %id, checkpoint = p.checkpoint,
            "cannot check the transaction of the restored checkpoint over a non-plaintext connection; assuming it was committed (its output is lost if the process died between the checkpoint's completion and its commit)"
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(60);
    loop {
        // A broker just back may not serve yet (no connection, coordinator loading): the
        // restore is retried as a whole by the restart strategy, so give up after `timeout`.
        let state = match client.describe(id) {
            Ok(state) => state,
            Err(e) if started.elapsed() < timeout => {
                tracing::debug!(transactional_id = %id, error = %e, "transaction coordinator not ready; asking again");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => {
                return Err(ConnectorError::Unavailable {
                    who: who.to_string(),
                    message: format!("cannot recover transaction `{id}` of checkpoint {}: {e}", p.checkpoint),
                });
            }
        };
        match state {
            Some(s) if same(&s) && s.state == "Ongoing" => {
                client
                    .end(id, p.producer_id, p.producer_epoch, true)
                    .map_err(|e| fail(who, format!("cannot commit transaction `{id}` of checkpoint {}: {e}", p.checkpoint)))?;
                tracing::info!(event = "recovered", checkpoint = p.checkpoint, transactional_id = %id, "committed the transaction of the restored checkpoint");
            }
            Some(s) if same(&s) && s.state == "PrepareCommit" => {}
            Some(s) if same(&s) && (s.state == "CompleteCommit" || s.state == "Empty") => return Ok(()),
            Some(s)
                if s.producer_id == p.producer_id
                    && (s.state == "CompleteAbort" || s.state == "PrepareAbort")
                    && s.producer_epoch == p.producer_epoch.wrapping_add(1) =>
            {
                return Err(fail(
                    who,
                    format!(
                        "the broker aborted transaction `{id}` of checkpoint {} (its transaction-timeout passed before the job was restored): that checkpoint's output is lost; restore from a later one, or raise `transaction-timeout`",
                        p.checkpoint
                    ),
                ));
            }
            Some(s) if same(&s) => {
                return Err(fail(who, format!("transaction `{id}` of checkpoint {} is {}: its output cannot be committed", p.checkpoint, s.state)));
            }
            // A newer producer of the slot: the transaction was committed before the slot was used again.
            Some(_) => return Ok(()),
            None => {
                tracing::warn!(transactional_id = %id, "transactional id unknown to the broker (expired?); assuming its transaction was committed");
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(fail(who, format!("transaction `{id}` of checkpoint {} did not finish committing within 60s", p.checkpoint)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A producer for `slot`, initialised (which aborts the slot's open transaction
/// and fences its older producers), with its id and epoch.
fn new_txn(who: &str, config: &ClientConfig, ctx: &Ctx, client: &TxnClient, ids: &str, slot: usize, timeout: Duration) -> Result<Txn, ConnectorError> {
    let id = format!("{ids}-{slot}");
    let mut cfg = config.clone();
    cfg.set("transactional.id", &id);
    let producer: Prod = cfg.create_with_context(ctx.clone()).map_err(|e| creation_error(who, &cfg, e))?;
    producer.init_transactions(timeout).map_err(|e| match e {
        KafkaError::Transaction(ref t) if t.code() == RDKafkaErrorCode::OperationTimedOut => ConnectorError::Unavailable {
            who: who.to_string(),
            message: format!("cannot initialise transactions for `{id}` within {}: {e}", humantime::format_duration(timeout)),
        },
        KafkaError::Transaction(ref t) if t.is_fatal() => fail(who, format!("cannot initialise transactions for `{id}`: {e}")),
        e => ConnectorError::Unavailable { who: who.to_string(), message: format!("cannot initialise transactions for `{id}`: {e}") },
    })?;
    if !client.supported() {
        // Unknown producer id: a crash in this transaction's commit phase cannot be finished (see `finish_pending`).
        return Ok(Txn { slot, producer, producer_id: -1, epoch: -1 });
    }
    let unavailable = |message: String| ConnectorError::Unavailable { who: who.to_string(), message };
    let state = client.describe(&id).map_err(|e| unavailable(format!("cannot read the producer id of `{id}`: {e}")))?;
    let s = state.ok_or_else(|| fail(who, format!("the broker does not know transactional id `{id}` after initialising it")))?;
    Ok(Txn { slot, producer, producer_id: s.producer_id, epoch: s.producer_epoch })
}

/// Initialises every slot at once; returns their producers, by slot.
fn fence(who: &str, config: &ClientConfig, ctx: &Ctx, client: &TxnClient, ids: &str, slots: usize, timeout: Duration) -> Result<Vec<Txn>, ConnectorError> {
    let results: Vec<Result<Txn, ConnectorError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..slots).map(|slot| s.spawn(move || new_txn(who, config, ctx, client, ids, slot, timeout))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(fail(who, "fencing thread panicked".into())))).collect()
    });
    results.into_iter().collect()
}

impl Sink for KafkaSink {
    fn write(&mut self, batch: &Batch) -> Result<(), ConnectorError> {
        let producer = self.producer();
        for ev in batch.iter() {
            let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(&self.topic).payload(ev.value).timestamp(ev.timestamp);
            if let Some(k) = ev.key {
                record = record.key(k);
            }
            if let Some(p) = self.partition {
                record = record.partition(p);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(fail(&self.who, format!("cannot write to topic `{}`: {e}", self.topic))),
                }
            }
        }
        producer.poll(Duration::ZERO);
        self.check_delivery()
    }

    fn snapshot(&mut self, id: u64) -> Result<serde_json::Value, ConnectorError> {
        let _span = tracing::debug_span!("pre-commit", checkpoint = id).entered();
        self.flush()?;
        let (who, timeout) = (self.who.clone(), self.timeout);
        let Mode::ExactlyOnce(t) = &mut self.mode else { return Ok(serde_json::Value::Null) };
        let busy: Vec<usize> = t.pending.iter().map(|(_, x)| x.slot).chain([t.current.slot]).collect();
        let next = match t.spare.take() {
            Some(s) if !busy.contains(&s.slot) => s,
            _ => {
                let Some(slot) = (0..SLOTS).find(|s| !busy.contains(s)) else {
                    return Err(ConnectorError::Unavailable { who, message: format!("all {SLOTS} transactions await the completion of a checkpoint") });
                };
                let ctx = Ctx { error: self.error.clone() };
                new_txn(&who, &t.config, &ctx, &t.client, &t.ids, slot, timeout)?
            }
        };
        next.producer.begin_transaction().map_err(|e| fail(&who, format!("cannot begin a transaction: {e}")))?;
        let done = std::mem::replace(&mut t.current, next);
        t.pending.push((id, done));
        let pending = t
            .pending
            .iter()
            .map(|(c, x)| Pending { checkpoint: *c, transactional_id: format!("{}-{}", t.ids, x.slot), producer_id: x.producer_id, producer_epoch: x.epoch })
            .collect();
        Ok(serde_json::to_value(SinkState { transactional_ids: t.ids.clone(), slots: SLOTS, pending }).expect("state serializes"))
    }

    fn commit(&mut self, id: u64) -> Result<(), ConnectorError> {
        let (who, timeout) = (self.who.clone(), self.timeout);
        if self.exit_before_commit {
            tracing::warn!(checkpoint = id, "CAIRN_KAFKA_FAULT=exit-before-commit: exiting before the commit");
            std::process::exit(3);
        }
        let Mode::ExactlyOnce(t) = &mut self.mode else { return Ok(()) };
        let _span = tracing::debug_span!("commit", checkpoint = id).entered();
        while let Some((c, txn)) = t.pending.first().filter(|(c, _)| *c <= id) {
            match txn.producer.commit_transaction(timeout) {
                Ok(()) => {}
                // The broker is away: librdkafka lets the commit be retried, which the
                // task does (the transaction stays pending here until it is committed).
                Err(KafkaError::Transaction(e)) if e.is_retriable() => {
                    return Err(ConnectorError::Unavailable {
                        who,
                        message: format!("the commit of checkpoint {c} was not acknowledged within {}: {e}", humantime::format_duration(timeout)),
                    });
                }
                Err(e) => return Err(fail(&who, format!("cannot commit the transaction of checkpoint {c}: {e}"))),
            }
            let (_, txn) = t.pending.remove(0);
            let slot = txn.slot;
            drop(txn);
            if t.spare.is_none() {
                // The next barrier's transaction, ready before it is needed.
                let ctx = Ctx { error: self.error.clone() };
                match new_txn(&who, &t.config, &ctx, &t.client, &t.ids, slot, timeout) {
                    Ok(s) => t.spare = Some(s),
                    Err(e) => tracing::warn!(sink = %who, error = %e, "cannot prepare the next transaction yet"),
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        // Uncommitted output stays uncommitted: the open transaction is aborted
        // by the next run's fencing (or the broker's timeout).
        if let Mode::AtLeastOnce(p) = &self.mode {
            let _ = p.flush(self.timeout);
        }
        Ok(())
    }
}
