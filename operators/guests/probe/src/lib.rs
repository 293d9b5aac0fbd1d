//! `probe`: a test operator that tries to reach outside its sandbox and reports
//! what happened, so tests can check that only granted capabilities work.
//!
//! Config: `{ file: <path>, env: <name>, connect: <host:port> }`. For every
//! input event it emits three events, keys `file`, `env` and `net`, with values
//! `ok:<what it got>` or `denied:<the error>`.

use std::io::Read;

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    file: String,
    env: String,
    connect: String,
}

struct Probe {
    config: Config,
}

impl Probe {
    fn attempts(&self) -> [(&'static str, String); 3] {
        let file = match std::fs::File::open(&self.config.file) {
            Ok(mut f) => {
                let mut text = String::new();
                match f.read_to_string(&mut text) {
                    Ok(_) => format!("ok:{}", text.trim()),
                    Err(e) => format!("denied:{e}"),
                }
            }
            Err(e) => format!("denied:{e}"),
        };
        let env = match std::env::var(&self.config.env) {
            Ok(v) => format!("ok:{v}"),
            Err(e) => format!("denied:{e}"),
        };
        let net = match std::net::TcpStream::connect(&self.config.connect) {
            Ok(_) => "ok:connected".to_string(),
            Err(e) => format!("denied:{e}"),
        };
        [("file", file), ("env", env), ("net", net)]
    }
}

impl Operator for Probe {
    type Config = Config;
    type State = ();

    fn init(config: Config) -> Result<Self, Error> {
        Ok(Probe { config })
    }

    fn process(&mut self, _state: &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        for e in input {
            for (key, value) in self.attempts() {
                out.emit(Some(key.as_bytes()), value.as_bytes(), e.timestamp);
            }
        }
        Ok(())
    }
}

export_operator!(Probe);
