//! The shared location's decisions (`cluster.rs`), sans-IO: the store is
//! played by hand (its answers written out as the room would deliver them),
//! on the virtual clock. The store's own rules are tested against the real
//! Redis (`tests/store_room.rs`).

use super::cluster::ClusterConfig;
use super::register_tests::{answer, reg_cfg, register_to, run_at, status, udp};
use super::tests::NOW;
use super::*;
use crate::core::location::shared::{ClusterEvent, Fetched, Peer, WriteKind};
use crate::core::location::Binding;
use crate::core::registrar::Reject;
use crate::core::{Answer, Ask, Transport};

const EDGE_A: &str = "192.0.2.1:5060";
const EDGE_B: &str = "192.0.2.2:5060";

fn cluster_edge() -> Edge {
    let cfg = EdgeConfig {
        shard: 0,
        shards: 1,
        local_hosts: local_hosts(EDGE_A.parse().unwrap(), "edge.example.com"),
        local_ports: vec![5060],
        max_message_bytes: 4096,
        protect: Default::default(),
        registrar: reg_cfg(),
        auth: None,
        listeners: vec![Listener::new(Transport::Udp, EDGE_A.parse().unwrap(), "")],
        proxy: Default::default(),
        cluster: Some(ClusterConfig {
            node: "edge-a".into(),
            peer: EDGE_A.parse().unwrap(),
            wait_ms: 250,
            journal: 2,
            cache_entries: 100,
            cache_ms: 60_000,
            reassert_per_sec: 1000,
        }),
        profiles: Default::default(),
    };
    Edge::new(cfg, NOW * 1000, 0)
}

fn feed(e: &mut Edge, input: Input<'_>) -> Vec<Output> {
    let mut out = Vec::new();
    e.handle(NOW * 1000, input, &mut out);
    out
}

fn store_up(e: &mut Edge) -> Vec<Output> {
    feed(e, Input::Cluster(ClusterEvent::StoreUp { lost_data: false }))
}

/// The one ask among `out`.
fn the_ask(out: Vec<Output>) -> (u64, Ask) {
    let asks: Vec<_> = out
        .into_iter()
        .filter_map(|o| if let Output::Ask { token, ask } = o { Some((token, ask)) } else { None })
        .collect();
    assert_eq!(asks.len(), 1, "{asks:?}");
    asks.into_iter().next().unwrap()
}

/// A stored value as the store writes it.
fn value(node: &str, contact: &str, source: &str, transport: Transport, edge: Option<&str>) -> Vec<u8> {
    let nb = crate::core::location::NewBinding {
        contact: contact.as_bytes(),
        q: 1000,
        expires_at: NOW + 3600,
        call_id: b"other",
        cseq: 1,
        source: source.parse().unwrap(),
        transport,
        flow: None,
        path: &[],
        instance: None,
        reg_id: None,
        user_agent: None,
        updated: NOW,
    };
    let b = Binding::from_new(b"sip:bob@example.com", &nb).unwrap();
    let mut v = format!("{} {} 1 {node}\nother\n", NOW + 3600, NOW).into_bytes();
    v.extend_from_slice(&crate::core::location::shared::encode_json(&b, edge.map(String::from)));
    v
}

fn invite_bob() -> Vec<u8> {
    b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKinv1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:carol@example.com>;tag=c1\r\nTo: <sip:bob@example.com>\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:carol@10.0.0.9:5070>\r\nContent-Length: 0\r\n\r\n".to_vec()
}

fn sends(out: &[Output]) -> Vec<(Dest, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { dest, bytes } => Some((*dest, String::from_utf8_lossy(bytes).into_owned())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_register_waits_for_the_store_and_answers_with_every_edges_bindings() {
    let mut e = cluster_edge();
    store_up(&mut e);
    let reg = register_to("bob", "example.com", "c1", 1, "Contact: <sip:bob@10.0.0.1:5070>\r\n");
    let (token, ask) = the_ask(run_at(&mut e, NOW, udp(5070), &reg));
    let Ask::Store(w) = ask else { panic!("{ask:?}") };
    assert_eq!(w.aor, b"sip:bob@example.com");
    let WriteKind::Register { cseq, contacts, .. } = &w.kind else { panic!("{w:?}") };
    assert_eq!((*cseq, contacts.len(), contacts[0].key.as_slice()), (1, 1, &b"c:sip:bob@10.0.0.1:5070"[..]));
    assert!(String::from_utf8_lossy(&contacts[0].json).contains("\"edge\":\"sip:192.0.2.1:5060;th="));
    // The store holds ours and another edge's.
    let mine = value("edge-a", "sip:bob@10.0.0.1:5070", "10.0.0.1:5070", Transport::Udp, None);
    let theirs = value("edge-b", "sip:bob@198.51.100.7:5060", "198.51.100.7:5060", Transport::Tcp, Some("sip:x"));
    let fetched = Fetched { store_now: NOW, values: vec![mine, theirs] };
    let out = feed(&mut e, Input::Answer { token, answer: Answer::Stored(Ok(fetched)) });
    let ok = answer(&out);
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(ok.contains("sip:bob@10.0.0.1:5070") && ok.contains("sip:bob@198.51.100.7:5060"), "{ok}");
    assert_eq!(e.registrations(b"sip:bob@example.com").len(), 1, "only this edge's binding is held here");
    assert_eq!(e.counters.cluster.store_writes, 1);
}

#[test]
fn a_store_refusal_is_the_answer_and_changes_nothing_here() {
    let mut e = cluster_edge();
    store_up(&mut e);
    let reg = register_to("bob", "example.com", "c1", 1, "Contact: <sip:bob@10.0.0.1:5070>\r\n");
    let (token, _) = the_ask(run_at(&mut e, NOW, udp(5070), &reg));
    let refused = Answer::Stored(Err(Reject::new(500, "Out of order CSeq")));
    let out = feed(&mut e, Input::Answer { token, answer: refused });
    assert_eq!(status(&answer(&out)), 500);
    assert!(e.registrations(b"sip:bob@example.com").is_empty());
}

#[test]
fn without_the_store_a_register_is_kept_in_memory_journaled_and_replayed() {
    let mut e = cluster_edge();
    // The store has not answered yet (start while Redis is away).
    let reg = register_to("bob", "example.com", "c1", 1, "Contact: <sip:bob@10.0.0.1:5070>\r\n");
    assert_eq!(status(&answer(&run_at(&mut e, NOW, udp(5070), &reg))), 200);
    assert_eq!(e.cluster().unwrap().journal_depth(), 1);
    assert_eq!(e.counters.cluster.served_from_memory, 1);
    // Redis is back: the AOR is re-asserted as this edge holds it.
    let (token, ask) = the_ask(store_up(&mut e));
    let Ask::Store(w) = ask else { panic!("{ask:?}") };
    let WriteKind::Assert { bindings } = &w.kind else { panic!("{w:?}") };
    assert_eq!((w.aor.as_slice(), bindings.len(), bindings[0].expires), (&b"sip:bob@example.com"[..], 1, 3600));
    feed(&mut e, Input::Answer { token, answer: Answer::Stored(Ok(Fetched::default())) });
    assert_eq!(e.cluster().unwrap().journal_depth(), 0);
    assert_eq!(e.counters.cluster.replays, 1);
}

#[test]
fn a_store_that_misses_its_deadline_degrades_to_memory_not_to_silence() {
    let mut e = cluster_edge();
    store_up(&mut e);
    let reg = register_to("bob", "example.com", "c1", 1, "Contact: <sip:bob@10.0.0.1:5070>\r\n");
    let (token, _) = the_ask(run_at(&mut e, NOW, udp(5070), &reg));
    let mut out = Vec::new();
    e.tick(NOW * 1000 + 300, &mut out);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1, "{out:?}");
    assert!(sent[0].1.starts_with("SIP/2.0 200"), "answered from memory once the store is late");
    assert_eq!(e.registrations(b"sip:bob@example.com").len(), 1);
    // The store still counts as up: the AOR is written again at once (paced), not left for its next down-and-up.
    let again = out
        .into_iter()
        .filter(|o| matches!(o, Output::Ask { ask: Ask::Store(w), .. } if matches!(w.kind, WriteKind::Assert { .. })))
        .count();
    assert_eq!(again, 1);
    // Its first answer arriving late finds nothing to resume.
    assert!(feed(&mut e, Input::Answer { token, answer: Answer::Stored(Ok(Fetched::default())) }).is_empty());
}

#[test]
fn a_journal_past_its_bound_re_asserts_everything() {
    let mut e = cluster_edge();
    for user in ["u1", "u2", "u3"] {
        let reg = register_to(user, "example.com", user, 1, &format!("Contact: <sip:{user}@10.0.0.1:5070>\r\n"));
        run_at(&mut e, NOW, udp(5070), &reg);
    }
    assert_eq!(e.counters.cluster.journal_overflows, 1);
    let first = store_up(&mut e);
    let asks: Vec<u64> =
        first.iter().filter_map(|o| if let Output::Ask { token, .. } = o { Some(*token) } else { None }).collect();
    assert_eq!(asks.len(), 1, "paced: the first of three now");
    feed(&mut e, Input::Answer { token: asks[0], answer: Answer::Stored(Ok(Fetched::default())) });
    let mut out = Vec::new();
    e.tick(NOW * 1000 + 1000, &mut out);
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Ask { .. })).count(), 2, "the other two on the next pace");
    // One of them gets no answer in time: it is written again, not left behind.
    let mut later = Vec::new();
    e.tick(NOW * 1000 + 2000, &mut later);
    assert_eq!(later.iter().filter(|o| matches!(o, Output::Ask { .. })).count(), 2, "both unanswered, both again");
}

#[test]
fn a_call_reaches_another_edges_device_through_that_edge_and_caches_it() {
    let mut e = cluster_edge();
    store_up(&mut e);
    let peers = vec![
        Peer { node: "edge-a".into(), addr: EDGE_A.parse().unwrap() },
        Peer { node: "edge-b".into(), addr: EDGE_B.parse().unwrap() },
    ];
    feed(&mut e, Input::Cluster(ClusterEvent::Peers(peers)));
    let (token, ask) = the_ask(run_at(&mut e, NOW, udp(5070), &invite_bob()));
    assert!(matches!(&ask, Ask::Fetch { aor } if aor == b"sip:bob@example.com"), "{ask:?}");
    let via_b = format!("sip:{EDGE_B};th=TOKEN");
    let theirs = value("edge-b", "sip:bob@198.51.100.7:5060", "198.51.100.7:5060", Transport::Tcp, Some(&via_b));
    let out = feed(
        &mut e,
        Input::Answer { token, answer: Answer::Fetched(Fetched { store_now: NOW, values: vec![theirs] }) },
    );
    let sent = sends(&out);
    let invite = sent.iter().find(|(_, t)| t.starts_with("INVITE")).expect("forwarded");
    assert_eq!(invite.0, Dest::Udp { listener: 0, peer: EDGE_B.parse().unwrap() });
    assert!(invite.1.starts_with(&format!("INVITE {via_b} SIP/2.0")), "{}", invite.1);
    assert_eq!(e.counters.cluster.inter_edge_hops, 1);
    // A second call is served from the cache: no round trip.
    let second = String::from_utf8(invite_bob()).unwrap().replace("call-1", "call-2").replace("inv1", "inv2");
    let out = run_at(&mut e, NOW, udp(5071), second.as_bytes());
    assert!(!out.iter().any(|o| matches!(o, Output::Ask { .. })), "{out:?}");
    assert_eq!(e.counters.cluster.cache_hits, 1);
    // Edge B changed bob: the next call asks again.
    feed(&mut e, Input::Cluster(ClusterEvent::Invalidate { aor: b"sip:bob@example.com".to_vec() }));
    let third = second.replace("call-2", "call-3").replace("inv2", "inv3");
    the_ask(run_at(&mut e, NOW, udp(5072), third.as_bytes()));
}

#[test]
fn a_dead_edges_connection_is_skipped_and_its_udp_device_tried_directly() {
    let mut e = cluster_edge();
    store_up(&mut e);
    let only_a = vec![Peer { node: "edge-a".into(), addr: EDGE_A.parse().unwrap() }];
    feed(&mut e, Input::Cluster(ClusterEvent::Peers(only_a)));
    let (token, _) = the_ask(run_at(&mut e, NOW, udp(5070), &invite_bob()));
    let tcp_dev = value("edge-b", "sip:bob@198.51.100.7:5060", "198.51.100.7:5060", Transport::Tcp, Some("sip:x"));
    let fetched = Fetched { store_now: NOW, values: vec![tcp_dev] };
    let out = feed(&mut e, Input::Answer { token, answer: Answer::Fetched(fetched) });
    let sent = sends(&out);
    assert!(sent.iter().any(|(_, t)| t.starts_with("SIP/2.0 480")), "no binding left: 480 at once {sent:?}");
    assert_eq!(e.counters.cluster.dead_skipped, 1);

    let second = String::from_utf8(invite_bob()).unwrap().replace("call-1", "call-2").replace("inv1", "inv2");
    feed(&mut e, Input::Cluster(ClusterEvent::Invalidate { aor: b"sip:bob@example.com".to_vec() }));
    let (token, _) = the_ask(run_at(&mut e, NOW, udp(5071), second.as_bytes()));
    let udp_dev = value("edge-b", "sip:bob@198.51.100.8:5060", "198.51.100.8:5060", Transport::Udp, Some("sip:x"));
    let fetched = Fetched { store_now: NOW, values: vec![udp_dev] };
    let out = feed(&mut e, Input::Answer { token, answer: Answer::Fetched(fetched) });
    let invite = sends(&out).into_iter().find(|(_, t)| t.starts_with("INVITE")).expect("tried directly");
    assert_eq!(invite.0, Dest::Udp { listener: 0, peer: "198.51.100.8:5060".parse().unwrap() });
}

#[test]
fn restored_bindings_are_this_edges_and_never_older_than_memory() {
    let mut e = cluster_edge();
    let mine = value("edge-a", "sip:bob@10.0.0.1:5070", "10.0.0.1:5070", Transport::Udp, None);
    let theirs = value("edge-b", "sip:bob@198.51.100.7:5060", "198.51.100.7:5060", Transport::Udp, None);
    let fetched = Fetched { store_now: NOW - 10, values: vec![mine, theirs] };
    feed(&mut e, Input::Cluster(ClusterEvent::Restore { aor: b"sip:bob@example.com".to_vec(), fetched }));
    let held = e.registrations(b"sip:bob@example.com");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].contact(), b"sip:bob@10.0.0.1:5070");
    assert_eq!(held[0].expires_at(), NOW + 3600 + 10, "the store's clock is 10 s behind this edge's");
    assert_eq!(e.counters.cluster.restored, 1);
}

#[test]
fn a_restore_never_undoes_a_write_made_since_start() {
    let mut e = cluster_edge();
    store_up(&mut e);
    let remove = register_to("bob", "example.com", "c1", 2, "Contact: <sip:bob@10.0.0.1:5070>;expires=0\r\n");
    let (token, _) = the_ask(run_at(&mut e, NOW, udp(5070), &remove));
    feed(&mut e, Input::Answer { token, answer: Answer::Stored(Ok(Fetched { store_now: NOW, values: Vec::new() })) });
    // What the room read back before that removal arrives after it.
    let old = value("edge-a", "sip:bob@10.0.0.1:5070", "10.0.0.1:5070", Transport::Udp, None);
    let fetched = Fetched { store_now: NOW, values: vec![old] };
    feed(&mut e, Input::Cluster(ClusterEvent::Restore { aor: b"sip:bob@example.com".to_vec(), fetched }));
    assert!(e.registrations(b"sip:bob@example.com").is_empty());
}
