//! A test operator that does not fit the world: it was built against an older
//! shape of `cairn:operator/operator` that lacks `on-watermark` and the state
//! functions. The host must refuse it before anything runs, naming what is missing.

wit_bindgen::generate!({
    inline: r#"
        package cairn:operator@0.1.0;

        interface types {
            record batch {
                keys: list<u8>,
                key-ends: list<u32>,
                values: list<u8>,
                value-ends: list<u32>,
                timestamps: list<s64>,
                keyless: list<u32>,
            }
        }

        interface operator {
            use types.{batch};
            init: func(config: string) -> result<_, string>;
            process: func(input: batch) -> result<batch, string>;
        }

        world misfit {
            export operator;
        }
    "#,
    world: "misfit",
});

use exports::cairn::operator::operator::{Batch, Guest};

struct Misfit;

impl Guest for Misfit {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn process(input: Batch) -> Result<Batch, String> {
        Ok(input)
    }
}

export!(Misfit);
