//! The mid-registrar's cost per REGISTER in the core (`Edge::handle`, one
//! shard, no sockets): a refresh answered by a local registrar, the same
//! refresh absorbed by a mid-registrar, and a REGISTER the mid-registrar
//! forwards to the core (what forwarding every REGISTER, Kamailio or
//! OpenSIPS without mid_registrar, costs the edge: the rewrite and a
//! proxy transaction). 1,000 devices, each refreshing in turn.
//! Run: `cargo bench --bench mid_register`.

use criterion::{criterion_group, criterion_main, Criterion};
use sipedge::config::Config;
use sipedge::core::{Edge, Input, Origin, Packet, Transport};
use std::hint::black_box;

const DEVICES: u32 = 1000;
const NOW_MS: u64 = 1_800_000_000_000;

fn edge(mode: &str) -> Edge {
    let toml = format!(
        "[[listen]]\ntransport = \"udp\"\naddr = \"192.0.2.1:5060\"\n[registrar]\ndomains = [\"example.com\"]\n\
         min_expires = 10\nmode = \"{mode}\"\nupstream = [{{ addr = \"10.0.0.5:5060\" }}]\ndevice_expires = 60\n\
         upstream_expires = 3600\n[auth]\nenabled = false\n[proxy]\nprobe_interval_secs = 0\n\
         topology_key = \"{}\"\n[protect]\nallow = [\"10.0.0.0/8\"]\n[protect.flood]\nrequests = 0\n",
        "ab".repeat(32)
    );
    let cfg = Config::parse(&toml, "bench").expect("bench config");
    Edge::new(sipedge::shard::build::edge_config(&cfg, 0, 1, None), NOW_MS, 0)
}

fn register(i: u32, cseq: u32) -> (Origin, Vec<u8>) {
    let peer = format!("10.0.{}.{}:5070", i / 250, i % 250 + 1).parse().unwrap();
    let bytes = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {peer};branch=z9hG4bK{i}x{cseq};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:u{i}@example.com>;tag={cseq}\r\nTo: <sip:u{i}@example.com>\r\nCall-ID: dev{i}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:u{i}@{peer}>\r\nExpires: 60\r\nUser-Agent: Yealink SIP-T46U 108.86.0.20\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes();
    (Origin { transport: Transport::Udp, listener: 0, peer, flow: None }, bytes)
}

/// The core's 200 for a forwarded REGISTER (its Vias, From, To, Call-ID, CSeq).
fn core_ok(req: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(req);
    let mut r = String::from("SIP/2.0 200 OK\r\n");
    for l in text.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
        let n = l.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if ["via", "from", "to", "call-id", "cseq"].contains(&n.as_str()) {
            r.push_str(l);
            r.push_str("\r\n");
        }
    }
    r.push_str("Content-Length: 0\r\n\r\n");
    r.into_bytes()
}

/// Registers every device once (the core accepting, in mid mode).
fn warm(e: &mut Edge) {
    let core = Origin { transport: Transport::Udp, listener: 0, peer: "10.0.0.5:5060".parse().unwrap(), flow: None };
    for i in 0..DEVICES {
        let (origin, bytes) = register(i, 1);
        let mut out = Vec::new();
        e.handle(NOW_MS, Input::Packet(Packet { origin, bytes: &bytes }), &mut out);
        for o in out {
            if let sipedge::core::Output::Send { dest: sipedge::core::Dest::Udp { peer, .. }, bytes } = o {
                if peer == core.peer {
                    let ok = core_ok(&bytes);
                    let mut more = Vec::new();
                    e.handle(NOW_MS, Input::Packet(Packet { origin: core, bytes: &ok }), &mut more);
                }
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let refreshes: Vec<(Origin, Vec<u8>)> = (0..DEVICES).map(|i| register(i, 2)).collect();
    let mut g = c.benchmark_group("register refresh");
    for (name, mode) in [("local registrar", "local"), ("mid-registrar, absorbed", "mid")] {
        let mut e = edge(mode);
        warm(&mut e);
        let mut n = 0usize;
        let mut out = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                let (origin, bytes) = &refreshes[n % refreshes.len()];
                n += 1;
                out.clear();
                e.handle(NOW_MS + 1000, Input::Packet(Packet { origin: *origin, bytes }), &mut out);
                black_box(out.len())
            })
        });
    }
    // Forwarded: a device the core has not seen (each one new to a fresh edge).
    let news: Vec<(Origin, Vec<u8>)> = (0..DEVICES).map(|i| register(i, 1)).collect();
    let mut e = edge("mid");
    let mut n = 0usize;
    let mut out = Vec::new();
    g.bench_function("mid-registrar, forwarded", |b| {
        b.iter(|| {
            if n.is_multiple_of(news.len()) {
                e = edge("mid");
            }
            let (origin, bytes) = &news[n % news.len()];
            n += 1;
            out.clear();
            e.handle(NOW_MS, Input::Packet(Packet { origin: *origin, bytes }), &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
