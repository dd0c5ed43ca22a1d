//! Where the server's log lines go: standard output, through one buffer that a thread of its
//! own writes out, so that a request never waits on a write(2) for its log line. Lines keep
//! their order and none is dropped: past [`MAX_PENDING`] bytes waiting, a logger waits for the
//! writer, as it would for a slow stdout. [`flush_logs`] waits until every line logged before
//! it is out.

use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use tracing_subscriber::fmt::MakeWriter;

/// Bytes that may wait for the writer thread before loggers wait for it.
const MAX_PENDING: usize = 4 << 20;

/// How long the writer thread lets lines gather before it writes them out: the most a line
/// waits for a writer that has nothing else to do.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// The one sink of the process, started by the first [`LogSink::stdout`] (`None` when its
/// writer thread could not be started).
static SINK: OnceLock<Option<Shared>> = OnceLock::new();

struct Shared {
    state: Mutex<State>,
    /// Signalled to the writer thread when lines arrive while it sleeps.
    arrived: Condvar,
    /// Signalled when a batch is out: to loggers waiting for room, and to flushers.
    written: Condvar,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// Bytes handed to the sink since the start, and bytes written out.
    queued_total: u64,
    written_total: u64,
    /// Whether the writer thread sleeps (and so needs a signal for new lines).
    writer_asleep: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A logger that panicked mid-append leaves whole bytes behind: keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The writer thread: sleeps until a line arrives, lets [`GATHER`] pass so that the lines
    /// logged meanwhile join it, and writes them all in one call. A busy server wakes it once
    /// per [`GATHER`], not once per line.
    fn write_out(&self) {
        let mut batch = Vec::new();
        loop {
            {
                let mut state = self.state();
                while state.pending.is_empty() {
                    state.writer_asleep = true;
                    state = self
                        .arrived
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
            std::thread::sleep(GATHER);
            std::mem::swap(&mut batch, &mut self.state().pending);
            let mut out = std::io::stdout();
            // Nowhere to report a failed write of the log itself; the lines are let go.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            self.state().written_total += batch.len() as u64;
            batch.clear();
            self.written.notify_all();
        }
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.state();
        while state.pending.len() >= MAX_PENDING {
            state = self
                .written
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.pending.extend_from_slice(line);
        state.queued_total += line.len() as u64;
        // Only a sleeping writer needs the signal; one gathering will look again.
        let wake = std::mem::take(&mut state.writer_asleep);
        drop(state);
        if wake {
            self.arrived.notify_one();
        }
    }

    fn flush(&self) {
        let mut state = self.state();
        let target = state.queued_total;
        while state.written_total < target {
            state = self
                .written
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// The `tracing_subscriber` writer of the process's log sink (straight to standard output
/// when its writer thread could not be started).
#[derive(Clone, Copy)]
pub(crate) struct LogSink(Option<&'static Shared>);

impl LogSink {
    /// The sink to standard output, its writer thread started on first use.
    pub(crate) fn stdout() -> Self {
        Self(
            SINK.get_or_init(|| {
                std::thread::Builder::new()
                    .name("delegate-log".into())
                    .spawn(|| {
                        if let Some(shared) = SINK.wait() {
                            shared.write_out();
                        }
                    })
                    .ok()?;
                Some(Shared {
                    state: Mutex::default(),
                    arrived: Condvar::new(),
                    written: Condvar::new(),
                })
            })
            .as_ref(),
        )
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        *self
    }
}

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0 {
            Some(shared) => shared.append(buf),
            None => std::io::stdout().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits until every log line written before the call is on standard output (the server
/// calls it when it stops; call it before a process that logged exits).
pub fn flush_logs() {
    if let Some(Some(shared)) = SINK.get() {
        shared.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_waits_until_every_line_is_written_out() {
        let sink = LogSink::stdout();
        let mut writer = sink.make_writer();
        for i in 0..1000 {
            writer
                .write_all(format!("log sink test line {i}\n").as_bytes())
                .unwrap();
        }
        flush_logs();
        let state = sink.0.expect("the writer thread started").state();
        assert!(state.queued_total > 0);
        assert_eq!(state.written_total, state.queued_total);
        assert!(state.pending.is_empty());
    }
}
