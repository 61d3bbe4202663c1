//! The registrar through the real binary with 4 shards: sipp registers
//! many AORs (most owned by another shard than the one that received them)
//! with and without digest auth, over UDP and TCP; `/registrations` shows
//! each binding on its owner, `/metrics` counts them, and they expire on time.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const USERS: usize = 60;

fn users_file() -> String {
    let p = std::env::temp_dir().join(format!("sipedge-users-{}.txt", std::process::id()));
    let text: String = (0..USERS).map(|i| format!("u{i:04} 127.0.0.1 password=pw{i:04}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// sipp injection file: one line per user (SEQUENTIAL).
fn inject(name: &str, line: impl Fn(usize) -> String) -> String {
    let p = std::env::temp_dir().join(format!("sipedge-inj-{}-{name}.csv", std::process::id()));
    let mut text = String::from("SEQUENTIAL\n");
    for i in 0..USERS {
        text.push_str(&line(i));
        text.push('\n');
    }
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn sipp(edge: &Edge, scenario: &str, transport: &str, inf: &str) {
    let sf = format!("{}/tests/sipp/{scenario}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("sipp")
        .args(["-sf", &sf, "-inf", inf, "-t", transport, "-m", &USERS.to_string(), "-r", "100", "-l", "20"])
        .args(["-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "20s", "-timeout_error", "-max_socket", "1000"])
        .arg(edge.sip.to_string())
        .output()
        .expect("sipp is not installed: tests/run.sh installs Debian's sip-tester");
    assert!(
        out.status.success(),
        "sipp {scenario} {transport} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn registrations(edge: &Edge, aor: &str) -> serde_json::Value {
    let (code, body) = http_get(edge.admin, &format!("/registrations/{aor}")).expect("admin answers");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn check_all_registered(edge: &Edge, transport: &str) {
    for i in 0..USERS {
        let r = registrations(edge, &format!("u{i:04}@127.0.0.1"));
        let b = r["bindings"].as_array().unwrap();
        assert_eq!(b.len(), 1, "u{i:04}: {r}");
        assert_eq!(b[0]["transport"], transport, "{r}");
        assert_eq!(b[0]["user_agent"], "sipp", "{r}");
        assert!(b[0]["contact"].as_str().unwrap().starts_with(&format!("sip:u{i:04}@127.0.0.1:")), "{r}");
    }
    let active = edge.wait_metric("sipedge_registrations_active", &[], |v| v >= USERS as f64);
    assert_eq!(active, USERS as f64);
    let per = edge.per_shard("sipedge_registrations_active", &[]);
    assert!(per.iter().filter(|(_, v)| *v > 0.0).count() >= 3, "AORs should spread over the shards: {per:?}");
    assert!(edge.metric("sipedge_mesh_sent_total", &[]) > 0.0, "most REGISTERs should cross shards");
}

#[test]
fn sipp_register_without_auth_udp_and_tcp() {
    let edge = Edge::start(4, "[registrar]\ndomains = [\"127.0.0.1\"]\nmin_expires = 1\n[auth]\nenabled = false\n");
    sipp(&edge, "register.xml", "un", &inject("plain", |i| format!("u{i:04};127.0.0.1;300")));
    check_all_registered(&edge, "udp");
    sipp(&edge, "register.xml", "tn", &inject("plain-tcp", |i| format!("u{i:04};127.0.0.1;300")));
    // Same AORs, new Call-IDs and contacts over TCP: two bindings each now.
    let r = registrations(&edge, "u0001@127.0.0.1");
    assert_eq!(r["bindings"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(
        edge.wait_metric("sipedge_register_results_total", &["code=\"200\""], |v| v >= 2.0 * USERS as f64),
        2.0 * USERS as f64
    );
}

#[test]
fn sipp_register_with_digest_auth_udp_and_tcp() {
    let users = users_file();
    let edge = Edge::start(4, &format!("[registrar]\ndomains = [\"127.0.0.1\"]\nmin_expires = 1\n[auth]\nusers_file = \"{users}\"\nalgorithms = [\"MD5\"]\n"));
    let line = |i: usize| format!("u{i:04};127.0.0.1;[authentication username=u{i:04} password=pw{i:04}];300");
    sipp(&edge, "register_auth.xml", "un", &inject("auth", line));
    check_all_registered(&edge, "udp");
    assert_eq!(
        edge.wait_metric("sipedge_register_results_total", &["code=\"401\""], |v| v >= USERS as f64),
        USERS as f64
    );
    sipp(&edge, "register_auth.xml", "tn", &inject("auth-tcp", line));
    assert_eq!(
        edge.wait_metric("sipedge_register_results_total", &["code=\"200\""], |v| v >= 2.0 * USERS as f64),
        2.0 * USERS as f64
    );
}

#[test]
fn wrong_password_is_refused_and_nothing_is_stored() {
    let users = users_file();
    let edge = Edge::start(
        4,
        &format!("[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{users}\"\nalgorithms = [\"MD5\"]\n"),
    );
    let line = |i: usize| format!("u{i:04};127.0.0.1;[authentication username=u{i:04} password=wrong];300");
    let sf = format!("{}/tests/sipp/register_auth.xml", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("sipp")
        .args([
            "-sf",
            &sf,
            "-inf",
            &inject("wrong", line),
            "-t",
            "un",
            "-m",
            "5",
            "-r",
            "50",
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-nostdin",
            "-timeout",
            "10s",
            "-max_socket",
            "100",
        ])
        .arg(edge.sip.to_string())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong password must not register");
    assert_eq!(registrations(&edge, "u0000@127.0.0.1")["bindings"].as_array().unwrap().len(), 0);
    assert!(
        edge.wait_metric("sipedge_auth_failures_total", &["reason=\"bad response\""], |v| v >= 5.0) >= 5.0,
        "{}",
        edge.metrics()
    );
}

#[test]
fn bindings_expire_on_time() {
    let edge = Edge::start(4, "[registrar]\ndomains = [\"127.0.0.1\"]\nmin_expires = 1\n[auth]\nenabled = false\n");
    sipp(&edge, "register.xml", "un", &inject("short", |i| format!("u{i:04};127.0.0.1;2")));
    let registered = Instant::now();
    assert_eq!(registrations(&edge, "u0003@127.0.0.1")["bindings"].as_array().unwrap().len(), 1);
    // Expiry is second-granular: gone within one second after expires (2 s).
    while registered.elapsed() < Duration::from_millis(3500) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..USERS {
        let r = registrations(&edge, &format!("u{i:04}@127.0.0.1"));
        assert_eq!(r["bindings"].as_array().unwrap().len(), 0, "{r}");
    }
    assert_eq!(edge.wait_metric("sipedge_registrations_active", &[], |v| v == 0.0), 0.0);
}

#[test]
fn subscribers_reload_keeps_old_data_when_the_file_is_bad() {
    let users = users_file();
    let edge = Edge::start(2, &format!("[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{users}\"\n"));
    std::fs::write(&users, "u0000 127.0.0.1 password=x\nbroken line\n").unwrap();
    let r = http_post(edge.admin, "/reload").unwrap();
    assert_eq!(r.0, 422, "{r:?}");
    assert!(r.1.contains(":2:"), "the bad line is named: {r:?}");
    std::fs::write(&users, "u0000 127.0.0.1 password=x\n").unwrap();
    let r = http_post(edge.admin, "/reload").unwrap();
    assert_eq!(r, (200, "reloaded 1 subscribers\n".to_string()));
}
