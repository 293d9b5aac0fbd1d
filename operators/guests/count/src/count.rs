//! The counting operator itself, shared by `count` (exported for
//! `cairn:operator@0.2.0`) and `count-0-1` (the same operator for 0.1.0).

use cairn_guest::{Error, Events, KeyedState, Operator, Output};

/// Counts events per key.
pub struct Count;

impl Operator for Count {
    type Config = ();
    type State = KeyedState<u64>;
    const STATE_VERSION: u32 = 1;

    fn init((): ()) -> Result<Self, Error> {
        Ok(Count)
    }

    fn process(&mut self, counts: &mut Self::State, input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        out.reserve(input.len(), 4 * input.len());
        out.reserve_keys(input.key_bytes());
        let mut digits = itoa::Buffer::new();
        for event in input {
            let count = counts.get_or_default(event.key.unwrap_or_default());
            *count += 1;
            let count = *count;
            out.emit(event.key, digits.format(count).as_bytes(), event.timestamp);
        }
        Ok(())
    }
}
