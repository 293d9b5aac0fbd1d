//! The deterministic Nexmark generator, after the reference generator that
//! Beam, Flink and Arroyo's Nexmark share (`NexmarkGenerator` and its
//! `PersonGenerator`, `AuctionGenerator`, `BidGenerator`, `PriceGenerator`).
//!
//! Event number `n` (from 0) is a person, an auction or a bid by `n` modulo
//! the total proportion (1 + 3 + 46 = 50 by default: 2 % persons, 6 %
//! auctions, 92 % bids), has event time `first_event_time + ⌊n · 10⁶ /
//! event_rate⌋ µs` (whole ms, in order: no out-of-orderness), and its fields
//! come from a random sequence seeded by `(seed, n)` alone. So any event can
//! be generated on its own: a source restores by remembering `n`, and a test
//! regenerates exactly what a source emitted. The distributions are the
//! reference's: ids reach back to recent persons and in-flight auctions (plus
//! a small lead of future ids), most bids go to hot auctions and come from hot
//! bidders, most auctions from hot sellers, prices are `round(10^(6u)·100)`
//! cents for uniform `u`, 5 categories, and auctions expire after a random
//! length averaging the time until `num_in_flight_auctions` more auctions
//! exist.

use crate::{Auction, Bid, Event, Person};

/// Person ids start here.
pub const FIRST_PERSON_ID: u64 = 1000;
/// Auction ids start here.
pub const FIRST_AUCTION_ID: u64 = 1000;
/// Category ids start here.
pub const FIRST_CATEGORY_ID: u64 = 10;

const NUM_CATEGORIES: u64 = 5;
const PERSON_ID_LEAD: u64 = 10;
const AUCTION_ID_LEAD: u64 = 10;
/// Hot sellers, auctions and bidders are the first of each block of this many.
const HOT_BLOCK: u64 = 100;

const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const FIRST_NAMES: [&str; 11] = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES: [&str; 9] = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];

/// What the generator generates. The defaults are the reference's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Seed of every event's random sequence.
    pub seed: u64,
    /// Event time of event 0, ms since the Unix epoch.
    pub first_event_time: i64,
    /// Events per second of event time (the inter-event delay is its
    /// inverse). Default 10 000 (100 µs between events).
    pub event_rate: u64,
    /// Persons per `person + auction + bid` events. Default 1.
    pub person_proportion: u64,
    /// Auctions per `person + auction + bid` events. Default 3.
    pub auction_proportion: u64,
    /// Bids per `person + auction + bid` events. Default 46.
    pub bid_proportion: u64,
    /// Persons that bids and auctions pick from (the most recent). Default 1000.
    pub num_active_people: u64,
    /// Auctions that bids pick from (the most recent). Default 100.
    pub num_in_flight_auctions: u64,
    /// One bid in this many is for a random in-flight auction; the others go
    /// to the hot auction. Default 2.
    pub hot_auction_ratio: u64,
    /// One auction in this many has a random active seller; the others the
    /// hot seller. Default 4.
    pub hot_sellers_ratio: u64,
    /// One bid in this many is by a random active person; the others by the
    /// hot bidder. Default 4.
    pub hot_bidders_ratio: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 0,
            first_event_time: 0,
            event_rate: 10_000,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
        }
    }
}

/// SplitMix64: a small, fast, well-mixed sequence, seeded per event.
struct Rng(u64);

impl Rng {
    #[inline(always)]
    fn new(seed: u64, n: u64) -> Rng {
        Rng(seed ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    #[inline(always)]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    #[inline(always)]
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    #[inline(always)]
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A price in cents: `round(10^(6u) · 100)`, from 1 $ to 1 M$, log-uniform.
    #[inline]
    fn price(&mut self) -> u64 {
        (10f64.powf(self.unit() * 6.0) * 100.0).round() as u64
    }

    /// Letters with one in 13 a space, `3..max_len` long, trimmed.
    fn string(&mut self, max_len: u64) -> String {
        let len = 3 + self.below(max_len - 3);
        let s: String = (0..len).map(|_| if self.below(13) == 0 { ' ' } else { (b'a' + self.below(26) as u8) as char }).collect();
        s.trim().to_string()
    }
}

/// Generates event number `n` of the configured stream, for any `n`.
#[derive(Clone, Debug)]
pub struct Generator {
    config: GeneratorConfig,
    total: u64,
}

impl Generator {
    /// A generator for `config`. Proportions of zero in total and an event
    /// rate of zero are replaced by the defaults.
    pub fn new(mut config: GeneratorConfig) -> Generator {
        let defaults = GeneratorConfig::default();
        if config.person_proportion + config.auction_proportion + config.bid_proportion == 0 {
            (config.person_proportion, config.auction_proportion, config.bid_proportion) =
                (defaults.person_proportion, defaults.auction_proportion, defaults.bid_proportion);
        }
        if config.event_rate == 0 {
            config.event_rate = defaults.event_rate;
        }
        let total = config.person_proportion + config.auction_proportion + config.bid_proportion;
        Generator { config, total }
    }

    /// The configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Event time of event `n`, ms since the Unix epoch.
    #[inline]
    pub fn timestamp(&self, n: u64) -> i64 {
        let us = u128::from(n) * 1_000_000 / u128::from(self.config.event_rate);
        self.config.first_event_time.saturating_add((us / 1000).min(i64::MAX as u128) as i64)
    }

    /// Whether event `n` is a bid (without generating it).
    #[inline]
    pub fn is_bid(&self, n: u64) -> bool {
        n % self.total >= self.config.person_proportion + self.config.auction_proportion
    }

    /// Event number `n`.
    pub fn event(&self, n: u64) -> Event {
        let offset = n % self.total;
        if offset < self.config.person_proportion {
            Event::Person(self.person(n))
        } else if offset < self.config.person_proportion + self.config.auction_proportion {
            Event::Auction(self.auction(n))
        } else {
            Event::Bid(self.bid(n))
        }
    }

    /// The id (from 0) of the last person generated at or before event `n`.
    fn last_person(&self, n: u64) -> u64 {
        let c = &self.config;
        let (epoch, offset) = (n / self.total, n % self.total);
        epoch * c.person_proportion + offset.min(c.person_proportion.saturating_sub(1))
    }

    /// The id (from 0) of the last auction generated at or before event `n`
    /// (the current one for an auction event); 0 before the first.
    fn last_auction(&self, n: u64) -> u64 {
        let c = &self.config;
        let (epoch, offset) = (n / self.total, n % self.total);
        if offset < c.person_proportion {
            // Before this epoch's auctions: the last of the previous epoch.
            (epoch * c.auction_proportion).saturating_sub(1)
        } else if offset >= c.person_proportion + c.auction_proportion {
            epoch * c.auction_proportion + c.auction_proportion.saturating_sub(1)
        } else {
            epoch * c.auction_proportion + offset - c.person_proportion
        }
    }

    /// A random active person (from 0), possibly a few ahead of the last one.
    fn random_person(&self, n: u64, rng: &mut Rng) -> u64 {
        let people = self.last_person(n) + 1;
        let active = people.min(self.config.num_active_people);
        people - active + rng.below(active + PERSON_ID_LEAD)
    }

    /// A random in-flight auction (from 0), possibly a few ahead of the last one.
    fn random_auction(&self, n: u64, rng: &mut Rng) -> u64 {
        let last = self.last_auction(n);
        let min = last.saturating_sub(self.config.num_in_flight_auctions);
        min + rng.below(last - min + 1 + AUCTION_ID_LEAD)
    }

    /// Person event `n`.
    pub fn person(&self, n: u64) -> Person {
        let mut rng = Rng::new(self.config.seed, n);
        let name = format!("{} {}", FIRST_NAMES[rng.below(11) as usize], LAST_NAMES[rng.below(9) as usize]);
        let email = format!("{}@{}.com", rng.string(7), rng.string(5));
        let credit_card = (0..4).map(|_| format!("{:04}", rng.below(10_000))).collect::<Vec<_>>().join(" ");
        let city = US_CITIES[rng.below(10) as usize].to_string();
        let state = US_STATES[rng.below(6) as usize].to_string();
        Person { id: self.last_person(n) + FIRST_PERSON_ID, name, email, credit_card, city, state, date_time: self.timestamp(n) }
    }

    /// Auction event `n`.
    pub fn auction(&self, n: u64) -> Auction {
        let c = &self.config;
        let mut rng = Rng::new(c.seed, n);
        let date_time = self.timestamp(n);
        let seller =
            if rng.below(c.hot_sellers_ratio) > 0 { self.last_person(n) / HOT_BLOCK * HOT_BLOCK } else { self.random_person(n, &mut rng) } + FIRST_PERSON_ID;
        let category = FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES);
        let initial_bid = rng.price();
        // Lengths average the time until `num_in_flight_auctions` more auctions exist.
        let ahead = c.num_in_flight_auctions * self.total / c.auction_proportion.max(1);
        let horizon = (self.timestamp(n + ahead) - date_time).max(0) as u64;
        let expires = date_time + 1 + rng.below((horizon * 2).max(1)) as i64;
        let item_name = rng.string(20);
        let description = rng.string(100);
        let reserve = initial_bid + rng.price();
        Auction { id: self.last_auction(n) + FIRST_AUCTION_ID, item_name, description, initial_bid, reserve, date_time, expires, seller, category }
    }

    /// Bid event `n`.
    #[inline]
    pub fn bid(&self, n: u64) -> Bid {
        let c = &self.config;
        let mut rng = Rng::new(c.seed, n);
        let auction =
            if rng.below(c.hot_auction_ratio) > 0 { self.last_auction(n) / HOT_BLOCK * HOT_BLOCK } else { self.random_auction(n, &mut rng) } + FIRST_AUCTION_ID;
        // The hot bidder is the second of its block, so that it is not the hot seller.
        let bidder = if rng.below(c.hot_bidders_ratio) > 0 { self.last_person(n) / HOT_BLOCK * HOT_BLOCK + 1 } else { self.random_person(n, &mut rng) }
            + FIRST_PERSON_ID;
        Bid { auction, bidder, price: rng.price(), date_time: self.timestamp(n) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_ids_and_times() {
        let g = Generator::new(GeneratorConfig { first_event_time: 1_000, ..GeneratorConfig::default() });
        let events: Vec<Event> = (0..50_000).map(|n| g.event(n)).collect();
        let bids = events.iter().filter(|e| matches!(e, Event::Bid(_))).count();
        let persons = events.iter().filter(|e| matches!(e, Event::Person(_))).count();
        assert_eq!((persons, 50_000 - persons - bids, bids), (1000, 3000, 46_000));
        // Ids are dense and in order per kind.
        let ids: Vec<u64> = events.iter().filter_map(|e| if let Event::Auction(a) = e { Some(a.id) } else { None }).collect();
        assert_eq!(ids, (FIRST_AUCTION_ID..FIRST_AUCTION_ID + 3000).collect::<Vec<_>>());
        // 10 000 events per second of event time, in order.
        assert_eq!((g.timestamp(0), g.timestamp(9), g.timestamp(10), g.timestamp(10_000)), (1_000, 1_000, 1_001, 2_000));
        assert!(events.windows(2).all(|w| w[0].date_time() <= w[1].date_time()));
        // Bids reach only existing auctions (and a few ahead), prices in range, hot auction ~50 %.
        let mut hot = 0;
        for (n, e) in events.iter().enumerate() {
            if let Event::Bid(b) = e {
                assert!(b.auction <= g.last_auction(n as u64) + FIRST_AUCTION_ID + AUCTION_ID_LEAD);
                assert!((100..=100_000_000).contains(&b.price));
                hot += usize::from(b.auction == g.last_auction(n as u64) / HOT_BLOCK * HOT_BLOCK + FIRST_AUCTION_ID);
            }
        }
        assert!((0.45..0.56).contains(&(hot as f64 / bids as f64)), "hot share {hot}/{bids}");
        // Deterministic per (seed, n); another seed differs.
        assert_eq!(g.event(12_345), events[12_345]);
        let other = Generator::new(GeneratorConfig { seed: 7, ..GeneratorConfig::default() });
        assert_ne!(other.event(12_345), events[12_345]);
    }
}
