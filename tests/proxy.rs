//! The stateful proxy through the real binary, with sipp (Debian
//! `sip-tester`) as callers, callees and upstreams on loopback. The core
//! (trusted, inside) lives on 127.0.0.2, devices on 127.0.0.1.
//!
//! Covered: calls to the core over UDP and TCP, calls between registered
//! users (several shards: cross-shard lookups), parallel forking with the
//! losing branch cancelled, failover on timeout and on 503, 408 when every
//! upstream fails, and in-dialog requests after a restart with topology
//! hiding on (and nothing of the core seen by the device), and serial
//! forking past a binding whose TCP connection is gone (RFC 5626 430).

mod common;
use common::sipp::*;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const CORE_IP: &str = "127.0.0.2";

/// Config for an edge in front of a core at CORE_IP, serving `domains`.
/// The first upstream takes every first attempt, the others are backups in order.
fn config(domains: &str, upstreams: &[(u16, &str)], extra: &str) -> String {
    let ups: Vec<String> = upstreams
        .iter()
        .enumerate()
        .map(|(i, (p, t))| {
            format!("{{ addr = \"{CORE_IP}:{p}\", transport = \"{t}\", weight = {} }}", u8::from(i == 0))
        })
        .collect();
    format!(
        "[registrar]\ndomains = [{domains}]\n[auth]\nenabled = false\n[proxy]\ntrusted = [\"{CORE_IP}\"]\nt1_ms = 50\nprobe_interval_secs = 0\n{extra}\n[[proxy.route]]\nupstreams = [{}]\n",
        ups.join(", ")
    )
}

#[test]
fn calls_to_the_core_over_udp_and_tcp() {
    for t in ["u1", "t1"] {
        let transport = if t == "u1" { "udp" } else { "tcp" };
        let uas = free_port();
        let edge = Edge::start(4, &config("\"sipedge.test\"", &[(uas, transport)], ""));
        let callee = Peer::start("call_uas", CORE_IP, uas, t, 20);
        assert_calls(&call(edge.sip, "callee", "sipedge.test", t, 20, 50, None), transport);
        callee.assert_done();
        let txs = edge.wait_metric("sipedge_transactions_total", &[], |v| v >= 40.0);
        assert!(txs >= 40.0, "INVITE and BYE of 20 calls are transactions: {txs}");
        assert_eq!(
            edge.metric("sipedge_responses_sent_total", &["code=\"100\""]),
            20.0,
            "{transport}: one 100 Trying per INVITE"
        );
        // The core's answers (100, 180, 200 to each INVITE, 200 to each
        // BYE) reach the shard holding each transaction directly: over UDP
        // the listener's reuseport program reads the shard from the branch
        // (server.steer_responses); over TCP the connection belongs to the
        // shard that opened it. None is handed over the mesh.
        let home = edge.wait_metric("sipedge_responses_home_total", &[], |v| v >= 60.0);
        std::thread::sleep(std::time::Duration::from_millis(300)); // three metric flushes
        assert!(home >= 60.0, "{transport}: {home}");
        assert_eq!(edge.metric("sipedge_responses_forwarded_total", &[]), 0.0, "{transport}: {}", edge.metrics());
    }
}

#[test]
fn registered_users_call_each_other_across_shards() {
    let edge = Edge::start(4, &config("\"127.0.0.1\"", &[(free_port(), "udp")], ""));
    for user in ["bob", "carol", "dave"] {
        let port = free_port();
        register(edge.sip, user, "127.0.0.1", port);
        let callee = Peer::start("call_uas", "127.0.0.1", port, "u1", 3);
        assert_calls(&call(edge.sip, user, "127.0.0.1", "u1", 3, 20, None), user);
        callee.assert_done();
    }
    let lookups: f64 = edge.per_shard("sipedge_mesh_sent_total", &[]).iter().map(|(_, v)| v).sum();
    assert!(lookups > 0.0, "some AOR lived on another shard than the INVITE");
}

#[test]
fn parallel_forking_cancels_the_branch_that_did_not_answer() {
    let edge = Edge::start(2, &config("\"127.0.0.1\"", &[(free_port(), "udp")], ""));
    let (answers, rings) = (free_port(), free_port());
    register(edge.sip, "bob", "127.0.0.1", answers);
    register(edge.sip, "bob", "127.0.0.1", rings);
    let ringer = Peer::start("uas_ringing", "127.0.0.1", rings, "u1", 1);
    let answerer = Peer::start("call_uas", "127.0.0.1", answers, "u1", 1);
    assert_calls(&call(edge.sip, "bob", "127.0.0.1", "u1", 1, 20, None), "forked call");
    answerer.assert_done();
    ringer.assert_done(); // got the CANCEL, answered 487, got the edge's ACK
    assert!(edge.wait_metric("sipedge_cancels_sent_total", &[], |v| v >= 1.0) >= 1.0);
}

#[test]
fn failover_to_the_second_upstream_on_timeout_and_on_503() {
    // Nothing listens on the first upstream: Timer B (64*T1 = 3.2 s) ends the branch.
    let (dead, uas) = (free_port(), free_port());
    let edge = Edge::start(1, &config("\"sipedge.test\"", &[(dead, "udp"), (uas, "udp")], ""));
    let callee = Peer::start("call_uas", CORE_IP, uas, "u1", 1);
    assert_calls(&call(edge.sip, "callee", "sipedge.test", "u1", 1, 20, None), "after a timeout");
    callee.assert_done();
    assert!(edge.wait_metric("sipedge_failovers_total", &[], |v| v >= 1.0) >= 1.0);

    let (busy, uas) = (free_port(), free_port());
    let edge = Edge::start(1, &config("\"sipedge.test\"", &[(busy, "udp"), (uas, "udp")], ""));
    let overloaded = Peer::start("uas_503", CORE_IP, busy, "u1", 1);
    let callee = Peer::start("call_uas", CORE_IP, uas, "u1", 1);
    assert_calls(&call(edge.sip, "callee", "sipedge.test", "u1", 1, 20, None), "after a 503");
    overloaded.assert_done(); // and it got the edge's ACK for its 503
    callee.assert_done();
}

#[test]
fn caller_gets_408_when_every_upstream_fails() {
    let edge = Edge::start(1, &config("\"sipedge.test\"", &[(free_port(), "udp"), (free_port(), "udp")], ""));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let invite = format!(
        "INVITE sip:callee@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK408test;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@sipedge.test>;tag=a1\r\nTo: <sip:callee@example.net>\r\nCall-ID: all-fail\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(invite.as_bytes(), edge.sip).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut codes = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let code: u16 = text[8..11].parse().unwrap();
        codes.push(code);
        if code >= 200 {
            assert!(text.contains("To: <sip:callee@example.net>;tag="), "{text}");
            break;
        }
    }
    assert_eq!(codes, vec![100, 408], "two upstreams timed out one after the other");
    assert!(edge.metric("sipedge_branch_timeouts_total", &[]) >= 1.0);
}

#[test]
fn in_dialog_requests_survive_a_restart_with_topology_hiding() {
    let uas = free_port();
    let key = "ab".repeat(32);
    let extra = format!("topology_hiding = true\ntopology_key = \"{key}\"");
    let mut edge = Edge::start(2, &config("\"sipedge.test\"", &[(uas, "udp")], &extra));
    let callee = Peer::start("call_uas", CORE_IP, uas, "u1", 1);
    let trace = std::env::temp_dir().join(format!("sipedge-th-{}.msg", std::process::id()));
    let _ = std::fs::remove_file(&trace);
    // The call holds 4 s; the edge is restarted in the middle of it.
    let caller = {
        let sip = edge.sip;
        let trace = trace.clone();
        std::thread::spawn(move || call(sip, "callee", "sipedge.test", "u1", 1, 4000, Some(&trace)))
    };
    std::thread::sleep(Duration::from_millis(1500));
    let (config, sip, admin) = (edge.config.clone(), edge.sip, edge.admin);
    let (status, _) = edge.terminate();
    assert_eq!(status, Some(0));
    let _edge = Edge::with_config(config, sip, admin);
    let out = caller.join().unwrap();
    assert_calls(&out, "BYE after the restart");
    callee.assert_done();
    let seen = std::fs::read_to_string(&trace).unwrap();
    assert!(seen.contains(";th="), "the device got the edge's token Contact:\n{seen}");
    // SDP is not rewritten (media is an RTP relay's business): look at SIP lines only.
    let sip_lines: Vec<&str> = seen.lines().filter(|l| !l.starts_with("o=") && !l.starts_with("c=")).collect();
    assert!(!sip_lines.iter().any(|l| l.contains(CORE_IP)), "the device saw the core's address:\n{seen}");
}

/// A REGISTER of `contact` for bob@127.0.0.1 as `via` writes it.
fn register_request(via: &str, contact: &str, id: &str) -> String {
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{via};branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;tag={id}\r\n\
         To: <sip:bob@127.0.0.1>\r\nCall-ID: {id}@test\r\nCSeq: 1 REGISTER\r\nContact: {contact}\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn serial_forking_skips_a_binding_whose_connection_is_gone_at_once() {
    use std::io::{Read, Write};
    let edge = Edge::start(2, &config("\"127.0.0.1\"", &[(free_port(), "udp")], "forking = \"serial\""));
    // Bob's preferred binding is on a TCP connection that then goes away.
    let mut tcp = std::net::TcpStream::connect(edge.sip).unwrap();
    let local = tcp.local_addr().unwrap();
    tcp.write_all(
        register_request(&format!("TCP {local}"), &format!("<sip:bob@{local};transport=tcp>;q=1.0"), "stale1")
            .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 2048];
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = tcp.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    drop(tcp);
    // The other one, over UDP from the port its sipp will answer on.
    let port = free_port();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let answer = {
        udp.send_to(
            register_request(&format!("UDP 127.0.0.1:{port}"), &format!("<sip:bob@127.0.0.1:{port}>;q=0.5"), "stale2")
                .as_bytes(),
            edge.sip,
        )
        .unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = udp.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(code(&answer), 200, "{answer}");
    drop(udp);
    let callee = Peer::start("call_uas", "127.0.0.1", port, "u1", 1);
    let started = Instant::now();
    assert_calls(&call(edge.sip, "bob", "127.0.0.1", "u1", 1, 20, None), "call past a stale flow");
    callee.assert_done();
    // Timer B is 3.2 s here: the stale branch did not wait for it.
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(edge.wait_metric("sipedge_flow_failures_total", &[], |v| v >= 1.0), 1.0);
}
