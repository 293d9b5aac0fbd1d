//! `type: generator`: deterministic synthetic events for tests and benchmarks.

use std::io::Write;

use super::split::Split;
use super::{ConnectorError, Pacer, Source};
use crate::dataflow::batch::Batch;
use crate::spec::GeneratorSpec;

/// Generates event `i` = (key `k<scramble(i) mod keys>`, `value-size` letters, `start + i·step`),
/// for the events `i` of its [`Split`].
pub struct Generator {
    spec: GeneratorSpec,
    split: Split,
    next: u64,
    step_ms: i64,
    pacer: Pacer,
    key: Vec<u8>,
}

impl Generator {
    /// A generator of every event, from the beginning (one subtask, whatever the spec's parallelism).
    pub fn new(spec: &GeneratorSpec) -> Generator {
        Generator::split(spec, Split::whole())
    }

    /// A generator of the events of `split`, from its first.
    pub fn split(spec: &GeneratorSpec, split: Split) -> Generator {
        let step_ms = spec.step.0.as_millis() as i64;
        Generator { spec: spec.clone(), split, next: split.first_at_or_after(0), step_ms, pacer: Pacer::new(split.rate(spec.rate)), key: Vec::new() }
    }

    /// Index of the next event.
    pub fn position(&self) -> u64 {
        self.next
    }
}

impl Source for Generator {
    fn position(&self) -> serde_json::Value {
        self.split.position(self.next)
    }

    fn seek(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        self.next = self.split.restore(position).map_err(|message| ConnectorError::Record { id: self.spec.id.clone(), message })?;
        self.pacer.reset();
        Ok(())
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, ConnectorError> {
        let mut n = (max as u64).min(self.split.remaining(self.next, self.spec.count));
        if n == 0 {
            return Ok(None);
        }
        n = self.pacer.admit(self.split.emitted(self.next), n as usize) as u64;
        let size = self.spec.value_size.0 as usize;
        let mut out = Batch::with_capacity(n as usize, n as usize * size);
        let step = self.split.step();
        for i in (0..n).map(|k| self.next + k * step) {
            let ts = self.spec.start + i as i64 * self.step_ms;
            let fill = |v: &mut Vec<u8>| {
                let seed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                v.extend((0..size).map(|j| b'a' + ((seed >> ((j % 8) * 8)) as u8 % 26)));
            };
            if self.spec.keys == 0 {
                out.push_with(None, ts, fill);
            } else {
                let k = i.wrapping_mul(0x2545_F491_4F6C_DD1D).rotate_left(17) % self.spec.keys;
                self.key.clear();
                self.key.push(b'k');
                let _ = write!(self.key, "{k}");
                out.push_with(Some(&self.key), ts, fill);
            }
        }
        self.next += n * step;
        Ok(Some(out))
    }
}
