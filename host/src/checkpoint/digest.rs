//! The SHA-256 of a snapshot (its state file's address) and of each of its
//! pieces, without hashing again what did not change.
//!
//! An operator's state is mostly unchanged from one checkpoint to the next,
//! and SHA-256 runs at under 2 GB/s on one core. So each subtask's last
//! digests are remembered under an XXH3-128 fingerprint of the bytes (over
//! 20 GB/s): a snapshot whose fingerprint matches the last one reuses its
//! digests, and one that changed hashes the whole file (for its address) on
//! one thread while the pieces whose bytes changed are hashed on another.
//!
//! The fingerprint only ever saves work: a digest is reused for bytes whose
//! fingerprint equals that of the bytes it was computed from, of the same
//! subtask. An operator that forged a collision would get its own older
//! state back, which it could have returned anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::control::PieceHandle;
use crate::runtime::Part;

/// The digests of one snapshot.
#[derive(Debug)]
pub(super) struct Digests {
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
    /// Each piece with its offset, size and SHA-256 (empty for a 0.1.0 snapshot).
    pub pieces: Vec<PieceHandle>,
    /// Bytes run through SHA-256 for this snapshot (0 when nothing changed).
    pub hashed: u64,
}

/// What the last snapshot of each operator subtask hashed to, shared by the
/// clones of one job's uploader.
#[derive(Clone, Default)]
pub(super) struct Remembered(Arc<Mutex<HashMap<(String, usize), Last>>>);

/// One subtask's last digests.
struct Last {
    /// Fingerprint of the whole snapshot (its pieces' fingerprints and sizes).
    whole: u128,
    /// SHA-256 of the whole file.
    sha256: String,
    /// SHA-256 of each piece, by (fingerprint, size).
    pieces: HashMap<(u128, u64), String>,
}

impl Remembered {
    /// The digests of `chunks`, the state of `node`/`subtask`, made of `parts`
    /// in order (none: one piece the host does not look into).
    pub(super) fn hash(&self, node: &str, subtask: usize, chunks: &[Bytes], parts: &[Part]) -> Digests {
        let sizes: Vec<u64> = if parts.is_empty() { vec![chunks.iter().map(|c| c.len() as u64).sum()] } else { parts.iter().map(|p| p.size).collect() };
        let spans = split(chunks, &sizes);
        let fingerprints: Vec<u128> = spans.iter().map(|s| fingerprint(s)).collect();
        let whole = combine(&fingerprints, &sizes);
        let key = (node.to_string(), subtask);

        let (known_file, mut shas): (Option<String>, Vec<Option<String>>) = {
            let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&key) {
                Some(last) => (
                    (last.whole == whole).then(|| last.sha256.clone()),
                    fingerprints.iter().zip(&sizes).map(|(f, s)| last.pieces.get(&(*f, *s)).cloned()).collect(),
                ),
                None => (None, vec![None; sizes.len()]),
            }
        };
        // A 0.1.0 snapshot's one piece is the file: it has no digest of its own.
        let missing: Vec<usize> = if parts.is_empty() { Vec::new() } else { (0..sizes.len()).filter(|&i| shas[i].is_none()).collect() };
        let mut hashed: u64 = missing.iter().map(|&i| sizes[i]).sum();
        let hash_missing = |shas: &mut Vec<Option<String>>| {
            for &i in &missing {
                shas[i] = Some(sha256(spans[i].iter().copied()));
            }
        };
        let file_sha = match known_file {
            Some(sha) => {
                hash_missing(&mut shas);
                sha
            }
            None => {
                hashed += sizes.iter().sum::<u64>();
                // The whole file on one thread, the changed pieces on this one.
                std::thread::scope(|scope| {
                    let file = scope.spawn(|| sha256(chunks.iter().map(|c| &c[..])));
                    hash_missing(&mut shas);
                    // A panic here fails the upload (and so the checkpoint) instead of
                    // recording a digest that is not one.
                    file.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
            }
        };
        let piece_shas: Vec<String> = shas.into_iter().map(Option::unwrap_or_default).collect();

        let mut pieces = Vec::with_capacity(parts.len());
        let mut offset = 0u64;
        for (part, sha) in parts.iter().zip(&piece_shas) {
            pieces.push(PieceHandle { kind: part.kind, offset, size: part.size, sha256: sha.clone() });
            offset += part.size;
        }
        let remembered_pieces =
            if parts.is_empty() { HashMap::new() } else { fingerprints.iter().zip(&sizes).zip(piece_shas).map(|((f, s), sha)| ((*f, *s), sha)).collect() };
        let last = Last { whole, sha256: file_sha.clone(), pieces: remembered_pieces };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(key, last);
        Digests { sha256: file_sha, pieces, hashed }
    }
}

/// `chunks` cut into consecutive spans of `sizes` bytes (slices of the chunks).
fn split<'a>(chunks: &'a [Bytes], sizes: &[u64]) -> Vec<Vec<&'a [u8]>> {
    let mut spans = Vec::with_capacity(sizes.len());
    let mut rest: &[u8] = &[];
    let mut chunks = chunks.iter();
    for &size in sizes {
        let mut span = Vec::new();
        let mut need = size;
        while need > 0 {
            if rest.is_empty() {
                match chunks.next() {
                    Some(c) => rest = c,
                    None => break,
                }
                continue;
            }
            let n = need.min(rest.len() as u64) as usize;
            span.push(&rest[..n]);
            rest = &rest[n..];
            need -= n as u64;
        }
        spans.push(span);
    }
    spans
}

fn fingerprint(span: &[&[u8]]) -> u128 {
    let mut h = Xxh3::new();
    for s in span {
        h.update(s);
    }
    h.digest128()
}

/// One fingerprint for the whole snapshot: its pieces' fingerprints and sizes.
fn combine(fingerprints: &[u128], sizes: &[u64]) -> u128 {
    let mut h = Xxh3::new();
    for (f, s) in fingerprints.iter().zip(sizes) {
        h.update(&f.to_le_bytes());
        h.update(&s.to_le_bytes());
    }
    h.digest128()
}

fn sha256<'a>(bytes: impl Iterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for b in bytes {
        h.update(b);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{PieceKind, Redistribution};
    use crate::keys::HashRange;

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    fn chunked(data: &[u8], cuts: &[usize]) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([&data.len()]) {
            out.push(Bytes::copy_from_slice(&data[at..c]));
            at = c;
        }
        out
    }

    #[test]
    fn pieces_are_hashed_across_chunk_boundaries() {
        let data: Vec<u8> = (0..100u8).collect();
        let chunks = chunked(&data, &[7, 60]);
        let kind = PieceKind::Keyed(HashRange::ALL);
        let op = PieceKind::Operator(Redistribution::Union);
        let parts = [Part { kind: op, size: 0 }, Part { kind, size: 10 }, Part { kind, size: 90 }, Part { kind: op, size: 0 }];
        let d = Remembered::default().hash("op", 0, &chunks, &parts);
        assert_eq!(d.sha256, sha(&data));
        let got: Vec<(u64, u64, String)> = d.pieces.iter().map(|h| (h.offset, h.size, h.sha256.clone())).collect();
        assert_eq!(got, vec![(0, 0, sha(b"")), (0, 10, sha(&data[..10])), (10, 90, sha(&data[10..])), (100, 0, sha(b""))]);
    }

    #[test]
    fn unchanged_bytes_are_not_hashed_again_and_changed_ones_are() {
        let kind = PieceKind::Keyed(HashRange::ALL);
        let parts = [Part { kind, size: 40 }, Part { kind, size: 30 }, Part { kind, size: 30 }];
        let mut data: Vec<u8> = (0..100u8).collect();
        let remembered = Remembered::default();
        let first = remembered.hash("op", 1, &chunked(&data, &[50]), &parts);
        assert_eq!(first.hashed, 200, "the file and every piece");
        // Same bytes, chunked differently: nothing hashed, same digests.
        let again = remembered.hash("op", 1, &chunked(&data, &[3, 77]), &parts);
        assert_eq!(again.hashed, 0);
        assert_eq!((again.sha256.as_str(), again.pieces.len()), (first.sha256.as_str(), 3));
        assert_eq!(again.pieces.iter().map(|p| &p.sha256).collect::<Vec<_>>(), first.pieces.iter().map(|p| &p.sha256).collect::<Vec<_>>());
        // One piece changed: the file and that piece are hashed again.
        data[45] ^= 0xff;
        let changed = remembered.hash("op", 1, &chunked(&data, &[50]), &parts);
        assert_eq!(changed.hashed, 100 + 30);
        assert_eq!(changed.sha256, sha(&data));
        let shas: Vec<String> = changed.pieces.iter().map(|p| p.sha256.clone()).collect();
        assert_eq!(shas, vec![sha(&data[..40]), sha(&data[40..70]), sha(&data[70..])]);
        // Another subtask with the same bytes remembers nothing of this one.
        assert_eq!(remembered.hash("op", 2, &chunked(&data, &[50]), &parts).hashed, 200);
    }

    #[test]
    fn a_snapshot_without_pieces_is_one_file() {
        let data = vec![7u8; 1000];
        let remembered = Remembered::default();
        let first = remembered.hash("op", 0, &chunked(&data, &[100]), &[]);
        assert_eq!((first.sha256.clone(), first.pieces.len(), first.hashed), (sha(&data), 0, 1000));
        assert_eq!(remembered.hash("op", 0, &chunked(&data, &[]), &[]).hashed, 0);
        let other = vec![8u8; 1000];
        let changed = remembered.hash("op", 0, &chunked(&other, &[]), &[]);
        assert_eq!((changed.sha256, changed.hashed), (sha(&other), 1000));
    }
}
