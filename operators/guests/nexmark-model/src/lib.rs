//! Nexmark on Cairn: the three event types (persons, auctions, bids), how they
//! are laid out in a Cairn batch, and the deterministic generator.
//!
//! One crate for everyone who reads or writes Nexmark events: the host's
//! `nexmark` source generates and encodes them, the `nexmark-q*` guests decode
//! them, and the tests regenerate them to compute expected results.
//!
//! # Encoding in a batch
//!
//! Every event is one batch event:
//!
//! - **timestamp**: the event time (`date_time`), ms since the Unix epoch;
//! - **key**: none, or (source option `key: id`) the 8-byte little-endian id
//!   the event is about: the auction for bids and auctions, the person for
//!   persons, so that `key-by` partitions bids and auctions by auction;
//! - **value**: a tag byte, then fixed-width little-endian fields, then (for
//!   persons and auctions) strings, each a length byte and UTF-8 bytes:
//!
//! | tag | event | layout after the tag | bytes |
//! | --- | --- | --- | ---: |
//! | `0` | person | `id u64, date_time i64`, strings `name, email, credit_card, city, state` | 17 + strings |
//! | `1` | auction | `id u64, seller u64, category u64, initial_bid u64, reserve u64, date_time i64, expires i64`, strings `item_name, description` | 57 + strings |
//! | `2` | bid | `auction u64, bidder u64, price u64, date_time i64` | 33 |
//!
//! A bid is always exactly [`BID_LEN`] bytes, so an operator that wants bids
//! only checks the tag and length and reads four words ([`Bid::decode`]).
//! The reference generator's `extra` padding strings (random letters that
//! bring events to an average byte size) are not generated: they carry no
//! information and no query here reads them.
#![warn(missing_docs)]

mod codec;
mod format;
mod generator;

pub use codec::{Auction, BID_LEN, Bid, DecodeError, Event, Person, TAG_AUCTION, TAG_BID, TAG_PERSON};
pub use format::{FormatConfig, OutputFormat};
pub use generator::{FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID, Generator, GeneratorConfig};
