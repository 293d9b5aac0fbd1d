//! Logging into the host's log (the imported `log` interface), where the host
//! tags each record with the operator id and subtask.
//!
//! Meant for lifecycle messages, not a line per event: the host may
//! rate-limit a noisy operator. Outside wasm32 (native unit tests) records go
//! to standard error instead, because the import exists only in a component.

pub use crate::bindings::v1::cairn::operator::log::Level;

/// Writes one record at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::v1::cairn::operator::log::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Writes one record at trace level.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes one record at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes one record at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes one record at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes one record at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}
