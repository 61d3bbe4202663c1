//! Device profiles at the edge, on one shard and the virtual clock: a
//! profile's registration terms, its NAT handling (contacts taken as they
//! are, keepalives), its header rules on the edge's own answers, and its
//! rate-limit rules counting its devices only.

use super::register_tests::{edge_with, headers, reg_cfg, register_to, run_at, status, udp};
use super::tests::NOW;
use super::{Dest, Edge, Output};
use crate::core::profile::{Nat, Profile, Profiles};
use crate::core::protect::{Protect, ProtectConfig, Rule, RuleKey};
use crate::core::registrar::Terms;

const GS: &str = "User-Agent: Grandstream GXP2170\r\n";
const OTHER: &str = "User-Agent: Yealink SIP-T46U\r\n";

fn ua(name: &str, ua: &str) -> Profile {
    Profile { name: name.into(), user_agent: vec![ua.as_bytes().to_vec()], ..Profile::default() }
}

fn edge(profiles: Vec<Profile>) -> Edge {
    let mut e = edge_with(0, 1, reg_cfg(), None);
    e.counters.profiles = vec![0; profiles.len()];
    e.cfg.profiles = Profiles(profiles);
    e
}

fn one(e: &mut Edge, now: u64, port: u16, extra: &str, cseq: u32) -> String {
    let out = run_at(e, now, udp(port), &register_to("alice", "example.com", "c1", cseq, extra));
    match &out[..] {
        [Output::Send { bytes, .. }] => String::from_utf8(bytes.clone()).unwrap(),
        o => panic!("one answer expected: {o:?}"),
    }
}

#[test]
fn a_profile_sets_its_devices_registration_terms() {
    let terms = Terms { default_expires: 300, min_expires: 300, max_expires: 600, max_contacts: 1, flow_timer: 30 };
    let mut e = edge(vec![Profile { terms: Some(terms), ..ua("gs", "grandstream") }]);
    let brief = one(&mut e, NOW, 5070, &format!("{GS}Contact: <sip:alice@10.0.0.1:5070>;expires=120\r\n"), 1);
    assert_eq!(status(&brief), 423, "{brief}");
    assert_eq!(headers(&brief, "Min-Expires"), vec!["300"]);
    let other = one(&mut e, NOW, 5071, &format!("{OTHER}Contact: <sip:alice@10.0.0.1:5071>;expires=120\r\n"), 2);
    assert_eq!(status(&other), 200, "[registrar]'s min_expires (60) for everyone else: {other}");
    // The AOR now holds one binding (from the other phone): the profile's
    // max_contacts of 1 refuses a second from its device.
    let full = one(&mut e, NOW, 5070, &format!("{GS}Contact: <sip:alice@10.0.0.1:5070>;expires=3600\r\n"), 3);
    assert_eq!(status(&full), 403, "{full}");
    let outbound =
        "Supported: outbound\r\nContact: <sip:alice@10.0.0.1:5070>;reg-id=1;+sip.instance=\"<urn:uuid:1>\"\r\n";
    e.reg.location.remove_all(b"sip:alice@example.com");
    let ok = one(&mut e, NOW, 5070, &format!("{GS}Expires: 3600\r\n{outbound}"), 4);
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(headers(&ok, "Contact")[0].ends_with(";expires=600"), "clamped to the profile's max: {ok}");
    assert_eq!(headers(&ok, "Flow-Timer"), vec!["30"]);
}

#[test]
fn nat_never_reaches_a_registration_at_its_contact_and_auto_at_its_source() {
    let pbx = Profile {
        name: "pbx".into(),
        sources: vec![crate::core::net::Cidr::parse("10.0.0.1/32").unwrap()],
        nat: Nat::Never,
        ..Profile::default()
    };
    let mut e = edge(vec![pbx]);
    let ok = one(&mut e, NOW, 5070, "Contact: <sip:alice@192.0.2.9:5080>\r\n", 1);
    assert_eq!(status(&ok), 200, "{ok}");
    let b = &e.registrations(b"sip:alice@example.com")[0];
    assert_eq!(b.source(), "192.0.2.9:5080".parse().unwrap(), "the Contact, not where it came from");
    let mut e = edge(Vec::new());
    one(&mut e, NOW, 5070, "Contact: <sip:alice@192.0.2.9:5080>\r\n", 1);
    assert_eq!(e.registrations(b"sip:alice@example.com")[0].source(), "10.0.0.1:5070".parse().unwrap());
}

#[test]
fn keepalives_go_to_a_profiles_udp_registrations_until_they_end() {
    let mut e = edge(vec![Profile { keepalive_secs: 20, ..ua("gs", "grandstream") }]);
    one(&mut e, NOW, 5070, &format!("{GS}Contact: <sip:alice@10.0.0.1:5070>;expires=70\r\n"), 1);
    one(&mut e, NOW, 5071, &format!("{OTHER}Contact: <sip:alice@10.0.0.1:5071>;expires=70\r\n"), 2);
    assert_eq!(e.nat_keepalives().0, 1, "only the profile's device");
    let mut pings = Vec::new();
    for s in 1..=100 {
        let mut out = Vec::new();
        e.tick((NOW + s) * 1000, &mut out);
        for o in out {
            if let Output::Send { dest: Dest::Udp { peer, .. }, bytes } = o {
                assert_eq!(bytes, super::keepalive::PING);
                pings.push((s, peer.port()));
            }
        }
    }
    // The 200 listed both bindings (70 s each): pinged until then.
    assert_eq!(pings, vec![(20, 5070), (40, 5070), (60, 5070)]);
    assert_eq!(e.nat_keepalives(), (0, 3, 0));
}

#[test]
fn a_profiles_header_rules_apply_to_the_edges_own_answers() {
    let mut p = ua("gs", "grandstream");
    p.add_headers = vec![("X-Served-By".into(), b"edge-1".to_vec())];
    let mut e = edge(vec![p]);
    let mine = one(&mut e, NOW, 5070, &format!("{GS}Contact: <sip:alice@10.0.0.1:5070>;expires=10\r\n"), 1);
    assert_eq!((status(&mine), headers(&mine, "X-Served-By")), (423, vec!["edge-1"]), "{mine}");
    let other = one(&mut e, NOW, 5071, &format!("{OTHER}Contact: <sip:alice@10.0.0.1:5071>;expires=10\r\n"), 2);
    assert!(headers(&other, "X-Served-By").is_empty(), "{other}");
}

#[test]
fn a_profiles_limit_counts_its_devices_only() {
    let rule = Rule {
        methods: vec![b"REGISTER".to_vec()],
        profile: Some(0),
        ..crate::core::protect::tests::rule("gs-register", RuleKey::Ip, 0.01, 1.0)
    };
    let mut e = edge(vec![ua("gs", "grandstream")]);
    e.protect = Protect::new(ProtectConfig { rules: vec![rule], ..Default::default() }, 0, 1);
    let contact = "Contact: <sip:alice@10.0.0.1:5070>\r\n";
    assert_eq!(status(&one(&mut e, NOW, 5070, &format!("{GS}{contact}"), 1)), 200);
    let over = one(&mut e, NOW, 5070, &format!("{GS}{contact}"), 2);
    assert_eq!(status(&over), 503, "{over}");
    for cseq in 3..8 {
        assert_eq!(status(&one(&mut e, NOW, 5070, &format!("{OTHER}{contact}"), cseq)), 200, "not the profile's");
    }
}
