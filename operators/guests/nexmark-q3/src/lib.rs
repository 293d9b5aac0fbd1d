//! `nexmark-q3`: Nexmark query 3, local item suggestion: who is selling in
//! category 10 in Oregon, Idaho or California — an incremental join.
//!
//! ```sql
//! SELECT P.name, P.city, P.state, A.id
//! FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
//! WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')
//! ```
//!
//! Three stages of this one component (config `stage`):
//! - `persons`: the persons of OR, ID and CA, keyed by id (decimal ASCII),
//!   value `name,city,state`;
//! - `auctions`: the auctions of category 10 (config `category` changes it),
//!   keyed by seller, value the auction id;
//! - `join`: `input: [persons, auctions]`, `key-by: true`: as soon as both
//!   sides of a pair are known — an auction whose seller arrived earlier, or
//!   a person whose auctions arrived earlier — emits, no key, value
//!   `name,city,state,auction` (ASCII), timestamp the later event's. Each
//!   pair once; the order of rows depends on how the two inputs interleave.
//!
//! State of `join` (version 1): per seller (a `KeyedState`, so the join
//! rescales) the person if it arrived, and the auctions waiting for it.

use std::io::Write;

use cairn_guest::{Error, Events, KeyedState, Operator, Output, export_operator};
use nexmark_model::Event;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    stage: Stage,
    #[serde(default = "default_category")]
    category: u64,
}

fn default_category() -> u64 {
    10
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    Persons,
    Auctions,
    Join,
}

/// One seller's side of the join.
#[derive(Default, Serialize, Deserialize)]
struct Seller {
    /// `name,city,state`, once the person arrived.
    person: Option<String>,
    /// Auctions that arrived before the person.
    waiting: Vec<u64>,
}

struct Q3 {
    stage: Stage,
    category: u64,
}

impl Operator for Q3 {
    type Config = Config;
    type State = KeyedState<Seller>;
    const STATE_VERSION: u32 = 1;

    fn init(config: Config) -> Result<Self, Error> {
        let inputs = cairn_guest::context().inputs;
        if config.stage == Stage::Join && inputs.len() != 2 {
            return Err(format!("the join stage has two inputs (persons, auctions), this one has {inputs:?}").into());
        }
        Ok(Q3 { stage: config.stage, category: config.category })
    }

    fn process(&mut self, sellers: &mut Self::State, input: Events<'_>, out: &mut Output) -> Result<(), Error> {
        let mut digits = itoa::Buffer::new();
        match self.stage {
            Stage::Persons => {
                for e in input {
                    if let Ok(Event::Person(p)) = Event::decode(e.value)
                        && matches!(p.state.as_str(), "OR" | "ID" | "CA")
                    {
                        out.emit_with(Some(digits.format(p.id).as_bytes()), p.date_time, |buf| {
                            write!(buf, "{},{},{}", p.name, p.city, p.state).expect("write to a Vec")
                        });
                    }
                }
            }
            Stage::Auctions => {
                for e in input {
                    if let Ok(Event::Auction(a)) = Event::decode(e.value)
                        && a.category == self.category
                    {
                        let id = itoa::Buffer::new().format(a.id).as_bytes().to_vec();
                        out.emit(Some(digits.format(a.seller).as_bytes()), &id, a.date_time);
                    }
                }
            }
            Stage::Join => {
                let persons = input.input() == 0;
                for e in input {
                    let seller = sellers.get_or_default(e.key.unwrap_or_default());
                    if persons {
                        let person = String::from_utf8_lossy(e.value).into_owned();
                        for auction in std::mem::take(&mut seller.waiting) {
                            out.emit_with(None, e.timestamp, |buf| write!(buf, "{person},{auction}").expect("write to a Vec"));
                        }
                        seller.person = Some(person);
                    } else {
                        let auction: u64 = std::str::from_utf8(e.value).ok().and_then(|v| v.parse().ok()).ok_or("an auction id is not a number")?;
                        match &seller.person {
                            Some(person) => out.emit_with(None, e.timestamp, |buf| write!(buf, "{person},{auction}").expect("write to a Vec")),
                            None => seller.waiting.push(auction),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

export_operator!(Q3);
