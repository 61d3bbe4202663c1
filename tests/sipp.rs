//! sipp (Debian `sip-tester`, installed by tests/run.sh) drives OPTIONS at
//! the edge over UDP (one socket per call, so many source ports) and TCP.
//! sipp exits 0 only when every call got its 200.

mod common;
use common::*;
use std::process::Command;

fn sipp(edge: &Edge, transport: &str, calls: u32) {
    let scenario = format!("{}/tests/sipp/options.xml", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("sipp")
        .args(["-sf", &scenario, "-t", transport, "-m", &calls.to_string(), "-r", "200", "-l", "50", "-timeout", "20s"])
        .args(["-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout_error", "-max_socket", "1000"])
        .arg(edge.sip.to_string())
        .output()
        .expect("sipp is not installed: tests/run.sh installs Debian's sip-tester");
    assert!(
        out.status.success(),
        "sipp {transport} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sipp_options_over_udp_and_tcp() {
    let edge = Edge::start(4, "");
    sipp(&edge, "un", 400);
    sipp(&edge, "tn", 100);
    let answered = edge.wait_metric("sipedge_responses_sent_total", &["code=\"200\""], |v| v >= 500.0);
    assert!(answered >= 500.0, "{answered}");
    let per = edge.per_shard("sipedge_requests_received_total", &["method=\"OPTIONS\""]);
    assert!(per.iter().filter(|(_, v)| *v > 0.0).count() > 1, "{per:?}");
}
