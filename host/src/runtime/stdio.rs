//! Guest stdout and stderr: written line by line to the host's log, tagged
//! with operator id and subtask (WASI grants the guest nothing else).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::budget::LogBudget;
use super::tag::SubtaskTag;

/// Longest line kept; longer lines are split.
const MAX_LINE: usize = 4096;

/// A `StdoutStream` that turns guest output into log lines.
#[derive(Clone)]
pub struct LogStream {
    tag: Arc<SubtaskTag>,
    budget: Arc<LogBudget>,
    stream: &'static str,
}

impl LogStream {
    /// Output of `tag`'s guest on `stream` (`stdout` or `stderr`), within `budget`.
    pub(crate) fn new(tag: Arc<SubtaskTag>, budget: Arc<LogBudget>, stream: &'static str) -> Self {
        LogStream { tag, budget, stream }
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

    /// A synchronous stream: a guest's write goes straight to the log, without
    /// the task and buffer of wasmtime-wasi's asynchronous adapter (a guest that
    /// prints a line per event pays one host call, not a round trip through tokio).
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter { stream: self.clone(), line: Vec::new() })
    }
}

struct LineWriter {
    stream: LogStream,
    line: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self) {
        if !self.stream.budget.admit(self.line.len()) {
            self.line.clear();
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let tag = &self.stream.tag;
        tracing::info!(target: "cairn::guest", operator = &*tag.operator, subtask = tag.subtask, stream = self.stream.stream, "{}", text.trim_end());
        self.line.clear();
    }

    /// Takes `buf`, emitting every line it completes.
    fn take(&mut self, buf: &[u8]) {
        for &b in buf {
            if b == b'\n' || self.line.len() >= MAX_LINE {
                self.emit();
            }
            if b != b'\n' {
                self.line.push(b);
            }
        }
    }
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.take(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1 << 20)
    }
}

#[async_trait::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.take(buf);
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
