//! Golden input/output pairs for the proxy rewriting, byte for byte, and a
//! forward → respond → strip round trip over generated Via shapes.

use super::*;
use crate::core::owner::response_owner;
use crate::sip::{check_response, scan, write_response, Framing, HeaderName, Message};

fn hop() -> Hop<'static> {
    Hop {
        shard: 3,
        seq: 0x2a,
        transport: "UDP",
        host: b"203.0.113.1",
        port: 5060,
        in_transport: "UDP",
        in_host: b"203.0.113.1",
        in_port: 5060,
        record_route: true,
        source: None,
        force_rport: false,
    }
}

fn parse(b: &[u8]) -> Message<'_> {
    scan(b, Framing::Stream).expect("scan").complete().expect("complete")
}

fn fwd_with(input: &str, target: &str, path: &[&[u8]], hop: &Hop<'_>) -> Result<String, Refuse> {
    let m = parse(input.as_bytes());
    let mut out = Vec::new();
    forward_request(&m, target.as_bytes(), path, hop, &mut out)?;
    // The output is itself a well-framed message.
    assert!(scan(&out, Framing::Stream).unwrap().complete().is_some());
    Ok(String::from_utf8(out).unwrap())
}

fn fwd(input: &str) -> Result<String, Refuse> {
    fwd_with(input, "sip:bob@192.0.2.44:5062", &[], &Hop { record_route: false, ..hop() })
}

fn strip(input: &str) -> Result<String, &'static str> {
    let m = parse(input.as_bytes());
    let mut out = Vec::new();
    let r = strip_top_via(&m, b"203.0.113.1", 5060, &mut out);
    if r.is_err() {
        assert!(out.is_empty(), "nothing written on Err");
    }
    r.map(|_| String::from_utf8(out).unwrap())
}

const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 198.51.100.7\r\n\
s=-\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

#[test]
fn golden_invite_with_sdp() {
    let input = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds8;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5060>\r\n\
X-Trace:   a=1 ;\r\n  b=2  \r\n\
Supported: replaces,  timer\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 138\r\n\
\r\n{SDP}"
    );
    let out = fwd_with(&input, "sip:bob@192.0.2.44:5062;transport=udp", &[], &hop()).unwrap();
    let expected = format!(
        "INVITE sip:bob@192.0.2.44:5062;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK-3-2a;rport\r\n\
Record-Route: <sip:203.0.113.1:5060;transport=udp;lr>\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds8;rport\r\n\
Max-Forwards: 69\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5060>\r\n\
X-Trace:   a=1 ;\r\n  b=2  \r\n\
Supported: replaces,  timer\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 138\r\n\
\r\n{SDP}"
    );
    assert_eq!(out, expected);
    assert_eq!(SDP.len(), 138);
    // The branch routes responses home to shard 3.
    let m = parse(out.as_bytes());
    let mut resp = Vec::new();
    write_response(&m, None, 180, "Ringing", Some(b"t1"), None, &[], b"", &mut resp);
    assert_eq!(response_owner(&check_response(&parse(&resp)).unwrap().top_via), Some(3));
}

const SIMPLE: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Max-Forwards: 1\r\n\
Call-ID: x\r\n\
Content-Length: 0\r\n\r\n";

const HEAD: &str = "Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK-3-2a;rport\r\n";

#[test]
fn max_forwards() {
    assert_eq!(
        fwd(SIMPLE).unwrap(),
        format!(
            "OPTIONS sip:bob@192.0.2.44:5062 SIP/2.0\r\n{HEAD}\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Max-Forwards: 0\r\n\
Call-ID: x\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    assert_eq!(fwd(&SIMPLE.replace("Max-Forwards: 1", "Max-Forwards: 0")), Err(Refuse::TooManyHops));
    assert_eq!(Refuse::TooManyHops.code(), 483);
    assert_eq!(
        fwd(&SIMPLE.replace("Max-Forwards: 1\r\n", "")).unwrap(),
        format!(
            "OPTIONS sip:bob@192.0.2.44:5062 SIP/2.0\r\n{HEAD}\
Max-Forwards: 70\r\n\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Call-ID: x\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    // Compact-free odd spelling and spacing kept; only the digits change.
    assert!(fwd(&SIMPLE.replace("Max-Forwards: 1", "max-forwards :  255"))
        .unwrap()
        .contains("max-forwards :  254\r\n"));
    let bad = fwd(&SIMPLE.replace("Max-Forwards: 1", "Max-Forwards: x1"));
    assert_eq!(bad, Err(Refuse::BadRoute("Bad Max-Forwards")));
    assert_eq!(bad.unwrap_err().code(), 400);
}

fn with_routes(routes: &str, ruri: &str) -> String {
    format!(
        "BYE {ruri} SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
{routes}\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n"
    )
}

fn routes_of(out: &str) -> Vec<String> {
    let m = parse(out.as_bytes());
    m.values(HeaderName::Route).map(|(v, _)| String::from_utf8(v.to_vec()).unwrap()).collect()
}

#[test]
fn our_top_route_is_removed_with_or_without_lr() {
    for us in ["<sip:203.0.113.1:5060;transport=udp;lr>", "<sip:203.0.113.1>", "<SIP:203.0.113.1;lr>"] {
        let out =
            fwd(&with_routes(&format!("Route: {us}\r\nRoute: <sip:core.example.net;lr>\r\n"), "sip:bob@x")).unwrap();
        assert_eq!(
            out,
            format!(
                "BYE sip:bob@192.0.2.44:5062 SIP/2.0\r\n{HEAD}\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Route: <sip:core.example.net;lr>\r\n\
Max-Forwards: 69\r\n\
Content-Length: 0\r\n\r\n"
            ),
            "{us}"
        );
    }
    // First of a comma list: only that value goes, the rest of the line stays verbatim.
    let out =
        fwd(&with_routes("Route: <sip:203.0.113.1;lr>,  <sip:a.example;lr> ,<sip:b.example;lr>\r\n", "sip:bob@x"))
            .unwrap();
    assert!(out.contains("\r\nRoute: <sip:a.example;lr> ,<sip:b.example;lr>\r\n"), "{out}");
    // Another port on our host is not us.
    let out = fwd(&with_routes("Route: <sip:203.0.113.1:5080;lr>\r\n", "sip:bob@x")).unwrap();
    assert_eq!(routes_of(&out), ["<sip:203.0.113.1:5080;lr>"]);
}

#[test]
fn foreign_top_route_is_kept() {
    let input = with_routes("Route: <sip:core.example.net;lr>, <sip:203.0.113.1;lr>\r\n", "sip:bob@x");
    let out = fwd(&input).unwrap();
    assert!(out.contains("\r\nRoute: <sip:core.example.net;lr>, <sip:203.0.113.1;lr>\r\n"));
    let m = parse(input.as_bytes());
    let plan = route_plan(&m, &hop()).unwrap();
    assert_eq!(plan.popped, 0);
    assert_eq!(plan.next_route, Some(&b"<sip:core.example.net;lr>"[..]));
}

#[test]
fn both_halves_of_a_double_record_route_are_removed() {
    let h = Hop { in_transport: "TCP", in_host: b"10.0.0.1", in_port: 5070, record_route: false, ..hop() };
    let input = with_routes(
        "Route: <sip:10.0.0.1:5070;transport=tcp;lr>\r\nRoute: <sip:203.0.113.1:5060;transport=udp;lr>,<sip:core;lr>\r\n",
        "sip:bob@x",
    );
    let out = fwd_with(&input, "sip:bob@x", &[], &h).unwrap();
    assert_eq!(
        out,
        format!(
            "BYE sip:bob@x SIP/2.0\r\n{HEAD}\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Route: <sip:core;lr>\r\n\
Max-Forwards: 69\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
}

#[test]
fn strict_router_upstream_restores_the_request_uri() {
    // A strict router put our Record-Route URI into the Request-URI and the
    // remote target at the end of Route.
    let input = with_routes(
        "Route: <sip:core.example.net;lr>,\r\n <sip:bob@192.0.2.44:5062>\r\n",
        "sip:203.0.113.1:5060;transport=udp;lr",
    );
    let m = parse(input.as_bytes());
    let plan = route_plan(&m, &hop()).unwrap();
    assert_eq!(plan.request_uri, Some(&b"sip:bob@192.0.2.44:5062"[..]));
    assert_eq!(plan.next_route, Some(&b"<sip:core.example.net;lr>"[..]));
    let out = fwd_with(&input, "sip:ignored@nowhere", &[], &Hop { record_route: false, ..hop() }).unwrap();
    assert_eq!(
        out,
        format!(
            "BYE sip:bob@192.0.2.44:5062 SIP/2.0\r\n{HEAD}\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Route: <sip:core.example.net;lr>\r\n\
Max-Forwards: 69\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    // Only Route left is the remote target: the line goes.
    let input = with_routes("Route: <sip:bob@192.0.2.44:5062>\r\n", "sip:203.0.113.1;lr");
    let out = fwd(&input).unwrap();
    assert!(out.starts_with("BYE sip:bob@192.0.2.44:5062 SIP/2.0\r\n"));
    assert!(routes_of(&out).is_empty());
    // A request to a user of our host is not a strict-router case.
    let input = with_routes("Route: <sip:core;lr>\r\n", "sip:alice@203.0.113.1");
    let out = fwd(&input).unwrap();
    assert!(out.starts_with("BYE sip:bob@192.0.2.44:5062 SIP/2.0\r\n"));
    assert_eq!(routes_of(&out), ["<sip:core;lr>"]);
}

#[test]
fn bad_top_route_is_400() {
    let out = fwd(&with_routes("Route: <sip:a@b\r\n", "sip:bob@x"));
    assert_eq!(out, Err(Refuse::BadRoute("Bad Route header")));
}

#[test]
fn path_values_become_routes_before_existing_ones() {
    let input = with_routes("Route: <sip:core.example.net;lr>\r\n", "sip:bob@x");
    let path: [&[u8]; 2] = [b"<sip:pcscf1.example.net;lr>", b"<sip:pcscf2.example.net;lr;ob>"];
    let out = fwd_with(&input, "sip:bob@192.0.2.44:5062", &path, &Hop { record_route: false, ..hop() }).unwrap();
    assert_eq!(
        out,
        format!(
            "BYE sip:bob@192.0.2.44:5062 SIP/2.0\r\n{HEAD}\
Route: <sip:pcscf1.example.net;lr>\r\n\
Route: <sip:pcscf2.example.net;lr;ob>\r\n\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Route: <sip:core.example.net;lr>\r\n\
Max-Forwards: 69\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    assert_eq!(
        routes_of(&out),
        ["<sip:pcscf1.example.net;lr>", "<sip:pcscf2.example.net;lr;ob>", "<sip:core.example.net;lr>"]
    );
}

#[test]
fn record_route_single_or_double() {
    let same = fwd_with(SIMPLE, "sip:b@c", &[], &hop()).unwrap();
    let m = parse(same.as_bytes());
    assert_eq!(
        m.values(HeaderName::RecordRoute).map(|(v, _)| v).collect::<Vec<_>>(),
        [&b"<sip:203.0.113.1:5060;transport=udp;lr>"[..]]
    );
    // Inbound over TCP on the access side, outbound over UDP to the core.
    let h = Hop { in_transport: "TCP", ..hop() };
    let out = fwd_with(SIMPLE, "sip:b@c", &[], &h).unwrap();
    assert_eq!(
        out,
        format!(
            "OPTIONS sip:b@c SIP/2.0\r\n{HEAD}\
Record-Route: <sip:203.0.113.1:5060;transport=udp;lr>\r\n\
Record-Route: <sip:203.0.113.1:5060;transport=tcp;lr>\r\n\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
Max-Forwards: 0\r\n\
Call-ID: x\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    // Same transport, other interface: also doubled.
    let h = Hop { in_host: b"10.0.0.1", in_port: 5070, ..hop() };
    let out = fwd_with(SIMPLE, "sip:b@c", &[], &h).unwrap();
    assert!(out.contains(
        "Record-Route: <sip:203.0.113.1:5060;transport=udp;lr>\r\nRecord-Route: <sip:10.0.0.1:5070;transport=udp;lr>\r\n"
    ));
    // An existing Record-Route stays below ours.
    let input = SIMPLE.replace("Call-ID: x\r\n", "Record-Route: <sip:p0.example;lr>\r\nCall-ID: x\r\n");
    let out = fwd_with(&input, "sip:b@c", &[], &hop()).unwrap();
    let m = parse(out.as_bytes());
    assert_eq!(
        m.values(HeaderName::RecordRoute).map(|(v, _)| v).collect::<Vec<_>>(),
        [&b"<sip:203.0.113.1:5060;transport=udp;lr>"[..], b"<sip:p0.example;lr>"]
    );
}

#[test]
fn loop_detection() {
    let ours = |via: &str| SIMPLE.replace("Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n", via);
    // Our outbound sent-by with a shard branch, anywhere in the Via set.
    assert_eq!(
        fwd(&ours("Via: SIP/2.0/UDP p.example;branch=z9hG4bKx, SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK-0-7;rport=5060\r\n")),
        Err(Refuse::Loop)
    );
    // Port absent means 5060; host case-insensitive.
    let h = Hop { host: b"Edge.Example.com", ..hop() };
    let out = fwd_with(&ours("v: SIP/2.0/UDP edge.example.COM;branch=z9hG4bK-1f-99\r\n"), "sip:b@c", &[], &h);
    assert_eq!(out, Err(Refuse::Loop));
    // Our inbound listener counts too.
    let h = Hop { in_host: b"10.0.0.1", in_port: 5070, ..hop() };
    let out = fwd_with(&ours("Via: SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK-2-1\r\n"), "sip:b@c", &[], &h);
    assert_eq!(out, Err(Refuse::Loop));
    assert_eq!(Refuse::Loop.code(), 482);
    // Our host:port with a foreign branch, or a shard-style branch from elsewhere: forwarded.
    assert!(fwd(&ours("Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKabc\r\n")).is_ok());
    assert!(fwd(&ours("Via: SIP/2.0/UDP 203.0.113.1:5080;branch=z9hG4bK-3-1\r\n")).is_ok());
    assert!(fwd(&ours("Via: SIP/2.0/UDP 198.51.100.9;branch=z9hG4bK-3-1\r\n")).is_ok());
}

#[test]
fn responses_are_refused_by_forward() {
    let r = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(fwd(r), Err(Refuse::BadRoute("Not a request")));
}

// ---- strip_top_via -------------------------------------------------------

const TAIL: &str = "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nX-Odd:  kept \r\nContent-Length: 4\r\n\r\nbody";

#[test]
fn strip_via_alone_on_its_line() {
    let input = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK-3-2a;rport=5060;received=203.0.113.1\r\n\
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n{TAIL}"
    );
    assert_eq!(
        strip(&input).unwrap(),
        format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n{TAIL}")
    );
}

#[test]
fn strip_via_first_of_a_comma_list() {
    let input = format!(
        "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK-3-2a ,  SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1, SIP/2.0/TCP p;branch=z9hG4bK0\r\n{TAIL}"
    );
    assert_eq!(
        strip(&input).unwrap(),
        format!("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1, SIP/2.0/TCP p;branch=z9hG4bK0\r\n{TAIL}")
    );
}

#[test]
fn strip_compact_via() {
    let input = format!(
        "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bK-3-2a\r\nv:SIP/2.0/UDP h;branch=z9hG4bK1\r\n{TAIL}"
    );
    assert_eq!(strip(&input).unwrap(), format!("SIP/2.0 200 OK\r\nv:SIP/2.0/UDP h;branch=z9hG4bK1\r\n{TAIL}"));
    let input = format!("SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bK-3-2a,SIP/2.0/UDP h\r\n{TAIL}");
    assert_eq!(strip(&input).unwrap(), format!("SIP/2.0 200 OK\r\nv: SIP/2.0/UDP h\r\n{TAIL}"));
}

#[test]
fn strip_folded_via() {
    // Our value folded over two physical lines, alone on its header line.
    let input = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP\r\n 203.0.113.1:5060\r\n\t;branch=z9hG4bK-3-2a\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n{TAIL}"
    );
    assert_eq!(strip(&input).unwrap(), format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n{TAIL}"));
    // A list folded after the comma: the next value keeps its own bytes.
    let input = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bK-3-2a,\r\n SIP/2.0/UDP h;branch=z9hG4bK1,\r\n SIP/2.0/UDP i\r\n{TAIL}"
    );
    assert_eq!(
        strip(&input).unwrap(),
        format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1,\r\n SIP/2.0/UDP i\r\n{TAIL}")
    );
}

#[test]
fn strip_refuses_what_is_not_ours() {
    let resp = |vias: &str| format!("SIP/2.0 200 OK\r\n{vias}{TAIL}");
    assert_eq!(
        strip(&resp("Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP 203.0.113.1\r\n")),
        Err("top Via is not ours")
    );
    assert_eq!(
        strip(&resp("Via: SIP/2.0/UDP 203.0.113.1:5070;branch=z9hG4bK-3-1\r\nVia: SIP/2.0/UDP h\r\n")),
        Err("top Via is not ours")
    );
    assert_eq!(
        strip(&resp("Via: SIP/2.0/TLS 203.0.113.1;branch=z9hG4bK-3-1\r\nVia: SIP/2.0/UDP h\r\n")),
        Err("top Via is not ours")
    );
    assert_eq!(strip(&resp("Via: garbage\r\nVia: SIP/2.0/UDP h\r\n")), Err("top Via does not parse"));
    assert_eq!(strip(&resp("")), Err("no Via"));
    assert_eq!(
        strip(&resp("Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK-3-1\r\n")),
        Err("no Via left: the response is for this element")
    );
    assert_eq!(strip(SIMPLE), Err("not a response"));
    // IPv6 sent-by, brackets on one side only, case-insensitive.
    let m = parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP [2001:DB8::1]:5060;branch=z9hG4bK-0-1\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n");
    let mut out = Vec::new();
    strip_top_via(&m, b"2001:db8::1", 5060, &mut out).unwrap();
    assert_eq!(out, b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n");
}

// ---- round trip ----------------------------------------------------------

/// Via shapes a request may arrive with (each one or more header lines).
const VIA_SHAPES: &[&str] = &[
    "Via: SIP/2.0/UDP a.example:5060;branch=z9hG4bK1;rport\r\n",
    "v: SIP/2.0/TCP b.example;branch=z9hG4bK2, SIP/2.0/UDP c.example:5070;branch=z9hG4bK3;received=192.0.2.9\r\n",
    "Via: SIP/2.0/UDP d.example;branch=z9hG4bK4,\r\n SIP/2.0/UDP e.example;branch=z9hG4bK5\r\n",
    "VIA  :  SIP / 2.0 / UDP [2001:db8::7]:5062 ;branch=z9hG4bK6\r\n",
    "Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKforeign\r\n",
    "Via: SIP/2.0/TLS f.example;branch=z9hG4bK-0-1\r\n",
];

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn via_values(m: &Message<'_>) -> Vec<Vec<u8>> {
    m.values(HeaderName::Via).map(|(v, _)| v.to_vec()).collect()
}

#[test]
fn forward_respond_strip_gives_back_the_via_set() {
    let mut rng = Lcg(0x5eed);
    for case in 0..500 {
        let mut req = String::from("INVITE sip:alice@edge.example SIP/2.0\r\n");
        for _ in 0..1 + rng.next(3) {
            req.push_str(VIA_SHAPES[rng.next(VIA_SHAPES.len())]);
            if rng.next(3) == 0 {
                req.push_str("X-Between: 1\r\n");
            }
        }
        if rng.next(2) == 0 {
            req.push_str("Max-Forwards: 17\r\n");
        }
        if rng.next(3) == 0 {
            req.push_str("Route: <sip:203.0.113.1;lr>, <sip:core.example;lr>\r\n");
        }
        req.push_str("From: <sip:a@x>;tag=1\r\nTo: <sip:alice@edge.example>\r\nCall-ID: rt\r\nCSeq: 1 INVITE\r\nContent-Length: 3\r\n\r\nabc");
        let h = Hop {
            seq: case,
            shard: rng.next(16) as u16,
            transport: ["UDP", "TCP"][rng.next(2)],
            in_transport: ["UDP", "TCP"][rng.next(2)],
            record_route: rng.next(2) == 0,
            ..hop()
        };
        let path: &[&[u8]] = if rng.next(2) == 0 { &[b"<sip:pcscf;lr>"] } else { &[] };
        let original = parse(req.as_bytes());
        let mut fwd = Vec::new();
        forward_request(&original, b"sip:alice@192.0.2.44", path, &h, &mut fwd).unwrap();
        let forwarded = parse(&fwd);
        assert_eq!(forwarded.body(), b"abc");
        // Downstream answers; half the time it stamps received/rport on our Via.
        let stamp = if rng.next(2) == 0 { Some(("198.51.100.200".parse().unwrap(), 40000)) } else { None };
        let mut resp = Vec::new();
        write_response(&forwarded, None, 200, "OK", Some(b"totag"), stamp, &[], b"", &mut resp);
        let resp_msg = parse(&resp);
        assert_eq!(response_owner(&check_response(&resp_msg).unwrap().top_via), Some(h.shard));
        let mut up = Vec::new();
        strip_top_via(&resp_msg, h.host, h.port, &mut up).unwrap_or_else(|e| panic!("case {case}: {e}\n{req}"));
        let up = parse(&up);
        assert_eq!(via_values(&up), via_values(&original), "case {case}\n{req}");
    }
}

#[test]
fn the_senders_via_is_stamped_when_its_sent_by_is_not_where_it_came_from() {
    let input = "INVITE sip:bob@edge.example SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.1.1.1:5060;branch=z9hG4bKa;rport, SIP/2.0/UDP inner.example;branch=z9hG4bKb\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@edge.example>\r\nCall-ID: st\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let src: std::net::SocketAddr = "198.51.100.7:40123".parse().unwrap();
    let h = Hop { source: Some(src), record_route: false, ..hop() };
    let out = fwd_with(input, "sip:bob@192.0.2.44", &[], &h).unwrap();
    assert!(
        out.contains("Via: SIP/2.0/TCP 10.1.1.1:5060;branch=z9hG4bKa;rport=40123;received=198.51.100.7, SIP/2.0/UDP inner.example;branch=z9hG4bKb\r\n"),
        "{out}"
    );
    // Sent-by equal to the source, no rport: the Via goes on untouched.
    let same = input.replace("10.1.1.1:5060;branch=z9hG4bKa;rport", "198.51.100.7:40123;branch=z9hG4bKa");
    let out = fwd_with(&same, "sip:bob@192.0.2.44", &[], &h).unwrap();
    assert!(out.contains("Via: SIP/2.0/TCP 198.51.100.7:40123;branch=z9hG4bKa, SIP/2.0/UDP"), "{out}");
}
