//! A test operator whose exports fit the world but whose `log` import does
//! not: it imports `log` with a signature the host does not provide. The host
//! must refuse it at load time (`host validate` included), naming the import.

wit_bindgen::generate!({
    inline: r#"
        package cairn:operator@0.1.0;

        interface types {
            record state-info { format: string, version: u32, size: u64 }
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
            use types.{batch, state-info};
            init: func(config: string) -> result<_, string>;
            process: func(input: batch) -> result<batch, string>;
            on-watermark: func(ts: s64) -> result<batch, string>;
            snapshot: func() -> result<state-info, string>;
            snapshot-read: func(max-len: u32) -> list<u8>;
            restore: func(info: state-info) -> result<_, string>;
            restore-write: func(bytes: list<u8>) -> result<_, string>;
            restore-finish: func() -> result<_, string>;
        }

        interface log {
            log: func(message: string, extra: u32);
        }

        world misimport {
            import log;
            export operator;
        }
    "#,
    world: "misimport",
});

use exports::cairn::operator::operator::{Batch, Guest, StateInfo};

struct Misimport;

fn empty() -> Batch {
    Batch { keys: vec![], key_ends: vec![], values: vec![], value_ends: vec![], timestamps: vec![], keyless: vec![] }
}

impl Guest for Misimport {
    fn init(_config: String) -> Result<(), String> {
        cairn::operator::log::log("init", 1);
        Ok(())
    }
    fn process(_input: Batch) -> Result<Batch, String> {
        Ok(empty())
    }
    fn on_watermark(_ts: i64) -> Result<Batch, String> {
        Ok(empty())
    }
    fn snapshot() -> Result<StateInfo, String> {
        Ok(StateInfo { format: "none".into(), version: 1, size: 0 })
    }
    fn snapshot_read(_max_len: u32) -> Vec<u8> {
        Vec::new()
    }
    fn restore(_info: StateInfo) -> Result<(), String> {
        Ok(())
    }
    fn restore_write(_bytes: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
    fn restore_finish() -> Result<(), String> {
        Ok(())
    }
}

export!(Misimport);
