//! Zero-copy framing and header indexing: finds the start line, every header
//! line (folding and LF-only line ends tolerated), Content-Length and the body,
//! without allocating. Stream framing answers `Partial` until a whole message
//! is buffered (httparse-style); datagram framing takes one message per packet
//! (RFC 3261 §18.3). Values are located, not interpreted: URI, Via and
//! name-addr parsing live in their own modules and run only when asked.

use std::mem::MaybeUninit;

use super::header::{is_lws, is_token, trim_lws, HeaderName};
use super::method::Method;

/// Byte range into [`Message::buf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[inline]
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }
    #[inline]
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.range()]
    }
    #[inline]
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// One header line (possibly folded over several physical lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    /// The name as written (before any WSP and the colon).
    pub name_span: Span,
    /// Trimmed value; may contain folded CRLF+WSP inside.
    pub value: Span,
    /// The whole header line(s) including the final CRLF or LF.
    pub line: Span,
}

pub const MAX_HEADERS: usize = 128;

/// Largest Content-Length we accept (a SIP message is never near this).
pub const MAX_CONTENT_LENGTH: u64 = u32::MAX as u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Datagram,
    Stream,
    /// Like `Datagram`, but Content-Length is not checked and the body is
    /// the rest: for answering a datagram whose Content-Length is wrong.
    HeadersOnly,
}

#[derive(Debug)]
pub enum Status<T> {
    Complete(T),
    Partial,
}

impl<T> Status<T> {
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a [u8], uri: &'a [u8], version: &'a [u8] },
    Response { code: u16, reason: &'a [u8], version: &'a [u8] },
}

crate::reasons! {
    /// Why a message cannot be scanned; the label is also a usable 400
    /// reason phrase.
    pub enum ScanError {
        /// Nothing but CRLFs (datagram).
        Empty => "empty message",
        BadStartLine => "bad start line",
        BadHeaderLine => "bad header line",
        TooManyHeaders => "too many headers",
        BadContentLength => "bad content-length",
        ConflictingContentLength => "conflicting content-length",
        MissingContentLength => "missing content-length",
        ContentLengthBeyondDatagram => "content-length beyond datagram",
        /// Datagram ended before the empty line that closes the header section.
        UnterminatedHeaders => "unterminated headers",
    }
}

impl ScanError {
    /// Short reason: a metrics label and a usable 400 reason phrase.
    pub fn reason(self) -> &'static str {
        crate::reason::Reason::label(self)
    }

    /// Is the message boundary lost (on a stream the connection cannot
    /// continue), rather than one message being bad?
    pub fn is_framing(self) -> bool {
        matches!(
            self,
            ScanError::BadContentLength
                | ScanError::ConflictingContentLength
                | ScanError::MissingContentLength
                | ScanError::ContentLengthBeyondDatagram
                | ScanError::UnterminatedHeaders
        )
    }

    /// The status a server would answer with if it could (always 400 here).
    pub fn code(self) -> u16 {
        400
    }
}

/// A scanned message: views into `buf`, headers in a fixed array.
#[derive(Clone)]
pub struct Message<'a> {
    /// The input up to the end of this message (`buf.len() == len`): leading
    /// CRLFs included, datagram trailing octets beyond Content-Length excluded.
    pub buf: &'a [u8],
    pub start: StartLine<'a>,
    /// Including its line end.
    pub start_line: Span,
    /// The empty line closing the header section (CRLF or LF).
    pub blank_line: Span,
    pub body: Span,
    /// Bytes consumed from the input.
    pub len: usize,
    /// The (agreed) Content-Length value, if any header carried one.
    pub content_length: Option<u32>,
    pub framing: Framing,
    /// `hdrs[..n]` are initialised (see [`Message::headers`]).
    hdrs: [MaybeUninit<Header>; MAX_HEADERS],
    n: usize,
}

impl<'a> std::fmt::Debug for Message<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("start", &self.start)
            .field("headers", &self.headers())
            .field("body", &self.body)
            .field("len", &self.len)
            .finish()
    }
}

impl<'a> Message<'a> {
    #[inline]
    pub fn headers(&self) -> &[Header] {
        // SAFETY: `scan` writes `hdrs[i]` before it raises `n` past `i`, and
        // nothing else touches these private fields; `MaybeUninit<Header>`
        // has the layout of `Header`. Leaving the array uninitialised spares
        // a 3.5 KB memset per message (~7 % of `scan`).
        unsafe { std::slice::from_raw_parts(self.hdrs.as_ptr().cast::<Header>(), self.n) }
    }
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request { method, .. } => Some(Method::parse(method)),
            StartLine::Response { .. } => None,
        }
    }
    /// Response status code, if a response.
    pub fn code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }
    /// Value of the first line with that name.
    pub fn header(&self, name: HeaderName) -> Option<&'a [u8]> {
        let buf = self.buf;
        self.headers().iter().find(|h| h.name == name).map(|h| h.value.of(buf))
    }
    /// Index into [`headers`](Self::headers) of the first line with that name.
    pub fn position(&self, name: HeaderName) -> Option<usize> {
        self.headers().iter().position(|h| h.name == name)
    }
    /// Number of header lines with that name.
    pub fn count(&self, name: HeaderName) -> usize {
        self.headers().iter().filter(|h| h.name == name).count()
    }
    /// Every comma-separated value of a list header over all its lines (quotes
    /// and `<>` respected, empty elements skipped), or one value per line for
    /// other headers.
    pub fn values(&self, name: HeaderName) -> Values<'a, '_> {
        Values { msg: self, name, idx: 0, cur: None }
    }
    pub fn body(&self) -> &'a [u8] {
        self.body.of(self.buf)
    }
    /// The message proper: from the start line to the end of the body
    /// (leading keep-alive CRLFs excluded).
    pub fn bytes(&self) -> &'a [u8] {
        &self.buf[self.start_line.start as usize..]
    }
    /// Span of the Request-URI inside `buf` (requests only).
    pub fn request_uri_span(&self) -> Option<Span> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.span_of(uri)),
            _ => None,
        }
    }
    /// Span of a sub-slice of `buf`.
    pub fn span_of(&self, sub: &[u8]) -> Span {
        let off = sub.as_ptr() as usize - self.buf.as_ptr() as usize;
        debug_assert!(off + sub.len() <= self.buf.len());
        Span::new(off, off + sub.len())
    }
}

/// Iterator returned by [`Message::values`].
pub struct Values<'a, 'm> {
    msg: &'m Message<'a>,
    name: HeaderName,
    idx: usize,
    cur: Option<(usize, usize)>,
}

impl<'a, 'm> Iterator for Values<'a, 'm> {
    type Item = (&'a [u8], Span);
    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.msg.buf;
        loop {
            if let Some((pos, end)) = self.cur {
                if let Some((s, next)) = next_list_value(buf, pos, end) {
                    self.cur = Some((next, end));
                    return Some((s.of(buf), s));
                }
                self.cur = None;
            }
            let h = self.msg.headers().get(self.idx)?;
            self.idx += 1;
            if h.name != self.name {
                continue;
            }
            if self.name.is_list() {
                self.cur = Some((h.value.start as usize, h.value.end as usize));
            } else {
                return Some((h.value.of(buf), h.value));
            }
        }
    }
}

/// Next element of a comma list in `buf[pos..end]`: its trimmed span and the
/// position to continue from. Empty elements are skipped.
pub(crate) fn next_list_value(buf: &[u8], mut pos: usize, end: usize) -> Option<(Span, usize)> {
    while pos < end && (is_lws(buf[pos]) || buf[pos] == b',') {
        pos += 1;
    }
    if pos >= end {
        return None;
    }
    let start = pos;
    let mut angle = false;
    // Jump between the only bytes that matter: `"` always, `,` and `<`
    // outside angle brackets, `>` inside them.
    while pos < end {
        let rest = &buf[pos..end];
        let hit = if angle { memchr::memchr2(b'"', b'>', rest) } else { memchr::memchr3(b',', b'"', b'<', rest) };
        let Some(i) = hit else {
            pos = end;
            break;
        };
        pos += i;
        match buf[pos] {
            b'"' => {
                // Quoted string: to the closing quote, `\x` escapes skipped.
                pos += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &buf[pos.min(end)..end]) {
                        None => {
                            pos = end;
                            break;
                        }
                        Some(j) if buf[pos + j] == b'\\' => pos += j + 2,
                        Some(j) => {
                            pos += j;
                            break;
                        }
                    }
                }
                pos += 1;
                continue;
            }
            b'<' => angle = true,
            b'>' => angle = false,
            _ => break, // `,` outside angle brackets
        }
        pos += 1;
    }
    let stop = pos.min(end);
    let mut e = stop;
    while e > start && is_lws(buf[e - 1]) {
        e -= 1;
    }
    Some((Span::new(start, e), (stop + 1).min(end)))
}

/// Split one header value (e.g. from a single line) into list elements.
pub fn split_list(buf: &[u8], value: Span) -> impl Iterator<Item = Span> + '_ {
    let end = value.end as usize;
    let mut pos = value.start as usize;
    std::iter::from_fn(move || {
        let (s, next) = next_list_value(buf, pos, end)?;
        pos = next;
        Some(s)
    })
}

#[inline]
fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\n', &buf[from..]).map(|i| i + from)
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, ScanError> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp = line.iter().position(|&c| c == b' ').ok_or(ScanError::BadStartLine)?;
        let version = &line[..sp];
        let rest = &line[sp + 1..];
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return Err(ScanError::BadStartLine);
        }
        let reason = match rest.get(3) {
            None => &rest[3..],
            Some(b' ') => &rest[4..],
            Some(_) => return Err(ScanError::BadStartLine),
        };
        let code = (rest[0] - b'0') as u16 * 100 + (rest[1] - b'0') as u16 * 10 + (rest[2] - b'0') as u16;
        if code < 100 {
            return Err(ScanError::BadStartLine);
        }
        Ok(StartLine::Response { code, reason, version })
    } else {
        // Request-Line = Method SP Request-URI SP SIP-Version
        // Trailing SP after the version stays in `version` (RFC 4475
        // §3.1.2.10): the check answers it 400 rather than silence.
        let sp1 = line.iter().position(|&c| c == b' ').ok_or(ScanError::BadStartLine)?;
        let end = line.iter().rposition(|&c| c != b' ').ok_or(ScanError::BadStartLine)?;
        let sp2 = line[..end].iter().rposition(|&c| c == b' ').ok_or(ScanError::BadStartLine)?;
        if sp2 <= sp1 + 1 || sp1 == 0 {
            return Err(ScanError::BadStartLine);
        }
        let method = &line[..sp1];
        if !method.iter().all(|&c| is_token(c)) {
            return Err(ScanError::BadStartLine);
        }
        Ok(StartLine::Request { method, uri: &line[sp1 + 1..sp2], version: &line[sp2 + 1..] })
    }
}

fn parse_content_length(v: &[u8]) -> Result<u32, ScanError> {
    if v.is_empty() {
        return Err(ScanError::BadContentLength);
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return Err(ScanError::BadContentLength);
        }
        n = n * 10 + (c - b'0') as u64;
        if n > MAX_CONTENT_LENGTH {
            return Err(ScanError::BadContentLength);
        }
    }
    Ok(n as u32)
}

/// Length of the stream message at the front of `buf` from its header block
/// and Content-Length alone, whatever its start line says: a stream can skip
/// one bad message and go on as long as its framing holds. Leading CRLFs are
/// counted in the length.
pub fn frame_len(buf: &[u8]) -> Result<Status<usize>, ScanError> {
    let mut p = 0;
    while p < buf.len() && (buf[p] == b'\r' || buf[p] == b'\n') {
        p += 1;
    }
    let mut content_length: Option<u32> = None;
    loop {
        let Some(lf) = find_lf(buf, p) else { return Ok(Status::Partial) };
        let line = &buf[p..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let start = p;
        p = lf + 1;
        if line.is_empty() {
            break;
        }
        // A folded value continues on lines starting with SP/HTAB: the
        // logical line ends at the first LF not followed by one.
        let mut end = lf;
        while p < buf.len() && (buf[p] == b' ' || buf[p] == b'\t') {
            let Some(next) = find_lf(buf, p) else { return Ok(Status::Partial) };
            end = next;
            p = next + 1;
        }
        if p >= buf.len() {
            return Ok(Status::Partial);
        }
        let logical = &buf[start..end];
        if let Some(colon) = memchr::memchr(b':', line) {
            let name = trim_lws(&line[..colon]);
            if HeaderName::from_bytes(name) == HeaderName::ContentLength {
                let v = parse_content_length(trim_lws(&logical[colon + 1..]))?;
                if content_length.is_some_and(|prev| prev != v) {
                    return Err(ScanError::ConflictingContentLength);
                }
                content_length = Some(v);
            }
        }
    }
    let cl = content_length.ok_or(ScanError::MissingContentLength)? as usize;
    Ok(if p + cl <= buf.len() { Status::Complete(p + cl) } else { Status::Partial })
}

/// Scan one message from the front of `buf`. See the module doc.
pub fn scan(buf: &[u8], framing: Framing) -> Result<Status<Message<'_>>, ScanError> {
    let stream = framing == Framing::Stream;
    let partial_or = |e: ScanError| if stream { Ok(Status::Partial) } else { Err(e) };
    let len = buf.len();
    let mut p = 0;
    // Leading CRLFs (keep-alives, RFC 5626 §3.5.1) are skipped and counted.
    while p < len && (buf[p] == b'\r' || buf[p] == b'\n') {
        p += 1;
    }
    if p == len {
        return partial_or(ScanError::Empty);
    }
    let sl_start = p;
    let Some(lf) = find_lf(buf, p) else { return partial_or(ScanError::BadStartLine) };
    let mut sl_text = &buf[p..lf];
    if let Some((b'\r', rest)) = sl_text.split_last() {
        sl_text = rest;
    }
    let start = parse_start_line(sl_text)?;
    let start_line = Span::new(sl_start, lf + 1);
    p = lf + 1;

    let mut hdrs = [const { MaybeUninit::<Header>::uninit() }; MAX_HEADERS];
    let mut n = 0usize;
    let mut content_length: Option<u32> = None;
    let blank_line;
    loop {
        if p >= len {
            return partial_or(ScanError::UnterminatedHeaders);
        }
        match buf[p] {
            b'\n' => {
                blank_line = Span::new(p, p + 1);
                p += 1;
                break;
            }
            b'\r' => {
                if p + 1 >= len {
                    return partial_or(ScanError::UnterminatedHeaders);
                }
                if buf[p + 1] == b'\n' {
                    blank_line = Span::new(p, p + 2);
                    p += 2;
                    break;
                }
                return Err(ScanError::BadHeaderLine);
            }
            b' ' | b'\t' => return Err(ScanError::BadHeaderLine),
            _ => {}
        }
        let line_start = p;
        // Logical line end: an LF not followed by SP/HTAB.
        let mut e = match find_lf(buf, p) {
            Some(e) => e,
            None => return partial_or(ScanError::UnterminatedHeaders),
        };
        loop {
            if e + 1 >= len {
                return partial_or(ScanError::UnterminatedHeaders);
            }
            if buf[e + 1] == b' ' || buf[e + 1] == b'\t' {
                e = match find_lf(buf, e + 1) {
                    Some(x) => x,
                    None => return partial_or(ScanError::UnterminatedHeaders),
                };
            } else {
                break;
            }
        }
        let line_end = e + 1;
        let name_end = line_start + buf[line_start..e].iter().position(|&c| !is_token(c)).unwrap_or(e - line_start);
        let mut q = name_end;
        while q < e && (buf[q] == b' ' || buf[q] == b'\t') {
            q += 1;
        }
        if name_end == line_start || q >= e || buf[q] != b':' {
            return Err(ScanError::BadHeaderLine);
        }
        let mut vs = q + 1;
        let mut ve = line_end;
        while vs < ve && is_lws(buf[vs]) {
            vs += 1;
        }
        while ve > vs && is_lws(buf[ve - 1]) {
            ve -= 1;
        }
        let name = HeaderName::from_bytes(&buf[line_start..name_end]);
        if n == MAX_HEADERS {
            return Err(ScanError::TooManyHeaders);
        }
        hdrs[n] = MaybeUninit::new(Header {
            name,
            name_span: Span::new(line_start, name_end),
            value: Span::new(vs, ve),
            line: Span::new(line_start, line_end),
        });
        n += 1;
        if name == HeaderName::ContentLength && framing != Framing::HeadersOnly {
            let v = parse_content_length(&buf[vs..ve])?;
            match content_length {
                Some(prev) if prev != v => return Err(ScanError::ConflictingContentLength),
                _ => content_length = Some(v),
            }
        }
        p = line_end;
    }

    let body_start = p;
    let body_end = match (content_length, framing) {
        (Some(cl), Framing::Stream) => {
            let want = body_start + cl as usize;
            if want > len {
                return Ok(Status::Partial);
            }
            want
        }
        (None, Framing::Stream) => return Err(ScanError::MissingContentLength),
        (Some(cl), Framing::Datagram) => {
            let want = body_start + cl as usize;
            if want > len {
                return Err(ScanError::ContentLengthBeyondDatagram);
            }
            want
        }
        (None, Framing::Datagram) | (_, Framing::HeadersOnly) => len,
    };
    Ok(Status::Complete(Message {
        buf: &buf[..body_end],
        start,
        start_line,
        blank_line,
        body: Span::new(body_start, body_end),
        len: body_end,
        content_length,
        framing,
        hdrs,
        n,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1, SIP/2.0/TCP b.example.com\r\n\
v: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
To: <sip:a@example.com>\r\n\
From: <sip:a@example.com>;tag=1\r\n\
Call-ID: abc\r\n\
CSeq: 1 REGISTER\r\n\
Contact: \"x,y\" <sip:a@10.0.0.1;a=b,c>, <sip:b@h>\r\n\
Content-Length: 4\r\n\
\r\n\
bodyEXTRA";

    fn complete(b: &[u8], f: Framing) -> Message<'_> {
        match scan(b, f).unwrap() {
            Status::Complete(m) => m,
            Status::Partial => panic!("partial"),
        }
    }

    #[test]
    fn basic_datagram() {
        let m = complete(REG, Framing::Datagram);
        assert!(m.is_request());
        assert_eq!(m.method(), Some(Method::Register));
        assert_eq!(m.headers().len(), 8);
        assert_eq!(m.header(HeaderName::CallId), Some(&b"abc"[..]));
        assert_eq!(m.count(HeaderName::Via), 2);
        assert_eq!(m.body(), b"body");
        assert_eq!(m.len, REG.len() - 5);
        let vias: Vec<_> = m.values(HeaderName::Via).map(|v| v.0).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[1], b"SIP/2.0/TCP b.example.com");
        let c: Vec<_> = m.values(HeaderName::Contact).map(|v| v.0).collect();
        assert_eq!(c, vec![&b"\"x,y\" <sip:a@10.0.0.1;a=b,c>"[..], &b"<sip:b@h>"[..]]);
        for (v, s) in m.values(HeaderName::Contact) {
            assert_eq!(s.of(m.buf), v);
        }
    }

    /// The byte-at-a-time version `next_list_value` replaced.
    fn naive_next_list_value(buf: &[u8], mut pos: usize, end: usize) -> Option<(Span, usize)> {
        while pos < end && (is_lws(buf[pos]) || buf[pos] == b',') {
            pos += 1;
        }
        if pos >= end {
            return None;
        }
        let start = pos;
        let mut angle = false;
        while pos < end {
            match buf[pos] {
                b'"' => {
                    pos += 1;
                    while pos < end && buf[pos] != b'"' {
                        if buf[pos] == b'\\' {
                            pos += 1;
                        }
                        pos += 1;
                    }
                    pos += 1;
                    continue;
                }
                b'<' => angle = true,
                b'>' => angle = false,
                b',' if !angle => break,
                _ => {}
            }
            pos += 1;
        }
        let stop = pos.min(end);
        let mut e = stop;
        while e > start && is_lws(buf[e - 1]) {
            e -= 1;
        }
        Some((Span::new(start, e), (stop + 1).min(end)))
    }

    #[test]
    fn list_split_matches_naive() {
        let cases: &[&[u8]] = &[
            b"a, b ,c",
            b"\"x,y\" <sip:a@h;a=b,c>, <sip:b@h>",
            b"<sip:a,b> , \"q\\\"x,\" <s>,",
            b"\"unterminated, x",
            b"\"esc at end\\",
            b"a>b, <c<d>,e>, f",
            b" , ,, x ,",
            b"<\"a>\", b>, c",
            b"",
        ];
        for &c in cases {
            // every sub-range, so cuts inside quotes and escapes are covered
            for from in 0..=c.len() {
                for end in from..=c.len() {
                    assert_eq!(
                        next_list_value(c, from, end),
                        naive_next_list_value(c, from, end),
                        "{:?} {from}..{end}",
                        String::from_utf8_lossy(c)
                    );
                }
            }
        }
    }

    #[test]
    fn frame_len_ignores_a_bad_start_line() {
        let bad = b"SIP/2.0 4294967301 Huge\r\nVia: x\r\nl: 4\r\n\r\nbodyNEXT";
        assert!(scan(bad, Framing::Stream).is_err());
        assert_eq!(frame_len(bad).unwrap().complete(), Some(bad.len() - 4));
        assert!(frame_len(&bad[..20]).unwrap().is_partial());
        assert!(frame_len(&bad[..bad.len() - 6]).unwrap().is_partial());
        assert_eq!(frame_len(b"X\r\n\r\n").unwrap_err(), ScanError::MissingContentLength);
        assert_eq!(frame_len(b"X\r\nContent-Length: -1\r\n\r\n").unwrap_err(), ScanError::BadContentLength);
        let reg = complete(REG, Framing::Stream).len;
        assert_eq!(frame_len(REG).unwrap().complete(), Some(reg));
        // Folding: a continuation line is part of the value before it, never a header.
        let folded = b"OPTIONS sip:x SIP/2.0\r\nContent-Length:\r\n 3\r\nX-A: a\r\n Content-Length: 9\r\n\r\nabcNEXT";
        assert_eq!(scan(folded, Framing::Stream).unwrap().complete().map(|m| m.len), Some(folded.len() - 4));
        assert_eq!(frame_len(folded).unwrap().complete(), Some(folded.len() - 4));
    }

    #[test]
    fn headers_only_ignores_content_length() {
        let wrong = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 999\r\n\r\nabc";
        assert_eq!(scan(wrong, Framing::Datagram).unwrap_err(), ScanError::ContentLengthBeyondDatagram);
        let m = complete(wrong, Framing::HeadersOnly);
        assert_eq!(m.body(), b"abc");
    }

    #[test]
    fn stream_partial_then_complete() {
        for cut in 0..REG.len() - 5 {
            assert!(scan(&REG[..cut], Framing::Stream).unwrap().is_partial(), "cut {cut}");
        }
        let m = complete(REG, Framing::Stream);
        assert_eq!(m.len, REG.len() - 5);
    }

    #[test]
    fn leading_crlf_counted() {
        let mut v = b"\r\n\r\n".to_vec();
        v.extend_from_slice(REG);
        let m = complete(&v, Framing::Stream);
        assert_eq!(m.len, REG.len() - 5 + 4);
        assert_eq!(m.start_line.start, 4);
        assert!(scan(b"\r\n\r\n", Framing::Stream).unwrap().is_partial());
        assert_eq!(scan(b"\r\n", Framing::Datagram).unwrap_err(), ScanError::Empty);
    }

    #[test]
    fn folding_and_lf_only() {
        let b = b"OPTIONS sip:a SIP/2.0\nTO :\n sip:b@c ;tag=1\nSubject:\nX: a\n\t b\nl: 0\n\n";
        let m = complete(b, Framing::Stream);
        assert_eq!(m.headers().len(), 4);
        assert_eq!(m.header(HeaderName::To), Some(&b"sip:b@c ;tag=1"[..]));
        assert_eq!(m.header(HeaderName::Subject), Some(&b""[..]));
        assert_eq!(m.headers()[2].value.of(b), b"a\n\t b");
        assert_eq!(m.body(), b"");
    }

    #[test]
    fn content_length_errors() {
        let base = |cl: &str| format!("OPTIONS sip:a SIP/2.0\r\nContent-Length: {cl}\r\n\r\nabc");
        assert_eq!(scan(base("-1").as_bytes(), Framing::Datagram).unwrap_err(), ScanError::BadContentLength);
        assert_eq!(scan(base("x").as_bytes(), Framing::Datagram).unwrap_err(), ScanError::BadContentLength);
        assert_eq!(scan(base("").as_bytes(), Framing::Datagram).unwrap_err(), ScanError::BadContentLength);
        assert_eq!(
            scan(base("99999999999999999999").as_bytes(), Framing::Datagram).unwrap_err(),
            ScanError::BadContentLength
        );
        assert_eq!(scan(base("4").as_bytes(), Framing::Datagram).unwrap_err(), ScanError::ContentLengthBeyondDatagram);
        assert!(scan(base("4").as_bytes(), Framing::Stream).unwrap().is_partial());
        let two = base("2");
        let m = complete(two.as_bytes(), Framing::Datagram);
        assert_eq!(m.body(), b"ab");
        let b = b"OPTIONS sip:a SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(scan(b, Framing::Datagram).unwrap_err(), ScanError::ConflictingContentLength);
        let b = b"OPTIONS sip:a SIP/2.0\r\nl: 2\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(complete(b, Framing::Datagram).content_length, Some(2));
        let b = b"OPTIONS sip:a SIP/2.0\r\nX: 2\r\n\r\nab";
        assert_eq!(scan(b, Framing::Stream).unwrap_err(), ScanError::MissingContentLength);
        assert_eq!(complete(b, Framing::Datagram).body(), b"ab");
    }

    #[test]
    fn bad_lines() {
        assert_eq!(
            scan(b"OPTIONS sip:a SIP/2.0\r\nFoobar roobar\r\n\r\n", Framing::Datagram).unwrap_err(),
            ScanError::BadHeaderLine
        );
        assert_eq!(
            scan(b"OPTIONS sip:a SIP/2.0\r\n: x\r\n\r\n", Framing::Datagram).unwrap_err(),
            ScanError::BadHeaderLine
        );
        assert_eq!(
            scan(b"OPTIONS sip:a SIP/2.0\r\n x: y\r\n\r\n", Framing::Datagram).unwrap_err(),
            ScanError::BadHeaderLine
        );
        assert_eq!(scan(b"INVITE sip:a\r\n\r\n", Framing::Datagram).unwrap_err(), ScanError::BadStartLine);
        assert_eq!(scan(b"SIP/2.0 4294967301 x\r\n\r\n", Framing::Datagram).unwrap_err(), ScanError::BadStartLine);
        assert_eq!(
            scan(b"OPTIONS sip:a SIP/2.0\r\nX: y\r\n", Framing::Datagram).unwrap_err(),
            ScanError::UnterminatedHeaders
        );
        let mut many = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(scan(&many, Framing::Datagram).unwrap_err(), ScanError::TooManyHeaders);
    }

    #[test]
    fn response_line() {
        let m = complete(b"SIP/2.0 100 \r\nl: 0\r\n\r\n", Framing::Stream);
        assert_eq!(m.code(), Some(100));
        assert!(matches!(m.start, StartLine::Response { reason: b"", .. }));
        let m = complete(b"SIP/2.0 180\r\nl: 0\r\n\r\n", Framing::Stream);
        assert_eq!(m.code(), Some(180));
    }

    #[test]
    fn reasons_are_distinct() {
        use ScanError::*;
        let all = [
            Empty,
            BadStartLine,
            BadHeaderLine,
            TooManyHeaders,
            BadContentLength,
            ConflictingContentLength,
            MissingContentLength,
            ContentLengthBeyondDatagram,
            UnterminatedHeaders,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.reason(), b.reason());
            }
        }
    }
}
