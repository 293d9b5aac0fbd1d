//! `type: nexmark`: the Nexmark benchmark's stream of persons, auctions and
//! bids, from the deterministic generator of the `nexmark-model` crate (which
//! also defines how an event is laid out in a batch).

use nexmark_model::{BID_LEN, Generator, GeneratorConfig};

use super::split::Split;
use super::{ConnectorError, Pacer, Source};
use crate::dataflow::batch::Batch;
use crate::spec::{NexmarkKey, NexmarkSpec};

/// Emits the Nexmark events of its [`Split`] from `next` on, up to `count`.
/// Event `n` depends only on the configuration and `n`, so the position is just `n`.
pub struct NexmarkSource {
    id: String,
    split: Split,
    generator: Generator,
    count: Option<u64>,
    key: NexmarkKey,
    next: u64,
    pacer: Pacer,
}

impl NexmarkSource {
    /// A source of every event from event 0 (one subtask, whatever the spec's
    /// parallelism). Fails on an event rate of 0, or proportions that make no
    /// events or bids without auctions.
    pub fn new(spec: &NexmarkSpec) -> Result<NexmarkSource, ConnectorError> {
        NexmarkSource::split(spec, Split::whole())
    }

    /// A source of the events of `split`, from its first; fails as [`NexmarkSource::new`] does.
    pub fn split(spec: &NexmarkSpec, split: Split) -> Result<NexmarkSource, ConnectorError> {
        let [person_proportion, auction_proportion, bid_proportion] = spec.proportions;
        let invalid = |message: &str| ConnectorError::Record { id: spec.id.clone(), message: message.into() };
        if spec.event_rate == 0 {
            return Err(invalid("event-rate must be at least 1 event per second"));
        }
        if person_proportion + auction_proportion + bid_proportion == 0 || (bid_proportion > 0 && auction_proportion == 0) {
            return Err(invalid("proportions [persons, auctions, bids] must not all be 0, and bids need auctions"));
        }
        let config = GeneratorConfig {
            seed: spec.seed,
            first_event_time: spec.first_event_time,
            event_rate: spec.event_rate,
            person_proportion,
            auction_proportion,
            bid_proportion,
            num_active_people: spec.active_people,
            num_in_flight_auctions: spec.in_flight_auctions,
            hot_auction_ratio: spec.hot_auction_ratio,
            hot_sellers_ratio: spec.hot_sellers_ratio,
            hot_bidders_ratio: spec.hot_bidders_ratio,
        };
        Ok(NexmarkSource {
            id: spec.id.clone(),
            split,
            generator: Generator::new(config),
            count: spec.count,
            key: spec.key,
            next: split.first_at_or_after(0),
            pacer: Pacer::new(split.rate(spec.rate)),
        })
    }

    /// Number of the next event.
    pub fn position(&self) -> u64 {
        self.next
    }
}

impl Source for NexmarkSource {
    fn position(&self) -> serde_json::Value {
        self.split.position(self.next)
    }

    fn seek(&mut self, position: &serde_json::Value) -> Result<(), ConnectorError> {
        self.next = self.split.restore(position).map_err(|message| ConnectorError::Record { id: self.id.clone(), message })?;
        self.pacer.reset();
        Ok(())
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, ConnectorError> {
        let n = (max as u64).min(self.split.remaining(self.next, self.count));
        if n == 0 {
            return Ok(None);
        }
        let n = self.pacer.admit(self.split.emitted(self.next), n as usize) as u64;
        let mut out = Batch::with_capacity(n as usize, n as usize * (BID_LEN + 8));
        let g = &self.generator;
        let step = self.split.step();
        for i in (0..n).map(|k| self.next + k * step) {
            let ts = g.timestamp(i);
            if g.is_bid(i) {
                let bid = g.bid(i);
                let key = bid.auction.to_le_bytes();
                let key = (self.key == NexmarkKey::Id).then_some(&key[..]);
                out.push_with(key, ts, |v| bid.encode(v));
            } else {
                let event = g.event(i);
                let key = event.key_id().to_le_bytes();
                let key = (self.key == NexmarkKey::Id).then_some(&key[..]);
                out.push_with(key, ts, |v| event.encode(v));
            }
        }
        self.next += n * step;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> NexmarkSpec {
        yaml_serde::from_str(yaml).unwrap()
    }

    fn drain(source: &mut NexmarkSource, max: usize) -> Vec<(Option<Vec<u8>>, Vec<u8>, i64)> {
        let mut all = Vec::new();
        while let Some(b) = source.next_batch(max).unwrap() {
            all.extend(b.iter().map(|e| (e.key.map(<[u8]>::to_vec), e.value.to_vec(), e.timestamp)));
        }
        all
    }

    #[test]
    fn deterministic_and_resumable() {
        let s = spec("{ id: nx, count: 5000, seed: 3, key: id, first-event-time: 1000 }");
        let all = drain(&mut NexmarkSource::new(&s).unwrap(), 700);
        assert_eq!(all.len(), 5000);
        assert_eq!(all, drain(&mut NexmarkSource::new(&s).unwrap(), 1024));
        // Every value decodes, its key is its id and its timestamp its time.
        for (k, v, ts) in &all {
            let e = nexmark_model::Event::decode(v).unwrap();
            assert_eq!((k.as_deref(), e.date_time()), (Some(&e.key_id().to_le_bytes()[..]), *ts));
        }
        // Restoring a position resumes exactly there.
        let mut first = NexmarkSource::new(&s).unwrap();
        let head: Vec<_> = first.next_batch(1234).unwrap().unwrap().iter().map(|e| e.value.to_vec()).collect();
        let mut resumed = NexmarkSource::new(&s).unwrap();
        resumed.seek(&Source::position(&first)).unwrap();
        let tail = drain(&mut resumed, 999);
        assert_eq!(head.len() + tail.len(), 5000);
        assert_eq!(tail[..], all[1234..]);
        assert_eq!(head[..], all[..1234].iter().map(|e| e.1.clone()).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn subtasks_together_emit_the_events_of_one() {
        let s = spec("{ id: nx, count: 3001, seed: 4, key: id }");
        let mut all = drain(&mut NexmarkSource::new(&s).unwrap(), 512);
        let mut parts: Vec<_> = (0..3).flat_map(|t| drain(&mut NexmarkSource::split(&s, Split::new(t, 3)).unwrap(), 100)).collect();
        all.sort();
        parts.sort();
        assert_eq!(parts, all);
        // A subtask's events keep their order in time.
        let one = drain(&mut NexmarkSource::split(&s, Split::new(1, 3)).unwrap(), 100);
        assert!(one.windows(2).all(|w| w[0].2 <= w[1].2) && one.len() == 1000);
    }

    #[test]
    fn rejects_impossible_configs() {
        assert!(NexmarkSource::new(&spec("{ id: nx, event-rate: 0 }")).is_err());
        assert!(NexmarkSource::new(&spec("{ id: nx, proportions: [1, 0, 5] }")).is_err());
        assert!(NexmarkSource::new(&spec("{ id: nx, proportions: [0, 0, 0] }")).is_err());
        let keyless = drain(&mut NexmarkSource::new(&spec("{ id: nx, count: 100 }")).unwrap(), 64);
        assert!(keyless.iter().all(|e| e.0.is_none()));
    }
}
