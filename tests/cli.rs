//! The command line: version, the embedded default config round-trips
//! through check-config, and bad config files are refused with file, line,
//! column and key.

mod common;
use common::BIN;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn write(name: &str, text: &str) -> String {
    let p = std::env::temp_dir().join(format!("sipedge-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn version_is_printed() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("sipedge 0."), "{out}");
}

#[test]
fn printed_default_config_is_valid_and_commented() {
    let (code, text, _) = run(&["print-default-config"]);
    assert_eq!(code, 0);
    assert!(text.lines().filter(|l| l.starts_with('#')).count() > 20, "keys are commented");
    let p = write("default.toml", &text);
    let (code, out, err) = run(&["check-config", &p]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn bad_config_names_file_line_column_and_key() {
    let p = write(
        "bad.toml",
        "[server]\nshards = 2\n\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\ncolour = \"blue\"\n",
    );
    let (code, _, err) = run(&["check-config", &p]);
    assert_ne!(code, 0);
    assert!(
        err.starts_with(&format!("{p}:7:1: key `listen[0].colour`")) || err.starts_with(&format!("{p}:7:")),
        "{err}"
    );
    assert!(err.contains("colour"), "{err}");

    let p =
        write("range.toml", "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[limits]\nmesh_queue = 1\n");
    let (code, _, err) = run(&["check-config", &p]);
    assert_ne!(code, 0);
    assert!(err.starts_with(&format!("{p}:5:14: key `limits.mesh_queue`")), "{err}");
}

#[test]
fn run_refuses_a_bad_config_before_starting() {
    let p = write("run-bad.toml", "[[listen]]\ntransport = \"udp\"\naddr = \"nowhere\"\n");
    let (code, _, err) = run(&["run", "--config", &p]);
    assert_eq!(code, 2);
    assert!(err.contains(":3:") && err.contains("listen[0].addr"), "{err}");
}

#[test]
fn missing_config_file_is_reported() {
    let (code, _, err) = run(&["check-config", "/nonexistent/sipedge.toml"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/sipedge.toml") && err.contains("cannot read"), "{err}");
}

#[test]
fn too_little_locked_memory_is_refused_with_the_limit_needed() {
    // 64 KiB soft and hard, and CAP_SYS_RESOURCE dropped from the bounding set
    // so not even root can raise it; `timeout` ends the test if it starts anyway.
    let o = Command::new("timeout")
        .args(["5", "setpriv", "--bounding-set", "-sys_resource", "prlimit", "--memlock=65536:65536", BIN, "run"])
        .output()
        .expect("timeout, setpriv, prlimit (coreutils, util-linux)");
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.success() || err.is_empty() {
        panic!("started with 64 KiB of locked memory: {err}");
    }
    assert!(err.contains("RLIMIT_MEMLOCK") && err.contains("KiB") && err.contains("io_uring"), "{err}");
}
