//! Header name patterns (`X-Internal-*`, `P-Charging-Vector`): an exact
//! name or a prefix ending in `*`, compared without regard to case. A
//! header the edge knows by name also matches by its canonical spelling,
//! so `Subject` removes the compact `s:` too; any other name is matched as
//! written on the wire. Patterns that would remove what SIP needs to route
//! and frame a message (Via, From, To, Call-ID, CSeq, Max-Forwards,
//! Contact, Route, Record-Route, Content-Length, Content-Type) are refused.

use super::header::{is_token, HeaderName};
use super::scan::{Header, Message};
use std::fmt;

/// One pattern: a lowercase name or prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderPattern {
    lower: Box<[u8]>,
    prefix: bool,
}

/// Headers no pattern may remove.
const ESSENTIAL: [HeaderName; 11] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::Contact,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::ContentLength,
    HeaderName::ContentType,
];

impl HeaderPattern {
    /// Parses `X-Name` or `X-Prefix-*`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<HeaderPattern, String> {
        let (name, prefix) = match s.strip_suffix('*') {
            Some(p) => (p, true),
            None => (s, false),
        };
        if name.is_empty() {
            return Err(format!("`{s}`: a pattern needs a name or a prefix before `*`"));
        }
        if !name.bytes().all(|c| is_token(c) && c != b'*') {
            return Err(format!(
                "`{s}`: a header name is letters, digits and - . ! % _ + ` ' ~, with `*` only at the end"
            ));
        }
        let p = HeaderPattern { lower: name.to_ascii_lowercase().into_bytes().into_boxed_slice(), prefix };
        if let Some(h) = ESSENTIAL.iter().find(|h| p.matches_name(h.canonical().as_bytes())) {
            return Err(format!("`{s}` would remove {}, which SIP needs", h.canonical()));
        }
        Ok(p)
    }

    /// Whether a header spelled `name` matches.
    pub fn matches_name(&self, name: &[u8]) -> bool {
        let n = self.lower.len();
        if self.prefix {
            name.len() >= n && name[..n].eq_ignore_ascii_case(&self.lower)
        } else {
            name.eq_ignore_ascii_case(&self.lower)
        }
    }
}

impl fmt::Debug for HeaderPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", String::from_utf8_lossy(&self.lower), if self.prefix { "*" } else { "" })
    }
}

/// A set of patterns; a header matching any of them matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderPatterns(Vec<HeaderPattern>);

impl HeaderPatterns {
    pub fn new(patterns: Vec<HeaderPattern>) -> HeaderPatterns {
        HeaderPatterns(patterns)
    }

    /// `patterns` parsed; panics on a bad one (for tests and built-in defaults).
    pub fn of(patterns: &[&str]) -> HeaderPatterns {
        HeaderPatterns(patterns.iter().map(|p| HeaderPattern::parse(p).expect("valid header pattern")).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the header line `h` of a message in `buf` matches: by its
    /// name as written, or by the canonical name of a known header.
    pub fn matches(&self, h: &Header, buf: &[u8]) -> bool {
        let written = h.name_span.of(buf);
        let canonical = h.name.canonical().as_bytes();
        self.0.iter().any(|p| p.matches_name(written) || (!canonical.is_empty() && p.matches_name(canonical)))
    }

    /// Whether any header line of `msg` matches.
    pub fn any_in(&self, msg: &Message<'_>) -> bool {
        !self.is_empty() && msg.headers().iter().any(|h| self.matches(h, msg.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::scan::{scan, Framing};

    #[test]
    fn exact_and_prefix_patterns_ignore_case() {
        let p = HeaderPattern::parse("X-Internal-*").unwrap();
        assert!(p.matches_name(b"X-Internal-Foo"));
        assert!(p.matches_name(b"x-internal-"));
        assert!(p.matches_name(b"X-INTERNAL-BAR-BAZ"));
        assert!(!p.matches_name(b"X-Internal"));
        assert!(!p.matches_name(b"X-Interna"));
        let p = HeaderPattern::parse("P-Charging-Vector").unwrap();
        assert!(p.matches_name(b"p-charging-vector"));
        assert!(!p.matches_name(b"P-Charging-Vectors"));
    }

    #[test]
    fn bad_and_dangerous_patterns_are_refused() {
        for bad in ["", "*", "X Internal", "X-*-Foo", "X:Y", "Via", "v*", "Call-*", "c*", "Content-*", "*-ID", "r*"] {
            assert!(HeaderPattern::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["X-*", "Server", "User-Agent", "P-Asserted-Identity", "X-Internal-*", "Subject"] {
            assert!(HeaderPattern::parse(good).is_ok(), "{good:?}");
        }
        assert!(HeaderPattern::parse("Record-Route").unwrap_err().contains("Record-Route"));
    }

    #[test]
    fn unknown_names_match_as_written_and_known_ones_by_canonical_name_too() {
        let text = b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nX-Internal-Foo: 1\r\nx-internal-trunk: 2\r\ns: hello\r\nX-Other: 3\r\nl: 0\r\n\r\n";
        let m = scan(text, Framing::Stream).unwrap().complete().unwrap();
        let pats = HeaderPatterns::of(&["X-Internal-*", "Subject"]);
        let hit: Vec<&[u8]> =
            m.headers().iter().filter(|h| pats.matches(h, m.buf)).map(|h| h.name_span.of(m.buf)).collect();
        assert_eq!(hit, [&b"X-Internal-Foo"[..], b"x-internal-trunk", b"s"]);
        assert!(pats.any_in(&m));
        assert!(!HeaderPatterns::of(&["X-Nothing"]).any_in(&m));
        assert!(!HeaderPatterns::default().any_in(&m));
    }
}
