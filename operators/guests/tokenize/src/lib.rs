//! `tokenize`: splits lines of text into lowercase words.
//!
//! Input value: one line of UTF-8 text. Emits one event per word, a word
//! being a maximal run of alphanumeric characters, lowercased; key = value =
//! the word's bytes, timestamp = the input's. Stateless; no config.

use cairn_guest::{Error, Events, Operator, Output, export_operator};

struct Tokenize {
    /// Reused buffer for lowercasing ASCII words.
    word: String,
}

impl Operator for Tokenize {
    type Config = ();
    type State = ();

    fn init((): ()) -> Result<Self, Error> {
        Ok(Tokenize { word: String::new() })
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        for (i, event) in input.enumerate() {
            let line = std::str::from_utf8(event.value).map_err(|e| format!("event {i}: value is not valid UTF-8: {e}"))?;
            for word in line.split(|c: char| !c.is_alphanumeric()) {
                if word.is_empty() {
                    continue;
                }
                let lower;
                let word = if word.is_ascii() {
                    self.word.clear();
                    self.word.push_str(word);
                    self.word.make_ascii_lowercase();
                    &self.word
                } else {
                    lower = word.to_lowercase(); // rare: allocates
                    &lower
                };
                out.emit(Some(word.as_bytes()), word.as_bytes(), event.timestamp);
            }
        }
        Ok(())
    }
}

export_operator!(Tokenize);

#[cfg(test)]
mod tests {
    use cairn_guest::{Events, Output, runtime::Instance};

    #[test]
    fn splits_and_lowercases() {
        let mut op = Instance::<super::Tokenize>::new();
        op.init("null").unwrap();
        let mut input = Output::new();
        input.emit(None, "Hello, WORLD! Ünïcode ΣΑΣ 42x".as_bytes(), 7);
        input.emit(Some(b"k"), b"  ", 8);
        let out = op.process(&input.into_batch()).unwrap();
        let words: Vec<_> = Events::new(&out)
            .unwrap()
            .map(|e| {
                assert_eq!((e.key, e.timestamp), (Some(e.value), 7));
                String::from_utf8(e.value.to_vec()).unwrap()
            })
            .collect();
        assert_eq!(words, ["hello", "world", "ünïcode", "σας", "42x"]);

        let mut bad = Output::new();
        bad.emit(None, b"ok", 1);
        bad.emit(None, b"\xff", 1);
        let err = op.process(&bad.into_batch()).unwrap_err();
        assert!(err.starts_with("event 1: value is not valid UTF-8"), "{err}");
    }
}
