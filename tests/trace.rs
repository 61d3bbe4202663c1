//! The per-request trace log on the real binary: `sipedge ctl trace add`
//! an AOR, a method or an IP on a running two-shard edge, and each finished
//! transaction that matches writes one line to the log (whatever
//! `log.level` says; JSON fields with `log.format = "json"`); `ctl trace
//! remove` stops it at once; bad rules are refused.

mod common;
use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `sipedge ctl` on `edge`: the exit code and everything it printed.
fn ctl(edge: &Edge, args: &[&str]) -> (i32, String) {
    let (code, out, err) = edge.ctl(args);
    (code, out + &err)
}

/// A two-shard edge on `port` at log level error, its log in a file.
fn edge(test: &str, format: &str, port: u16) -> (Edge, std::path::PathBuf) {
    let dir = common::tls::test_dir(test);
    let users = dir.join("users");
    std::fs::write(&users, "carol 127.0.0.1 password=s3cret\n").unwrap();
    let admin = free_port();
    let config = format!(
        "[server]\nshards = 2\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:{port}\"\n[admin]\naddr = \"127.0.0.1:{admin}\"\n\
         [log]\nlevel = \"error\"\nformat = \"{format}\"\n[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{}\"\nalgorithms = [\"MD5\"]\n",
        users.display()
    );
    let log = dir.join("stderr");
    let file = std::fs::File::create(&log).unwrap();
    let edge = Edge::with_config_logging(
        config,
        format!("127.0.0.1:{port}").parse().unwrap(),
        format!("127.0.0.1:{admin}").parse().unwrap(),
        Stdio::from(file),
    );
    (edge, log)
}

/// Trace lines in the log, after waiting for at least `n` of them (the logger writes on its own thread).
fn traced(log: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let lines: Vec<String> = std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .filter(|l| l.contains("sipedge::trace"))
            .map(String::from)
            .collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn options_from(edge: &Edge, id: &str) {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    assert_eq!(
        udp_exchange(edge.sip, &options(edge.sip, "UDP", port, id), Duration::from_secs(2)).map(|r| code(&r)),
        Some(200)
    );
    let _ = s;
}

#[test]
fn trace_an_aor_and_a_method_then_stop() {
    // sipsak needs a four-digit port (see `free_low_port`).
    let (edge, log) = edge("trace-text", "text", free_low_port());
    assert_eq!(ctl(&edge, &["trace", "list"]), (0, "tracing nothing\n".into()));
    options_from(&edge, "before");
    assert!(traced(&log, 0).is_empty(), "nothing is traced by default");

    let (code, out) = ctl(&edge, &["trace", "add", "carol@127.0.0.1"]);
    assert_eq!((code, out.as_str()), (0, "tracing sip:carol@127.0.0.1\n"));
    assert!(sipsak_register(&edge, "carol", "s3cret", "sip:carol@127.0.0.1:5995"));
    // sipsak: REGISTER -> 401, then with credentials -> 200.
    let lines = traced(&log, 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0]
            .contains("INFO  sipedge::trace: REGISTER sip:carol@127.0.0.1 -> sip:carol@127.0.0.1 from udp:127.0.0.1:")
            && lines[0].contains(" status 401 in "),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(" status 200 in ") && lines[1].contains(" shard "), "{}", lines[1]);
    options_from(&edge, "not-carol");
    assert_eq!(traced(&log, 3).len(), 2, "an OPTIONS from nobody traced is not");

    assert_eq!(ctl(&edge, &["trace", "add", "OPTIONS"]).0, 0);
    let (_, out) = ctl(&edge, &["trace", "list"]);
    assert_eq!(out, "tracing sip:carol@127.0.0.1\ntracing OPTIONS\n");
    for i in 0..4 {
        options_from(&edge, &format!("o{i}"));
    }
    let lines = traced(&log, 6);
    assert_eq!(
        lines.iter().filter(|l| l.contains("sipedge::trace: OPTIONS ") && l.contains(" status 200 ")).count(),
        4,
        "{lines:?}"
    );

    assert_eq!(ctl(&edge, &["trace", "remove", "OPTIONS"]).0, 0);
    options_from(&edge, "after");
    assert_eq!(traced(&log, 7).len(), 6, "removed: no more OPTIONS lines");
    let (code, out) = ctl(&edge, &["trace", "remove", "OPTIONS"]);
    assert!(code == 1 && out.contains("OPTIONS is not traced"), "{out}");
    let (code, out) = ctl(&edge, &["trace", "add", "not a rule"]);
    assert!(code == 1 && out.contains("is not an IP address, a method (INVITE) or an AOR"), "{out}");
}

#[test]
fn json_trace_lines_carry_each_field() {
    let (edge, log) = edge("trace-json", "json", free_port());
    assert_eq!(ctl(&edge, &["trace", "add", "127.0.0.1"]).0, 0);
    options_from(&edge, "j1");
    let lines = traced(&log, 1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        (v["target"].as_str(), v["method"].as_str(), v["status"].as_u64()),
        (Some("sipedge::trace"), Some("OPTIONS"), Some(200))
    );
    assert!(
        v["source"].as_str().unwrap().starts_with("127.0.0.1:")
            && v["shard"].as_u64().unwrap() < 2
            && v["duration_ms"].is_u64(),
        "{v}"
    );
    assert_eq!(v["transport"], "udp");
}
