//! sipp (Debian `sip-tester`, installed by tests/run.sh) as the real
//! callers, callees and registering devices of the integration tests: the
//! scenarios in `tests/sipp/`, run to completion or in the background.

use super::free_port;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn scenario(name: &str) -> String {
    format!("{}/tests/sipp/{name}.xml", env!("CARGO_MANIFEST_DIR"))
}

/// A sipp in the background (a callee or an upstream), killed when dropped.
pub struct Peer {
    child: Option<Child>,
    what: String,
}

impl Peer {
    pub fn start(name: &str, ip: &str, port: u16, transport: &str, calls: u32) -> Peer {
        let child = Command::new("sipp")
            .args([
                "-sf",
                &scenario(name),
                "-i",
                ip,
                "-p",
                &port.to_string(),
                "-t",
                transport,
                "-m",
                &calls.to_string(),
            ])
            .args(["-nostdin", "-timeout", "40s", "-timeout_error"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp is not installed: tests/run.sh installs Debian's sip-tester");
        std::thread::sleep(Duration::from_millis(300));
        Peer { child: Some(child), what: format!("{name} on {ip}:{port}/{transport}") }
    }

    /// Waits for the scenario to end on its own; asserts it succeeded.
    pub fn assert_done(mut self) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "{} did not finish", self.what);
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{} failed:\n{}", self.what, report(&out));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn report(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let tail: String = text.lines().filter(|l| l.contains("call") || l.contains("rror")).collect::<Vec<_>>().join("\n");
    format!("{tail}\n{}", String::from_utf8_lossy(&out.stderr))
}

/// Runs the caller to completion: `calls` calls to `user@edge` through the edge.
pub fn call(
    edge: SocketAddr,
    user: &str,
    domain: &str,
    transport: &str,
    calls: u32,
    hold_ms: u32,
    trace: Option<&PathBuf>,
) -> Output {
    call_to(edge, &format!("{user}@{edge}"), domain, transport, calls, hold_ms, trace)
}

/// As `call`, to `to` (`user@host[:port]`, the Request-URI and To).
pub fn call_to(
    edge: SocketAddr,
    to: &str,
    domain: &str,
    transport: &str,
    calls: u32,
    hold_ms: u32,
    trace: Option<&PathBuf>,
) -> Output {
    let (user, to_domain) = to.split_once('@').expect("user@host");
    let mut cmd = Command::new("timeout");
    cmd.args(["60", "sipp", "-sf", &scenario("call_uac"), "-s", user, "-key", "domain", domain, "-t", transport])
        .args(["-key", "to_domain", to_domain])
        .args([
            "-m",
            &calls.to_string(),
            "-r",
            "20",
            "-d",
            &hold_ms.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
        ])
        .args(["-nostdin", "-timeout", "40s", "-timeout_error", "-max_socket", "100"]);
    if let Some(t) = trace {
        cmd.args(["-trace_msg", "-message_file", t.to_str().unwrap()]);
    }
    cmd.arg(edge.to_string()).output().expect("sipp")
}

pub fn assert_calls(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: caller failed:\n{}", report(out));
}

/// Registers `user@domain` from 127.0.0.1:`port` (the callee's own port,
/// so the edge's NAT-style delivery to the source reaches it).
pub fn register(edge: SocketAddr, user: &str, domain: &str, port: u16) {
    register_from(edge, user, domain, "127.0.0.1", port, "u1")
}

/// As `register`, from `ip`:`port` over `transport` (sipp's `-t`: u1, t1).
pub fn register_from(edge: SocketAddr, user: &str, domain: &str, ip: &str, port: u16, transport: &str) {
    let csv = std::env::temp_dir().join(format!("sipedge-reg-{}-{port}.csv", std::process::id()));
    std::fs::write(&csv, format!("SEQUENTIAL\n{user};{domain};3600\n")).unwrap();
    let out = Command::new("timeout")
        .args([
            "20",
            "sipp",
            "-sf",
            &scenario("register"),
            "-inf",
            csv.to_str().unwrap(),
            "-m",
            "1",
            "-i",
            ip,
            "-p",
            &port.to_string(),
            "-t",
            transport,
        ])
        .args(["-nostdin", "-timeout", "10s", "-timeout_error"])
        .arg(edge.to_string())
        .output()
        .expect("sipp");
    assert!(out.status.success(), "REGISTER {user} from {port}: {}", report(&out));
}
