//! The state half of the contract as plain Rust: encoding state, handing a
//! snapshot out in chunks ([`SnapshotReader`]) and taking one in
//! ([`RestoreWriter`]). The export glue ([`crate::runtime`]) drives these.

use serde::{Serialize, de::DeserializeOwned};

use crate::StateInfo;

/// The format name written in every snapshot's [`StateInfo`].
pub const FORMAT: &str = "postcard";

/// Encodes `state` in the snapshot format (postcard).
pub fn encode_state<S: Serialize + ?Sized>(state: &S) -> Result<Vec<u8>, String> {
    postcard::to_allocvec(state).map_err(|e| format!("cannot encode state: {e}"))
}

/// Decodes state written by [`encode_state`]; all of `bytes` must be used.
///
/// Also what an [`Operator::migrate`](crate::Operator::migrate) implementation
/// calls to read an older state type before converting it.
pub fn decode_state<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, String> {
    let (state, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| format!("cannot decode state: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "cannot decode state: {} bytes left over after the state",
            rest.len()
        ));
    }
    Ok(state)
}

/// Hands out the bytes of the last snapshot in bounded chunks
/// (`snapshot-read`), and frees them once all were read.
#[derive(Debug, Default)]
pub struct SnapshotReader {
    bytes: Vec<u8>,
    pos: usize,
}

impl SnapshotReader {
    /// A reader with nothing to read.
    pub const fn empty() -> Self {
        SnapshotReader {
            bytes: Vec::new(),
            pos: 0,
        }
    }

    /// A reader over `bytes`, replacing whatever was unread.
    pub fn new(bytes: Vec<u8>) -> Self {
        SnapshotReader { bytes, pos: 0 }
    }

    /// Number of bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next at most `max_len` bytes; empty once everything was read (or
    /// when `max_len` is 0). The buffer is freed with the last chunk.
    pub fn read(&mut self, max_len: usize) -> Vec<u8> {
        let n = self.remaining().min(max_len);
        if n == self.remaining() {
            // Last chunk: hand it out and free the buffer.
            let bytes = std::mem::take(&mut self.bytes);
            let start = std::mem::replace(&mut self.pos, 0);
            if start == 0 {
                return bytes; // the whole snapshot in one piece: no copy
            }
            return bytes[start..].to_vec();
        }
        let chunk = self.bytes[self.pos..self.pos + n].to_vec();
        self.pos += n;
        chunk
    }
}

/// Collects the bytes of a state being restored (`restore`,
/// `restore-write`, `restore-finish`).
#[derive(Debug)]
pub struct RestoreWriter {
    version: u32,
    expected: usize,
    bytes: Vec<u8>,
}

impl RestoreWriter {
    /// Starts a restore described by `info`: fails unless the format is
    /// [`FORMAT`], or if `info.size` bytes cannot be allocated.
    pub fn begin(info: &StateInfo) -> Result<Self, String> {
        if info.format != FORMAT {
            return Err(format!(
                "cannot restore state in format {:?}: this operator reads {FORMAT:?} only",
                info.format
            ));
        }
        let expected = usize::try_from(info.size)
            .map_err(|_| format!("cannot restore state of {} bytes: too large", info.size))?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(expected)
            .map_err(|e| format!("cannot restore state of {expected} bytes: {e}"))?;
        Ok(RestoreWriter {
            version: info.version,
            expected,
            bytes,
        })
    }

    /// The state schema version being restored.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Appends the next chunk; fails if the total would exceed the size
    /// announced to [`begin`](RestoreWriter::begin).
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
        let total = self.bytes.len() + chunk.len();
        if total > self.expected {
            return Err(format!(
                "restore-write: {total} bytes written but the state has {} bytes",
                self.expected
            ));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// Checks that every announced byte arrived and returns the version and
    /// the bytes.
    pub fn finish(self) -> Result<(u32, Vec<u8>), String> {
        if self.bytes.len() != self.expected {
            return Err(format!(
                "restore-finish: {} bytes written but the state has {} bytes",
                self.bytes.len(),
                self.expected
            ));
        }
        Ok((self.version, self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(format: &str, version: u32, size: u64) -> StateInfo {
        StateInfo {
            format: format.into(),
            version,
            size,
        }
    }

    #[test]
    fn reader_chunks_then_empties() {
        let data: Vec<u8> = (0..10).collect();
        let mut r = SnapshotReader::new(data.clone());
        assert_eq!(r.read(4), vec![0, 1, 2, 3]);
        assert_eq!(r.remaining(), 6);
        assert_eq!(r.read(0), Vec::<u8>::new());
        assert_eq!(r.read(4), vec![4, 5, 6, 7]);
        assert_eq!(r.read(4), vec![8, 9]);
        assert_eq!(r.bytes.capacity(), 0, "freed after the last chunk");
        assert_eq!(r.read(4), Vec::<u8>::new());

        let mut r = SnapshotReader::new(data.clone());
        assert_eq!(r.read(u32::MAX as usize), data);
        assert!(r.read(1).is_empty());
        let mut r = SnapshotReader::new(data.clone());
        assert_eq!(r.read(5), data[..5]);
        assert_eq!(r.read(5), data[5..]);
        assert!(r.read(5).is_empty());
        assert!(SnapshotReader::empty().read(8).is_empty());
    }

    #[test]
    fn writer_checks_format_and_size() {
        let err = RestoreWriter::begin(&info("json", 1, 3)).unwrap_err();
        assert!(err.contains("\"json\"") && err.contains("\"postcard\""), "{err}");

        let mut w = RestoreWriter::begin(&info("postcard", 7, 5)).unwrap();
        assert_eq!(w.version(), 7);
        w.write(b"ab").unwrap();
        w.write(b"").unwrap();
        assert!(w.write(b"cdef").unwrap_err().contains("6 bytes written"));
        w.write(b"cde").unwrap();
        assert_eq!(w.finish().unwrap(), (7, b"abcde".to_vec()));

        let mut w = RestoreWriter::begin(&info("postcard", 1, 5)).unwrap();
        w.write(b"abc").unwrap();
        assert!(w.finish().unwrap_err().contains("3 bytes written"));

        assert!(RestoreWriter::begin(&info("postcard", 1, u64::MAX)).is_err());
    }

    #[test]
    fn round_trip_through_chunks() {
        let state: Vec<(String, i64)> = (0..1000).map(|i| (format!("k{i}"), i * 3)).collect();
        let bytes = encode_state(&state).unwrap();
        let mut reader = SnapshotReader::new(bytes.clone());
        let mut writer = RestoreWriter::begin(&info(FORMAT, 1, bytes.len() as u64)).unwrap();
        loop {
            let chunk = reader.read(100);
            if chunk.is_empty() {
                break;
            }
            writer.write(&chunk).unwrap();
        }
        let (version, restored) = writer.finish().unwrap();
        assert_eq!((version, &restored), (1, &bytes));
        assert_eq!(decode_state::<Vec<(String, i64)>>(&restored).unwrap(), state);
    }

    #[test]
    fn decode_rejects_garbage_and_trailing_bytes() {
        let mut bytes = encode_state(&(1u32, 2u32)).unwrap();
        bytes.push(0);
        assert!(decode_state::<(u32, u32)>(&bytes).unwrap_err().contains("left over"));
        assert!(decode_state::<(u32, u32)>(&[]).unwrap_err().contains("cannot decode"));
    }
}
