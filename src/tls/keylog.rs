//! The TLS key log (`tls.key_log`): every session secret rustls derives,
//! in the NSS SSLKEYLOGFILE format (`LABEL <client_random hex> <secret hex>`),
//! so Wireshark or tshark can decrypt a capture of the edge's TLS traffic.
//! Off by default: with it on, anyone who reads the file reads the calls.
//!
//! Shards never write files: a line goes through a bounded channel to a
//! plain writer thread, and a full channel is a counted drop
//! (`sipedge_tls_keylog_dropped_total`), never a stalled handshake.

use crossbeam_channel::{bounded, Sender, TrySendError};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Lines the writer thread has not written yet, at most.
const QUEUE: usize = 4096;

/// Key log lines dropped because the writer fell behind.
pub static DROPPED: AtomicU64 = AtomicU64::new(0);

/// A rustls `KeyLog` that hands lines to the writer thread.
#[derive(Debug)]
pub struct KeyLogFile {
    lines: Sender<String>,
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        if let Err(TrySendError::Full(_)) = self.lines.try_send(line) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The key log the config asks for: none (rustls' no-op) when `path` is
/// empty, else a writer thread appending to `path` (created 0600).
pub fn open(path: &str) -> Result<Arc<dyn rustls::KeyLog>, String> {
    if path.is_empty() {
        return Ok(Arc::new(rustls::NoKeyLog));
    }
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("tls.key_log {path}: {e}"))?
    };
    let (tx, rx) = bounded::<String>(QUEUE);
    std::thread::Builder::new()
        .name("tls-keylog".into())
        .spawn(move || {
            for line in rx {
                // Flushed line by line: a capture is decrypted while it runs.
                if file.write_all(line.as_bytes()).and_then(|_| file.flush()).is_err() {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .map_err(|e| format!("tls.key_log thread: {e}"))?;
    log::warn!("TLS key log on: session secrets are written to {path}; turn tls.key_log off when done");
    Ok(Arc::new(KeyLogFile { lines: tx }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
