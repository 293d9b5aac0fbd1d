//! Nexmark on Cairn: each query runs as a real pipeline (`nexmark` source →
//! query component → file sink) and its output file must equal, line for line
//! and ignoring order, what plain Rust computes here from the same generated
//! events. One run also fails and restarts mid-stream, to check that the
//! source's position and the query's state restore exactly once.

use std::collections::{BTreeMap, HashMap};

use cairn_tests::{operators, run_in_process, sorted_lines, write_pipeline};
use nexmark_model::{Bid, Event, Generator, GeneratorConfig};

/// What the `nexmark` source of one test generates.
#[derive(Clone, Copy)]
struct Stream {
    count: u64,
    seed: u64,
    event_rate: u64,
    first_event_time: i64,
}

impl Stream {
    /// The source's pipeline.yaml block.
    fn yaml(&self, extra: &str) -> String {
        format!(
            "  - id: nx\n    type: nexmark\n    count: {}\n    seed: {}\n    event-rate: {}\n    first-event-time: {}\n{extra}",
            self.count, self.seed, self.event_rate, self.first_event_time
        )
    }

    /// Every bid the source emits, regenerated here.
    fn bids(&self) -> Vec<Bid> {
        let g = Generator::new(GeneratorConfig {
            seed: self.seed,
            event_rate: self.event_rate,
            first_event_time: self.first_event_time,
            ..GeneratorConfig::default()
        });
        (0..self.count)
            .filter_map(|n| match g.event(n) {
                Event::Bid(b) => Some(b),
                _ => None,
            })
            .collect()
    }
}

/// Runs `nexmark → component (config) → file sink` and returns the sorted output lines.
fn run(stream: Stream, source_extra: &str, component: &str, operator_extra: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: nexmark-test
sources:
{}operators:
  - id: query
    component: {component}
    input: nx
{operator_extra}sinks:
  - id: out
    type: file
    input: query
    path: out.txt
    format: value
",
        stream.yaml(source_extra)
    );
    run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
    sorted_lines(&dir.path().join("out.txt"))
}

/// Runs `yaml(parallelism, source rate line)` at parallelism 2 and then 3
/// (`rate` events/s), each stopped with a savepoint once it completed a
/// checkpoint and the next restored from it, then at parallelism 1 to the
/// end; returns the sorted lines of `out.txt`.
fn rescaled_mid_run(dir: &std::path::Path, rate: u64, yaml: impl Fn(usize, &str) -> String) -> Vec<String> {
    let mut from = None;
    for (step, par) in [2, 3].into_iter().enumerate() {
        let p = write_pipeline(dir, &yaml(par, &format!("    rate: {rate}\n")));
        from = Some(crate::rescale::run_then_stop(&p, from.as_deref(), &dir.join(format!("{step}.log"))));
    }
    let p = write_pipeline(dir, &yaml(1, ""));
    let out = cairn_tests::host(&["run", p.to_str().unwrap(), "--from", from.unwrap().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sorted_lines(&dir.join("out.txt"))
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

const CSV: &str = "    config: { format: csv }\n";
const SMALL: Stream = Stream { count: 30_000, seed: 11, event_rate: 10_000, first_event_time: 1_000_000 };
/// 50 s of event time: several tumbling windows and many sliding ones.
const LONG: Stream = Stream { count: 50_000, seed: 5, event_rate: 1_000, first_event_time: 1_700_000_000_000 };

/// Expected q7 output: per tumbling 10 s window, every bid at the window's highest price.
fn expected_q7(bids: &[Bid]) -> Vec<String> {
    let mut best: BTreeMap<i64, (u64, Vec<&Bid>)> = BTreeMap::new();
    for b in bids {
        let w = best.entry(b.date_time.div_euclid(10_000)).or_insert((0, Vec::new()));
        if b.price > w.0 {
            *w = (b.price, Vec::new());
        }
        if b.price == w.0 {
            w.1.push(b);
        }
    }
    let rows = best.values().flat_map(|(_, bs)| bs.iter().map(|b| format!("{},{},{},{}", b.auction, b.price, b.bidder, b.date_time)));
    sorted(rows.collect())
}

#[test]
pub(crate) fn q0() {
    let want = sorted(SMALL.bids().iter().map(|b| format!("{},{},{},{}", b.auction, b.bidder, b.price, b.date_time)).collect());
    assert_eq!(want.len(), 27_600, "92 % of the events are bids");
    assert_eq!(run(SMALL, "", operators::NEXMARK_Q0, CSV), want);
}

#[test]
pub(crate) fn q1() {
    let want = SMALL.bids().iter().map(|b| format!("{},{},{},{}", b.auction, b.bidder, b.price * 908 / 1000, b.date_time)).collect();
    assert_eq!(run(SMALL, "", operators::NEXMARK_Q1, CSV), sorted(want));
}

#[test]
pub(crate) fn q2() {
    let want = sorted(SMALL.bids().iter().filter(|b| b.auction % 123 == 0).map(|b| format!("{},{}", b.auction, b.price)).collect());
    assert!(want.len() > 10, "the filter selects a few auctions ({})", want.len());
    assert_eq!(run(SMALL, "", operators::NEXMARK_Q2, CSV), want);
}

/// A `nexmark` source of two and of three subtasks emits exactly the events
/// of one: q1 (stateless) and q5 (sliding windows, closed by the watermarks
/// of all the source's subtasks) give the plain results.
#[test]
fn a_parallel_source_gives_the_results_of_one_subtask() {
    let want = SMALL.bids().iter().map(|b| format!("{},{},{},{}", b.auction, b.bidder, b.price * 908 / 1000, b.date_time)).collect();
    assert_eq!(run(SMALL, "    parallelism: 2\n", operators::NEXMARK_Q1, CSV), sorted(want));
    assert_eq!(run(LONG, "    parallelism: 3\n", operators::NEXMARK_Q5, ""), q5_expected(LONG));
}

/// What q5 must output for `stream` (10 s windows every 2 s), computed in plain Rust, sorted.
fn q5_expected(stream: Stream) -> Vec<String> {
    // Every window [s, s + 10 s) with s a multiple of 2 s that holds a bid:
    // the auctions with the most bids in it.
    let mut counts: BTreeMap<i64, HashMap<u64, u64>> = BTreeMap::new();
    for b in stream.bids() {
        let last_start = b.date_time.div_euclid(2_000) * 2_000;
        for s in (last_start - 8_000..=last_start).step_by(2_000) {
            *counts.entry(s).or_default().entry(b.auction).or_default() += 1;
        }
    }
    let mut want = Vec::new();
    for (s, per_auction) in &counts {
        let max = per_auction.values().max().unwrap();
        want.extend(per_auction.iter().filter(|(_, n)| *n == max).map(|(a, n)| format!("{s},{},{a},{n}", s + 10_000)));
    }
    sorted(want)
}

#[test]
pub(crate) fn q5() {
    let want = q5_expected(LONG);
    assert_eq!(
        want.iter().map(|l| l.split(',').next().unwrap()).collect::<std::collections::BTreeSet<_>>().len(),
        29,
        "50 s of bids fall in 29 sliding windows"
    );
    assert_eq!(run(LONG, "", operators::NEXMARK_Q5, ""), want);
}

/// q5 in two stages — counts per auction (keyed, parallel), then the hottest
/// per window (parallelism 1) — stopped with a savepoint at parallelism 2 and
/// at 3 and finished at 1: the same rows as plain Rust computes.
#[test]
fn q5_in_two_stages_rescaled_mid_run_gives_the_plain_results() {
    let want = q5_expected(LONG);
    let dir = tempfile::tempdir().unwrap();
    let yaml = |par: usize, rate: &str| {
        format!(
            "name: q5-rescale
sources:
{}operators:
  - id: counts
    component: {q5}
    input: nx
    key-by: true
    parallelism: {par}
    config: {{ stage: counts }}
  - id: hottest
    component: {q5}
    input: counts
    config: {{ stage: hottest }}
sinks:
  - id: out
    type: file
    input: hottest
    path: out.txt
    format: value
checkpoints:
  interval: 200ms
{}",
            LONG.yaml(&format!("    key: id\n{rate}")),
            crate::savepoints::API,
            q5 = operators::NEXMARK_Q5,
        )
    };
    let got = rescaled_mid_run(dir.path(), 5000, yaml);
    assert_eq!(got, want);
    // The same two stages without interruption, for good measure.
    let p = write_pipeline(dir.path(), &yaml(2, "").replace("name: q5-rescale", "name: q5-straight").replace("path: out.txt", "path: straight.txt"));
    let out = cairn_tests::host(&["run", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sorted_lines(&dir.path().join("straight.txt")), want);
}

#[test]
pub(crate) fn q7() {
    let want = expected_q7(&LONG.bids());
    assert!(want.len() >= 5, "one row per window at least: {want:?}");
    assert_eq!(run(LONG, "", operators::NEXMARK_Q7, ""), want);
}

/// q7 in two stages — each subtask's best bids per window (keyed by auction),
/// then the window's best (parallelism 1) — stopped with a savepoint at
/// parallelism 2 and 3 and finished at 1: the same rows as plain Rust.
#[test]
fn q7_in_two_stages_rescaled_mid_run_gives_the_plain_results() {
    let want = expected_q7(&LONG.bids());
    let dir = tempfile::tempdir().unwrap();
    let yaml = |par: usize, rate: &str| {
        format!(
            "name: q7-rescale
sources:
{}operators:
  - id: partial
    component: {q7}
    input: nx
    key-by: true
    parallelism: {par}
    config: {{ stage: partial }}
  - id: final
    component: {q7}
    input: partial
    config: {{ stage: final }}
sinks:
  - id: out
    type: file
    input: final
    path: out.txt
    format: value
checkpoints:
  interval: 200ms
{}",
            LONG.yaml(&format!("    key: id\n{rate}")),
            crate::savepoints::API,
            q7 = operators::NEXMARK_Q7,
        )
    };
    let got = rescaled_mid_run(dir.path(), 5000, yaml);
    assert_eq!(got, want);
}

/// `yyyy-mm-dd` of a day count since 1970-01-01, by walking the calendar.
fn day_name(mut days: i64) -> String {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut year = 1970;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let months = [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= months[month] {
        days -= months[month];
        month += 1;
    }
    format!("{year:04}-{:02}-{:02}", month + 1, days + 1)
}

/// What q17 must output for `stream`, computed in plain Rust, sorted.
fn q17_expected(stream: Stream) -> Vec<String> {
    #[derive(Default)]
    struct Agg {
        total: u64,
        ranks: [u64; 3],
        min: u64,
        max: u64,
        sum: u64,
    }
    let mut aggs: BTreeMap<(u64, i64), Agg> = BTreeMap::new();
    for b in stream.bids() {
        let a = aggs.entry((b.auction, b.date_time.div_euclid(86_400_000))).or_insert(Agg { min: u64::MAX, ..Agg::default() });
        a.total += 1;
        a.ranks[usize::from(b.price >= 10_000) + usize::from(b.price >= 1_000_000)] += 1;
        a.min = a.min.min(b.price);
        a.max = a.max.max(b.price);
        a.sum += b.price;
    }
    let want: Vec<String> = aggs
        .iter()
        .map(|((auction, day), a)| {
            let [r1, r2, r3] = a.ranks;
            format!("{auction},{},{},{r1},{r2},{r3},{},{},{},{}", day_name(*day), a.total, a.min, a.max, a.sum / a.total, a.sum)
        })
        .collect();
    sorted(want)
}

#[test]
pub(crate) fn q17() {
    // Two seconds before midnight UTC (2024-10-04), so that the stream spans two days.
    let stream = Stream { first_event_time: 20_000 * 86_400_000 - 2_000, ..SMALL };
    let want = q17_expected(stream);
    assert!(want.iter().any(|l| l.contains(",2024-10-03,")) && want.iter().any(|l| l.contains(",2024-10-04,")));
    // Keyed by auction over two subtasks: each keeps the state of its auctions.
    let keyed = "    key-by: true\n    parallelism: 2\n";
    assert_eq!(run(stream, "    key: id\n", operators::NEXMARK_Q17, keyed), want);
}

/// q17 keyed by auction, stopped with a savepoint at parallelism 2 and at 3,
/// finished at 1: the same rows as plain Rust computes.
#[test]
fn q17_rescaled_mid_run_gives_the_plain_results() {
    let stream = Stream { first_event_time: 20_000 * 86_400_000 - 2_000, ..SMALL };
    let want = q17_expected(stream);
    let dir = tempfile::tempdir().unwrap();
    let yaml = |par: usize, rate: &str| {
        format!(
            "name: q17-rescale
sources:
{}operators:
  - id: count
    component: {}
    input: nx
    key-by: true
    parallelism: {par}
sinks:
  - id: out
    type: file
    input: count
    path: out.txt
    format: value
checkpoints:
  interval: 200ms
{}",
            stream.yaml(&format!("    key: id\n{rate}")),
            operators::NEXMARK_Q17,
            crate::savepoints::API
        )
    };
    let got = rescaled_mid_run(dir.path(), 4000, yaml);
    assert_eq!(got, want);
}

/// A job that fails for a while after its first checkpoints restarts from the
/// last one: the source resumes at its recorded event number and q7 from its
/// snapshot, and the committed output is exactly the expected one.
#[test]
fn restart_resumes_exactly_once() {
    let stream = Stream { count: 40_000, seed: 9, event_rate: 1_000, first_event_time: 0 };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: nexmark-restart
sources:
{}operators:
  - id: wobbly
    component: {faulty}
    input: nx
    config: {{ fail-in: process, how: panic, from: {from}, until: {until} }}
  - id: q7
    component: {q7}
    input: wobbly
sinks:
  - id: out
    type: file
    input: q7
    path: out.txt
    format: value
checkpoints:
  interval: 100ms
restart: {{ strategy: fixed-delay, delay: 200ms, attempts: 20 }}
",
        stream.yaml("    rate: 20000\n"),
        faulty = operators::FAULTY,
        q7 = operators::NEXMARK_Q7,
        from = now + 600,
        until = now + 1000,
    );
    let summary = run_in_process(&write_pipeline(dir.path(), &yaml)).unwrap();
    assert!(summary.restarts >= 1, "expected a restart, got {}", summary.restarts);
    assert_eq!(sorted_lines(&dir.path().join("out.txt")), expected_q7(&stream.bids()));
}

/// What q8 must output for `stream` (10 s windows), computed in plain Rust, sorted.
fn q8_expected(stream: Stream) -> Vec<String> {
    let g = Generator::new(GeneratorConfig {
        seed: stream.seed,
        event_rate: stream.event_rate,
        first_event_time: stream.first_event_time,
        ..GeneratorConfig::default()
    });
    let (mut persons, mut sellers) = (BTreeMap::new(), std::collections::BTreeSet::new());
    for n in 0..stream.count {
        match g.event(n) {
            Event::Person(p) => {
                persons.insert((p.id, p.date_time.div_euclid(10_000) * 10_000), p.name);
            }
            Event::Auction(a) => {
                sellers.insert((a.seller, a.date_time.div_euclid(10_000) * 10_000));
            }
            Event::Bid(_) => {}
        }
    }
    sorted(persons.iter().filter(|(k, _)| sellers.contains(k)).map(|((id, start), name)| format!("{id},{name},{start}")).collect())
}

/// The q8 pipeline: persons and auctions split off the stream, then joined by person id.
fn q8_yaml(stream: Stream, par: usize, source_extra: &str, extra: &str) -> String {
    join_yaml(operators::NEXMARK_Q8, stream, par, source_extra, extra)
}

/// A join query's pipeline (q3, q8): its component's `persons` and `auctions`
/// stages split the stream, its `join` stage (keyed, parallelism `par`) joins them.
fn join_yaml(component: &str, stream: Stream, par: usize, source_extra: &str, extra: &str) -> String {
    format!(
        "name: q8
sources:
{}operators:
  - id: persons
    component: {q8}
    input: nx
    config: {{ stage: persons }}
  - id: auctions
    component: {q8}
    input: nx
    config: {{ stage: auctions }}
  - id: join
    component: {q8}
    input: [persons, auctions]
    key-by: true
    parallelism: {par}
    config: {{ stage: join }}
sinks:
  - id: out
    type: file
    input: join
    path: out.txt
    format: value
{extra}",
        stream.yaml(source_extra),
        q8 = component,
    )
}

/// q8, a window join of two inputs: as plain Rust computes it, also when
/// stopped with a savepoint at parallelism 2 and 3 and finished at 1.
#[test]
pub(crate) fn q8() {
    let want = q8_expected(LONG);
    assert!(want.len() >= 3, "new people who sold within their first window: {want:?}");
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(dir.path(), &q8_yaml(LONG, 2, "", ""));
    run_in_process(&p).unwrap();
    assert_eq!(sorted_lines(&dir.path().join("out.txt")), want);

    let dir = tempfile::tempdir().unwrap();
    let extra = format!("checkpoints:\n  interval: 200ms\n{}", crate::savepoints::API);
    let got = rescaled_mid_run(dir.path(), 8000, |par, rate| q8_yaml(LONG, par, rate, &extra));
    assert_eq!(got, want);
}

/// What q3 must output for `stream`, computed in plain Rust, sorted.
fn q3_expected(stream: Stream) -> Vec<String> {
    let g = Generator::new(GeneratorConfig {
        seed: stream.seed,
        event_rate: stream.event_rate,
        first_event_time: stream.first_event_time,
        ..GeneratorConfig::default()
    });
    let (mut persons, mut auctions) = (HashMap::new(), Vec::new());
    for n in 0..stream.count {
        match g.event(n) {
            Event::Person(p) if matches!(p.state.as_str(), "OR" | "ID" | "CA") => {
                persons.insert(p.id, format!("{},{},{}", p.name, p.city, p.state));
            }
            Event::Auction(a) if a.category == 10 => auctions.push((a.seller, a.id)),
            _ => {}
        }
    }
    sorted(auctions.iter().filter_map(|(seller, id)| persons.get(seller).map(|p| format!("{p},{id}"))).collect())
}

/// q3, an incremental join: as plain Rust computes it, also when stopped with
/// a savepoint at parallelism 2 and 3 and finished at 1.
#[test]
pub(crate) fn q3() {
    let want = q3_expected(LONG);
    assert!(want.len() >= 20, "{want:?}");
    let dir = tempfile::tempdir().unwrap();
    run_in_process(&write_pipeline(dir.path(), &join_yaml(operators::NEXMARK_Q3, LONG, 2, "", ""))).unwrap();
    assert_eq!(sorted_lines(&dir.path().join("out.txt")), want);

    let dir = tempfile::tempdir().unwrap();
    let extra = format!("checkpoints:\n  interval: 200ms\n{}", crate::savepoints::API);
    let got = rescaled_mid_run(dir.path(), 8000, |par, rate| join_yaml(operators::NEXMARK_Q3, LONG, par, rate, &extra));
    assert_eq!(got, want);
}
