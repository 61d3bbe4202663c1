//! SIP over WebSocket (RFC 7118) through the real binary with two shards:
//! a WebSocket client written here (tungstenite's blocking client)
//! registers with digest auth and gets its 401 and 200 as text frames,
//! binary frames, pings and CRLF keepalives are answered, an idle client is
//! pinged and outlives the idle timeout, a handshake
//! without the `sip` subprotocol gets 400 and is counted, and a message
//! over the buffer limit closes the connection. Then a real browser: JsSIP
//! in headless Chromium (tests/browser, installed by tests/run.sh)
//! registers over WSS and receives a MESSAGE sent to its AOR over UDP.

mod common;
use common::tls::{certificate, test_dir};
use common::*;
use md5::{Digest, Md5};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

const USER: &str = "webuser";
const PASSWORD: &str = "s3cret-ws";

/// An edge (UDP+TCP as usual) with a `ws` or `wss` listener on its own
/// port, registrar for 127.0.0.1, MD5 digest auth (JsSIP knows no other)
/// with one subscriber (in a users file of test `test`'s own, since tests
/// run in parallel); `extra` is appended to the config.
fn edge_with(test: &str, transport: &str, listen_extra: &str, extra: &str) -> (Edge, u16) {
    edge_offering(test, transport, listen_extra, "algorithms = [\"MD5\"]", extra)
}

/// As `edge_with`, with `algorithms` the `[auth]` line of the digest challenges.
fn edge_offering(test: &str, transport: &str, listen_extra: &str, algorithms: &str, extra: &str) -> (Edge, u16) {
    let users = test_dir(test).join("users");
    std::fs::write(&users, format!("{USER} 127.0.0.1 password={PASSWORD}\n")).unwrap();
    let port = free_port();
    let config = format!(
        "\n[[listen]]\ntransport = \"{transport}\"\naddr = \"127.0.0.1:{port}\"\n{listen_extra}\n\
         [registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{}\"\n{algorithms}\n{extra}",
        users.display()
    );
    (Edge::start(2, &config), port)
}

fn connect(port: u16, subprotocol: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://127.0.0.1:{port}/").into_client_request().unwrap();
    if let Some(p) = subprotocol {
        req.headers_mut().insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (ws, answer) =
        tungstenite::client(req, tungstenite::stream::MaybeTlsStream::Plain(stream)).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => panic!("blocking handshake interrupted"),
        })?;
    if subprotocol.is_some() {
        assert_eq!(answer.headers()["Sec-WebSocket-Protocol"], "sip");
    }
    Ok(ws)
}

/// The next data message, which must be text.
fn text(ws: &mut Ws) -> String {
    loop {
        match ws.read().expect("a message from the edge") {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// A REGISTER as a browser writes it: `.invalid` Via and Contact hosts,
/// outbound, and no Content-Length (RFC 7118 §5 makes it unnecessary).
fn register(cseq: u32, authorization: &str) -> String {
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws{cseq};rport\r\nMax-Forwards: 70\r\n\
         To: <sip:{USER}@127.0.0.1>\r\nFrom: <sip:{USER}@127.0.0.1>;tag=ws1\r\nCall-ID: ws-reg-1\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:k3l2@df7jal23ls0d.invalid;transport=ws>;+sip.instance=\"<urn:uuid:5f1c0000-0000-4000-8000-000000000001>\";reg-id=1;expires=300\r\n\
         Supported: path, outbound\r\n{authorization}\r\n"
    )
}

/// `name="value"` or `name=value` from a challenge.
fn param(challenge: &str, name: &str) -> Option<String> {
    let at = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[at..];
    Some(match rest.strip_prefix('"') {
        Some(q) => q[..q.find('"')?].to_string(),
        None => rest.split([',', '\r']).next()?.trim().to_string(),
    })
}

fn md5_hex(s: &str) -> String {
    format!("{:x}", Md5::digest(s.as_bytes()))
}

/// The Authorization line answering the 401 `challenge` (MD5, qop=auth when offered).
fn authorization(challenge: &str) -> String {
    let line = challenge.lines().find(|l| l.starts_with("WWW-Authenticate:")).expect("a challenge");
    let (realm, nonce) = (param(line, "realm").unwrap(), param(line, "nonce").unwrap());
    let uri = "sip:127.0.0.1";
    let ha1 = md5_hex(&format!("{USER}:{realm}:{PASSWORD}"));
    let ha2 = md5_hex(&format!("REGISTER:{uri}"));
    let (nc, cnonce) = ("00000001", "0a4f113b");
    let qop = param(line, "qop").is_some();
    let response = if qop {
        md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
    } else {
        md5_hex(&format!("{ha1}:{nonce}:{ha2}"))
    };
    let mut auth = format!("Authorization: Digest username=\"{USER}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5");
    if qop {
        auth.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
    }
    auth + "\r\n"
}

#[test]
fn a_websocket_client_registers_with_digest_auth_over_text_frames() {
    let (edge, port) = edge_with("ws-register", "ws", "", "");
    let mut ws = connect(port, Some("sip")).expect("handshake with sip");
    ws.send(Message::text(register(1, ""))).unwrap();
    let challenge = text(&mut ws);
    assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
    assert!(
        challenge.contains("Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1;rport="),
        "answered on the connection: {challenge}"
    );
    ws.send(Message::text(register(2, &authorization(&challenge)))).unwrap();
    let ok = text(&mut ws);
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    assert!(ok.contains("sip:k3l2@df7jal23ls0d.invalid;transport=ws"), "{ok}");

    let (code, body) = http_get(edge.admin, &format!("/registrations/{USER}@127.0.0.1")).unwrap();
    assert_eq!(code, 200);
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["bindings"][0]["transport"], "ws", "{r}");
    assert!(r["bindings"][0]["flow"].is_string(), "a WebSocket binding is a flow: {r}");

    // A binary frame is one SIP message too; the answer comes as text.
    let options = options(format!("127.0.0.1:{port}").parse().unwrap(), "WS", 0, "wsbin").into();
    ws.send(Message::Binary(options)).unwrap();
    assert!(text(&mut ws).starts_with("SIP/2.0 200 OK"));
    // WebSocket ping, and a CRLF keepalive (SIP.js sends those) as a message of its own.
    ws.send(Message::Ping(b"hi".to_vec().into())).unwrap();
    match ws.read().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"hi"),
        other => panic!("expected a pong, got {other:?}"),
    }
    ws.send(Message::text("\r\n\r\n")).unwrap();
    assert_eq!(text(&mut ws), "\r\n");
    assert!(
        edge.wait_metric("sipedge_messages_received_total", &["transport=\"ws\"", "kind=\"request\""], |v| v >= 3.0)
            >= 3.0
    );
    ws.close(None).unwrap();
    assert!(
        edge.wait_metric("sipedge_tcp_closed_total", &["reason=\"peer closed\""], |v| v >= 1.0) >= 1.0,
        "{}",
        edge.metrics()
    );
}

#[test]
fn a_handshake_without_the_sip_subprotocol_is_refused_and_counted() {
    let (edge, port) = edge_with("ws-refused", "ws", "", "");
    match connect(port, Some("chat")) {
        Err(tungstenite::Error::Http(answer)) => {
            assert_eq!(answer.status(), 400);
            let body = String::from_utf8_lossy(answer.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("\"sip\""), "{body}");
        }
        other => panic!("expected a 400, got {:?}", other.map(|_| "a WebSocket")),
    }
    assert!(matches!(connect(port, None), Err(tungstenite::Error::Http(a)) if a.status() == 400));
    // A plain HTTP request is no upgrade: closed unanswered, and counted.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // Shards flush their counters on their own ticks: wait for the sum.
    let refused = |reason: &str, n: f64| {
        edge.wait_metric("sipedge_ws_handshakes_refused_total", &[&format!("reason=\"{reason}\"")], |v| v >= n)
    };
    assert_eq!(refused("no sip subprotocol", 2.0), 2.0);
    assert_eq!(refused("not a websocket upgrade", 1.0), 1.0);
    assert_eq!(edge.metric("sipedge_tcp_accepted_total", &[]), 0.0, "a refused handshake opens no flow");
}

#[test]
fn a_message_over_the_buffer_limit_closes_the_connection() {
    let (edge, port) = edge_with("ws-limit", "ws", "", "[limits]\ntcp_max_buffered_bytes = 2048\n");
    let mut ws = connect(port, Some("sip")).unwrap();
    ws.send(Message::text(format!("{}X-Pad: {}\r\n\r\n", register(1, "").trim_end(), "a".repeat(4000)))).unwrap();
    let closed = loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(_) => break true,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(other) => panic!("expected the connection to close, got {other:?}"),
        }
    };
    assert!(closed);
    let reason = "reason=\"websocket message over buffer limit\"";
    assert_eq!(edge.wait_metric("sipedge_tcp_closed_total", &[reason], |v| v >= 1.0), 1.0, "{}", edge.metrics());
}

#[test]
fn an_idle_websocket_is_pinged_and_outlives_the_idle_timeout() {
    let (edge, port) = edge_with("ws-idle", "ws", "", "[limits]\ntcp_idle_timeout_secs = 2\n");
    let mut ws = connect(port, Some("sip")).unwrap();
    // Say nothing for longer than the idle timeout; only answer pings (the
    // client's pong goes out with its next read).
    let (start, mut pings) = (Instant::now(), 0);
    while start.elapsed() < Duration::from_millis(3500) {
        match ws.read() {
            Ok(Message::Ping(_)) => pings += 1,
            other => panic!("expected pings while idle, got {other:?}"),
        }
    }
    assert!(pings >= 2, "pinged every second: {pings}");
    let options = options(format!("127.0.0.1:{port}").parse().unwrap(), "WS", 0, "wsidle");
    ws.send(Message::text(String::from_utf8(options).unwrap())).unwrap();
    assert!(text(&mut ws).starts_with("SIP/2.0 200 OK"), "still open after the idle timeout");
    assert_eq!(edge.metric("sipedge_tcp_closed_total", &["reason=\"idle timeout\""]), 0.0);
}

/// The edge's counters that say why a browser got nothing.
fn diagnosis(edge: &Edge) -> String {
    let why =
        ["drops", "handshake", "tcp_closed", "tcp_accepted", "register_results", "auth_failures", "messages_received"];
    edge.metrics()
        .lines()
        .filter(|l| !l.starts_with('#') && why.iter().any(|w| l.contains(w)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `node jssip-client.js`, its stdout read line by line on a thread.
struct Browser {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Browser {
    fn start(url: &str, uri: &str) -> Browser {
        let dir = format!("{}/tests/browser", env!("CARGO_MANIFEST_DIR"));
        assert!(
            std::path::Path::new(&format!("{dir}/node_modules/jssip")).exists(),
            "tests/browser/node_modules missing: tests/run.sh runs `npm ci` there"
        );
        assert!(
            std::path::Path::new("/usr/bin/chromium").exists(),
            "/usr/bin/chromium missing: tests/run.sh installs Debian's chromium"
        );
        let mut child = Command::new("node")
            .current_dir(&dir)
            .args(["jssip-client.js", url, uri, PASSWORD])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node is not installed");
        let (tx, lines) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || out.lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
        Browser { child, lines }
    }

    /// The next line the script prints (None: it printed nothing in time).
    fn line(&self, wait: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(wait).ok();
        eprintln!("jssip-client.js: {}", line.as_deref().unwrap_or("(nothing)"));
        line
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn jssip_in_chromium_registers_over_wss_and_receives_a_message_sent_over_udp() {
    let dir = test_dir("ws-browser");
    let (cert, key) = certificate(&dir, "edge", "edge.test");
    let certs = format!("certificates = [{{ cert = \"{}\", key = \"{}\" }}]", cert.display(), key.display());
    // The shipped default (SHA-256 first) for everyone; JsSIP, which answers
    // only MD5, gets MD5 through its profile.
    let profile = "[[profile]]\nname = \"jssip\"\nuser_agent = [\"JsSIP\"]\nauth_algorithms = [\"MD5\"]\n";
    let (edge, port) = edge_offering("ws-browser", "wss", &certs, "", profile);
    let browser = Browser::start(&format!("wss://127.0.0.1:{port}"), &format!("sip:{USER}@127.0.0.1"));
    let registered = browser.line(Duration::from_secs(90));
    assert_eq!(registered.as_deref(), Some("REGISTERED"), "JsSIP did not register over WSS\n{}", diagnosis(&edge));
    let (_, body) = http_get(edge.admin, &format!("/registrations/{USER}@127.0.0.1")).unwrap();
    assert!(body.contains("\"transport\":\"wss\""), "{body}");
    assert!(edge.wait_metric("sipedge_profile_requests_total", &["profile=\"jssip\""], |v| v >= 1.0) >= 1.0);

    // Someone elsewhere (not a local user, so not challenged) writes to the browser's AOR over UDP.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let me = sock.local_addr().unwrap();
    let text = "Hello from UDP, via the edge, to a browser";
    let message = format!(
        "MESSAGE sip:{USER}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKmsg1;rport\r\nMax-Forwards: 70\r\n\
         From: <sip:carol@remote.example>;tag=m1\r\nTo: <sip:{USER}@127.0.0.1>\r\nCall-ID: ws-msg-1\r\nCSeq: 1 MESSAGE\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    );
    sock.send_to(message.as_bytes(), edge.sip).unwrap();
    let got = browser.line(Duration::from_secs(30));
    assert_eq!(got, Some(format!("MESSAGE {text}")), "the browser did not get the MESSAGE\n{}", diagnosis(&edge));

    // JsSIP's 200 comes back over its connection, through the edge, to the sender.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 65535];
    let answer = loop {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => break String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(_) if Instant::now() < deadline => continue,
            Err(e) => panic!("no answer to the MESSAGE: {e}"),
        }
    };
    assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
    let from_browser =
        edge.wait_metric("sipedge_messages_received_total", &["transport=\"wss\"", "kind=\"response\""], |v| v >= 1.0);
    assert!(from_browser >= 1.0, "the 200 came over WSS");
}
