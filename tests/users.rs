//! `sipedge users add|remove|list` against the real binary and a running
//! edge: the file holds HA1s and no password, a subscriber added while the
//! edge runs registers at once (sipsak, digest MD5), a removed one is
//! refused at once, and bad input is refused with a clear message.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn users(config: Option<&std::path::Path>, file: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("users");
    match config {
        Some(c) => cmd.arg("--config").arg(c),
        None => cmd.arg("--file").arg(file),
    };
    let mut child = cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The child may not read it (a flag gave the password, or it refused the arguments).
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// sipsak REGISTER with digest MD5; true when it got 200.
fn registers(edge: &Edge, user: &str, password: &str) -> bool {
    sipsak_register(edge, user, password, &format!("sip:{user}@127.0.0.1:5998"))
}

#[test]
fn users_add_remove_list_with_a_running_edge() {
    let dir = common::tls::test_dir("users");
    let file = dir.join("subscribers");
    let _ = std::fs::remove_file(&file);

    // Before the edge runs: the file is created, with HA1s only.
    let o = users(None, &file, &["add", "alice", "127.0.0.1"], "alice-pw\n");
    assert!(o.status.success(), "{}", text(&o));
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(stored.starts_with("alice 127.0.0.1 md5=") && !stored.contains("alice-pw"), "{stored}");

    let edge = Edge::start_at(
        free_low_port(),
        2,
        &format!(
            "[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{}\"\nalgorithms = [\"MD5\"]\n",
            file.display()
        ),
    );
    let config = edge.config_path.clone();
    assert!(registers(&edge, "alice", "alice-pw"));
    assert!(!registers(&edge, "bob", "bob-pw"), "bob is not a subscriber yet");

    // Added while it runs: the edge reloads and bob registers, no restart.
    let o = users(Some(&config), &file, &["add", "bob", "127.0.0.1", "--password", "bob-pw"], "");
    assert!(o.status.success() && text(&o).contains("reloaded 2 subscribers"), "{}", text(&o));
    assert!(registers(&edge, "bob", "bob-pw"));

    // A new password replaces the old one.
    let o = users(Some(&config), &file, &["add", "bob", "127.0.0.1"], "bob-new\n");
    assert!(o.status.success() && text(&o).contains("updated bob@127.0.0.1"), "{}", text(&o));
    assert!(!registers(&edge, "bob", "bob-pw"));
    assert!(registers(&edge, "bob", "bob-new"));

    let o = users(Some(&config), &file, &["remove", "alice", "127.0.0.1"], "");
    assert!(o.status.success(), "{}", text(&o));
    assert!(!registers(&edge, "alice", "alice-pw"), "a removed subscriber still registers");

    let o = users(Some(&config), &file, &["list"], "");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "bob@127.0.0.1\tmd5,sha256,sha512-256\n");

    // Bad input: a clear message, a non-zero exit, the file untouched.
    let before = std::fs::read_to_string(&file).unwrap();
    let o = users(Some(&config), &file, &["remove", "carol", "127.0.0.1"], "");
    assert!(o.status.code() == Some(1) && text(&o).contains("no subscriber carol@127.0.0.1"), "{}", text(&o));
    let o = users(Some(&config), &file, &["add", "dave=x", "127.0.0.1"], "pw\n");
    assert!(o.status.code() == Some(2) && text(&o).contains("bad username"), "{}", text(&o));
    let o = users(Some(&config), &file, &["add", "dave", "127.0.0.1"], "\n");
    assert!(o.status.code() == Some(2) && text(&o).contains("empty password"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}
