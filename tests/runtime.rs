//! The real binary with several shards on loopback: traffic is spread
//! across shards, answers come back over UDP and TCP, responses find the
//! shard that owns their branch, metrics and health report it, and SIGTERM
//! ends it cleanly.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

#[test]
fn udp_options_from_many_ports_are_spread_over_shards() {
    let edge = Edge::start(4, "");
    let mut answered = 0;
    for i in 0..64 {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.send_to(&options(edge.sip, "UDP", port, &format!("u{i}")), edge.sip).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = s.recv_from(&mut buf).expect("answer");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert_eq!(code(&text), 200, "{text}");
        assert!(text.contains(&format!("rport={port}")), "{text}");
        answered += 1;
    }
    assert_eq!(answered, 64);
    edge.wait_metric("sipedge_requests_received_total", &["method=\"OPTIONS\""], |v| v >= 64.0);
    let shards = edge.per_shard("sipedge_requests_received_total", &["method=\"OPTIONS\""]);
    assert!(shards.iter().filter(|(_, v)| *v > 0.0).count() > 1, "one shard served everything: {shards:?}");
    assert_eq!(edge.metric("sipedge_responses_sent_total", &["code=\"200\""]), 64.0);
}

#[test]
fn each_shard_binds_its_own_udp_socket() {
    let edge = Edge::start(4, "");
    let out = std::process::Command::new("ss")
        .args(["-Hulnp", &format!("sport = :{}", edge.sip.port())])
        .output()
        .expect("ss");
    let text = String::from_utf8_lossy(&out.stdout);
    let mine = text.lines().filter(|l| l.contains(&format!("pid={}", edge.child.id()))).count();
    assert_eq!(mine, 4, "{text}");
}

#[test]
fn tcp_connections_are_spread_and_answered() {
    let edge = Edge::start(4, "");
    let mut conns = Vec::new();
    for i in 0..24 {
        let mut c = TcpStream::connect(edge.sip).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let port = c.local_addr().unwrap().port();
        c.write_all(&options(edge.sip, "TCP", port, &format!("t{i}"))).unwrap();
        let text = read_message(&mut c);
        assert_eq!(code(&text), 200, "{text}");
        conns.push(c);
    }
    edge.wait_metric("sipedge_tcp_accepted_total", &[], |v| v >= 24.0);
    let per = edge.per_shard("sipedge_tcp_accepted_total", &[]);
    assert!(per.iter().filter(|(_, v)| *v > 0.0).count() > 1, "{per:?}");
    assert_eq!(edge.metric("sipedge_tcp_connections", &[]), 24.0);
}

/// Reads one SIP message (headers + Content-Length body) from a stream.
fn read_message(c: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if c.read(&mut b).unwrap_or(0) == 0 {
            break;
        }
        buf.push(b[0]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let len: usize =
        text.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).unwrap();
    text
}

#[test]
fn tcp_pipelined_split_and_keepalive() {
    let edge = Edge::start(2, "");
    let mut c = TcpStream::connect(edge.sip).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = c.local_addr().unwrap().port();
    // Two messages in one write.
    let mut two = options(edge.sip, "TCP", port, "p1");
    two.extend(options(edge.sip, "TCP", port, "p2"));
    c.write_all(&two).unwrap();
    assert!(read_message(&mut c).contains("Call-ID: p1@test"));
    assert!(read_message(&mut c).contains("Call-ID: p2@test"));
    // One message dribbled a few bytes at a time.
    let one = options(edge.sip, "TCP", port, "p3");
    for chunk in one.chunks(7) {
        c.write_all(chunk).unwrap();
        c.flush().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(read_message(&mut c).contains("Call-ID: p3@test"));
    // RFC 5626 keepalive: CRLFCRLF ping, CRLF pong.
    c.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    c.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
    // And the connection still works.
    c.write_all(&options(edge.sip, "TCP", port, "p4")).unwrap();
    assert!(read_message(&mut c).contains("Call-ID: p4@test"));
}

/// True when the server closes the connection within the timeout.
fn closed_by_server(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn tcp_garbage_slowloris_and_idle_connections_are_closed() {
    let mut edge = Edge::start(2, "[limits]\ntcp_max_buffered_bytes = 2048\ntcp_idle_timeout_secs = 1\n");
    let mut g = TcpStream::connect(edge.sip).unwrap();
    g.write_all(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 this is not SIP\r\n\r\n").unwrap();
    assert!(closed_by_server(&mut g), "garbage connection stays open");

    let mut s = TcpStream::connect(edge.sip).unwrap();
    s.write_all(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n").unwrap();
    for _ in 0..40 {
        if s.write_all(format!("X-Pad: {}\r\n", "a".repeat(100)).as_bytes()).is_err() {
            break;
        }
    }
    assert!(closed_by_server(&mut s), "slowloris connection stays open");

    let mut idle = TcpStream::connect(edge.sip).unwrap();
    assert!(closed_by_server(&mut idle), "idle connection stays open");
    edge.wait_metric("sipedge_tcp_closed_total", &["reason=\"idle timeout\""], |v| v >= 1.0);
    assert!(edge.metric("sipedge_tcp_closed_total", &["reason=\"idle timeout\""]) >= 1.0);
    assert!(
        edge.metric("sipedge_tcp_closed_total", &["reason=\"incomplete message over buffer limit\""]) >= 1.0,
        "{}",
        edge.metrics()
    );
    assert!(answers_options(&edge));
    assert!(edge.alive());
}

/// 40 responses, each from its own source port, all owned by shard 3 of
/// `edge`: all must reach shard 3; returns how many crossed the mesh.
fn responses_to_shard_3_hops(edge: &Edge) -> f64 {
    for i in 0..40 {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let resp = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-3-{i:x}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            edge.sip
        );
        s.send_to(resp.as_bytes(), edge.sip).unwrap();
    }
    let home = edge.wait_metric("sipedge_responses_home_total", &["shard=\"3\""], |v| v >= 40.0);
    assert_eq!(home, 40.0, "{}", edge.metrics());
    assert_eq!(edge.metric("sipedge_responses_home_total", &[]), 40.0, "other shards kept some");
    // Each shard publishes on its own flush: wait until the senders' counts
    // have caught up with what shard 3 received.
    let received = edge.metric("sipedge_mesh_received_total", &["shard=\"3\""]);
    let hopped = edge.wait_metric("sipedge_mesh_sent_total", &[], |v| v >= received);
    assert_eq!(hopped, received);
    assert_eq!(edge.metric("sipedge_responses_forwarded_total", &[]), hopped, "every hop was a response");
    hopped
}

#[test]
fn responses_reach_the_shard_named_in_their_branch() {
    // server.steer_responses (the default): the kernel runs our reuseport
    // program and hands each response to shard 3's socket itself.
    let edge = Edge::start(4, "");
    assert_eq!(responses_to_shard_3_hops(&edge), 0.0, "steered responses crossed the mesh");
    drop(edge);
    // Without it the kernel's hash spreads them and shard 3 gets the rest over the mesh.
    let edge = Edge::start_server(free_port(), "shards = 4\nsteer_responses = false", "");
    let hopped = responses_to_shard_3_hops(&edge);
    assert!(hopped > 0.0 && hopped < 40.0, "kernel spread should send some directly and some over the mesh: {hopped}");
}

#[test]
fn health_and_metrics_are_served() {
    let edge = Edge::start(2, "");
    assert_eq!(http_get(edge.admin, "/health").unwrap().0, 200);
    assert!(answers_options(&edge));
    edge.wait_metric("sipedge_message_processing_seconds_count", &[], |v| v >= 1.0);
    let m = edge.metrics();
    for name in [
        "sipedge_messages_received_total",
        "sipedge_shards 2",
        "sipedge_message_processing_seconds{quantile=\"0.99\"}",
        "sipedge_log_dropped_total",
    ] {
        assert!(m.contains(name), "missing {name}:\n{m}");
    }
    assert_eq!(http_get(edge.admin, "/nope").unwrap().0, 404);
}

#[test]
fn every_shard_publishes_its_task_poll_histogram() {
    let edge = Edge::start(2, "");
    assert!(answers_options(&edge));
    // Each shard's housekeeping loop is polled at least once per flush, so
    // both shards count polls even with no traffic of their own.
    for shard in ["shard=\"0\"", "shard=\"1\""] {
        let n = edge.wait_metric("sipedge_shard_poll_seconds_count", &[shard], |v| v >= 1.0);
        assert!(n >= 1.0, "{shard}: {}", edge.metrics());
    }
    let m = edge.metrics();
    assert!(m.contains("# TYPE sipedge_shard_poll_seconds histogram"), "{m}");
    // cumulative buckets: +Inf equals the count
    let inf = metric_sum(&m, "sipedge_shard_poll_seconds_bucket", &["shard=\"0\"", "le=\"+Inf\""]);
    let count = metric_sum(&m, "sipedge_shard_poll_seconds_count", &["shard=\"0\""]);
    assert_eq!(inf, count, "{m}");
    assert!(metric_sum(&m, "sipedge_shard_poll_seconds_sum", &["shard=\"0\""]) > 0.0, "{m}");
}

#[test]
fn sigterm_exits_zero_within_two_seconds() {
    let mut edge = Edge::start(4, "");
    let mut c = TcpStream::connect(edge.sip).unwrap();
    c.write_all(&options(edge.sip, "TCP", c.local_addr().unwrap().port(), "bye")).unwrap();
    let (code, took) = edge.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn ipv6_listener_answers() {
    if UdpSocket::bind("[::1]:0").is_err() {
        panic!("this host has no IPv6 loopback; the test needs ::1");
    }
    let port = free_port();
    let admin = free_port();
    let cfg = format!(
        "[server]\nshards = 2\n[[listen]]\ntransport = \"udp\"\naddr = \"[::1]:{port}\"\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:{port}\"\n[admin]\naddr = \"127.0.0.1:{admin}\"\n[log]\nlevel = \"warn\"\n"
    );
    let edge = Edge::with_config(
        cfg,
        format!("127.0.0.1:{port}").parse().unwrap(),
        format!("127.0.0.1:{admin}").parse().unwrap(),
    );
    let s = UdpSocket::bind("[::1]:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let lp = s.local_addr().unwrap().port();
    let target: std::net::SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let req = String::from_utf8(options(target, "UDP", lp, "v6")).unwrap().replace("127.0.0.1", "[::1]");
    s.send_to(req.as_bytes(), target).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("IPv6 answer");
    assert_eq!(code(&String::from_utf8_lossy(&buf[..n])), 200);
    assert!(answers_options(&edge));
}

#[test]
fn connections_over_the_per_ip_limit_are_refused_and_counted() {
    use std::io::Read;
    let edge = Edge::start(1, "[limits]\ntcp_max_connections_per_ip = 2\n");
    let a = std::net::TcpStream::connect(edge.sip).unwrap();
    let _b = std::net::TcpStream::connect(edge.sip).unwrap();
    let n = edge.wait_metric("sipedge_tcp_connections", &[], |v| v >= 2.0);
    assert_eq!(n, 2.0);
    let mut c = std::net::TcpStream::connect(edge.sip).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)), "the third connection is closed at once");
    let refused = edge.wait_metric("sipedge_tcp_refused_total", &["reason=\"per-IP limit\""], |v| v >= 1.0);
    assert_eq!(refused, 1.0);
    // One goes away: room for another.
    drop(a);
    edge.wait_metric("sipedge_tcp_connections", &[], |v| v <= 1.0);
    let d = std::net::TcpStream::connect(edge.sip).unwrap();
    let back = edge.wait_metric("sipedge_tcp_connections", &[], |v| v >= 2.0);
    assert_eq!(back, 2.0);
    drop(d);
}
