//! Guest stdout and stderr: written line by line to the host's log, tagged
//! with operator id and subtask (WASI grants the guest nothing else).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::tag::SubtaskTag;

/// Longest line kept; longer lines are split.
const MAX_LINE: usize = 4096;

/// A `StdoutStream` that turns guest output into log lines.
#[derive(Clone)]
pub struct LogStream {
    tag: Arc<SubtaskTag>,
    stream: &'static str,
}

impl LogStream {
    /// Output of `tag`'s guest on `stream` (`stdout` or `stderr`).
    pub fn new(tag: Arc<SubtaskTag>, stream: &'static str) -> Self {
        LogStream { tag, stream }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LineWriter { stream: self.clone(), line: Vec::new() })
    }
}

struct LineWriter {
    stream: LogStream,
    line: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let tag = &self.stream.tag;
        tracing::info!(target: "cairn::guest", operator = &*tag.operator, subtask = tag.subtask, stream = self.stream.stream, "{}", text.trim_end());
        self.line.clear();
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        for &b in buf {
            if b == b'\n' || self.line.len() >= MAX_LINE {
                self.emit();
            }
            if b != b'\n' {
                self.line.push(b);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.line.is_empty() {
            self.emit();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}
