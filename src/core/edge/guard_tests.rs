//! Protection as the edge applies it (`guard.rs`), sans-IO: scanners
//! dropped unanswered, a flood banned on every shard and dropped before
//! scanning, 503 with Retry-After, 513 over a method's size limit, the
//! allowlist, and a request too large for UDP forwarded over TCP.

use super::proxy_tests::{config, CORE, EDGE};
use super::tests::NOW;
use super::*;
use crate::core::mesh::MeshMsg;
use crate::core::protect::{Action, BanNews, BanReason, ProtectConfig, Rule, RuleKey, Scanners, Trip};
use crate::core::{Origin, Transport};

fn edge_with(protect: ProtectConfig, shard: u16, shards: u16) -> Edge {
    Edge::new(EdgeConfig { protect, shard, shards, ..config() }, NOW * 1000, 0)
}

fn from(peer: &str) -> Origin {
    Origin { transport: Transport::Udp, listener: 0, peer: peer.parse().unwrap(), flow: None }
}

fn request(method: &str, ruri: &str, id: u32, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:carol@elsewhere.example>;tag={id}\r\nTo: <{ruri}>\r\nCall-ID: {id}@t\r\nCSeq: 1 {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub(super) fn options(id: u32, extra: &str) -> Vec<u8> {
    request("OPTIONS", &format!("sip:{EDGE}"), id, extra, "")
}

fn run(e: &mut Edge, ms: u64, origin: Origin, bytes: &[u8]) -> Vec<Output> {
    let mut out = Vec::new();
    e.handle(NOW * 1000 + ms, Input::Packet(Packet { origin, bytes }), &mut out);
    out
}

fn answer(out: &[Output]) -> String {
    match out {
        [Output::Send { bytes, .. }] => String::from_utf8(bytes.clone()).unwrap(),
        o => panic!("expected one answer, got {o:?}"),
    }
}

#[test]
fn scanners_get_no_answer() {
    let mut e = edge_with(
        ProtectConfig { scanners: Scanners::new(&["friendly-scanner", "sipvicious"]), ..Default::default() },
        0,
        1,
    );
    let src = from("203.0.113.9:5060");
    assert!(run(&mut e, 0, src, &options(1, "User-Agent: friendly-scanner\r\n")).is_empty());
    assert!(answer(&run(&mut e, 0, src, &options(2, "User-Agent: Linphone\r\n"))).starts_with("SIP/2.0 200 "));
    assert_eq!(e.protect_stats().scanner_drops, 1);
    assert_eq!(e.counters.wire.drops.get(Drop::Scanner), 1);
    // The core (trusted) is never filtered.
    assert!(!run(&mut e, 0, from(CORE), &options(3, "User-Agent: sipvicious\r\n")).is_empty());
}

#[test]
fn a_flood_is_banned_on_every_shard_and_dropped_unscanned() {
    let cfg = ProtectConfig { flood: Some(Trip { count: 20, window_ms: 1000, ban_ms: 30_000 }), ..Default::default() };
    let mut e = edge_with(cfg.clone(), 0, 2);
    let mut other = edge_with(cfg, 1, 2);
    let src = from("203.0.113.9:5060");
    for i in 0..19 {
        assert_eq!(run(&mut e, 10, src, &options(i, "")).len(), 1);
    }
    let out = run(&mut e, 10, src, &options(19, ""));
    let ban = match &out[..] {
        [Output::ToShard { shard: 1, msg: MeshMsg::Ban(b) }, Output::Ban(BanNews::Banned(logged))] if b == logged => *b,
        o => panic!("expected the ban told to shard 1 and to the log, got {o:?}"),
    };
    assert_eq!((ban.reason, ban.shard), (BanReason::Flood, 0));
    assert!(run(&mut e, 20, src, b"garbage that would be counted as malformed").is_empty());
    assert_eq!(e.counters.wire.drops.get(Drop::Banned), 2);
    assert_eq!(
        e.counters.wire.malformed.total() + e.counters.wire.drops.total() - e.counters.wire.drops.get(Drop::Banned),
        0,
        "unscanned"
    );
    // Shard 1 learns it and drops the source too; other sources are served.
    let mut out = Vec::new();
    other.handle(NOW * 1000 + 20, Input::Mesh(MeshMsg::Ban(ban)), &mut out);
    assert!(run(&mut other, 30, from("203.0.113.9:6000"), &options(50, "")).is_empty());
    assert_eq!(
        answer(&run(&mut other, 30, from("203.0.113.10:5060"), &options(51, ""))).split(' ').nth(1),
        Some("200")
    );
    assert_eq!(other.bans().len(), 1);
    assert_eq!(e.bans_active().iter().collect::<Vec<_>>(), [(BanReason::Flood, 1), (BanReason::AuthFailures, 0)]);
    // Lifted: served again. Expired: served again.
    assert!(other.lift_ban(ban.ip));
    assert_eq!(run(&mut other, 40, src, &options(52, "")).len(), 1);
    assert_eq!(run(&mut e, 30_010, src, &options(53, "")).len(), 1, "expired");
}

#[test]
fn over_a_rule_503_with_retry_after() {
    let rule = Rule {
        name: "options-ip".into(),
        key: RuleKey::Ip,
        methods: vec![b"OPTIONS".to_vec()],
        user_agent: Vec::new(),
        event: Vec::new(),
        rate: 0.2,
        burst: 2.0,
        action: Action::Reject,
        profile: None,
    };
    let mut e = edge_with(ProtectConfig { rules: vec![rule], ..Default::default() }, 0, 1);
    let src = from("203.0.113.9:5060");
    for i in 0..2 {
        assert!(answer(&run(&mut e, 0, src, &options(i, ""))).starts_with("SIP/2.0 200 "));
    }
    let a = answer(&run(&mut e, 0, src, &options(2, "")));
    assert!(a.starts_with("SIP/2.0 503 Service Unavailable\r\n"), "{a}");
    assert!(a.contains("\r\nRetry-After: 5\r\n"), "{a}");
    assert!(answer(&run(&mut e, 5000, src, &options(3, ""))).starts_with("SIP/2.0 200 "), "a token 5 s later");
    for i in 10..20 {
        assert!(
            answer(&run(&mut e, 5000, from(CORE), &options(i, ""))).starts_with("SIP/2.0 200 "),
            "the core is not limited"
        );
    }
    assert_eq!(e.protect_stats().rule_hits, vec![1]);
}

#[test]
fn over_the_method_size_limit_513() {
    let mut e = edge_with(ProtectConfig { max_size: vec![(b"OPTIONS".to_vec(), 400)], ..Default::default() }, 0, 1);
    let big = options(1, &format!("X-Pad: {}\r\n", "a".repeat(200)));
    assert!(big.len() > 400);
    let a = answer(&run(&mut e, 0, from("203.0.113.9:5060"), &big));
    assert!(a.starts_with("SIP/2.0 513 Message Too Large\r\n"), "{a}");
    assert!(answer(&run(&mut e, 0, from("203.0.113.9:5060"), &options(2, ""))).starts_with("SIP/2.0 200 "));
    assert_eq!(e.protect_stats().oversize.get(crate::core::counters::MethodName::Options), 1);
}

#[test]
fn too_large_for_udp_goes_over_tcp() {
    let mut cfg = config();
    let tcp_listener: std::net::SocketAddr = EDGE.parse().unwrap();
    cfg.listeners.push(Listener::new(Transport::Tcp, tcp_listener, ""));
    cfg.protect = ProtectConfig { udp_mtu: 1300, ..Default::default() };
    let mut e = Edge::new(cfg, NOW * 1000, 0);
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n{}",
        "a=x-pad:0123456789abcdef\r\n".repeat(50)
    );
    let small = request(
        "INVITE",
        "sip:+15551234@carrier.example",
        1,
        "Contact: <sip:core@10.0.0.5>\r\nContent-Type: application/sdp\r\n",
        "",
    );
    let big = request(
        "INVITE",
        "sip:+15551234@carrier.example",
        2,
        "Contact: <sip:core@10.0.0.5>\r\nContent-Type: application/sdp\r\n",
        &sdp,
    );
    let sent = |out: &[Output]| -> Vec<(Dest, String)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { dest, bytes } if bytes.starts_with(b"INVITE") => {
                    Some((*dest, String::from_utf8(bytes.clone()).unwrap()))
                }
                _ => None,
            })
            .collect()
    };
    let out = sent(&run(&mut e, 0, from(CORE), &small));
    assert!(matches!(out[0].0, Dest::Udp { .. }), "{out:?}");
    assert!(out[0].1.contains("Via: SIP/2.0/UDP "));
    let out = sent(&run(&mut e, 0, from(CORE), &big));
    assert!(out[0].1.len() > 1300);
    assert_eq!(out[0].0, Dest::Tcp { peer: "10.0.1.1:5060".parse().unwrap(), tls: false }, "{}", out[0].1);
    assert!(out[0].1.contains("Via: SIP/2.0/TCP "), "{}", out[0].1);
    assert_eq!(e.protect_stats().udp_to_tcp, 1);
}
