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

fn memory_stores() -> &'static Mutex<HashMap<String, Arc<InMemory>>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

impl Storage {
    /// Opens the storage of `spec`; a relative file path is taken relative to `base_dir`.
    pub fn open(spec: &StorageSpec, base_dir: &FsPath) -> Result<Storage, StorageError> {
        let raw = spec.url.trim();
        let bad = |message: String| StorageError::BadUrl { url: raw.to_string(), message };
        if let Some(name) = raw.strip_prefix("memory://") {
            // One in-memory store per name, shared by every job of this process.
            let store = memory_stores().lock().expect("memory stores").entry(name.to_string()).or_default().clone();
            return Ok(Storage { store, prefix: Path::default(), url: raw.into(), local_root: None });
        }
        if raw.starts_with("s3://") || raw.starts_with("s3a://") {
            let url = url::Url::parse(raw).map_err(|e| bad(e.to_string()))?;
            let mut builder = AmazonS3Builder::from_env().with_url(raw);
            for (k, v) in &spec.options {
                let key = match k.replace('-', "_").as_str() {
                    "allow_http" => "aws_allow_http".to_string(),
                    other => other.to_string(),
                };
                let key: AmazonS3ConfigKey = key.parse().map_err(|_| bad(format!("unknown S3 option `{k}`")))?;
                builder = builder.with_config(key, v);
            }
            let store = builder.build().map_err(|e| bad(e.to_string()))?;
            let prefix = Path::from(url.path().trim_matches('/'));
            return Ok(Storage { store: Arc::new(store), prefix, url: raw.into(), local_root: None });
        }
        let dir = match raw.strip_prefix("file://") {
            // `file:///abs` is absolute; `file://rel` is taken as a relative path.
            Some(rest) => std::path::PathBuf::from(rest),
            None if raw.contains("://") => {
                return Err(bad("unsupported scheme; use file://, memory:// or s3://".into()));
            }
            None => std::path::PathBuf::from(raw),
        };
        if !spec.options.is_empty() {
            return Err(bad("`options` only apply to s3:// storage".into()));
        }
        let dir = if dir.is_absolute() { dir } else { base_dir.join(dir) };
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        std::fs::create_dir_all(&dir).map_err(|e| bad(format!("cannot create directory {}: {e}", dir.display())))?;
        let store = LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(e.to_string()))?.with_automatic_cleanup(true);
        Ok(Storage { store: Arc::new(store), prefix: Path::default(), url: format!("file://{}", dir.display()), local_root: Some(dir) })
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
        full.prefix_match(&self.prefix)
            .map(|parts| parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>().join("/"))
            .unwrap_or_else(|| full.to_string())
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
        Ok(items
            .into_iter()
            .map(|m| Listed { path: self.relative(&m.location), size: m.size, modified: m.last_modified.into() })
            .collect())
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
