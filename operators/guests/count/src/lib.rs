//! `count`: running count of events per key.
//!
//! For each input event, increments its key's count (keyless events count
//! under the empty key) and emits an event with the same key and timestamp
//! whose value is the new count in decimal ASCII. State: the counts
//! (`KeyedState<u64>`, version 1), which rescales. No config.

use cairn_guest::export_operator;

mod count;
use count::Count;

export_operator!(Count);

#[cfg(test)]
mod tests {
    use cairn_guest::{Events, Output, runtime::Instance};

    #[test]
    fn counts_per_key_and_restores() {
        let mut op = Instance::<super::Count>::new();
        op.init("null").unwrap();
        let mut input = Output::new();
        for (key, ts) in [(Some(&b"a"[..]), 1), (None, 2), (Some(b"a"), 3), (Some(b""), 4)] {
            input.emit(key, b"x", ts);
        }
        let input = input.into_batch();
        let out = op.process(&input).unwrap();
        let got: Vec<_> = Events::new(&out).unwrap().map(|e| (e.key, e.value, e.timestamp)).collect();
        let expected: [(Option<&[u8]>, &[u8], i64); 4] = [(Some(b"a"), b"1", 1), (None, b"1", 2), (Some(b"a"), b"2", 3), (Some(b""), b"2", 4)];
        assert_eq!(got, expected);

        let info = op.snapshot().unwrap();
        let bytes = op.snapshot_read(u32::MAX);
        let mut again = Instance::<super::Count>::new();
        again.init("").unwrap();
        again.restore(&info).unwrap();
        again.restore_write(&bytes).unwrap();
        again.restore_finish().unwrap();
        let out = again.process(&input).unwrap();
        let values: Vec<_> = Events::new(&out).unwrap().map(|e| e.value).collect();
        assert_eq!(values, [b"3", b"3", b"4", b"4"]);
    }
}
