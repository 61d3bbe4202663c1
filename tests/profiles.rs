//! Device profiles against the real binary, with sipp: a profile for the
//! source 127.0.0.3 maps the core's 403 to SUBSCRIBE into 480 (the seed's
//! case: a device class that loops on 403), while a device outside the
//! profile gets the 403 as the core sent it; an exempt profile's source is
//! never banned, and a profile matched by User-Agent alone may not be
//! exempt (refused at load, with its line).

mod common;
use common::sipp::*;
use common::*;
use std::net::UdpSocket;
use std::time::Duration;

const CORE_IP: &str = "127.0.0.2";

fn subscribe(edge: &Edge, id: &str) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = sock.local_addr().unwrap().port();
    let req = format!(
        "SUBSCRIBE sip:presence@core.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{id};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:device@sipedge.test>;tag={id}\r\nTo: <sip:presence@core.test>\r\nCall-ID: {id}\r\n\
         CSeq: 1 SUBSCRIBE\r\nEvent: presence\r\nExpires: 600\r\nContact: <sip:device@127.0.0.1:{port}>\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(req.as_bytes(), edge.sip).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).expect("a final answer");
        let c = code(&String::from_utf8_lossy(&buf[..n]));
        if c >= 200 {
            return c;
        }
    }
}

#[test]
fn a_profile_per_source_maps_the_cores_403_to_subscribe_into_480_for_its_devices_only() {
    let core = free_port();
    let edge = Edge::start(
        1,
        &format!(
            "[registrar]\ndomains = [\"sipedge.test\"]\n[auth]\nenabled = false\n[proxy]\ntrusted = [\"{CORE_IP}\"]\nprobe_interval_secs = 0\n\
             [[proxy.route]]\nupstreams = [{{ addr = \"{CORE_IP}:{core}\" }}]\n\
             [[profile]]\nname = \"loopy\"\nsources = [\"127.0.0.3/32\"]\n[profile.map_answers.SUBSCRIBE]\n403 = 480\n"
        ),
    );
    let refuser = Peer::start("uas_403", CORE_IP, core, "u1", 2);
    let out = std::process::Command::new("timeout")
        .args(["30", "sipp", "-sf", &scenario("subscribe_480"), "-s", "presence", "-key", "domain", "core.test"])
        .args(["-t", "u1", "-m", "1", "-i", "127.0.0.3", "-p", &free_port().to_string(), "-nostdin"])
        .args(["-timeout", "20s", "-timeout_error"])
        .arg(edge.sip.to_string())
        .output()
        .expect("sipp");
    assert!(out.status.success(), "the profile's device got 480:\n{}", report(&out));
    assert_eq!(subscribe(&edge, "outside"), 403, "a device outside the profile gets the core's answer");
    refuser.assert_done();
    assert!(edge.wait_metric("sipedge_profile_requests_total", &["profile=\"loopy\""], |v| v >= 1.0) >= 1.0);
}

#[test]
fn an_exempt_profile_is_never_banned_and_a_user_agent_profile_cannot_be_exempt() {
    let edge = Edge::start(
        1,
        "[protect.flood]\nrequests = 20\nwindow_secs = 10\nban_secs = 60\n\
         [[profile]]\nname = \"pbx\"\nsources = [\"127.0.0.3/32\"]\nexempt_from_protection = true\n",
    );
    let pbx = UdpSocket::bind("127.0.0.3:0").unwrap();
    pbx.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let port = pbx.local_addr().unwrap().port();
    let mut answered = 0;
    for i in 0..60 {
        pbx.send_to(&options(edge.sip, "UDP", port, &format!("x{i}")), edge.sip).unwrap();
        let mut buf = [0u8; 2048];
        answered += usize::from(pbx.recv(&mut buf).is_ok());
    }
    assert_eq!(answered, 60, "three times the flood threshold, never banned");
    assert_eq!(edge.metric("sipedge_bans_total", &[]), 0.0);

    let path = std::env::temp_dir().join(format!("sipedge-profile-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n\n[[profile]]\nname = \"sneaky\"\nuser_agent = [\"PBX\"]\nexempt_from_protection = true\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN).args(["check-config", path.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(":5:") && err.contains("profile[0].exempt_from_protection"), "{err}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_profiles_header_rules_apply_on_the_wire_to_the_answers_its_devices_get() {
    // A core that answers every request 200 with an internal header.
    let core = UdpSocket::bind((CORE_IP, 0)).unwrap();
    let core_addr = core.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok((n, from)) = core.recv_from(&mut buf) {
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let mut resp = String::from("SIP/2.0 200 OK\r\n");
            for line in req.lines() {
                let l = line.to_ascii_lowercase();
                if ["via:", "from:", "to:", "call-id:", "cseq:"].iter().any(|h| l.starts_with(h)) {
                    resp.push_str(line);
                    resp.push_str(if l.starts_with("to:") { ";tag=core\r\n" } else { "\r\n" });
                }
            }
            resp.push_str("X-Core-Node: core-7\r\nContent-Length: 0\r\n\r\n");
            let _ = core.send_to(resp.as_bytes(), from);
        }
    });
    let edge = Edge::start(
        1,
        &format!(
            "[registrar]\ndomains = [\"sipedge.test\"]\n[auth]\nenabled = false\n[proxy]\ntrusted = [\"{CORE_IP}\"]\nprobe_interval_secs = 0\n\
             [[proxy.route]]\nupstreams = [{{ addr = \"{core_addr}\" }}]\n\
             [[profile]]\nname = \"carrier\"\nsources = [\"127.0.0.3/32\"]\nstrip_headers = [\"X-Core-*\"]\n\
             [profile.add_headers]\n\"X-Served-By\" = \"edge\"\n"
        ),
    );
    let answer = |ip: &str| {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let port = sock.local_addr().unwrap().port();
        let req = format!(
            "MESSAGE sip:someone@core.test SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKh{port};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:device@sipedge.test>;tag=h\r\nTo: <sip:someone@core.test>\r\nCall-ID: h{port}\r\n\
             CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
        );
        sock.send_to(req.as_bytes(), edge.sip).unwrap();
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("an answer");
        String::from_utf8_lossy(&buf[..n]).to_string()
    };
    let inside = answer("127.0.0.3");
    assert!(inside.starts_with("SIP/2.0 200"), "{inside}");
    assert!(!inside.contains("X-Core-Node"), "removed for the profile's device:\n{inside}");
    assert!(inside.contains("X-Served-By: edge\r\n"), "added for the profile's device:\n{inside}");
    let other = answer("127.0.0.1");
    assert!(other.contains("X-Core-Node: core-7"), "untouched for anyone else:\n{other}");
    assert!(!other.contains("X-Served-By"), "{other}");
}

/// One UDP device: sends `req` (with `{port}` filled in) and returns the
/// first final answer.
fn exchange(sock: &UdpSocket, edge: &Edge, req: &str) -> String {
    let port = sock.local_addr().unwrap().port();
    sock.send_to(req.replace("{port}", &port.to_string()).as_bytes(), edge.sip).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).expect("an answer");
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("SIP/2.0 ") && code(&text) >= 200 {
            return text;
        }
    }
}

#[test]
fn a_profile_sets_registration_terms_nat_keepalives_and_header_rules_towards_a_carrier() {
    // The carrier: a plain socket that sees what the edge sends it, and answers.
    let carrier = UdpSocket::bind((CORE_IP, 0)).unwrap();
    carrier.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let carrier_addr = carrier.local_addr().unwrap();
    let edge = Edge::start(
        1,
        &format!(
            "[registrar]\ndomains = [\"sipedge.test\"]\n[auth]\nenabled = false\n[proxy]\nprobe_interval_secs = 0\n\
             [[proxy.route]]\nupstreams = [{{ addr = \"{carrier_addr}\" }}]\n\
             [[profile]]\nname = \"carrier\"\nsources = [\"{CORE_IP}/32\"]\nstrip_headers = [\"X-Internal-*\"]\n\
             [profile.add_headers]\n\"X-Edge\" = \"sipedge\"\n\
             [[profile]]\nname = \"nat-phones\"\nuser_agent = [\"NatPhone\"]\nnat = \"always\"\nkeepalive_secs = 5\n\
             min_expires = 120\ndefault_expires = 120\nmax_expires = 300\n"
        ),
    );
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    phone.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let register = |expires: u32, cseq: u32| {
        format!(
            "REGISTER sip:sipedge.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{{port}};branch=z9hG4bKr{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:nat@sipedge.test>;tag=r\r\nTo: <sip:nat@sipedge.test>\r\nCall-ID: r-profile\r\n\
             CSeq: {cseq} REGISTER\r\nUser-Agent: NatPhone 2.1\r\nContact: <sip:nat@127.0.0.1:{{port}}>\r\nExpires: {expires}\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let brief = exchange(&phone, &edge, &register(60, 1));
    assert_eq!(code(&brief), 423, "[registrar] allows 60 s, the profile does not:\n{brief}");
    assert!(brief.contains("\r\nMin-Expires: 120\r\n"), "{brief}");
    let ok = exchange(&phone, &edge, &register(3600, 2));
    assert_eq!(code(&ok), 200, "{ok}");
    assert!(ok.contains(";expires=300\r\n"), "clamped to the profile's max_expires:\n{ok}");

    // The edge keeps the phone's NAT mapping open: CRLF CRLF every 5 s.
    let mut buf = [0u8; 4096];
    let n = phone.recv(&mut buf).expect("a keepalive within 8 s");
    assert_eq!(&buf[..n], b"\r\n\r\n");
    assert!(edge.wait_metric("sipedge_nat_keepalives_sent_total", &[], |v| v >= 1.0) >= 1.0);
    assert_eq!(edge.metric("sipedge_nat_keepalive_peers", &[]), 1.0);

    // Its MESSAGE (no rport asked, Contact naming its source) reaches the
    // carrier with rport stamped, an alias on the Contact, and the
    // carrier profile's header rules applied.
    let port = phone.local_addr().unwrap().port();
    let message = format!(
        "MESSAGE sip:someone@carrier.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKm1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:nat@sipedge.test>;tag=m\r\nTo: <sip:someone@carrier.test>\r\nCall-ID: m-profile\r\n\
         CSeq: 1 MESSAGE\r\nUser-Agent: NatPhone 2.1\r\nContact: <sip:nat@127.0.0.1:{port}>\r\nX-Internal-Id: 42\r\n\
         Content-Length: 0\r\n\r\n"
    );
    phone.send_to(message.as_bytes(), edge.sip).unwrap();
    let n = carrier.recv(&mut buf).expect("the MESSAGE at the carrier");
    let seen = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(
        seen.contains(&format!("branch=z9hG4bKm1;rport={port};received=127.0.0.1")),
        "rport though not asked:\n{seen}"
    );
    assert!(seen.contains(&format!("<sip:nat@127.0.0.1:{port};alias=127.0.0.1~{port}~1>")), "{seen}");
    assert!(!seen.contains("X-Internal-Id"), "stripped towards the carrier:\n{seen}");
    assert!(seen.contains("\r\nX-Edge: sipedge\r\n"), "added towards the carrier:\n{seen}");
}
