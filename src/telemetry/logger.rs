//! Logging that never blocks a shard: `log` records are formatted on the
//! calling thread, pushed into a bounded queue, and written to stderr by one
//! logger thread. A full queue drops the line and counts it
//! (`sipedge_log_dropped_total`).
//!
//! Line formats (`[log] format`): text with an RFC 3339 UTC timestamp to the
//! millisecond, or one JSON object per line for log shippers. Under
//! systemd, when stderr is the journal (`JOURNAL_STREAM` names stderr's
//! device and inode, as systemd.exec(5) documents), text lines carry no
//! timestamp (journald stamps every line itself; `journalctl` would show
//! two) and start with the sd-daemon(3) `<N>` priority, so `journalctl -p
//! warning` filters by level. JSON lines keep their timestamp everywhere.

use crossbeam_channel::{bounded, Sender, TrySendError};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// How long the writer naps between batches while lines keep coming: the
/// most a line waits, and 5 ms of lines must fit the queue (`log.queue`,
/// 8192 by default: 1.6 M lines/s).
const BATCH_NAP: std::time::Duration = std::time::Duration::from_millis(5);

/// Lines dropped because the logger queue was full.
pub static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `2026-12-03T18:16:55.123Z INFO  target: message`.
    Text,
    /// `<6>target: message`: for the journal, which adds the time.
    Journal,
    /// `{"ts":"...","level":"INFO","target":"...","msg":"..."}`.
    Json,
}

impl Style {
    /// The style for `json` or text, journal-aware for text.
    pub fn detect(json: bool) -> Style {
        match json {
            true => Style::Json,
            false if stderr_is_journal() => Style::Journal,
            false => Style::Text,
        }
    }

    /// One line, newline included.
    pub fn line(self, now: SystemTime, level: log::Level, target: &str, msg: &std::fmt::Arguments<'_>) -> String {
        match self {
            Style::Text => format!("{} {:5} {target}: {msg}\n", humantime::format_rfc3339_millis(now), level),
            Style::Journal => format!("<{}>{target}: {msg}\n", priority(level)),
            Style::Json => {
                let v = serde_json::json!({ "ts": humantime::format_rfc3339_millis(now).to_string(), "level": level.as_str(), "target": target, "msg": msg.to_string() });
                format!("{v}\n")
            }
        }
    }
}

impl Style {
    /// A trace record as a line: the text form of `Trace::line` at info, or a
    /// JSON object with each field (for log shippers).
    pub fn trace_line(self, now: SystemTime, t: &crate::core::trace::Trace) -> String {
        match self {
            Style::Text | Style::Journal => {
                self.line(now, log::Level::Info, TRACE_TARGET, &format_args!("{}", t.line()))
            }
            Style::Json => {
                let v = serde_json::json!({
                    "ts": humantime::format_rfc3339_millis(now).to_string(), "level": "INFO", "target": TRACE_TARGET,
                    "msg": t.line(), "method": t.method, "from": t.from, "to": t.to, "source": t.source.to_string(),
                    "transport": t.transport.label(), "status": t.status, "duration_ms": t.duration_ms,
                    "shard": t.shard, "call_id": t.call_id,
                });
                format!("{v}\n")
            }
        }
    }
}

/// The target trace lines carry.
pub const TRACE_TARGET: &str = "sipedge::trace";

/// syslog priorities (sd-daemon(3)): err 3, warning 4, info 6, debug 7.
fn priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// Is stderr connected to the journal? systemd sets `JOURNAL_STREAM` to
/// `device:inode` of the stream it connected; stderr must be that one (a
/// child whose stderr was redirected inherits the variable but not the stream).
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(v) = std::env::var("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = v.split_once(':') else { return false };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else { return false };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// Where trace records go: the same queue, whatever `log.level` says (an
/// operator who asked for a trace wants it).
static TRACE: std::sync::OnceLock<(Sender<String>, Style)> = std::sync::OnceLock::new();

/// Queues one trace record (`core::trace`); a full queue drops it, counted
/// with the other log lines. Never blocks. Nothing happens before `init`.
pub fn trace(t: &crate::core::trace::Trace) {
    let Some((tx, style)) = TRACE.get() else { return };
    if let Err(TrySendError::Full(_)) = tx.try_send(style.trace_line(SystemTime::now(), t)) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

struct QueueLogger {
    tx: Sender<String>,
    level: log::LevelFilter,
    style: Style,
}

impl log::Log for QueueLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = self.style.line(SystemTime::now(), r.level(), r.target(), r.args());
        if let Err(TrySendError::Full(_)) = self.tx.try_send(line) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {}
}

/// Installs the logger; returns the writer thread's handle (it ends when
/// the process does).
pub fn init(level: log::LevelFilter, queue: usize, style: Style) -> std::thread::JoinHandle<()> {
    let (tx, rx) = bounded::<String>(queue);
    let handle = std::thread::Builder::new()
        .name("logger".into())
        .spawn(move || {
            // Buffered: a burst (a trace of every request) is written in
            // large writes, flushed as soon as the queue is empty. While lines
            // keep coming the thread naps between batches instead of
            // blocking on the queue, so a shard's send finds no sleeper to
            // wake (a futex wake and a context switch per line cost more
            // than the line); a lone line is written at once.
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
            while let Ok(line) = rx.recv() {
                let _ = out.write_all(line.as_bytes());
                loop {
                    let mut n = 0;
                    while let Ok(line) = rx.try_recv() {
                        let _ = out.write_all(line.as_bytes());
                        n += 1;
                    }
                    let _ = out.flush();
                    if n == 0 {
                        break;
                    }
                    std::thread::sleep(BATCH_NAP);
                }
            }
        })
        .expect("spawn logger thread");
    let _ = TRACE.set((tx.clone(), style));
    if log::set_boxed_logger(Box::new(QueueLogger { tx, level, style })).is_ok() {
        log::set_max_level(level);
    }
    handle
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(style: Style, level: log::Level, msg: &str) -> String {
        style.line(
            UNIX_EPOCH + Duration::from_millis(1_796_315_841_637),
            level,
            "sipedge::shard",
            &format_args!("{msg}"),
        )
    }

    #[test]
    fn text_is_rfc3339_utc_to_the_millisecond() {
        assert_eq!(at(Style::Text, log::Level::Warn, "x"), "2026-12-03T16:37:21.637Z WARN  sipedge::shard: x\n");
    }

    #[test]
    fn journal_lines_have_a_priority_and_no_time() {
        assert_eq!(at(Style::Journal, log::Level::Error, "x"), "<3>sipedge::shard: x\n");
        assert_eq!(at(Style::Journal, log::Level::Info, "x"), "<6>sipedge::shard: x\n");
    }

    #[test]
    fn json_is_one_object_per_line_with_the_message_escaped() {
        let line = at(Style::Json, log::Level::Info, "a \"quoted\"\nline");
        assert!(line.ends_with("}\n") && line.matches('\n').count() == 1, "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "2026-12-03T16:37:21.637Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "sipedge::shard");
        assert_eq!(v["msg"], "a \"quoted\"\nline");
    }

    #[test]
    fn not_the_journal_without_journal_stream() {
        if std::env::var_os("JOURNAL_STREAM").is_none() {
            assert_eq!(Style::detect(false), Style::Text);
        }
        assert_eq!(Style::detect(true), Style::Json);
    }
}
