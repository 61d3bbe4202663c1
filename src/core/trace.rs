//! The per-request trace (what Kamailio users write `xlog` lines for): one
//! record per finished transaction — method, From and To AORs, source,
//! final status, how long it took, the shard — for the requests an operator
//! asked about at run time (`sipedge ctl trace add alice@example.com`, an
//! IP, or a method). Off by default: with no rule the only cost is one
//! emptiness check per final answer. A record leaves the core as
//! `Output::Trace`; the shard hands it to the logger's bounded queue (a full
//! queue drops it, counted), so tracing never makes a shard wait.

use super::registrar::request::aor_of;
use super::{Origin, Transport};
use crate::sip::Essentials;
use std::net::{IpAddr, SocketAddr};

/// What an operator traces: requests from or to an AOR, from an IP, or of a method.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TraceRule {
    /// Canonical AOR (`sip:alice@example.com`), matched against From and To.
    Aor(Vec<u8>),
    /// Source address of the request.
    Ip(IpAddr),
    /// Request method, upper case (`INVITE`).
    Method(String),
}

impl TraceRule {
    /// What an operator typed: an IP address, a method (letters only, upper
    /// case), or an AOR (`alice@example.com`, normalised as REGISTER does).
    pub fn parse(s: &str) -> Result<TraceRule, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(TraceRule::Ip(ip));
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase()) {
            return Ok(TraceRule::Method(s.to_string()));
        }
        match super::registrar::request::aor_of_typed(s) {
            Some(aor) if s.contains('@') => Ok(TraceRule::Aor(aor)),
            _ => Err(format!("`{s}` is not an IP address, a method (INVITE) or an AOR (alice@example.com)")),
        }
    }

    /// As the operator sees it: `sip:alice@example.com`, `192.0.2.7`, `INVITE`.
    pub fn label(&self) -> String {
        match self {
            TraceRule::Aor(a) => String::from_utf8_lossy(a).into_owned(),
            TraceRule::Ip(ip) => ip.to_string(),
            TraceRule::Method(m) => m.clone(),
        }
    }
}

/// The rules in force on a shard (replaced whole when they change).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceFilter {
    rules: Vec<TraceRule>,
}

impl TraceFilter {
    pub fn new(mut rules: Vec<TraceRule>) -> TraceFilter {
        rules.sort();
        rules.dedup();
        TraceFilter { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[TraceRule] {
        &self.rules
    }

    /// Does a request from `source` with these essentials match a rule?
    /// AORs are computed only when an AOR rule exists.
    pub fn matches(&self, source: IpAddr, ess: &Essentials<'_>) -> bool {
        let mut aors: Option<[Vec<u8>; 2]> = None;
        self.rules.iter().any(|r| match r {
            TraceRule::Ip(ip) => *ip == source,
            TraceRule::Method(m) => m.as_bytes() == ess.method.as_bytes(),
            TraceRule::Aor(a) => aors.get_or_insert_with(|| [aor_of(&ess.from.uri), aor_of(&ess.to.uri)]).contains(a),
        })
    }
}

/// One finished transaction, for the trace log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub shard: u16,
    pub method: String,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub source: SocketAddr,
    pub transport: Transport,
    pub status: u16,
    pub duration_ms: u64,
}

impl Trace {
    /// The record for a request (its checked essentials `ess`) from
    /// `origin`, answered `status` after `duration_ms`, when `filter` matches it.
    pub fn of(
        filter: &TraceFilter,
        shard: u16,
        origin: Origin,
        ess: &Essentials<'_>,
        status: u16,
        duration_ms: u64,
    ) -> Option<Trace> {
        if filter.is_empty() || !filter.matches(origin.peer.ip(), ess) {
            return None;
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Some(Trace {
            shard,
            method: text(ess.method.as_bytes()),
            from: text(&aor_of(&ess.from.uri)),
            to: text(&aor_of(&ess.to.uri)),
            call_id: text(ess.call_id),
            source: origin.peer,
            transport: origin.transport,
            status,
            duration_ms,
        })
    }

    /// `INVITE sip:alice@a -> sip:bob@b from udp:192.0.2.1:5060 status 200 in 1234 ms shard 3 call-id x`.
    pub fn line(&self) -> String {
        format!(
            "{} {} -> {} from {}:{} status {} in {} ms shard {} call-id {}",
            self.method,
            self.from,
            self.to,
            self.transport.label(),
            self.source,
            self.status,
            self.duration_ms,
            self.shard,
            self.call_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{self, Framing, Status};

    fn origin() -> Origin {
        Origin { transport: Transport::Udp, listener: 0, peer: "192.0.2.7:5062".parse().unwrap(), flow: None }
    }

    const INVITE: &[u8] = b"INVITE sip:bob@Example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKt1\r\n\
        Max-Forwards: 70\r\nFrom: \"A\" <sip:alice@Example.com:5060>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
        Call-ID: c-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    fn record(rules: &[&str], status: u16) -> Option<Trace> {
        let filter = TraceFilter::new(rules.iter().map(|r| TraceRule::parse(r).unwrap()).collect());
        let Ok(Status::Complete(msg)) = sip::scan(INVITE, Framing::Datagram) else { panic!() };
        let ess = sip::check_request(&msg).unwrap();
        Trace::of(&filter, 3, origin(), &ess, status, 1234)
    }

    #[test]
    fn rules_are_parsed_as_an_operator_types_them() {
        assert_eq!(TraceRule::parse("192.0.2.7"), Ok(TraceRule::Ip("192.0.2.7".parse().unwrap())));
        assert_eq!(TraceRule::parse("INVITE"), Ok(TraceRule::Method("INVITE".into())));
        assert_eq!(TraceRule::parse("alice@Example.COM:5060"), Ok(TraceRule::Aor(b"sip:alice@example.com".to_vec())));
        assert_eq!(TraceRule::parse("sip:alice@example.com").unwrap().label(), "sip:alice@example.com");
        assert!(TraceRule::parse("invite").is_err());
        assert!(TraceRule::parse("").is_err());
    }

    #[test]
    fn a_request_is_traced_when_its_aor_source_or_method_matches() {
        assert_eq!(record(&[], 200), None, "no rule: off");
        assert_eq!(record(&["carol@example.com", "REGISTER", "192.0.2.8"], 200), None);
        for rule in ["bob@example.com", "alice@example.com", "INVITE", "192.0.2.7"] {
            assert!(record(&[rule], 200).is_some(), "{rule}");
        }
        let t = record(&["alice@example.com"], 486).unwrap();
        assert_eq!(
            t.line(),
            "INVITE sip:alice@example.com -> sip:bob@example.com from udp:192.0.2.7:5062 status 486 in 1234 ms shard 3 call-id c-1"
        );
    }

    #[test]
    fn rules_are_kept_once_and_in_order() {
        let f = TraceFilter::new(vec![TraceRule::Method("INVITE".into()), TraceRule::Method("INVITE".into())]);
        assert_eq!(f.rules().len(), 1);
    }
}
