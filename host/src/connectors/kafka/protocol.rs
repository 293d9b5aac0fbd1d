//! The three Kafka protocol requests that librdkafka cannot make for us, spoken
//! directly over TCP: FindCoordinator, DescribeTransactions and EndTxn.
//!
//! They finish a transaction that a dead process left open: librdkafka can only
//! end the transactions of its own producer instance, and a new instance that
//! takes over a transactional id aborts what was open (`init_transactions`
//! fences). Finishing the transaction of a completed checkpoint needs an
//! `EndTxn(commit)` carrying the dead producer's id and epoch, as Flink's Kafka
//! sink does through reflection. Only plaintext connections: a broker that
//! requires TLS or SASL gets a clear error at recovery instead.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A transaction as the transaction coordinator describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnState {
    /// `Empty`, `Ongoing`, `PrepareCommit`, `PrepareAbort`, `CompleteCommit`, `CompleteAbort`, …
    pub state: String,
    /// The producer id holding the transactional id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
}

/// A failed request: what was asked and why it failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

const FIND_COORDINATOR: i16 = 10;
const END_TXN: i16 = 26;
const DESCRIBE_TRANSACTIONS: i16 = 65;

/// A plaintext connection to one broker.
struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    fn open(addr: &str, timeout: Duration) -> Result<Conn, ProtocolError> {
        let err = |e: std::io::Error| ProtocolError(format!("cannot connect to {addr}: {e}"));
        let sock = addr.to_socket_addrs().map_err(err)?.next().ok_or_else(|| ProtocolError(format!("{addr} resolves to no address")))?;
        let stream = TcpStream::connect_timeout(&sock, timeout).map_err(err)?;
        stream.set_read_timeout(Some(timeout)).map_err(err)?;
        stream.set_write_timeout(Some(timeout)).map_err(err)?;
        Ok(Conn { stream, correlation: 0 })
    }

    /// Sends a flexible-version request (header v2) and returns the response body.
    fn call(&mut self, api_key: i16, version: i16, body: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        self.correlation += 1;
        let mut msg = Vec::with_capacity(body.len() + 32);
        msg.extend_from_slice(&api_key.to_be_bytes());
        msg.extend_from_slice(&version.to_be_bytes());
        msg.extend_from_slice(&self.correlation.to_be_bytes());
        let client = b"cairn-recovery";
        msg.extend_from_slice(&(client.len() as i16).to_be_bytes());
        msg.extend_from_slice(client);
        msg.push(0); // no tagged fields
        msg.extend_from_slice(body);
        let io = |e: std::io::Error| ProtocolError(format!("request {api_key} failed: {e}"));
        self.stream.write_all(&(msg.len() as i32).to_be_bytes()).map_err(io)?;
        self.stream.write_all(&msg).map_err(io)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(io)?;
        let len = i32::from_be_bytes(len);
        if !(4..=16 << 20).contains(&len) {
            return Err(ProtocolError(format!("response of {len} bytes to request {api_key}")));
        }
        let mut resp = vec![0u8; len as usize];
        self.stream.read_exact(&mut resp).map_err(io)?;
        let mut r = Reader { buf: &resp, pos: 0 };
        let correlation = r.i32()?;
        if correlation != self.correlation {
            return Err(ProtocolError(format!("response to request {correlation}, expected {}", self.correlation)));
        }
        r.tagged()?;
        Ok(resp[r.pos..].to_vec())
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ProtocolError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| ProtocolError("truncated response".into()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i16(&mut self) -> Result<i16, ProtocolError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn i64(&mut self) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn uvarint(&mut self) -> Result<u64, ProtocolError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ProtocolError("bad varint in response".into()))
    }
    /// A compact (nullable) string: `None` for null.
    fn compact_string(&mut self) -> Result<Option<String>, ProtocolError> {
        let n = self.uvarint()?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(self.take(n as usize - 1)?).into_owned()))
    }
    fn compact_len(&mut self) -> Result<usize, ProtocolError> {
        Ok(self.uvarint()?.saturating_sub(1) as usize)
    }
    fn tagged(&mut self) -> Result<(), ProtocolError> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_compact_string(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64 + 1);
    out.extend_from_slice(s.as_bytes());
}

/// Talks to the transaction coordinator of transactional ids, found through the bootstrap servers.
pub struct TxnClient {
    bootstrap: Vec<String>,
    timeout: Duration,
    /// `None`: the brokers speak plaintext; `Some(protocol)`: they do not, and this client cannot talk to them.
    unsupported: Option<String>,
}

impl TxnClient {
    /// A client for the comma-separated `bootstrap` servers, reached with
    /// `security_protocol` (only `plaintext` is spoken here).
    pub fn new(bootstrap: &str, security_protocol: Option<&str>, timeout: Duration) -> TxnClient {
        let bootstrap = bootstrap.split(',').map(|s| s.trim().trim_start_matches("PLAINTEXT://").to_string()).filter(|s| !s.is_empty()).collect();
        let unsupported = security_protocol.filter(|p| !p.eq_ignore_ascii_case("plaintext")).map(str::to_string);
        TxnClient { bootstrap, timeout, unsupported }
    }

    /// Whether this client can reach the brokers at all.
    pub fn supported(&self) -> bool {
        self.unsupported.is_none()
    }

    /// A connection to the transaction coordinator of `txn_id`.
    fn coordinator(&self, txn_id: &str) -> Result<Conn, ProtocolError> {
        if let Some(p) = &self.unsupported {
            return Err(ProtocolError(format!("the recovery client speaks plaintext only, the brokers `security.protocol: {p}`")));
        }
        let mut last = ProtocolError("no bootstrap servers".into());
        for addr in &self.bootstrap {
            let found = Conn::open(addr, self.timeout).and_then(|mut c| {
                // FindCoordinator v3: key, key type 1 (transaction).
                let mut body = Vec::new();
                put_compact_string(&mut body, txn_id);
                body.push(1);
                body.push(0);
                let resp = c.call(FIND_COORDINATOR, 3, &body)?;
                let mut r = Reader { buf: &resp, pos: 0 };
                let _throttle = r.i32()?;
                let error = r.i16()?;
                let message = r.compact_string()?;
                let _node = r.i32()?;
                let host = r.compact_string()?.unwrap_or_default();
                let port = r.i32()?;
                if error != 0 {
                    return Err(ProtocolError(format!("FindCoordinator for `{txn_id}`: error {error} {}", message.unwrap_or_default())));
                }
                Ok(format!("{host}:{port}"))
            });
            match found {
                Ok(addr) => return Conn::open(&addr, self.timeout),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// How the coordinator sees `txn_id` (`None`: it has never been used).
    pub fn describe(&self, txn_id: &str) -> Result<Option<TxnState>, ProtocolError> {
        let mut conn = self.coordinator(txn_id)?;
        let mut body = Vec::new();
        put_uvarint(&mut body, 2);
        put_compact_string(&mut body, txn_id);
        body.push(0);
        let resp = conn.call(DESCRIBE_TRANSACTIONS, 0, &body)?;
        let mut r = Reader { buf: &resp, pos: 0 };
        let _throttle = r.i32()?;
        if r.compact_len()? != 1 {
            return Err(ProtocolError(format!("DescribeTransactions for `{txn_id}`: not one answer")));
        }
        let error = r.i16()?;
        let _id = r.compact_string()?;
        let state = r.compact_string()?.unwrap_or_default();
        let _timeout = r.i32()?;
        let _start = r.i64()?;
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        match error {
            0 => Ok(Some(TxnState { state, producer_id, producer_epoch })),
            // TRANSACTIONAL_ID_NOT_FOUND
            105 => Ok(None),
            e => Err(ProtocolError(format!("DescribeTransactions for `{txn_id}`: error {e}"))),
        }
    }

    /// Commits (or aborts) the open transaction of `txn_id` held by `producer_id` at `epoch`.
    pub fn end(&self, txn_id: &str, producer_id: i64, epoch: i16, commit: bool) -> Result<(), ProtocolError> {
        let mut conn = self.coordinator(txn_id)?;
        let mut body = Vec::new();
        put_compact_string(&mut body, txn_id);
        body.extend_from_slice(&producer_id.to_be_bytes());
        body.extend_from_slice(&epoch.to_be_bytes());
        body.push(commit as u8);
        body.push(0);
        let resp = conn.call(END_TXN, 3, &body)?;
        let mut r = Reader { buf: &resp, pos: 0 };
        let _throttle = r.i32()?;
        match r.i16()? {
            0 => Ok(()),
            e => Err(ProtocolError(format!("EndTxn(commit={commit}) for `{txn_id}` (producer {producer_id}, epoch {epoch}): error {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35] {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            assert_eq!(Reader { buf: &out, pos: 0 }.uvarint().unwrap(), v);
        }
    }

    #[test]
    fn truncated_responses_are_errors() {
        let mut r = Reader { buf: &[5, b'a'], pos: 0 };
        assert!(r.compact_string().is_err());
    }
}
