//! Logging that never blocks a shard: `log` records are formatted on the
//! calling thread, pushed into a bounded queue, and written to stderr by one
//! logger thread. A full queue drops the line and counts it
//! (`sipedge_log_dropped_total`).

use crossbeam_channel::{bounded, Sender, TrySendError};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Lines dropped because the logger queue was full.
pub static DROPPED: AtomicU64 = AtomicU64::new(0);

struct QueueLogger {
    tx: Sender<String>,
    level: log::LevelFilter,
}

impl log::Log for QueueLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let line = format!("{}.{:03} {:5} {}: {}\n", t.as_secs(), t.subsec_millis(), r.level(), r.target(), r.args());
        if let Err(TrySendError::Full(_)) = self.tx.try_send(line) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {}
}

/// Installs the logger; returns the writer thread's handle (it ends when
/// the process does).
pub fn init(level: log::LevelFilter, queue: usize) -> std::thread::JoinHandle<()> {
    let (tx, rx) = bounded::<String>(queue);
    let handle = std::thread::Builder::new()
        .name("logger".into())
        .spawn(move || {
            let stderr = std::io::stderr();
            for line in rx {
                let _ = stderr.lock().write_all(line.as_bytes());
            }
        })
        .expect("spawn logger thread");
    if log::set_boxed_logger(Box::new(QueueLogger { tx, level })).is_ok() {
        log::set_max_level(level);
    }
    handle
}
