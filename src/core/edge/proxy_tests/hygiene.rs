//! Message hygiene through the proxy (`[hygiene]`), on the virtual network
//! of `proxy_tests`: SDP codecs filtered both ways (a device's INVITE to the
//! core and the core's answers; the core's late offer to a phone, the
//! phone's 200 and the core's ACK), Content-Length fixed, header patterns
//! removed by direction, 488 for an offer with no codec left (its ACK
//! absorbed), and what is relayed unchanged (an answer with no codec left,
//! a multipart body), each counted.

use super::*;
use crate::core::proxy::hygiene::{Hygiene, SdpUnfiltered};
use crate::sip::sdp::CodecFilter;
use crate::sip::HeaderPatterns;

/// The config of `proxy_tests` with PCMU, PCMA and telephone-event allowed
/// and `X-Internal-*` removed both ways.
fn hygiene_config() -> EdgeConfig {
    let mut cfg = config();
    cfg.proxy.hygiene = Hygiene {
        codecs: CodecFilter::new(&["PCMU", "PCMA", "telephone-event"], &["audio"]),
        to_devices: HeaderPatterns::of(&["X-Internal-*"]),
        to_core: HeaderPatterns::of(&["X-Internal-*"]),
    };
    cfg
}

const SESSION: &str = "v=0\r\no=- 7 7 IN IP4 203.0.113.20\r\ns=-\r\nc=IN IP4 203.0.113.20\r\nt=0 0\r\n";

/// An audio section offering `pts` with their rtpmap lines (and G729's fmtp), then ptime.
fn audio(pts: &[u8]) -> String {
    let mut s = format!("m=audio 4000 RTP/AVP {}\r\n", pts.iter().map(u8::to_string).collect::<Vec<_>>().join(" "));
    for pt in pts {
        let name = match pt {
            0 => "PCMU/8000",
            8 => "PCMA/8000",
            18 => "G729/8000",
            101 => "telephone-event/8000",
            _ => unreachable!(),
        };
        s.push_str(&format!("a=rtpmap:{pt} {name}\r\n"));
        if *pt == 18 {
            s.push_str("a=fmtp:18 annexb=no\r\n");
        }
    }
    s + "a=ptime:20\r\n"
}

fn sdp(pts: &[u8]) -> String {
    format!("{SESSION}{}", audio(pts))
}

/// `bytes` (a message without a body) with `body`, Content-Length fixed.
fn with_body(bytes: &[u8], body: &str) -> Vec<u8> {
    let m = crate::sip::scan(bytes, Framing::Datagram).unwrap().complete().unwrap();
    super::super::hygiene::with_body(&m, body.as_bytes())
}

/// The message carries exactly `body`, and a Content-Length that says so.
fn assert_body(sent: &Sent, body: &str) {
    let m = sent.msg();
    assert_eq!(std::str::from_utf8(m.body()).unwrap(), body, "{}", sent.text());
    assert_eq!(sent.header(H::ContentLength), body.len().to_string(), "{}", sent.text());
}

const SDP_TYPE: (&str, &str) = ("Content-Type", "application/sdp");

#[test]
fn a_devices_offer_reaches_the_core_filtered_and_the_answers_reach_it_filtered_without_internal_headers() {
    let mut net = Net::new(hygiene_config());
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, "h1");
    let contact = format!("<sip:alice@{ALICE}>");
    let invite = call.request(
        "INVITE",
        CARRIER,
        "z9hG4bKh1",
        1,
        &[("Contact", &contact), SDP_TYPE, ("X-Internal-Billing", "forged"), ("X-Keep", "me")],
    );
    net.send(ALICE, &with_body(&invite, &sdp(&[0, 8, 18, 101])));
    let inv = trying_then_forwarded(&mut net, ALICE, UP_A);
    assert_body(&inv, &sdp(&[0, 8, 101]));
    assert!(!inv.text().contains("X-Internal"), "a device cannot hand the core internal headers: {}", inv.text());
    assert!(inv.text().contains("\r\nX-Keep: me\r\n"), "other unknown headers pass: {}", inv.text());
    net.quiet();

    // The core answers with G729 and internal headers: the device gets neither.
    let extra =
        [SDP_TYPE, ("X-Internal-Route", "trunk-7"), ("x-internal-cost", "3"), ("Contact", "<sip:core@10.0.1.1>")];
    net.send(UP_A, &with_body(&inv.reply(183, "up", &extra), &sdp(&[18, 0])));
    let progress = net.one(ALICE);
    assert_eq!(progress.status(), 183);
    assert_body(&progress, &sdp(&[0]));
    assert!(!progress.text().to_ascii_lowercase().contains("x-internal"), "{}", progress.text());
    net.send(UP_A, &with_body(&inv.reply(200, "up", &extra), &sdp(&[18, 0, 101])));
    let ok = net.one(ALICE);
    assert_eq!(ok.status(), 200);
    assert_body(&ok, &sdp(&[0, 101]));
    assert!(!ok.text().to_ascii_lowercase().contains("x-internal"), "{}", ok.text());
    assert_eq!(ok.values(H::Via).len(), 1);
    assert!(ok.header(H::Contact).contains("sip:core@10.0.1.1"), "everything else as it came: {}", ok.text());
    net.quiet();

    let c = net.counters();
    assert_eq!((c.proxy.sdp_codecs_removed, c.proxy.headers_removed, c.proxy.sdp_rejected), (3, 5, 0));
}

#[test]
fn a_late_offer_from_the_core_and_the_answer_in_the_ack_are_filtered_both_ways() {
    let mut net = Net::new(hygiene_config());
    let contact = "sip:bob@203.0.113.10:5062";
    net.register("bob", BOB_1, contact);
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "h2");
    let invite = call.request(
        "INVITE",
        "sip:bob@example.com",
        "z9hG4bKh2",
        1,
        &[("Contact", "<sip:ss@10.0.0.5>"), ("X-Internal-Account", "42")],
    );
    net.send(CORE, &invite);
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    assert!(!inv.text().contains("X-Internal"), "{}", inv.text());

    // The phone offers in its 200 (G729 first); the core sees only what it allows.
    let reply = inv.reply(200, "bob", &[SDP_TYPE, ("Contact", &format!("<{contact}>"))]);
    net.send(BOB_1, &with_body(&reply, &sdp(&[18, 8])));
    let ok = net.one(CORE);
    assert_body(&ok, &sdp(&[8]));

    // The core's answer travels in the ACK, end to end: filtered too.
    let target =
        String::from_utf8(parse_name_addr(ok.header(H::Contact).as_bytes()).unwrap().uri_raw.to_vec()).unwrap();
    let ack = call.in_dialog(&ok).request("ACK", &target, "z9hG4bKh2ack", 1, &[("Route", EDGE_RR), SDP_TYPE]);
    net.send(CORE, &with_body(&ack, &sdp(&[8, 18])));
    let ack = net.one(BOB_1);
    assert_eq!(ack.method(), "ACK");
    assert_body(&ack, &sdp(&[8]));
    net.quiet();
    assert_eq!((net.counters().proxy.sdp_codecs_removed, net.counters().proxy.headers_removed), (2, 1));
}

#[test]
fn an_offer_that_would_keep_no_codec_gets_488_and_its_ack_stays_at_the_edge() {
    let mut net = Net::new(hygiene_config());
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, "h3");
    let invite = with_body(&call.request("INVITE", CARRIER, "z9hG4bKh3", 1, &[SDP_TYPE]), &sdp(&[18, 101]));
    net.send(ALICE, &invite);
    let answers = net.take(ALICE);
    let codes: Vec<u16> = answers.iter().map(Sent::status).collect();
    assert_eq!(codes, [100, 488], "{:?}", answers.iter().map(Sent::text).collect::<Vec<_>>());
    assert!(answers[1].text().starts_with("SIP/2.0 488 Not Acceptable Here\r\n"));
    net.quiet(); // nothing went to the core

    // A retransmission gets the same 488; the ACK ends the transaction at the edge.
    net.send(ALICE, &invite);
    assert_eq!(net.one(ALICE).status(), 488);
    let to = answers[1].header(H::To);
    let ack = Call { to, ..call.clone() }.request("ACK", CARRIER, "z9hG4bKh3", 1, &[]);
    net.send(ALICE, &ack);
    net.advance(64 * T1);
    net.quiet();
    let c = net.counters();
    assert_eq!(
        (c.proxy.sdp_rejected, c.wire.sent(488), c.proxy.branches),
        (1, 2, 0),
        "one rejection, sent twice (the retransmission's answer)"
    );
}

#[test]
fn an_answer_with_no_codec_left_and_a_multipart_body_are_relayed_unchanged_and_counted() {
    let mut net = Net::new(hygiene_config());
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, "h4");
    let boundary = "--b1\r\nContent-Type: application/sdp\r\n\r\nm=audio 4000 RTP/AVP 18\r\n--b1--\r\n";
    let invite = call.request("INVITE", CARRIER, "z9hG4bKh4", 1, &[("Content-Type", "multipart/mixed;boundary=b1")]);
    net.send(ALICE, &with_body(&invite, boundary));
    let inv = trying_then_forwarded(&mut net, ALICE, UP_A);
    assert_body(&inv, boundary);
    net.send(UP_A, &with_body(&inv.reply(200, "up", &[SDP_TYPE]), &sdp(&[18])));
    let ok = net.one(ALICE);
    assert_body(&ok, &sdp(&[18]));
    net.quiet();
    let c = net.counters();
    assert_eq!(
        (
            c.proxy.sdp_unfiltered.get(SdpUnfiltered::Multipart),
            c.proxy.sdp_unfiltered.get(SdpUnfiltered::NoCodecLeft),
            c.proxy.sdp_codecs_removed
        ),
        (1, 1, 0)
    );
}
