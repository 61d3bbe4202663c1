//! Branches to names on the virtual clock: the resolver's answers are
//! played by hand (`Net::answer_held`), so every rule of `names.rs` is
//! seen on the wire — parked while resolving, merged lookups, RFC 3263
//! failover between a name's addresses, the blocklist, a failed or slow
//! lookup's final answer, and a CANCEL while waiting.

use super::proxy_tests::*;
use crate::core::proxy::route::{Route, RouteUpstream};
use crate::core::resolve::{Candidate, Dest, Failure, Resolved};
use crate::core::{Answer, Ask, Transport};

const NAME_A: &str = "10.0.2.1:5060";
const NAME_B: &str = "10.0.2.2:5060";

/// `carrier.example` goes to the upstream named `core.example.net`.
fn named_config() -> crate::core::EdgeConfig {
    named_config_over(Transport::Udp, None)
}

/// As `named_config`, over `transport`, with a configured `server_name`.
fn named_config_over(transport: Transport, server_name: Option<&str>) -> crate::core::EdgeConfig {
    let mut cfg = config();
    let dest = Dest::named("core.example.net", None, Some(transport), false).unwrap();
    let up = RouteUpstream {
        transport,
        addr: "0.0.0.0:0".parse().unwrap(),
        name: Some(dest),
        weight: 1,
        tls_name: server_name.map(Into::into),
    };
    cfg.proxy.routes = vec![Route { domain: b"carrier.example".to_vec(), prefix: Vec::new(), upstreams: vec![up] }];
    cfg
}

/// The name's two addresses, A before B (SRV priorities 10 and 20).
fn two_targets(ttl_ms: u64) -> Answer {
    two_targets_over(Transport::Udp, ttl_ms)
}

fn two_targets_over(transport: Transport, ttl_ms: u64) -> Answer {
    let c = |priority, addr: &str| {
        let a: std::net::SocketAddr = addr.parse().unwrap();
        Candidate { priority, weight: 0, transport, port: a.port(), addrs: vec![a.ip()] }
    };
    Answer::Resolved(Ok(Resolved { candidates: vec![c(10, NAME_A), c(20, NAME_B)], ttl_ms }))
}

fn resolves(ask: &Ask) -> bool {
    matches!(ask, Ask::Resolve(d) if d.host == "core.example.net")
}

fn call(net: &mut Net, id: &str) -> Call {
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, id);
    net.send(ALICE, &call.invite(&format!("z9hG4bK{id}")));
    call
}

#[test]
fn a_named_upstream_is_resolved_once_its_503_fails_over_to_the_next_address_which_goes_first_next_time() {
    let mut net = Net::new(named_config());
    call(&mut net, "n1");
    assert_eq!(net.one(ALICE).status(), 100);
    net.quiet(); // parked: nothing goes out before the name is known
    call(&mut net, "n2");
    assert_eq!(net.one(ALICE).status(), 100);
    assert_eq!(net.held.len(), 1, "one lookup for both calls");
    assert_eq!(net.answer_held(|a| resolves(a).then(|| two_targets(60_000))), 1);
    let a1 = net.take(NAME_A);
    assert_eq!(a1.len(), 2, "both calls go to the first address");
    net.send(NAME_A, &a1[0].reply(503, "a", &[]));
    assert_hop_ack(&net.one(NAME_A), &a1[0], "a");
    let b1 = net.one(NAME_B);
    assert_eq!(b1.method(), "INVITE");
    assert_ne!(b1.branch(), a1[0].branch(), "a new branch (RFC 3263 §4.3)");
    net.send(NAME_B, &b1.reply(200, "b", &[]));
    assert_eq!(net.one(ALICE).status(), 200);
    net.send(NAME_A, &a1[1].reply(180, "a2", &[]));
    assert_eq!(net.one(ALICE).status(), 180, "the other call's branch is its own");
    net.quiet();

    // Known now: no lookup; the address that answered 503 is tried last.
    call(&mut net, "n3");
    assert_eq!(net.one(ALICE).status(), 100);
    assert!(net.held.is_empty());
    assert_eq!(net.one(NAME_B).method(), "INVITE");
    net.quiet();
    let c = &net.counters().proxy;
    assert_eq!((c.failovers, c.dns_failovers), (1, [0, 1]));
}

#[test]
fn a_lookup_that_fails_ends_in_503_and_the_failure_is_brief() {
    let mut net = Net::new(named_config());
    call(&mut net, "f1");
    net.take(ALICE);
    net.answer_held(|a| resolves(a).then_some(Answer::Resolved(Err(Failure::Timeout))));
    let fin = net.one(ALICE);
    assert_eq!(fin.text().lines().next().unwrap(), "SIP/2.0 503 DNS Lookup Failed");
    net.take(ALICE);
    // Within failure_ms the failure stands without a query; after it, the name is asked again.
    call(&mut net, "f2");
    assert!(net.take(ALICE).iter().any(|s| s.status() == 503));
    assert!(net.held.is_empty());
    net.advance(1_100);
    call(&mut net, "f3");
    assert_eq!(net.held.len(), 1, "a failure is not remembered long");
    net.answer_held(|a| resolves(a).then(|| two_targets(60_000)));
    assert_eq!(net.take(NAME_A).len(), 1);
    assert_eq!(net.counters().proxy.dns_failed_targets, 2);
}

#[test]
fn a_lookup_past_its_budget_is_answered_503_and_a_late_answer_changes_nothing() {
    let mut net = Net::new(named_config());
    call(&mut net, "b1");
    assert_eq!(net.one(ALICE).status(), 100);
    let wait = net.edges[0].cfg.proxy.dns_wait_ms;
    net.advance(wait + 20);
    let fin = net.one(ALICE);
    assert_eq!(fin.status(), 503, "{}", fin.text());
    net.answer_held(|a| resolves(a).then(|| two_targets(60_000)));
    net.quiet();
}

#[test]
fn a_cancel_while_resolving_ends_the_call_at_once_and_nothing_is_sent_later() {
    let mut net = Net::new(named_config());
    let c = call(&mut net, "x1");
    assert_eq!(net.one(ALICE).status(), 100);
    net.send(ALICE, &c.cancel("z9hG4bKx1"));
    let answers: Vec<u16> = net.take(ALICE).iter().map(|s| s.status()).collect();
    assert_eq!(answers, [200, 487]);
    net.answer_held(|a| resolves(a).then(|| two_targets(60_000)));
    net.quiet();
}

#[test]
fn a_name_that_does_not_exist_is_404() {
    let mut net = Net::new(named_config());
    call(&mut net, "nx");
    net.take(ALICE);
    net.answer_held(|a| resolves(a).then_some(Answer::Resolved(Err(Failure::NotFound { ttl_ms: 30_000 }))));
    assert_eq!(net.one(ALICE).status(), 404);
}

/// Over TLS, each address a name gave is named to the shard before its
/// branch goes out: the certificate must carry the name (RFC 5922 §4), or
/// the upstream's configured `server_name`; over UDP nothing is named.
#[test]
fn a_tls_branch_to_a_resolved_address_names_what_its_certificate_must_carry() {
    for (transport, server_name, want) in [
        (Transport::Tls, None, Some("core.example.net")),
        (Transport::Tls, Some("sbc.example.org"), Some("sbc.example.org")),
        (Transport::Udp, None, None),
    ] {
        let mut net = Net::new(named_config_over(transport, server_name));
        call(&mut net, "t1");
        assert_eq!(net.one(ALICE).status(), 100);
        net.answer_held(|a| resolves(a).then(|| two_targets_over(transport, 60_000)));
        let a = net.one(NAME_A);
        assert_eq!(a.method(), "INVITE", "{transport:?}");
        // The next address, after a 503, is named too.
        net.send(NAME_A, &a.reply(503, "a", &[]));
        net.take(NAME_A);
        assert_eq!(net.one(NAME_B).method(), "INVITE", "{transport:?}");
        let named: Vec<(String, String)> =
            [NAME_A, NAME_B].iter().filter_map(|at| want.map(|w| (at.to_string(), w.to_string()))).collect();
        let got: Vec<(String, String)> = net.tls_names.iter().map(|(p, n)| (p.to_string(), n.clone())).collect();
        assert_eq!(got, named, "{transport:?} {server_name:?}");
    }
}
