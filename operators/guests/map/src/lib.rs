//! `map`: transforms each event's value; key and timestamp unchanged.
//!
//! Config: `{ "op": "uppercase" | "lowercase" | "prefix", "prefix": "..." }`.
//! `uppercase` / `lowercase` change ASCII letters of the value bytes (other
//! bytes unchanged); `prefix` prepends the `prefix` string (required with it,
//! and only allowed with it). A missing config or `op` means `uppercase`.
//! Stateless. This is the benchmark operator: values are written in place
//! into the output batch.

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use serde::Deserialize;

#[derive(Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Op {
    #[default]
    Uppercase,
    Lowercase,
    Prefix,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    op: Op,
    prefix: Option<String>,
}

struct Map {
    op: Op,
    prefix: Vec<u8>,
}

impl Operator for Map {
    type Config = Option<Config>;
    type State = ();

    fn init(config: Option<Config>) -> Result<Self, Error> {
        let Config { op, prefix } = config.unwrap_or(Config { op: Op::Uppercase, prefix: None });
        let prefix = match (op, prefix) {
            (Op::Prefix, Some(prefix)) => prefix.into_bytes(),
            (Op::Prefix, None) => return Err("op `prefix` needs a `prefix` string".into()),
            (_, Some(_)) => return Err("`prefix` is only allowed with op `prefix`".into()),
            (_, None) => Vec::new(),
        };
        Ok(Map { op, prefix })
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        out.reserve(input.len(), input.value_bytes() + input.len() * self.prefix.len());
        out.reserve_keys(input.key_bytes());
        match self.op {
            Op::Uppercase => {
                for e in input {
                    out.emit_with(e.key, e.timestamp, |buf| buf.extend(e.value.iter().map(u8::to_ascii_uppercase)));
                }
            }
            Op::Lowercase => {
                for e in input {
                    out.emit_with(e.key, e.timestamp, |buf| buf.extend(e.value.iter().map(u8::to_ascii_lowercase)));
                }
            }
            Op::Prefix => {
                let prefix = self.prefix.as_slice();
                for e in input {
                    out.emit_with(e.key, e.timestamp, |buf| {
                        buf.extend_from_slice(prefix);
                        buf.extend_from_slice(e.value);
                    });
                }
            }
        }
        Ok(())
    }
}

export_operator!(Map);

#[cfg(test)]
mod tests {
    use cairn_guest::{Events, Output, runtime::Instance};

    fn run(config: &str) -> Result<Vec<(Option<Vec<u8>>, Vec<u8>, i64)>, String> {
        let mut op = Instance::<super::Map>::new();
        op.init(config)?;
        let mut input = Output::new();
        input.emit(Some(b"k"), "Mixed Case ü".as_bytes(), 1);
        input.emit(None, b"", 2);
        let out = op.process(&input.into_batch())?;
        Ok(Events::new(&out).unwrap().map(|e| (e.key.map(<[u8]>::to_vec), e.value.to_vec(), e.timestamp)).collect())
    }

    #[test]
    fn transforms_values() {
        let upper = run("null").unwrap();
        assert_eq!(upper[0], (Some(b"k".to_vec()), "MIXED CASE ü".into(), 1));
        assert_eq!(upper[1], (None, vec![], 2));
        assert_eq!(run("{}").unwrap(), upper);
        assert_eq!(run(r#"{"op": "lowercase"}"#).unwrap()[0].1, "mixed case ü".as_bytes());
        let prefixed = run(r#"{"op": "prefix", "prefix": ">> "}"#).unwrap();
        assert_eq!(prefixed[0].1, ">> Mixed Case ü".as_bytes());
        assert_eq!(prefixed[1].1, b">> ");
        assert!(run(r#"{"op": "prefix"}"#).unwrap_err().contains("needs a `prefix`"));
        assert!(run(r#"{"op": "uppercase", "prefix": "x"}"#).is_err());
        assert!(run(r#"{"op": "reverse"}"#).unwrap_err().contains("unknown variant"));
        assert!(run(r#"{"opp": "lowercase"}"#).unwrap_err().contains("unknown field"));
    }
}
