//! Operating TLS, through the real binary: certificates reloaded under
//! traffic (SIGHUP and `POST /reload`; established connections carry on, a
//! broken file is refused and the old certificate stays), the key log
//! decrypting a capture in tshark, and outgoing TLS to an upstream (a
//! second sipedge) that must show a certificate for its configured name,
//! or for the name it is given by and a real DNS server (dnsmasq) resolves
//! (RFC 5922 §4), not for its address.

mod common;
use common::dns::Dnsmasq;
use common::tls::*;
use common::*;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tls listener on a free port with the one certificate `cert`.
fn tls_listener(port: u16, cert: &(std::path::PathBuf, std::path::PathBuf), extra: &str) -> String {
    format!(
        "\n[[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:{port}\"\ncertificates = [{{ cert = \"{}\", key = \"{}\" }}]\n{extra}\n",
        cert.0.display(),
        cert.1.display()
    )
}

fn options_over_tls(port: u16, n: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bKrl{n};rport\r\nFrom: <sip:a@example.com>;tag={n}\r\n\
         To: <sip:127.0.0.1>\r\nCall-ID: reload-{n}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The subject a new connection is shown, polled until it contains `want`.
fn new_connection_sees(port: u16, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = subject(&s_client(port, &["-servername", "edge.test"], b""));
        if seen.contains(want) || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn certificates_reload_under_traffic_and_a_broken_one_is_refused() {
    let dir = test_dir("reload");
    let cert = certificate_as(&dir, "edge", "edge.test", "v1");
    let port = free_port();
    let edge = Edge::start(1, &tls_listener(port, &cert, ""));
    let mut session = Session::open(port, &["-servername", "edge.test"]);
    let mut sent = 0;
    let mut exchange = |session: &mut Session| {
        sent += 1;
        session.send(&options_over_tls(port, sent));
        assert!(
            session.wait_for("SIP/2.0 200 OK", sent),
            "answer {sent} on the first connection: {}",
            session.output()
        );
    };
    for _ in 0..5 {
        exchange(&mut session);
    }
    assert!(subject(&session.output()).contains("v1"), "{}", session.output());

    // New files, SIGHUP: new connections get them, the old one carries on.
    certificate_as(&dir, "edge", "edge.test", "v2");
    assert!(Command::new("kill").args(["-HUP", &edge.child.id().to_string()]).status().unwrap().success());
    assert!(new_connection_sees(port, "v2").contains("v2"));
    for _ in 0..5 {
        exchange(&mut session);
    }

    // A broken certificate: POST /reload says which file, nothing changes.
    std::fs::write(&cert.0, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n").unwrap();
    let (status, body) = http_post(edge.admin, "/reload").unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("edge.pem"), "the answer names the file: {body}");
    assert!(subject(&s_client(port, &["-servername", "edge.test"], b"")).contains("v2"));
    for _ in 0..5 {
        exchange(&mut session);
    }
    assert_eq!(edge.metric("sipedge_tls_handshake_failures_total", &[]), 0.0);
}

/// tshark capturing `port` on loopback into `file`, once it is capturing.
fn capture(port: u16, file: &Path) -> std::process::Child {
    let mut child = Command::new("tshark")
        .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tshark is not installed: tests/run.sh installs it");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let ready = lines.by_ref().map_while(Result::ok).any(|l| l.contains("Capture started"));
    assert!(ready, "tshark did not start capturing");
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// SIP methods and status codes tshark finds in `file`, decoding `port` as TLS.
fn sip_in_capture(file: &Path, port: u16, key_log: Option<&Path>) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args([
        "-d",
        &format!("tcp.port=={port},tls"),
        "-d",
        &format!("tls.port=={port},sip"),
        "-Y",
        "sip",
        "-T",
        "fields",
        "-e",
        "sip.Method",
        "-e",
        "sip.Status-Code",
    ]);
    if let Some(k) = key_log {
        cmd.arg("-o").arg(format!("tls.keylog_file:{}", k.display()));
    }
    let out = cmd.stderr(Stdio::null()).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tshark_decrypts_a_captured_tls_register_with_the_key_log() {
    let dir = test_dir("keylog");
    let cert = certificate(&dir, "edge", "edge.test");
    let keys = dir.join("keys.log");
    let port = free_port();
    let extra = format!(
        "{}\n[registrar]\ndomains = [\"example.com\"]\n\n[tls]\nkey_log = \"{}\"\n",
        tls_listener(port, &cert, ""),
        keys.display()
    );
    let _edge = Edge::start(1, &extra);
    let pcap = dir.join("register.pcapng");
    let mut tshark = capture(port, &pcap);

    let mut session = Session::open(port, &["-servername", "edge.test"]);
    session.send(
        b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40002;branch=z9hG4bKkeylog;rport\r\nMax-Forwards: 70\r\n\
              From: <sip:alice@example.com>;tag=k1\r\nTo: <sip:alice@example.com>\r\nCall-ID: keylog-1\r\nCSeq: 1 REGISTER\r\n\
              Contact: <sip:alice@127.0.0.1:40002;transport=tls>\r\nContent-Length: 0\r\n\r\n",
    );
    // Auth is on (the default): the answer is a challenge.
    assert!(session.wait_for("SIP/2.0 401 Unauthorized", 1), "{}", session.output());
    drop(session);
    std::thread::sleep(Duration::from_millis(500));
    assert!(Command::new("kill").args(["-INT", &tshark.id().to_string()]).status().unwrap().success());
    tshark.wait().unwrap();

    let key_lines = std::fs::read_to_string(&keys).unwrap();
    assert!(key_lines.lines().any(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0 ")), "{key_lines}");
    assert_eq!(sip_in_capture(&pcap, port, None).trim(), "", "without the key log nothing is readable");
    let seen = sip_in_capture(&pcap, port, Some(&keys));
    assert!(seen.lines().any(|l| l.trim() == "REGISTER"), "tshark decrypted: {seen:?}");
    assert!(seen.lines().any(|l| l.trim() == "401"), "and the answer: {seen:?}");
}

/// An upstream (a second sipedge) with a TLS listener whose certificate
/// names `core.test`, signed by a test CA; an edge routing `core.test` to
/// it over TLS expecting `server_name`. Returns the edge, the upstream,
/// the upstream's port and the file of the edge's log.
fn edge_and_tls_upstream(test: &str, server_name: &str) -> (Edge, Edge, u16, PathBuf) {
    let entry =
        |port| format!("{{ addr = \"127.0.0.1:{port}\", transport = \"tls\", server_name = \"{server_name}\" }}");
    edge_and_tls_upstream_as(test, "core.test", entry, "")
}

/// As `edge_and_tls_upstream`, the certificate naming `cert_name`, the
/// route's upstream entry `entry(port)`, and `extra` in the edge's config.
fn edge_and_tls_upstream_as(
    test: &str,
    cert_name: &str,
    entry: impl Fn(u16) -> String,
    extra: &str,
) -> (Edge, Edge, u16, PathBuf) {
    let dir = test_dir(test);
    let ca = certificate(&dir, "ca", "test-ca.example");
    let core_cert = signed_by(&dir, &ca, "core", cert_name);
    let up_port = free_port();
    let upstream = Edge::start(1, &tls_listener(up_port, &core_cert, &format!("advertise = \"core.test:{up_port}\"")));
    let extra = format!(
        "\n[proxy]\ntrusted = [\"127.0.0.0/8\"]\n\n[[proxy.route]]\ndomain = \"core.test\"\n\
         upstreams = [{}]\n\n[tls]\nca = \"{}\"\n{extra}",
        entry(up_port),
        ca.0.display()
    );
    let (edge, log) = Edge::start_logged(1, &extra);
    (edge, upstream, up_port, log)
}

fn options_to_core(up_port: u16, id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:core.test:{up_port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40003;branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag={id}\r\nTo: <sip:core.test>\r\nCall-ID: {id}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// An OPTIONS through `edge` is answered 200 by `upstream`, over TLS.
fn reaches_over_tls(edge: &Edge, upstream: &Edge, up_port: u16, id: &str) {
    let answer = udp_exchange(edge.sip, &options_to_core(up_port, id), Duration::from_secs(5)).expect("an answer");
    assert_eq!(code(&answer), 200, "{answer}");
    assert!(
        upstream
            .wait_metric("sipedge_messages_received_total", &["transport=\"tls\"", "kind=\"request\""], |v| v >= 1.0)
            >= 1.0
    );
}

#[test]
fn requests_reach_a_tls_upstream_that_shows_a_certificate_for_its_name() {
    let (edge, upstream, up_port, _) = edge_and_tls_upstream("out-ok", "core.test");
    reaches_over_tls(&edge, &upstream, up_port, "outtls1");
    assert_eq!(edge.wait_metric("sipedge_tcp_opened_total", &[], |v| v >= 1.0), 1.0);
    // The second request reuses the connection.
    let again =
        udp_exchange(edge.sip, &options_to_core(up_port, "outtls2"), Duration::from_secs(5)).expect("an answer");
    assert_eq!(code(&again), 200, "{again}");
    assert_eq!(edge.metric("sipedge_tcp_opened_total", &[]), 1.0);
}

#[test]
fn an_upstream_whose_certificate_names_someone_else_is_refused_at_once() {
    let (edge, upstream, up_port, log) = edge_and_tls_upstream("out-wrong", "other.test");
    let started = Instant::now();
    let answer =
        udp_exchange(edge.sip, &options_to_core(up_port, "outtls3"), Duration::from_secs(5)).expect("an answer");
    assert_eq!(code(&answer), 408, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed at the handshake, not after Timer F: {:?}",
        started.elapsed()
    );
    // (The upstream probes fail the same way.)
    let refused =
        edge.wait_metric("sipedge_tls_handshake_failures_total", &["reason=\"upstream certificate\""], |v| v >= 1.0);
    assert!(refused >= 1.0);
    assert_eq!(upstream.metric("sipedge_messages_received_total", &["transport=\"tls\""]), 0.0);
    // One line says who, which name was expected, and what was shown instead
    // (written by the logger thread: waited for).
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut text = String::new();
    while !text.contains("outgoing TLS to") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        text = std::fs::read_to_string(&log).unwrap();
    }
    let line = text.lines().find(|l| l.contains("outgoing TLS to 127.0.0.1:")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("(expecting other.test) failed: upstream certificate: "), "{line}");
    assert!(line.contains("core.test"), "what the certificate names: {line}");
}

/// An upstream given by name (`sips:core.sipedge.test:PORT`, resolved by a
/// real DNS server to 127.0.0.1) is verified against that name, which its
/// certificate carries, not against the address (which it does not carry).
#[test]
fn a_tls_upstream_given_by_name_must_show_a_certificate_for_the_name() {
    let dns = Dnsmasq::start("", "127.0.0.1 core.sipedge.test\n", 60);
    let entry = |port| format!("{{ addr = \"sips:core.sipedge.test:{port}\" }}");
    let (edge, upstream, up_port, _) = edge_and_tls_upstream_as(
        "out-named",
        "core.sipedge.test",
        entry,
        &format!("\n[dns]\nservers = [\"{}\"]\n", dns.addr),
    );
    reaches_over_tls(&edge, &upstream, up_port, "outtls5");
    assert_eq!(edge.metric("sipedge_tls_handshake_failures_total", &[]), 0.0);
    assert!(!dns.queries("core.sipedge.test").is_empty(), "the name was resolved");
}
