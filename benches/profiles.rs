//! What matching a request's sender against `[[profile]]`s costs, in the
//! core (`core::profile`): eight profiles (User-Agent substrings, source
//! networks, transports), for a sender the first one matches, the last
//! one matches, and none matches (every matcher tried). The edge matches
//! only when profiles are configured; a request with profiles is matched a
//! few times (counted, rate rules, its transaction, the edge's own answer).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sipedge::core::net::Cidr;
use sipedge::core::profile::{Profile, Profiles};
use sipedge::core::Transport;
use std::net::IpAddr;

fn profiles() -> Profiles {
    let ua = |s: &[&str]| s.iter().map(|u| u.to_ascii_lowercase().into_bytes()).collect();
    let mut list =
        vec![Profile { name: "baresip".into(), user_agent: ua(&["baresip", "JsSIP"]), ..Profile::default() }];
    for (i, net) in
        ["10.1.0.0/16", "10.2.0.0/16", "192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"].iter().enumerate()
    {
        list.push(Profile {
            name: format!("site-{i}"),
            sources: vec![Cidr::parse(net).unwrap()],
            ..Profile::default()
        });
    }
    list.push(Profile { name: "tls".into(), transports: vec![Transport::Tls], ..Profile::default() });
    list.push(Profile {
        name: "yealink-office".into(),
        user_agent: ua(&["Yealink", "Grandstream", "Polycom"]),
        sources: vec![Cidr::parse("203.0.113.0/24").unwrap()],
        ..Profile::default()
    });
    Profiles(list)
}

fn bench(c: &mut Criterion) {
    let p = profiles();
    let mut g = c.benchmark_group("profiles");
    let cases: [(&str, &[u8], &str); 3] = [
        ("first matches", b"baresip v1.0.0 (x86_64/linux)", "198.18.0.1"),
        ("last matches", b"Yealink SIP-T46U 66.86.0.15", "203.0.113.9"),
        ("none matches", b"Linphone Desktop/5.2.6 (Ubuntu 24.04) LinphoneCore/5.3.97", "198.18.0.1"),
    ];
    for (name, ua, ip) in cases {
        let ip: IpAddr = ip.parse().unwrap();
        g.bench_function(name, |b| {
            b.iter(|| black_box(p.matching(black_box(Some(ua)), black_box(ip), Transport::Udp)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
