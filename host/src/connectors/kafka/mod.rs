//! `type: kafka`: a partitioned source whose positions are the next offset of
//! each partition, and a sink that commits a Kafka transaction per checkpoint.
//! Both use librdkafka (through `rdkafka`), so they work against any broker that
//! speaks the Kafka protocol.

mod assign;
mod protocol;
mod sink;
mod source;
mod watermarks;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::ConnectorError;
use crate::spec::{REDACTED, Secrets, is_secret};

pub use sink::KafkaSink;
pub use source::KafkaSource;

/// A client configuration: the bootstrap servers, then the user's options, then
/// what the connector sets unless the user did (`defaults`).
fn client_config(bootstrap: &str, options: &BTreeMap<String, String>, defaults: &[(&str, String)]) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    for (k, v) in options {
        cfg.set(k, v);
    }
    for (k, v) in defaults {
        if !options.contains_key(*k) {
            cfg.set(*k, v);
        }
    }
    // librdkafka's own log goes to our log at its level; no per-event lines.
    cfg.set_log_level(rdkafka::config::RDKafkaLogLevel::Warning);
    cfg
}

/// The error for connector `who` (e.g. "kafka source `in`").
fn fail(who: &str, message: String) -> ConnectorError {
    ConnectorError::Kafka { who: who.to_string(), message }
}

/// Why a client could not be created: almost always a bad option. The
/// client's messages echo option values back: secret ones are scrubbed.
fn creation_error(who: &str, config: &ClientConfig, e: KafkaError) -> ConnectorError {
    let named = config.config_map().into_iter().filter(|(k, _)| is_secret(k)).map(|(_, v)| v.to_string());
    let secrets = Secrets::from_values(named.collect());
    let message = match e {
        KafkaError::ClientCreation(m) => format!("bad client option: {m}"),
        KafkaError::ClientConfig(_, description, key, value) => {
            let value = if is_secret(&key) { REDACTED.to_string() } else { value };
            format!("bad client option `{key}: {value}`: {description}")
        }
        other => format!("cannot create the Kafka client: {other}"),
    };
    fail(who, secrets.scrub(&message))
}

/// The partitions of `topic`, sorted; fails with a clear cause when the brokers
/// cannot be reached within `timeout` or the topic does not exist.
fn partitions_of<C: ClientContext>(who: &str, client: &Client<C>, bootstrap: &str, topic: &str, timeout: Duration) -> Result<Vec<i32>, ConnectorError> {
    let md = client.fetch_metadata(Some(topic), timeout).map_err(|e| match e {
        KafkaError::MetadataFetch(RDKafkaErrorCode::OperationTimedOut | RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown) => {
            ConnectorError::Unavailable {
                who: who.to_string(),
                message: format!("cannot reach the Kafka brokers at `{bootstrap}` within {} ({e})", humantime::format_duration(timeout)),
            }
        }
        other => fail(who, format!("cannot read the metadata of topic `{topic}` from `{bootstrap}`: {other}")),
    })?;
    let t = md.topics().iter().find(|t| t.name() == topic).ok_or_else(|| fail(who, format!("topic `{topic}` does not exist")))?;
    match t.error() {
        None => {}
        Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition || RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopic => {
            return Err(fail(who, format!("topic `{topic}` does not exist on `{bootstrap}`")));
        }
        Some(e) => return Err(fail(who, format!("topic `{topic}`: {}", RDKafkaErrorCode::from(e)))),
    }
    if t.partitions().is_empty() {
        return Err(fail(who, format!("topic `{topic}` does not exist on `{bootstrap}` (it has no partitions)")));
    }
    let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    ps.sort_unstable();
    Ok(ps)
}
