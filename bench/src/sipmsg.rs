//! Zero-allocation SIP message scanning: start line (request or status),
//! the handful of headers the generator needs (Via branch, Call-ID, CSeq,
//! To tag, Contact, Record-Route, Content-Length, challenges) and stream
//! framing for TCP. Everything borrows from the receive buffer.

/// A parsed view of one SIP message.
#[derive(Debug, Default, Clone, Copy)]
pub struct Msg<'a> {
    /// The whole message bytes.
    pub raw: &'a [u8],
    /// Status code for responses, 0 for requests.
    pub status: u16,
    /// Request method (empty for responses).
    pub method: &'a [u8],
    /// Request-URI (empty for responses).
    pub ruri: &'a [u8],
    /// `branch` parameter of the topmost Via.
    pub top_branch: &'a [u8],
    pub call_id: &'a [u8],
    pub cseq_num: u32,
    pub cseq_method: &'a [u8],
    /// `tag` parameter of To (empty if none).
    pub to_tag: &'a [u8],
    /// URI inside the first Contact value.
    pub contact_uri: &'a [u8],
    pub body: &'a [u8],
    /// Offset where the header block starts (just after the start line).
    pub headers_start: usize,
    /// Offset of the empty line ending the headers.
    pub headers_end: usize,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum ParseError {
    NoStartLine,
    BadStartLine,
    Truncated,
}

/// Canonical header names the bench cares about (compact forms folded in).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Hdr {
    Via,
    CallId,
    CSeq,
    From,
    To,
    Contact,
    ContentLength,
    RecordRoute,
    WwwAuthenticate,
    ProxyAuthenticate,
    Other,
}

pub fn classify(name: &[u8]) -> Hdr {
    let eq = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    match name.len() {
        1 => match name[0].to_ascii_lowercase() {
            b'v' => Hdr::Via,
            b'i' => Hdr::CallId,
            b'f' => Hdr::From,
            b't' => Hdr::To,
            b'm' => Hdr::Contact,
            b'l' => Hdr::ContentLength,
            _ => Hdr::Other,
        },
        _ if eq("via") => Hdr::Via,
        _ if eq("call-id") => Hdr::CallId,
        _ if eq("cseq") => Hdr::CSeq,
        _ if eq("from") => Hdr::From,
        _ if eq("to") => Hdr::To,
        _ if eq("contact") => Hdr::Contact,
        _ if eq("content-length") => Hdr::ContentLength,
        _ if eq("record-route") => Hdr::RecordRoute,
        _ if eq("www-authenticate") => Hdr::WwwAuthenticate,
        _ if eq("proxy-authenticate") => Hdr::ProxyAuthenticate,
        _ => Hdr::Other,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// One header line: (raw name (kept for callers that print it), canonical kind, trimmed value, whole line without CRLF).
#[allow(dead_code)]
pub struct Header<'a> {
    pub name: &'a [u8],
    pub kind: Hdr,
    pub value: &'a [u8],
    pub line: &'a [u8],
}

/// Iterates the header lines between `start` and the empty line.
pub struct Headers<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub fn headers(buf: &[u8], start: usize) -> Headers<'_> {
    Headers { buf, pos: start }
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;
    fn next(&mut self) -> Option<Header<'a>> {
        let rest = &self.buf[self.pos..];
        let eol = find(rest, b"\r\n")?;
        if eol == 0 {
            return None;
        }
        let line = &rest[..eol];
        self.pos += eol + 2;
        let colon = line.iter().position(|&c| c == b':').unwrap_or(line.len());
        let name = trim(&line[..colon]);
        let value = if colon < line.len() { trim(&line[colon + 1..]) } else { &[][..] };
        Some(Header { name, kind: classify(name), value, line })
    }
}

/// Splits a header value on commas that are outside quotes and `<>`.
pub struct CommaSplit<'a> {
    s: &'a [u8],
}

pub fn comma_split(s: &[u8]) -> CommaSplit<'_> {
    CommaSplit { s }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.s.is_empty() {
            return None;
        }
        let (mut q, mut a) = (false, false);
        let mut end = self.s.len();
        for (i, &c) in self.s.iter().enumerate() {
            match c {
                b'"' => q = !q,
                b'<' if !q => a = true,
                b'>' if !q => a = false,
                b',' if !q && !a => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let item = trim(&self.s[..end]);
        self.s = if end < self.s.len() { &self.s[end + 1..] } else { &[] };
        Some(item)
    }
}

/// Value of `;name=` parameter in a header value (stops at `;`, `,`, `>`, space).
pub fn param<'a>(v: &'a [u8], name: &[u8]) -> &'a [u8] {
    let mut from = 0;
    while let Some(p) = find_ci(&v[from..], name) {
        let at = from + p;
        let before_ok = at > 0 && (v[at - 1] == b';' || v[at - 1] == b' ');
        let after = at + name.len();
        if before_ok && after < v.len() && v[after] == b'=' {
            let s = &v[after + 1..];
            let end = s.iter().position(|&c| matches!(c, b';' | b',' | b'>' | b' ' | b'\t')).unwrap_or(s.len());
            return &s[..end];
        }
        from = at + 1;
    }
    &[]
}

/// URI inside `<...>` or the bare URI up to the first `;`.
pub fn uri_of(v: &[u8]) -> &[u8] {
    if let Some(lt) = v.iter().position(|&c| c == b'<') {
        let r = &v[lt + 1..];
        let gt = r.iter().position(|&c| c == b'>').unwrap_or(r.len());
        return &r[..gt];
    }
    let end = v.iter().position(|&c| c == b';').unwrap_or(v.len());
    trim(&v[..end])
}

/// `host:port` socket address of a `sip:` URI when the host is an IP literal.
pub fn uri_addr(uri: &[u8]) -> Option<std::net::SocketAddr> {
    let s = std::str::from_utf8(uri).ok()?;
    let s = s.strip_prefix("sip:").or_else(|| s.strip_prefix("sips:"))?;
    let s = s.rsplit_once('@').map(|x| x.1).unwrap_or(s);
    let hp = s.split([';', '?', '>']).next()?;
    if let Ok(a) = hp.parse() {
        return Some(a);
    }
    if let Ok(ip) = hp.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        return Some(std::net::SocketAddr::new(ip, 5060));
    }
    None
}

fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    u32::try_from(v).ok()
}

/// Parses a complete message (datagram or framed stream chunk).
pub fn parse(buf: &[u8]) -> Result<Msg<'_>, ParseError> {
    let mut m = Msg { raw: buf, ..Msg::default() };
    let eol = find(buf, b"\r\n").ok_or(ParseError::NoStartLine)?;
    let line = &buf[..eol];
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        if rest.len() < 3 {
            return Err(ParseError::BadStartLine);
        }
        let code = parse_u32(&rest[..3]).ok_or(ParseError::BadStartLine)?;
        if !(100..700).contains(&code) || (rest.len() > 3 && rest[3] != b' ') {
            return Err(ParseError::BadStartLine);
        }
        m.status = code as u16;
    } else {
        let mut it = line.split(|&c| c == b' ');
        m.method = it.next().filter(|s| !s.is_empty()).ok_or(ParseError::BadStartLine)?;
        m.ruri = it.next().filter(|s| !s.is_empty()).ok_or(ParseError::BadStartLine)?;
        if it.next() != Some(&b"SIP/2.0"[..]) {
            return Err(ParseError::BadStartLine);
        }
    }
    m.headers_start = eol + 2;
    let mut clen: Option<usize> = None;
    let mut seen_via = false;
    let mut seen_contact = false;
    let mut hs = headers(buf, m.headers_start);
    for h in &mut hs {
        match h.kind {
            Hdr::Via if !seen_via => {
                seen_via = true;
                let first = comma_split(h.value).next().unwrap_or(&[]);
                m.top_branch = param(first, b"branch");
            }
            Hdr::CallId => m.call_id = h.value,
            Hdr::CSeq => {
                let mut it = h.value.split(|&c| c == b' ' || c == b'\t').filter(|s| !s.is_empty());
                m.cseq_num = it.next().and_then(parse_u32).unwrap_or(0);
                m.cseq_method = it.next().unwrap_or(&[]);
            }
            Hdr::To => {
                // tag lives after the URI; skip a bracketed URI first
                let after = match h.value.iter().position(|&c| c == b'>') {
                    Some(p) => &h.value[p..],
                    None => h.value,
                };
                m.to_tag = param(after, b"tag");
            }
            Hdr::Contact if !seen_contact => {
                seen_contact = true;
                m.contact_uri = uri_of(comma_split(h.value).next().unwrap_or(&[]));
            }
            Hdr::ContentLength => clen = parse_u32(h.value).map(|v| v as usize),
            _ => {}
        }
    }
    m.headers_end = hs.pos;
    if buf.len() < m.headers_end + 2 || &buf[m.headers_end..m.headers_end + 2] != b"\r\n" {
        return Err(ParseError::Truncated);
    }
    let body_start = m.headers_end + 2;
    let avail = buf.len() - body_start;
    let blen = clen.unwrap_or(avail);
    if blen > avail {
        return Err(ParseError::Truncated);
    }
    m.body = &buf[body_start..body_start + blen];
    Ok(m)
}

/// For stream transports: length of the first complete message in `buf`
/// (after any leading CRLF keep-alives, whose count is returned first).
/// Returns `None` until a whole message is buffered.
pub fn frame(buf: &[u8]) -> Option<(usize, usize)> {
    let mut skip = 0;
    while buf.len() >= skip + 2 && &buf[skip..skip + 2] == b"\r\n" {
        skip += 2;
    }
    let b = &buf[skip..];
    let hend = find(b, b"\r\n\r\n")?;
    let mut clen = 0usize;
    for h in headers(b, find(b, b"\r\n")? + 2) {
        if h.kind == Hdr::ContentLength {
            clen = parse_u32(h.value).unwrap_or(0) as usize;
        }
    }
    let total = hend + 4 + clen;
    if b.len() < total {
        return None;
    }
    Some((skip, total))
}

/// Parses `SIP/2.0/UDP 1.2.3.4:5060;branch=...` style branch into
/// (slot, txn) when it was generated by this bench (`z9hG4bK` + 16 hex).
pub fn bench_branch_ids(branch: &[u8]) -> Option<(u32, u32)> {
    let hex = branch.strip_prefix(b"z9hG4bK")?;
    if hex.len() < 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &hex[..16] {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u64;
    }
    Some(((v >> 32) as u32, v as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESP: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK0000000a0000002b;rport=40000, SIP/2.0/UDP 10.0.0.1\r\n\
v: SIP/2.0/UDP 127.0.0.2;branch=other\r\n\
f: <sip:a@b>;tag=x1\r\n\
To: \"Bob\" <sip:bob@example.com;tag=nottag>;tag=abc123\r\n\
i: 42@host\r\n\
CSeq:   17  REGISTER\r\n\
Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\n\
Record-Route: <sip:p3;lr>\r\n\
m: <sip:uas@127.0.0.1:5070;transport=tcp>;expires=60\r\n\
l: 4\r\n\
\r\n\
abcdEXTRA";

    #[test]
    fn parses_status_and_headers() {
        let m = parse(RESP).unwrap();
        assert_eq!(m.status, 200);
        assert_eq!(m.top_branch, b"z9hG4bK0000000a0000002b");
        assert_eq!(bench_branch_ids(m.top_branch), Some((10, 43)));
        assert_eq!(m.call_id, b"42@host");
        assert_eq!(m.cseq_num, 17);
        assert_eq!(m.cseq_method, b"REGISTER");
        assert_eq!(m.to_tag, b"abc123");
        assert_eq!(m.contact_uri, b"sip:uas@127.0.0.1:5070;transport=tcp");
        assert_eq!(m.body, b"abcd");
        let rr: Vec<&[u8]> = headers(RESP, m.headers_start)
            .filter(|h| h.kind == Hdr::RecordRoute)
            .flat_map(|h| comma_split(h.value))
            .collect();
        assert_eq!(rr, vec![&b"<sip:p1;lr>"[..], b"<sip:p2;lr>", b"<sip:p3;lr>"]);
    }

    #[test]
    fn parses_request_line() {
        let m = parse(
            b"OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(m.status, 0);
        assert_eq!(m.method, b"OPTIONS");
        assert_eq!(m.ruri, b"sip:127.0.0.1:5060");
        assert_eq!(m.top_branch, b"z9hG4bKx");
        assert_eq!(m.to_tag, b"");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse(b"HELLO").unwrap_err(), ParseError::NoStartLine);
        assert_eq!(parse(b"SIP/2.0 2x0 OK\r\n\r\n").unwrap_err(), ParseError::BadStartLine);
        assert_eq!(parse(b"SIP/2.0 200 OK\r\nl: 10\r\n\r\nabc").unwrap_err(), ParseError::Truncated);
        assert_eq!(bench_branch_ids(b"z9hG4bKnothex0000000000"), None);
    }

    #[test]
    fn frames_stream() {
        let a = b"SIP/2.0 200 OK\r\nContent-Length: 3\r\n\r\nxyz";
        let mut s = b"\r\n\r\n".to_vec();
        s.extend_from_slice(a);
        s.extend_from_slice(b"SIP/2.0 100 Trying\r\n");
        assert_eq!(frame(&s), Some((4, a.len())));
        assert_eq!(frame(&s[4 + a.len()..]), None);
        assert_eq!(frame(&a[..a.len() - 1]), None);
    }

    #[test]
    fn uri_helpers() {
        assert_eq!(uri_addr(b"sip:uas@127.0.0.1:5070;transport=udp"), Some("127.0.0.1:5070".parse().unwrap()));
        assert_eq!(uri_addr(b"sip:127.0.0.1;lr"), Some("127.0.0.1:5060".parse().unwrap()));
        assert_eq!(uri_addr(b"sip:[::1]:5080;lr"), Some("[::1]:5080".parse().unwrap()));
        assert_eq!(uri_addr(b"sip:proxy.example.com;lr"), None);
        assert_eq!(param(b"<sip:x>;expires=60;tag=t", b"tag"), b"t");
        assert_eq!(param(b"SIP/2.0/UDP h;rport;branch=z9", b"branch"), b"z9");
    }
}
