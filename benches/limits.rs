//! What a rate-limit rule and the flood tripwire cost per request, in the
//! core (`core::protect`), time passed in: no rule; one per-IP rule on the
//! key's owner shard (its bucket); the same on another shard (spending a
//! lease, with the owner's grant every batch done by hand, as the mesh
//! would); the flood count on the IP's owner and on another shard (which
//! also keeps the count to report). `bench/limits.sh` measures the whole
//! edge under load.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sipedge::core::protect::{Action, Facts, Protect, ProtectConfig, Rule, RuleKey, Trip, Verdict};
use std::net::IpAddr;

const T0: u64 = 1_700_000_000_000;

fn config(rules: bool) -> ProtectConfig {
    let rule = Rule {
        name: "per-ip".into(),
        key: RuleKey::Ip,
        methods: Vec::new(),
        user_agent: Vec::new(),
        event: Vec::new(),
        rate: 10_000_000.0,
        burst: 10_000_000.0,
        action: Action::Reject,
        profile: None,
    };
    ProtectConfig {
        allow: Vec::new(),
        scanners: Default::default(),
        flood: Some(Trip { count: u32::MAX, window_ms: 5_000, ban_ms: 60_000 }),
        auth_failures: None,
        rules: if rules { vec![rule] } else { Vec::new() },
        max_size: Vec::new(),
        udp_mtu: 1300,
    }
}

/// One request on shard `s` of `shards`, leases granted by the owner at once.
fn limit(shards: &mut [Protect], s: usize, f: &Facts<'_>, now: u64) -> bool {
    match shards[s].limit(f, now, 0) {
        Verdict::Pass => true,
        Verdict::Wait { rule, key, ask: Some(ask) } => {
            shards[s].wait(rule, &key, 1);
            let granted = shards[ask.owner as usize].grant(rule, &key, ask.want, ask.returning, now);
            shards[s].leased(rule, &key, Some(granted), now).0.pass == [1]
        }
        _ => false,
    }
}

fn bench(c: &mut Criterion) {
    let ip: IpAddr = "203.0.113.7".parse().unwrap();
    let f = Facts {
        ip,
        method: b"INVITE",
        aor: Some(b"sip:alice@example.com"),
        event: None,
        user_agent: None,
        profile: None,
    };
    let mut g = c.benchmark_group("limits");
    for (name, rules, on_owner) in
        [("no rule", false, true), ("per-ip, owner", true, true), ("per-ip, lease", true, false)]
    {
        let mut shards: Vec<Protect> = (0..2).map(|s| Protect::new(config(rules), s, 2)).collect();
        let owner = shards[0].ip_owner(ip) as usize;
        let s = if on_owner { owner } else { 1 - owner };
        // A million requests a second of the edge's clock.
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                black_box(limit(&mut shards, s, black_box(&f), T0 + i / 1000))
            })
        });
    }
    for (name, on_owner) in [("flood count, owner", true), ("flood count, other shard", false)] {
        let mut shards: Vec<Protect> = (0..2).map(|s| Protect::new(config(false), s, 2)).collect();
        let owner = shards[0].ip_owner(ip) as usize;
        let s = if on_owner { owner } else { 1 - owner };
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let r = shards[s].count_request(black_box(ip), T0 + i / 1000);
                if i.is_multiple_of(10_000) {
                    // A report every 10 ms of the clock, as the shard's tick sends it.
                    black_box(shards[s].flood_reports(T0 + i / 1000));
                }
                black_box(r)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
