//! Which partitions a source subtask reads, and the position it records: the
//! next offset of each of its partitions (and, for a bounded source, where each
//! ends). The checkpoint holds the union over the subtasks, so a restore at any
//! parallelism finds every partition's offset whichever subtask read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One partition of one topic.
pub(super) type TopicPartition = (String, i32);

/// The partitions of subtask `subtask` of `parallelism`: of all partitions, sorted
/// by topic and number, every `parallelism`-th from the `subtask`-th.
pub(super) fn assigned(all: &[TopicPartition], subtask: usize, parallelism: usize) -> Vec<TopicPartition> {
    let mut all = all.to_vec();
    all.sort();
    all.into_iter().enumerate().filter(|(i, _)| i % parallelism.max(1) == subtask).map(|(_, tp)| tp).collect()
}

/// Offsets by topic, then by partition number (as text: JSON object keys).
pub(super) type OffsetMap = BTreeMap<String, BTreeMap<String, i64>>;

/// A source subtask's position in a checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct Position {
    /// The next offset to read, per partition.
    #[serde(default)]
    pub offsets: OffsetMap,
    /// Bounded sources: the offset each partition ends before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub end: OffsetMap,
}

impl Position {
    /// The recorded offset of a partition in `map`.
    pub(super) fn get(map: &OffsetMap, tp: &TopicPartition) -> Option<i64> {
        map.get(&tp.0).and_then(|m| m.get(&tp.1.to_string())).copied()
    }

    /// Records `offset` for a partition in `map`.
    pub(super) fn set(map: &mut OffsetMap, tp: &TopicPartition, offset: i64) {
        map.entry(tp.0.clone()).or_default().insert(tp.1.to_string(), offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tps(n: i32) -> Vec<TopicPartition> {
        (0..n).map(|p| ("t".to_string(), p)).collect()
    }

    #[test]
    fn every_partition_goes_to_exactly_one_subtask() {
        for parallelism in 1..6 {
            let mut seen: Vec<TopicPartition> = (0..parallelism).flat_map(|s| assigned(&tps(4), s, parallelism)).collect();
            seen.sort();
            assert_eq!(seen, tps(4), "parallelism {parallelism}");
        }
        assert_eq!(assigned(&tps(4), 1, 2), vec![("t".into(), 1), ("t".into(), 3)]);
        assert!(assigned(&tps(2), 3, 4).is_empty());
    }

    #[test]
    fn positions_round_trip_as_json() {
        let mut p = Position::default();
        Position::set(&mut p.offsets, &("t".into(), 3), 17);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v, serde_json::json!({"offsets": {"t": {"3": 17}}}));
        let back: Position = serde_json::from_value(v).unwrap();
        assert_eq!(Position::get(&back.offsets, &("t".into(), 3)), Some(17));
    }
}
