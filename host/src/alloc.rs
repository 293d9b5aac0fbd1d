//! The host's memory allocator: jemalloc, told to keep the memory it frees.
//!
//! At every checkpoint an operator's state is copied out of its instance into
//! host buffers (wasmtime lifts each `snapshot-read` piece into a fresh
//! `Vec`), which are freed once hashed and uploaded. glibc's allocator gives
//! freed blocks of that size back to the kernel, so every checkpoint faulted
//! the whole state in again, page by page zeroed by the kernel (the profile in
//! BENCHMARKS.md, issue 12). With decay off, jemalloc keeps freed pages and the
//! next checkpoint copies into memory that is already resident: in effect a
//! pool of buffers that the uploader gives back by dropping them, without a
//! pool of our own (wasmtime allocates the lifted buffer itself, and calls the
//! guest's post-return, which frees the piece in guest memory, before the call
//! returns, so the host cannot read the piece in place into buffers of its own).
//!
//! The cost: the host's resident memory does not shrink after a peak (for a
//! running job, about the largest state it copied out at once).

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's controls failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot set the allocator's `{name}`: {message}")]
pub struct AllocError {
    /// The control.
    name: String,
    /// jemalloc's error, as it describes it.
    message: String,
}

/// Sets every arena of the allocator, and every arena made later, to never
/// give freed memory back to the kernel (`dirty_decay_ms` and
/// `muzzy_decay_ms` -1). Idempotent; cheap enough to call at every runtime start.
pub fn keep_freed_memory() -> Result<(), AllocError> {
    let set = |name: String| -> Result<(), AllocError> {
        let key = format!("{name}\0");
        // SAFETY: both controls are `ssize_t`, written as an `isize`.
        unsafe { tikv_jemalloc_ctl::raw::write::<isize>(key.as_bytes(), -1) }.map_err(|e| AllocError { name, message: e.to_string() })
    };
    for decay in ["dirty_decay_ms", "muzzy_decay_ms"] {
        set(format!("arenas.{decay}"))?; // the default of arenas made from now on
    }
    let arenas = tikv_jemalloc_ctl::arenas::narenas::read().map_err(|e| AllocError { name: "arenas.narenas".into(), message: e.to_string() })?;
    for i in 0..arenas {
        // An arena no thread used yet is not made: it takes the default above when it is.
        // SAFETY: `arena.<i>.initialized` is a `bool`.
        if unsafe { tikv_jemalloc_ctl::raw::read::<bool>(format!("arena.{i}.initialized\0").as_bytes()) }.unwrap_or(false) {
            for decay in ["dirty_decay_ms", "muzzy_decay_ms"] {
                set(format!("arena.{i}.{decay}"))?;
            }
        }
    }
    Ok(())
}

/// The decay (ms) that arenas made from now on get; -1: never.
pub fn dirty_decay_ms() -> Option<isize> {
    // SAFETY: `arenas.dirty_decay_ms` is an `ssize_t`.
    unsafe { tikv_jemalloc_ctl::raw::read::<isize>(b"arenas.dirty_decay_ms\0") }.ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn freed_memory_is_kept() {
        super::keep_freed_memory().unwrap();
        super::keep_freed_memory().unwrap();
        assert_eq!(super::dirty_decay_ms(), Some(-1));
        // Arenas made by new threads keep freed memory too.
        std::thread::spawn(|| drop(vec![1u8; 8 << 20])).join().unwrap();
        super::keep_freed_memory().unwrap();
    }
}
