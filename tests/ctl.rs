//! `sipedge ctl` against a running edge: health, reload, an AOR's
//! registrations (sipsak registered it) as a table and as the API's JSON,
//! bans listed and lifted, and a clear exit code when no edge answers.

mod common;
use common::*;
use std::net::UdpSocket;
use std::process::Command;

#[test]
fn ctl_health_reload_registrations_bans() {
    let dir = common::tls::test_dir("ctl");
    let users = dir.join("users");
    std::fs::write(&users, "carol 127.0.0.1 password=s3cret\n").unwrap();
    let edge = Edge::start_at(
        free_low_port(),
        2,
        &format!("[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{}\"\nalgorithms = [\"MD5\"]\n[protect.flood]\nrequests = 20\nwindow_secs = 10\nban_secs = 600\n", users.display()),
    );
    assert_eq!(edge.ctl(&["health"]), (0, "ok\n".into(), String::new()));
    let (code, out, _) = edge.ctl(&["reload"]);
    assert!(code == 0 && out.contains("reloaded 1 subscribers"), "{out}");

    let (code, out, _) = edge.ctl(&["registrations", "carol@127.0.0.1"]);
    assert_eq!((code, out.as_str()), (0, "sip:carol@127.0.0.1: no bindings\n"));
    assert!(sipsak_register(&edge, "carol", "s3cret", "sip:carol@127.0.0.1:5997"));
    let (code, out, _) = edge.ctl(&["registrations", "carol@127.0.0.1"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "sip:carol@127.0.0.1: 1 binding", "{out}");
    assert!(
        lines[1].starts_with("CONTACT")
            && lines[2].starts_with("sip:carol@127.0.0.1:5997")
            && lines[2].contains(" udp ")
            && (lines[2].contains(" in 4m") || lines[2].contains(" in 5m00s")),
        "{out}"
    );
    let (_, out, _) = edge.ctl(&["registrations", "carol@127.0.0.1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bindings"][0]["contact"], "sip:carol@127.0.0.1:5997");

    // A flood from 127.0.0.2 is banned; ctl lists it and lifts it.
    assert_eq!(edge.ctl(&["bans"]).1, "no bans\n");
    let s = UdpSocket::bind("127.0.0.2:0").unwrap();
    let port = s.local_addr().unwrap().port();
    for i in 0..60 {
        s.send_to(&options(edge.sip, "UDP", port, &format!("f{i}")), edge.sip).unwrap();
    }
    edge.wait_metric("sipedge_bans_active", &["reason=\"flood\""], |v| v >= 1.0);
    let (code, out, _) = edge.ctl(&["bans"]);
    assert!(
        code == 0
            && out.starts_with("IP ")
            && ["in 9m", "in 10m00s"].iter().any(|t| out
                .lines()
                .nth(1)
                .unwrap()
                .starts_with(&format!("127.0.0.2  flood   {t}"))),
        "{out}"
    );
    assert_eq!(edge.ctl(&["bans", "--lift", "127.0.0.2"]).0, 0);
    let (code, _, err) = edge.ctl(&["bans", "--lift", "127.0.0.2"]);
    assert!(code == 1 && err.contains("not banned"), "{err}");
    assert_eq!(edge.ctl(&["bans"]).1, "no bans\n");
}

#[test]
fn ctl_without_an_edge_says_so() {
    let port = free_port();
    let o = Command::new(BIN).args(["ctl", "--admin", &format!("127.0.0.1:{port}"), "health"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("no edge answered on 127.0.0.1:{port}")));
}
