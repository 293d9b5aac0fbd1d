//! `filter`: keeps the events whose value contains a substring.
//!
//! Config: `{ "contains": "<substring>", "invert": false }` (`contains`
//! required; `invert` optional, default false, keeps the events that do *not*
//! contain it). Matching is on bytes. Events pass through unchanged.
//! Stateless.

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    contains: String,
    #[serde(default)]
    invert: bool,
}

struct Filter {
    needle: Vec<u8>,
    invert: bool,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    match needle.split_first() {
        None => true,
        Some((&first, rest)) => haystack.windows(needle.len()).any(|w| w[0] == first && &w[1..] == rest),
    }
}

impl Operator for Filter {
    type Config = Config;
    type State = ();

    fn init(config: Config) -> Result<Self, Error> {
        Ok(Filter { needle: config.contains.into_bytes(), invert: config.invert })
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        for event in input {
            if contains(event.value, &self.needle) != self.invert {
                out.emit_event(&event);
            }
        }
        Ok(())
    }
}

export_operator!(Filter);

#[cfg(test)]
mod tests {
    use cairn_guest::{Events, Output, runtime::Instance};

    fn run(config: &str) -> Result<Vec<Vec<u8>>, String> {
        let mut op = Instance::<super::Filter>::new();
        op.init(config)?;
        let mut input = Output::new();
        for v in ["apple pie", "banana", "", "pineapple"] {
            input.emit(None, v.as_bytes(), 0);
        }
        let out = op.process(&input.into_batch())?;
        Ok(Events::new(&out).unwrap().map(|e| e.value.to_vec()).collect())
    }

    #[test]
    fn keeps_matches() {
        assert_eq!(run(r#"{"contains": "apple"}"#).unwrap(), [&b"apple pie"[..], b"pineapple"]);
        assert_eq!(run(r#"{"contains": "apple", "invert": true}"#).unwrap(), [&b"banana"[..], b""]);
        assert_eq!(run(r#"{"contains": ""}"#).unwrap().len(), 4);
        assert!(run("null").is_err());
        assert!(run("{}").unwrap_err().contains("missing field `contains`"));
        assert!(run(r#"{"contains": "a", "x": 1}"#).unwrap_err().contains("unknown field `x`"));
    }
}
