//! Rate limits and the flood tripwire over several shards, sans-IO: four
//! edges with the mesh delivered by hand (`proxy_tests::Net`). A key gets
//! its rule's figures from one port or many; requests wait for a lease in
//! flight and go on when it comes; a lease that never comes drops its
//! waiters, counted; expired leases go back to the owner; a flood spread over every shard is banned at the
//! threshold.

use super::guard_tests::options;
use super::proxy_tests::{config, Asks, Net};
use super::waiting::WAIT_MS;
use super::*;
use crate::core::counters::Drop;
use crate::core::protect::{Action, BanReason, ProtectConfig, Rule, RuleKey, Trip};

fn per_ip(rate: f64, burst: f64) -> ProtectConfig {
    let rule = Rule {
        name: "options-per-ip".into(),
        key: RuleKey::Ip,
        methods: vec![b"OPTIONS".to_vec()],
        user_agent: Vec::new(),
        event: Vec::new(),
        rate,
        burst,
        action: Action::Reject,
        profile: None,
    };
    ProtectConfig { rules: vec![rule], ..Default::default() }
}

fn net(protect: ProtectConfig, shards: u16) -> Net {
    Net::shards(EdgeConfig { protect, ..config() }, shards)
}

fn owner_of(ip: &str, shards: u16) -> u16 {
    crate::core::protect::ip_owner(ip.parse().unwrap(), shards)
}

/// Codes answered to `peer`.
fn codes(net: &mut Net, peer: &str) -> Vec<u16> {
    net.take(peer).iter().map(|s| s.status()).collect()
}

#[test]
fn one_port_or_sixty_four_get_the_burst_over_four_shards() {
    let mut net = net(per_ip(10.0, 20.0), 4);
    // One port: one shard reads it all (not the owner of the IP).
    let shard = (owner_of("203.0.113.1", 4) + 1) % 4;
    for i in 0..200 {
        net.deliver(shard, "203.0.113.1:5060", &options(i, ""));
    }
    let got = codes(&mut net, "203.0.113.1:5060");
    assert_eq!(got.len(), 200);
    assert_eq!(got.iter().filter(|&&c| c == 200).count(), 20, "the burst, not 20/4");
    assert_eq!(net.mesh.iter().filter(|m| m.ends_with("Ask Lease")).count(), 4, "4 leases of 5");
    // 64 ports spread over the shards by the kernel: the same count.
    let mut ok = 0;
    for i in 0..200u32 {
        let port = 10_000 + i % 64;
        let from = format!("203.0.113.2:{port}");
        net.deliver((port % 4) as u16, &from, &options(1000 + i, ""));
        ok += codes(&mut net, &from).iter().filter(|&&c| c == 200).count();
    }
    assert_eq!(ok, 20);
    // A second later: 10 more for each.
    net.advance(1000);
    let mut ok = 0;
    for i in 0..50u32 {
        let port = 20_000 + i;
        let from = format!("203.0.113.2:{port}");
        net.deliver((port % 4) as u16, &from, &options(2000 + i, ""));
        ok += codes(&mut net, &from).iter().filter(|&&c| c == 200).count();
    }
    assert_eq!(ok, 10);
    let hits: u64 = net.edges.iter().map(|e| e.protect_stats().rule_hits[0]).sum();
    assert_eq!(hits, 180 + 180 + 40);
}

#[test]
fn requests_wait_for_a_lease_in_flight_and_go_on_when_it_comes() {
    let mut net = net(per_ip(1.0, 8.0), 2);
    let shard = 1 - owner_of("203.0.113.3", 2);
    net.asks = Asks::Hold;
    for i in 0..6 {
        net.deliver(shard, "203.0.113.3:5060", &options(i, ""));
    }
    assert!(codes(&mut net, "203.0.113.3:5060").is_empty(), "parked");
    assert_eq!(net.held.len(), 1, "one ask for all of them");
    net.release();
    // The lease held 4 (8/2); the 2 left were asked for again and held.
    assert_eq!(codes(&mut net, "203.0.113.3:5060"), [200; 4]);
    assert_eq!(net.held.len(), 1);
    net.release();
    assert_eq!(codes(&mut net, "203.0.113.3:5060"), [200; 2]);
    assert!(net.edges[shard as usize].waiting.is_empty());
}

#[test]
fn a_lease_that_never_comes_drops_its_waiters_counted() {
    let mut net = net(per_ip(1.0, 8.0), 2);
    let shard = 1 - owner_of("203.0.113.4", 2);
    net.asks = Asks::Hold;
    net.deliver(shard, "203.0.113.4:5060", &options(1, ""));
    net.advance(WAIT_MS + 10);
    assert!(codes(&mut net, "203.0.113.4:5060").is_empty());
    assert_eq!(net.edges[shard as usize].counters.wire.drops.get(Drop::LeaseLost), 1);
    net.held.clear();
    // The mesh is full: the ask is answered Unreachable at once and the request refused.
    net.asks = Asks::Unreachable;
    net.deliver(shard, "203.0.113.4:5060", &options(2, ""));
    assert_eq!(codes(&mut net, "203.0.113.4:5060"), [503]);
    net.asks = Asks::Deliver;
    net.deliver(shard, "203.0.113.4:5060", &options(3, ""));
    assert_eq!(codes(&mut net, "203.0.113.4:5060"), [200]);
}

#[test]
fn expired_leases_go_home_and_the_trusted_core_is_never_limited() {
    let mut net = net(per_ip(0.001, 8.0), 2);
    let owner = owner_of("203.0.113.5", 2);
    net.deliver(1 - owner, "203.0.113.5:5060", &options(1, ""));
    assert_eq!(codes(&mut net, "203.0.113.5:5060"), [200]);
    let view = |net: &Net, s: u16| net.edges[s as usize].limit_view("options-per-ip", "203.0.113.5").unwrap();
    assert_eq!((view(&net, owner).tokens.floor(), view(&net, 1 - owner).tokens), (4.0, 3.0));
    net.advance(2000);
    assert!(net.mesh.iter().any(|m| m.ends_with("LeaseReturn")), "{:?}", net.mesh);
    assert_eq!((view(&net, owner).tokens.floor(), view(&net, 1 - owner).tokens), (7.0, 0.0));
    for i in 0..50 {
        net.deliver((i % 2) as u16, proxy_tests::CORE, &options(100 + i, ""));
    }
    assert_eq!(codes(&mut net, proxy_tests::CORE), [200; 50]);
    assert!(!net.mesh.iter().any(|m| m.ends_with("Ask Lease") && m.starts_with(&format!("{owner}->"))));
}

#[test]
fn a_flood_over_every_shard_is_banned_at_the_threshold() {
    let cfg = ProtectConfig { flood: Some(Trip { count: 40, window_ms: 5000, ban_ms: 60_000 }), ..Default::default() };
    let mut net = net(cfg, 4);
    // 39 from 64 ports over 4 shards, reported on the shards' ticks: no ban.
    for i in 0..39u32 {
        let port = 30_000 + i % 64;
        net.deliver((port % 4) as u16, &format!("203.0.113.6:{port}"), &options(i, ""));
        net.advance(1);
    }
    net.advance(20);
    assert!(net.edges.iter().all(|e| e.bans().is_empty()));
    // The 40th, on any shard: banned within a report, on every shard.
    net.deliver(1, "203.0.113.6:40000", &options(40, ""));
    net.advance(20);
    for e in &net.edges {
        let bans = e.bans();
        assert_eq!(bans.len(), 1, "banned at 40, not at 4 x 40");
        assert_eq!((bans[0].reason, bans[0].shard), (BanReason::Flood, owner_of("203.0.113.6", 4)));
    }
    assert!(net.mesh.iter().any(|m| m.ends_with("FloodCounts")));
}
