//! What HEP captures: the pure decision for one message, from `[hep]`'s
//! filters (peer address in `sources`, From/To in `aors`, method in
//! `methods`) and its sampling ratio, which keeps a Call-ID whose hash
//! falls under the ratio, so both directions of a dialog, on every shard
//! and every edge, are captured or left out together. Runs on the shard,
//! only when capture is on; the scan it needs allocates nothing.

use crate::config::{Cidr, Hep};
use crate::sip::{parse_cseq, parse_name_addr, scan, Framing, HeaderName};
use std::net::IpAddr;

/// `hash(Call-ID) >> 32` below this is captured; `FULL` = everything.
const FULL: u64 = 1 << 32;

#[derive(Debug, Clone)]
enum Aor {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    Contains(Vec<u8>),
}

impl Aor {
    fn parse(p: &str) -> Aor {
        let lower = |s: &str| s.to_ascii_lowercase().into_bytes();
        match (p.strip_prefix('*'), p.strip_suffix('*')) {
            (Some(_), Some(_)) => Aor::Contains(lower(p.trim_matches('*'))),
            (Some(rest), None) => Aor::Suffix(lower(rest)),
            (None, Some(rest)) => Aor::Prefix(lower(rest)),
            (None, None) => Aor::Exact(lower(p)),
        }
    }

    /// `aor` is user@host (or host), already lower-case.
    fn matches(&self, aor: &[u8]) -> bool {
        match self {
            Aor::Exact(p) => aor == p.as_slice(),
            Aor::Prefix(p) => aor.starts_with(p),
            Aor::Suffix(p) => aor.ends_with(p),
            Aor::Contains(p) => memchr::memmem::find(aor, p).is_some(),
        }
    }
}

/// The capture decision, built once from config.
#[derive(Debug, Clone)]
pub struct Filter {
    sources: Vec<Cidr>,
    aors: Vec<Aor>,
    methods: Vec<Vec<u8>>,
    threshold: u64,
}

impl Filter {
    pub fn new(cfg: &Hep) -> Filter {
        Filter {
            sources: cfg.sources.clone(),
            aors: cfg.aors.iter().map(|a| Aor::parse(&a.0)).collect(),
            methods: cfg.methods.iter().map(|m| m.0.as_bytes().to_vec()).collect(),
            threshold: (cfg.sample.0 * FULL as f64) as u64,
        }
    }

    /// Whether a message exchanged with `peer` is captured: `Some(Call-ID)`
    /// (empty when it has none) or None. A message that does not scan is
    /// captured only when no filter needs to look inside it.
    pub fn decide<'a>(&self, peer: IpAddr, msg: &'a [u8]) -> Option<&'a [u8]> {
        if msg.iter().all(u8::is_ascii_whitespace) {
            // A CRLF keepalive (RFC 5626) is not a SIP message.
            return None;
        }
        if !self.sources.is_empty() && !self.sources.iter().any(|c| c.contains(peer)) {
            return None;
        }
        let Some(m) = scan(msg, Framing::HeadersOnly).ok().and_then(|s| s.complete()) else {
            return (self.aors.is_empty() && self.methods.is_empty() && self.threshold >= FULL).then_some(&[][..]);
        };
        let call_id = m.header(HeaderName::CallId).map(trim).unwrap_or_default();
        if self.threshold < FULL && (fnv1a(call_id) >> 32) >= self.threshold {
            return None;
        }
        if !self.methods.is_empty() {
            let method = match m.method() {
                Some(method) => Some(method.as_bytes()),
                None => m.header(HeaderName::CSeq).and_then(parse_cseq).map(|(_, method)| method.as_bytes()),
            };
            if !method.is_some_and(|method| self.methods.iter().any(|x| x.as_slice() == method)) {
                return None;
            }
        }
        if !self.aors.is_empty() {
            let hit =
                [HeaderName::From, HeaderName::To].into_iter().filter_map(|h| m.header(h)).any(|v| self.aor_matches(v));
            if !hit {
                return None;
            }
        }
        Some(call_id)
    }

    /// Does a From/To value's user@host match a pattern?
    fn aor_matches(&self, value: &[u8]) -> bool {
        let Ok(addr) = parse_name_addr(value) else { return false };
        let mut aor = Vec::with_capacity(64);
        if let Some(user) = addr.uri.user {
            aor.extend_from_slice(user);
            aor.push(b'@');
        }
        aor.extend_from_slice(addr.uri.host);
        aor.make_ascii_lowercase();
        self.aors.iter().any(|p| p.matches(&aor))
    }
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// FNV-1a, 64 bits: stable across shards, processes and versions (the
/// sampling of one Call-ID must agree everywhere).
fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn filter(hep: &str) -> Filter {
        let text = format!("[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[hep]\n{hep}\n");
        Filter::new(&Config::parse(&text, "t.toml").unwrap().hep)
    }

    fn request(method: &str, from: &str, to: &str, call_id: &str) -> Vec<u8> {
        format!(
            "{method} sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:{from}>;tag=1\r\nTo: \"T\" <sip:{to}>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn response(cseq_method: &str, call_id: &str) -> Vec<u8> {
        format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: {call_id}\r\nCSeq: 7 {cseq_method}\r\nContent-Length: 0\r\n\r\n").into_bytes()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_filter_captures_everything_with_its_call_id() {
        let f = filter("");
        assert_eq!(f.decide(ip("10.0.0.1"), &request("OPTIONS", "a@b", "c@d", "abc")), Some(&b"abc"[..]));
        assert_eq!(f.decide(ip("10.0.0.1"), b"garbage"), Some(&b""[..]));
        assert_eq!(f.decide(ip("10.0.0.1"), b"\r\n\r\n"), None);
    }

    #[test]
    fn sources_by_cidr() {
        let f = filter("sources = [\"10.0.0.0/8\", \"2001:db8::/32\"]");
        let m = request("OPTIONS", "a@b", "c@d", "x");
        assert!(f.decide(ip("10.1.2.3"), &m).is_some());
        assert!(f.decide(ip("2001:db8::5"), &m).is_some());
        assert!(f.decide(ip("192.168.0.1"), &m).is_none());
        assert!(f.decide(ip("192.168.0.1"), b"garbage").is_none());
    }

    #[test]
    fn methods_match_requests_and_responses_by_cseq() {
        let f = filter("methods = [\"INVITE\", \"BYE\"]");
        assert!(f.decide(ip("10.0.0.1"), &request("INVITE", "a@b", "c@d", "x")).is_some());
        assert!(f.decide(ip("10.0.0.1"), &request("OPTIONS", "a@b", "c@d", "x")).is_none());
        assert!(f.decide(ip("10.0.0.1"), &response("BYE", "x")).is_some());
        assert!(f.decide(ip("10.0.0.1"), &response("REGISTER", "x")).is_none());
        // Unscannable: a method filter cannot say yes.
        assert!(f.decide(ip("10.0.0.1"), b"garbage").is_none());
    }

    #[test]
    fn aors_exact_prefix_suffix_substring_on_from_or_to() {
        let m = request("INVITE", "alice@Example.com", "bob@other.net", "x");
        for (pattern, hit) in [
            ("alice@example.com", true),
            ("bob@other.net", true),
            ("ali@example.com", false),
            ("*@example.com", true),
            ("alice@*", true),
            ("*ob@oth*", true),
            ("*carol*", false),
            ("*@example.co", false),
        ] {
            let f = filter(&format!("aors = [\"{pattern}\"]"));
            assert_eq!(f.decide(ip("10.0.0.1"), &m).is_some(), hit, "{pattern}");
        }
    }

    #[test]
    fn every_non_empty_list_must_pass() {
        let f = filter("methods = [\"INVITE\"]\naors = [\"*@example.com\"]\nsources = [\"10.0.0.0/8\"]");
        assert!(f.decide(ip("10.0.0.1"), &request("INVITE", "a@example.com", "c@d", "x")).is_some());
        assert!(f.decide(ip("10.0.0.1"), &request("INVITE", "a@else.com", "c@d", "x")).is_none());
        assert!(f.decide(ip("11.0.0.1"), &request("INVITE", "a@example.com", "c@d", "x")).is_none());
    }

    #[test]
    fn sampling_is_by_call_id_and_near_the_ratio() {
        let f = filter("sample = 0.1");
        let kept: Vec<String> = (0..10_000)
            .map(|i| format!("{i}@host"))
            .filter(|c| f.decide(ip("10.0.0.1"), &request("INVITE", "a@b", "c@d", c)).is_some())
            .collect();
        assert!((800..1200).contains(&kept.len()), "{}", kept.len());
        // Both directions of a dialog agree.
        for c in kept.iter().take(50) {
            assert!(f.decide(ip("10.9.9.9"), &response("INVITE", c)).is_some());
        }
        let dropped = (0..10_000).map(|i| format!("{i}@host")).find(|c| !kept.contains(c)).unwrap();
        assert!(f.decide(ip("10.0.0.1"), &response("INVITE", &dropped)).is_none());
        assert!(filter("sample = 0.0").decide(ip("10.0.0.1"), &request("INVITE", "a@b", "c@d", "x")).is_none());
    }
}
