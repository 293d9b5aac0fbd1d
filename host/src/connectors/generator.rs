//! `type: generator`: deterministic synthetic events for tests and benchmarks.

use std::io::Write;

use super::{ConnectorError, Pacer, Source};
use crate::dataflow::batch::Batch;
use crate::spec::GeneratorSpec;

/// Generates event `i` = (key `k<scramble(i) mod keys>`, `value-size` letters, `start + i·step`).
pub struct Generator {
    spec: GeneratorSpec,
    next: u64,
    step_ms: i64,
    pacer: Pacer,
    key: Vec<u8>,
}

impl Generator {
    /// A generator from the beginning.
    pub fn new(spec: &GeneratorSpec) -> Generator {
        Generator { spec: spec.clone(), next: 0, step_ms: spec.step.0.as_millis() as i64, pacer: Pacer::new(spec.rate), key: Vec::new() }
    }

    /// Index of the next event.
    pub fn position(&self) -> u64 {
        self.next
    }
}

impl Source for Generator {
    fn position(&self) -> serde_json::Value {
        serde_json::json!({ "next": self.next })
    }

    fn seek(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        self.next = position.get("next").and_then(|n| n.as_u64()).ok_or_else(|| ConnectorError::Record {
            id: self.spec.id.clone(),
            message: format!("cannot restore generator position {position}"),
        })?;
        self.pacer.reset();
        Ok(())
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, ConnectorError> {
        let remaining = self.spec.count.map_or(u64::MAX, |c| c.saturating_sub(self.next));
        let mut n = (max as u64).min(remaining);
        if n == 0 {
            return Ok(None);
        }
        n = self.pacer.admit(self.next, n as usize) as u64;
        let size = self.spec.value_size.0 as usize;
        let mut out = Batch::with_capacity(n as usize, n as usize * size);
        for i in self.next..self.next + n {
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
        self.next += n;
        Ok(Some(out))
    }
}
