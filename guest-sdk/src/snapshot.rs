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
    let (state, rest) = postcard::take_from_bytes(bytes).map_err(|e| format!("cannot decode state: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("cannot decode state: {} bytes left over after the state", rest.len()));
    }
    Ok(state)
}

/// Size of the pieces a snapshot is encoded into. The host reads up to 8 MiB
/// per `snapshot-read`, so each piece crosses whole, without another copy.
pub const PIECE: usize = 4 << 20;

/// A postcard flavor that writes into a list of [`PIECE`]-sized buffers: no
/// reallocation (and no copy of what was written) however large the state.
struct Pieces {
    done: Vec<Vec<u8>>,
    current: Vec<u8>,
}

impl postcard::ser_flavors::Flavor for Pieces {
    type Output = Vec<Vec<u8>>;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    fn try_extend(&mut self, mut data: &[u8]) -> postcard::Result<()> {
        while !data.is_empty() {
            if self.current.len() == PIECE {
                let full = std::mem::take(&mut self.current);
                self.done.push(full);
            }
            if self.current.capacity() == 0 {
                let want = if self.done.is_empty() { data.len().clamp(64, PIECE) } else { PIECE };
                self.current.try_reserve_exact(want).map_err(|_| postcard::Error::SerializeBufferFull)?;
            }
            let room = PIECE - self.current.len();
            let n = room.min(data.len());
            if self.current.len() + n > self.current.capacity() {
                // The first piece started small: grow it towards PIECE.
                let want = (self.current.len() + n).max(self.current.capacity() * 2).min(PIECE);
                self.current.try_reserve_exact(want - self.current.len()).map_err(|_| postcard::Error::SerializeBufferFull)?;
            }
            self.current.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<Vec<Vec<u8>>> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        Ok(self.done)
    }
}

/// Encodes `state` in the snapshot format (postcard) into pieces of at most
/// [`PIECE`] bytes, in order: what [`SnapshotReader`] hands out.
pub fn encode_state_in_pieces<S: Serialize + ?Sized>(state: &S) -> Result<Vec<Vec<u8>>, String> {
    let flavor = Pieces { done: Vec::new(), current: Vec::new() };
    postcard::serialize_with_flavor(state, flavor).map_err(|e| format!("cannot encode state: {e}"))
}

/// Hands out the bytes of the last snapshot in bounded chunks
/// (`snapshot-read`), and frees each piece once it was read. A piece that
/// fits in the chunk asked for is handed out as it is, without a copy.
#[derive(Debug, Default)]
pub struct SnapshotReader {
    pieces: std::collections::VecDeque<Vec<u8>>,
    /// Bytes of the front piece already read.
    pos: usize,
}

impl SnapshotReader {
    /// A reader with nothing to read.
    pub const fn empty() -> Self {
        SnapshotReader { pieces: std::collections::VecDeque::new(), pos: 0 }
    }

    /// A reader over `bytes`, replacing whatever was unread.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self::from_pieces(vec![bytes])
    }

    /// A reader over `pieces`, read in order.
    pub fn from_pieces(pieces: Vec<Vec<u8>>) -> Self {
        SnapshotReader { pieces: pieces.into_iter().filter(|p| !p.is_empty()).collect(), pos: 0 }
    }

    /// Number of bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.pieces.iter().map(Vec::len).sum::<usize>() - self.pos
    }

    /// The next at most `max_len` bytes; empty once everything was read (or
    /// when `max_len` is 0).
    pub fn read(&mut self, max_len: usize) -> Vec<u8> {
        let Some(front) = self.pieces.front() else {
            return Vec::new();
        };
        let left = front.len() - self.pos;
        if self.pos == 0 && left <= max_len {
            return self.pieces.pop_front().unwrap_or_default(); // whole piece: no copy
        }
        let n = left.min(max_len);
        let chunk = front[self.pos..self.pos + n].to_vec();
        self.pos += n;
        if self.pos == front.len() {
            self.pieces.pop_front();
            self.pos = 0;
        }
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
            return Err(format!("cannot restore state in format {:?}: this operator reads {FORMAT:?} only", info.format));
        }
        let expected = usize::try_from(info.size).map_err(|_| format!("cannot restore state of {} bytes: too large", info.size))?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(expected).map_err(|e| format!("cannot restore state of {expected} bytes: {e}"))?;
        Ok(RestoreWriter { version: info.version, expected, bytes })
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
            return Err(format!("restore-write: {total} bytes written but the state has {} bytes", self.expected));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// Checks that every announced byte arrived and returns the version and
    /// the bytes.
    pub fn finish(self) -> Result<(u32, Vec<u8>), String> {
        if self.bytes.len() != self.expected {
            return Err(format!("restore-finish: {} bytes written but the state has {} bytes", self.bytes.len(), self.expected));
        }
        Ok((self.version, self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(format: &str, version: u32, size: u64) -> StateInfo {
        StateInfo { format: format.into(), version, size }
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
        assert!(r.pieces.is_empty(), "freed after the last chunk");
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
    fn large_state_is_encoded_in_pieces_handed_out_whole() {
        // About 3 pieces: the same bytes as a single-buffer encoding.
        let state: Vec<u64> = (0..1_500_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let whole = encode_state(&state).unwrap();
        let pieces = encode_state_in_pieces(&state).unwrap();
        assert!(pieces.len() >= 2, "{} pieces", pieces.len());
        assert!(pieces.iter().all(|p| p.len() <= PIECE));
        assert_eq!(pieces.concat(), whole);
        let lens: Vec<usize> = pieces.iter().map(Vec::len).collect();
        let mut r = SnapshotReader::from_pieces(pieces);
        assert_eq!(r.remaining(), whole.len());
        // Read in host-sized chunks: each piece crosses whole.
        let read: Vec<Vec<u8>> = std::iter::from_fn(|| Some(r.read(8 << 20)).filter(|c| !c.is_empty())).collect();
        assert_eq!(read.iter().map(Vec::len).collect::<Vec<_>>(), lens);
        assert_eq!(read.concat(), whole);
        // Read in small chunks across piece boundaries.
        let mut r = SnapshotReader::from_pieces(encode_state_in_pieces(&state).unwrap());
        let read: Vec<Vec<u8>> = std::iter::from_fn(|| Some(r.read(1_000_003)).filter(|c| !c.is_empty())).collect();
        assert_eq!(read.concat(), whole);
        assert_eq!(encode_state_in_pieces(&()).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn decode_rejects_garbage_and_trailing_bytes() {
        let mut bytes = encode_state(&(1u32, 2u32)).unwrap();
        bytes.push(0);
        assert!(decode_state::<(u32, u32)>(&bytes).unwrap_err().contains("left over"));
        assert!(decode_state::<(u32, u32)>(&[]).unwrap_err().contains("cannot decode"));
    }
}
