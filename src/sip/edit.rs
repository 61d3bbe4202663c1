//! Forwarding edits: collect changes against a scanned message (Request-URI,
//! inserted top headers, removed lines (by name, by position or by
//! pattern) or leading list values, replaced values, a new body with its
//! Content-Length) and write the result in one pass, copying every
//! untouched byte verbatim. Edits are kept per header line, so applying them
//! needs no sorting; the first 16 line edits and 8 inserts live inline (no
//! heap) and more spill into a Vec.

use std::io::Write as _;

use super::header::HeaderName;
use super::header_pattern::HeaderPatterns;
use super::scan::{split_list, Header, Message};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineEdit<'a> {
    Remove,
    Replace(&'a [u8]),
    /// Drop the first `n` comma-separated values of the line.
    DropValues(u16),
}

/// Inline-first small vector for `Copy` items.
struct Small<T: Copy, const N: usize> {
    arr: [Option<T>; N],
    n: usize,
    spill: Vec<T>,
}

impl<T: Copy, const N: usize> Small<T, N> {
    fn new() -> Self {
        Small { arr: [None; N], n: 0, spill: Vec::new() }
    }
    fn push(&mut self, t: T) {
        if self.n < N {
            self.arr[self.n] = Some(t);
            self.n += 1;
        } else {
            self.spill.push(t);
        }
    }
    fn iter(&self) -> impl Iterator<Item = &T> {
        self.arr[..self.n].iter().flatten().chain(self.spill.iter())
    }
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.arr[..self.n].iter_mut().flatten().chain(self.spill.iter_mut())
    }
}

pub struct Editor<'a> {
    msg: &'a Message<'a>,
    ruri: Option<&'a [u8]>,
    inserts: Small<(&'a str, &'a [u8]), 8>,
    lines: Small<(u16, LineEdit<'a>), 16>,
    body: Option<&'a [u8]>,
}

impl<'a> Editor<'a> {
    pub fn new(msg: &'a Message<'a>) -> Self {
        Editor { msg, ruri: None, inserts: Small::new(), lines: Small::new(), body: None }
    }

    /// Replace the Request-URI (ignored for responses).
    pub fn set_request_uri(&mut self, uri: &'a [u8]) {
        self.ruri = Some(uri);
    }

    /// Insert `name: value` before the first header line. Several inserts
    /// appear in call order.
    pub fn insert_header_first(&mut self, name: &'a str, value: &'a [u8]) {
        self.inserts.push((name, value));
    }

    fn edit_of(&self, index: usize) -> Option<LineEdit<'a>> {
        self.lines.iter().find(|(i, _)| *i as usize == index).map(|(_, e)| *e)
    }

    fn set(&mut self, index: usize, e: LineEdit<'a>) {
        if index >= self.msg.headers().len() {
            return;
        }
        let found = match self.lines.iter_mut().find(|(i, _)| *i as usize == index) {
            Some(slot) => {
                slot.1 = e;
                true
            }
            None => false,
        };
        if !found {
            self.lines.push((index as u16, e));
        }
    }

    /// Remove a whole header line (index into `msg.headers()`).
    pub fn remove_header_line(&mut self, index: usize) {
        self.set(index, LineEdit::Remove);
    }

    /// Remove every `name` line after the first `keep` of them.
    pub fn remove_header_lines(&mut self, name: HeaderName, keep: usize) {
        let mut seen = 0;
        self.remove_lines_where(|h| {
            seen += usize::from(h.name == name);
            h.name == name && seen > keep
        });
    }

    /// Remove every line whose name matches one of `patterns` (unknown
    /// names included); returns how many lines go.
    pub fn remove_matching(&mut self, patterns: &HeaderPatterns) -> usize {
        let buf = self.msg.buf;
        self.remove_lines_where(|h| patterns.matches(h, buf))
    }

    fn remove_lines_where(&mut self, mut pred: impl FnMut(&Header) -> bool) -> usize {
        let msg = self.msg;
        let mut n = 0;
        for (i, _) in msg.headers().iter().enumerate().filter(|(_, h)| pred(h)) {
            self.remove_header_line(i);
            n += 1;
        }
        n
    }

    /// Remove the first remaining value of `name` (e.g. pop the top Route or
    /// Via), whether alone on its line or first in a comma list; the line
    /// goes when its last value does. Repeated calls pop successive values.
    /// Returns whether something was removed.
    pub fn remove_first_value(&mut self, name: HeaderName) -> bool {
        let msg = self.msg;
        for (i, h) in msg.headers().iter().enumerate() {
            if h.name != name {
                continue;
            }
            let dropped = match self.edit_of(i) {
                Some(LineEdit::Remove) => continue,
                Some(LineEdit::Replace(_)) => {
                    self.set(i, LineEdit::Remove);
                    return true;
                }
                Some(LineEdit::DropValues(k)) => k as usize,
                None => 0,
            };
            let total = if name.is_list() { split_list(msg.buf, h.value).count() } else { 1 };
            if total == 0 {
                continue;
            }
            if dropped + 1 >= total {
                self.set(i, LineEdit::Remove);
            } else {
                self.set(i, LineEdit::DropValues(dropped as u16 + 1));
            }
            return true;
        }
        false
    }

    /// Replace the value of a header line, keeping its name and line end.
    pub fn replace_value(&mut self, index: usize, value: &'a [u8]) {
        self.set(index, LineEdit::Replace(value));
    }

    /// Replace the body; every Content-Length is rewritten (one is added
    /// when the message had none).
    pub fn set_body(&mut self, body: &'a [u8]) {
        self.body = Some(body);
    }

    /// Whether any edit was recorded.
    pub fn is_empty(&self) -> bool {
        self.ruri.is_none() && self.inserts.n == 0 && self.lines.n == 0 && self.body.is_none()
    }

    /// Append the edited message to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let msg = self.msg;
        let buf = msg.buf;
        let sl = msg.start_line;
        match (self.ruri, msg.request_uri_span()) {
            (Some(u), Some(us)) => {
                out.extend_from_slice(&buf[sl.start as usize..us.start as usize]);
                out.extend_from_slice(u);
                out.extend_from_slice(&buf[us.end as usize..sl.end as usize]);
            }
            _ => out.extend_from_slice(sl.of(buf)),
        }
        for (name, value) in self.inserts.iter() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let mut saw_cl = false;
        for (i, h) in msg.headers().iter().enumerate() {
            let (ls, vs, ve, le) =
                (h.line.start as usize, h.value.start as usize, h.value.end as usize, h.line.end as usize);
            let edit = if self.lines.n == 0 { None } else { self.edit_of(i) };
            if h.name == HeaderName::ContentLength && edit != Some(LineEdit::Remove) {
                saw_cl = true;
                if let Some(b) = self.body {
                    out.extend_from_slice(&buf[ls..vs]);
                    let _ = write!(out, "{}", b.len());
                    out.extend_from_slice(&buf[ve..le]);
                    continue;
                }
            }
            match edit {
                None => out.extend_from_slice(&buf[ls..le]),
                Some(LineEdit::Remove) => {}
                Some(LineEdit::Replace(v)) => {
                    out.extend_from_slice(&buf[ls..vs]);
                    out.extend_from_slice(v);
                    out.extend_from_slice(&buf[ve..le]);
                }
                Some(LineEdit::DropValues(k)) => {
                    if let Some(next) = split_list(buf, h.value).nth(k as usize) {
                        out.extend_from_slice(&buf[ls..vs]);
                        out.extend_from_slice(&buf[next.start as usize..le]);
                    }
                }
            }
        }
        if let (Some(b), false) = (self.body, saw_cl) {
            let _ = write!(out, "Content-Length: {}\r\n", b.len());
        }
        out.extend_from_slice(msg.blank_line.of(buf));
        out.extend_from_slice(self.body.unwrap_or(msg.body()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::scan::{scan, Framing};

    const MSG: &[u8] = b"INVITE sip:b@example.com SIP/2.0\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Route: <sip:p3.example.com;lr>\r\n\
Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
Max-Forwards: 70\r\n\
X-Unknown: keep  me\r\n\
Content-Length: 3\r\n\r\nabc";

    fn out(e: &Editor) -> String {
        let mut v = Vec::new();
        e.write(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn no_edits_identical() {
        let m = scan(MSG, Framing::Stream).unwrap().complete().unwrap();
        let e = Editor::new(&m);
        assert!(e.is_empty());
        assert_eq!(out(&e).as_bytes(), MSG);
    }

    #[test]
    fn proxy_edits() {
        let m = scan(MSG, Framing::Stream).unwrap().complete().unwrap();
        let mut e = Editor::new(&m);
        e.set_request_uri(b"sip:b@10.0.0.9:5070");
        e.insert_header_first("Record-Route", b"<sip:edge;lr>");
        e.insert_header_first("Via", b"SIP/2.0/UDP edge;branch=z9hG4bKe");
        assert!(e.remove_first_value(HeaderName::Route));
        e.replace_value(3, b"69");
        assert_eq!(
            out(&e),
            "INVITE sip:b@10.0.0.9:5070 SIP/2.0\r\n\
Record-Route: <sip:edge;lr>\r\n\
Via: SIP/2.0/UDP edge;branch=z9hG4bKe\r\n\
Route: <sip:p2.example.com;lr>\r\n\
Route: <sip:p3.example.com;lr>\r\n\
Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
Max-Forwards: 69\r\n\
X-Unknown: keep  me\r\n\
Content-Length: 3\r\n\r\nabc"
        );
        assert!(e.remove_first_value(HeaderName::Route));
        assert!(e.remove_first_value(HeaderName::Route));
        assert!(!e.remove_first_value(HeaderName::Route));
        assert!(!out(&e).contains("Route: <sip:p"));
        e.remove_header_line(4);
        e.set_body(b"hello");
        let s = out(&e);
        assert!(!s.contains("X-Unknown"));
        assert!(s.ends_with("Content-Length: 5\r\n\r\nhello"));
    }

    #[test]
    fn set_body_adds_content_length() {
        let b = b"MESSAGE sip:a SIP/2.0\nVia: SIP/2.0/UDP h\n\n";
        let m = scan(b, Framing::Datagram).unwrap().complete().unwrap();
        let mut e = Editor::new(&m);
        e.set_body(b"hi");
        assert_eq!(out(&e), "MESSAGE sip:a SIP/2.0\nVia: SIP/2.0/UDP h\nContent-Length: 2\r\n\nhi");
    }

    #[test]
    fn lines_matching_patterns_go_and_a_new_body_fixes_content_length() {
        let text = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\nX-Internal-Foo: secret\r\nContent-Type: application/sdp\r\nx-internal-bar: more\r\nl: 3\r\n\r\nabc";
        let m = scan(text, Framing::Stream).unwrap().complete().unwrap();
        let mut e = Editor::new(&m);
        assert_eq!(e.remove_matching(&HeaderPatterns::of(&["X-Internal-*"])), 2);
        e.set_body(b"abcdef");
        assert_eq!(
            out(&e),
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\nContent-Type: application/sdp\r\nl: 6\r\n\r\nabcdef"
        );
    }

    #[test]
    fn many_edits_spill() {
        let mut s = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        for i in 0..40 {
            s.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        s.extend_from_slice(b"l: 0\r\n\r\n");
        let m = scan(&s, Framing::Stream).unwrap().complete().unwrap();
        let mut e = Editor::new(&m);
        for i in 0..40 {
            e.replace_value(i, b"w");
        }
        for i in 0..10 {
            e.insert_header_first("Y", b"z");
            let _ = i;
        }
        let o = out(&e);
        assert_eq!(o.matches(": w\r\n").count(), 40);
        assert_eq!(o.matches("Y: z\r\n").count(), 10);
    }
}
