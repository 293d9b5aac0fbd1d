//! `nexmark-q1`: Nexmark query 1, currency conversion.
//!
//! `SELECT auction, bidder, 0.908 * price AS price, dateTime FROM bid`, in
//! integer cents: `price * 908 / 1000`, rounded down (the reference computes
//! an exact decimal; cents below one are cut). Input: Nexmark events (see
//! `nexmark-model`); persons and auctions are dropped. Config `{ "format":
//! "binary" | "csv" }` (default `binary`): the converted bid in the bid
//! encoding, or `auction,bidder,price,date_time` as ASCII. Key and timestamp
//! unchanged. Stateless.

use std::io::Write;

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use nexmark_model::{BID_LEN, Bid, FormatConfig, OutputFormat};

struct Q1 {
    format: OutputFormat,
}

/// Dollars to euros at the reference's rate, in integer cents.
#[inline(always)]
fn to_euro(price: u64) -> u64 {
    price * 908 / 1000
}

impl Operator for Q1 {
    type Config = Option<FormatConfig>;
    type State = ();

    fn init(config: Option<FormatConfig>) -> Result<Self, Error> {
        Ok(Q1 { format: config.unwrap_or_default().format })
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        match self.format {
            OutputFormat::Binary => {
                out.reserve(input.len(), input.len() * BID_LEN);
                out.reserve_keys(input.key_bytes());
                for e in input {
                    if let Some(b) = Bid::decode(e.value) {
                        let converted = Bid { price: to_euro(b.price), ..b };
                        out.emit_with(e.key, e.timestamp, |buf| converted.encode(buf));
                    }
                }
            }
            OutputFormat::Csv => {
                for e in input {
                    if let Some(b) = Bid::decode(e.value) {
                        out.emit_with(e.key, e.timestamp, |buf| {
                            write!(buf, "{},{},{},{}", b.auction, b.bidder, to_euro(b.price), b.date_time).expect("write to a Vec")
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

export_operator!(Q1);
