//! The mid-registrar (`mid.rs`, `registrar::mid`) sans-IO: a device and
//! the core registrar played by hand on the virtual clock, with the core's
//! answers built from what the edge sent it.

use super::register_tests::{register_to, run_at, status, udp};
use super::tests::NOW;
use super::*;
use crate::core::proxy::route::RouteUpstream;
use crate::core::proxy::state::ProxyConfig;
use crate::core::registrar::mid::MidConfig;
use crate::core::registrar::{RegistrarConfig, Terms};
use crate::core::Transport;

const EDGE: &str = "192.0.2.1:5060";
const CORE: &str = "10.0.0.5:5060";

fn mid_edge(per_aor: bool) -> Edge {
    let registrar = RegistrarConfig {
        domains: vec![b"example.com".to_vec()],
        terms: Terms { default_expires: 3600, min_expires: 10, max_expires: 7200, max_contacts: 5, flow_timer: 120 },
        replace_oldest: false,
        mid: Some(MidConfig { device_expires: 60, upstream_expires: 3600, per_aor }),
    };
    let core =
        RouteUpstream { transport: Transport::Udp, addr: CORE.parse().unwrap(), name: None, weight: 1, tls_name: None };
    let cfg = EdgeConfig {
        shard: 0,
        shards: 1,
        local_hosts: local_hosts(EDGE.parse().unwrap(), ""),
        local_ports: vec![5060],
        max_message_bytes: 4096,
        protect: Default::default(),
        registrar,
        auth: None,
        listeners: vec![Listener::new(Transport::Udp, EDGE.parse().unwrap(), "")],
        proxy: ProxyConfig {
            registrar_upstreams: vec![core],
            trusted: vec![crate::core::net::Cidr { net: "10.0.0.0".parse().unwrap(), bits: 8 }],
            probe_interval_ms: 0,
            ..ProxyConfig::default()
        },
        cluster: None,
        profiles: Default::default(),
    };
    Edge::new(cfg, NOW * 1000, 0)
}

/// What was sent where, as text.
fn sent(out: &[Output]) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { dest: Dest::Udp { peer, .. }, bytes } => {
                Some((peer.to_string(), String::from_utf8_lossy(bytes).into_owned()))
            }
            _ => None,
        })
        .collect()
}

fn to(out: &[Output], addr: &str) -> Vec<String> {
    sent(out).into_iter().filter(|(p, _)| p == addr).map(|(_, t)| t).collect()
}

/// The core's answer to `req`: its Vias, From, To (tagged), Call-ID, CSeq, `extra` lines.
fn core_answer(req: &str, code: u16, extra: &str) -> Vec<u8> {
    let mut r = format!("SIP/2.0 {code} Whatever\r\n");
    for l in req.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
        let name = l.split(':').next().unwrap().trim().to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" => r.push_str(&format!("{l}\r\n")),
            "to" => r.push_str(&format!("{l};tag=core1\r\n")),
            _ => {}
        }
    }
    r.push_str(extra);
    r.push_str("Content-Length: 0\r\n\r\n");
    r.into_bytes()
}

fn from_core(e: &mut Edge, at_s: u64, bytes: &[u8]) -> Vec<Output> {
    let origin = Origin { transport: Transport::Udp, listener: 0, peer: CORE.parse().unwrap(), flow: None };
    run_at(e, at_s, origin, bytes)
}

fn header<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
        .collect()
}

fn reg(cseq: u32, contact: &str, extra: &str) -> Vec<u8> {
    register_to("bob", "example.com", "dev1", cseq, &format!("Contact: <{contact}>\r\n{extra}"))
}

/// Registers bob's device through the edge, the core accepting; the
/// REGISTER the core saw.
fn registered(e: &mut Edge, contact: &str) -> String {
    let out = run_at(e, NOW, udp(5070), &reg(1, contact, "Expires: 3600\r\n"));
    let up = to(&out, CORE);
    assert_eq!(up.len(), 1, "a new binding goes to the core: {out:?}");
    let ok = from_core(e, NOW, &core_answer(&up[0], 200, ""));
    let dev = to(&ok, "10.0.0.1:5070");
    assert_eq!(status(&dev[0]), 200, "{}", dev[0]);
    up[0].clone()
}

#[test]
fn a_new_device_is_forwarded_with_the_edges_contact_and_gets_the_short_expiry() {
    let mut e = mid_edge(false);
    let out = run_at(&mut e, NOW, udp(5070), &reg(1, "sip:bob@10.0.0.1:5070", "Expires: 3600\r\n"));
    let up = to(&out, CORE);
    assert_eq!(up.len(), 1);
    let contact = header(&up[0], "Contact");
    assert_eq!(contact.len(), 1, "{}", up[0]);
    assert!(contact[0].starts_with("<sip:bob@192.0.2.1:5060;md=example.com;mr="), "{}", contact[0]);
    assert!(contact[0].ends_with(">;expires=3600"), "{}", contact[0]);
    assert!(header(&up[0], "Expires").is_empty(), "the contact's own expires says it");
    assert!(to(&out, "10.0.0.1:5070").is_empty(), "the device waits for the core");
    let ok = from_core(&mut e, NOW, &core_answer(&up[0], 200, &format!("Contact: {};expires=3600\r\n", contact[0])));
    let dev = to(&ok, "10.0.0.1:5070");
    assert_eq!(status(&dev[0]), 200);
    assert_eq!(header(&dev[0], "Contact"), ["<sip:bob@10.0.0.1:5070>;expires=60"], "{}", dev[0]);
    assert_eq!(e.registrations(b"sip:bob@example.com").len(), 1);
    assert_eq!((e.counters.mid.forwarded, e.counters.mid.accepted), (1, 1));
}

#[test]
fn a_refresh_that_changes_nothing_is_answered_by_the_edge() {
    let mut e = mid_edge(false);
    registered(&mut e, "sip:bob@10.0.0.1:5070");
    let out = run_at(&mut e, NOW + 50, udp(5070), &reg(2, "sip:bob@10.0.0.1:5070", "Expires: 60\r\n"));
    assert!(to(&out, CORE).is_empty(), "absorbed: {out:?}");
    let dev = to(&out, "10.0.0.1:5070");
    assert_eq!(status(&dev[0]), 200);
    assert_eq!(e.counters.mid.absorbed, 1);
    // Near the end of the core's registration (3600 s, minus the device's 60 and a jitter < 60): forwarded.
    let out = run_at(&mut e, NOW + 3600 - 121, udp(5070), &reg(3, "sip:bob@10.0.0.1:5070", "Expires: 60\r\n"));
    assert_eq!(to(&out, CORE).len(), 1, "the core's registration is refreshed in time");
}

#[test]
fn a_challenge_or_refusal_from_the_core_reaches_the_device_and_nothing_is_stored() {
    for (code, extra) in [(401, "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\"\r\n"), (403, "")] {
        let mut e = mid_edge(false);
        let out = run_at(&mut e, NOW, udp(5070), &reg(1, "sip:bob@10.0.0.1:5070", ""));
        let up = to(&out, CORE);
        let back = from_core(&mut e, NOW, &core_answer(&up[0], code, extra));
        let dev = to(&back, "10.0.0.1:5070");
        assert_eq!(status(&dev[0]), code, "{}", dev[0]);
        if code == 401 {
            assert!(dev[0].contains("nonce=\"n1\""), "the core's challenge as it is: {}", dev[0]);
        }
        assert!(e.registrations(b"sip:bob@example.com").is_empty());
        // The device's retry (its credentials) is forwarded again, never absorbed.
        let retry = run_at(&mut e, NOW, udp(5070), &reg(2, "sip:bob@10.0.0.1:5070", "Authorization: Digest x\r\n"));
        assert_eq!(to(&retry, CORE).len(), 1, "{code}");
    }
}

#[test]
fn a_device_that_goes_silent_is_deregistered_upstream_once() {
    let mut e = mid_edge(false);
    let up = registered(&mut e, "sip:bob@10.0.0.1:5070");
    let edge_contact = header(&up, "Contact")[0].split(";expires").next().unwrap().to_string();
    let mut dereg = Vec::new();
    for s in 1..=70 {
        let mut out = Vec::new();
        e.tick((NOW + s) * 1000, &mut out);
        dereg.extend(to(&out, CORE));
    }
    assert_eq!(dereg.len(), 1, "{dereg:?}");
    assert_eq!(header(&dereg[0], "Contact"), [format!("{edge_contact};expires=0")]);
    assert_eq!(e.counters.mid.deregistrations, 1);
    // Its answer is taken, not counted as a stray.
    let drops = e.counters.wire.drops.total();
    from_core(&mut e, NOW + 70, &core_answer(&dereg[0], 200, ""));
    assert_eq!(e.counters.wire.drops.total(), drops);
}

#[test]
fn a_call_from_the_core_to_the_edges_contact_reaches_the_device() {
    let mut e = mid_edge(false);
    let up = registered(&mut e, "sip:bob@10.0.0.1:5070");
    let edge_uri = header(&up, "Contact")[0].trim_start_matches('<').split('>').next().unwrap().to_string();
    let invite = format!(
        "INVITE {edge_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {CORE};branch=z9hG4bKcore1\r\nMax-Forwards: 70\r\nFrom: <sip:carol@example.com>;tag=c1\r\nTo: <sip:bob@example.com>\r\nCall-ID: call1\r\nCSeq: 1 INVITE\r\nContact: <sip:carol@{CORE}>\r\nContent-Length: 0\r\n\r\n"
    );
    let out = from_core(&mut e, NOW + 1, invite.as_bytes());
    let dev = to(&out, "10.0.0.1:5070");
    assert_eq!(dev.len(), 1, "{out:?}");
    assert!(dev[0].starts_with("INVITE sip:bob@10.0.0.1:5070 SIP/2.0"), "{}", dev[0]);
}

#[test]
fn per_aor_one_upstream_registration_and_calls_fork_to_every_device() {
    let mut e = mid_edge(true);
    let up = registered(&mut e, "sip:bob@10.0.0.1:5070");
    // A second device of bob: new, so the core sees it (same edge contact).
    let second = register_to("bob", "example.com", "dev2", 1, "Contact: <sip:bob@10.0.0.2:5080>\r\n");
    let origin2 = Origin { transport: Transport::Udp, listener: 0, peer: "10.0.0.2:5080".parse().unwrap(), flow: None };
    let out = run_at(&mut e, NOW, origin2, &second);
    let up2 = to(&out, CORE);
    assert_eq!(header(&up2[0], "Contact"), header(&up, "Contact"), "one contact for the AOR");
    from_core(&mut e, NOW, &core_answer(&up2[0], 200, ""));
    let edge_uri = header(&up, "Contact")[0].trim_start_matches('<').split('>').next().unwrap().to_string();
    let invite = format!(
        "INVITE {edge_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {CORE};branch=z9hG4bKcore2\r\nMax-Forwards: 70\r\nFrom: <sip:carol@example.com>;tag=c1\r\nTo: <sip:bob@example.com>\r\nCall-ID: call2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    let out = from_core(&mut e, NOW + 1, invite.as_bytes());
    assert_eq!((to(&out, "10.0.0.1:5070").len(), to(&out, "10.0.0.2:5080").len()), (1, 1), "forked: {out:?}");
}

#[test]
fn with_the_core_down_a_known_device_is_kept_and_a_new_one_is_not() {
    let mut e = mid_edge(false);
    registered(&mut e, "sip:bob@10.0.0.1:5070");
    // The device refreshes every 50 s (absorbed) until the core's registration nears its end.
    let mut cseq = 2;
    for t in (50..3500).step_by(50) {
        let out = run_at(&mut e, NOW + t, udp(5070), &reg(cseq, "sip:bob@10.0.0.1:5070", "Expires: 60\r\n"));
        cseq += 1;
        if !to(&out, CORE).is_empty() {
            break;
        }
    }
    // Forwarded near the end upstream, and the core answers 503.
    let out = run_at(&mut e, NOW + 3500, udp(5070), &reg(cseq, "sip:bob@10.0.0.1:5070", "Expires: 60\r\n"));
    let up = to(&out, CORE);
    let back = from_core(&mut e, NOW + 3500, &core_answer(&up[0], 503, ""));
    assert_eq!(status(&to(&back, "10.0.0.1:5070")[0]), 200, "its registration upstream still runs");
    // A new device while the core is down: the core's failure.
    let new = register_to("ann", "example.com", "ann1", 1, "Contact: <sip:ann@10.0.0.1:5071>\r\n");
    let out = run_at(&mut e, NOW + 3500, udp(5071), &new);
    let up = to(&out, CORE);
    let back = from_core(&mut e, NOW + 3500, &core_answer(&up[0], 503, ""));
    assert_eq!(status(&to(&back, "10.0.0.1:5071")[0]), 503);
    assert!(e.registrations(b"sip:ann@example.com").is_empty());
    assert_eq!(e.counters.mid.core_failures, 2);
}
