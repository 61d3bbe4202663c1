//! RFC 3263 §4 as pure steps, and RFC 2782's order of SRV targets.
//!
//! | the URI has                      | first query                    |
//! |----------------------------------|--------------------------------|
//! | an explicit port                 | A/AAAA of the host, that port  |
//! | a `transport` parameter          | SRV for that transport only    |
//! | neither                          | NAPTR, then the SRV it names   |
//!
//! NAPTR records are kept when their flag is `s` and their service is one
//! the edge speaks (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`; only `SIPS+D2T` for
//! `sips:`), in order, then preference. No usable NAPTR: SRV for every
//! transport the edge speaks (`_sip._udp`, `_sip._tcp`, `_sips._tcp`; only
//! `_sips._tcp` for `sips:`). No SRV either: A/AAAA of the host with the
//! default transport and port. An SRV set that is a single `.` target
//! says the service is not offered there.
//!
//! Each candidate's priority folds the NAPTR (or fallback) rank above the
//! SRV priority, so one sort keeps both orders; within a priority the
//! order is drawn by weight for every request (`order`).

use super::{Candidate, Dest};
use crate::core::Transport;
use std::net::SocketAddr;

/// The first query for a destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// NAPTR of the host.
    Naptr,
    /// These SRV names, each for its transport.
    Srv(Vec<SrvQuery>),
    /// A/AAAA of the host; this transport and port.
    Addr { transport: Transport, port: u16 },
}

/// An SRV name to query, the transport its targets speak, and its rank
/// (the NAPTR order it came from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvQuery {
    pub name: String,
    pub transport: Transport,
    pub rank: u32,
}

/// A NAPTR record as the resolver reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub service: String,
    pub replacement: String,
}

/// An SRV record as the resolver reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// RFC 3263 §4.1–4.2: what to ask first.
pub fn first(dest: &Dest) -> Step {
    if let Some(port) = dest.port {
        return Step::Addr { transport: dest.default_transport(), port };
    }
    match dest.transport {
        Some(t) => Step::Srv(vec![SrvQuery { name: srv_name(&dest.host, t, dest.secure), transport: t, rank: 0 }]),
        None => Step::Naptr,
    }
}

/// `_sip._udp.host`, `_sip._tcp.host`, `_sips._tcp.host` (TLS, or any
/// transport of a `sips:` URI).
pub fn srv_name(host: &str, transport: Transport, secure: bool) -> String {
    match (transport, secure) {
        (Transport::Tls, _) | (_, true) => format!("_sips._tcp.{host}"),
        (Transport::Tcp, false) => format!("_sip._tcp.{host}"),
        _ => format!("_sip._udp.{host}"),
    }
}

/// The SRV names a NAPTR set leads to, best first; empty when none is
/// usable (then `fallback`).
pub fn after_naptr(dest: &Dest, records: &[Naptr]) -> Vec<SrvQuery> {
    let mut usable: Vec<(&Naptr, Transport)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter_map(|r| {
            let t = match r.service.to_ascii_uppercase().as_str() {
                "SIP+D2U" => Transport::Udp,
                "SIP+D2T" => Transport::Tcp,
                "SIPS+D2T" => Transport::Tls,
                _ => return None,
            };
            (!dest.secure || t == Transport::Tls).then_some((r, t))
        })
        .collect();
    usable.sort_by_key(|(r, _)| (r.order, r.preference));
    usable
        .into_iter()
        .enumerate()
        .map(|(rank, (r, t))| SrvQuery {
            name: r.replacement.trim_end_matches('.').to_ascii_lowercase(),
            transport: t,
            rank: rank as u32,
        })
        .collect()
}

/// No usable NAPTR: an SRV query for every transport the edge speaks.
pub fn fallback(dest: &Dest) -> Vec<SrvQuery> {
    let transports: &[Transport] =
        if dest.secure { &[Transport::Tls] } else { &[Transport::Udp, Transport::Tcp, Transport::Tls] };
    transports
        .iter()
        .enumerate()
        .map(|(rank, &t)| SrvQuery { name: srv_name(&dest.host, t, dest.secure), transport: t, rank: rank as u32 })
        .collect()
}

/// The SRV records that name a target: none when the set is a single `.`
/// (the service is decidedly not available, RFC 2782).
pub fn usable_srv(records: Vec<Srv>) -> Vec<Srv> {
    let records: Vec<Srv> =
        records.into_iter().map(|r| Srv { target: r.target.trim_end_matches('.').to_ascii_lowercase(), ..r }).collect();
    if records.len() == 1 && records[0].target.is_empty() {
        return Vec::new();
    }
    records.into_iter().filter(|r| !r.target.is_empty()).collect()
}

/// The candidate priority of an SRV record reached from a query of `rank`.
pub fn priority(rank: u32, srv_priority: u16) -> u32 {
    (rank.min(0xffff) << 16) | u32::from(srv_priority)
}

/// The addresses to try for one request, in order: priorities ascending;
/// within one, RFC 2782's weighted draw (a running sum against a random
/// number), every candidate's addresses in turn (`prefer_v6`: AAAA before
/// A). The random number is drawn in `1..=total`, not RFC 2782's
/// `0..=total`: that 0 hands the list's first entry one extra share (with
/// weights 1 and 3 listed in that order, 40 % instead of 25 %, measured
/// against a real server in `tests/dns.rs`). Zero weights therefore go
/// after every weighted target of their priority, in list order.
pub fn order(candidates: &[Candidate], prefer_v6: bool, mut rand: impl FnMut() -> u32) -> Vec<(Transport, SocketAddr)> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| c.priority);
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let p = sorted[i].priority;
        let mut group: Vec<&Candidate> = sorted[i..].iter().take_while(|c| c.priority == p).copied().collect();
        i += group.len();
        while !group.is_empty() {
            let total: u32 = group.iter().map(|c| u32::from(c.weight)).sum();
            let pick = if total == 0 { 0 } else { 1 + rand() % total };
            let mut sum = 0;
            let at = group
                .iter()
                .position(|c| {
                    sum += u32::from(c.weight);
                    sum >= pick
                })
                .unwrap_or(0);
            let c = group.remove(at);
            let preferred = c.addrs.iter().filter(|a| a.is_ipv6() == prefer_v6);
            let others = c.addrs.iter().filter(|a| a.is_ipv6() != prefer_v6);
            out.extend(preferred.chain(others).map(|&a| (c.transport, SocketAddr::new(a, c.port))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn dest(host: &str, port: Option<u16>, transport: Option<Transport>, secure: bool) -> Dest {
        Dest::named(host, port, transport, secure).unwrap()
    }

    fn naptr(order: u16, pref: u16, flags: &str, service: &str, repl: &str) -> Naptr {
        Naptr { order, preference: pref, flags: flags.into(), service: service.into(), replacement: repl.into() }
    }

    #[test]
    fn the_decision_table() {
        let ex = "example.net";
        assert_eq!(first(&dest(ex, Some(5080), None, false)), Step::Addr { transport: Transport::Udp, port: 5080 });
        assert_eq!(
            first(&dest(ex, Some(5080), Some(Transport::Tcp), false)),
            Step::Addr { transport: Transport::Tcp, port: 5080 }
        );
        let Step::Srv(q) = first(&dest(ex, None, Some(Transport::Tcp), false)) else { panic!() };
        assert_eq!((q[0].name.as_str(), q[0].transport), ("_sip._tcp.example.net", Transport::Tcp));
        assert_eq!(first(&dest(ex, None, None, true)), Step::Naptr);
        assert_eq!(fallback(&dest(ex, None, None, true))[0].name, "_sips._tcp.example.net");
        let names: Vec<String> = fallback(&dest(ex, None, None, false)).into_iter().map(|q| q.name).collect();
        assert_eq!(names, ["_sip._udp.example.net", "_sip._tcp.example.net", "_sips._tcp.example.net"]);
    }

    #[test]
    fn naptr_order_preference_and_services() {
        let recs = [
            naptr(20, 10, "s", "SIP+D2U", "_sip._udp.example.net."),
            naptr(10, 20, "S", "SIP+D2T", "_sip._tcp.example.net."),
            naptr(10, 10, "s", "SIPS+D2T", "_sips._tcp.example.net."),
            naptr(5, 10, "s", "SIP+D2S", "_sip._sctp.example.net."),
            naptr(5, 10, "u", "SIP+D2U", "!^.*$!sip:x@y!"),
        ];
        let q = after_naptr(&dest("example.net", None, None, false), &recs);
        let got: Vec<(&str, Transport)> = q.iter().map(|q| (q.name.as_str(), q.transport)).collect();
        assert_eq!(
            got,
            [
                ("_sips._tcp.example.net", Transport::Tls),
                ("_sip._tcp.example.net", Transport::Tcp),
                ("_sip._udp.example.net", Transport::Udp)
            ]
        );
        let secure = after_naptr(&dest("example.net", None, None, true), &recs);
        assert_eq!(secure.len(), 1, "sips: TLS only");
        assert!(after_naptr(&dest("example.net", None, None, false), &recs[3..]).is_empty());
    }

    #[test]
    fn a_dot_target_means_unavailable() {
        let dot = Srv { priority: 0, weight: 0, port: 0, target: ".".into() };
        assert!(usable_srv(vec![dot.clone()]).is_empty());
        let one = Srv { priority: 1, weight: 1, port: 5060, target: "A.Example.".into() };
        assert_eq!(usable_srv(vec![one])[0].target, "a.example");
    }

    fn cand(priority: u32, weight: u16, last_octet: u8) -> Candidate {
        Candidate {
            priority,
            weight,
            transport: Transport::Udp,
            port: 5060,
            addrs: vec![IpAddr::from([10, 0, 0, last_octet])],
        }
    }

    #[test]
    fn priority_first_then_weight() {
        let c = [cand(20, 1, 3), cand(10, 0, 2), cand(10, 100, 1)];
        let mut seed = 12345u32;
        let mut rand = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..1000 {
            let o = order(&c, false, &mut rand);
            assert_eq!(o.len(), 3);
            assert_eq!(o[0].1.ip(), IpAddr::from([10, 0, 0, 1]), "weight 100 before weight 0");
            assert_eq!(o[2].1.ip(), IpAddr::from([10, 0, 0, 3]), "priority 20 last");
        }
    }

    #[test]
    fn weights_share_first_picks() {
        // The light one first in the list: the order of the records must not matter.
        let c = [cand(0, 10, 3), cand(0, 30, 2), cand(0, 60, 1)];
        let mut x = 99u64;
        let mut rand = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        let mut firsts = [0usize; 3];
        for _ in 0..10_000 {
            let o = order(&c, false, &mut rand);
            if let IpAddr::V4(v4) = o[0].1.ip() {
                firsts[v4.octets()[3] as usize - 1] += 1;
            }
        }
        assert!((5600..6400).contains(&firsts[0]), "{firsts:?}");
        assert!((2600..3400).contains(&firsts[1]), "{firsts:?}");
        assert!((700..1300).contains(&firsts[2]), "{firsts:?}");
    }

    #[test]
    fn family_preference() {
        let c = [Candidate {
            priority: 0,
            weight: 0,
            transport: Transport::Tcp,
            port: 5060,
            addrs: vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
        }];
        assert!(order(&c, true, || 0)[0].1.is_ipv6());
        assert!(order(&c, false, || 0)[0].1.is_ipv4());
    }
}
