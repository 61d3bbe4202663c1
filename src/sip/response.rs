//! Building a response to a request (RFC 3261 §8.2.6): status line, the
//! request's Via lines (top one stamped with received/rport), From, To
//! (tag added), Call-ID and CSeq copied verbatim, then caller-supplied
//! headers, Content-Length and the body. Allocates nothing except into `out`.

use std::net::IpAddr;

use super::addr::parse_name_addr;
use super::check::Essentials;
use super::header::HeaderName;
use super::scan::{split_list, Header, Message};
use super::via::{parsed_from, push_decimal, write_stamped_parsed, write_stamped_via};

/// Copy a header line up to the end of its value, then CRLF (so LF-only
/// requests still get CRLF line ends in the response).
fn copy_line(buf: &[u8], h: &Header, out: &mut Vec<u8>) {
    out.extend_from_slice(&buf[h.line.start as usize..h.value.end as usize]);
    out.extend_from_slice(b"\r\n");
}

/// Write a response to `req` into `out` (appending). `ess`, when given,
/// spares re-parsing the To header. With `stamp = Some((ip, port))` the top
/// Via value gets received/rport as in [`write_stamped_via`]. `to_tag` is
/// appended to To when the code is > 100 and To has no tag (and To parses).
#[allow(clippy::too_many_arguments)]
pub fn write_response(
    req: &Message,
    ess: Option<&Essentials>,
    code: u16,
    reason: &str,
    to_tag: Option<&[u8]>,
    stamp: Option<(IpAddr, u16)>,
    extra: &[(&str, &[u8])],
    body: &[u8],
    out: &mut Vec<u8>,
) {
    let buf = req.buf;
    out.extend_from_slice(b"SIP/2.0 ");
    push_decimal(out, code as u64);
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    // Only the first of each of From, To, Call-ID, CSeq (a request that
    // repeats them still gets one), found in the same walk as the Vias.
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    let mut first_via = true;
    for h in req.headers() {
        let slot = match h.name {
            HeaderName::Via => None,
            HeaderName::From => Some(&mut from),
            HeaderName::To => Some(&mut to),
            HeaderName::CallId => Some(&mut call_id),
            HeaderName::CSeq => Some(&mut cseq),
            _ => continue,
        };
        if let Some(slot) = slot {
            if slot.is_none() {
                *slot = Some(h);
            }
            continue;
        }
        match (first_via, stamp) {
            (true, Some((ip, port))) => {
                let Some(v) = split_list(buf, h.value).next() else {
                    copy_line(buf, h, out);
                    continue;
                };
                out.extend_from_slice(&buf[h.line.start as usize..v.start as usize]);
                let value = v.of(buf);
                match ess {
                    // check_request parsed this very value already
                    Some(e) if parsed_from(&e.top_via, value) => write_stamped_parsed(value, &e.top_via, ip, port, out),
                    _ => write_stamped_via(value, ip, port, out),
                }
                out.extend_from_slice(&buf[v.end as usize..h.value.end as usize]);
                out.extend_from_slice(b"\r\n");
            }
            _ => copy_line(buf, h, out),
        }
        first_via = false;
    }
    if let Some(h) = from {
        copy_line(buf, h, out);
    }
    if let Some(h) = to {
        out.extend_from_slice(&buf[h.line.start as usize..h.value.end as usize]);
        if code > 100 {
            if let Some(tag) = to_tag {
                let needs = match ess {
                    Some(e) => e.to.tag().is_none(),
                    None => parse_name_addr(h.value.of(buf)).is_ok_and(|a| a.tag().is_none()),
                };
                if needs {
                    out.extend_from_slice(b";tag=");
                    out.extend_from_slice(tag);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    for h in [call_id, cseq].into_iter().flatten() {
        copy_line(buf, h, out);
    }
    for (name, value) in extra {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    push_decimal(out, body.len() as u64);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::check::check_request;
    use crate::sip::scan::{scan, Framing};

    const REQ: &[u8] = b"INVITE sip:b@example.com SIP/2.0\n\
Via: SIP/2.0/UDP pc.example.com;rport;branch=z9hG4bK1 , SIP/2.0/UDP p2;branch=z9hG4bK0\n\
v: SIP/2.0/TCP p3;branch=z9hG4bKx\n\
Max-Forwards: 70\n\
To: Bob <sip:b@example.com>\n\
From: <sip:a@example.com>;tag=99\n\
Call-ID: c1\n\
CSeq: 1 INVITE\n\
X-Secret: no\n\
Content-Length: 0\n\n";

    #[test]
    fn builds_with_stamp_and_tag() {
        let m = scan(REQ, Framing::Datagram).unwrap().complete().unwrap();
        let e = check_request(&m).unwrap();
        let mut out = Vec::new();
        write_response(
            &m,
            Some(&e),
            486,
            "Busy Here",
            Some(b"t1"),
            Some(("192.0.2.7".parse().unwrap(), 5062)),
            &[("Server", b"sipedge")],
            b"",
            &mut out,
        );
        let want = "SIP/2.0 486 Busy Here\r\n\
Via: SIP/2.0/UDP pc.example.com;rport=5062;branch=z9hG4bK1;received=192.0.2.7 , SIP/2.0/UDP p2;branch=z9hG4bK0\r\n\
v: SIP/2.0/TCP p3;branch=z9hG4bKx\r\n\
From: <sip:a@example.com>;tag=99\r\n\
To: Bob <sip:b@example.com>;tag=t1\r\n\
Call-ID: c1\r\n\
CSeq: 1 INVITE\r\n\
Server: sipedge\r\n\
Content-Length: 0\r\n\r\n";
        assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
        // and it scans back as a valid response
        let r = scan(&out, Framing::Stream).unwrap().complete().unwrap();
        assert_eq!(r.code(), Some(486));
    }

    #[test]
    fn no_tag_on_100_and_ess_none() {
        let m = scan(REQ, Framing::Datagram).unwrap().complete().unwrap();
        let mut out = Vec::new();
        write_response(&m, None, 100, "Trying", Some(b"t1"), None, &[], b"", &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("\r\nTo: Bob <sip:b@example.com>\r\n"));
        assert!(s.contains("Via: SIP/2.0/UDP pc.example.com;rport;branch"));
        let mut out = Vec::new();
        write_response(&m, None, 400, "Bad CSeq", Some(b"t2"), None, &[], b"xy", &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("To: Bob <sip:b@example.com>;tag=t2\r\n"));
        assert!(s.ends_with("Content-Length: 2\r\n\r\nxy"));
    }
}
