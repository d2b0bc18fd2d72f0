//! The log's writer: loggers append their lines to a shared buffer, and a
//! background thread writes the buffer out on a timer.
//!
//! A channel to a writer thread (what `tracing-appender` does) wakes that
//! thread for nearly every line when each line arrives after the writer has
//! gone back to sleep, as predictions' lines do under load. Each wake-up
//! costs the logging worker a `futex` call and the writer a context switch:
//! the writer's thread alone took about 2 us of CPU per prediction
//! (docs/PERFORMANCE.md). Here a line costs a lock and a copy; the writer
//! wakes for the first line after it emptied the buffer, waits up to
//! [`FLUSH_EVERY`] for more (or until [`WAKE_AT`] bytes wait), and writes
//! them in one call: under load, about one wake-up per [`FLUSH_EVERY`];
//! with nothing logged, none.
//!
//! Nothing is dropped: past [`MAX_PENDING`] bytes, loggers wait for the
//! writer, as they waited on a full channel before. Dropping the
//! [`LogGuard`] writes out what is left.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The longest a line waits in the buffer: short enough that a person
/// watching the log sees each request at once.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Buffered bytes that wake the writer before its timer, so that a burst is
/// written in pieces of about this size rather than all at once.
pub const WAKE_AT: usize = 64 * 1024;
/// Buffered bytes past which loggers wait for the writer: the bound on the
/// buffer's memory when stderr is slower than the server.
pub const MAX_PENDING: usize = 4 * 1024 * 1024;

/// When the writer writes, and when loggers wait.
#[derive(Debug, Clone, Copy)]
struct Limits {
    flush_every: Duration,
    wake_at: usize,
    max_pending: usize,
}

/// The lines not yet written.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Set when the guard is dropped: the writer writes what is left and
    /// ends.
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when a line goes into the empty buffer, when the buffer
    /// reaches `wake_at` bytes, and on close.
    filled: Condvar,
    /// Signalled each time the writer takes the buffer.
    drained: Condvar,
    limits: Limits,
    /// Times the writer has woken: what an idle server must not spend.
    wakeups: AtomicU64,
}

impl Shared {
    /// The lock; a logger that panicked mid-append leaves at worst a partial
    /// line, which is still worth writing.
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `tracing_subscriber` writes its lines to (see [`spawn`]).
#[derive(Debug, Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// One line's writer, as [`MakeWriter`] hands it out.
#[derive(Debug)]
pub struct LogLine<'a> {
    shared: &'a Shared,
}

/// Keeps the log's writer thread. Dropping it writes out every buffered line
/// and waits for the thread to end; keep it alive until exit.
#[derive(Debug)]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `sink` (stderr in the server).
pub fn spawn(sink: impl Write + Send + 'static) -> io::Result<(LogWriter, LogGuard)> {
    start(
        sink,
        Limits {
            flush_every: FLUSH_EVERY,
            wake_at: WAKE_AT,
            max_pending: MAX_PENDING,
        },
    )
}

fn start(sink: impl Write + Send + 'static, limits: Limits) -> io::Result<(LogWriter, LogGuard)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        filled: Condvar::new(),
        drained: Condvar::new(),
        limits,
        wakeups: AtomicU64::new(0),
    });
    let for_thread = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_out(&for_thread, sink))?;
    Ok((
        LogWriter {
            shared: Arc::clone(&shared),
        },
        LogGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: takes the whole buffer, under the lock only for a
/// swap, and writes it with the lock released.
fn write_out(shared: &Shared, mut sink: impl Write) {
    let limits = shared.limits;
    let mut taken = Vec::new();
    loop {
        let mut pending = shared.lock();
        // Asleep until a line comes: an idle server's writer never wakes.
        while pending.bytes.is_empty() && !pending.closed {
            pending = shared
                .filled
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        shared.wakeups.fetch_add(1, Ordering::Relaxed);
        // Then up to `flush_every` for the lines that follow it.
        if !pending.closed && pending.bytes.len() < limits.wake_at {
            pending = shared
                .filled
                .wait_timeout(pending, limits.flush_every)
                .map_or_else(|e| e.into_inner().0, |(guard, _)| guard);
        }
        // The emptied buffer goes back, so a steady log allocates nothing.
        std::mem::swap(&mut pending.bytes, &mut taken);
        let closed = pending.closed;
        drop(pending);
        shared.drained.notify_all();
        if taken.is_empty() {
            if closed {
                return;
            }
            continue;
        }
        // A log that cannot be written has nowhere to report it; the
        // server goes on serving, as with any other full or closed stderr.
        let _ = sink.write_all(&taken).and_then(|()| sink.flush());
        taken.clear();
    }
}

impl Write for LogLine<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let limits = self.shared.limits;
        let mut pending = self.shared.lock();
        while pending.bytes.len() >= limits.max_pending && !pending.closed {
            pending = self
                .shared
                .drained
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(line);
        // Only the first line into the empty buffer, and the line that
        // crosses the mark, wake the writer: not every line.
        if before == 0 || (before < limits.wake_at && pending.bytes.len() >= limits.wake_at) {
            self.shared.filled.notify_one();
        }
        Ok(line.len())
    }

    /// Lines are written by the writer thread, within `FLUSH_EVERY`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine {
            shared: &self.shared,
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.filled.notify_one();
        self.shared.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::time::Instant;

    /// A sink the test can read while the writer holds it.
    #[derive(Clone, Default)]
    struct Shown(Arc<Mutex<Vec<u8>>>);

    impl Write for Shown {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shown {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn log(writer: &LogWriter, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_of_every_thread_is_written_whole_and_in_its_order() {
        let sink = Shown::default();
        let limits = Limits {
            flush_every: Duration::from_millis(5),
            wake_at: 512,
            max_pending: 4096,
        };
        let (writer, guard) = start(sink.clone(), limits).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        log(
                            &writer,
                            &format!("thread {t} line {i} {}\n", "x".repeat(i % 50)),
                        );
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = sink.text();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            let (t, i): (usize, usize) = (words[1].parse().unwrap(), words[3].parse().unwrap());
            assert_eq!(
                i, next[t],
                "thread {t}'s lines out of order or torn: {line}"
            );
            assert_eq!(words[4].len(), i % 50, "a torn line: {line}");
            next[t] += 1;
        }
        assert_eq!(next, [2000; 4], "lines were lost");
    }

    #[test]
    fn a_line_is_written_out_without_a_flush_or_a_full_buffer() {
        let sink = Shown::default();
        let (writer, _guard) = spawn(sink.clone()).unwrap();
        log(&writer, "one request\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while sink.text().is_empty() {
            assert!(Instant::now() < deadline, "the line was never written out");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "one request\n");
    }

    #[test]
    fn an_idle_writer_sleeps_until_a_line_comes() {
        let sink = Shown::default();
        let limits = Limits {
            flush_every: Duration::from_millis(2),
            wake_at: 64 * 1024,
            max_pending: 1024 * 1024,
        };
        let (writer, _guard) = start(sink.clone(), limits).unwrap();
        // A hundred flush intervals with nothing logged: a writer on a
        // timer would have woken about a hundred times.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(writer.shared.wakeups.load(Ordering::Relaxed), 0);
        log(&writer, "one request\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while sink.text().is_empty() {
            assert!(Instant::now() < deadline, "the line was never written out");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(200));
        // One wake-up for the line, and none once it was written.
        assert_eq!(writer.shared.wakeups.load(Ordering::Relaxed), 1);
        assert_eq!(sink.text(), "one request\n");
    }

    /// A sink that takes nothing until the test opens it.
    struct Gated {
        open: mpsc::Receiver<()>,
        inner: Shown,
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _ = self.open.recv();
            self.inner.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_sink_makes_loggers_wait_and_loses_nothing() {
        let (open, gate) = mpsc::channel();
        let inner = Shown::default();
        let limits = Limits {
            flush_every: Duration::from_millis(1),
            wake_at: 100,
            max_pending: 1000,
        };
        let sink = Gated {
            open: gate,
            inner: inner.clone(),
        };
        let (writer, guard) = start(sink, limits).unwrap();
        let logged = Arc::new(AtomicUsize::new(0));
        let logger = {
            let logged = Arc::clone(&logged);
            std::thread::spawn(move || {
                for i in 0..1000 {
                    log(&writer, &format!("{i:09}\n"));
                    logged.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // With the sink stuck, the logger gets at most the buffer's bound
        // and the batch the writer holds: about 200 of the 10-byte lines.
        std::thread::sleep(Duration::from_millis(300));
        let before_open = logged.load(Ordering::SeqCst);
        // Opened before any assertion, so that a failure cannot leave the
        // guard's drop waiting on a stuck writer.
        drop(open);
        logger.join().unwrap();
        drop(guard);
        assert!(
            before_open < 300,
            "{before_open} lines were taken while the sink was stuck"
        );
        let expected: String = (0..1000).map(|i| format!("{i:09}\n")).collect();
        assert_eq!(inner.text(), expected);
    }

    #[test]
    fn dropping_the_guard_writes_what_is_left() {
        let sink = Shown::default();
        let limits = Limits {
            flush_every: Duration::from_secs(3600),
            wake_at: 1 << 20,
            max_pending: 1 << 21,
        };
        let (writer, guard) = start(sink.clone(), limits).unwrap();
        log(&writer, "last words\n");
        drop(guard);
        assert_eq!(sink.text(), "last words\n");
    }
}
