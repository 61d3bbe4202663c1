//! TLS listeners through the real binary, with OpenSSL (`openssl req` for
//! certificates, `openssl s_client` as the client): SIP over TLS answered
//! with a `TLS` Via, the certificate picked by SNI (exact name, one-label
//! wildcard, the first certificate without SNI or for an unknown name),
//! TLS 1.2 and 1.3, messages split over records and records joined in one
//! read, and a failed handshake counted by cause.

mod common;
use common::tls::*;
use common::*;
use std::io::Write;
use std::path::PathBuf;

fn edge_with_tls(test: &str) -> (Edge, u16) {
    edge_with_tls_extra(test, "")
}

fn edge_with_tls_extra(test: &str, listen_extra: &str) -> (Edge, u16) {
    let dir = test_dir(test);
    let (dc, dk) = certificate(&dir, "default", "edge.test");
    let (wc, wk) = certificate(&dir, "wild", "*.example.com");
    let (ec, ek) = certificate(&dir, "exact", "sip.example.com");
    let port = free_port();
    let certs = [(dc, dk), (wc, wk), (ec, ek)]
        .iter()
        .map(|(c, k)| format!("{{ cert = \"{}\", key = \"{}\" }}", c.display(), k.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let extra = format!(
        "\n[[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:{port}\"\ncertificates = [{certs}]\n{listen_extra}\n"
    );
    (Edge::start(2, &extra), port)
}

#[test]
fn sip_over_tls_with_certificates_by_sni() {
    let (edge, port) = edge_with_tls("sni");
    let options = format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bKtls1;rport\r\nFrom: <sip:a@example.com>;tag=1\r\n\
         To: <sip:127.0.0.1>\r\nCall-ID: tls-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let out = s_client(port, &["-servername", "edge.test"], options.as_bytes());
    assert!(out.contains("SIP/2.0 200 OK"), "{out}");
    assert!(out.contains("Via: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bKtls1;rport="), "{out}");

    assert!(subject(&out).contains("edge.test"), "exact name: {out}");
    let exact = s_client(port, &["-servername", "SIP.example.com"], b"");
    assert!(subject(&exact).contains("sip.example.com"), "exact beats the wildcard, any case: {}", subject(&exact));
    let wild = s_client(port, &["-servername", "pbx.example.com"], b"");
    assert!(subject(&wild).contains("*.example.com"), "{}", subject(&wild));
    let deep = s_client(port, &["-servername", "a.pbx.example.com"], b"");
    assert!(subject(&deep).contains("edge.test"), "a wildcard covers one label: {}", subject(&deep));
    let none = s_client(port, &["-noservername"], b"");
    assert!(subject(&none).contains("edge.test"), "no SNI gets the first certificate: {}", subject(&none));
    for version in ["-tls1_2", "-tls1_3"] {
        let out = s_client(port, &[version, "-servername", "edge.test"], b"");
        let want = if version == "-tls1_2" { "TLSv1.2" } else { "TLSv1.3" };
        assert!(out.contains(want), "{version}: {out}");
    }
    assert!(
        edge.wait_metric("sipedge_messages_received_total", &["transport=\"tls\"", "kind=\"request\""], |v| v >= 1.0)
            >= 1.0
    );
}

/// One write of three requests, the middle one larger than a TLS record
/// (16 KiB): the edge must join records into one message and split one
/// read into several, over TLS 1.2 and 1.3 alike.
#[test]
fn messages_split_over_records_and_joined_in_one_read_are_all_answered() {
    let (_edge, port) = edge_with_tls("records");
    let body = "x".repeat(20_000);
    let options = |n: u32, body: &str| {
        format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bKrec{n};rport\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: records-{n}\r\nCSeq: {n} OPTIONS\r\n\
             Max-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let send = [options(1, ""), options(2, &body), options(3, "")].concat();
    for version in ["-tls1_2", "-tls1_3"] {
        let out = s_client(port, &[version, "-servername", "edge.test"], send.as_bytes());
        for n in 1..=3 {
            assert!(out.contains(&format!("Call-ID: records-{n}")), "{version}, request {n} unanswered: {out}");
        }
        assert_eq!(out.matches("SIP/2.0 200 OK").count(), 3, "{version}: {out}");
    }
}

#[test]
fn a_failed_handshake_is_counted_by_cause() {
    let (edge, port) = edge_with_tls("fail");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"OPTIONS sip:edge SIP/2.0\r\n\r\n").unwrap();
    let failures = edge.wait_metric("sipedge_tls_handshake_failures_total", &["reason=\"not TLS\""], |v| v >= 1.0);
    assert_eq!(failures, 1.0);
    let old = s_client(port, &["-tls1_1", "-servername", "edge.test"], b"");
    assert!(old.contains("no peer certificate available"), "TLS 1.1 is refused: {old}");
    let versions =
        edge.wait_metric("sipedge_tls_handshake_failures_total", &["reason=\"protocol version\""], |v| v >= 1.0);
    assert!(
        versions >= 1.0,
        "{}",
        edge.metrics().lines().filter(|l| l.contains("tls_handshake")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn mutual_tls_refuses_a_client_without_a_certificate_from_the_ca() {
    let dir = test_dir("mtls-ca");
    let ca = certificate(&dir, "ca", "trunk-ca.example");
    let trunk = signed_by(&dir, &ca, "trunk", "trunk.carrier.example");
    let stranger_ca = certificate(&dir, "other-ca", "other-ca.example");
    let stranger = signed_by(&dir, &stranger_ca, "stranger", "stranger.example");
    let (edge, port) = edge_with_tls_extra("mtls", &format!("client_ca = \"{}\"", ca.0.display()));
    let options = format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40001;branch=z9hG4bKmtls;rport\r\nFrom: <sip:a@example.com>;tag=1\r\n\
         To: <sip:127.0.0.1>\r\nCall-ID: mtls-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let cert_args = |c: &(PathBuf, PathBuf)| {
        vec!["-cert".to_string(), c.0.display().to_string(), "-key".to_string(), c.1.display().to_string()]
    };
    let with = cert_args(&trunk);
    let with: Vec<&str> = with.iter().map(String::as_str).collect();
    let out = s_client(port, &with, options.as_bytes());
    assert!(out.contains("SIP/2.0 200 OK"), "a trunk with a certificate from the CA: {out}");
    let none = s_client(port, &[], options.as_bytes());
    assert!(!none.contains("SIP/2.0 200"), "no client certificate: {none}");
    let other = cert_args(&stranger);
    let other: Vec<&str> = other.iter().map(String::as_str).collect();
    let wrong = s_client(port, &other, options.as_bytes());
    assert!(!wrong.contains("SIP/2.0 200"), "a certificate from another CA: {wrong}");
    let refused =
        edge.wait_metric("sipedge_tls_handshake_failures_total", &["reason=\"client certificate\""], |v| v >= 2.0);
    assert!(
        refused >= 2.0,
        "{}",
        edge.metrics().lines().filter(|l| l.contains("tls_handshake")).collect::<Vec<_>>().join("\n")
    );
}
