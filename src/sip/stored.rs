//! A message kept for later: its bytes and the framing they scanned
//! complete with. Only a message that scanned complete can become one, so
//! its view cannot fail: code that keeps a request (a REGISTER waiting for
//! another shard, the request of a proxy transaction) reads it again with
//! `view()` instead of `let Ok(Status::Complete(m)) = scan(..) else ..`.
//!
//! The view re-scans the bytes (no index is kept: a stored request is read
//! a few times in its life, and most of a transaction's memory is its
//! bytes). The scanner is a pure function of bytes and framing, and a
//! message's `buf` is exactly the prefix that scanned complete, so the
//! re-scan gives the same message.

use super::scan::{scan, Framing, Message, Status};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    bytes: Vec<u8>,
    framing: Framing,
}

impl Stored {
    /// Keeps a copy of a scanned message (its `buf`, with its framing).
    pub fn of(msg: &Message<'_>) -> Stored {
        Stored { bytes: msg.buf.to_vec(), framing: msg.framing }
    }

    /// Keeps `bytes` when they scan as one complete message with `framing`
    /// (bytes after it are dropped); gives them back otherwise.
    pub fn new(mut bytes: Vec<u8>, framing: Framing) -> Result<Stored, Vec<u8>> {
        let len = match scan(&bytes, framing) {
            Ok(Status::Complete(m)) => m.buf.len(),
            _ => return Err(bytes),
        };
        bytes.truncate(len);
        Ok(Stored { bytes, framing })
    }

    /// The message, scanned again.
    pub fn view(&self) -> Message<'_> {
        match scan(&self.bytes, self.framing) {
            Ok(Status::Complete(m)) => m,
            // Unreachable: these bytes scanned complete with this framing when stored.
            _ => unreachable!("a stored message scans complete with its framing"),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn a_stored_message_views_as_it_scanned_for_every_framing() {
        for framing in [Framing::Datagram, Framing::Stream] {
            let mut buf = b"\r\n".to_vec();
            buf.extend_from_slice(REQ);
            buf.extend_from_slice(b"OPTIONS sip:next"); // the start of the next message on a stream
            if framing == Framing::Datagram {
                buf.truncate(buf.len() - 16);
            }
            let Ok(Status::Complete(m)) = scan(&buf, framing) else { panic!("{framing:?}") };
            let kept = Stored::of(&m);
            assert_eq!(kept.bytes(), &buf[..m.len]);
            let v = kept.view();
            assert_eq!((v.start, v.body, v.headers().len()), (m.start, m.body, m.headers().len()));
            assert_eq!(Stored::new(buf.clone(), framing).unwrap(), kept);
        }
    }

    #[test]
    fn only_complete_messages_are_stored() {
        assert!(Stored::new(REQ[..30].to_vec(), Framing::Stream).is_err());
        assert!(Stored::new(b"garbage\r\n\r\n".to_vec(), Framing::Datagram).is_err());
        assert_eq!(Stored::new(b"\r\n".to_vec(), Framing::Datagram), Err(b"\r\n".to_vec()));
    }

    /// Every torture vector (RFC 4475, RFC 5118), as written and with CRLF
    /// line ends, alone or followed by more bytes, in both framings: what
    /// scans complete views the same once stored.
    #[test]
    fn every_torture_vector_that_scans_complete_views_the_same_once_stored() {
        let mut files = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")];
        let mut complete = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let crlf: Vec<u8> = raw
                .iter()
                .enumerate()
                .flat_map(
                    |(i, &c)| {
                        if c == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
                            vec![b'\r', c]
                        } else {
                            vec![c]
                        }
                    },
                )
                .collect();
            for base in [&raw, &crlf] {
                for tail in [&b""[..], b"\r\n", b"INVITE sip:x SIP/2.0\r\n"] {
                    let buf = [base.as_slice(), tail].concat();
                    for framing in [Framing::Datagram, Framing::Stream] {
                        let Ok(Status::Complete(m)) = scan(&buf, framing) else {
                            continue;
                        };
                        let kept = Stored::of(&m);
                        let v = kept.view();
                        assert_eq!(
                            (v.start, v.body, v.len, v.headers().len()),
                            (m.start, m.body, m.len, m.headers().len()),
                            "{path:?} {framing:?}"
                        );
                        assert_eq!(Stored::new(buf.clone(), framing).as_ref(), Ok(&kept), "{path:?} {framing:?}");
                        complete += 1;
                    }
                }
            }
        }
        assert!(complete > 100, "{complete}");
    }
}
