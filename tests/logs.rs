//! What the real binary writes to stderr: RFC 3339 UTC text lines by
//! default, one JSON object per line with `[log] format = "json"`, and
//! journal lines (a `<N>` priority, no time) when systemd's JOURNAL_STREAM
//! names stderr.

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs an edge at info level with `format`, stderr into a file, until it
/// is healthy; stops it and returns the lines it wrote.
fn lines(name: &str, format: &str, journal: bool) -> Vec<String> {
    let (port, admin) = (free_port(), free_port());
    let dir = common::tls::test_dir(name);
    let config = dir.join("sipedge.toml");
    std::fs::write(&config, format!("[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:{port}\"\n[admin]\naddr = \"127.0.0.1:{admin}\"\n[server]\nshards = 1\n[log]\nlevel = \"info\"\nformat = \"{format}\"\n")).unwrap();
    let err_path = dir.join("stderr");
    let err = std::fs::File::create(&err_path).unwrap();
    let meta = err.metadata().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(err)
        .env_remove("JOURNAL_STREAM");
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    let mut child = cmd.spawn().unwrap();
    let admin = format!("127.0.0.1:{admin}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(http_get(admin, "/health"), Some((200, _))) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let text = std::fs::read_to_string(&err_path).unwrap();
    assert!(!text.is_empty(), "the edge logged nothing at info");
    text.lines().map(String::from).collect()
}

#[test]
fn text_lines_start_with_rfc3339_utc() {
    for l in lines("logs-text", "text", false) {
        let (ts, rest) = l.split_once(' ').unwrap();
        let t = humantime::parse_rfc3339(ts).unwrap_or_else(|e| panic!("{ts}: {e} in {l}"));
        assert!(ts.ends_with('Z') && ts.len() == "2026-12-03T18:16:55.123Z".len(), "{l}");
        assert!(t.elapsed().unwrap_or_default() < Duration::from_secs(60), "{l}");
        assert!(["ERROR", "WARN", "INFO"].iter().any(|lv| rest.starts_with(lv)), "{l}");
    }
}

#[test]
fn json_lines_are_objects_with_ts_level_target_msg() {
    for l in lines("logs-json", "json", false) {
        let v: serde_json::Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
        humantime::parse_rfc3339(v["ts"].as_str().unwrap()).unwrap();
        assert!(
            v["level"].is_string() && v["target"].as_str().unwrap().starts_with("sipedge") && v["msg"].is_string(),
            "{l}"
        );
    }
}

#[test]
fn under_the_journal_text_lines_have_a_priority_and_no_time() {
    for l in lines("logs-journal", "text", true) {
        assert!(l.starts_with("<6>sipedge") || l.starts_with("<4>sipedge") || l.starts_with("<3>sipedge"), "{l}");
    }
}
