//! sipsak (Debian `sipsak`, installed by tests/run.sh) as a second,
//! independent client: OPTIONS to the edge, and a digest-authenticated
//! REGISTER that must land in the location table with sipsak's contact.

mod common;
use common::*;
use std::process::Command;

fn sipsak(args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("10")
        .arg("sipsak")
        .args(args)
        .output()
        .expect("sipsak is not installed: tests/run.sh installs Debian's sipsak");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn sipsak_options_and_digest_register() {
    let users = std::env::temp_dir().join(format!("sipedge-sipsak-users-{}.txt", std::process::id()));
    std::fs::write(&users, "carol 127.0.0.1 password=s3cret\n").unwrap();
    let edge = Edge::start_at(
        free_low_port(),
        4,
        &format!(
            "[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{}\"\nalgorithms = [\"MD5\"]\n",
            users.display()
        ),
    );
    let target = format!("sip:127.0.0.1:{}", edge.sip.port());
    let (ok, out) = sipsak(&["-s", &target, "-v"]);
    assert!(
        ok && out.contains("SIP/2.0 200 OK")
            && out.lines().any(|l| l.starts_with("Allow: INVITE") && l.contains("REGISTER")),
        "edge {}: {out}",
        edge.sip
    );

    let aor_uri = format!("sip:carol@127.0.0.1:{}", edge.sip.port());
    let (ok, out) =
        sipsak(&["-U", "-C", "sip:carol@127.0.0.1:5999", "-s", &aor_uri, "-u", "carol", "-a", "wrong", "-x", "300"]);
    assert!(!ok, "a wrong password registered: {out}");
    let (ok, out) =
        sipsak(&["-U", "-C", "sip:carol@127.0.0.1:5999", "-s", &aor_uri, "-u", "carol", "-a", "s3cret", "-x", "300"]);
    assert!(ok, "{out}");
    let (code, body) = http_get(edge.admin, "/registrations/carol@127.0.0.1").unwrap();
    assert_eq!(code, 200);
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    let b = r["bindings"].as_array().unwrap();
    assert_eq!(b.len(), 1, "{r}");
    assert_eq!(b[0]["contact"], "sip:carol@127.0.0.1:5999", "{r}");
    assert!(b[0]["user_agent"].as_str().unwrap().starts_with("sipsak"), "{r}");
}
