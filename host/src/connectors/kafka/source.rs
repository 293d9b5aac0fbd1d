//! The Kafka source: one subtask reads its share of the partitions with a
//! manually assigned consumer (no consumer-group rebalancing), and its position
//! is the next offset of each of them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::assign::{Position, TopicPartition, assigned};
use super::watermarks::Watermarks;
use super::{client_config, creation_error, fail, partitions_of};
use crate::connectors::{ConnectorError, Pacer, Source};
use crate::dataflow::batch::Batch;
use crate::spec::{KafkaSourceSpec, OnMalformed, StartPosition};

/// How long one read waits for records when none are buffered.
const POLL_WAIT: Duration = Duration::from_millis(20);

/// One partition this subtask reads.
#[derive(Debug)]
struct Part {
    tp: TopicPartition,
    /// The next offset to read.
    next: i64,
    /// Bounded: the offset it ends before.
    end: Option<i64>,
}

impl Part {
    fn done(&self) -> bool {
        self.end.is_some_and(|e| self.next >= e)
    }
}

/// One subtask of a `type: kafka` source.
pub struct KafkaSource {
    who: String,
    spec: KafkaSourceSpec,
    consumer: BaseConsumer<Quiet>,
    parts: Vec<Part>,
    /// Index into `parts` by topic, then partition number.
    index: BTreeMap<String, BTreeMap<i32, usize>>,
    watermarks: Watermarks,
    malformed: u64,
    pacer: Pacer,
    read: u64,
    /// The last transient client error, logged once until it changes.
    last_warning: Option<String>,
}

impl KafkaSource {
    /// Opens subtask `subtask` of `spec`: checks the brokers and topics, and
    /// assigns its partitions at `position` (a checkpoint's union of positions)
    /// or, for partitions it does not name, at the spec's start position.
    pub fn open(spec: &KafkaSourceSpec, subtask: usize, position: Option<&serde_json::Value>) -> Result<KafkaSource, ConnectorError> {
        let who = format!("kafka source `{}`", spec.id);
        let isolation = ("isolation.level", "read_committed".to_string());
        let mut defaults = vec![
            isolation,
            ("enable.auto.commit", "false".into()),
            ("enable.auto.offset.store", "false".into()),
            ("enable.partition.eof", "true".into()),
            ("auto.offset.reset", "error".into()),
            ("client.id", format!("cairn-{}-{subtask}", spec.id)),
        ];
        // librdkafka wants a group even for assigned partitions; offsets are only
        // committed to it when `group-id` asks for it.
        defaults.push(("group.id", spec.group_id.clone().unwrap_or_else(|| format!("cairn-{}", spec.id))));
        let config = client_config(&spec.bootstrap_servers, &spec.options, &defaults);
        let consumer: BaseConsumer<Quiet> = config.create_with_context(Quiet).map_err(|e| creation_error(&who, &config, e))?;
        let timeout = spec.connect_timeout.0;
        let mut all = Vec::new();
        for topic in spec.topic.names() {
            for p in partitions_of(&who, consumer.client(), &spec.bootstrap_servers, topic, timeout)? {
                all.push((topic.to_string(), p));
            }
        }
        let restored: Option<Position> = match position {
            None => None,
            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| fail(&who, format!("cannot restore the position {v}: {e}")))?),
        };
        let mine = assigned(&all, subtask, spec.parallelism);
        let mut parts = Vec::with_capacity(mine.len());
        for tp in mine {
            let watermarks = |c: &BaseConsumer<Quiet>| {
                c.fetch_watermarks(&tp.0, tp.1, timeout).map_err(|e| fail(&who, format!("cannot read the offsets of {}/{}: {e}", tp.0, tp.1)))
            };
            let next = match restored.as_ref().map(|r| Position::get(&r.offsets, &tp)) {
                Some(Some(o)) => o,
                // A partition the checkpoint does not know was added since: all of it.
                Some(None) => watermarks(&consumer)?.0,
                None => match spec.start {
                    StartPosition::Earliest => watermarks(&consumer)?.0,
                    StartPosition::Latest => watermarks(&consumer)?.1,
                    StartPosition::Timestamp(ts) => {
                        let mut q = TopicPartitionList::new();
                        q.add_partition_offset(&tp.0, tp.1, Offset::Offset(ts)).map_err(|e| fail(&who, e.to_string()))?;
                        let r = consumer.offsets_for_times(q, timeout).map_err(|e| fail(&who, format!("cannot look up offsets by time: {e}")))?;
                        match r.find_partition(&tp.0, tp.1).map(|e| e.offset()) {
                            Some(Offset::Offset(o)) => o,
                            // No record that late: start at the end.
                            _ => watermarks(&consumer)?.1,
                        }
                    }
                },
            };
            let end = match (&spec.stop_at, restored.as_ref()) {
                (None, _) => None,
                (Some(_), Some(r)) if Position::get(&r.end, &tp).is_some() => Position::get(&r.end, &tp),
                (Some(_), _) => Some(watermarks(&consumer)?.1),
            };
            parts.push(Part { tp, next, end });
        }
        let mut index: BTreeMap<String, BTreeMap<i32, usize>> = BTreeMap::new();
        for (i, p) in parts.iter().enumerate() {
            index.entry(p.tp.0.clone()).or_default().insert(p.tp.1, i);
        }
        let idle = spec.idle_timeout.0;
        let mut watermarks = Watermarks::new(parts.len(), spec.out_of_orderness.0.as_millis() as i64, idle, Instant::now());
        for (i, p) in parts.iter().enumerate() {
            if p.done() {
                watermarks.end(i);
            }
        }
        let source = KafkaSource {
            who,
            spec: spec.clone(),
            consumer,
            parts,
            index,
            watermarks,
            malformed: 0,
            pacer: Pacer::new(spec.rate),
            read: 0,
            last_warning: None,
        };
        source.assign()?;
        tracing::info!(source = %spec.id, subtask, partitions = ?source.parts.iter().map(|p| format!("{}/{}@{}", p.tp.0, p.tp.1, p.next)).collect::<Vec<_>>(), "kafka partitions assigned");
        Ok(source)
    }

    /// Assigns the partitions that have not ended, each at its next offset.
    fn assign(&self) -> Result<(), ConnectorError> {
        let mut tpl = TopicPartitionList::new();
        for p in self.parts.iter().filter(|p| !p.done()) {
            tpl.add_partition_offset(&p.tp.0, p.tp.1, Offset::Offset(p.next)).map_err(|e| fail(&self.who, e.to_string()))?;
        }
        self.consumer.assign(&tpl).map_err(|e| fail(&self.who, format!("cannot assign partitions: {e}")))
    }

    fn event_time(&self, value: Option<&[u8]>, record_ts: Option<i64>, tp: &TopicPartition, offset: i64) -> Result<i64, String> {
        let Some(field) = &self.spec.timestamp_field else {
            return Ok(record_ts.unwrap_or(0));
        };
        let v: serde_json::Value =
            serde_json::from_slice(value.unwrap_or_default()).map_err(|e| format!("record {}/{}@{offset} is not JSON: {e}", tp.0, tp.1))?;
        v.get(field).and_then(|t| t.as_i64()).ok_or_else(|| format!("record {}/{}@{offset} has no integer field `{field}` (ms since the epoch)", tp.0, tp.1))
    }

    /// A consumer error: the ones that cannot heal fail the source, the rest
    /// (a broker down, a leader moving) are logged once and retried by librdkafka.
    fn consumer_error(&mut self, e: KafkaError) -> Result<(), ConnectorError> {
        match e {
            KafkaError::PartitionEOF(p) => {
                let positions = self.consumer.position().ok();
                for part in self.parts.iter_mut().filter(|x| x.tp.1 == p) {
                    // At the end of the partition: past any trailing transaction markers too.
                    if let Some(Offset::Offset(o)) = positions.as_ref().and_then(|l| l.find_partition(&part.tp.0, p)).map(|e| e.offset()) {
                        part.next = part.next.max(o);
                    }
                    if let Some(end) = part.end.filter(|&e| part.next < e) {
                        // At the end of what is readable, and the readable end has not
                        // moved since the start: what lies before `end` are markers.
                        if let Ok((_, high)) = self.consumer.fetch_watermarks(&part.tp.0, p, Duration::from_secs(1))
                            && high <= end
                        {
                            part.next = end;
                        }
                    }
                }
                Ok(())
            }
            KafkaError::MessageConsumption(
                code @ (RDKafkaErrorCode::AutoOffsetReset
                | RDKafkaErrorCode::OffsetOutOfRange
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::Fatal),
            ) => Err(fail(&self.who, format!("cannot read: {code} (a checkpointed offset no longer in the topic is lost to retention)"))),
            other => {
                let text = other.to_string();
                if self.last_warning.as_deref() != Some(&text) {
                    tracing::warn!(source = %self.spec.id, error = %text, "kafka client error; retrying");
                    self.last_warning = Some(text);
                }
                Ok(())
            }
        }
    }
}

/// The consumer's context: the client's errors go to the log, except the end
/// of a partition, which is no error (the source reads it from its poll).
pub(super) struct Quiet;

impl ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(error, KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::error!(target: "librdkafka", "librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for Quiet {}

impl Source for KafkaSource {
    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, ConnectorError> {
        if self.spec.stop_at.is_some() && self.parts.iter().all(Part::done) {
            return Ok(None);
        }
        let max = self.pacer.admit(self.read, max);
        let mut out = Batch::with_capacity(max.min(4096), max.min(4096) * 64);
        let mut wait = POLL_WAIT;
        while out.len() < max {
            let Some(polled) = self.consumer.poll(wait) else { break };
            wait = Duration::ZERO;
            let msg = match polled {
                Ok(m) => m,
                Err(e) => {
                    self.consumer_error(e)?;
                    continue;
                }
            };
            let Some(&i) = self.index.get(msg.topic()).and_then(|m| m.get(&msg.partition())) else { continue };
            let offset = msg.offset();
            let part = &self.parts[i];
            if part.done() || offset < part.next {
                continue;
            }
            if part.end.is_some_and(|e| offset >= e) {
                self.parts[i].next = part.end.unwrap_or(offset);
                self.watermarks.end(i);
                continue;
            }
            let ts = self.event_time(msg.payload(), msg.timestamp().to_millis(), &part.tp, offset);
            let now = Instant::now();
            match ts {
                Ok(ts) => {
                    out.push(msg.key(), msg.payload().unwrap_or_default(), ts);
                    self.watermarks.observe(i, ts, now);
                }
                Err(m) if self.spec.on_malformed == OnMalformed::Fail => return Err(fail(&self.who, m)),
                Err(_) => self.malformed += 1,
            }
            self.parts[i].next = offset + 1;
            if self.parts[i].done() {
                self.watermarks.end(i);
            }
        }
        self.read += out.len() as u64;
        for (i, p) in self.parts.iter().enumerate() {
            if p.done() {
                self.watermarks.end(i);
            }
        }
        Ok(Some(out))
    }

    fn watermark(&self) -> Option<i64> {
        if self.parts.is_empty() {
            // No partition to read: this subtask holds no one back.
            return Some(crate::dataflow::message::FINAL_WATERMARK);
        }
        self.watermarks.current(Instant::now())
    }

    fn malformed(&self) -> u64 {
        self.malformed
    }

    fn position(&self) -> serde_json::Value {
        let mut pos = Position::default();
        for p in &self.parts {
            Position::set(&mut pos.offsets, &p.tp, p.next);
            if let Some(e) = p.end {
                Position::set(&mut pos.end, &p.tp, e);
            }
        }
        if self.spec.group_id.is_some() && !self.parts.is_empty() {
            // For monitoring only (lag in the group's tools); restores use the checkpoint.
            let mut tpl = TopicPartitionList::new();
            for p in &self.parts {
                let _ = tpl.add_partition_offset(&p.tp.0, p.tp.1, Offset::Offset(p.next));
            }
            if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
                tracing::debug!(source = %self.spec.id, error = %e, "cannot commit offsets to the consumer group");
            }
        }
        serde_json::to_value(pos).expect("position serializes")
    }

    fn seek(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        let pos: Position = serde_json::from_value(position.clone()).map_err(|e| fail(&self.who, format!("cannot restore the position {position}: {e}")))?;
        for p in &mut self.parts {
            if let Some(o) = Position::get(&pos.offsets, &p.tp) {
                p.next = o;
            }
            if let Some(e) = Position::get(&pos.end, &p.tp) {
                p.end = Some(e);
            }
        }
        self.assign()
    }

    fn out_of_orderness_ms(&self) -> i64 {
        self.spec.out_of_orderness.0.as_millis() as i64
    }
}
