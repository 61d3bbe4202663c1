//! The two requests a proxy builds itself rather than relays: the ACK a
//! client INVITE transaction sends for a 3xx–6xx (RFC 3261 §17.1.1.3) and
//! the CANCEL for a pending branch (§9.1). Both copy the branch's request:
//! its Request-URI, its top Via (ours, so the answer finds the branch),
//! Call-ID, From, CSeq number and Route set; the ACK takes To from the
//! response (with the tag the downstream element chose).

use crate::sip::check::parse_cseq;
use crate::sip::via::push_decimal;
use crate::sip::{HeaderName, Message, StartLine};

/// ACK for a non-2xx final `response` to the INVITE `sent`.
pub fn build_ack(sent: &Message<'_>, response: &Message<'_>, out: &mut Vec<u8>) {
    build(sent, b"ACK", response.header(HeaderName::To), out)
}

/// CANCEL for the request `sent` (an INVITE a branch is still waiting on).
pub fn build_cancel(sent: &Message<'_>, out: &mut Vec<u8>) {
    build(sent, b"CANCEL", None, out)
}

fn build(sent: &Message<'_>, method: &[u8], to: Option<&[u8]>, out: &mut Vec<u8>) {
    let StartLine::Request { uri, .. } = sent.start else { return };
    let line = |out: &mut Vec<u8>, name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(uri);
    out.extend_from_slice(b" SIP/2.0\r\n");
    if let Some((via, _)) = sent.values(HeaderName::Via).next() {
        line(out, b"Via", via);
    }
    for (route, _) in sent.values(HeaderName::Route) {
        line(out, b"Route", route);
    }
    line(out, b"Max-Forwards", b"70");
    line(out, b"From", sent.header(HeaderName::From).unwrap_or_default());
    line(out, b"To", to.or(sent.header(HeaderName::To)).unwrap_or_default());
    line(out, b"Call-ID", sent.header(HeaderName::CallId).unwrap_or_default());
    let num = sent.header(HeaderName::CSeq).and_then(parse_cseq).map(|(n, _)| n).unwrap_or(0);
    out.extend_from_slice(b"CSeq: ");
    push_decimal(out, num as u64);
    out.push(b' ');
    out.extend_from_slice(method);
    out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{scan, Framing};

    const INVITE: &[u8] = b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
Via: SIP/2.0/UDP edge:5060;branch=z9hG4bK-0-1;rport\r\n\
Via: SIP/2.0/UDP alice-pc:5060;branch=z9hG4bKa\r\n\
Route: <sip:p1;lr>, <sip:p2;lr>\r\n\
Max-Forwards: 69\r\n\
From: <sip:alice@a>;tag=1\r\n\
To: <sip:bob@b>\r\n\
Call-ID: c1\r\n\
CSeq: 314 INVITE\r\n\
Contact: <sip:alice@alice-pc>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

    fn m(b: &[u8]) -> Message<'_> {
        scan(b, Framing::Datagram).unwrap().complete().unwrap()
    }

    #[test]
    fn cancel_copies_the_branch_identity_only() {
        let mut out = Vec::new();
        build_cancel(&m(INVITE), &mut out);
        let c = m(&out);
        assert_eq!(c.method().unwrap().as_bytes(), b"CANCEL");
        assert!(out.starts_with(b"CANCEL sip:bob@192.0.2.4 SIP/2.0\r\n"));
        assert_eq!(c.count(HeaderName::Via), 1);
        assert_eq!(c.header(HeaderName::Via), Some(&b"SIP/2.0/UDP edge:5060;branch=z9hG4bK-0-1;rport"[..]));
        assert_eq!(c.values(HeaderName::Route).count(), 2);
        assert_eq!(c.header(HeaderName::CSeq), Some(&b"314 CANCEL"[..]));
        assert_eq!(c.header(HeaderName::To), Some(&b"<sip:bob@b>"[..]));
        assert_eq!(c.header(HeaderName::Contact), None);
        assert_eq!(c.body(), b"");
    }

    #[test]
    fn ack_takes_to_from_the_response() {
        let resp = b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP edge:5060;branch=z9hG4bK-0-1\r\nFrom: <sip:alice@a>;tag=1\r\nTo: <sip:bob@b>;tag=xyz\r\nCall-ID: c1\r\nCSeq: 314 INVITE\r\nContent-Length: 0\r\n\r\n";
        let mut out = Vec::new();
        build_ack(&m(INVITE), &m(resp), &mut out);
        let a = m(&out);
        assert_eq!(a.method().unwrap().as_bytes(), b"ACK");
        assert_eq!(a.header(HeaderName::To), Some(&b"<sip:bob@b>;tag=xyz"[..]));
        assert_eq!(a.header(HeaderName::CSeq), Some(&b"314 ACK"[..]));
        assert_eq!(a.header(HeaderName::CallId), Some(&b"c1"[..]));
    }
}
