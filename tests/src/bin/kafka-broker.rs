//! A local Apache Kafka broker for trying the Kafka examples: the tests' broker
//! (single node, KRaft, storage in a temporary directory) on 127.0.0.1.
//!
//! `cargo run --release -p cairn-tests --bin kafka-broker -- [--port 9092] [--topic NAME:PARTITIONS]…`
//! runs until Ctrl-C (or until its standard input closes); its data goes with it.

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut port, mut topics) = (9092u16, Vec::new());
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--port", Some(p)) => port = p.parse().expect("--port takes a number"),
            ("--topic", Some(t)) => {
                let (name, n) = t.split_once(':').unwrap_or((t.as_str(), "1"));
                topics.push((name.to_string(), n.parse::<i32>().expect("--topic NAME:PARTITIONS")));
            }
            _ => {
                eprintln!("usage: kafka-broker [--port 9092] [--topic NAME:PARTITIONS]…");
                std::process::exit(2);
            }
        }
    }
    let broker = cairn_tests::kafka::Broker::start_on(port);
    for (name, n) in &topics {
        broker.create_topic(name, *n);
        eprintln!("topic {name}: {n} partitions");
    }
    eprintln!("Kafka {} on {} (Ctrl-C to stop)", cairn_tests::kafka::KAFKA_VERSION, broker.bootstrap());
    // Until stdin closes (Ctrl-C ends the process; the broker's shell sees its stdin close).
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    drop(broker);
}
