//! The mid-registrar (`registrar.mode = "mid"`) with the real binary in
//! front of a real core registrar: a second sipedge in local mode on
//! 127.0.0.2 (with digest authentication where the core challenges).
//! Devices are sipp, sipsak and UDP sockets on 127.0.0.1.
//!
//! Covered: refreshes absorbed (the core hears from a device once per
//! upstream period), the core's view (one binding: the edge's contact),
//! a call from the core reaching the device, the core's challenge relayed
//! and answered by the device (sipsak), a wrong password storing nothing,
//! a silent device de-registered upstream once.

mod common;
use common::sipp::*;
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const DOMAIN: &str = "example.com";

/// The core registrar: sipedge in local mode on 127.0.0.2, `auth` on or off.
fn core(domain: &str, auth: Option<&std::path::Path>) -> Edge {
    let port = free_port();
    let admin = free_port();
    let auth = match auth {
        Some(users) => {
            format!("[auth]\nenabled = true\nusers_file = \"{}\"\nalgorithms = [\"MD5\"]\n", users.display())
        }
        None => "[auth]\nenabled = false\n".into(),
    };
    let config = format!(
        "[server]\nshards = 1\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.2:{port}\"\n[admin]\naddr = \"127.0.0.1:{admin}\"\n\
         [metrics]\nflush_ms = 100\n[log]\nlevel = \"warn\"\n[registrar]\ndomains = [\"{domain}\"]\nmin_expires = 5\n{auth}\
         [proxy]\nt1_ms = 100\nprobe_interval_secs = 0\ntrusted = [\"127.0.0.1/32\"]\n[protect]\nallow = [\"127.0.0.0/8\"]\n"
    );
    Edge::with_config(
        config,
        format!("127.0.0.2:{port}").parse().unwrap(),
        format!("127.0.0.1:{admin}").parse().unwrap(),
    )
}

/// The mid-registrar on 127.0.0.1:`port` in front of `core`.
fn edge_at(port: u16, domain: &str, core: SocketAddr, throttle: &str) -> Edge {
    Edge::start_at(
        port,
        2,
        &format!(
            "[registrar]\ndomains = [\"{domain}\"]\nmin_expires = 5\nmode = \"mid\"\nthrottle = \"{throttle}\"\n\
             upstream = [{{ addr = \"{core}\", transport = \"udp\" }}]\ndevice_expires = 10\nupstream_expires = 300\n\
             [auth]\nenabled = false\n[proxy]\nt1_ms = 100\nprobe_interval_secs = 0\ntrusted = [\"127.0.0.2/32\"]\n"
        ),
    )
}

/// The mid-registrar on a free port.
fn edge(core: SocketAddr, throttle: &str) -> Edge {
    edge_at(free_port(), DOMAIN, core, throttle)
}

/// The contacts the core registrar holds for `user`.
fn held(core: &Edge, user: &str) -> Vec<String> {
    held_in(core, &format!("{user}@{DOMAIN}"))
}

/// The contacts the core registrar holds for `aor`.
fn held_in(core: &Edge, aor: &str) -> Vec<String> {
    // The admin face of a busy core may be slow to answer: asked again.
    let answer = (0..3).find_map(|_| http_get(core.admin, &format!("/registrations/{aor}")));
    let Some((200, body)) = answer else { return Vec::new() };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["bindings"]
        .as_array()
        .map_or(Vec::new(), |l| l.iter().map(|b| b["contact"].as_str().unwrap_or("").to_string()).collect())
}

/// A REGISTER of `user` from `sock` (contact: the socket) with `expires`; the answer.
fn register(sock: &UdpSocket, edge: SocketAddr, user: &str, cseq: u32, expires: u32) -> String {
    register_as(sock, edge, user, &format!("mid-{user}"), cseq, expires)
}

#[test]
fn refreshes_are_absorbed_and_a_silent_device_is_deregistered_once() {
    let core = core(DOMAIN, None);
    let edge = edge(core.sip, "contact");
    let dev = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ok = register(&dev, edge.sip, "bob", 1, 3600);
    assert_eq!(code(&ok), 200, "{ok}");
    assert!(ok.contains(";expires=10"), "the device gets the short expiry: {ok}");
    let upstream = held(&core, "bob");
    assert_eq!(upstream.len(), 1, "{upstream:?}");
    assert!(upstream[0].contains(";md=example.com;mr="), "the core holds the edge's contact: {upstream:?}");
    // Refreshes every 2 s for 8 s: all answered by the edge.
    for cseq in 2..=5 {
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(code(&register(&dev, edge.sip, "bob", cseq, 10)), 200);
    }
    let to_core = core.wait_metric("sipedge_register_results_total", &["code=\"200\""], |v| v >= 1.0);
    assert_eq!(to_core, 1.0, "the core heard from the device once");
    assert_eq!(edge.wait_metric("sipedge_mid_absorbed_total", &[], |v| v >= 4.0), 4.0);
    assert_eq!(held(&core, "bob"), upstream, "one binding, the same one");
    // Silent: 10 s later its registration ends, and the core is told once.
    let started = Instant::now();
    while !held(&core, "bob").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "never de-registered upstream");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(edge.wait_metric("sipedge_mid_deregistrations_total", &[], |v| v >= 1.0), 1.0);
}

#[test]
fn a_call_from_the_core_reaches_the_device_in_both_throttle_modes() {
    for throttle in ["contact", "aor"] {
        let core = core(DOMAIN, None);
        let edge = edge(core.sip, throttle);
        let dev = free_port();
        register_from(edge.sip, "alice", DOMAIN, "127.0.0.1", dev, "u1");
        assert_eq!(held(&core, "alice").len(), 1, "{throttle}");
        let callee = Peer::start("call_uas", "127.0.0.1", dev, "u1", 1);
        let trace = std::env::temp_dir().join(format!("sipedge-mid-call-{}.msg", std::process::id()));
        let _ = std::fs::remove_file(&trace);
        let out = call_to(core.sip, "alice@example.com", DOMAIN, "u1", 1, 20, Some(&trace));
        if !out.status.success() {
            eprintln!("{}", std::fs::read_to_string(&trace).unwrap_or_default());
        }
        assert_calls(&out, throttle);
        callee.assert_done();
    }
}

#[test]
fn the_cores_challenge_reaches_the_device_and_a_wrong_password_stores_nothing() {
    let dir = std::env::temp_dir().join(format!("sipedge-mid-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users.txt");
    // sipsak resolves the AOR's host, so the domain here is an address.
    std::fs::write(&users, "carol 127.0.0.1 password=s3cret\n").unwrap();
    let core = core("127.0.0.1", Some(&users));
    // sipsak 0.9.8 drops a fifth port digit: a four-digit port for the edge.
    let edge = edge_at(free_low_port(), "127.0.0.1", core.sip, "contact");
    let contact = "sip:carol@127.0.0.1:7999";
    let sipsak = |password: &str| sipsak_register(&edge, "carol", password, contact);
    assert!(!sipsak("wrong"), "a wrong password is refused by the core");
    assert!(held_in(&core, "carol@127.0.0.1").is_empty());
    let here = http_get(edge.admin, "/registrations/carol@127.0.0.1").unwrap().1;
    assert!(here.contains("\"bindings\":[]"), "{here}");
    assert!(sipsak("s3cret"), "the core's 401 went to sipsak, its answer to the core");
    assert_eq!(held_in(&core, "carol@127.0.0.1").len(), 1);
    assert!(edge.metric("sipedge_mid_refused_total", &[]) >= 1.0);
}

#[test]
fn two_devices_of_one_aor_one_leaving_as_the_other_refreshes_leave_the_core_with_the_other() {
    for throttle in ["contact", "aor"] {
        let core = core(DOMAIN, None);
        let edge = edge(core.sip, throttle);
        let (x, y) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        assert_eq!(code(&register(&x, edge.sip, "dan", 1, 60)), 200);
        assert_eq!(code(&register_as(&y, edge.sip, "dan", "dan-y", 1, 60)), 200);
        let before = held(&core, "dan");
        assert_eq!(before.len(), if throttle == "aor" { 1 } else { 2 }, "{throttle}: {before:?}");
        let sip = edge.sip;
        let leaving = std::thread::spawn(move || code(&register_as(&y, sip, "dan", "dan-y", 2, 0)));
        let staying = code(&register(&x, edge.sip, "dan", 2, 60));
        assert_eq!((staying, leaving.join().unwrap()), (200, 200), "{throttle}");
        let after = held(&core, "dan");
        assert_eq!(after.len(), 1, "{throttle}: the core keeps the other: {after:?}");
        assert!(before.contains(&after[0]), "{throttle}");
    }
}

#[test]
fn absorption_matches_the_arithmetic_and_no_forward_is_doubled() {
    // 100 devices refreshing every 5 s for 60 s, device_expires 10 s, upstream 60 s:
    // each is forwarded when new and once near its upstream end (40–50 s in), the
    // other 11 of its 13 REGISTERs are answered by the edge: 1100 of 1300 (84.6 %).
    let core = core(DOMAIN, None);
    let edge = Edge::start(
        2,
        &format!(
            "[registrar]\ndomains = [\"{DOMAIN}\"]\nmin_expires = 5\nmode = \"mid\"\n\
             upstream = [{{ addr = \"{}\", transport = \"udp\" }}]\ndevice_expires = 10\nupstream_expires = 60\n\
             [auth]\nenabled = false\n[proxy]\nt1_ms = 100\nprobe_interval_secs = 0\ntrusted = [\"127.0.0.2/32\"]\n\
             [protect]\nallow = [\"127.0.0.0/8\"]\n",
            core.sip
        ),
    );
    let devices: Vec<UdpSocket> = (0..100).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    let started = Instant::now();
    for round in 0..13u32 {
        let due = started + Duration::from_secs(5 * u64::from(round));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        for (i, d) in devices.iter().enumerate() {
            assert_eq!(code(&register(d, edge.sip, &format!("d{i}"), round + 1, 10)), 200, "d{i} round {round}");
        }
    }
    let forwarded = edge.wait_metric("sipedge_mid_forwarded_total", &[], |v| v >= 200.0);
    let absorbed = edge.wait_metric("sipedge_mid_absorbed_total", &[], |v| v >= 1100.0);
    let seen_by_core = core.wait_metric("sipedge_register_results_total", &["code=\"200\""], |v| v >= 200.0);
    eprintln!("absorbed {absorbed} of 1300 REGISTERs ({:.1} %), forwarded {forwarded}", absorbed / 13.0);
    assert_eq!((forwarded, absorbed, seen_by_core), (200.0, 1100.0, 200.0), "two forwards per device, no more");
    // Each device has one contact at the core (its tag never changes), so 100
    // bindings is one per device. Read at once: the devices' own registrations
    // end 10 s after their last refresh, and then the core is told.
    let at_core = core.wait_metric("sipedge_registrations_active", &[], |v| v >= 100.0);
    assert_eq!(at_core, 100.0, "one binding per device at the core");
}

/// As `register`, with its own Call-ID `call_id` (a second device of the user).
fn register_as(sock: &UdpSocket, edge: SocketAddr, user: &str, call_id: &str, cseq: u32, expires: u32) -> String {
    let local = sock.local_addr().unwrap();
    let req = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKmid{call_id}{cseq};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:{user}@{DOMAIN}>;tag={cseq}\r\nTo: <sip:{user}@{DOMAIN}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@{local}>\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    );
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(req.as_bytes(), edge).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("an answer");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
