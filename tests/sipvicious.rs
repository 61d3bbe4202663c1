//! SIPVicious (PyPI `sipvicious`, installed by tests/run.sh) against the real
//! binary: `svmap`, `svwar` and `svcrack` started as subprocesses.
//!
//! The tools always send `User-Agent: friendly-scanner` (none of them has an
//! option to change it), so with the default config the scanner filter
//! drops everything they send. To prove the defenses behind the filter, the
//! other runs turn the filter off (`scanners = []`): enumeration finds no
//! extension (REGISTER and INVITE are answered the same for real and
//! made-up users), nothing names the product, and password guessing is
//! banned (default `[protect.auth_ban]`) long before 50 guesses.

mod common;

use common::*;
use std::process::Command;

const USERS: &str =
    "1001 127.0.0.1 password=c0rrect-h0rse\n1002 127.0.0.1 password=battery-staple\n1005 127.0.0.1 password=9876\n";

/// `algorithms`: the digest challenges offered (`svcrack` 0.3.8 crashes on SHA-256, so it gets MD5 only).
fn edge_with_users(extra: &str) -> Edge {
    edge_offering(r#"["SHA-256", "MD5"]"#, extra)
}

fn edge_offering(algorithms: &str, extra: &str) -> Edge {
    let users = std::env::temp_dir().join(format!("sipedge-sipvicious-{}-{}.users", std::process::id(), free_port()));
    std::fs::write(&users, USERS).unwrap();
    Edge::start(2, &format!("[auth]\nusers_file = \"{}\"\nalgorithms = {algorithms}\n{extra}", users.display()))
}

/// Runs a SIPVicious tool with a hard time limit; its stdout and stderr together.
fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("90")
        .arg(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} (tests/run.sh installs sipvicious): {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("--- {name} {args:?}\n{text}");
    text
}

fn svmap(edge: &Edge) -> String {
    tool("sipvicious_svmap", &["-p", &edge.sip.port().to_string(), &edge.sip.ip().to_string()])
}

fn target(edge: &Edge) -> String {
    format!("udp://{}", edge.sip)
}

/// svwar's verdicts on extensions it thinks exist.
fn found_extensions(text: &str) -> Vec<&str> {
    text.lines().filter(|l| ["reqauth", "noauth", "weird", "exists"].iter().any(|w| l.contains(w))).collect()
}

#[test]
fn default_config_drops_the_tools_as_scanners() {
    let edge = edge_with_users("");
    let map = svmap(&edge);
    assert!(map.contains("found nothing"), "{map}");
    let war = tool("sipvicious_svwar", &["-e1000-1010", "--maximumtime", "15", &target(&edge)]);
    assert!(found_extensions(&war).is_empty(), "{war}");
    let drops = edge.wait_metric("sipedge_scanner_drops_total", &[], |v| v >= 2.0);
    assert!(drops >= 2.0, "scanner drops {drops}\n{}", edge.metrics());
    assert_eq!(edge.metric("sipedge_responses_sent_total", &[]), 0.0, "not one answer");
}

#[test]
fn svmap_sees_no_product_or_version() {
    let edge = edge_with_users("[protect]\nscanners = []\n");
    let map = svmap(&edge);
    assert!(
        map.contains(&format!("| {}", edge.sip)) && !map.contains("found nothing"),
        "the edge answers OPTIONS: {map}"
    );
    let lower = map.to_ascii_lowercase();
    assert!(!lower.contains("sipedge") && !lower.contains(env!("CARGO_PKG_VERSION")), "{map}");
    // Neither Server nor User-Agent in anything the edge writes.
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    let answer =
        udp_exchange(edge.sip, &options(edge.sip, "UDP", port, "fp"), std::time::Duration::from_secs(2)).unwrap();
    let names: Vec<String> =
        answer.lines().filter_map(|l| l.split_once(':')).map(|(n, _)| n.trim().to_ascii_lowercase()).collect();
    assert!(!names.iter().any(|n| n == "server" || n == "user-agent"), "{answer}");
}

#[test]
fn svwar_finds_no_extension() {
    let edge = edge_with_users("[protect]\nscanners = []\n");
    for method in ["REGISTER", "INVITE", "OPTIONS"] {
        let war = tool("sipvicious_svwar", &["-e1000-1010", "-m", method, "--maximumtime", "20", &target(&edge)]);
        assert!(found_extensions(&war).is_empty(), "{method}: {war}");
    }
}

#[test]
fn svcrack_is_banned_before_50_guesses() {
    let edge = edge_offering(r#"["MD5"]"#, "[protect]\nscanners = []\n");
    // Passwords 1-9999: the real one (9876) is far down the list.
    let crack = tool("sipvicious_svcrack", &["-u", "1005", "-r", "1-9999", "--maximumtime", "20", &target(&edge)]);
    assert!(!crack.contains("9876"), "{crack}");
    assert!(edge.wait_metric("sipedge_bans_total", &["reason=\"auth failures\""], |v| v >= 1.0) >= 1.0, "{crack}");
    let guesses = edge.metric("sipedge_auth_failures_total", &["reason=\"bad response\""]);
    assert!((10.0..50.0).contains(&guesses), "guesses checked before the ban: {guesses}");
    let bans = http_get(edge.admin, "/bans").unwrap().1;
    assert!(bans.contains("\"ip\":\"127.0.0.1\"") && bans.contains("auth failures"), "{bans}");
}
