//! Pre-rendered SIP message templates with fixed-width fields that are
//! patched in place (branch, Call-ID, CSeq, tags, Via port) so the hot loop
//! only copies bytes — no formatting or allocation per message.

/// Patchable fields. Each has a fixed rendered width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// 16 hex digits (appended after `z9hG4bK` by the template text).
    Branch,
    /// 16 hex digits.
    CallId,
    /// 10 decimal digits, zero padded (leading zeros are legal in CSeq).
    CSeq,
    /// 8 hex digits.
    Tag,
    /// 5 decimal digits: local port (Linux ephemeral ports are 5 digits).
    Port,
}

impl Field {
    const ALL: [Field; 5] = [Field::Branch, Field::CallId, Field::CSeq, Field::Tag, Field::Port];
    pub fn width(self) -> usize {
        match self {
            Field::Branch | Field::CallId => 16,
            Field::CSeq => 10,
            Field::Tag => 8,
            Field::Port => 5,
        }
    }
    fn token(self) -> &'static str {
        match self {
            Field::Branch => "{branch}",
            Field::CallId => "{callid}",
            Field::CSeq => "{cseq}",
            Field::Tag => "{tag}",
            Field::Port => "{port}",
        }
    }
    fn hex(self) -> bool {
        matches!(self, Field::Branch | Field::CallId | Field::Tag)
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    buf: Vec<u8>,
    fields: Vec<(Field, usize)>,
}

impl Template {
    /// Builds a template from text with `\n` line ends (converted to CRLF).
    /// Tokens `{branch}` `{callid}` `{cseq}` `{tag}` `{port}` become
    /// zero-filled patch fields; `{clen}` is replaced by the body length.
    pub fn new(text: &str) -> Template {
        let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
        let (head, body) = match text.find("\r\n\r\n") {
            Some(p) => (&text[..p + 4], &text[p + 4..]),
            None => (&text[..], ""),
        };
        let head = head.replace("{clen}", &body.len().to_string());
        let mut buf = Vec::with_capacity(head.len() + body.len());
        let mut fields = Vec::new();
        let mut rest = head.as_str();
        'outer: while !rest.is_empty() {
            if let Some(p) = rest.find('{') {
                for f in Field::ALL {
                    if rest[p..].starts_with(f.token()) {
                        buf.extend_from_slice(&rest.as_bytes()[..p]);
                        fields.push((f, buf.len()));
                        buf.extend(std::iter::repeat_n(b'0', f.width()));
                        rest = &rest[p + f.token().len()..];
                        continue 'outer;
                    }
                }
                buf.extend_from_slice(&rest.as_bytes()[..=p]);
                rest = &rest[p + 1..];
            } else {
                buf.extend_from_slice(rest.as_bytes());
                break;
            }
        }
        buf.extend_from_slice(body.as_bytes());
        Template { buf, fields }
    }

    /// Writes `v` into every occurrence of `f`.
    #[inline]
    pub fn set(&mut self, f: Field, mut v: u64) {
        let w = f.width();
        let mut tmp = [b'0'; 16];
        if f.hex() {
            for i in (0..w).rev() {
                tmp[i] = b"0123456789abcdef"[(v & 15) as usize];
                v >>= 4;
            }
        } else {
            for i in (0..w).rev() {
                tmp[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        for &(ff, off) in &self.fields {
            if ff == f {
                self.buf[off..off + w].copy_from_slice(&tmp[..w]);
            }
        }
    }

    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes with an extra header block inserted before the empty line
    /// (only valid for body-less templates ending in CRLFCRLF).
    pub fn write_with_extra(&self, out: &mut Vec<u8>, extra: &[u8]) {
        debug_assert!(self.buf.ends_with(b"\r\n\r\n"));
        out.extend_from_slice(&self.buf[..self.buf.len() - 2]);
        out.extend_from_slice(extra);
        out.extend_from_slice(b"\r\n");
    }
}

/// Branch id packing: slot in the high 32 bits, transaction counter low.
#[inline]
pub fn ids(slot: u32, n: u32) -> u64 {
    ((slot as u64) << 32) | n as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sipmsg;

    #[test]
    fn patches_in_place() {
        let mut t = Template::new(
            "OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\nCall-ID: {callid}@h\nCSeq: {cseq} OPTIONS\nFrom: <sip:a@b>;tag={tag}\nContact: <sip:b@127.0.0.1:{port}>\nContent-Length: {clen}\n\nhello",
        );
        let len0 = t.bytes().len();
        t.set(Field::Branch, ids(7, 0x1234));
        t.set(Field::CallId, 0xdeadbeef);
        t.set(Field::CSeq, 42);
        t.set(Field::Tag, 0xabc);
        t.set(Field::Port, 40123);
        assert_eq!(t.bytes().len(), len0, "patching never changes length");
        let s = std::str::from_utf8(t.bytes()).unwrap();
        assert!(s.contains("Via: SIP/2.0/UDP 127.0.0.1:40123;branch=z9hG4bK0000000700001234\r\n"));
        assert!(s.contains("Contact: <sip:b@127.0.0.1:40123>\r\n"));
        assert!(s.contains("Call-ID: 00000000deadbeef@h\r\n"));
        assert!(s.contains("CSeq: 0000000042 OPTIONS\r\n"));
        assert!(s.contains(";tag=00000abc\r\n"));
        assert!(s.contains("Content-Length: 5\r\n\r\nhello"));
        let m = sipmsg::parse(t.bytes()).unwrap();
        assert_eq!(sipmsg::bench_branch_ids(m.top_branch), Some((7, 0x1234)));
        assert_eq!(m.cseq_num, 42);
        assert_eq!(m.body, b"hello");
        // re-patch overwrites fully
        t.set(Field::CSeq, 7);
        assert!(std::str::from_utf8(t.bytes()).unwrap().contains("CSeq: 0000000007 OPTIONS"));
    }

    #[test]
    fn inserts_extra_headers() {
        let t = Template::new("REGISTER sip:d SIP/2.0\nCSeq: {cseq} REGISTER\nContent-Length: 0\n\n");
        let mut out = Vec::new();
        t.write_with_extra(&mut out, b"Authorization: Digest x\r\n");
        assert!(out.ends_with(b"Content-Length: 0\r\nAuthorization: Digest x\r\n\r\n"));
        assert!(sipmsg::parse(&out).is_ok());
    }
}
