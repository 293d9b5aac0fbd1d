//! The event types and their binary layout (see the crate docs for the table).

/// Tag byte of a person.
pub const TAG_PERSON: u8 = 0;
/// Tag byte of an auction.
pub const TAG_AUCTION: u8 = 1;
/// Tag byte of a bid.
pub const TAG_BID: u8 = 2;
/// Length of an encoded bid: the tag and four 8-byte fields.
pub const BID_LEN: usize = 33;

/// A value that is not a Nexmark event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The value is empty or its tag byte is unknown.
    #[error("not a Nexmark event: tag {0:?}")]
    Tag(Option<u8>),
    /// The value ends before its layout does.
    #[error("truncated Nexmark {0}")]
    Truncated(&'static str),
    /// A string field is not UTF-8.
    #[error("Nexmark {0}: a string field is not UTF-8")]
    Utf8(&'static str),
}

/// A new person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Person id (from [`FIRST_PERSON_ID`](crate::FIRST_PERSON_ID)).
    pub id: u64,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Credit card number, four groups of four digits.
    pub credit_card: String,
    /// City.
    pub city: String,
    /// US state.
    pub state: String,
    /// Event time, ms since the Unix epoch.
    pub date_time: i64,
}

/// A new auction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auction {
    /// Auction id (from [`FIRST_AUCTION_ID`](crate::FIRST_AUCTION_ID)).
    pub id: u64,
    /// Item name.
    pub item_name: String,
    /// Item description.
    pub description: String,
    /// Starting price (cents).
    pub initial_bid: u64,
    /// Reserve price (cents).
    pub reserve: u64,
    /// Event time, ms since the Unix epoch.
    pub date_time: i64,
    /// When the auction ends, ms since the Unix epoch.
    pub expires: i64,
    /// The selling person's id.
    pub seller: u64,
    /// Category id (from [`FIRST_CATEGORY_ID`](crate::FIRST_CATEGORY_ID)).
    pub category: u64,
}

/// A bid on an auction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bid {
    /// The auction bid on.
    pub auction: u64,
    /// The bidding person's id.
    pub bidder: u64,
    /// Price (cents).
    pub price: u64,
    /// Event time, ms since the Unix epoch.
    pub date_time: i64,
}

/// Any Nexmark event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

#[inline(always)]
fn word(v: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[at..at + 8]);
    u64::from_le_bytes(b)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len().min(255);
    out.push(len as u8);
    out.extend_from_slice(&s.as_bytes()[..len]);
}

/// Reads the length-prefixed strings after a fixed part.
struct Strings<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl Strings<'_> {
    fn next(&mut self) -> Result<String, DecodeError> {
        let (&len, rest) = self.rest.split_first().ok_or(DecodeError::Truncated(self.what))?;
        let (s, rest) = rest.split_at_checked(len as usize).ok_or(DecodeError::Truncated(self.what))?;
        self.rest = rest;
        String::from_utf8(s.to_vec()).map_err(|_| DecodeError::Utf8(self.what))
    }
}

impl Bid {
    /// Appends the bid's encoding ([`BID_LEN`] bytes).
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut b = [0u8; BID_LEN];
        b[0] = TAG_BID;
        b[1..9].copy_from_slice(&self.auction.to_le_bytes());
        b[9..17].copy_from_slice(&self.bidder.to_le_bytes());
        b[17..25].copy_from_slice(&self.price.to_le_bytes());
        b[25..33].copy_from_slice(&self.date_time.to_le_bytes());
        out.extend_from_slice(&b);
    }

    /// The bid encoded in `value`, or `None` when `value` is not a bid (a
    /// person, an auction, or anything else). The fast path for queries
    /// over bids: one length and one tag check, four loads.
    #[inline]
    pub fn decode(value: &[u8]) -> Option<Bid> {
        let v: &[u8; BID_LEN] = value.try_into().ok()?;
        if v[0] != TAG_BID {
            return None;
        }
        Some(Bid { auction: word(v, 1), bidder: word(v, 9), price: word(v, 17), date_time: word(v, 25) as i64 })
    }
}

impl Person {
    /// Appends the person's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(TAG_PERSON);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.date_time.to_le_bytes());
        for s in [&self.name, &self.email, &self.credit_card, &self.city, &self.state] {
            put_str(out, s);
        }
    }
}

impl Auction {
    /// Appends the auction's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(TAG_AUCTION);
        for w in [self.id, self.seller, self.category, self.initial_bid, self.reserve, self.date_time as u64, self.expires as u64] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        put_str(out, &self.item_name);
        put_str(out, &self.description);
    }
}

impl Event {
    /// Appends the event's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Event::Person(p) => p.encode(out),
            Event::Auction(a) => a.encode(out),
            Event::Bid(b) => b.encode(out),
        }
    }

    /// The event's time, ms since the Unix epoch.
    pub fn date_time(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// The id `key: id` puts in the key column: the auction for bids and
    /// auctions, the person for persons.
    pub fn key_id(&self) -> u64 {
        match self {
            Event::Person(p) => p.id,
            Event::Auction(a) => a.id,
            Event::Bid(b) => b.auction,
        }
    }

    /// Decodes any event.
    pub fn decode(value: &[u8]) -> Result<Event, DecodeError> {
        match value.first() {
            Some(&TAG_BID) => Bid::decode(value).map(Event::Bid).ok_or(DecodeError::Truncated("bid")),
            Some(&TAG_PERSON) => {
                let what = "person";
                if value.len() < 17 {
                    return Err(DecodeError::Truncated(what));
                }
                let mut s = Strings { rest: &value[17..], what };
                Ok(Event::Person(Person {
                    id: word(value, 1),
                    date_time: word(value, 9) as i64,
                    name: s.next()?,
                    email: s.next()?,
                    credit_card: s.next()?,
                    city: s.next()?,
                    state: s.next()?,
                }))
            }
            Some(&TAG_AUCTION) => {
                let what = "auction";
                if value.len() < 57 {
                    return Err(DecodeError::Truncated(what));
                }
                let w = |i: usize| word(value, 1 + 8 * i);
                let mut s = Strings { rest: &value[57..], what };
                Ok(Event::Auction(Auction {
                    id: w(0),
                    seller: w(1),
                    category: w(2),
                    initial_bid: w(3),
                    reserve: w(4),
                    date_time: w(5) as i64,
                    expires: w(6) as i64,
                    item_name: s.next()?,
                    description: s.next()?,
                }))
            }
            other => Err(DecodeError::Tag(other.copied())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let events = [
            Event::Bid(Bid { auction: 1007, bidder: 1001, price: 123_456, date_time: -5 }),
            Event::Person(Person {
                id: 1000,
                name: "Kate Smith".into(),
                email: "abc@def.com".into(),
                credit_card: "0001 0002 0003 0004".into(),
                city: "Boise".into(),
                state: "ID".into(),
                date_time: 42,
            }),
            Event::Auction(Auction {
                id: 1002,
                item_name: "x".into(),
                description: "".into(),
                initial_bid: 1,
                reserve: 2,
                date_time: 3,
                expires: 4,
                seller: 1000,
                category: 11,
            }),
        ];
        for e in events {
            let mut buf = Vec::new();
            e.encode(&mut buf);
            assert_eq!(Event::decode(&buf).unwrap(), e);
            assert_eq!(Bid::decode(&buf).is_some(), matches!(e, Event::Bid(_)));
            assert!(Event::decode(&buf[..buf.len() - 1]).is_err());
        }
        assert_eq!(Event::decode(&[]), Err(DecodeError::Tag(None)));
        assert_eq!(Event::decode(&[9]), Err(DecodeError::Tag(Some(9))));
    }
}
