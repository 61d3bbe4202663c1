//! RFC 4475 and RFC 5118 torture messages sent to the running edge over UDP
//! and TCP: each gets the handling its manifest allows, and after every case
//! the edge still answers OPTIONS.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

#[derive(Debug, PartialEq)]
enum Outcome {
    Code(u16),
    Nothing,
    Closed,
}

fn wire_form(file: &str, raw: &[u8]) -> Vec<u8> {
    if file == "intmeth.dat" || file == "mpart01.dat" {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if file == "baddn.dat" && !out.ends_with(b"\r\n\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn allowed(token: &str, got: &Outcome) -> bool {
    match (token, got) {
        ("any", _) => true,
        ("none", Outcome::Nothing) => true,
        ("closed", Outcome::Closed) => true,
        ("parse-ok", Outcome::Code(c)) => *c != 400 && *c != 505,
        ("4xx", Outcome::Code(c)) => (400..500).contains(c),
        ("non2xx", Outcome::Code(c)) => *c >= 300,
        ("non2xx-non400", Outcome::Code(c)) => *c >= 300 && *c != 400,
        (n, Outcome::Code(c)) => n.parse::<u16>().map(|n| n == *c).unwrap_or(false),
        _ => false,
    }
}

fn udp_case(edge: &Edge, bytes: &[u8]) -> Outcome {
    let s = UdpSocket::bind(if edge.sip.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" }).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    s.send_to(bytes, edge.sip).unwrap();
    let mut buf = vec![0u8; 65535];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Outcome::Code(code(&String::from_utf8_lossy(&buf[..n]))),
        Err(_) => Outcome::Nothing,
    }
}

fn tcp_case(edge: &Edge, bytes: &[u8]) -> Outcome {
    let mut c = TcpStream::connect(edge.sip).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(600))).unwrap();
    c.write_all(bytes).unwrap();
    let mut buf = vec![0u8; 65535];
    match c.read(&mut buf) {
        Ok(0) => Outcome::Closed,
        Ok(n) => Outcome::Code(code(&String::from_utf8_lossy(&buf[..n]))),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Outcome::Closed,
        Err(_) => Outcome::Nothing,
    }
}

fn suite(name: &str) {
    let dir = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/manifest.json")).unwrap()).unwrap();
    let edge = Edge::start(2, "");
    let mut failures = Vec::new();
    for case in manifest["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let raw = std::fs::read(format!("{dir}/dat/{file}")).unwrap();
        let bytes = wire_form(file, &raw);
        for (transport, got) in [("udp", udp_case(&edge, &bytes)), ("tcp", tcp_case(&edge, &bytes))] {
            let expect: Vec<&str> =
                case["expect"][transport].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            if !expect.iter().any(|t| allowed(t, &got)) {
                failures.push(format!("{file} over {transport}: got {got:?}, manifest allows {expect:?}"));
            }
            if !answers_options(&edge) {
                panic!("{file} over {transport}: the edge stopped answering OPTIONS");
            }
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn rfc4475_torture_messages() {
    suite("rfc4475");
}

#[test]
fn rfc5118_ipv6_torture_messages() {
    suite("rfc5118");
}
