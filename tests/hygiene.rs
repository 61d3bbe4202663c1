//! Message hygiene through the real binary, over UDP on loopback: a device
//! (127.0.0.1) calls through the edge to a core upstream (127.0.0.2, a raw
//! socket playing the softswitch). The INVITE reaches the core with the
//! codecs outside `hygiene.codecs` removed and a Content-Length that fits;
//! the core's 200 reaches the device filtered the same way and without its
//! `X-Internal-*` headers (the default `strip_to_devices`); an offer with no
//! allowed codec gets 488; the counters say so on `/metrics`.

mod common;
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const CORE_IP: &str = "127.0.0.2";

fn sdp(codecs: &[(u8, &str)]) -> String {
    let pts: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut s = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for (pt, name) in codecs {
        s.push_str(&format!("a=rtpmap:{pt} {name}\r\n"));
    }
    s + "a=sendrecv\r\n"
}

const PCMU: (u8, &str) = (0, "PCMU/8000");
const PCMA: (u8, &str) = (8, "PCMA/8000");
const G729: (u8, &str) = (18, "G729/8000");
const DTMF: (u8, &str) = (101, "telephone-event/8000");

fn recv(sock: &UdpSocket, what: &str) -> String {
    let mut buf = [0u8; 8192];
    let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("{what}: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The first value of header `name` (case-insensitive), if any.
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The body, asserting the Content-Length says how long it is.
fn body(msg: &str) -> &str {
    let (_, body) = msg.split_once("\r\n\r\n").expect("a header section");
    let len: usize = header(msg, "Content-Length").expect("Content-Length").parse().unwrap();
    assert_eq!(len, body.len(), "Content-Length of:\n{msg}");
    body
}

fn status(msg: &str) -> u16 {
    msg.get(8..11).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("not a response: {msg}"))
}

/// The core's answer to `request`: its Vias, From, To with a tag, Call-ID
/// and CSeq, then `extra` lines and `body`.
fn answer(request: &str, code: &str, extra: &[&str], body: &str) -> String {
    let mut out = format!("SIP/2.0 {code}\r\n");
    for line in request.split("\r\n\r\n").next().unwrap().lines().skip(1) {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" | "record-route" => out.push_str(&format!("{line}\r\n")),
            "to" => out.push_str(&format!("{line};tag=core1\r\n")),
            _ => {}
        }
    }
    for l in extra {
        out.push_str(&format!("{l}\r\n"));
    }
    out + &format!("Content-Length: {}\r\n\r\n{body}", body.len())
}

fn invite(device: SocketAddr, call_id: &str, body: &str) -> String {
    format!(
        "INVITE sip:callee@carrier.example SIP/2.0\r\nVia: SIP/2.0/UDP {device};branch=z9hG4bK{call_id};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@sipedge.test>;tag=a-{call_id}\r\nTo: <sip:callee@carrier.example>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{device}>\r\nX-Internal-Billing: forged\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn codecs_are_filtered_both_ways_internal_headers_kept_from_devices_and_an_offer_with_none_left_gets_488() {
    let core = UdpSocket::bind((CORE_IP, 0)).unwrap();
    let core_port = core.local_addr().unwrap().port();
    let config = format!(
        "[registrar]\ndomains = [\"sipedge.test\"]\n[auth]\nenabled = false\n\
         [proxy]\ntrusted = [\"{CORE_IP}\"]\nprobe_interval_secs = 0\n[[proxy.route]]\nupstreams = [{{ addr = \"{CORE_IP}:{core_port}\" }}]\n\
         [hygiene]\ncodecs = [\"PCMU\", \"pcma\", \"telephone-event\"]\n"
    );
    let edge = Edge::start(2, &config);
    let device = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&core, &device] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let me = device.local_addr().unwrap();

    // Device -> core: G729 goes, the rest of the offer is as sent.
    device.send_to(invite(me, "hyg-1", &sdp(&[PCMU, G729, PCMA, DTMF])).as_bytes(), edge.sip).unwrap();
    assert_eq!(status(&recv(&device, "100 to the first INVITE")), 100);
    let inv = recv(&core, "the INVITE at the core");
    assert!(inv.starts_with("INVITE sip:callee@carrier.example SIP/2.0\r\n"), "{inv}");
    assert_eq!(body(&inv), sdp(&[PCMU, PCMA, DTMF]));
    assert_eq!(header(&inv, "X-Internal-Billing"), Some("forged"), "strip_to_core is empty by default: {inv}");

    // Core -> device: its 200 offers G729 first and carries internal headers.
    let extra = [
        "Contact: <sip:ss@127.0.0.2>",
        "X-Internal-Route: trunk-7",
        "x-internal-cost: 3",
        "X-Other: kept",
        "Content-Type: application/sdp",
    ];
    core.send_to(answer(&inv, "200 OK", &extra, &sdp(&[G729, PCMU])).as_bytes(), edge.sip).unwrap();
    let ok = recv(&device, "the 200 at the device");
    assert_eq!(status(&ok), 200, "{ok}");
    assert_eq!(body(&ok), sdp(&[PCMU]));
    assert!(!ok.to_ascii_lowercase().contains("x-internal"), "{ok}");
    assert_eq!(header(&ok, "X-Other"), Some("kept"));

    // Nothing allowed: 488 from the edge, nothing to the core.
    device.send_to(invite(me, "hyg-2", &sdp(&[G729])).as_bytes(), edge.sip).unwrap();
    assert_eq!(status(&recv(&device, "100 to the second INVITE")), 100);
    let refused = recv(&device, "the 488");
    assert!(refused.starts_with("SIP/2.0 488 Not Acceptable Here\r\n"), "{refused}");
    core.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 2048];
    assert!(core.recv(&mut buf).is_err(), "the refused INVITE reached the core: {}", String::from_utf8_lossy(&buf));

    assert_eq!(edge.wait_metric("sipedge_sdp_rejected_total", &[], |v| v >= 1.0), 1.0);
    assert_eq!(edge.wait_metric("sipedge_sdp_codecs_removed_total", &[], |v| v >= 2.0), 2.0);
    assert_eq!(edge.wait_metric("sipedge_headers_removed_total", &[], |v| v >= 2.0), 2.0);
}
