//! Protection against the real binary on loopback, two shards: a bounded
//! UDP flood from 127.0.0.2 is banned on every shard while the trusted
//! 127.0.0.1 is still served; `GET /bans` lists the ban and
//! `DELETE /bans/{ip}` lifts it; a per-IP limit holds over both shards for a
//! source using many ports; a scanner gets no answer.

mod common;

use common::*;
use std::net::UdpSocket;
use std::time::Duration;

fn socket(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    s
}

fn options_from(s: &UdpSocket, edge: &Edge, id: &str, extra: &str) {
    let port = s.local_addr().unwrap().port();
    let mut msg = String::from_utf8(options(edge.sip, "UDP", port, id)).unwrap();
    msg = msg.replacen("Content-Length: 0\r\n", &format!("{extra}Content-Length: 0\r\n"), 1);
    s.send_to(msg.as_bytes(), edge.sip).unwrap();
}

/// Answers (status codes) waiting on a socket.
fn codes(s: &UdpSocket) -> Vec<u16> {
    let mut buf = vec![0u8; 65535];
    let mut out = Vec::new();
    while let Ok((n, _)) = s.recv_from(&mut buf) {
        out.push(code(&String::from_utf8_lossy(&buf[..n])));
    }
    out
}

fn answered(edge: &Edge, ip: &str, id: &str) -> bool {
    let s = socket(ip);
    options_from(&s, edge, id, "");
    !codes(&s).is_empty()
}

#[test]
fn flood_banned_trusted_served_bans_listed_and_lifted() {
    let edge = Edge::start(
        2,
        "[proxy]\ntrusted = [\"127.0.0.1\"]\n\n[protect.flood]\nrequests = 50\nwindow_secs = 10\nban_secs = 600\n",
    );
    let attacker = socket("127.0.0.2");
    for i in 0..300 {
        options_from(&attacker, &edge, &format!("f{i}"), "");
    }
    let got = codes(&attacker);
    assert!((45..=55).contains(&got.len()), "answered until the ban: {}", got.len());
    assert!(edge.wait_metric("sipedge_bans_total", &["reason=\"flood\""], |v| v >= 1.0) >= 1.0);
    assert_eq!(edge.wait_metric("sipedge_bans_active", &["reason=\"flood\""], |v| v >= 1.0), 1.0);
    // Every port of the attacker (so both shards) is dropped; the trusted address is served.
    for i in 0..8 {
        assert!(!answered(&edge, "127.0.0.2", &format!("b{i}")), "banned on every shard");
    }
    for i in 0..1000 {
        options_from(&socket("127.0.0.1"), &edge, &format!("t{i}"), "");
    }
    assert!(answers_options(&edge), "the trusted address is never banned");
    let (status, body) = http_get(edge.admin, "/bans").unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bans = json["bans"].as_array().unwrap();
    assert_eq!(bans.len(), 1, "{body}");
    assert_eq!(bans[0]["ip"], "127.0.0.2");
    assert_eq!(bans[0]["reason"], "flood");
    assert!(bans[0]["expires_at"].as_u64().unwrap() > 1_700_000_000);
    assert!(bans[0]["shard"].as_u64().unwrap() < 2);
    assert_eq!(http_delete(edge.admin, "/bans/127.0.0.2").unwrap().0, 200);
    assert_eq!(http_delete(edge.admin, "/bans/127.0.0.2").unwrap().0, 404);
    assert_eq!(http_delete(edge.admin, "/bans/nonsense").unwrap().0, 400);
    for i in 0..8 {
        assert!(answered(&edge, "127.0.0.2", &format!("a{i}")), "lifted on every shard");
    }
    assert_eq!(http_get(edge.admin, "/bans").unwrap().1, "{\"bans\":[]}");
}

#[test]
fn per_ip_limit_holds_over_two_shards_and_many_ports() {
    let limit = "[[protect.limit]]\nname = \"options-per-ip\"\nkey = \"ip\"\nmethods = [\"OPTIONS\"]\nrate = 0.01\nburst = 10\n";
    let edge = Edge::start(2, limit);
    let sockets: Vec<UdpSocket> = (0..16).map(|_| socket("127.0.0.3")).collect();
    for round in 0..5 {
        for (i, s) in sockets.iter().enumerate() {
            options_from(s, &edge, &format!("l{round}x{i}"), "");
        }
    }
    let all: Vec<u16> = sockets.iter().flat_map(codes).collect();
    let ok = all.iter().filter(|&&c| c == 200).count();
    let limited = all.iter().filter(|&&c| c == 503).count();
    assert_eq!(ok + limited, 80, "every request answered: {all:?}");
    // Each shard lets 10/2 through; the kernel spread the ports over one or both.
    assert!(ok == 5 || ok == 10, "never more than the burst over the edge: {ok}");
    let shards_used = edge
        .per_shard("sipedge_requests_received_total", &["method=\"OPTIONS\""])
        .iter()
        .filter(|(_, v)| *v > 0.0)
        .count();
    assert_eq!(ok, 5 * shards_used);
    assert_eq!(
        edge.wait_metric("sipedge_ratelimit_hits_total", &["rule=\"options-per-ip\""], |v| v >= limited as f64),
        limited as f64
    );
    // Another address has its own bucket.
    assert!(answered(&edge, "127.0.0.4", "other"));
}

#[test]
fn scanners_are_dropped_and_counted() {
    let edge = Edge::start(1, "");
    let s = socket("127.0.0.5");
    options_from(&s, &edge, "scan1", "User-Agent: friendly-scanner\r\n");
    options_from(&s, &edge, "scan2", "User-Agent: sipcli/v1.8\r\n");
    assert!(codes(&s).is_empty());
    options_from(&s, &edge, "fine", "User-Agent: Linphone/5.2\r\n");
    assert_eq!(codes(&s), vec![200]);
    assert_eq!(edge.wait_metric("sipedge_scanner_drops_total", &[], |v| v >= 2.0), 2.0);
}

#[test]
fn oversize_refused_513() {
    let edge = Edge::start(1, "[protect]\nmax_size = { OPTIONS = 512 }\n");
    let s = socket("127.0.0.6");
    options_from(&s, &edge, "big", &format!("X-Pad: {}\r\n", "p".repeat(400)));
    assert_eq!(codes(&s), vec![513]);
    assert_eq!(edge.wait_metric("sipedge_oversize_total", &["reason=\"OPTIONS\""], |v| v >= 1.0), 1.0);
}
