//! What a server must verify before it acts on a message (RFC 3261 §8.2,
//! §16.3, §18.1.2): version, Request-URI, the mandatory headers and their
//! cardinality, CSeq/Max-Forwards ranges, a parsable top Via, From and To.
//! No policy: Max-Forwards 0 (483), Require (420), auth (401) and the like
//! are the core's decisions. Malformed messages say whether a response can
//! still be built by copying their raw Via/From/To/Call-ID/CSeq lines.

use super::addr::{parse_name_addr, NameAddr};
use super::header::{is_lws, is_token, trim_lws, HeaderName};
use super::method::Method;
use super::scan::{Message, StartLine};
use super::uri::{parse_uri, Scheme, Uri};
use super::via::{parse_via, Via};

#[derive(Clone, Copy, Debug)]
pub struct Essentials<'a> {
    pub method: Method<'a>,
    pub ruri: Uri<'a>,
    pub top_via: Via<'a>,
    pub from: NameAddr<'a>,
    pub to: NameAddr<'a>,
    pub call_id: &'a [u8],
    pub cseq: u32,
    pub cseq_method: Method<'a>,
    pub max_forwards: Option<u32>,
}

crate::reasons! {
    /// What `check_request` / `check_response` found wrong: the label is the
    /// reason phrase of the answer (400, 505, 416) and the metric label.
    pub enum Invalid {
        NotARequest => "Not a request",
        NotAResponse => "Not a response",
        VersionNotSupported => "Version Not Supported",
        BadSipVersion => "Bad SIP version",
        TrailingWhitespace => "Trailing whitespace in Request-Line",
        BadStatusCode => "Bad status code",
        BadRequestUri => "Bad Request-URI",
        MissingVia => "Missing Via",
        BadVia => "Bad Via",
        MissingFrom => "Missing From",
        MultipleFromHeaders => "Multiple From headers",
        MissingTo => "Missing To",
        MultipleToHeaders => "Multiple To headers",
        MissingCallId => "Missing Call-ID",
        MultipleCallIdHeaders => "Multiple Call-ID headers",
        MissingCSeq => "Missing CSeq",
        MultipleCSeqHeaders => "Multiple CSeq headers",
        BadMaxForwards => "Bad Max-Forwards",
        MultipleMaxForwardsHeaders => "Multiple Max-Forwards headers",
        BadCallId => "Bad Call-ID",
        BadCSeq => "Bad CSeq",
        CSeqMethodMismatch => "CSeq method mismatch",
        BadFrom => "Bad From",
        BadTo => "Bad To",
        UnsupportedUriScheme => "Unsupported URI Scheme",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// 400, 505, or 416 for a Request-URI scheme other than sip/sips/tel.
    pub code: u16,
    /// Short reason phrase (`reason.label()`), also a metric label.
    pub reason: Invalid,
    /// Via present and From, To, Call-ID, CSeq each exactly once: a
    /// response can be built from the raw lines.
    pub answerable: bool,
}

/// Largest CSeq number (RFC 3261 §8.1.1.5: less than 2**31).
pub const MAX_CSEQ: u32 = (1 << 31) - 1;

/// Can a response be built? It needs a Via to copy (the client matches the
/// answer by it; the edge sends to the source address regardless); From,
/// To, Call-ID and CSeq are copied when present (the first of each), so a
/// request missing them or repeating them, or with a broken Via, still gets
/// its 400 (RFC 4475 §3.1.2.1 badinv01, §3.3.1 insuf, §3.3.8 multi01).
pub fn answerable(m: &Message<'_>) -> bool {
    m.count(HeaderName::Via) > 0
}

/// `CSeq: 1*DIGIT LWS Method` → (number, method).
pub fn parse_cseq(v: &[u8]) -> Option<(u32, Method<'_>)> {
    let v = trim_lws(v);
    let de = v.iter().position(|c| !c.is_ascii_digit())?;
    if de == 0 || de > 10 || !is_lws(v[de]) {
        return None;
    }
    let n: u64 = v[..de].iter().fold(0u64, |a, &c| a * 10 + (c - b'0') as u64);
    if n > MAX_CSEQ as u64 {
        return None;
    }
    let m = trim_lws(&v[de..]);
    if m.is_empty() || !m.iter().all(|&c| is_token(c)) {
        return None;
    }
    Some((n as u32, Method::parse(m)))
}

fn parse_max_forwards(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v.iter().fold(0u64, |a, &c| a * 10 + (c - b'0') as u64);
    (n <= 255).then_some(n as u32)
}

fn is_sip_version(v: &[u8]) -> bool {
    v.eq_ignore_ascii_case(b"SIP/2.0")
}

/// Looks like `SIP/<digits>.<digits>` (so another version → 505, garbage → 400).
fn looks_like_version(v: &[u8]) -> bool {
    if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return false;
    }
    let r = &v[4..];
    let Some(dot) = r.iter().position(|&c| c == b'.') else { return false };
    dot > 0
        && dot + 1 < r.len()
        && r[..dot].iter().all(u8::is_ascii_digit)
        && r[dot + 1..].iter().all(u8::is_ascii_digit)
}

/// The headers a check looks at: count (capped at 2) and first value of
/// each, gathered in one walk over the header index instead of one per name.
struct Tally<'a> {
    count: [u8; 6],
    first: [&'a [u8]; 6],
}

const VIA: usize = 0;
const FROM: usize = 1;
const TO: usize = 2;
const CALL_ID: usize = 3;
const CSEQ: usize = 4;
const MAX_FORWARDS: usize = 5;

impl<'a> Tally<'a> {
    fn of(m: &Message<'a>) -> Tally<'a> {
        let mut t = Tally { count: [0; 6], first: [&[]; 6] };
        for h in m.headers() {
            let i = match h.name {
                HeaderName::Via => VIA,
                HeaderName::From => FROM,
                HeaderName::To => TO,
                HeaderName::CallId => CALL_ID,
                HeaderName::CSeq => CSEQ,
                HeaderName::MaxForwards => MAX_FORWARDS,
                _ => continue,
            };
            if t.count[i] == 0 {
                t.first[i] = h.value.of(m.buf);
            }
            t.count[i] = (t.count[i] + 1).min(2);
        }
        t
    }

    /// The value of a header that must appear exactly once: `Err(None)`
    /// when missing, `Err(Some(()))` when repeated.
    fn single(&self, i: usize) -> Result<&'a [u8], Option<()>> {
        match self.count[i] {
            0 => Err(None),
            1 => Ok(self.first[i]),
            _ => Err(Some(())),
        }
    }
}

/// Verify a request; see the module doc.
pub fn check_request<'a>(m: &Message<'a>) -> Result<Essentials<'a>, Malformed> {
    let tally = Tally::of(m);
    // Same answer as `answerable(m)`, from the walk already made.
    let answerable = tally.count[VIA] > 0;
    let bad = |code: u16, reason: Invalid| Malformed { code, reason, answerable };
    let StartLine::Request { method, uri, version } = m.start else {
        return Err(bad(400, Invalid::NotARequest));
    };
    if !is_sip_version(version) {
        let trimmed = version.trim_ascii_end();
        return Err(if trimmed.len() < version.len() && is_sip_version(trimmed) {
            bad(400, Invalid::TrailingWhitespace)
        } else if looks_like_version(version) {
            bad(505, Invalid::VersionNotSupported)
        } else {
            bad(400, Invalid::BadSipVersion)
        });
    }
    let method = Method::parse(method);
    let ruri = parse_uri(uri).map_err(|_| bad(400, Invalid::BadRequestUri))?;

    let via_raw = m.values(HeaderName::Via).next().ok_or(bad(400, Invalid::MissingVia))?.0;
    let top_via = parse_via(via_raw).map_err(|_| bad(400, Invalid::BadVia))?;
    if !top_via.is_sip2() {
        return Err(if looks_like_version(top_via.protocol) || top_via.name.eq_ignore_ascii_case(b"SIP") {
            bad(505, Invalid::VersionNotSupported)
        } else {
            bad(400, Invalid::BadVia)
        });
    }
    let req = |i, missing, multi| {
        tally.single(i).map_err(|e| match e {
            None => bad(400, missing),
            Some(()) => bad(400, multi),
        })
    };
    let from = req(FROM, Invalid::MissingFrom, Invalid::MultipleFromHeaders)?;
    let to = req(TO, Invalid::MissingTo, Invalid::MultipleToHeaders)?;
    let call_id = req(CALL_ID, Invalid::MissingCallId, Invalid::MultipleCallIdHeaders)?;
    let cseq = req(CSEQ, Invalid::MissingCSeq, Invalid::MultipleCSeqHeaders)?;
    let max_forwards = match tally.single(MAX_FORWARDS) {
        Ok(v) => Some(parse_max_forwards(v).ok_or(bad(400, Invalid::BadMaxForwards))?),
        Err(None) => None,
        Err(Some(())) => return Err(bad(400, Invalid::MultipleMaxForwardsHeaders)),
    };
    // `fold`, not `any`: no early exit, so the scan is vectorised.
    if call_id.is_empty() || call_id.iter().fold(false, |lws, &c| lws | is_lws(c)) {
        return Err(bad(400, Invalid::BadCallId));
    }
    let (cseq, cseq_method) = parse_cseq(cseq).ok_or(bad(400, Invalid::BadCSeq))?;
    if cseq_method != method {
        return Err(bad(400, Invalid::CSeqMethodMismatch));
    }
    let from = parse_name_addr(from).map_err(|_| bad(400, Invalid::BadFrom))?;
    let to = parse_name_addr(to).map_err(|_| bad(400, Invalid::BadTo))?;
    if ruri.scheme == Scheme::Other {
        return Err(bad(416, Invalid::UnsupportedUriScheme));
    }
    Ok(Essentials { method, ruri, top_via, from, to, call_id, cseq, cseq_method, max_forwards })
}

/// What a checked response says about where it belongs: parsed once, by
/// `check_response`, and passed down to whoever routes it.
#[derive(Clone, Copy, Debug)]
pub struct ResponseEssentials<'a> {
    pub code: u16,
    pub top_via: Via<'a>,
    pub cseq: u32,
    pub cseq_method: Method<'a>,
}

/// Verify a response: SIP/2.0, code 100..=699, one top Via that parses, a
/// valid CSeq, and From/To/Call-ID present once.
pub fn check_response<'a>(m: &Message<'a>) -> Result<ResponseEssentials<'a>, Invalid> {
    let StartLine::Response { code, version, .. } = m.start else {
        return Err(Invalid::NotAResponse);
    };
    if !is_sip_version(version) {
        return Err(Invalid::BadSipVersion);
    }
    if !(100..=699).contains(&code) {
        return Err(Invalid::BadStatusCode);
    }
    let via_raw = m.values(HeaderName::Via).next().ok_or(Invalid::MissingVia)?.0;
    let via = parse_via(via_raw).map_err(|_| Invalid::BadVia)?;
    let tally = Tally::of(m);
    for (i, missing, multi) in [
        (FROM, Invalid::MissingFrom, Invalid::MultipleFromHeaders),
        (TO, Invalid::MissingTo, Invalid::MultipleToHeaders),
        (CALL_ID, Invalid::MissingCallId, Invalid::MultipleCallIdHeaders),
    ] {
        tally.single(i).map_err(|e| if e.is_none() { missing } else { multi })?;
    }
    let cseq =
        tally
            .single(CSEQ)
            .map_err(|e| if e.is_none() { Invalid::MissingCSeq } else { Invalid::MultipleCSeqHeaders })?;
    let (n, method) = parse_cseq(cseq).ok_or(Invalid::BadCSeq)?;
    Ok(ResponseEssentials { code, top_via: via, cseq: n, cseq_method: method })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::scan::{scan, Framing};

    const OK: &str = "OPTIONS sip:u@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n\
Max-Forwards: 70\r\n\
To: <sip:u@example.com>\r\n\
From: <sip:c@example.com>;tag=1\r\n\
Call-ID: abc@h\r\n\
CSeq: 7 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

    fn chk(s: &str) -> Result<Essentials<'_>, Malformed> {
        let m = scan(s.as_bytes(), Framing::Datagram).unwrap().complete().unwrap();
        // Essentials borrows from the input, not from m.
        check_request(&m)
    }

    #[test]
    fn good() {
        let e = chk(OK).unwrap();
        assert_eq!(e.method, Method::Options);
        assert_eq!(e.cseq, 7);
        assert_eq!(e.max_forwards, Some(70));
        assert_eq!(e.call_id, b"abc@h");
        assert_eq!(e.from.tag(), Some(&b"1"[..]));
        assert_eq!(e.top_via.branch(), Some(&b"z9hG4bK1"[..]));
    }

    #[test]
    fn bad() {
        let c = |s: String| chk(Box::leak(s.into_boxed_str())).unwrap_err();
        let e = c(OK.replace("SIP/2.0\r\n", "SIP/7.0\r\n"));
        assert_eq!((e.code, e.answerable), (505, true));
        assert_eq!(c(OK.replace("SIP/2.0\r\n", "SIP/2.0x\r\n")).code, 400);
        let e = c(OK.replacen("SIP/2.0\r\n", "SIP/2.0  \r\n", 1));
        assert_eq!((e.code, e.reason, e.answerable), (400, Invalid::TrailingWhitespace, true), "RFC 4475 trws");
        assert_eq!(c(OK.replace("7 OPTIONS", "7 INVITE")).reason, Invalid::CSeqMethodMismatch);
        assert_eq!(c(OK.replace("7 OPTIONS", "2147483648 OPTIONS")).reason, Invalid::BadCSeq);
        assert_eq!(c(OK.replace("7 OPTIONS", "7OPTIONS")).reason, Invalid::BadCSeq);
        assert_eq!(c(OK.replace("Max-Forwards: 70", "Max-Forwards: 256")).reason, Invalid::BadMaxForwards);
        let e = c(OK.replace("Call-ID: abc@h\r\n", ""));
        assert_eq!((e.reason, e.answerable), (Invalid::MissingCallId, true));
        let e = c(OK.replace("To: <sip:u@example.com>\r\n", "To: <sip:u@example.com>\r\nt: <sip:x@y>\r\n"));
        assert_eq!((e.reason, e.answerable), (Invalid::MultipleToHeaders, true));
        assert_eq!(c(OK.replace("sip:u@example.com SIP", "nobody:opaque SIP")).code, 416);
        assert_eq!(c(OK.replace("sip:u@example.com SIP", "<sip:u@example.com> SIP")).reason, Invalid::BadRequestUri);
        assert_eq!(c(OK.replace("branch=z9hG4bK1", "branch=z9hG4bK1;;")).reason, Invalid::BadVia);
        assert_eq!(
            c(OK.replace("From: <sip:c@example.com>", "From: \"x <sip:c@example.com>")).reason,
            Invalid::BadFrom
        );
        let e = c(OK.replace("Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n", ""));
        assert_eq!((e.reason, e.answerable), (Invalid::MissingVia, false));
        assert!(chk(Box::leak(OK.replace("Max-Forwards: 70\r\n", "").into_boxed_str()))
            .unwrap()
            .max_forwards
            .is_none());
    }

    #[test]
    fn responses() {
        let r = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=2\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 5 INVITE\r\nl: 0\r\n\r\n";
        let m = scan(r.as_bytes(), Framing::Datagram).unwrap().complete().unwrap();
        let e = check_response(&m).unwrap();
        assert_eq!((e.code, e.cseq, e.cseq_method), (200, 5, Method::Invite));
        assert_eq!(e.top_via.branch(), Some(&b"z9hG4bK1"[..]));
        let r2 = r.replace("200 OK", "700 Huh");
        let m = scan(r2.as_bytes(), Framing::Datagram).unwrap().complete().unwrap();
        assert_eq!(check_response(&m).unwrap_err(), Invalid::BadStatusCode);
        let r3 = r.replace("5 INVITE", "9292394834772304023312 INVITE");
        let m = scan(r3.as_bytes(), Framing::Datagram).unwrap().complete().unwrap();
        assert_eq!(check_response(&m).unwrap_err(), Invalid::BadCSeq);
    }

    #[test]
    fn cseq_forms() {
        assert_eq!(parse_cseq(b"0009\r\n  INVITE"), Some((9, Method::Invite)));
        assert_eq!(parse_cseq(b"1 "), None);
        assert_eq!(parse_cseq(b" INVITE"), None);
        assert_eq!(parse_cseq(b"2147483647 ACK"), Some((MAX_CSEQ, Method::Ack)));
    }
}
