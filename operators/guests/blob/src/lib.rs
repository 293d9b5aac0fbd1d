//! `blob`: a test and benchmark operator whose state is one block of bytes of
//! a configured size, for measuring (and proving) state of any size — up to
//! 1 GiB and beyond — crossing the boundary in pieces.
//!
//! Config: `{ size: <bytes>, touch: <bool> }`. The first call that sees an
//! empty state fills it with `size` bytes (a fixed pattern); events pass
//! through unchanged. With `touch: true` every batch also changes one byte of
//! the blob (the next one each time), so that no two checkpoints hold the same state. At the
//! final watermark the blob's length and checksum are emitted (key `blob`), so a
//! test can tell that a restored state is the saved one.

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    size: u64,
    #[serde(default)]
    touch: bool,
}

/// The state: bytes serialized as one byte string (a bulk copy, not a sequence).
#[derive(Serialize, Deserialize, Default)]
struct Blob(#[serde(with = "serde_bytes")] Vec<u8>);

struct BlobOp {
    size: usize,
    touch: bool,
    touched: usize,
}

impl BlobOp {
    fn fill(&self, state: &mut Blob) {
        if state.0.is_empty() && self.size > 0 {
            state.0 = (0..self.size).map(|i| (i as u64).wrapping_mul(2654435761) as u8 ^ (i >> 20) as u8).collect();
        }
    }
}

impl Operator for BlobOp {
    type Config = Config;
    type State = Blob;

    fn init(config: Config) -> Result<Self, Error> {
        let size = usize::try_from(config.size).map_err(|_| "size too large for a 32-bit guest".to_string())?;
        Ok(BlobOp { size, touch: config.touch, touched: 0 })
    }

    fn process(&mut self, state: &mut Blob, input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        self.fill(state);
        if self.touch && !state.0.is_empty() {
            let at = self.touched % state.0.len();
            state.0[at] = state.0[at].wrapping_add(1);
            self.touched += 1;
        }
        for e in input {
            out.emit(e.key, e.value, e.timestamp);
        }
        Ok(())
    }

    fn on_watermark(&mut self, state: &mut Blob, ts: i64, out: &mut Output) -> Result<(), Error> {
        self.fill(state);
        if ts == i64::MAX {
            let sum = state.0.iter().fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64));
            out.emit(Some(b"blob"), format!("{} {sum}", state.0.len()).as_bytes(), 0);
        }
        Ok(())
    }
}

export_operator!(BlobOp);
