//! Stream framing (TCP and TLS; a WebSocket message is one SIP message): where the next SIP
//! message in a connection's buffer ends, CRLF keepalives (RFC 5626 §4.4.1),
//! and when a connection has to be closed because what it sends can never
//! become a message.

use crate::sip::{frame_len, scan, Framing, ScanError, Status};

/// What the front of a stream buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet.
    Need,
    /// A CRLFCRLF keepalive ping of `n` bytes: answer with CRLF (pong).
    Ping(usize),
    /// A lone CRLF (a pong, or stray line end between messages): skip `n` bytes.
    Skip(usize),
    /// A complete message of `n` bytes.
    Message(usize),
    /// The buffer can never become a message: close the connection.
    Garbage(Unframed),
}

crate::reasons! {
    /// Why a stream's framing is lost (a reason a connection is closed).
    pub enum Unframed {
        TooLarge => "message over buffer limit",
        IncompleteTooLarge => "incomplete message over buffer limit",
        ;
        /// The first thing wrong (a TLS hello on a TCP port is a bad start line).
        Unscannable(ScanError),
    }
}

/// Looks at the front of `buf`; `limit` bounds the bytes one incomplete
/// message may hold (slowloris guard).
pub fn next_frame(buf: &[u8], limit: usize) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::Ping(4);
    }
    if buf.starts_with(b"\r\n") {
        // Wait for a second CRLF that would make it a ping, unless something else follows.
        return if buf.len() < 4 && b"\r\n\r\n".starts_with(buf) { Frame::Need } else { Frame::Skip(2) };
    }
    if buf.is_empty() {
        return Frame::Need;
    }
    // Framing needs only the header block and Content-Length; the core
    // scans the message itself. One bad message with intact framing is
    // passed on (the core counts it); only lost framing ends the connection.
    match frame_len(buf) {
        Ok(Status::Complete(n)) if n > limit => Frame::Garbage(Unframed::TooLarge),
        Ok(Status::Complete(n)) => Frame::Message(n),
        Ok(Status::Partial) if buf.len() >= limit => Frame::Garbage(Unframed::IncompleteTooLarge),
        Ok(Status::Partial) => Frame::Need,
        // Name the first thing wrong (e.g. a TLS hello on a TCP port is a bad start line).
        Err(e) => Frame::Garbage(Unframed::Unscannable(match scan(buf, Framing::Stream) {
            Err(first) => first,
            _ => e,
        })),
    }
}

/// What one WebSocket message holds (RFC 7118 §5: exactly one SIP
/// message, so no Content-Length framing): a CRLF keepalive some clients
/// (SIP.js) send as a message of its own, blank line ends, or a message.
pub fn message_frame(msg: &[u8]) -> Frame {
    match msg {
        b"\r\n\r\n" => Frame::Ping(4),
        _ if msg.iter().all(|&b| b == b'\r' || b == b'\n') => Frame::Skip(msg.len()),
        _ => Frame::Message(msg.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPT: &[u8] = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn keepalives() {
        assert_eq!(next_frame(b"\r\n\r\n", 100), Frame::Ping(4));
        assert_eq!(next_frame(b"\r\n", 100), Frame::Need);
        assert_eq!(next_frame(b"\r\nOPT", 100), Frame::Skip(2));
        assert_eq!(next_frame(b"", 100), Frame::Need);
    }

    #[test]
    fn pipelined_and_split_messages() {
        let mut two = OPT.to_vec();
        two.extend_from_slice(OPT);
        assert_eq!(next_frame(&two, 65535), Frame::Message(OPT.len()));
        for cut in 1..OPT.len() {
            assert_eq!(next_frame(&OPT[..cut], 65535), Frame::Need, "cut at {cut}");
        }
    }

    #[test]
    fn limit_closes_slowloris() {
        let partial = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert!(matches!(next_frame(partial, 64), Frame::Garbage(_)));
        assert!(matches!(next_frame(OPT, 64), Frame::Garbage(_)));
    }

    #[test]
    fn a_bad_message_with_intact_framing_is_passed_on_not_fatal() {
        let bad = b"SIP/2.0 4294967301 Huge\r\nVia: x\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(next_frame(bad, 65535), Frame::Message(bad.len()));
    }

    #[test]
    fn a_websocket_message_is_one_sip_message_or_a_keepalive() {
        assert_eq!(message_frame(b"\r\n\r\n"), Frame::Ping(4));
        assert_eq!(message_frame(b"\r\n"), Frame::Skip(2));
        assert_eq!(message_frame(b""), Frame::Skip(0));
        // No Content-Length needed: the message ends where the WebSocket message does.
        let bare = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bK1\r\n\r\n";
        assert_eq!(message_frame(bare), Frame::Message(bare.len()));
    }

    #[test]
    fn garbage_closes() {
        assert!(matches!(
            next_frame(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n", 65535),
            Frame::Garbage(_)
        ));
    }
}
