//! Edge rules, driven without sockets: bytes in, outputs checked.

use super::*;
use crate::core::{FlowId, Origin, Transport};

fn edge(shard: u16, shards: u16) -> Edge {
    Edge::new(
        EdgeConfig {
            shard,
            shards,
            local_hosts: local_hosts("127.0.0.1:5060".parse().unwrap(), "edge.example.com"),
            local_ports: vec![5060],
            max_message_bytes: 4096,
            protect: Default::default(),
            registrar: Default::default(),
            auth: None,
            listeners: vec![Listener::new(Transport::Udp, "127.0.0.1:5060".parse().unwrap(), "")],
            proxy: Default::default(),
            cluster: None,
            profiles: Default::default(),
        },
        NOW * 1000,
        0,
    )
}

/// The virtual clock of these tests (unix seconds).
pub(super) const NOW: u64 = 1_795_674_600;

fn udp(port: u16) -> Origin {
    Origin { transport: Transport::Udp, listener: 0, peer: format!("127.0.0.1:{port}").parse().unwrap(), flow: None }
}

fn request(method: &str, ruri: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKabc;rport\r\nFrom: <sip:a@example.com>;tag=f1\r\nTo: <sip:b@example.com>\r\nCall-ID: call-1\r\nCSeq: 7 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn run(e: &mut Edge, origin: Origin, bytes: &[u8]) -> Vec<Output> {
    let mut out = Vec::new();
    e.handle((NOW) * 1000, Input::Packet(Packet { origin, bytes }), &mut out);
    out
}

/// The single response an input produced: (dest, text).
fn answer(out: &[Output]) -> (Dest, String) {
    assert_eq!(out.len(), 1, "{out:?}");
    match &out[0] {
        Output::Send { dest, bytes } => (*dest, String::from_utf8(bytes.clone()).unwrap()),
        o => panic!("expected a send, got {o:?}"),
    }
}

#[test]
fn options_to_the_edge_is_answered_200_with_capabilities() {
    let mut e = edge(0, 1);
    let (dest, text) = answer(&run(&mut e, udp(40000), &request("OPTIONS", "sip:127.0.0.1:5060", "")));
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
    for h in [
        "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY",
        "Accept: application/sdp",
        "Supported:",
        "Call-ID: call-1",
        "CSeq: 7 OPTIONS",
    ] {
        assert!(text.contains(h), "missing {h}: {text}");
    }
    // rport filled and received added (RFC 3581), answer to the source port.
    assert!(text.contains("received=127.0.0.1") && text.contains("rport=40000"), "{text}");
    assert_eq!(dest, Dest::Udp { listener: 0, peer: "127.0.0.1:40000".parse().unwrap() });
    assert!(text.contains(";tag="), "To tag added: {text}");
    assert_eq!(e.counters.wire.sent(200), 1);
    assert_eq!(e.counters.wire.requests.get(crate::core::counters::MethodName::Options), 1);
}

#[test]
fn options_by_advertised_name_is_local_too() {
    let mut e = edge(0, 1);
    let (_, text) = answer(&run(&mut e, udp(40000), &request("OPTIONS", "sip:EDGE.example.com", "")));
    assert!(text.starts_with("SIP/2.0 200 "), "{text}");
}

#[test]
fn retransmissions_get_the_same_to_tag() {
    let mut e = edge(0, 1);
    let a = answer(&run(&mut e, udp(40000), &request("OPTIONS", "sip:127.0.0.1", ""))).1;
    let b = answer(&run(&mut e, udp(40000), &request("OPTIONS", "sip:127.0.0.1", ""))).1;
    assert_eq!(a, b);
}

#[test]
fn without_rport_the_answer_still_goes_to_the_source_port() {
    let mut e = edge(0, 1);
    let req = String::from_utf8(request("OPTIONS", "sip:127.0.0.1", "")).unwrap().replace(";rport", "");
    let (dest, _) = answer(&run(&mut e, udp(40000), req.as_bytes()));
    assert_eq!(dest, Dest::Udp { listener: 0, peer: "127.0.0.1:40000".parse().unwrap() });
}

#[test]
fn strangers_may_not_relay_through_the_edge() {
    let mut e = edge(0, 1);
    let (_, text) = answer(&run(&mut e, udp(40000), &request("INVITE", "sip:bob@example.com", "")));
    assert!(text.starts_with("SIP/2.0 403 Relaying Denied\r\n"), "{text}");
    assert_eq!(e.counters.wire.sent(403), 1);
    assert_eq!(e.counters.proxy.branches, 0);
}

#[test]
fn max_forwards_zero_gets_483() {
    let mut e = edge(0, 1);
    let req = String::from_utf8(request("INVITE", "sip:bob@example.com", ""))
        .unwrap()
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    let (_, text) = answer(&run(&mut e, udp(40000), req.as_bytes()));
    assert!(text.starts_with("SIP/2.0 483 "), "{text}");
}

#[test]
fn proxy_require_gets_420_listing_the_extensions() {
    let mut e = edge(0, 1);
    let (_, text) =
        answer(&run(&mut e, udp(40000), &request("INVITE", "sip:bob@example.com", "Proxy-Require: foo, bar\r\n")));
    assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"), "{text}");
    assert!(text.contains("Unsupported: foo, bar\r\n"), "{text}");
}

#[test]
fn unknown_scheme_gets_416() {
    let mut e = edge(0, 1);
    let (_, text) = answer(&run(&mut e, udp(40000), &request("INVITE", "mailto:bob@example.com", "")));
    assert!(text.starts_with("SIP/2.0 416 "), "{text}");
}

#[test]
fn malformed_but_answerable_gets_400_with_the_reason() {
    let mut e = edge(0, 1);
    let req = String::from_utf8(request("OPTIONS", "sip:127.0.0.1", ""))
        .unwrap()
        .replace("CSeq: 7 OPTIONS", "CSeq: 7 INVITE");
    let (_, text) = answer(&run(&mut e, udp(40000), req.as_bytes()));
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    assert_eq!(e.counters.wire.malformed.total(), 1);
}

#[test]
fn missing_headers_still_get_400_when_the_via_is_usable() {
    let mut e = edge(0, 1);
    let req = String::from_utf8(request("OPTIONS", "sip:127.0.0.1", "")).unwrap().replace("Call-ID: call-1\r\n", "");
    let (_, text) = answer(&run(&mut e, udp(40000), req.as_bytes()));
    assert!(text.starts_with("SIP/2.0 400 Missing Call-ID\r\n"), "{text}");
}

#[test]
fn repeated_single_headers_are_answered_with_one_of_each() {
    let mut e = edge(0, 1);
    let req = String::from_utf8(request("OPTIONS", "sip:127.0.0.1", ""))
        .unwrap()
        .replace("Call-ID: call-1\r\n", "Call-ID: call-1\r\nCall-ID: call-2\r\n");
    let (_, text) = answer(&run(&mut e, udp(40000), req.as_bytes()));
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    assert_eq!(text.matches("Call-ID:").count(), 1, "{text}");
}

#[test]
fn unanswerable_request_is_dropped_and_counted() {
    let mut e = edge(0, 1);
    let req = String::from_utf8(request("OPTIONS", "sip:127.0.0.1", ""))
        .unwrap()
        .replace("Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKabc;rport\r\n", "");
    assert!(run(&mut e, udp(40000), req.as_bytes()).is_empty());
    assert_eq!(e.counters.wire.drops.get(Drop::MalformedUnanswerable), 1);
}

#[test]
fn a_datagram_with_a_wrong_content_length_is_answered_400() {
    let mut e = edge(0, 1);
    let req = String::from_utf8(request("OPTIONS", "sip:127.0.0.1", ""))
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 50");
    let (_, text) = answer(&run(&mut e, udp(40000), req.as_bytes()));
    assert!(text.starts_with("SIP/2.0 400 content-length beyond datagram\r\n"), "{text}");
}

#[test]
fn bad_version_gets_505() {
    let mut e = edge(0, 1);
    let req =
        String::from_utf8(request("OPTIONS", "sip:127.0.0.1", "")).unwrap().replacen("SIP/2.0\r\n", "SIP/7.0\r\n", 1);
    let (_, text) = answer(&run(&mut e, udp(40000), req.as_bytes()));
    assert!(text.starts_with("SIP/2.0 505 "), "{text}");
}

#[test]
fn oversized_request_gets_513() {
    let mut e = edge(0, 1);
    let pad = format!("X-Pad: {}\r\n", "a".repeat(5000));
    let (_, text) = answer(&run(&mut e, udp(40000), &request("OPTIONS", "sip:127.0.0.1", &pad)));
    assert!(text.starts_with("SIP/2.0 513 "), "{text}");
}

#[test]
fn ack_is_never_answered() {
    let mut e = edge(0, 1);
    assert!(run(&mut e, udp(40000), &request("ACK", "sip:bob@example.com", "")).is_empty());
}

#[test]
fn garbage_is_dropped_and_counted_never_answered() {
    let mut e = edge(0, 1);
    for junk in [&b""[..], b"\0\0\0\0", b"hello world\r\n\r\n", b"SIP/2.0 200\r\n\r\n", b"\xff\xfe\r\n\r\n"] {
        assert!(run(&mut e, udp(40000), junk).is_empty());
    }
    assert_eq!(e.counters.wire.drops.total(), 5);
}

#[test]
fn stream_answers_go_to_the_flow_and_garbage_closes_it() {
    let mut e = edge(0, 1);
    let flow = FlowId { shard: 0, conn: 9 };
    let origin = Origin { transport: Transport::Tcp, flow: Some(flow), ..udp(40000) };
    let (dest, _) = answer(&run(&mut e, origin, &request("OPTIONS", "sip:127.0.0.1", "")));
    assert_eq!(dest, Dest::Flow(flow));
    // A bad start line with intact framing: dropped, the connection lives on.
    assert!(run(&mut e, origin, b"SIP/2.0 4294967301 Huge\r\nContent-Length: 0\r\n\r\n").is_empty());
    // Lost framing: the connection is closed.
    let req = String::from_utf8(request("OPTIONS", "sip:127.0.0.1", ""))
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: -1");
    let out = run(&mut e, origin, req.as_bytes());
    assert!(matches!(out.as_slice(), [Output::Close(f)] if *f == flow), "{out:?}");
}

fn response(branch: &str) -> Vec<u8> {
    format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

#[test]
fn responses_go_home_to_the_shard_in_their_branch() {
    let mut shards: Vec<Edge> = (0..4).map(|i| edge(i, 4)).collect();
    let mut branch = Vec::new();
    crate::core::owner::write_branch(2, 77, &mut branch);
    let bytes = response(std::str::from_utf8(&branch).unwrap());
    // Arrives on shard 0: handed to shard 2 over the mesh.
    let out = run(&mut shards[0], udp(5080), &bytes);
    let msg = match out.into_iter().next() {
        Some(Output::ToShard { shard: 2, msg }) => msg,
        o => panic!("expected a hop to shard 2, got {o:?}"),
    };
    assert_eq!(shards[0].counters.wire.mesh_sent, 1);
    let mut out = Vec::new();
    shards[2].handle((NOW) * 1000, Input::Mesh(msg), &mut out);
    assert!(out.is_empty());
    assert_eq!((shards[2].counters.wire.mesh_received, shards[2].counters.wire.responses_home), (1, 1));
    // Arrives on shard 2 directly: no hop.
    assert!(run(&mut shards[2], udp(5080), &bytes).is_empty());
    assert_eq!(shards[2].counters.wire.responses_home, 2);
}

#[test]
fn foreign_responses_are_dropped_not_answered() {
    let mut e = edge(0, 4);
    assert!(run(&mut e, udp(5080), &response("z9hG4bKforeign")).is_empty());
    assert_eq!(e.counters.wire.drops.get(Drop::ResponseNotOurs), 1);
    // A branch naming a shard that does not exist is not ours either.
    assert!(run(&mut e, udp(5080), &response("z9hG4bK-9-1")).is_empty());
    assert_eq!(e.counters.wire.drops.get(Drop::ResponseNotOurs), 2);
}

#[test]
fn the_clock_is_the_callers_plus_the_unix_offset_and_never_goes_back() {
    let cfg = edge(0, 1).cfg.clone();
    // The caller's clock reads 5 s; its zero was NOW - 5 s in unix time.
    let mut e = Edge::new(cfg, 5_000, NOW * 1000 - 5_000);
    assert_eq!(e.now, NOW, "inside, unix time");
    // Nothing scheduled: the next whole second (binding expiry, bans), on the caller's clock.
    assert_eq!(e.next_deadline(), 6_000);
    let mut out = Vec::new();
    e.tick(7_500, &mut out);
    assert_eq!(e.next_deadline(), 8_000);
    e.tick(7_000, &mut out);
    assert_eq!((e.now_ms, e.next_deadline()), (NOW * 1000 + 2_500, 8_000), "an earlier time is taken as the last one");
}

#[test]
fn the_ack_of_an_answer_the_edge_wrote_itself_is_taken_as_such() {
    let mut e = edge(0, 1);
    // An INVITE with a Route the edge does not allow from outside: 403, no transaction.
    let invite = request("INVITE", "sip:b@example.com", "Route: <sip:192.0.2.9;lr>\r\n");
    let (_, text) = answer(&run(&mut e, udp(5070), &invite));
    assert!(text.starts_with("SIP/2.0 403"), "{text}");
    let tag = text.split("\r\n").find(|l| l.starts_with("To:")).and_then(|l| l.split("tag=").nth(1)).unwrap();
    let ack = String::from_utf8(request("ACK", "sip:b@example.com", ""))
        .unwrap()
        .replace("To: <sip:b@example.com>", &format!("To: <sip:b@example.com>;tag={tag}"));
    assert!(run(&mut e, udp(5070), ack.as_bytes()).is_empty());
    assert_eq!(e.counters.wire.drops.get(crate::core::counters::Drop::AckOfOwnAnswer), 1);
    assert_eq!(e.counters.wire.drops.get(crate::core::counters::Drop::AckNotRoutable), 0);
}
