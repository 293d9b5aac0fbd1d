//! `nexmark-q2`: Nexmark query 2, selection.
//!
//! `SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0`. Input:
//! Nexmark events (see `nexmark-model`); persons and auctions are dropped.
//! Config `{ "format": "binary" | "csv" }` (default `binary`): 16 bytes,
//! `auction u64, price u64` little-endian, or `auction,price` as ASCII. Key
//! and timestamp unchanged. Stateless.

use std::io::Write;

use cairn_guest::{Error, Events, Operator, Output, export_operator};
use nexmark_model::{Bid, FormatConfig, OutputFormat};

struct Q2 {
    format: OutputFormat,
}

impl Operator for Q2 {
    type Config = Option<FormatConfig>;
    type State = ();

    fn init(config: Option<FormatConfig>) -> Result<Self, Error> {
        Ok(Q2 { format: config.unwrap_or_default().format })
    }

    fn process(&mut self, (): &mut (), input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        let format = self.format;
        for e in input {
            let Some(b) = Bid::decode(e.value) else { continue };
            if b.auction % 123 != 0 {
                continue;
            }
            out.emit_with(e.key, e.timestamp, |buf| match format {
                OutputFormat::Binary => {
                    buf.extend_from_slice(&b.auction.to_le_bytes());
                    buf.extend_from_slice(&b.price.to_le_bytes());
                }
                OutputFormat::Csv => write!(buf, "{},{}", b.auction, b.price).expect("write to a Vec"),
            });
        }
        Ok(())
    }
}

export_operator!(Q2);
