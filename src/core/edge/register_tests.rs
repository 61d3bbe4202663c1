//! Registrar rules (RFC 3261 §10.3, RFC 3327, RFC 5626, RFC 7616), driven
//! sans-IO: REGISTER bytes in, outputs checked, a virtual clock, several
//! `Edge`s as shards with `Output::ToShard` messages delivered by hand.

use super::tests::NOW;
use super::*;
use crate::core::auth::{Algorithm, AuthFailure, Users};
use crate::core::counters::RegisterResult;
use crate::core::location::Binding;
use crate::core::registrar::{RegistrarConfig, Terms};
use crate::core::{Answer, Ask, FlowId, Origin, Transport};
use std::sync::Arc;

const DOMAIN: &str = "example.com";
const ALICE: &str = "sip:alice@example.com";

pub(super) fn reg_cfg() -> RegistrarConfig {
    RegistrarConfig {
        domains: vec![DOMAIN.as_bytes().to_vec()],
        terms: Terms { default_expires: 3600, min_expires: 60, max_expires: 7200, max_contacts: 3, flow_timer: 120 },
        replace_oldest: false,
        mid: None,
    }
}

pub(super) fn edge_with(shard: u16, shards: u16, registrar: RegistrarConfig, auth: Option<AuthConfig>) -> Edge {
    Edge::new(
        EdgeConfig {
            shard,
            shards,
            local_hosts: local_hosts("127.0.0.1:5060".parse().unwrap(), "edge.example.com"),
            local_ports: vec![5060],
            max_message_bytes: 4096,
            protect: Default::default(),
            registrar,
            auth,
            listeners: vec![Listener::new(Transport::Udp, "127.0.0.1:5060".parse().unwrap(), "")],
            proxy: Default::default(),
            cluster: None,
            profiles: Default::default(),
        },
        NOW * 1000,
        0,
    )
}

fn edge() -> Edge {
    edge_with(0, 1, reg_cfg(), None)
}

pub(super) fn udp(port: u16) -> Origin {
    Origin { transport: Transport::Udp, listener: 0, peer: format!("10.0.0.1:{port}").parse().unwrap(), flow: None }
}

fn tcp(port: u16, conn: u32) -> Origin {
    Origin {
        transport: Transport::Tcp,
        listener: 0,
        peer: format!("10.0.0.1:{port}").parse().unwrap(),
        flow: Some(FlowId { shard: 0, conn }),
    }
}

/// A REGISTER for `user@domain` (R-URI `sip:domain`), with `extra` header lines.
pub(super) fn register_to(user: &str, domain: &str, call_id: &str, cseq: u32, extra: &str) -> Vec<u8> {
    format!(
        "REGISTER sip:{domain} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK{call_id}x{cseq};rport\r\nFrom: <sip:{user}@{domain}>;tag=f1\r\nTo: <sip:{user}@{domain}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A REGISTER for alice@example.com.
fn register(call_id: &str, cseq: u32, extra: &str) -> Vec<u8> {
    register_to("alice", DOMAIN, call_id, cseq, extra)
}

pub(super) fn run_at(e: &mut Edge, now: u64, origin: Origin, bytes: &[u8]) -> Vec<Output> {
    let mut out = Vec::new();
    e.handle((now) * 1000, Input::Packet(Packet { origin, bytes }), &mut out);
    out
}

/// The single response an input produced, as text.
pub(super) fn answer(out: &[Output]) -> String {
    assert_eq!(out.len(), 1, "{out:?}");
    match &out[0] {
        Output::Send { bytes, .. } => String::from_utf8(bytes.clone()).unwrap(),
        o => panic!("expected a send, got {o:?}"),
    }
}

/// Sends one request at `now` on a single-shard edge and returns the answer.
fn send(e: &mut Edge, now: u64, origin: Origin, bytes: &[u8]) -> String {
    answer(&run_at(e, now, origin, bytes))
}

pub(super) fn status(text: &str) -> u16 {
    text.strip_prefix("SIP/2.0 ")
        .and_then(|s| s.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"))
}

fn status_line(text: &str) -> &str {
    text.split("\r\n").next().unwrap()
}

/// Values of every header named `name` (case-insensitive), in order.
pub(super) fn headers<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

fn header_names(text: &str) -> Vec<String> {
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, _)| n.trim().to_ascii_lowercase())
        .collect()
}

fn contacts(e: &Edge, aor: &str) -> Vec<String> {
    e.registrations(aor.as_bytes()).iter().map(|b| String::from_utf8(b.contact().to_vec()).unwrap()).collect()
}

fn binding<'a>(e: &'a Edge, aor: &str, contact: &str) -> &'a Binding {
    e.registrations(aor.as_bytes())
        .iter()
        .find(|b| b.contact() == contact.as_bytes())
        .unwrap_or_else(|| panic!("no binding {contact} in {:?}", contacts(e, aor)))
}

// ---------------------------------------------------------------- domain

#[test]
fn foreign_domain_is_403_and_nothing_is_stored() {
    let mut e = edge();
    let req = register_to("alice", "other.net", "d1", 1, "Contact: <sip:alice@10.0.0.1:5070>\r\n");
    let text = send(&mut e, NOW, udp(5070), &req);
    assert_eq!(status_line(&text), "SIP/2.0 403 Domain not served", "{text}");
    assert!(headers(&text, "Contact").is_empty(), "{text}");
    assert!(e.registrations(b"sip:alice@other.net").is_empty());
    assert_eq!(e.registrations_active(), 0);
    assert_eq!(e.counters.registrar.results.get(RegisterResult::Forbidden), 1);
}

#[test]
fn served_request_uri_but_foreign_to_domain_is_403() {
    let mut e = edge();
    let req = String::from_utf8(register_to("alice", "other.net", "d2", 1, "Contact: <sip:alice@10.0.0.1:5070>\r\n"))
        .unwrap()
        .replacen("REGISTER sip:other.net ", "REGISTER sip:example.com ", 1);
    let text = send(&mut e, NOW, udp(5070), req.as_bytes());
    assert_eq!(status(&text), 403, "{text}");
    assert!(e.registrations(b"sip:alice@other.net").is_empty());
    assert_eq!(e.registrations_active(), 0);
}

// ---------------------------------------------------------------- add / refresh / remove

#[test]
fn add_refresh_and_remove_a_binding() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    let text = send(&mut e, NOW, udp(5070), &register("a1", 1, &format!("Contact: <{c}>;expires=600\r\n")));
    assert_eq!(status_line(&text), "SIP/2.0 200 OK", "{text}");
    assert_eq!(headers(&text, "Contact"), vec![format!("<{c}>;expires=600")], "{text}");
    assert_eq!(headers(&text, "Date"), vec!["Thu, 26 Nov 2026 06:30:00 GMT"], "{text}");
    assert_eq!(binding(&e, ALICE, c).expires_at(), NOW + 600);
    assert_eq!(binding(&e, ALICE, c).cseq(), 1);

    // Refresh 100 s later with a new interval.
    let text = send(&mut e, NOW + 100, udp(5070), &register("a1", 2, &format!("Contact: <{c}>;expires=900\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Contact"), vec![format!("<{c}>;expires=900")], "{text}");
    assert_eq!(headers(&text, "Date"), vec!["Thu, 26 Nov 2026 06:31:40 GMT"], "{text}");
    assert_eq!(contacts(&e, ALICE), vec![c]);
    assert_eq!(binding(&e, ALICE, c).expires_at(), NOW + 1000);

    // Remove.
    let text = send(&mut e, NOW + 200, udp(5070), &register("a1", 3, &format!("Contact: <{c}>;expires=0\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert!(headers(&text, "Contact").is_empty(), "{text}");
    assert_eq!(headers(&text, "Date").len(), 1, "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
    assert_eq!(e.registrations_active(), 0);
}

#[test]
fn removal_by_expires_header_zero() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    send(&mut e, NOW, udp(5070), &register("a2", 1, &format!("Contact: <{c}>\r\n")));
    assert_eq!(contacts(&e, ALICE), vec![c]);
    let text = send(&mut e, NOW + 1, udp(5070), &register("a2", 2, &format!("Contact: <{c}>\r\nExpires: 0\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert!(headers(&text, "Contact").is_empty(), "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
}

#[test]
fn expires_param_beats_header_beats_default() {
    let mut e = edge();
    let (c1, c2, c3) = ("sip:alice@10.0.0.1:5071", "sip:alice@10.0.0.1:5072", "sip:alice@10.0.0.1:5073");
    let text = send(
        &mut e,
        NOW,
        udp(5070),
        &register("e1", 1, &format!("Contact: <{c1}>;expires=120, <{c2}>\r\nExpires: 300\r\n")),
    );
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Contact"), vec![format!("<{c1}>;expires=120"), format!("<{c2}>;expires=300")], "{text}");
    assert_eq!(binding(&e, ALICE, c1).expires_at(), NOW + 120);
    assert_eq!(binding(&e, ALICE, c2).expires_at(), NOW + 300);
    // No param, no header: the default (3600).
    let text = send(&mut e, NOW + 10, udp(5070), &register("e1", 2, &format!("Contact: <{c3}>\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(binding(&e, ALICE, c3).expires_at(), NOW + 10 + 3600);
    // The 200 lists every binding with what is left of it.
    assert_eq!(
        headers(&text, "Contact"),
        vec![format!("<{c1}>;expires=110"), format!("<{c2}>;expires=290"), format!("<{c3}>;expires=3600")],
        "{text}"
    );
}

#[test]
fn a_query_lists_every_binding_with_remaining_expires() {
    let mut e = edge();
    let (c1, c2) = ("sip:alice@10.0.0.1:5071", "sip:alice@10.0.0.1:5072");
    send(&mut e, NOW, udp(5070), &register("q1", 1, &format!("Contact: <{c1}>;expires=600\r\n")));
    send(&mut e, NOW + 50, udp(5070), &register("q2", 1, &format!("Contact: <{c2}>;expires=600\r\n")));
    let text = send(&mut e, NOW + 100, udp(5070), &register("q3", 1, ""));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Contact"), vec![format!("<{c1}>;expires=500"), format!("<{c2}>;expires=550")], "{text}");
    assert_eq!(headers(&text, "Date"), vec!["Thu, 26 Nov 2026 06:31:40 GMT"], "{text}");
}

#[test]
fn below_min_expires_is_423_with_min_expires() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    let text = send(&mut e, NOW, udp(5070), &register("m1", 1, &format!("Contact: <{c}>;expires=30\r\n")));
    assert_eq!(status_line(&text), "SIP/2.0 423 Interval Too Brief", "{text}");
    assert_eq!(headers(&text, "Min-Expires"), vec!["60"], "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
    // Same through the Expires header.
    let text = send(&mut e, NOW, udp(5070), &register("m1", 2, &format!("Contact: <{c}>\r\nExpires: 59\r\n")));
    assert_eq!(status(&text), 423, "{text}");
    assert_eq!(headers(&text, "Min-Expires"), vec!["60"], "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
    // Exactly the minimum is fine.
    let text = send(&mut e, NOW, udp(5070), &register("m1", 3, &format!("Contact: <{c}>;expires=60\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(e.counters.registrar.results.get(RegisterResult::IntervalTooBrief), 2);
}

#[test]
fn above_max_expires_is_clamped() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    let text = send(&mut e, NOW, udp(5070), &register("x1", 1, &format!("Contact: <{c}>;expires=100000\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Contact"), vec![format!("<{c}>;expires=7200")], "{text}");
    assert_eq!(binding(&e, ALICE, c).expires_at(), NOW + 7200);
}

// ---------------------------------------------------------------- wildcard

fn two_bindings(e: &mut Edge) {
    let text = send(
        e,
        NOW,
        udp(5070),
        &register("w1", 1, "Contact: <sip:alice@10.0.0.1:5071>, <sip:alice@10.0.0.1:5072>\r\n"),
    );
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(e.registrations(ALICE.as_bytes()).len(), 2);
}

#[test]
fn wildcard_with_expires_zero_removes_all() {
    let mut e = edge();
    two_bindings(&mut e);
    let text = send(&mut e, NOW + 1, udp(5070), &register("w1", 2, "Contact: *\r\nExpires: 0\r\n"));
    assert_eq!(status_line(&text), "SIP/2.0 200 OK", "{text}");
    assert!(headers(&text, "Contact").is_empty(), "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
    assert_eq!(e.registrations_active(), 0);
}

#[test]
fn wildcard_with_other_contacts_is_400() {
    let mut e = edge();
    two_bindings(&mut e);
    for extra in [
        "Contact: *, <sip:alice@10.0.0.1:5073>\r\nExpires: 0\r\n",
        "Contact: *\r\nContact: <sip:alice@10.0.0.1:5073>\r\nExpires: 0\r\n",
    ] {
        let text = send(&mut e, NOW + 1, udp(5070), &register("w1", 2, extra));
        assert_eq!(status_line(&text), "SIP/2.0 400 Invalid wildcard Contact", "{text}");
        assert_eq!(e.registrations(ALICE.as_bytes()).len(), 2);
    }
}

#[test]
fn wildcard_without_expires_zero_is_400() {
    let mut e = edge();
    two_bindings(&mut e);
    for extra in ["Contact: *\r\n", "Contact: *\r\nExpires: 3600\r\n", "Contact: *;expires=0\r\n"] {
        let text = send(&mut e, NOW + 1, udp(5070), &register("w1", 2, extra));
        assert_eq!(status(&text), 400, "{extra}: {text}");
        assert_eq!(e.registrations(ALICE.as_bytes()).len(), 2);
    }
}

#[test]
fn wildcard_with_an_older_cseq_on_the_same_call_id_is_500() {
    let mut e = edge();
    let text = send(&mut e, NOW, udp(5070), &register("w2", 5, "Contact: <sip:alice@10.0.0.1:5071>\r\n"));
    assert_eq!(status(&text), 200, "{text}");
    let text = send(&mut e, NOW + 1, udp(5070), &register("w2", 4, "Contact: *\r\nExpires: 0\r\n"));
    assert_eq!(status(&text), 500, "{text}");
    assert_eq!(e.registrations(ALICE.as_bytes()).len(), 1);
}

// ---------------------------------------------------------------- Call-ID / CSeq

#[test]
fn lower_cseq_on_the_same_call_id_is_500_and_changes_nothing() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    send(&mut e, NOW, udp(5070), &register("c1", 5, &format!("Contact: <{c}>;expires=600\r\n")));
    for expires in [0, 1200] {
        let text =
            send(&mut e, NOW + 10, udp(5070), &register("c1", 4, &format!("Contact: <{c}>;expires={expires}\r\n")));
        assert_eq!(status_line(&text), "SIP/2.0 500 Out of order CSeq", "{text}");
        let b = binding(&e, ALICE, c);
        assert_eq!((b.cseq(), b.expires_at()), (5, NOW + 600));
    }
    assert_eq!(e.counters.registrar.results.get(RegisterResult::ServerError), 2);
}

#[test]
fn equal_cseq_is_a_retransmission_answered_200_unchanged() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    let req = register("c2", 5, &format!("Contact: <{c}>;expires=600\r\n"));
    send(&mut e, NOW, udp(5070), &req);
    let text = send(&mut e, NOW + 10, udp(5070), &req);
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Contact"), vec![format!("<{c}>;expires=590")], "{text}");
    let b = binding(&e, ALICE, c);
    assert_eq!((b.cseq(), b.expires_at(), b.updated()), (5, NOW + 600, NOW));
    // A removal with the same CSeq is not applied either.
    let text = send(&mut e, NOW + 11, udp(5070), &register("c2", 5, &format!("Contact: <{c}>;expires=0\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(binding(&e, ALICE, c).expires_at(), NOW + 600);
}

#[test]
fn a_lower_cseq_on_another_call_id_updates() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    send(&mut e, NOW, udp(5070), &register("c3", 5, &format!("Contact: <{c}>;expires=600\r\n")));
    let text =
        send(&mut e, NOW + 10, udp(5070), &register("c3-reboot", 1, &format!("Contact: <{c}>;expires=1200\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    let b = binding(&e, ALICE, c);
    assert_eq!((b.call_id(), b.cseq(), b.expires_at()), (&b"c3-reboot"[..], 1, NOW + 1210));
}

// ---------------------------------------------------------------- q

#[test]
fn q_values_are_kept() {
    let mut e = edge();
    let (c1, c2) = ("sip:alice@10.0.0.1:5071", "sip:alice@10.0.0.1:5072");
    let text = send(
        &mut e,
        NOW,
        udp(5070),
        &register("qv", 1, &format!("Contact: <{c1}>;q=0.5;expires=600, <{c2}>;expires=600\r\n")),
    );
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(
        headers(&text, "Contact"),
        vec![format!("<{c1}>;expires=600;q=0.5"), format!("<{c2}>;expires=600")],
        "{text}"
    );
    assert_eq!(binding(&e, ALICE, c1).q(), 500);
    assert_eq!(binding(&e, ALICE, c2).q(), 1000);
}

#[test]
fn bad_q_is_400() {
    let mut e = edge();
    let text = send(&mut e, NOW, udp(5070), &register("qb", 1, "Contact: <sip:alice@10.0.0.1:5071>;q=1.5\r\n"));
    assert_eq!(status(&text), 400, "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
}

// ---------------------------------------------------------------- max_contacts

fn contact_n(i: u16) -> String {
    format!("sip:alice@10.0.0.1:{}", 5100 + i)
}

#[test]
fn over_max_contacts_is_403() {
    let mut e = edge(); // max_contacts = 3
    for i in 0..3 {
        let text = send(
            &mut e,
            NOW + i as u64,
            udp(5070),
            &register(&format!("mc{i}"), 1, &format!("Contact: <{}>\r\n", contact_n(i))),
        );
        assert_eq!(status(&text), 200, "{text}");
    }
    let text = send(&mut e, NOW + 3, udp(5070), &register("mc3", 1, &format!("Contact: <{}>\r\n", contact_n(3))));
    assert_eq!(status_line(&text), "SIP/2.0 403 Too many registered contacts", "{text}");
    assert_eq!(contacts(&e, ALICE), (0..3).map(contact_n).collect::<Vec<_>>());
    // Refreshing an existing one is still fine at the limit.
    let text = send(&mut e, NOW + 4, udp(5070), &register("mc0", 2, &format!("Contact: <{}>\r\n", contact_n(0))));
    assert_eq!(status(&text), 200, "{text}");
}

#[test]
fn removing_unknown_contacts_makes_no_room() {
    let mut e = edge(); // max_contacts = 3
    for i in 0..3 {
        send(&mut e, NOW, udp(5070), &register(&format!("mu{i}"), 1, &format!("Contact: <{}>\r\n", contact_n(i))));
    }
    // One new contact plus the removal of one that was never registered.
    let extra = format!("Contact: <{}>, <{}>;expires=0\r\n", contact_n(3), contact_n(9));
    let text = send(&mut e, NOW + 1, udp(5070), &register("mu9", 1, &extra));
    assert_eq!(status(&text), 403, "{text}");
    assert_eq!(e.registrations(ALICE.as_bytes()).len(), 3);
    // Removing one that is registered does make room.
    let extra = format!("Contact: <{}>, <{}>;expires=0\r\n", contact_n(3), contact_n(0));
    let text = send(&mut e, NOW + 2, udp(5070), &register("mu9", 2, &extra));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(contacts(&e, ALICE), vec![contact_n(1), contact_n(2), contact_n(3)]);
}

#[test]
fn replace_oldest_drops_the_oldest_binding() {
    let mut e = edge_with(
        0,
        1,
        RegistrarConfig { terms: Terms { max_contacts: 2, ..reg_cfg().terms }, replace_oldest: true, ..reg_cfg() },
        None,
    );
    for i in 0..2 {
        send(
            &mut e,
            NOW + i as u64,
            udp(5070),
            &register(&format!("ro{i}"), 1, &format!("Contact: <{}>\r\n", contact_n(i))),
        );
    }
    // Refresh the first: the second is now the oldest.
    send(&mut e, NOW + 2, udp(5070), &register("ro0", 2, &format!("Contact: <{}>\r\n", contact_n(0))));
    let text = send(&mut e, NOW + 3, udp(5070), &register("ro2", 1, &format!("Contact: <{}>\r\n", contact_n(2))));
    assert_eq!(status(&text), 200, "{text}");
    let mut now = contacts(&e, ALICE);
    now.sort();
    assert_eq!(now, vec![contact_n(0), contact_n(2)]);
    assert_eq!(headers(&text, "Contact").len(), 2, "{text}");
}

// ---------------------------------------------------------------- Path (RFC 3327)

#[test]
fn path_is_stored_and_returned_only_with_supported_path() {
    let c = "sip:alice@10.0.0.1:5070";
    let path = "<sip:p1.example.net;lr>";
    for supported in ["Supported: path\r\n", "Supported: outbound, path\r\n"] {
        let mut e = edge();
        let text =
            send(&mut e, NOW, udp(5070), &register("p1", 1, &format!("{supported}Path: {path}\r\nContact: <{c}>\r\n")));
        assert_eq!(status(&text), 200, "{text}");
        assert_eq!(headers(&text, "Path"), vec![path], "{text}");
        assert_eq!(binding(&e, ALICE, c).path().collect::<Vec<_>>(), vec![path.as_bytes()]);
    }
    let mut e = edge();
    let text = send(&mut e, NOW, udp(5070), &register("p2", 1, &format!("Path: {path}\r\nContact: <{c}>\r\n")));
    assert_eq!(status(&text), 200, "{text}");
    assert!(headers(&text, "Path").is_empty(), "{text}");
    assert_eq!(binding(&e, ALICE, c).path().count(), 0);
}

// ---------------------------------------------------------------- Outbound (RFC 5626)

const INSTANCE: &str = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";

fn outbound_contact(port: u16, reg_id: u32) -> String {
    format!("Contact: <sip:alice@10.0.0.1:{port};transport=tcp;ob>;+sip.instance={INSTANCE};reg-id={reg_id}\r\n")
}

#[test]
fn outbound_same_instance_and_reg_id_replaces_the_old_flow() {
    let mut e = edge();
    let sup = "Supported: outbound, path\r\n";
    let text = send(&mut e, NOW, tcp(5070, 1), &register("o1", 1, &format!("{sup}{}", outbound_contact(5070, 1))));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Require"), vec!["outbound"], "{text}");
    assert_eq!(headers(&text, "Flow-Timer"), vec!["120"], "{text}");
    // The device comes back on a new connection with a new contact.
    let text = send(&mut e, NOW + 10, tcp(5071, 2), &register("o2", 1, &format!("{sup}{}", outbound_contact(5071, 1))));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Require"), vec!["outbound"], "{text}");
    assert_eq!(headers(&text, "Flow-Timer"), vec!["120"], "{text}");
    assert_eq!(headers(&text, "Contact").len(), 1, "{text}");
    let all = e.registrations(ALICE.as_bytes());
    assert_eq!(all.len(), 1, "{:?}", contacts(&e, ALICE));
    assert_eq!(all[0].contact(), b"sip:alice@10.0.0.1:5071;transport=tcp;ob");
    assert_eq!(all[0].flow(), Some(FlowId { shard: 0, conn: 2 }));
    assert_eq!(all[0].reg_id(), Some(1));
    // Another reg-id is another flow: two bindings.
    let text = send(&mut e, NOW + 20, tcp(5072, 3), &register("o3", 1, &format!("{sup}{}", outbound_contact(5072, 2))));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(e.registrations(ALICE.as_bytes()).len(), 2);
}

#[test]
fn outbound_headers_only_when_the_client_supports_outbound() {
    let mut e = edge();
    let text = send(&mut e, NOW, tcp(5070, 1), &register("o4", 1, &outbound_contact(5070, 1)));
    assert_eq!(status(&text), 200, "{text}");
    assert!(headers(&text, "Require").is_empty(), "{text}");
    assert!(headers(&text, "Flow-Timer").is_empty(), "{text}");
    // Nor for a plain registration from a client that supports it.
    let mut e = edge();
    let text = send(
        &mut e,
        NOW,
        udp(5070),
        &register("o5", 1, "Supported: outbound\r\nContact: <sip:alice@10.0.0.1:5070>\r\n"),
    );
    assert_eq!(status(&text), 200, "{text}");
    assert!(headers(&text, "Require").is_empty(), "{text}");
    assert!(headers(&text, "Flow-Timer").is_empty(), "{text}");
}

#[test]
fn outbound_unregister_by_instance_and_reg_id() {
    // RFC 5626 §6: the binding is identified by instance and reg-id, so a
    // removal naming them removes it whatever contact URI it carries.
    let mut e = edge();
    let sup = "Supported: outbound, path\r\n";
    send(&mut e, NOW, tcp(5070, 1), &register("o6", 1, &format!("{sup}{}", outbound_contact(5070, 1))));
    assert_eq!(e.registrations(ALICE.as_bytes()).len(), 1);
    let removal = outbound_contact(5071, 1).replace("\r\n", ";expires=0\r\n");
    let text = send(&mut e, NOW + 5, tcp(5071, 2), &register("o7", 1, &format!("{sup}{removal}")));
    assert_eq!(status(&text), 200, "{text}");
    assert!(headers(&text, "Contact").is_empty(), "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty(), "{:?}", contacts(&e, ALICE));
}

#[test]
fn outbound_one_flow_per_register_and_a_reg_id_needs_an_instance() {
    // RFC 5626 §6: two Contacts that add bindings, one with a reg-id: 400.
    let mut e = edge();
    let sup = "Supported: outbound, path\r\n";
    let two = format!("{sup}{}Contact: <sip:alice@10.0.0.1:5080>\r\n", outbound_contact(5070, 1));
    let text = send(&mut e, NOW, tcp(5070, 1), &register("o8", 1, &two));
    assert_eq!(status(&text), 400, "{text}");
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
    // One that adds and one that removes is one flow: accepted.
    let c = "sip:alice@10.0.0.1:5080";
    send(&mut e, NOW, udp(5080), &register("o9", 1, &format!("Contact: <{c}>\r\n")));
    let swap = format!("{sup}{}Contact: <{c}>;expires=0\r\n", outbound_contact(5070, 1));
    let text = send(&mut e, NOW + 1, tcp(5070, 1), &register("o9", 2, &swap));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(contacts(&e, ALICE), vec!["sip:alice@10.0.0.1:5070;transport=tcp;ob"]);
    // A reg-id with no instance is ignored: no outbound, no Require.
    let mut e = edge();
    let bare = format!("{sup}Contact: <sip:alice@10.0.0.1:5090>;reg-id=1\r\nContact: <sip:alice@10.0.0.1:5091>\r\n");
    let text = send(&mut e, NOW, udp(5090), &register("o10", 1, &bare));
    assert_eq!(status(&text), 200, "{text}");
    assert!(headers(&text, "Require").is_empty(), "{text}");
    let all = e.registrations(ALICE.as_bytes());
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|b| b.reg_id().is_none()));
}

// ---------------------------------------------------------------- expiry

#[test]
fn bindings_expire_on_tick() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    send(&mut e, NOW, udp(5070), &register("t1", 1, &format!("Contact: <{c}>;expires=60\r\n")));
    e.tick((NOW + 30) * 1000, &mut Vec::new());
    e.tick((NOW + 59) * 1000, &mut Vec::new());
    assert_eq!(contacts(&e, ALICE), vec![c]);
    assert_eq!(e.registrations_active(), 1);
    e.tick((NOW + 61) * 1000, &mut Vec::new());
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
    assert_eq!(e.registrations_active(), 0);
    // A query afterwards lists nothing.
    let text = send(&mut e, NOW + 62, udp(5070), &register("t1", 2, ""));
    assert!(headers(&text, "Contact").is_empty(), "{text}");
}

#[test]
fn a_refresh_postpones_expiry() {
    let mut e = edge();
    let c = "sip:alice@10.0.0.1:5070";
    send(&mut e, NOW, udp(5070), &register("t2", 1, &format!("Contact: <{c}>;expires=60\r\n")));
    send(&mut e, NOW + 50, udp(5070), &register("t2", 2, &format!("Contact: <{c}>;expires=60\r\n")));
    e.tick((NOW + 61) * 1000, &mut Vec::new());
    assert_eq!(contacts(&e, ALICE), vec![c]);
    e.tick((NOW + 111) * 1000, &mut Vec::new());
    assert!(e.registrations(ALICE.as_bytes()).is_empty());
}

// ---------------------------------------------------------------- across shards

fn shards(n: u16) -> Vec<Edge> {
    (0..n).map(|i| edge_with(i, n, reg_cfg(), None)).collect()
}

/// A user whose AOR is owned by a shard other than `not`.
fn user_not_owned_by(not: usize, shards: usize) -> (String, String, usize) {
    (0..)
        .map(|i| format!("user{i}"))
        .map(|u| {
            let aor = format!("sip:{u}@{DOMAIN}");
            let owner = crate::core::owner::shard_of(aor.as_bytes(), shards);
            (u, aor, owner)
        })
        .find(|(_, _, o)| *o != not)
        .unwrap()
}

fn one_hop(out: Vec<Output>) -> (u16, MeshMsg) {
    assert_eq!(out.len(), 1, "{out:?}");
    match out.into_iter().next().unwrap() {
        Output::ToShard { shard, msg } => (shard, msg),
        o => panic!("expected a hop, got {o:?}"),
    }
}

/// The one thing a shard asked: its token and the question.
fn one_ask(out: Vec<Output>) -> (u64, Ask) {
    assert_eq!(out.len(), 1, "{out:?}");
    match out.into_iter().next().unwrap() {
        Output::Ask { token, ask } => (token, ask),
        o => panic!("expected an ask, got {o:?}"),
    }
}

/// What `shard/` does with a mesh ask: the owner's core serves it; its answer goes home.
fn serve(edges: &mut [Edge], from: u16, token: u64, ask: Ask, at_s: u64) -> Answer {
    let to = ask.shard().expect("a shard's ask");
    let mut out = Vec::new();
    edges[to as usize].handle(at_s * 1000, Input::Mesh(MeshMsg::Ask { reply_to: from, token, ask }), &mut out);
    match one_hop(out) {
        (back, MeshMsg::Answer { token: t, answer }) if back == from && t == token => answer,
        m => panic!("{m:?}"),
    }
}

#[test]
fn register_on_a_foreign_shard_asks_the_owner_and_the_answer_comes_back() {
    let mut edges = shards(4);
    let (user, aor, owner) = user_not_owned_by(0, 4);
    let c = format!("sip:{user}@10.0.0.1:5070");
    let req = register_to(&user, DOMAIN, "x1", 1, &format!("Contact: <{c}>;expires=600\r\n"));
    let (token, ask) = one_ask(run_at(&mut edges[0], NOW, udp(5070), &req));
    let Ask::Register { shard, op } = &ask else { panic!("{ask:?}") };
    assert_eq!((*shard as usize, op.aor.as_slice()), (owner, aor.as_bytes()));
    assert!(edges[0].registrations(aor.as_bytes()).is_empty());
    assert_eq!(edges[0].waiting.len(), 1);

    let reply = serve(&mut edges, 0, token, ask, NOW);
    assert!(matches!(&reply, Answer::Registered(Ok(b)) if b.len() == 1), "{reply:?}");

    let mut out = Vec::new();
    edges[0].handle((NOW) * 1000, Input::Answer { token, answer: reply }, &mut out);
    let dest = match &out[..] {
        [Output::Send { dest, .. }] => *dest,
        o => panic!("{o:?}"),
    };
    assert_eq!(dest, Dest::Udp { listener: 0, peer: "10.0.0.1:5070".parse().unwrap() });
    let text = answer(&out);
    assert_eq!(status_line(&text), "SIP/2.0 200 OK", "{text}");
    assert_eq!(headers(&text, "Contact"), vec![format!("<{c}>;expires=600")], "{text}");
    assert_eq!(headers(&text, "Call-ID"), vec!["x1"], "{text}");
    assert_eq!(headers(&text, "Date").len(), 1, "{text}");
    assert!(edges[0].waiting.is_empty());

    for (i, e) in edges.iter().enumerate() {
        assert_eq!(e.registrations(aor.as_bytes()).len(), usize::from(i == owner), "shard {i}");
        assert_eq!(e.registrations_active(), usize::from(i == owner), "shard {i}");
    }
    // The ask is counted by the shard that routes it; the owner's answer by its core.
    assert_eq!(edges[0].counters.wire.mesh_sent, 0);
    assert_eq!(edges[owner].counters.wire.mesh_sent, 1);
    assert_eq!(edges[0].counters.registrar.results.get(RegisterResult::Ok), 1);
}

#[test]
fn a_refusal_from_the_owner_is_answered_by_the_receiving_shard() {
    let mut edges: Vec<Edge> = (0..4)
        .map(|i| {
            edge_with(i, 4, RegistrarConfig { terms: Terms { max_contacts: 1, ..reg_cfg().terms }, ..reg_cfg() }, None)
        })
        .collect();
    let (user, aor, owner) = user_not_owned_by(0, 4);
    let reqs = [
        register_to(&user, DOMAIN, "x2", 1, &format!("Contact: <sip:{user}@10.0.0.1:5070>\r\n")),
        register_to(&user, DOMAIN, "x3", 1, &format!("Contact: <sip:{user}@10.0.0.1:5071>\r\n")),
    ];
    let mut answers = Vec::new();
    for req in &reqs {
        let (token, ask) = one_ask(run_at(&mut edges[0], NOW, udp(5070), req));
        let reply = serve(&mut edges, 0, token, ask, NOW);
        let mut out = Vec::new();
        edges[0].handle((NOW) * 1000, Input::Answer { token, answer: reply }, &mut out);
        answers.push(answer(&out));
    }
    assert_eq!(status(&answers[0]), 200, "{}", answers[0]);
    assert_eq!(status_line(&answers[1]), "SIP/2.0 403 Too many registered contacts", "{}", answers[1]);
    assert_eq!(edges[owner].registrations(aor.as_bytes()).len(), 1);
}

#[test]
fn a_register_whose_owner_never_answers_is_dropped_after_5s() {
    let mut edges = shards(4);
    let (user, _aor, _owner) = user_not_owned_by(0, 4);
    let req = register_to(&user, DOMAIN, "x4", 1, &format!("Contact: <sip:{user}@10.0.0.1:5070>\r\n"));
    let (lost, _) = one_ask(run_at(&mut edges[0], NOW, udp(5070), &req));
    let (kept, _) = one_ask(run_at(&mut edges[0], NOW + 3, udp(5070), &register_to(&user, DOMAIN, "x4", 2, "")));
    assert_eq!(edges[0].waiting.next_expiry(), Some((NOW + 5) * 1000));
    edges[0].tick((NOW + 4) * 1000, &mut Vec::new());
    assert_eq!(edges[0].counters.registrar.lost, 0);
    edges[0].tick((NOW + 6) * 1000, &mut Vec::new());
    assert_eq!(edges[0].counters.registrar.lost, 1);
    assert_eq!(edges[0].waiting.len(), 1);
    // The owner's late answer finds nothing to answer.
    let mut out = Vec::new();
    edges[0].handle(
        (NOW + 6) * 1000,
        Input::Answer { token: lost, answer: Answer::Registered(Ok(Vec::new())) },
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    // The younger one is still answered.
    edges[0].handle(
        (NOW + 6) * 1000,
        Input::Answer { token: kept, answer: Answer::Registered(Ok(Vec::new())) },
        &mut out,
    );
    assert_eq!(status(&answer(&out)), 200);
    edges[0].tick((NOW + 20) * 1000, &mut Vec::new());
    assert_eq!(edges[0].counters.registrar.lost, 1);
    assert!(edges[0].waiting.is_empty());
}

#[test]
fn a_register_whose_owner_cannot_be_reached_is_counted_lost_at_once_and_not_answered() {
    let mut edges = shards(4);
    let (user, aor, _owner) = user_not_owned_by(0, 4);
    let req = register_to(&user, DOMAIN, "x5", 1, &format!("Contact: <sip:{user}@10.0.0.1:5070>\r\n"));
    let (token, _) = one_ask(run_at(&mut edges[0], NOW, udp(5070), &req));
    let mut out = Vec::new();
    edges[0].handle(NOW * 1000, Input::Answer { token, answer: Answer::Unreachable }, &mut out);
    // No answer: the client retransmits, and the retransmission asks again.
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(edges[0].counters.registrar.lost, 1);
    assert!(edges[0].waiting.is_empty());
    let (again, _) = one_ask(run_at(&mut edges[0], NOW + 1, udp(5070), &req));
    assert_ne!(again, token);
    edges[0].tick((NOW + 30) * 1000, &mut Vec::new());
    assert_eq!(edges[0].counters.registrar.lost, 2);
    assert!(edges.iter().all(|e| e.registrations(aor.as_bytes()).is_empty()));
}

// ---------------------------------------------------------------- digest auth (RFC 7616)

const REALM: &str = "127.0.0.1";

fn hex(alg: Algorithm, parts: &[&[u8]]) -> String {
    let mut out = [0u8; 64];
    let n = alg.hash_hex(parts, &mut out);
    String::from_utf8(out[..n].to_vec()).unwrap()
}

fn auth_edge() -> Edge {
    let bob_ha1 = hex(Algorithm::Md5, &[b"bob", REALM.as_bytes(), b"bobpw"]);
    let users = Users::parse(&format!("alice 127.0.0.1 password=secret\nbob 127.0.0.1 md5={bob_ha1}\n"), "t").unwrap();
    let auth = AuthConfig {
        users: Arc::new(users),
        secret: [7; 32],
        algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        nonce_lifetime_secs: 300,
    };
    edge_with(0, 1, RegistrarConfig { domains: vec![REALM.as_bytes().to_vec()], ..reg_cfg() }, Some(auth))
}

/// A client's Authorization value (qop=auth).
#[allow(clippy::too_many_arguments)]
fn digest(alg: Algorithm, user: &str, pass: &str, nonce: &str, uri: &str, nc: u32, cnonce: &str) -> String {
    let ha1 = hex(alg, &[user.as_bytes(), REALM.as_bytes(), pass.as_bytes()]);
    let ha2 = hex(alg, &[b"REGISTER", uri.as_bytes()]);
    let nc = format!("{nc:08x}");
    let resp = hex(alg, &[ha1.as_bytes(), nonce.as_bytes(), nc.as_bytes(), cnonce.as_bytes(), b"auth", ha2.as_bytes()]);
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"{cnonce}\"",
        alg.token()
    )
}

/// A REGISTER for `user`@127.0.0.1 with optional Authorization.
fn auth_register(user: &str, call_id: &str, cseq: u32, authorization: Option<&str>) -> Vec<u8> {
    let mut extra = format!("Contact: <sip:{user}@10.0.0.1:5070>\r\n");
    if let Some(a) = authorization {
        extra.push_str(&format!("Authorization: {a}\r\n"));
    }
    register_to(user, REALM, call_id, cseq, &extra)
}

fn nonce_of(challenge: &str) -> String {
    let start = challenge.find("nonce=\"").unwrap() + 7;
    let len = challenge[start..].find('"').unwrap();
    challenge[start..start + len].to_string()
}

/// Asks for a challenge and returns its nonce.
fn fresh_nonce(e: &mut Edge, now: u64) -> String {
    let text = send(e, now, udp(5070), &auth_register("alice", "n0", 1, None));
    assert_eq!(status(&text), 401, "{text}");
    nonce_of(headers(&text, "WWW-Authenticate")[0])
}

#[test]
fn no_credentials_get_401_with_sha256_then_md5() {
    let mut e = auth_edge();
    let text = send(&mut e, NOW, udp(5070), &auth_register("alice", "a1", 1, None));
    assert_eq!(status_line(&text), "SIP/2.0 401 Unauthorized", "{text}");
    let ch = headers(&text, "WWW-Authenticate");
    assert_eq!(ch.len(), 2, "{text}");
    let nonce = nonce_of(ch[0]);
    assert_eq!(ch[0], format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=SHA-256, qop=\"auth\""));
    assert_eq!(ch[1], format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\""));
    assert!(e.registrations(b"sip:alice@127.0.0.1").is_empty());
    assert_eq!(e.counters.registrar.results.get(RegisterResult::Unauthorized), 1);
}

#[test]
fn correct_credentials_get_200() {
    let mut e = auth_edge();
    let nonce = fresh_nonce(&mut e, NOW);
    let a = digest(Algorithm::Sha256, "alice", "secret", &nonce, "sip:127.0.0.1", 1, "c0ffee");
    let text = send(&mut e, NOW + 1, udp(5070), &auth_register("alice", "a2", 2, Some(&a)));
    assert_eq!(status_line(&text), "SIP/2.0 200 OK", "{text}");
    assert_eq!(headers(&text, "Contact"), vec!["<sip:alice@10.0.0.1:5070>;expires=3600"], "{text}");
    assert_eq!(e.registrations(b"sip:alice@127.0.0.1").len(), 1);
    // MD5 against a stored HA1 (no password in the file).
    let nonce = fresh_nonce(&mut e, NOW + 2);
    let a = digest(Algorithm::Md5, "bob", "bobpw", &nonce, "sip:127.0.0.1", 1, "beef");
    let text = send(&mut e, NOW + 2, udp(5070), &auth_register("bob", "b1", 1, Some(&a)));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(e.registrations(b"sip:bob@127.0.0.1").len(), 1);
    assert_eq!(e.counters.registrar.auth_failures.total(), 0);
}

#[test]
fn stale_nonce_with_correct_credentials_is_401_stale() {
    let mut e = auth_edge();
    let nonce = fresh_nonce(&mut e, NOW);
    let a = digest(Algorithm::Sha256, "alice", "secret", &nonce, "sip:127.0.0.1", 1, "c0ffee");
    let text = send(&mut e, NOW + 300 + 1, udp(5070), &auth_register("alice", "a3", 2, Some(&a)));
    assert_eq!(status(&text), 401, "{text}");
    let ch = headers(&text, "WWW-Authenticate");
    assert_eq!(ch.len(), 2, "{text}");
    assert!(ch.iter().all(|c| c.ends_with(", stale=true")), "{text}");
    assert_ne!(nonce_of(ch[0]), nonce, "a fresh nonce");
    assert!(e.registrations(b"sip:alice@127.0.0.1").is_empty());
    // A wrong password on the stale nonce is not told "stale".
    let a = digest(Algorithm::Sha256, "alice", "wrong", &nonce, "sip:127.0.0.1", 1, "c0ffee");
    let text = send(&mut e, NOW + 300 + 1, udp(5070), &auth_register("alice", "a3", 3, Some(&a)));
    assert_eq!(status(&text), 401, "{text}");
    assert!(!text.contains("stale=true"), "{text}");
}

#[test]
fn replayed_nc_is_401_and_counted() {
    let mut e = auth_edge();
    let nonce = fresh_nonce(&mut e, NOW);
    let a1 = digest(Algorithm::Sha256, "alice", "secret", &nonce, "sip:127.0.0.1", 1, "c0ffee");
    let text = send(&mut e, NOW + 1, udp(5070), &auth_register("alice", "a4", 2, Some(&a1)));
    assert_eq!(status(&text), 200, "{text}");
    // The same nonce and nc on a new request (a replay).
    let text = send(&mut e, NOW + 2, udp(5070), &auth_register("alice", "a4", 3, Some(&a1)));
    assert_eq!(status_line(&text), "SIP/2.0 401 Unauthorized", "{text}");
    assert!(!text.contains("stale=true"), "{text}");
    assert_eq!(e.counters.registrar.auth_failures.get(AuthFailure::NonceReuse), 1);
    // The next nc is accepted.
    let a2 = digest(Algorithm::Sha256, "alice", "secret", &nonce, "sip:127.0.0.1", 2, "c0ffee");
    let text = send(&mut e, NOW + 3, udp(5070), &auth_register("alice", "a4", 4, Some(&a2)));
    assert_eq!(status(&text), 200, "{text}");
}

#[test]
fn alice_cannot_register_bobs_aor() {
    let mut e = auth_edge();
    let nonce = fresh_nonce(&mut e, NOW);
    let a = digest(Algorithm::Sha256, "alice", "secret", &nonce, "sip:127.0.0.1", 1, "c0ffee");
    let text = send(&mut e, NOW + 1, udp(5070), &auth_register("bob", "a5", 1, Some(&a)));
    assert_eq!(status(&text), 403, "{text}");
    assert!(headers(&text, "WWW-Authenticate").is_empty(), "{text}");
    assert!(e.registrations(b"sip:bob@127.0.0.1").is_empty());
    assert_eq!(e.registrations_active(), 0);
    assert_eq!(e.counters.registrar.auth_failures.get(AuthFailure::NotOwner), 1);
}

#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let mut e = auth_edge();
    // A nonce each: a wrong response burns its nonce.
    let (nonce, other) = (fresh_nonce(&mut e, NOW), fresh_nonce(&mut e, NOW));
    let wrong = digest(Algorithm::Sha256, "alice", "guess", &nonce, "sip:127.0.0.1", 1, "c0ffee");
    let unknown = digest(Algorithm::Sha256, "mallory", "guess", &other, "sip:127.0.0.1", 2, "c0ffee");
    // Same AOR (To) so only the credentials differ.
    let a = send(&mut e, NOW + 1, udp(5070), &auth_register("alice", "a6", 2, Some(&wrong)));
    let b = send(&mut e, NOW + 1, udp(5070), &auth_register("alice", "a6", 2, Some(&unknown)));
    assert_eq!(status_line(&a), "SIP/2.0 401 Unauthorized", "{a}");
    assert_eq!(status_line(&a), status_line(&b));
    assert_eq!(header_names(&a), header_names(&b), "{a}\n{b}");
    assert_eq!(headers(&a, "WWW-Authenticate").len(), 2);
    assert_eq!(a.len(), b.len(), "{a}\n{b}");
    assert_eq!(e.counters.registrar.auth_failures.get(AuthFailure::BadResponse), 2);
    assert!(e.registrations(b"sip:alice@127.0.0.1").is_empty());
}

#[test]
fn unknown_scheme_is_challenged() {
    // RFC 4475 regaut01: an Authorization with an unknown scheme is no credential.
    let mut e = auth_edge();
    let text =
        send(&mut e, NOW, udp(5070), &auth_register("alice", "a7", 1, Some("NoOneKnowsThisScheme opaque-data=here")));
    assert_eq!(status_line(&text), "SIP/2.0 401 Unauthorized", "{text}");
    assert_eq!(headers(&text, "WWW-Authenticate").len(), 2, "{text}");
    assert!(e.registrations(b"sip:alice@127.0.0.1").is_empty());
}

#[test]
fn outbound_headers_only_for_the_register_that_used_outbound() {
    let mut e = edge();
    let sup = "Supported: outbound\r\n";
    let text = send(&mut e, NOW, tcp(5070, 1), &register("o5", 1, &format!("{sup}{}", outbound_contact(5070, 1))));
    assert_eq!(headers(&text, "Require"), vec!["outbound"], "{text}");
    // A second, plain device of the same AOR: its 200 lists both bindings but no Require/Flow-Timer.
    let plain = format!("{sup}Contact: <sip:alice@10.0.0.2:5060>\r\n");
    let text = send(&mut e, NOW + 1, udp(5090), &register("p1", 1, &plain));
    assert_eq!(status(&text), 200, "{text}");
    assert_eq!(headers(&text, "Contact").len(), 2, "{text}");
    assert!(headers(&text, "Require").is_empty() && headers(&text, "Flow-Timer").is_empty(), "{text}");
}

#[test]
fn options_advertises_register_and_its_extensions_when_the_registrar_is_on() {
    let mut e = edge();
    let opt = "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKo1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let text = send(&mut e, NOW, udp(5070), opt.as_bytes());
    assert_eq!(status(&text), 200, "{text}");
    let allow = headers(&text, "Allow");
    assert!(allow.len() == 1 && allow[0].starts_with("INVITE, ACK, BYE, CANCEL, OPTIONS"), "{text}");
    assert!(allow[0].ends_with(", REGISTER"), "{text}");
    assert_eq!(headers(&text, "Supported"), vec!["path, outbound"], "{text}");
}

/// Wrong passwords from one address, spread over two shards, are counted on
/// the shard owning the address, which bans it on both.
#[test]
fn password_guessing_is_banned_on_every_shard() {
    use crate::core::protect::{BanReason, ProtectConfig, Trip};
    let cfg = ProtectConfig {
        auth_failures: Some(Trip { count: 4, window_ms: 60_000, ban_ms: 600_000 }),
        ..Default::default()
    };
    let mut edges: Vec<Edge> = (0..2)
        .map(|s| {
            let mut e = auth_edge();
            e.cfg.shard = s;
            e.cfg.shards = 2;
            e.protect = crate::core::protect::Protect::new(cfg.clone(), s, 2);
            e
        })
        .collect();
    let mut bans = Vec::new();
    for i in 0..4u32 {
        let s = (i % 2) as usize;
        let nonce = fresh_nonce(&mut edges[s], NOW);
        let wrong = digest(Algorithm::Sha256, "alice", &format!("guess{i}"), &nonce, "sip:127.0.0.1", 1, "c0ffee");
        let out = run_at(
            &mut edges[s],
            NOW + 1,
            udp(5070 + i as u16),
            &auth_register("alice", &format!("g{i}"), 2, Some(&wrong)),
        );
        let mut mesh: Vec<(u16, MeshMsg)> = Vec::new();
        for o in out {
            match o {
                Output::Send { bytes, .. } => {
                    assert!(bytes.starts_with(b"SIP/2.0 401 "), "a guess is told nothing more")
                }
                Output::ToShard { shard, msg } => mesh.push((shard, msg)),
                o => panic!("{o:?}"),
            }
        }
        // Deliver mesh messages (AuthFailed to the owner, Ban to the rest) until quiet.
        while let Some((to, msg)) = mesh.pop() {
            if let MeshMsg::Ban(b) = &msg {
                bans.push(*b);
            }
            let mut out = Vec::new();
            edges[to as usize].handle((NOW + 1) * 1000, Input::Mesh(msg), &mut out);
            for o in out {
                if let Output::ToShard { shard, msg } = o {
                    mesh.push((shard, msg));
                }
            }
        }
    }
    let banned: Vec<usize> =
        (0..2).filter(|&s| edges[s].bans().iter().any(|b| b.reason == BanReason::AuthFailures)).collect();
    assert_eq!(banned, vec![0, 1], "the fourth failure bans the address on both shards: {bans:?}");
    for e in &mut edges {
        assert!(
            run_at(e, NOW + 2, udp(5999), &auth_register("alice", "after", 1, None)).is_empty(),
            "banned: no answer at all"
        );
    }
}

/// A profile for a User-Agent narrows the challenges offered to it; other
/// devices get the configured list (SHA-256 first).
#[test]
fn a_profile_offers_its_algorithms_to_its_devices_only() {
    use crate::core::profile::{Profile, Profiles};
    let mut e = auth_edge();
    e.cfg.profiles = Profiles(vec![Profile {
        name: "old".into(),
        user_agent: vec![b"baresip".to_vec()],
        sources: Vec::new(),
        transports: Vec::new(),
        auth_algorithms: vec![Algorithm::Md5],
        ..Profile::default()
    }]);
    e.counters.profiles = vec![0];
    let old =
        register_to("alice", REALM, "p1", 1, "Contact: <sip:alice@10.0.0.1:5070>\r\nUser-Agent: baresip v1.0.0\r\n");
    let text = send(&mut e, NOW, udp(5070), &old);
    let offered = headers(&text, "WWW-Authenticate");
    assert!(offered.len() == 1 && offered[0].contains("algorithm=MD5"), "{text}");
    let other =
        register_to("alice", REALM, "p2", 1, "Contact: <sip:alice@10.0.0.1:5071>\r\nUser-Agent: Yealink SIP-T46U\r\n");
    let text = send(&mut e, NOW, udp(5071), &other);
    let offered = headers(&text, "WWW-Authenticate");
    assert!(offered.len() > 1 && offered[0].contains("algorithm=SHA-256"), "{text}");
    assert_eq!(e.counters.profiles, vec![1]);
}

#[test]
fn a_nonce_that_carried_a_wrong_password_is_answered_with_a_fresh_challenge() {
    let mut e = auth_edge();
    let nonce = fresh_nonce(&mut e, NOW);
    let wrong = digest(Algorithm::Sha256, "alice", "guess", &nonce, "sip:127.0.0.1", 1, "c0ffee");
    let right = digest(Algorithm::Sha256, "alice", "secret", &nonce, "sip:127.0.0.1", 2, "c0ffee");
    let a = send(&mut e, NOW + 1, udp(5070), &auth_register("alice", "a7", 2, Some(&wrong)));
    assert_eq!(status_line(&a), "SIP/2.0 401 Unauthorized", "{a}");
    let b = send(&mut e, NOW + 1, udp(5070), &auth_register("alice", "a7", 3, Some(&right)));
    assert_eq!(status_line(&b), "SIP/2.0 401 Unauthorized", "the right password on a burned nonce: {b}");
    assert!(!headers(&b, "WWW-Authenticate")[0].contains(&nonce), "a fresh nonce: {b}");
    assert_eq!(e.counters.registrar.auth_failures.get(AuthFailure::BurnedNonce), 1);
    assert!(e.registrations(b"sip:alice@127.0.0.1").is_empty());
}
