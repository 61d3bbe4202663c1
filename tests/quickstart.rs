//! The README's quick start, run as a person would: its shell blocks, read
//! out of README.md (so the README cannot drift from what is tested), in
//! order, from the repository root. Blocks that begin `# own terminal` run
//! in the background like a second terminal (the edge on its embedded
//! default ports, then Bob's and Alice's baresip); the others run to the
//! end and must succeed. At the end two real softphones are registered and
//! Alice's call to Bob is established through the edge.
//!
//! One line is not run: the first block's `cargo build --release` (cargo
//! cannot run inside `cargo test`, which holds the build directory; the
//! binary under test is that build's). The test checks the line is there.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `sh` blocks of the README section whose heading starts with `title`.
fn blocks(title: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let section = readme.split("\n## ").find(|s| s.starts_with(title)).expect("the quick start section");
    section.split("```sh\n").skip(1).map(|b| b.split("\n```").next().unwrap().to_string()).collect()
}

/// bash running `script` in the repository root with the release binaries
/// first on PATH (what the README's `export PATH` line does).
fn bash(script: &str) -> Command {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", script]).current_dir(ROOT).env("PATH", path);
    c
}

/// A background block, its output to `log`, in a process group of its own.
struct Terminal {
    child: Child,
    log: PathBuf,
}

impl Terminal {
    fn start(script: &str, log: PathBuf) -> Terminal {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&log).unwrap();
        let child = bash(script)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap();
        Terminal { child, log }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).replace('\r', "\n")
    }

    fn wait_for(&mut self, what: &str, text: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.output().contains(text) {
            assert!(self.child.try_wait().unwrap().is_none(), "{what} ended:\n{}", self.output());
            assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    /// Ctrl-C's effect, then, after 3 s, no more waiting (baresip
    /// unregisters before it quits).
    fn drop(&mut self) {
        let group = -(self.child.id() as i32);
        // SAFETY: kill(2) on the process group we started.
        unsafe { libc::kill(group, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

#[test]
fn the_quick_start_registers_two_baresip_phones_that_call_each_other() {
    let mut blocks = blocks("Quick start");
    assert_eq!(blocks.len(), 7, "the quick start's steps changed: update this test too");
    let first: Vec<&str> = blocks[0].lines().collect();
    assert_eq!(first[0], "cargo build --release");
    blocks[0] = first[1..].join("\n");
    let demo = Path::new(ROOT).join("demo");
    let _ = std::fs::remove_dir_all(&demo);

    let mut terminals: Vec<Terminal> = Vec::new();
    let mut outputs: Vec<String> = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        if block.starts_with("# own terminal") {
            let mut t = Terminal::start(
                block,
                std::env::temp_dir().join(format!("sipedge-quickstart-{}-{i}.log", std::process::id())),
            );
            match terminals.len() {
                0 => {
                    let admin = "127.0.0.1:9060".parse().unwrap();
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !matches!(http_get(admin, "/health"), Some((200, _))) {
                        assert!(Instant::now() < deadline, "the edge did not start:\n{}", t.output());
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                1 => t.wait_for("Bob's registration", "200 OK", 15),
                _ => t.wait_for("Alice's call", "Call established", 20),
            }
            terminals.push(t);
        } else {
            let o = bash(block).output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert!(o.status.success(), "block {i} failed:\n{block}\n{text}");
            outputs.push(text);
        }
    }
    assert_eq!(terminals.len(), 3, "the edge, Bob and Alice");

    // The subscribers file holds hashes only.
    let users = std::fs::read_to_string(demo.join("users.txt")).unwrap();
    assert!(users.contains("alice 127.0.0.1 md5=") && !users.contains("secret"), "{users}");
    // What `sipedge ctl registrations` showed.
    let ctl = outputs.last().unwrap();
    assert!(ctl.starts_with("sip:bob@127.0.0.1: 1 binding") && ctl.contains("@127.0.0.1:5080 "), "{ctl}");
    // Bob's phone answered Alice's call, through the edge.
    terminals[1].wait_for("Bob to answer", "Call established", 10);
    let alice = terminals[2].output();
    assert!(alice.contains("200 OK"), "Alice registered:\n{alice}");
    // Counters reach /metrics on the shards' next flush (a second by default).
    let deadline = Instant::now() + Duration::from_secs(5);
    let metric =
        |name: &str| metric_sum(&http_get("127.0.0.1:9060".parse().unwrap(), "/metrics").unwrap().1, name, &[]);
    while metric("sipedge_proxy_challenges_total") < 1.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(metric("sipedge_proxy_challenges_total") >= 1.0, "Alice's INVITE was challenged");
    assert_eq!(metric("sipedge_registrations_active"), 2.0);
    drop(terminals);
    let _ = std::fs::remove_dir_all(&demo);
}
