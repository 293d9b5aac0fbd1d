//! `nexmark-q0`: Nexmark query 0, pass-through of bids.
//!
//! Input: Nexmark events (see the `nexmark-model` crate for the layout).
//! Output: every bid, key and timestamp unchanged; persons and auctions are
//! dropped. Config `{ "format": "binary" | "csv" }` (default `binary`): the
//! bid's 33-byte encoding as it came in, or `auction,bidder,price,date_time`
//! as ASCII. Stateless.

use std::io::Write;

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use nexmark_model::{BID_LEN, Bid, FormatConfig, OutputFormat, TAG_BID};

struct Q0 {
    format: OutputFormat,
}

impl Operator for Q0 {
    type Config = Option<FormatConfig>;
    type State = ();

    fn init(config: Option<FormatConfig>) -> Result<Self, Error> {
        Ok(Q0 { format: config.unwrap_or_default().format })
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        match self.format {
            OutputFormat::Binary => {
                out.reserve(input.len(), input.len() * BID_LEN);
                out.reserve_keys(input.key_bytes());
                for e in input {
                    if e.value.len() == BID_LEN && e.value[0] == TAG_BID {
                        out.emit(e.key, e.value, e.timestamp);
                    }
                }
            }
            OutputFormat::Csv => {
                for e in input {
                    if let Some(b) = Bid::decode(e.value) {
                        out.emit_with(e.key, e.timestamp, |buf| write!(buf, "{},{},{},{}", b.auction, b.bidder, b.price, b.date_time).expect("write to a Vec"));
                    }
                }
            }
        }
        Ok(())
    }
}

export_operator!(Q0);
