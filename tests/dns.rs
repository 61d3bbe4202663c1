//! DNS at the edge (RFC 3263) through the real binary and a real DNS
//! server (dnsmasq on 127.0.0.53, authoritative for `sipedge.test`):
//! the decision table row by row (`/dns/{name}` and real requests), SRV
//! weights and priorities, `_sips._tcp`, an AAAA-only target, a CNAME, a
//! truncated answer fetched again over TCP; failover between a name's
//! targets on 503 (with and without Retry-After), on a timeout and on a
//! refused TCP connection, one final answer when all fail, and the next
//! call not failing because one did; a TTL change picked up after the
//! zone changes, a TTL-0 name not queried per message; a dead DNS server,
//! one that refuses, stale data while the server is stopped, and requests
//! that need no name answered with no added delay while 1,000 lookups hang.
//!
//! Targets are small SIP responders on 127.0.0.2 and 127.0.0.3 answering
//! every request with a code the test sets; callers send MESSAGE (a non-
//! INVITE transaction: Timer F is 64·T1 = 3.2 s with `t1_ms = 50`) from a
//! user of the edge's own domain, so an out-of-dialog request to another
//! domain with no route is resolved by its Request-URI host.

mod common;
use common::dns::*;
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A SIP responder: answers every request (but ACK) with `code`, adding
/// `Retry-After` when set; counts what it got.
struct Target {
    addr: SocketAddr,
    code: Arc<AtomicU16>,
    retry_after: Arc<AtomicU16>,
    got: Arc<AtomicUsize>,
}

impl Target {
    fn start(ip: &str, code: u16) -> Target {
        Target::start_at(ip, 0, code)
    }

    fn start_at(ip: &str, port: u16, code: u16) -> Target {
        let sock = UdpSocket::bind((ip, port)).unwrap();
        let addr = sock.local_addr().unwrap();
        let t = Target {
            addr,
            code: Arc::new(AtomicU16::new(code)),
            retry_after: Arc::new(AtomicU16::new(0)),
            got: Arc::new(AtomicUsize::new(0)),
        };
        let (c, r, g) = (t.code.clone(), t.retry_after.clone(), t.got.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                if req.starts_with("ACK ") || req.starts_with("SIP/2.0") {
                    continue;
                }
                g.fetch_add(1, Ordering::SeqCst);
                let code = c.load(Ordering::SeqCst);
                if code == 0 {
                    continue; // silent: a dead target
                }
                let mut resp = format!("SIP/2.0 {code} Test\r\n");
                for line in req.lines() {
                    let l = line.to_ascii_lowercase();
                    if ["via:", "from:", "call-id:", "cseq:"].iter().any(|h| l.starts_with(h)) {
                        resp.push_str(line);
                        resp.push_str("\r\n");
                    } else if l.starts_with("to:") {
                        resp.push_str(&format!("{line};tag=t{code}\r\n"));
                    }
                }
                let ra = r.load(Ordering::SeqCst);
                if ra > 0 {
                    resp.push_str(&format!("Retry-After: {ra}\r\n"));
                }
                resp.push_str("Content-Length: 0\r\n\r\n");
                let _ = sock.send_to(resp.as_bytes(), from);
            }
        });
        t
    }

    fn got(&self) -> usize {
        self.got.load(Ordering::SeqCst)
    }

    fn set(&self, code: u16) {
        self.code.store(code, Ordering::SeqCst);
    }
}

/// An edge for `sipedge.test` whose DNS is `servers`; `extra` is appended.
fn start_edge(servers: &[SocketAddr], extra: &str) -> Edge {
    let servers: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    Edge::start(
        1,
        &format!(
            "[registrar]\ndomains = [\"sipedge.test\"]\n[auth]\nenabled = false\n[proxy]\nt1_ms = 50\nprobe_interval_secs = 0\n\
             [protect.flood]\nrequests = 0\n[dns]\nservers = [{}]\ntimeout_ms = 300\nattempts = 1\nbudget_ms = 1000\nttl_min_secs = 1\n{extra}\n",
            servers.join(", ")
        ),
    )
}

/// A MESSAGE from alice@sipedge.test to `ruri`: the final answer's code
/// and how long it took (None: no final answer within `wait`).
fn message(edge: &Edge, ruri: &str, id: &str, wait: Duration) -> Option<(u16, Duration)> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let req = format!(
        "MESSAGE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@sipedge.test>;tag=a{id}\r\nTo: <{ruri}>\r\nCall-ID: {id}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    );
    let start = Instant::now();
    sock.send_to(req.as_bytes(), edge.sip).unwrap();
    let mut buf = [0u8; 4096];
    while start.elapsed() < wait {
        sock.set_read_timeout(Some(wait - start.elapsed().min(wait) + Duration::from_millis(1))).unwrap();
        let Ok(n) = sock.recv(&mut buf) else { break };
        let c = code(&String::from_utf8_lossy(&buf[..n]));
        if c >= 200 {
            return Some((c, start.elapsed()));
        }
    }
    None
}

fn dns_json(edge: &Edge, name: &str) -> serde_json::Value {
    let (status, body) = http_get(edge.admin, &format!("/dns/{name}")).unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Every address of every candidate, as "transport ip:port", in order.
fn targets(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in v["candidates"].as_array().cloned().unwrap_or_default() {
        for a in c["addrs"].as_array().unwrap() {
            out.push(format!("{} {}:{}", c["transport"].as_str().unwrap(), a.as_str().unwrap(), c["port"]));
        }
    }
    out
}

#[test]
fn the_rfc3263_decision_table_against_a_real_server() {
    let tcp = Target::start("127.0.0.2", 200);
    let udp = Target::start("127.0.0.3", 200);
    let (tp, up) = (tcp.addr.port(), udp.addr.port());
    let mut records = format!(
        "naptr-record=core.sipedge.test,20,10,S,SIP+D2U,,_sip._udp.core.sipedge.test\n\
         naptr-record=core.sipedge.test,10,10,S,SIP+D2T,,_sip._tcp.core.sipedge.test\n\
         srv-host=_sip._tcp.core.sipedge.test,a.sipedge.test,{tp},10,1\n\
         srv-host=_sip._udp.core.sipedge.test,b.sipedge.test,{up},10,1\n\
         srv-host=_sips._tcp.trunk.sipedge.test,a.sipedge.test,5061,10,1\n\
         srv-host=_sip._udp.none.sipedge.test\n\
         host-record=a.sipedge.test,127.0.0.2\nhost-record=b.sipedge.test,127.0.0.3\n\
         host-record=v6.sipedge.test,::1\ncname=alias.sipedge.test,b.sipedge.test\n"
    );
    for i in 1..=40 {
        records.push_str(&format!("host-record=many.sipedge.test,127.0.1.{i}\n"));
    }
    let dns = Dnsmasq::start(&records, "", 60);
    let edge = start_edge(&[dns.addr], "");

    // No port, no transport: NAPTR, then the SRV it names (TCP first by order), then A.
    let v = dns_json(&edge, "core.sipedge.test");
    assert_eq!(v["first_query"], "NAPTR", "{v}");
    assert_eq!(targets(&v), [format!("tcp 127.0.0.2:{tp}"), format!("udp 127.0.0.3:{up}")], "{v}");
    // transport=udp: SRV of that transport only.
    let v = dns_json(&edge, "sip:core.sipedge.test;transport=udp");
    assert_eq!(v["first_query"], "SRV _sip._udp.core.sipedge.test", "{v}");
    assert_eq!(targets(&v), [format!("udp 127.0.0.3:{up}")]);
    // An explicit port: A/AAAA only, no NAPTR or SRV.
    let before = dns.queries("b.sipedge.test").len();
    let v = dns_json(&edge, &format!("b.sipedge.test:{up}"));
    assert_eq!((v["first_query"].as_str(), targets(&v)), (Some("A/AAAA"), vec![format!("udp 127.0.0.3:{up}")]));
    assert!(dns.queries("b.sipedge.test").len() > before);
    assert!(!dns.queries("").iter().any(|q| q.contains("NAPTR] b.sipedge.test")), "no NAPTR for a port");
    // sips: _sips._tcp, over TLS.
    let v = dns_json(&edge, "sips%3Atrunk.sipedge.test");
    assert_eq!(targets(&v), ["tls 127.0.0.2:5061"], "{v}");
    // An AAAA-only target, a CNAME, a "." SRV (service not offered there), a truncated answer.
    assert_eq!(targets(&dns_json(&edge, "v6.sipedge.test:5060")), ["udp ::1:5060"]);
    assert_eq!(targets(&dns_json(&edge, &format!("alias.sipedge.test:{up}"))), [format!("udp 127.0.0.3:{up}")]);
    let none = dns_json(&edge, "sip:none.sipedge.test;transport=udp");
    assert_eq!(none["error"], "not_found", "a '.' SRV target, and no A record either: {none}");
    let many = targets(&dns_json(&edge, "many.sipedge.test:5060"));
    assert_eq!(many.len(), 40, "40 A records do not fit 512 bytes: read again over TCP");
    assert_eq!(dns_json(&edge, "nothing.sipedge.test:5060")["error"], "not_found");

    // Real requests follow the same table.
    assert_eq!(message(&edge, "sip:bob@core.sipedge.test;transport=udp", "d1", Duration::from_secs(3)).unwrap().0, 200);
    assert_eq!(udp.got(), 1);
    assert_eq!(message(&edge, &format!("sip:bob@a.sipedge.test:{tp}"), "d2", Duration::from_secs(3)).unwrap().0, 200);
    assert_eq!(tcp.got(), 1, "an explicit port over UDP reaches a.sipedge.test");
    let (status, _) = message(&edge, "sip:bob@nothing.sipedge.test", "d3", Duration::from_secs(3)).unwrap();
    assert_eq!(status, 404, "a name that does not exist");
    assert!(edge.wait_metric("sipedge_dns_lookups_total", &["type=\"naptr\""], |v| v >= 1.0) >= 1.0);
}

#[test]
fn srv_priorities_come_first_and_weights_share_the_first_attempts() {
    let heavy = Target::start("127.0.0.2", 200);
    let light = Target::start("127.0.0.3", 200);
    let backup = Target::start("127.0.0.3", 200);
    let records = format!(
        "srv-host=_sip._udp.w.sipedge.test,a.sipedge.test,{},10,3\n\
         srv-host=_sip._udp.w.sipedge.test,b.sipedge.test,{},10,1\n\
         srv-host=_sip._udp.w.sipedge.test,b.sipedge.test,{},20,100\n\
         host-record=a.sipedge.test,127.0.0.2\nhost-record=b.sipedge.test,127.0.0.3\n",
        heavy.addr.port(),
        light.addr.port(),
        backup.addr.port()
    );
    let dns = Dnsmasq::start(&records, "", 60);
    let edge = start_edge(&[dns.addr], "");
    for i in 0..400 {
        let r = message(&edge, "sip:bob@w.sipedge.test;transport=udp", &format!("w{i}"), Duration::from_secs(3));
        assert_eq!(r.map(|r| r.0), Some(200));
    }
    let (h, l) = (heavy.got(), light.got());
    assert_eq!(backup.got(), 0, "priority 20 only when priority 10 fails");
    // 3:1 over 400 picks: 300 ± 4.3 σ (σ ≈ 8.7).
    assert!((262..=338).contains(&h), "weight 3 got {h}, weight 1 got {l}");
    assert_eq!(h + l, 400);
    assert!(dns.queries("_sip._udp.w.sipedge.test").len() <= 2, "cached: {:?}", dns.queries("w.sipedge"));
}

#[test]
fn failover_on_503_timeout_and_refused_connection_and_one_final_answer_when_all_fail() {
    let first = Target::start("127.0.0.2", 503);
    let second = Target::start("127.0.0.3", 200);
    // A TCP port nobody listens on: the connection is refused.
    let refused = std::net::TcpListener::bind("127.0.0.2:0").unwrap().local_addr().unwrap().port();
    let records = format!(
        "srv-host=_sip._udp.f.sipedge.test,a.sipedge.test,{},10,1\n\
         srv-host=_sip._udp.f.sipedge.test,b.sipedge.test,{},20,1\n\
         naptr-record=t.sipedge.test,10,10,S,SIP+D2T,,_sip._tcp.t.sipedge.test\n\
         naptr-record=t.sipedge.test,20,10,S,SIP+D2U,,_sip._udp.f.sipedge.test\n\
         srv-host=_sip._tcp.t.sipedge.test,a.sipedge.test,{refused},10,1\n\
         host-record=a.sipedge.test,127.0.0.2\nhost-record=b.sipedge.test,127.0.0.3\n",
        first.addr.port(),
        second.addr.port()
    );
    let dns = Dnsmasq::start(&records, "", 60);
    // No blocklist, so every call tries the first target again.
    let edge = start_edge(&[dns.addr], "blocklist_secs = 0");
    let f = "sip:bob@f.sipedge.test;transport=udp";
    let wait = Duration::from_secs(8);

    assert_eq!(message(&edge, f, "f1", wait).unwrap().0, 200, "503 without Retry-After: next target");
    assert_eq!((first.got(), second.got()), (1, 1));
    first.retry_after.store(60, Ordering::SeqCst);
    assert_eq!(message(&edge, f, "f2", wait).unwrap().0, 200, "503 with Retry-After");
    assert_eq!(message(&edge, f, "f3", wait).unwrap().0, 200);
    assert_eq!(first.got(), 2, "Retry-After: 60 put the first target last");
    assert_eq!(second.got(), 3);

    let edge = start_edge(&[dns.addr], "");
    first.set(0); // silent: Timer F ends its branch after 3.2 s
    let (status, took) = message(&edge, f, "f4", wait).unwrap();
    assert_eq!(status, 200, "a timeout moves on to the next target");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    let (status, took) = message(&edge, f, "f5", wait).unwrap();
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "the dead target is tried last now: {took:?}");

    // NAPTR says TCP first; its port refuses the connection: on to the UDP targets.
    first.set(200);
    assert_eq!(message(&edge, "sip:bob@t.sipedge.test", "t1", wait).unwrap().0, 200);
    assert!(edge.wait_metric("sipedge_dns_failovers_total", &[], |v| v >= 2.0) >= 2.0);

    // Every target fails: one final answer; then the targets recover and
    // the next call to the name succeeds (a failure is not remembered).
    let edge = start_edge(&[dns.addr], "");
    first.set(503);
    second.set(503);
    let (status, _) = message(&edge, f, "all", wait).unwrap();
    assert_eq!(status, 503);
    first.set(200);
    second.set(200);
    assert_eq!(message(&edge, f, "next", wait).unwrap().0, 200, "one failed call does not fail the next");
}

#[test]
fn a_ttl_change_is_picked_up_and_a_ttl_0_name_is_not_a_query_per_message() {
    let old = Target::start("127.0.0.2", 200);
    let new = Target::start_at("127.0.0.3", old.addr.port(), 200);
    let zero = Target::start("127.0.0.2", 200);
    let dns = Dnsmasq::start("host-record=zero.sipedge.test,127.0.0.2,0\n", "127.0.0.2 moving.sipedge.test\n", 1);
    let edge = start_edge(&[dns.addr], "");
    let moving = format!("sip:bob@moving.sipedge.test:{}", old.addr.port());
    assert_eq!(message(&edge, &moving, "m1", Duration::from_secs(3)).unwrap().0, 200);
    assert_eq!(old.got(), 1);
    // The zone changes (TTL 1 s): within a few seconds the new address is used.
    dns.rewrite_hosts("127.0.0.3 moving.sipedge.test\n");
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut i = 0;
    while new.got() == 0 && Instant::now() < deadline {
        i += 1;
        let _ = message(&edge, &moving, &format!("m{i}"), Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(new.got() >= 1, "the new address was never used");

    // TTL 0: the floor (ttl_min_secs = 1) keeps it to about one query a second.
    let z = format!("sip:bob@zero.sipedge.test:{}", zero.addr.port());
    let start = Instant::now();
    for i in 0..60 {
        assert_eq!(message(&edge, &z, &format!("z{i}"), Duration::from_secs(3)).unwrap().0, 200);
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = start.elapsed().as_secs_f64().ceil() as usize;
    let queries = dns.queries("zero.sipedge.test").len();
    assert!(queries <= 2 * (secs + 2), "{queries} queries (A and AAAA) in {secs} s for 60 messages");
}

#[test]
fn a_dead_or_refusing_dns_server_costs_the_budget_at_most_and_never_delays_other_requests() {
    let (_silent, dead) = silent_server();
    let edge = start_edge(&[dead], "");
    let (status, took) = message(&edge, "sip:bob@core.sipedge.test", "dead", Duration::from_secs(5)).unwrap();
    assert_eq!(status, 503);
    assert!(took < Duration::from_millis(1_600), "within the budget (1 s) and its margin: {took:?}");

    // 1,000 lookups of distinct names hang; OPTIONS to the edge meanwhile.
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    let fport = flood.local_addr().unwrap().port();
    let reader = flood.try_clone().unwrap();
    // Every hanging request gets its final answer (503), read as it comes.
    let finals = std::thread::spawn(move || {
        reader.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        let (mut finals, mut buf) = (0, [0u8; 4096]);
        let _ = socket2::SockRef::from(&reader).set_recv_buffer_size(1 << 20);
        while let Ok(n) = reader.recv(&mut buf) {
            let c = code(&String::from_utf8_lossy(&buf[..n]));
            assert_eq!(c, 503, "{}", String::from_utf8_lossy(&buf[..n]));
            finals += 1;
            if finals == 1000 {
                break;
            }
        }
        finals
    });
    for i in 0..1000 {
        let ruri = format!("sip:bob@n{i}.dead.sipedge.test");
        let req = format!(
            "MESSAGE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{fport};branch=z9hG4bKh{i};rport\r\nMax-Forwards: 70\r\n\
             From: <sip:alice@sipedge.test>;tag=h{i}\r\nTo: <{ruri}>\r\nCall-ID: hang-{i}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
        );
        flood.send_to(req.as_bytes(), edge.sip).unwrap();
        if i % 5 == 4 {
            // 1,000 in about 250 ms: all hang together.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let mut rtts = Vec::new();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let pport = probe.local_addr().unwrap().port();
    for i in 0..100 {
        let start = Instant::now();
        probe.send_to(&options(edge.sip, "UDP", pport, &format!("p{i}")), edge.sip).unwrap();
        let mut buf = [0u8; 4096];
        if probe.recv(&mut buf).is_ok() {
            rtts.push(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    rtts.sort();
    assert_eq!(rtts.len(), 100, "every OPTIONS answered");
    let p99 = rtts[98];
    assert!(p99 < Duration::from_millis(20), "OPTIONS p99 {p99:?} while 1,000 lookups hang");
    // Every request the edge read (UDP may lose a few on a loaded machine)
    // got its 503, and each was a lookup that failed.
    let finals = finals.join().unwrap();
    let read = edge.wait_metric("sipedge_requests_received_total", &["method=\"MESSAGE\""], |v| v >= 1001.0) - 1.0;
    assert!(finals >= 990 && finals as f64 == read, "{finals} answers for {read} requests read of 1,000 sent");
    assert_eq!(edge.wait_metric("sipedge_dns_failed_targets_total", &[], |v| v >= read + 1.0), read + 1.0);

    let edge = start_edge(&[refusing_server()], "");
    let (status, took) = message(&edge, "sip:bob@core.sipedge.test", "refused", Duration::from_secs(5)).unwrap();
    assert_eq!(status, 503);
    assert!(took < Duration::from_millis(500), "a refusal is an answer, not a wait: {took:?}");
    assert!(edge.wait_metric("sipedge_dns_lookups_total", &["result=\"server_failed\""], |v| v >= 1.0) >= 1.0);
}

#[test]
fn stale_data_is_used_while_the_dns_server_is_stopped() {
    let target = Target::start("127.0.0.2", 200);
    let dns = Dnsmasq::start("host-record=s.sipedge.test,127.0.0.2\n", "", 1);
    let edge = start_edge(&[dns.addr], "");
    let s = format!("sip:bob@s.sipedge.test:{}", target.addr.port());
    assert_eq!(message(&edge, &s, "s1", Duration::from_secs(3)).unwrap().0, 200);
    dns.pause(true);
    std::thread::sleep(Duration::from_millis(1_500)); // the 1 s TTL is over
    let (status, took) = message(&edge, &s, "s2", Duration::from_secs(5)).unwrap();
    assert_eq!(status, 200, "served stale while the server does not answer");
    assert!(took < Duration::from_millis(1_600), "{took:?}");
    assert_eq!(target.got(), 2);
    assert!(edge.wait_metric("sipedge_dns_cache_total", &["result=\"stale\""], |v| v >= 1.0) >= 1.0);
    dns.pause(false);
}
