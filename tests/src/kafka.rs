//! A real Apache Kafka broker for the tests and benchmarks: single node, KRaft
//! mode, on 127.0.0.1 with free ports. Its jars are resolved by Maven from
//! `tests/kafka/pom.xml` into `target/kafka-broker/` on first use; the broker
//! runs with `java -cp` under a shell that kills it when this process goes away
//! (its stdin closes), so no broker outlives the tests, even a killed test run.
//! Also the tests' own clients: topics, records in, a `read_committed` reader.

use crate::target_dir;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A record as the tests write and read it: (partition, key, value, timestamp).
pub type Record = (i32, Option<Vec<u8>>, Vec<u8>, i64);

/// The Kafka version the tests run (the pom names it).
pub const KAFKA_VERSION: &str = "4.4.0";

/// The broker's class path: the jars, resolved once (a marker file says they are complete).
/// Tests start brokers in parallel: the first resolves, the others wait for it (two Maven
/// runs copying into one directory at once fail).
fn classpath() -> String {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH.get_or_init(resolve_classpath).clone()
}

fn resolve_classpath() -> String {
    let root = target_dir().join("kafka-broker");
    let jars = root.join("jars");
    let done = jars.join(format!(".complete-{KAFKA_VERSION}"));
    if !done.exists() {
        let pom = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kafka/pom.xml");
        let t = Instant::now();
        let out = Command::new("mvn")
            .args(["-q", "-B", "-f"])
            .arg(&pom)
            .arg("dependency:copy-dependencies")
            .arg(format!("-DoutputDirectory={}", jars.display()))
            .arg(format!("-Dmaven.repo.local={}", root.join("m2").display()))
            .output()
            .expect("cannot run mvn (Maven resolves the Kafka broker for the tests)");
        assert!(
            out.status.success(),
            "mvn could not resolve the Kafka broker:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&done, b"").unwrap();
        eprintln!("kafka broker jars resolved in {:.1}s", t.elapsed().as_secs_f64());
    }
    format!("{}/*", jars.display())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One broker process (and its controller, in the same JVM).
pub struct Broker {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Broker {
    /// Formats a fresh storage directory and starts a broker on free ports.
    pub fn start() -> Broker {
        Broker::start_on(free_port())
    }

    /// Like [`Broker::start`], listening on `port`.
    pub fn start_on(port: u16) -> Broker {
        let dir = tempfile::Builder::new().prefix("kafka-").tempdir().unwrap();
        let controller = free_port();
        let props = format!(
            "process.roles=broker,controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:{controller}\n\
             listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\ncontroller.listener.names=CONTROLLER\n\
             listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\ninter.broker.listener.name=PLAINTEXT\n\
             log.dirs={}\noffsets.topic.replication.factor=1\noffsets.topic.num.partitions=1\n\
             transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\ntransaction.state.log.num.partitions=1\n\
             group.initial.rebalance.delay.ms=0\nlog.retention.ms=-1\nauto.create.topics.enable=false\nlog.flush.interval.messages=1000000\n",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("server.properties"), props).unwrap();
        let cp = classpath();
        let out = Command::new("java")
            .args(["-cp", &cp, "kafka.tools.StorageTool", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qk", "-c"])
            .arg(dir.path().join("server.properties"))
            .output()
            .expect("cannot run java (Java 17 runs the Kafka broker for the tests)");
        assert!(out.status.success(), "cannot format the broker's storage:\n{}", String::from_utf8_lossy(&out.stderr));
        let mut broker = Broker { dir, port, child: None };
        broker.resume();
        broker
    }

    /// `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the (stopped) broker again on the same ports and storage; returns once it serves.
    pub fn resume(&mut self) {
        let t = Instant::now();
        let cp = classpath();
        let props = self.dir.path().join("server.properties");
        let log = std::fs::File::create(self.dir.path().join("broker.log")).unwrap();
        // The shell stops the JVM when our end of its stdin closes (we exited or stopped
        // it), or kills it outright when it reads `crash` there.
        let script = format!(
            "java -Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp '{cp}' kafka.Kafka '{}' & j=$!; \
             read how; if [ \"$how\" = crash ]; then kill -9 $j; else kill $j; fi; wait $j",
            props.display()
        );
        let child =
            Command::new("sh").args(["-c", &script]).stdin(Stdio::piped()).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("start the broker");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the Kafka broker did not listen on {} within 90 s:\n{}", self.port, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        // Listening is not serving: wait until metadata answers.
        let probe: BaseProducer = ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().unwrap();
        while probe.client().fetch_metadata(None, Duration::from_secs(2)).map(|m| m.brokers().is_empty()).unwrap_or(true) {
            assert!(Instant::now() < deadline, "the Kafka broker did not serve metadata within 90 s:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("kafka broker on {} up in {:.1}s", self.bootstrap(), t.elapsed().as_secs_f64());
    }

    /// Stops the broker (its storage stays, for [`Broker::resume`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }

    /// Kills the broker's process (SIGKILL), as a crash would; its storage stays, for
    /// [`Broker::resume`]. The tests of broker restarts use this rather than a clean
    /// stop: with Kafka 4.4.0, a clean shutdown that raced an `EndTxn` was seen to record the
    /// transaction as committed while its COMMIT markers never reached the partitions
    /// (a hanging transaction that keeps `read_committed` readers at its first offset
    /// for good); after a crash the coordinator finishes the commit when it loads.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"crash\n");
            }
            let _ = child.wait();
        }
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().unwrap();
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let result = futures::executor::block_on(admin.create_topics([&new], &opts)).expect("create topic");
        for r in result {
            r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
        }
        // Until every partition has a leader.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let md = admin.inner().fetch_metadata(Some(topic), Duration::from_secs(5)).unwrap();
            let t = &md.topics()[0];
            if t.error().is_none() && t.partitions().len() == partitions as usize && t.partitions().iter().all(|p| p.leader() >= 0) {
                return;
            }
            assert!(Instant::now() < deadline, "topic {topic} has no leaders after 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes `(partition, key, value, timestamp)` records (not transactionally).
    pub fn produce(&self, topic: &str, records: &[Record]) {
        let producer: BaseProducer =
            ClientConfig::new().set("bootstrap.servers", self.bootstrap()).set("linger.ms", "20").set("enable.idempotence", "true").create().unwrap();
        for (p, k, v, ts) in records {
            let mut r: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).partition(*p).payload(v.as_slice()).timestamp(*ts);
            if let Some(k) = k {
                r = r.key(k.as_slice());
            }
            loop {
                match producer.send(r) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), back)) => {
                        r = back;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => panic!("produce: {e}"),
                }
            }
        }
        producer.flush(Duration::from_secs(60)).expect("flush");
    }

    /// Every committed record of `topic` (`read_committed`), as (partition, key, value).
    pub fn read_committed(&self, topic: &str) -> Vec<(i32, Option<Vec<u8>>, Vec<u8>)> {
        self.read_committed_at(topic).into_iter().map(|(p, k, v, _)| (p, k, v)).collect()
    }

    /// Like [`Broker::read_committed`], with each record's timestamp.
    pub fn read_committed_at(&self, topic: &str) -> Vec<Record> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("group.id", "cairn-tests-reader")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
        let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(topic, *p, Offset::Beginning).unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut at_end = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while at_end.len() < partitions.len() {
            assert!(Instant::now() < deadline, "reading {topic} took more than 60 s");
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    out.push((m.partition(), m.key().map(<[u8]>::to_vec), m.payload().unwrap_or_default().to_vec(), m.timestamp().to_millis().unwrap_or(-1)))
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => panic!("reading {topic}: {e}"),
                None => {}
            }
        }
        out
    }
}

impl Broker {
    /// The offsets consumer group `group` has committed for `topic`, by partition.
    pub fn group_offsets(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", self.bootstrap()).set("group.id", group).create().unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let got = consumer.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        (0..partitions)
            .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => -1,
            })
            .collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One broker for the whole test binary (or benchmark), started on first use.
pub fn shared_broker() -> &'static Broker {
    static BROKER: OnceLock<Broker> = OnceLock::new();
    BROKER.get_or_init(Broker::start)
}

/// A topic name no other test uses.
pub fn unique_topic(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}
