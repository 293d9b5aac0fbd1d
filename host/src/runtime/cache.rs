//! An on-disk cache of compiled components, so that a second run of a pipeline
//! does not compile its components again (a 12–18 MB Python or JavaScript
//! component takes 8–9 s to compile in a release host; loading it from the
//! cache takes a fraction of that).
//!
//! An entry is keyed by the SHA-256 of the component's bytes and by the
//! engine's [`Engine::precompile_compatibility_hash`] (wasmtime version, target
//! and every compilation setting, e.g. fuel on or off), so a different
//! component or an engine that compiles differently never sees it. Its file
//! is a small header (magic, length and XXH3-128 of the payload) followed by
//! the payload from [`Component::serialize`]; the checksum is verified before
//! wasmtime reads the payload. Entries are written to a temporary file and
//! renamed into place, so a reader never sees half an entry. An unreadable,
//! corrupt or incompatible entry is logged as a warning, recompiled and
//! replaced; a cache that cannot be written is logged and otherwise ignored.
//!
//! Location: `$CAIRN_CACHE_DIR`, else `$XDG_CACHE_HOME/cairn`, else
//! `~/.cache/cairn`, with entries under `components/`. `CAIRN_COMPILE_CACHE=off`
//! turns the cache off. When the entries exceed [`DEFAULT_MAX_SIZE`] after a
//! write, the least recently used ones are deleted (a hit counts as a use).

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// First bytes of every entry (the last byte is the entry format's version).
const MAGIC: &[u8; 8] = b"CAIRNCC\x01";
/// Magic, payload length (u64 LE), XXH3-128 of the payload (u128 LE).
const HEADER: usize = 8 + 8 + 16;

/// Total size of the entries beyond which the least recently used are deleted.
pub const DEFAULT_MAX_SIZE: u64 = 2 << 30;

/// Where compiled components are cached, or nowhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileCache {
    /// The `components/` directory of the cache, `None` when the cache is off.
    dir: Option<PathBuf>,
    /// Most bytes the entries may take after a write.
    max_size: u64,
}

/// How [`CompileCache::component`] got its component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a valid cache entry: nothing was compiled.
    Hit,
    /// Compiled (no entry, or the entry was unusable) and stored.
    Miss,
    /// Compiled; the cache is off.
    Off,
}

impl CompileCache {
    /// The cache the environment asks for: off if `CAIRN_COMPILE_CACHE` is
    /// `off` (or `0`, `false`, `no`); otherwise under `$CAIRN_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/cairn`, else `$HOME/.cache/cairn`; off when none of
    /// these is set.
    pub fn from_env() -> CompileCache {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(v) = var("CAIRN_COMPILE_CACHE")
            && matches!(v.to_string_lossy().to_ascii_lowercase().as_str(), "off" | "0" | "false" | "no")
        {
            return CompileCache::off();
        }
        let root = var("CAIRN_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("cairn")))
            .or_else(|| var("HOME").map(|d| PathBuf::from(d).join(".cache/cairn")));
        match root {
            Some(root) => CompileCache::at(root),
            None => CompileCache::off(),
        }
    }

    /// A cache rooted at `root` (entries under `root/components/`).
    pub fn at(root: impl Into<PathBuf>) -> CompileCache {
        CompileCache { dir: Some(root.into().join("components")), max_size: DEFAULT_MAX_SIZE }
    }

    /// This cache, keeping at most `bytes` of entries (least recently used
    /// deleted first; the entry just written is always kept).
    pub fn with_max_size(mut self, bytes: u64) -> CompileCache {
        self.max_size = bytes;
        self
    }

    /// No cache: every component is compiled.
    pub fn off() -> CompileCache {
        CompileCache { dir: None, max_size: DEFAULT_MAX_SIZE }
    }

    /// The directory holding the entries, if the cache is on.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The entry file for a component with SHA-256 `digest` (hex) compiled by `engine`.
    pub fn entry_path(&self, engine: &Engine, digest: &str) -> Option<PathBuf> {
        let engine_key = engine_key(engine);
        self.dir.as_ref().map(|d| d.join(format!("{digest}-{}.cwasm", &engine_key[..32])))
    }

    /// The compiled component for `bytes` (whose SHA-256 is `digest`, hex):
    /// from the cache when a valid entry exists, else compiled by `engine` and
    /// stored. Errors are compilation errors only; cache trouble is logged.
    pub fn component(&self, engine: &Engine, bytes: &[u8], digest: &str) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(path) = self.entry_path(engine, digest) else {
            return Ok((Component::new(engine, bytes)?, CacheOutcome::Off));
        };
        match std::fs::read(&path) {
            Ok(entry) => match load(engine, &entry) {
                Ok(component) => {
                    touch(&path);
                    tracing::debug!(path = %path.display(), "compiled component loaded from the cache");
                    return Ok((component, CacheOutcome::Hit));
                }
                Err(reason) => {
                    tracing::warn!(path = %path.display(), "ignoring compile cache entry ({reason}); compiling again");
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), "cannot read compile cache entry ({e}); compiling again"),
        }
        let component = Component::new(engine, bytes)?;
        match component.serialize() {
            Ok(payload) => match store(&path, &payload) {
                Ok(()) => evict(&path, self.max_size),
                Err(e) => tracing::warn!(path = %path.display(), "cannot write compile cache entry: {e}"),
            },
            Err(e) => tracing::warn!("cannot serialize a compiled component for the cache: {e}"),
        }
        Ok((component, CacheOutcome::Miss))
    }
}

/// Hex SHA-256 of the engine's compatibility hash.
fn engine_key(engine: &Engine) -> String {
    /// Feeds `Hash` output into SHA-256 (stable, unlike `DefaultHasher`).
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            0 // unused: the digest is read from the SHA-256 state
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut h = ShaHasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
    hex::encode(h.0.finalize())
}

/// Checks an entry's header and checksum, then lets wasmtime read it (which
/// also checks that it was compiled by a compatible engine).
fn load(engine: &Engine, entry: &[u8]) -> Result<Component, String> {
    if entry.len() < HEADER || &entry[..8] != MAGIC {
        return Err("not a Cairn compile cache entry".into());
    }
    let len = u64::from_le_bytes(entry[8..16].try_into().expect("8 bytes"));
    let sum = u128::from_le_bytes(entry[16..32].try_into().expect("16 bytes"));
    let payload = &entry[HEADER..];
    if payload.len() as u64 != len {
        return Err(format!("truncated: {} of {len} bytes", payload.len()));
    }
    if xxhash_rust::xxh3::xxh3_128(payload) != sum {
        return Err("checksum mismatch".into());
    }
    // SAFETY: the payload is what `Component::serialize` wrote for an engine
    // with the same compatibility hash (the file name says so and wasmtime
    // checks it again), and the checksum shows it is unchanged since.
    unsafe { Component::deserialize(engine, payload) }.map_err(|e| format!("wasmtime cannot load it: {e}"))
}

/// Writes an entry atomically: a temporary file in the same directory, renamed.
fn store(path: &Path, payload: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let tmp = dir.join(format!(".tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(MAGIC)?;
        f.write_all(&(payload.len() as u64).to_le_bytes())?;
        f.write_all(&xxhash_rust::xxh3::xxh3_128(payload).to_le_bytes())?;
        f.write_all(payload)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Marks an entry as used now (its modification time), for eviction.
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Deletes the least recently used entries beside `keep` until all of them
/// take at most `max_size` bytes. Best effort: errors are ignored.
fn evict(keep: &Path, max_size: u64) {
    let Some(dir) = keep.parent() else { return };
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = listing
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    entries.sort(); // oldest first
    for (_, size, path) in entries {
        if total <= max_size {
            break;
        }
        if path != keep && std::fs::remove_file(&path).is_ok() {
            tracing::info!(path = %path.display(), "compile cache: removed the least recently used entry");
            total -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real component: the Rust `count` operator, built by `cairn-operators`.
    fn component_bytes() -> Vec<u8> {
        std::fs::read(cairn_operators::COUNT).expect("the count operator is built by cairn-operators")
    }

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        Engine::new(&config).unwrap()
    }

    fn digest(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn second_load_is_a_hit_and_corrupt_entries_are_recompiled() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::at(dir.path());
        let engine = engine();
        let bytes = component_bytes();
        let d = digest(&bytes);
        let (_, outcome) = cache.component(&engine, &bytes, &d).unwrap();
        assert_eq!(outcome, CacheOutcome::Miss);
        let path = cache.entry_path(&engine, &d).unwrap();
        assert!(path.exists());
        let (_, outcome) = cache.component(&engine, &bytes, &d).unwrap();
        assert_eq!(outcome, CacheOutcome::Hit);

        // Flip a byte of the payload: detected, recompiled, replaced.
        let mut entry = std::fs::read(&path).unwrap();
        let last = entry.len() - 1;
        entry[last] ^= 0xff;
        std::fs::write(&path, &entry).unwrap();
        assert_eq!(cache.component(&engine, &bytes, &d).unwrap().1, CacheOutcome::Miss);
        assert_eq!(cache.component(&engine, &bytes, &d).unwrap().1, CacheOutcome::Hit);

        // Truncated, garbage, empty: the same.
        for bad in [&entry[..entry.len() / 2], b"garbage".as_slice(), &[]] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(cache.component(&engine, &bytes, &d).unwrap().1, CacheOutcome::Miss);
        }
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(cache.dir().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn engines_that_compile_differently_do_not_share_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::at(dir.path());
        let plain = engine();
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(true);
        let fuel = Engine::new(&config).unwrap();
        let bytes = component_bytes();
        let d = digest(&bytes);
        assert_ne!(cache.entry_path(&plain, &d), cache.entry_path(&fuel, &d));
        assert_eq!(cache.entry_path(&plain, &d), cache.entry_path(&engine(), &d), "same config, same key");
        // An entry of the other engine under this engine's name: wasmtime refuses it, we recompile.
        cache.component(&fuel, &bytes, &d).unwrap();
        std::fs::copy(cache.entry_path(&fuel, &d).unwrap(), cache.entry_path(&plain, &d).unwrap()).unwrap();
        assert_eq!(cache.component(&plain, &bytes, &d).unwrap().1, CacheOutcome::Miss);
        assert_eq!(cache.component(&plain, &bytes, &d).unwrap().1, CacheOutcome::Hit);
    }

    #[test]
    fn least_recently_used_entries_are_evicted_beyond_the_size_limit() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = component_bytes();
        let d = digest(&bytes);
        let engines: Vec<Engine> = (0..3)
            .map(|i| {
                let mut config = wasmtime::Config::new();
                config.wasm_component_model(true);
                config.cranelift_opt_level([wasmtime::OptLevel::None, wasmtime::OptLevel::Speed, wasmtime::OptLevel::SpeedAndSize][i]);
                Engine::new(&config).unwrap()
            })
            .collect();
        // Room for two entries of about the same size.
        let probe = CompileCache::at(dir.path());
        probe.component(&engines[0], &bytes, &d).unwrap();
        let one = std::fs::metadata(probe.entry_path(&engines[0], &d).unwrap()).unwrap().len();
        let cache = CompileCache::at(dir.path()).with_max_size(one * 5 / 2);
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.component(&engines[1], &bytes, &d).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // A hit on the first makes the second the least recently used.
        assert_eq!(cache.component(&engines[0], &bytes, &d).unwrap().1, CacheOutcome::Hit);
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.component(&engines[2], &bytes, &d).unwrap();
        let exists = |i: usize| cache.entry_path(&engines[i], &d).unwrap().exists();
        assert!(exists(0) && !exists(1) && exists(2), "the least recently used entry goes");
    }

    #[test]
    fn off_compiles_every_time_and_unwritable_caches_are_ignored() {
        let bytes = component_bytes();
        let d = digest(&bytes);
        assert_eq!(CompileCache::off().component(&engine(), &bytes, &d).unwrap().1, CacheOutcome::Off);
        let file = tempfile::NamedTempFile::new().unwrap();
        // A cache "directory" below a regular file cannot be created: still compiles.
        let cache = CompileCache::at(file.path());
        assert_eq!(cache.component(&engine(), &bytes, &d).unwrap().1, CacheOutcome::Miss);
        // Invalid input is a compile error, as without the cache.
        assert!(CompileCache::at(tempfile::tempdir().unwrap().path()).component(&engine(), b"nope", "x").is_err());
    }
}
