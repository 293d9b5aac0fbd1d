//! Memory images: the state of an operator that writes no snapshot code
//! (`state: memory`). Between two calls a component's stack is empty, so its
//! core linear memories and mutable globals are its whole state; the host
//! copies them out at a barrier and writes them into a fresh, initialised
//! instance of the identical component on restore.
//!
//! [`instrument`] rewrites the component at load time so that the host can
//! reach that state; [`Access`] is the host's handle on one instance.

pub mod instrument;

use bytes::Bytes;
use wasmtime::Store;
use wasmtime::component::{Instance, TypedFunc, WasmList};

pub use instrument::{GlobalKind, Layout, Uncapturable};

use super::store::StoreData;

/// The unit of content addressing: a WebAssembly page (64 KiB).
pub const PAGE: usize = 64 << 10;

/// Most bytes one accessor call copies (memory crosses in bounded pieces).
pub const CHUNK: u32 = 4 << 20;

/// The `format` of a memory image's state handle.
pub const FORMAT: &str = "memory-image";

/// Layout version of a memory image.
pub const VERSION: u32 = 1;

/// One instance's state as copied out (or to be written back).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    /// Every captured memory's bytes, in [`Layout`] order: whole pages, in
    /// chunks of at most [`CHUNK`] bytes.
    pub memories: Vec<Vec<Bytes>>,
    /// Every captured global's bits, 8 little-endian bytes each.
    pub globals: Bytes,
}

impl Image {
    /// Memory bytes plus global bytes.
    pub fn len(&self) -> u64 {
        self.memories.iter().flatten().map(|c| c.len() as u64).sum::<u64>() + self.globals.len() as u64
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Per memory, each page's SHA-256 (`None` for a page of zeros: not
    /// stored), and the SHA-256 of the globals: the names of the files a
    /// checkpoint stores, so a page with a digest storage holds is not uploaded.
    pub fn digests(&self) -> (Vec<Vec<Option<String>>>, String) {
        use sha2::{Digest, Sha256};
        let memories =
            (0..self.memories.len()).map(|m| self.pages(m).map(|p| (!p.iter().all(|&b| b == 0)).then(|| hex::encode(Sha256::digest(&p)))).collect()).collect();
        (memories, hex::encode(Sha256::digest(&self.globals)))
    }

    /// The pages of memory `m` (zero-copy slices of its chunks).
    pub fn pages(&self, m: usize) -> impl Iterator<Item = Bytes> + '_ {
        self.memories[m].iter().flat_map(|c| (0..c.len() / PAGE).map(move |i| c.slice(i * PAGE..(i + 1) * PAGE)))
    }
}

/// The accessor functions of one instance (see [`instrument`]).
pub struct Access {
    size: TypedFunc<(u32,), (u32,)>,
    grow: TypedFunc<(u32, u32), (i32,)>,
    read: TypedFunc<(u32, u32, u32), (WasmList<u8>,)>,
    globals: TypedFunc<(), (WasmList<u8>,)>,
    instance: Instance,
    layout: std::sync::Arc<Layout>,
}

/// What went wrong reaching an instance's state (the caller adds operator and subtask).
pub type AccessError = String;

impl Access {
    /// Looks the accessor functions up in `instance` (a component rewritten by [`instrument`]).
    pub fn new(store: &mut Store<StoreData>, instance: &Instance, layout: std::sync::Arc<Layout>) -> Result<Access, AccessError> {
        let missing = |e: wasmtime::Error| format!("the memory image accessors are missing (a host bug): {e}");
        let [size, grow, read, _, globals, _] = instrument::EXPORTS;
        Ok(Access {
            size: instance.get_typed_func(&mut *store, size).map_err(missing)?,
            grow: instance.get_typed_func(&mut *store, grow).map_err(missing)?,
            read: instance.get_typed_func(&mut *store, read).map_err(missing)?,
            globals: instance.get_typed_func(&mut *store, globals).map_err(missing)?,
            instance: *instance,
            layout,
        })
    }

    /// What is captured.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Copies every captured memory and global out.
    pub fn copy_out(&self, store: &mut Store<StoreData>) -> Result<Image, wasmtime::Error> {
        let mut image = Image::default();
        for m in 0..self.layout.memories.len() as u32 {
            let (pages,) = self.size.call(&mut *store, (m,))?;
            let total = pages as u64 * PAGE as u64;
            let mut chunks = Vec::with_capacity(total.div_ceil(CHUNK as u64) as usize);
            let mut at = 0u64;
            while at < total {
                let len = (total - at).min(CHUNK as u64) as u32;
                let (list,) = self.read.call(&mut *store, (m, at as u32, len))?;
                chunks.push(Bytes::copy_from_slice(list.as_le_slice(&*store)));
                at += len as u64;
            }
            image.memories.push(chunks);
        }
        let (list,) = self.globals.call(&mut *store, ())?;
        image.globals = Bytes::copy_from_slice(list.as_le_slice(&*store));
        Ok(image)
    }

    /// Writes `image` into the instance: grows each memory to the image's
    /// size first (within the store's memory limit), then writes every page
    /// (zero pages too: a fresh instance's memory is not all zero) and the globals.
    pub fn write(&self, store: &mut Store<StoreData>, image: &Image) -> Result<(), WriteError> {
        if image.memories.len() != self.layout.memories.len() || image.globals.len() != 8 * self.layout.globals.len() {
            return Err(WriteError::Shape(format!(
                "the image holds {} memories and {} globals, the component has {} and {}",
                image.memories.len(),
                image.globals.len() / 8,
                self.layout.memories.len(),
                self.layout.globals.len()
            )));
        }
        let write = self.instance.get_typed_func::<(u32, u32, &[u8]), ()>(&mut *store, instrument::EXPORTS[3]).map_err(WriteError::Call)?;
        let set_globals = self.instance.get_typed_func::<(&[u8],), ()>(&mut *store, instrument::EXPORTS[5]).map_err(WriteError::Call)?;
        for (m, chunks) in image.memories.iter().enumerate() {
            let m32 = m as u32;
            let want = chunks.iter().map(|c| c.len() as u64).sum::<u64>() / PAGE as u64;
            let (have,) = self.size.call(&mut *store, (m32,)).map_err(WriteError::Call)?;
            if want > have as u64 {
                let grown = self.grow.call(&mut *store, (m32, (want - have as u64) as u32));
                match grown {
                    Ok((r,)) if r >= 0 => {}
                    Ok(_) | Err(_) => return Err(WriteError::Grow { bytes: want * PAGE as u64 }),
                }
            }
            let mut at = 0u32;
            for chunk in chunks {
                write.call(&mut *store, (m32, at, &chunk[..])).map_err(WriteError::Call)?;
                at = at.wrapping_add(chunk.len() as u32);
            }
            // Memory the fresh instance has beyond the image was not in use when it was taken: zero it.
            let (now,) = self.size.call(&mut *store, (m32,)).map_err(WriteError::Call)?;
            let zero = vec![0u8; CHUNK as usize];
            let mut rest = (now as u64 - want) * PAGE as u64;
            let mut at = want * PAGE as u64;
            while rest > 0 {
                let n = rest.min(CHUNK as u64) as usize;
                write.call(&mut *store, (m32, at as u32, &zero[..n])).map_err(WriteError::Call)?;
                at += n as u64;
                rest -= n as u64;
            }
        }
        set_globals.call(&mut *store, (&image.globals,)).map_err(WriteError::Call)?;
        Ok(())
    }
}

/// Why an image could not be written into an instance.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Not an image of this component.
    #[error("{0}")]
    Shape(String),
    /// A memory could not grow to the image's size.
    #[error("its memory image needs {bytes} bytes of linear memory, more than the instance may grow to (limits.memory)")]
    Grow {
        /// Bytes the memory needs.
        bytes: u64,
    },
    /// An accessor call trapped.
    #[error("{0}")]
    Call(wasmtime::Error),
}

#[cfg(test)]
mod tests {
    use crate::runtime::{Batch, CompileCache, Limits, Restore, Runtime};
    use crate::spec::StateMode;

    fn batch(keys: &[&str]) -> Batch {
        let mut b = Batch { keys: vec![], key_ends: vec![], values: vec![], value_ends: vec![], timestamps: vec![], keyless: vec![] };
        for k in keys {
            b.keys.extend_from_slice(k.as_bytes());
            b.key_ends.push(b.keys.len() as u32);
            b.values.push(b'x');
            b.value_ends.push(b.values.len() as u32);
            b.timestamps.push(1);
        }
        b
    }

    /// The Rust counter run with `state: memory`: its image, written into a
    /// fresh initialised instance, makes that instance count on where the
    /// first left off, and copies out again as the same image.
    #[test]
    fn an_image_written_into_a_fresh_instance_continues_the_state() {
        let runtime = Runtime::new().unwrap().with_cache(CompileCache::off());
        let c = runtime.load_as("count", std::path::Path::new(cairn_operators::COUNT_0_1), StateMode::Memory).unwrap();
        assert!(c.is_memory_image());
        let mut a = c.instantiate(0, Limits::default(), &Default::default()).unwrap();
        a.init("null").unwrap();
        a.process(&batch(&["a", "b", "a"])).unwrap();
        let snap = a.snapshot().unwrap();
        let image = snap.image.clone().expect("a memory image");
        assert_eq!(snap.format, super::FORMAT);
        assert!(image.len() >= super::PAGE as u64 && image.memories.iter().flatten().all(|c| c.len() % super::PAGE == 0));

        let mut b = c.instantiate(0, Limits::default(), &Default::default()).unwrap();
        b.init("null").unwrap();
        b.restore(&Restore::own_image(&snap, c.digest())).unwrap();
        let out = b.process(&batch(&["a", "c"])).unwrap();
        assert_eq!(out.values, b"31");
        let again = a.process(&batch(&["a", "c"])).unwrap();
        assert_eq!(again.values, out.values);
        assert_eq!(a.snapshot().unwrap().image, b.snapshot().unwrap().image);

        // Another digest is refused, naming the way to upgrade.
        let mut d = c.instantiate(0, Limits::default(), &Default::default()).unwrap();
        d.init("null").unwrap();
        let err = d.restore(&Restore::own_image(&snap, "0000")).unwrap_err().to_string();
        assert!(err.contains("fits only the exact binary") && err.contains("snapshot`/`restore"), "{err}");
    }
}
