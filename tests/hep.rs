//! HEP v3 capture through the real binary: a UDP socket in the test is the
//! collector, and what sipedge sends it is decoded by sipcapture's own
//! `hep-js` (tests/hep/decode.js; installed by tests/run.sh), not by an
//! inverse of sipedge's encoder. OPTIONS and REGISTER over UDP, OPTIONS over
//! TLS (captured in clear text), with addresses, ports, protocol, agent id,
//! auth key and Call-ID checked; a method filter; and collectors that are
//! absent or never read, which cost the edge nothing but counted drops.

mod common;
use common::tls::*;
use common::*;
use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Decodes HEP packets with hep-js: one JSON object (or `false`) each.
fn decode(packets: &[Vec<u8>]) -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hep");
    assert!(
        std::path::Path::new(dir).join("node_modules/hep-js").exists(),
        "hep-js is not installed: run tests/run.sh (npm ci in tests/hep)"
    );
    let mut child = Command::new("node")
        .arg("decode.js")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    let input: String =
        packets.iter().map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n").collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Packets the collector gets until `want` of them have arrived or `wait` passes.
fn collect(collector: &UdpSocket, want: usize, wait: Duration) -> Vec<Vec<u8>> {
    collector.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65535];
    while got.len() < want && Instant::now() < deadline {
        if let Ok(n) = collector.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
    }
    got
}

/// The decoded packet whose payload is exactly `payload`.
fn find<'a>(decoded: &'a [Value], payload: &str) -> &'a Value {
    decoded
        .iter()
        .find(|d| d["payload"] == payload)
        .unwrap_or_else(|| panic!("no HEP packet carries\n{payload}\nin {decoded:#?}"))
}

fn exchange(sock: &UdpSocket, to: std::net::SocketAddr, bytes: &[u8]) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    sock.send_to(bytes, to).unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).expect("an answer");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn register(local_port: u16, id: &str) -> String {
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag={id}\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: {id}@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:{local_port}>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Checks the addressing and fixed fields of one decoded packet.
fn check(d: &Value, src_port: u16, dst_port: u16, proto: u64, call_id: &str) {
    let r = &d["rcinfo"];
    assert_eq!(r["protocolFamily"], 2, "{d:#}");
    assert_eq!(r["protocol"], proto, "{d:#}");
    assert_eq!(r["srcIp"], "127.0.0.1", "{d:#}");
    assert_eq!(r["dstIp"], "127.0.0.1", "{d:#}");
    assert_eq!(r["srcPort"], src_port, "{d:#}");
    assert_eq!(r["dstPort"], dst_port, "{d:#}");
    assert_eq!(r["payloadType"], 1, "SIP: {d:#}");
    assert_eq!(r["captureId"], 4242, "{d:#}");
    assert_eq!(r["capturePass"], "s3cret", "{d:#}");
    assert_eq!(r["correlation_id"], call_id, "{d:#}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(r["timeSeconds"].as_u64().is_some_and(|t| t + 60 > now && t <= now + 1), "{d:#}");
    assert!(r["timeUseconds"].as_u64().is_some_and(|u| u < 1_000_000), "{d:#}");
}

#[test]
fn udp_and_tls_messages_reach_the_collector_decoded_by_hep_js() {
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = test_dir("hep");
    let (cert, key) = certificate(&dir, "edge", "edge.test");
    let tls_port = free_port();
    let extra = format!(
        "\n[[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:{tls_port}\"\ncertificates = [{{ cert = \"{}\", key = \"{}\" }}]\n\n[auth]\nenabled = false\n\n[hep]\ncollector = \"udp:{}\"\nagent_id = 4242\npassword = \"s3cret\"\n",
        cert.display(),
        key.display(),
        collector.local_addr().unwrap()
    );
    let edge = Edge::start(2, &extra);
    let sip_port = edge.sip.port();

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = client.local_addr().unwrap().port();
    let opts = String::from_utf8(options(edge.sip, "UDP", port, "hep-udp-1")).unwrap();
    let opts_answer = exchange(&client, edge.sip, opts.as_bytes());
    assert_eq!(code(&opts_answer), 200, "{opts_answer}");
    let reg = register(port, "hep-reg-1");
    let reg_answer = exchange(&client, edge.sip, reg.as_bytes());
    assert_eq!(code(&reg_answer), 200, "{reg_answer}");

    let tls_opts = format!(
        "OPTIONS sip:127.0.0.1:{tls_port} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bKheptls;rport\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: hep-tls-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let out = s_client(tls_port, &["-servername", "edge.test"], tls_opts.as_bytes());
    assert!(out.contains("SIP/2.0 200 OK"), "{out}");

    let decoded = decode(&collect(&collector, 6, Duration::from_secs(5)));
    assert!(decoded.iter().all(|d| d.is_object()), "hep-js decodes every packet: {decoded:#?}");

    check(find(&decoded, &opts), port, sip_port, 17, "hep-udp-1@test");
    check(find(&decoded, &opts_answer), sip_port, port, 17, "hep-udp-1@test");
    check(find(&decoded, &reg), port, sip_port, 17, "hep-reg-1@test");
    check(find(&decoded, &reg_answer), sip_port, port, 17, "hep-reg-1@test");

    // TLS: the request and the answer in clear text, over TCP.
    let tls_in = find(&decoded, &tls_opts);
    let client_port = tls_in["rcinfo"]["srcPort"].as_u64().unwrap() as u16;
    check(tls_in, client_port, tls_port, 6, "hep-tls-1");
    let tls_out = decoded
        .iter()
        .find(|d| {
            d["rcinfo"]["correlation_id"] == "hep-tls-1" && d["payload"].as_str().unwrap().starts_with("SIP/2.0 200 OK")
        })
        .expect("the TLS answer");
    assert!(
        tls_out["payload"].as_str().unwrap().contains("Via: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bKheptls;rport="),
        "{tls_out:#}"
    );
    check(tls_out, tls_port, client_port, 6, "hep-tls-1");

    assert!(edge.wait_metric("sipedge_hep_sent_total", &[], |v| v >= 6.0) >= 6.0, "{}", edge.metrics());
    assert_eq!(edge.metric("sipedge_hep_dropped_total", &[]), 0.0, "{}", edge.metrics());
}

#[test]
fn a_method_filter_keeps_only_that_method() {
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    let extra = format!(
        "\n[auth]\nenabled = false\n\n[hep]\ncollector = \"udp:{}\"\nmethods = [\"REGISTER\"]\n",
        collector.local_addr().unwrap()
    );
    let edge = Edge::start(1, &extra);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = client.local_addr().unwrap().port();
    assert_eq!(code(&exchange(&client, edge.sip, &options(edge.sip, "UDP", port, "hep-f-1"))), 200);
    assert_eq!(code(&exchange(&client, edge.sip, register(port, "hep-f-2").as_bytes())), 200);
    let decoded = decode(&collect(&collector, 3, Duration::from_secs(2)));
    assert_eq!(decoded.len(), 2, "the REGISTER and its answer only: {decoded:#?}");
    assert!(decoded.iter().all(|d| d["rcinfo"]["correlation_id"] == "hep-f-2@test"), "{decoded:#?}");
}

/// Sends `n` OPTIONS, one at a time, padded to `pad` bytes; all must be answered.
fn options_all_answered(edge: &Edge, n: usize, pad: usize) -> Duration {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = client.local_addr().unwrap().port();
    let start = Instant::now();
    for i in 0..n {
        let mut m = String::from_utf8(options(edge.sip, "UDP", port, &format!("load{i}"))).unwrap();
        m.insert_str(m.find("Content-Length").unwrap(), &format!("X-Pad: {}\r\n", "p".repeat(pad)));
        assert_eq!(code(&exchange(&client, edge.sip, m.as_bytes())), 200, "OPTIONS {i}");
    }
    start.elapsed()
}

#[test]
fn an_absent_collector_costs_the_edge_nothing_but_counted_drops() {
    // Nothing listens on this port: the TCP collector is down, retried with backoff.
    let port = free_port();
    let edge = Edge::start(2, &format!("\n[hep]\ncollector = \"tcp:127.0.0.1:{port}\"\n"));
    let took = options_all_answered(&edge, 300, 0);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let down = edge.wait_metric("sipedge_hep_dropped_total", &["reason=\"collector down\""], |v| v >= 600.0);
    assert!(down >= 600.0, "{}", edge.metrics());
    assert_eq!(edge.metric("sipedge_hep_sent_total", &[]), 0.0);
}

#[test]
fn a_collector_that_never_reads_costs_the_edge_nothing_but_counted_drops() {
    // Accepts the connection, never reads: the socket buffers fill, then
    // the shard's small queue, then packets are dropped and counted.
    let collector = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = collector.local_addr().unwrap();
    std::thread::spawn(move || {
        let held = collector.accept();
        std::thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    // 1,500 requests in a few seconds from one address: allowlisted, or the
    // flood tripwire (1,000 in 5 s) would ban the test client.
    let edge = Edge::start(
        1,
        &format!("\n[hep]\ncollector = \"tcp:{addr}\"\nqueue = 16\n\n[protect]\nallow = [\"127.0.0.1/32\"]\n"),
    );
    let took = options_all_answered(&edge, 1500, 8000);
    assert!(took < Duration::from_secs(30), "{took:?}");
    let dropped = edge.wait_metric("sipedge_hep_dropped_total", &[], |v| v > 0.0);
    assert!(dropped > 0.0, "{}", edge.metrics());
    assert!(edge.metric("sipedge_hep_sent_total", &[]) > 0.0, "{}", edge.metrics());
}
