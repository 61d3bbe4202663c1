//! Buckets, bans, scanners and rules with a virtual clock (ms).

use super::*;

const T0: u64 = 1_700_000_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A rule counting every request (a fixture the edge's tests share).
pub(crate) fn rule(name: &str, key: RuleKey, rate: f64, burst: f64) -> Rule {
    Rule {
        name: name.into(),
        key,
        methods: Vec::new(),
        user_agent: Vec::new(),
        event: Vec::new(),
        rate,
        burst,
        action: Action::Reject,
        profile: None,
    }
}

fn facts<'a>(from: &str, method: &'a [u8]) -> Facts<'a> {
    Facts { ip: ip(from), method, aor: None, event: None, user_agent: None, profile: None }
}

fn with(cfg: ProtectConfig) -> Protect {
    Protect::new(cfg, 0, 1)
}

fn passes(p: &mut Protect, f: &Facts<'_>, now: u64, n: usize) -> usize {
    (0..n).filter(|_| p.limit(f, now, 0) == Verdict::Pass).count()
}

#[test]
fn bucket_allows_burst_then_rate() {
    let mut b = Bucket::full(3.0, T0);
    assert!((0..3).all(|_| b.take(T0, 2.0, 3.0).is_ok()));
    assert_eq!(b.take(T0, 2.0, 3.0), Err(1));
    assert!(b.take(T0 + 500, 2.0, 3.0).is_ok(), "half a second at 2/s is one token");
    assert!(b.take(T0 + 500, 2.0, 3.0).is_err());
    assert!(!b.is_full(T0 + 1000, 2.0, 3.0));
    assert!(b.is_full(T0 + 2000, 2.0, 3.0));
    let mut slow = Bucket::full(1.0, T0);
    slow.take(T0, 0.1, 1.0).unwrap();
    assert_eq!(slow.take(T0, 0.1, 1.0), Err(10), "Retry-After is when the next token comes");
}

#[test]
fn per_ip_rule_limits_each_source_apart() {
    let mut p = with(ProtectConfig { rules: vec![rule("ip", RuleKey::Ip, 1.0, 5.0)], ..Default::default() });
    assert_eq!(passes(&mut p, &facts("192.0.2.1", b"REGISTER"), T0, 20), 5);
    assert_eq!(passes(&mut p, &facts("192.0.2.2", b"REGISTER"), T0, 20), 5, "another source has its own bucket");
    assert_eq!(passes(&mut p, &facts("192.0.2.1", b"REGISTER"), T0 + 3000, 20), 3, "3 s at 1/s");
    assert_eq!(p.stats.rule_hits, vec![15 + 15 + 17]);
    p.tick(T0 + 60_000);
    assert_eq!(p.tracked(), 0, "full buckets are forgotten");
}

/// Shards of one edge whose lease asks are served by the owner at once
/// (what the mesh does, by hand).
struct Edge {
    shards: Vec<Protect>,
    waiter: u64,
}

impl Edge {
    fn new(cfg: ProtectConfig, n: u16) -> Edge {
        Edge { shards: (0..n).map(|s| Protect::new(cfg.clone(), s, n)).collect(), waiter: 0 }
    }

    /// One request read by shard `s`: admitted?
    fn request(&mut self, s: usize, f: &Facts<'_>, now: u64) -> bool {
        match self.shards[s].limit(f, now, 0) {
            Verdict::Pass => true,
            Verdict::Reject { .. } | Verdict::Drop { .. } => false,
            Verdict::Wait { rule, key, ask } => {
                self.waiter += 1;
                let w = self.waiter;
                self.shards[s].wait(rule, &key, w);
                let mut ask = ask.expect("nothing else in flight");
                loop {
                    let granted = self.shards[ask.owner as usize].grant(rule, &key, ask.want, ask.returning, now);
                    let (r, _) = self.shards[s].leased(rule, &key, Some(granted), now);
                    match r.ask {
                        Some(again) => ask = again,
                        None => return r.pass.contains(&w),
                    }
                }
            }
        }
    }

    /// `n` requests spread over the shards in turn, from `first`: how many were admitted.
    fn spread(&mut self, first: usize, f: &Facts<'_>, now: u64, n: usize) -> usize {
        let k = self.shards.len();
        (0..n).filter(|i| self.request((first + i) % k, f, now)).count()
    }

    fn tick(&mut self, now: u64) {
        for s in 0..self.shards.len() {
            for back in self.shards[s].tick(now) {
                self.shards[back.owner as usize].give_back(back.rule, &back.key, back.tokens, now);
            }
        }
    }
}

fn edge_key_owner(f: &Facts<'_>, n: u16) -> usize {
    let mut key = Vec::new();
    ip_key(f.ip, &mut key);
    crate::core::owner::shard_of(&key, n as usize)
}

#[test]
fn one_shard_of_four_gets_the_whole_rule_through_leases() {
    let cfg = ProtectConfig { rules: vec![rule("ip", RuleKey::Ip, 10.0, 20.0)], ..Default::default() };
    let mut edge = Edge::new(cfg, 4);
    let f = facts("198.51.100.7", b"INVITE");
    let owner = edge_key_owner(&f, 4);
    let other = (owner + 1) % 4;
    assert_eq!(edge.spread(other, &f, T0, 1) + (0..199).filter(|_| edge.request(other, &f, T0)).count(), 20);
    assert_eq!(edge.shards[other].stats.lease_asks, 4, "4 leases of 20/4; the last said the bucket was empty");
    assert_eq!(edge.shards[owner].stats.lease_grants, 4);
    assert_eq!(edge.shards[other].stats.rule_hits, vec![180]);
    assert_eq!((0..50).filter(|_| edge.request(other, &f, T0 + 50)).count(), 0, "refused here, no ask");
    assert_eq!(edge.shards[other].stats.lease_asks, 4);
    assert_eq!((0..50).filter(|_| edge.request(other, &f, T0 + 1000)).count(), 10, "10/s");
    assert_eq!((0..50).filter(|_| edge.request(owner, &f, T0 + 2000)).count(), 10, "the owner, 10/s too");
}

#[test]
fn a_key_spread_over_every_shard_gets_the_same() {
    for n in [1u16, 2, 4, 7] {
        let cfg = ProtectConfig { rules: vec![rule("ip", RuleKey::Ip, 10.0, 20.0)], ..Default::default() };
        let mut edge = Edge::new(cfg, n);
        let f = facts("203.0.113.77", b"OPTIONS");
        assert_eq!(edge.spread(0, &f, T0, 200), 20, "{n} shards: the burst");
        let later = edge.spread(1, &f, T0 + 1000, 200);
        assert_eq!(later, 10, "{n} shards: 10/s");
        let total: u64 = edge.shards.iter().map(|p| p.stats.rule_hits[0]).sum();
        assert_eq!(total, 400 - 30);
    }
}

#[test]
fn expired_leases_go_back_to_the_owner() {
    let cfg = ProtectConfig { rules: vec![rule("ip", RuleKey::Ip, 10.0, 20.0)], ..Default::default() };
    let mut edge = Edge::new(cfg, 4);
    let f = facts("198.51.100.8", b"INVITE");
    let owner = edge_key_owner(&f, 4);
    let other = (owner + 2) % 4;
    assert!(edge.request(other, &f, T0));
    let view = |e: &Edge, s: usize, now| e.shards[s].view("ip", "198.51.100.8", now).unwrap();
    assert_eq!(view(&edge, other, T0), KeyView { shard: other as u16, owner: false, tokens: 4.0 });
    assert_eq!(view(&edge, owner, T0).tokens, 15.0);
    assert_eq!((0..100).filter(|_| edge.request(owner, &f, T0)).count(), 15, "4 are lent out");
    edge.tick(T0 + 100);
    assert!(edge.request(other, &f, T0 + 150), "spent within its time");
    assert_eq!(view(&edge, other, T0 + 150).tokens, 3.0);
    edge.tick(T0 + LEASE_TTL_MS);
    assert_eq!(view(&edge, other, T0 + 1000).tokens, 0.0);
    assert_eq!(edge.shards[other].stats.lease_returns, 1);
    assert_eq!((0..100).filter(|_| edge.request(owner, &f, T0 + 1000)).count(), 13, "10 refilled + 3 back");
    assert!(edge.shards[owner].view("nope", "198.51.100.8", T0).is_none());
    assert!(edge.shards[owner].view("ip", "not an ip", T0).is_none());
}

#[test]
fn an_expired_lease_is_not_spent_but_handed_back_with_the_next_ask() {
    let cfg = ProtectConfig { rules: vec![rule("ip", RuleKey::Ip, 10.0, 20.0)], ..Default::default() };
    let mut edge = Edge::new(cfg, 4);
    let f = facts("198.51.100.9", b"INVITE");
    let owner = edge_key_owner(&f, 4);
    let other = (owner + 1) % 4;
    assert!(edge.request(other, &f, T0));
    assert_eq!((0..100).filter(|_| edge.request(owner, &f, T0)).count(), 15);
    // 300 ms later the lease (4 left) has expired: the ask hands them back.
    let Verdict::Wait { rule: 0, key, ask: Some(ask) } = edge.shards[other].limit(&f, T0 + 300, 0) else { panic!() };
    assert_eq!(ask, LeaseAsk { owner: owner as u16, want: 5, returning: 4 });
    edge.shards[other].wait(0, &key, 1);
    let granted = edge.shards[owner].grant(0, &key, ask.want, ask.returning, T0 + 300);
    assert_eq!(granted, (5, 0), "3 refilled + 4 back, 5 lent");
    let (r, _) = edge.shards[other].leased(0, &key, Some(granted), T0 + 300);
    assert_eq!(r.pass, vec![1]);
    let view = |e: &Edge, s: usize| e.shards[s].view("ip", "198.51.100.9", T0 + 300).unwrap().tokens;
    assert_eq!((view(&edge, owner).round(), view(&edge, other)), (2.0, 4.0));
}

#[test]
fn requests_queue_behind_one_ask_and_an_empty_owner_refuses_the_rest() {
    let cfg = ProtectConfig { rules: vec![rule("aor", RuleKey::Aor, 1.0, 8.0)], ..Default::default() };
    let mut shards: Vec<Protect> = (0..2).map(|s| Protect::new(cfg.clone(), s, 2)).collect();
    let f = Facts { aor: Some(b"sip:alice@example.com"), ..facts("192.0.2.1", b"REGISTER") };
    let owner = crate::core::owner::shard_of(b"sip:alice@example.com", 2);
    let (o, s) = (owner, 1 - owner);
    let Verdict::Wait { rule: 0, key, ask: Some(ask) } = shards[s].limit(&f, T0, 0) else { panic!() };
    assert_eq!(ask, LeaseAsk { owner: o as u16, want: 4, returning: 0 });
    shards[s].wait(0, &key, 1);
    for w in 2..=10 {
        assert_eq!(shards[s].limit(&f, T0, 0), Verdict::Wait { rule: 0, key: key.clone(), ask: None }, "queued");
        shards[s].wait(0, &key, w);
    }
    let granted = shards[o].grant(0, &key, 4, 0, T0);
    let (r, _) = shards[s].leased(0, &key, Some(granted), T0);
    assert_eq!(
        (r.pass, r.ask),
        (vec![1, 2, 3, 4], Some(LeaseAsk { owner: o as u16, want: 6, returning: 0 })),
        "ask for the rest"
    );
    let granted = shards[o].grant(0, &key, 6, 0, T0);
    let (r, action) = shards[s].leased(0, &key, Some(granted), T0);
    assert_eq!((r.pass, r.over, r.retry_after, r.ask), (vec![5, 6, 7, 8], vec![9, 10], 1, None));
    assert_eq!(action, Action::Reject);
    assert_eq!(shards[s].stats.rule_hits, vec![2]);
    assert!(matches!(shards[s].limit(&f, T0 + 500, 0), Verdict::Reject { retry_after: 1, .. }), "held off");
    assert!(matches!(shards[s].limit(&f, T0 + 1000, 0), Verdict::Wait { ask: Some(_), .. }), "asks again");
    shards[s].wait(0, &key, 11);
    let (r, _) = shards[s].leased(0, &key, None, T0 + 1000);
    assert_eq!((r.over, r.retry_after), (vec![11], 1), "no answer: refused");
}

#[test]
fn flood_counted_over_every_shard_and_banned_by_the_owner() {
    let cfg = ProtectConfig { flood: Some(Trip { count: 100, window_ms: 2000, ban_ms: 60_000 }), ..Default::default() };
    let mut shards: Vec<Protect> = (0..4).map(|s| Protect::new(cfg.clone(), s, 4)).collect();
    let src = ip("203.0.113.50");
    let owner = shards[0].ip_owner(src) as usize;
    // 24 from each shard: 96 in all, no ban.
    for p in shards.iter_mut() {
        assert!((0..24).all(|_| p.count_request(src, T0).is_none()));
    }
    let other = (owner + 1) % 4;
    assert_eq!(shards[other].take_wake(), Some(T0), "a report is due: the shard wakes for it");
    assert_eq!((shards[other].take_wake(), shards[owner].take_wake()), (None, None));
    let report = |shards: &mut Vec<Protect>, now| {
        let mut bans = Vec::new();
        for s in 0..4 {
            for (to, counts) in shards[s].flood_reports(now) {
                assert_eq!(to as usize, owner);
                bans.extend(counts.into_iter().filter_map(|(ip, n)| shards[to as usize].flood_reported(ip, n, now)));
            }
        }
        bans
    };
    assert!(report(&mut shards, T0 + REPORT_MS).is_empty());
    assert_eq!(shards[owner].stats.flood_reports, 0, "the owner reports to nobody");
    assert_eq!(shards[(owner + 1) % 4].stats.flood_reports, 1);
    assert!(report(&mut shards, T0 + REPORT_MS + 1).is_empty(), "nothing new, nothing sent");
    // Four more, on the shards that are not the owner: the 100th trips the wire.
    for s in (0..4).filter(|&s| s != owner) {
        assert!(shards[s].count_request(src, T0 + 20).is_none());
    }
    assert!(shards[owner].count_request(src, T0 + 20).is_none());
    let bans = report(&mut shards, T0 + 2 * REPORT_MS);
    assert_eq!(bans.len(), 1, "at the threshold over all shards, not at 4x it");
    assert_eq!((bans[0].reason, bans[0].shard as usize), (BanReason::Flood, owner));
}

#[test]
fn a_flood_one_shard_banned_alone_is_not_banned_again_by_the_owner() {
    let cfg = ProtectConfig { flood: Some(Trip { count: 10, window_ms: 2000, ban_ms: 60_000 }), ..Default::default() };
    let mut shards: Vec<Protect> = (0..2).map(|s| Protect::new(cfg.clone(), s, 2)).collect();
    let src = ip("203.0.113.51");
    let owner = shards[0].ip_owner(src) as usize;
    let other = 1 - owner;
    let ban = (0..10).find_map(|_| shards[other].count_request(src, T0)).expect("seen alone: banned at once");
    shards[owner].learn(ban);
    for (_, counts) in shards[other].flood_reports(T0 + REPORT_MS) {
        assert!(counts.into_iter().all(|(ip, n)| shards[owner].flood_reported(ip, n, T0 + REPORT_MS).is_none()));
    }
    assert_eq!(shards[owner].stats.bans_total.get(BanReason::Flood), 0, "one ban, decided once");
}

#[test]
fn keys_and_filters() {
    let mut by_event = rule("presence", RuleKey::Event, 0.001, 2.0);
    by_event.methods = vec![b"SUBSCRIBE".to_vec()];
    let mut by_ua = rule("ua", RuleKey::UserAgent, 0.001, 1.0);
    by_ua.user_agent = b"acme".to_vec();
    let mut drop = rule("global-options", RuleKey::Global, 0.001, 1.0);
    drop.methods = vec![b"OPTIONS".to_vec()];
    drop.action = Action::Drop;
    let aor = rule("aor", RuleKey::Aor, 0.001, 3.0);
    let mut p = with(ProtectConfig { rules: vec![by_event, by_ua, drop, aor], ..Default::default() });

    let sub = |ev: &'static [u8], from: &'static str| Facts { event: Some(ev), ..facts(from, b"SUBSCRIBE") };
    assert_eq!(passes(&mut p, &sub(b"presence", "192.0.2.1"), T0, 1), 1);
    assert_eq!(
        passes(&mut p, &sub(b"PRESENCE", "192.0.2.2"), T0, 1),
        1,
        "one bucket per package, any source, case-blind"
    );
    assert!(matches!(p.limit(&sub(b"presence", "192.0.2.3"), T0, 0), Verdict::Reject { rule: 0, .. }));
    assert_eq!(passes(&mut p, &sub(b"dialog", "192.0.2.3"), T0, 2), 2);
    assert_eq!(passes(&mut p, &facts("192.0.2.3", b"NOTIFY"), T0, 5), 5, "methods filter; no event, no bucket");

    let ua = |v: &'static [u8]| Facts { user_agent: Some(v), ..facts("192.0.2.9", b"MESSAGE") };
    assert_eq!(passes(&mut p, &ua(b"ACME phone 1.0"), T0, 3), 1);
    assert_eq!(passes(&mut p, &ua(b"ACME phone 2.0"), T0, 3), 1, "one bucket per User-Agent value");
    assert_eq!(passes(&mut p, &ua(b"Other"), T0, 3), 3, "pattern does not match");

    assert_eq!(p.limit(&facts("192.0.2.4", b"OPTIONS"), T0, 0), Verdict::Pass);
    assert_eq!(
        p.limit(&facts("192.0.2.5", b"OPTIONS"), T0, 0),
        Verdict::Drop { rule: 2 },
        "global: one bucket per method for everyone"
    );

    let alice = Facts { aor: Some(b"sip:alice@example.com"), ..facts("192.0.2.6", b"INVITE") };
    let alice_elsewhere = Facts { ip: ip("192.0.2.7"), ..alice };
    assert_eq!(
        passes(&mut p, &alice, T0, 2) + passes(&mut p, &alice_elsewhere, T0, 2),
        3,
        "the AOR's bucket, from any address"
    );
    assert_eq!(p.stats.rule_hits, vec![1, 4, 1, 1]);
}

fn bans_cfg() -> ProtectConfig {
    ProtectConfig {
        allow: vec![crate::core::net::Cidr { net: ip("10.0.0.0"), bits: 8 }],
        flood: Some(Trip { count: 100, window_ms: 2000, ban_ms: 60_000 }),
        auth_failures: Some(Trip { count: 5, window_ms: 60_000, ban_ms: 600_000 }),
        ..Default::default()
    }
}

#[test]
fn flood_bans_until_expiry() {
    let mut p = with(bans_cfg());
    let src = ip("203.0.113.5");
    // 99 in a window, a pause past it, 99 more: under the threshold.
    assert!((0..99).all(|_| p.count_request(src, T0).is_none()));
    assert!((0..99).all(|_| p.count_request(src, T0 + 2500).is_none()));
    let ban = (0..2).find_map(|_| p.count_request(src, T0 + 2600)).expect("the 100th in a window bans");
    assert_eq!(ban, Ban { ip: src, reason: BanReason::Flood, expires_at_ms: T0 + 2600 + 60_000, shard: 0 });
    assert!(p.banned(src, T0 + 2600));
    assert!(p.banned(src, T0 + 62_599));
    assert_eq!(
        p.active_by_reason(T0 + 3000).iter().collect::<Vec<_>>(),
        [(BanReason::Flood, 1), (BanReason::AuthFailures, 0)]
    );
    assert!(!p.banned(src, T0 + 62_600), "bans expire");
    assert_eq!(p.stats.bans_total.get(BanReason::Flood), 1);
}

#[test]
fn allowlisted_never_banned() {
    let mut p = with(bans_cfg());
    let pbx = ip("10.1.2.3");
    assert!(p.allowed(pbx));
    assert!((0..10_000).all(|_| p.count_request(pbx, T0).is_none()));
    assert!((0..100).all(|_| p.auth_failed(pbx, T0).is_none()));
    p.learn(Ban { ip: pbx, reason: BanReason::Flood, expires_at_ms: T0 + 1000, shard: 1 });
    assert!(!p.banned(pbx, T0), "not even when another shard says so");
}

#[test]
fn auth_failures_ban_and_can_be_lifted() {
    let mut p = with(bans_cfg());
    let guesser = ip("2001:db8::66");
    assert!((0..4).all(|_| p.auth_failed(guesser, T0).is_none()));
    // The window passes: the count starts over.
    assert!((0..4).all(|_| p.auth_failed(guesser, T0 + 61_000).is_none()));
    let ban = p.auth_failed(guesser, T0 + 61_000).expect("fifth failure in the window");
    assert_eq!(ban.reason, BanReason::AuthFailures);
    assert!(p.banned(guesser, T0 + 100_000));
    assert_eq!(p.bans.active(T0 + 100_000).count(), 1);
    assert!(p.lift(guesser));
    assert!(!p.banned(guesser, T0 + 100_000));
    assert!(!p.lift(guesser));
    assert!(p.auth_failed(guesser, T0 + 100_000).is_none(), "lifting forgets the count too");
}

#[test]
fn a_ban_learned_from_another_shard_counts_there_only() {
    let mut p = with(bans_cfg());
    let src = ip("198.51.100.1");
    p.learn(Ban { ip: src, reason: BanReason::AuthFailures, expires_at_ms: T0 + 5000, shard: 3 });
    assert!(p.banned(src, T0));
    assert_eq!(
        p.active_by_reason(T0).iter().collect::<Vec<_>>(),
        [(BanReason::Flood, 0), (BanReason::AuthFailures, 0)],
        "the deciding shard reports it"
    );
    p.tick(T0 + 5000);
    assert_eq!(p.bans.active(T0).count(), 0);
}

/// Scanner User-Agents (the product's list is `protect.scanners` in `default.toml`).
const KNOWN_SCANNERS: [&str; 9] = [
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "VaxSIPUserAgent",
    "sundayddr",
    "iWar",
    "sip-scan",
    "SIPScan",
    "pplsip",
];

#[test]
fn scanners_match_case_insensitive_substrings() {
    let s = Scanners::new(&KNOWN_SCANNERS);
    for ua in [
        "friendly-scanner",
        "Friendly-Scanner/1.0",
        "sipvicious 0.3.4",
        "SIPCLI/v1.8",
        "VaxSIPUserAgent/3.1",
        "sundayddr",
        "iWar",
        "sip-scan",
        "sipscan",
        "PPLSIP",
    ] {
        assert!(s.matches(ua.as_bytes()), "{ua}");
    }
    for ua in ["Linphone/5.0", "Yealink SIP-T46S", "sipsak 0.9.8", "Grandstream HT802"] {
        assert!(!s.matches(ua.as_bytes()), "{ua}");
    }
    let mut p = with(ProtectConfig { scanners: s, ..Default::default() });
    assert!(p.scanner(Some(b"friendly-scanner")));
    assert!(!p.scanner(None));
    assert_eq!(p.stats.scanner_drops, 1);
    assert!(!with(ProtectConfig::default()).scanner(Some(b"friendly-scanner")), "no patterns: no filter");
}

#[test]
fn event_package_drops_parameters() {
    assert_eq!(event_package(b"presence;id=1"), b"presence");
    assert_eq!(event_package(b" dialog "), b"dialog");
}
