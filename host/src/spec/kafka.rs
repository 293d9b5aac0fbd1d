//! `type: kafka` sources and sinks in pipeline.yaml, and their checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{HumanDuration, Inputs, OnMalformed, Timeout};

/// One topic or several.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Topics {
    /// `topic: bids`
    One(String),
    /// `topic: [bids, asks]`
    Many(Vec<String>),
}

impl Topics {
    /// The topic names, in order.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Topics::One(s) => vec![s.as_str()],
            Topics::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Where a Kafka source starts reading a partition that no checkpoint has a position for.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StartPosition {
    /// The oldest record still in the partition.
    #[default]
    Earliest,
    /// The end of the partition when the job first starts: only new records.
    Latest,
    /// The first record with a timestamp at or after this many ms since the epoch.
    Timestamp(i64),
}

/// Where a bounded Kafka source ends.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StopAt {
    /// The end of each partition when the job first started (recorded in
    /// checkpoints, so a restore stops at the same offsets).
    Latest,
}

/// `type: kafka` source: the records of one or more topics, partitions spread over its subtasks.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KafkaSourceSpec {
    /// Stable id.
    pub id: String,
    /// `host:port[,host:port…]` of the brokers.
    pub bootstrap_servers: String,
    /// The topic or topics to read.
    pub topic: Topics,
    /// Subtasks; partition `i` (of all topics' partitions, sorted) goes to subtask `i mod parallelism`.
    #[serde(default = "one")]
    pub parallelism: usize,
    /// Where to begin a partition that the restored checkpoint (if any) has no position for.
    #[serde(default)]
    pub start: StartPosition,
    /// Absent: unbounded. `latest`: end at the partitions' end offsets when first started.
    #[serde(default)]
    pub stop_at: Option<StopAt>,
    /// Event time from this integer field (ms since the epoch) of the JSON value;
    /// absent: the record's timestamp.
    #[serde(default)]
    pub timestamp_field: Option<String>,
    /// Records per second per subtask at most (tests, demos); absent: as fast as possible.
    #[serde(default)]
    pub rate: Option<u64>,
    /// How late (in event time) a record may arrive behind the latest one of its partition.
    #[serde(default)]
    pub out_of_orderness: HumanDuration,
    /// A partition with no record for this long does not hold back the watermark. `none`: it always does.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Timeout,
    /// Commit the checkpointed offsets to this consumer group, for monitoring (lag)
    /// only: they are never read back, restores use the checkpoint.
    #[serde(default)]
    pub group_id: Option<String>,
    /// How long to wait for the brokers when the job starts.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// A record whose value is not JSON with the timestamp field: `fail` or `skip`.
    #[serde(default)]
    pub on_malformed: OnMalformed,
    /// Client options passed to librdkafka as they are (security settings,
    /// `isolation.level`, `fetch.max.bytes`, …).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// How a Kafka sink delivers.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Kafka transactions committed with the checkpoints (read with `isolation.level=read_committed`).
    #[default]
    ExactlyOnce,
    /// Flushed at every checkpoint barrier, no transactions: a restore repeats what was written since.
    AtLeastOnce,
}

/// Which partition a Kafka sink writes an event to.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SinkPartition {
    /// Always this partition.
    Fixed(i32),
    /// `key-hash`: murmur2 of the event key, as Java clients do (keyless events spread at random).
    By(PartitionBy),
}

/// Partitioning by a property of the event.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionBy {
    /// Hash of the event key.
    KeyHash,
}

impl Default for SinkPartition {
    fn default() -> Self {
        SinkPartition::By(PartitionBy::KeyHash)
    }
}

/// `type: kafka` sink: events as records of one topic.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KafkaSinkSpec {
    /// Stable id.
    pub id: String,
    /// Upstream id(s).
    pub input: Inputs,
    /// `host:port[,host:port…]` of the brokers.
    pub bootstrap_servers: String,
    /// The topic written.
    pub topic: String,
    /// `exactly-once` (default) or `at-least-once`.
    #[serde(default)]
    pub delivery: Delivery,
    /// `key-hash` (default) or a partition number.
    #[serde(default)]
    pub partition: SinkPartition,
    /// Prefix of the transactional ids (default `cairn-<pipeline>-<sink id>`); the
    /// ids are `<prefix>-<subtask>-<slot>`. Two jobs must never share a prefix.
    #[serde(default)]
    pub transactional_id_prefix: Option<String>,
    /// How long the broker keeps an open transaction before aborting it: the
    /// longest a crashed job may stay down and still commit its last checkpoint's output.
    #[serde(default = "default_transaction_timeout")]
    pub transaction_timeout: HumanDuration,
    /// How long to wait for the brokers when the job starts.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Client options passed to librdkafka as they are.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

fn one() -> usize {
    1
}
fn default_idle_timeout() -> Timeout {
    Timeout(Some(std::time::Duration::from_secs(10)))
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn default_transaction_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(15 * 60))
}

/// Checks what serde cannot: returns the message for the offending connector.
pub(super) fn check_source(s: &KafkaSourceSpec) -> Result<(), String> {
    let id = &s.id;
    if s.bootstrap_servers.trim().is_empty() {
        return Err(format!("source `{id}`: `bootstrap-servers` is empty"));
    }
    if s.topic.names().is_empty() || s.topic.names().iter().any(|t| t.trim().is_empty()) {
        return Err(format!("source `{id}`: `topic` needs at least one non-empty topic name"));
    }
    if s.parallelism == 0 {
        return Err(format!("source `{id}`: `parallelism` must be at least 1"));
    }
    if matches!(s.on_malformed, OnMalformed::DeadLetter(_)) {
        return Err(format!("source `{id}`: `on-malformed` of a kafka source is `fail` or `skip`"));
    }
    check_options(&format!("source `{id}`"), &s.options, &["bootstrap.servers", "enable.auto.commit", "group.id"])
}

/// Checks a Kafka sink.
pub(super) fn check_sink(s: &KafkaSinkSpec) -> Result<(), String> {
    let id = &s.id;
    if s.bootstrap_servers.trim().is_empty() {
        return Err(format!("sink `{id}`: `bootstrap-servers` is empty"));
    }
    if s.topic.trim().is_empty() {
        return Err(format!("sink `{id}`: `topic` is empty"));
    }
    if matches!(s.partition, SinkPartition::Fixed(p) if p < 0) {
        return Err(format!("sink `{id}`: `partition` must be `key-hash` or a partition number (0 or more)"));
    }
    if s.transaction_timeout.0.as_millis() < 1000 {
        return Err(format!("sink `{id}`: `transaction-timeout` must be at least 1s"));
    }
    check_options(&format!("sink `{id}`"), &s.options, &["bootstrap.servers", "transactional.id", "enable.idempotence"])
}

/// Options the connector sets itself cannot be given in `options`.
fn check_options(who: &str, options: &BTreeMap<String, String>, owned: &[&str]) -> Result<(), String> {
    for key in options.keys() {
        if owned.contains(&key.as_str()) {
            return Err(format!("{who}: option `{key}` is set by Cairn (use the connector's own field, or none)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::{Pipeline, SinkSpec, SourceSpec};

    use super::*;

    fn pipeline(source: &str, sink: &str) -> Result<Pipeline, String> {
        let text = format!(
            "name: k\nsources:\n  - id: in\n    type: kafka\n    bootstrap-servers: 127.0.0.1:9092\n{source}sinks:\n  - id: out\n    type: kafka\n    input: in\n    bootstrap-servers: 127.0.0.1:9092\n    topic: o\n{sink}"
        );
        Pipeline::parse(&text, Path::new("p.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_kafka_pipeline_parses_with_its_defaults() {
        let p =
            pipeline("    topic: [a, b]\n    parallelism: 3\n    start: { timestamp: 1700000000000 }\n    stop-at: latest\n", "    partition: 2\n").unwrap();
        let SourceSpec::Kafka(s) = &p.spec.sources[0] else { panic!() };
        assert_eq!(
            (s.topic.names(), s.parallelism, s.start, s.stop_at),
            (vec!["a", "b"], 3, StartPosition::Timestamp(1_700_000_000_000), Some(StopAt::Latest))
        );
        assert_eq!(p.spec.sources[0].parallelism(), 3);
        let SinkSpec::Kafka(k) = &p.spec.sinks[0] else { panic!() };
        assert_eq!((k.delivery, k.partition), (Delivery::ExactlyOnce, SinkPartition::Fixed(2)));
        let p = pipeline("    topic: a\n", "    partition: key-hash\n    delivery: at-least-once\n").unwrap();
        let SinkSpec::Kafka(k) = &p.spec.sinks[0] else { panic!() };
        assert_eq!((k.delivery, k.partition), (Delivery::AtLeastOnce, SinkPartition::By(PartitionBy::KeyHash)));
        assert_eq!(p.spec.sources[0].parallelism(), 1);
    }

    #[test]
    fn bad_kafka_fields_name_the_connector() {
        let e = pipeline("    topic: a\n    parallelism: 0\n", "").unwrap_err();
        assert!(e.contains("source `in`") && e.contains("parallelism"), "{e}");
        let e = pipeline("    topic: a\n    options: { group.id: x }\n", "").unwrap_err();
        assert!(e.contains("source `in`") && e.contains("group.id"), "{e}");
        let e = pipeline("    topic: a\n", "    options: { transactional.id: x }\n").unwrap_err();
        assert!(e.contains("sink `out`") && e.contains("transactional.id"), "{e}");
        let e = pipeline("    topic: a\n    start: yesterday\n", "").unwrap_err();
        assert!(e.contains("yesterday") || e.contains("start"), "{e}");
        let e = pipeline("    topic: a\n    topics: b\n", "").unwrap_err();
        assert!(e.contains("topics"), "{e}");
        let e = pipeline("    topic: a\n", "    partition: -1\n").unwrap_err();
        assert!(e.contains("partition"), "{e}");
    }
}
