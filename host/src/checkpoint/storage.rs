//! One URL becomes one object_store backend: `file://` (the embedded default),
//! `memory://` (tests), `s3://` (real deployments). Every path the rest of the
//! host uses is relative to the URL's root.

use std::collections::HashMap;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use crate::spec::StorageSpec;

/// Objects larger than this are uploaded in parts.
const MULTIPART_THRESHOLD: usize = 32 << 20;

/// Storage errors; each names the URL and the object.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is not one Cairn can use.
    #[error("storage URL `{url}`: {message}")]
    BadUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The backend failed.
    #[error("storage `{url}`: {op} `{path}` failed: {source}")]
    Backend {
        /// The storage URL.
        url: String,
        /// The operation.
        op: &'static str,
        /// The object path, relative to the root.
        path: String,
        /// object_store's error (boxed: it is large, and errors travel far).
        source: Box<object_store::Error>,
    },
    /// The object does not exist.
    #[error("storage `{url}`: `{path}` does not exist")]
    NotFound {
        /// The storage URL.
        url: String,
        /// The object path, relative to the root.
        path: String,
    },
    /// The backend did not answer in time.
    #[error("storage `{url}` is unreachable: no answer within {timeout:?}")]
    Unreachable {
        /// The storage URL.
        url: String,
        /// How long we waited.
        timeout: Duration,
    },
}

/// An object listed in storage.
#[derive(Clone, Debug)]
pub struct Listed {
    /// Path relative to the storage root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub modified: std::time::SystemTime,
}

/// The storage root: an object store and a prefix inside it.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    /// The directory of a `file://` store: object stores have no directories,
    /// but a file system keeps empty ones after their objects are deleted.
    local_root: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.url)
    }
}

/// Where a URL or path points: one parser for the pipeline's `storage.url` and
/// for every location argument of the CLI, so that `..`, `./`, absolute paths,
/// `file://` URLs, `memory://` and `s3://` mean the same everywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `memory://NAME`: an in-memory store shared by the jobs of this process.
    Memory(String),
    /// `s3://BUCKET` (also `s3a://`).
    S3(String),
    /// A local directory, absolute and normalised (no `.` or `..`).
    Local(std::path::PathBuf),
}

impl Target {
    /// Parses `raw` into a backend and the key below its root. Local paths
    /// (plain or `file://`) are taken relative to `base_dir` and normalised; the
    /// whole path is the backend's root and the key is empty.
    pub fn parse(raw: &str, base_dir: &FsPath) -> Result<(Target, String), StorageError> {
        let raw = raw.trim();
        let split = |rest: &str| {
            let (a, b) = rest.split_once('/').unwrap_or((rest, ""));
            (a.to_string(), b.trim_matches('/').to_string())
        };
        if let Some(rest) = raw.strip_prefix("memory://") {
            let (name, key) = split(rest);
            return Ok((Target::Memory(name), key));
        }
        if let Some(rest) = raw.strip_prefix("s3://").or_else(|| raw.strip_prefix("s3a://")) {
            let (bucket, key) = split(rest);
            if bucket.is_empty() {
                return Err(StorageError::BadUrl { url: raw.into(), message: "no bucket".into() });
            }
            return Ok((Target::S3(bucket), key));
        }
        let path = match raw.strip_prefix("file://") {
            // `file:///abs` is absolute; `file://rel` is taken as a relative path.
            Some(rest) => std::path::PathBuf::from(rest),
            None if raw.contains("://") => {
                return Err(StorageError::BadUrl { url: raw.into(), message: "unsupported scheme; use a path, file://, memory:// or s3://".into() });
            }
            None => std::path::PathBuf::from(raw),
        };
        Ok((Target::Local(normalize(&base_dir.join(path))), String::new()))
    }
}

/// An absolute path with `.` and `..` resolved: through the file system when the
/// path exists (symbolic links included), lexically otherwise.
pub fn normalize(path: &FsPath) -> std::path::PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(real) = std::fs::canonicalize(&abs) {
        return real;
    }
    let mut out = std::path::PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn memory_stores() -> &'static Mutex<HashMap<String, Arc<InMemory>>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

impl Storage {
    /// Opens the storage of `spec`; a relative file path is taken relative to `base_dir`.
    pub fn open(spec: &StorageSpec, base_dir: &FsPath) -> Result<Storage, StorageError> {
        let raw = spec.url.trim();
        let (target, key) = Target::parse(raw, base_dir)?;
        let storage = Storage::open_target(target, raw, &spec.options)?;
        Ok(if key.is_empty() { storage } else { storage.within(&key) })
    }

    /// Opens one backend; `raw` (the URL as given) is named in errors.
    pub(crate) fn open_target(target: Target, raw: &str, options: &std::collections::BTreeMap<String, String>) -> Result<Storage, StorageError> {
        // The S3 client's messages may echo an option's value (a key): scrubbed.
        let secrets = crate::spec::Secrets::from_values(options.values().cloned().collect());
        let bad = |message: String| StorageError::BadUrl { url: raw.to_string(), message: secrets.scrub(&message) };
        match target {
            Target::Memory(name) => {
                // One in-memory store per name, shared by every job of this process.
                let store = memory_stores().lock().expect("memory stores").entry(name.clone()).or_default().clone();
                Ok(Storage { store, prefix: Path::default(), url: format!("memory://{name}"), local_root: None })
            }
            Target::S3(bucket) => {
                let url = format!("s3://{bucket}");
                let mut builder = AmazonS3Builder::from_env().with_url(&url);
                for (k, v) in options {
                    let key = match k.replace('-', "_").as_str() {
                        "allow_http" => "aws_allow_http".to_string(),
                        other => other.to_string(),
                    };
                    let key: AmazonS3ConfigKey = key.parse().map_err(|_| bad(format!("unknown S3 option `{k}`")))?;
                    builder = builder.with_config(key, v);
                }
                let store = builder.build().map_err(|e| bad(e.to_string()))?;
                Ok(Storage { store: Arc::new(store), prefix: Path::default(), url, local_root: None })
            }
            Target::Local(dir) => {
                if !options.is_empty() {
                    return Err(bad("`options` only apply to s3:// storage".into()));
                }
                std::fs::create_dir_all(&dir).map_err(|e| bad(format!("cannot create directory {}: {e}", dir.display())))?;
                let store = LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(e.to_string()))?.with_automatic_cleanup(true);
                let url = format!("file://{}", dir.display());
                Ok(Storage { store: Arc::new(store), prefix: Path::default(), url, local_root: Some(dir) })
            }
        }
    }

    /// The same backend, rooted at `key` below this root.
    fn within(mut self, key: &str) -> Storage {
        let key = key.trim_matches('/');
        self.prefix = self.full(key);
        self.url = self.url_of(key);
        self
    }

    /// The canonical URL of `rel` under this root (`file:///abs/dir`,
    /// `s3://bucket/key`, `memory://name/key`): the one form every listing,
    /// log line and error prints.
    pub fn url_of(&self, rel: &str) -> String {
        let rel = rel.trim_matches('/');
        match (rel.is_empty(), self.url.ends_with('/')) {
            (true, _) => self.url.clone(),
            (false, true) => format!("{}{rel}", self.url),
            (false, false) => format!("{}/{rel}", self.url),
        }
    }

    /// The URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn full(&self, rel: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p = p.child(part);
        }
        p
    }

    fn relative(&self, full: &Path) -> String {
        full.prefix_match(&self.prefix).map(|parts| parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>().join("/")).unwrap_or_else(|| full.to_string())
    }

    fn backend(&self, op: &'static str, path: &str, source: object_store::Error) -> StorageError {
        match source {
            object_store::Error::NotFound { .. } => StorageError::NotFound { url: self.url.clone(), path: path.into() },
            source => StorageError::Backend { url: self.url.clone(), op, path: path.into(), source: Box::new(source) },
        }
    }

    /// Fails fast, naming the URL, when the backend cannot be listed within `timeout`.
    pub async fn check_reachable(&self, timeout: Duration) -> Result<(), StorageError> {
        let probe = self.store.list_with_delimiter(Some(&self.prefix));
        match tokio::time::timeout(timeout, probe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.backend("list", "", e)),
            Err(_) => Err(StorageError::Unreachable { url: self.url.clone(), timeout }),
        }
    }

    /// Writes an object (atomically: readers see all of it or none).
    pub async fn put(&self, rel: &str, bytes: Bytes) -> Result<(), StorageError> {
        let path = self.full(rel);
        if bytes.len() <= MULTIPART_THRESHOLD {
            self.store.put(&path, PutPayload::from_bytes(bytes)).await.map_err(|e| self.backend("put", rel, e))?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&path).await.map_err(|e| self.backend("put", rel, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 16 << 20);
        writer.put(bytes);
        writer.finish().await.map_err(|e| self.backend("put", rel, e))?;
        Ok(())
    }

    /// Writes an object given in pieces (atomically), without joining them first.
    pub async fn put_pieces(&self, rel: &str, pieces: Vec<Bytes>) -> Result<(), StorageError> {
        let path = self.full(rel);
        let total: usize = pieces.iter().map(Bytes::len).sum();
        if total <= MULTIPART_THRESHOLD {
            let payload: PutPayload = pieces.into_iter().collect();
            self.store.put(&path, payload).await.map_err(|e| self.backend("put", rel, e))?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&path).await.map_err(|e| self.backend("put", rel, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 16 << 20);
        for p in pieces {
            writer.put(p);
        }
        writer.finish().await.map_err(|e| self.backend("put", rel, e))?;
        Ok(())
    }

    /// Reads a whole object.
    pub async fn get(&self, rel: &str) -> Result<Bytes, StorageError> {
        let r = self.store.get(&self.full(rel)).await.map_err(|e| self.backend("get", rel, e))?;
        r.bytes().await.map_err(|e| self.backend("get", rel, e))
    }

    /// Reads bytes `range` of an object (one ranged request).
    pub async fn get_range(&self, rel: &str, range: std::ops::Range<u64>) -> Result<Bytes, StorageError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        self.store.get_range(&self.full(rel), range).await.map_err(|e| self.backend("get", rel, e))
    }

    /// Whether an object exists.
    pub async fn exists(&self, rel: &str) -> Result<bool, StorageError> {
        match self.store.head(&self.full(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.backend("head", rel, e)),
        }
    }

    /// Every object under `rel` (recursively).
    pub async fn list(&self, rel: &str) -> Result<Vec<Listed>, StorageError> {
        let prefix = self.full(rel);
        let items: Vec<_> = self.store.list(Some(&prefix)).try_collect().await.map_err(|e| self.backend("list", rel, e))?;
        Ok(items.into_iter().map(|m| Listed { path: self.relative(&m.location), size: m.size, modified: m.last_modified.into() }).collect())
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, rel: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.full(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend("delete", rel, e)),
        }
    }

    /// Removes empty directories left under `rel` on a `file://` store (a no-op elsewhere).
    pub fn prune_empty_dirs(&self, rel: &str) {
        fn prune(dir: &FsPath) -> bool {
            let Ok(entries) = std::fs::read_dir(dir) else { return false };
            let mut empty = true;
            for e in entries.flatten() {
                let p = e.path();
                empty &= p.is_dir() && prune(&p) && std::fs::remove_dir(&p).is_ok();
            }
            empty
        }
        if let Some(root) = &self.local_root {
            prune(&root.join(rel));
        }
    }

    /// Removes the directory `rel` itself on a `file://` store once nothing but
    /// empty directories is left in it (a no-op elsewhere, where directories do not exist).
    pub fn remove_empty_dir(&self, rel: &str) {
        self.prune_empty_dirs(rel);
        if let Some(root) = &self.local_root {
            let _ = std::fs::remove_dir(root.join(rel));
        }
    }

    /// Temporary files of interrupted writes under `rel` (`name#N`, written by
    /// object_store's local backend and renamed into place when complete; a
    /// process killed in between leaves them, and listings never show them).
    /// Only a `file://` store has them: elsewhere a write is one request.
    pub fn temp_files(&self, rel: &str) -> Vec<Listed> {
        fn walk(root: &FsPath, dir: &FsPath, out: &mut Vec<Listed>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for e in entries.flatten() {
                let p = e.path();
                let Ok(meta) = e.metadata() else { continue };
                if meta.is_dir() {
                    walk(root, &p, out);
                } else if e.file_name().to_string_lossy().contains('#')
                    && let Ok(rel) = p.strip_prefix(root)
                {
                    let modified = meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
                    out.push(Listed { path: rel.to_string_lossy().replace('\\', "/"), size: meta.len(), modified });
                }
            }
        }
        let mut out = Vec::new();
        if let Some(root) = &self.local_root {
            walk(root, &root.join(rel), &mut out);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Removes a temporary file found by [`Storage::temp_files`].
    pub fn remove_temp(&self, rel: &str) -> Result<(), StorageError> {
        let Some(root) = &self.local_root else { return Ok(()) };
        match std::fs::remove_file(root.join(rel)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::Backend {
                url: self.url.clone(),
                op: "delete",
                path: rel.into(),
                source: Box::new(object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) }),
            }),
        }
    }

    /// Deletes every object under `rel`.
    pub async fn delete_all(&self, rel: &str) -> Result<usize, StorageError> {
        let items = self.list(rel).await?;
        for item in &items {
            self.delete(&item.path).await?;
        }
        Ok(items.len())
    }
}

/// Joins a relative reference (which may start with `../`) onto a directory, both `/`-separated.
pub fn join_relative(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_references() {
        assert_eq!(join_relative("p/checkpoints/run/chk-1", "../../../state/ab").as_deref(), Some("p/state/ab"));
        assert_eq!(join_relative("sp/x", "state/ab").as_deref(), Some("sp/x/state/ab"));
        assert_eq!(join_relative("a", "../../b"), None);
    }

    #[tokio::test]
    async fn file_storage_roundtrip_relative_to_the_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let spec = StorageSpec { url: "file://st".into(), options: Default::default() };
        let s = Storage::open(&spec, dir.path()).unwrap();
        s.check_reachable(Duration::from_secs(5)).await.unwrap();
        s.put("a/b/c", Bytes::from_static(b"hello")).await.unwrap();
        assert!(dir.path().join("st/a/b/c").exists());
        assert_eq!(&s.get("a/b/c").await.unwrap()[..], b"hello");
        assert!(s.exists("a/b/c").await.unwrap() && !s.exists("a/b/d").await.unwrap());
        assert_eq!(s.list("a").await.unwrap()[0].path, "a/b/c");
        assert!(matches!(s.get("nope").await, Err(StorageError::NotFound { .. })));
        s.delete("a/b/c").await.unwrap();
        s.delete("a/b/c").await.unwrap();
        assert!(s.list("a").await.unwrap().is_empty());
    }
}
