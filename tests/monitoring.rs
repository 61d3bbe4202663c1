//! The shipped monitoring (monitoring/): the alert rules pass `promtool
//! check rules` and their unit tests (`promtool test rules`, Debian's
//! `prometheus` package), and every metric the rules and the Grafana
//! dashboard query is one a live edge really exports, after the traffic
//! that makes each appear (REGISTERs, a wrong password, garbage, a
//! malformed request, a flood, a non-TLS client on the TLS port). The
//! cluster and DNS rows and rules are checked against an edge with a real
//! `redis-server` and a real DNS server (dnsmasq), after a REGISTER and a
//! lookup.

mod common;
use common::dns::Dnsmasq;
use common::redis::Redis;
use common::tls::*;
use common::*;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn promtool(args: &[&str]) -> (bool, String) {
    let o = Command::new("promtool")
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("promtool: tests/run.sh installs Debian's prometheus");
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// Every `sipedge_*` name in a text (an expression, a rules file).
fn names(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("sipedge_").map(|p| p + i) {
        let end = b[at..].iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'_')).map_or(b.len(), |p| at + p);
        out.insert(text[at..end].to_string());
        i = end;
    }
    out
}

#[test]
fn alert_rules_pass_promtool_check_and_their_tests() {
    let (ok, out) = promtool(&["check", "rules", "monitoring/sipedge.rules.yml"]);
    assert!(ok, "{out}");
    let (ok, out) = promtool(&["test", "rules", "tests/monitoring/alerts.test.yml"]);
    assert!(ok, "{out}");
}

/// Every `sipedge_*` name the dashboard's panels and the alert rules query
/// (a row, a panel that only groups others, has no query of its own).
fn queried() -> BTreeSet<String> {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{ROOT}/monitoring/grafana-dashboard.json")).unwrap())
            .unwrap();
    let mut wanted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row") {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
        for t in targets {
            let found = names(t["expr"].as_str().unwrap());
            assert!(!found.is_empty(), "panel {} queries no sipedge metric", panel["title"]);
            wanted.extend(found);
        }
    }
    wanted.extend(names(&std::fs::read_to_string(format!("{ROOT}/monitoring/sipedge.rules.yml")).unwrap()));
    wanted
}

/// The names of the rooms beside the shards (`[cluster]`, `[dns]`).
fn of_rooms(name: &str) -> bool {
    name.starts_with("sipedge_cluster_") || name.starts_with("sipedge_dns_")
}

/// Those of `wanted` that `edge` still does not export after 10 s.
fn not_exported(edge: &Edge, wanted: &BTreeSet<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = edge.metrics();
        // Samples, and families declared by `# TYPE` (a summary's quantiles
        // cover the last flush interval only, so they come and go).
        let samples = text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next());
        let families = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next());
        let exported: BTreeSet<String> = samples.chain(families).map(String::from).collect();
        let missing: Vec<String> = wanted.iter().filter(|n| !exported.contains(*n)).cloned().collect();
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn dashboard_and_rules_name_only_metrics_a_live_edge_exports() {
    let wanted: BTreeSet<String> = queried().into_iter().filter(|n| !of_rooms(n)).collect();

    let dir = test_dir("monitoring");
    let (cert, key) = certificate(&dir, "edge", "edge.test");
    let users = dir.join("users");
    std::fs::write(&users, "carol 127.0.0.1 password=s3cret\n").unwrap();
    let tls_port = free_port();
    let edge = Edge::start_at(
        free_low_port(),
        2,
        &format!(
            "[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{}\"\nalgorithms = [\"MD5\"]\n\
             [protect.flood]\nrequests = 20\nwindow_secs = 10\nban_secs = 600\n\
             [[protect.limit]]\nname = \"register-per-ip\"\nkey = \"ip\"\nmethods = [\"REGISTER\"]\nrate = 100\nburst = 100\n\
             [[listen]]\ntransport = \"tls\"\naddr = \"127.0.0.1:{tls_port}\"\ncertificates = [{{ cert = \"{}\", key = \"{}\" }}]\n",
            users.display(),
            cert.display(),
            key.display()
        ),
    );
    assert!(sipsak_register(&edge, "carol", "s3cret", "sip:carol@127.0.0.1:5996"));
    assert!(!sipsak_register(&edge, "carol", "wrong", "sip:carol@127.0.0.1:5996"));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"\x16\x03garbage that is no SIP", edge.sip).unwrap();
    let port = s.local_addr().unwrap().port();
    let no_cseq = String::from_utf8(options(edge.sip, "UDP", port, "m1")).unwrap().replace("CSeq: 1 OPTIONS\r\n", "");
    s.send_to(no_cseq.as_bytes(), edge.sip).unwrap();
    let flood = UdpSocket::bind("127.0.0.2:0").unwrap();
    let fport = flood.local_addr().unwrap().port();
    for i in 0..60 {
        flood.send_to(&options(edge.sip, "UDP", fport, &format!("f{i}")), edge.sip).unwrap();
    }
    let mut plain = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    plain.write_all(b"OPTIONS sip:x SIP/2.0\r\n\r\n").unwrap();

    let missing = not_exported(&edge, &wanted);
    assert!(missing.is_empty(), "queried but not exported: {missing:?}");
    assert!(wanted.len() >= 15, "{wanted:?}");
}

#[test]
fn cluster_and_dns_rows_and_rules_name_only_metrics_such_an_edge_exports() {
    let wanted: BTreeSet<String> = queried().into_iter().filter(|n| of_rooms(n)).collect();

    let redis = Redis::start();
    let dns = Dnsmasq::start("", "127.0.0.2 target.sipedge.test\n", 60);
    let dir = test_dir("monitoring-rooms");
    let users = dir.join("users");
    std::fs::write(&users, "carol 127.0.0.1 password=s3cret\n").unwrap();
    let port = free_low_port();
    let edge = Edge::start_at(
        port,
        2,
        &format!(
            "[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nusers_file = \"{}\"\nalgorithms = [\"MD5\"]\n\
             [proxy]\ntopology_key = \"{}\"\n\
             [cluster]\nenabled = true\nnode = \"edge-m\"\nredis = [\"{}\"]\npeer_addr = \"127.0.0.1:{port}\"\n\
             [dns]\nservers = [\"{}\"]\n",
            users.display(),
            "5eed".repeat(16),
            redis.url(),
            dns.addr
        ),
    );
    assert!(sipsak_register(&edge, "carol", "s3cret", "sip:carol@127.0.0.1:5996"));
    let (status, body) = http_get(edge.admin, "/dns/target.sipedge.test").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("127.0.0.2"), "{body}");

    let missing = not_exported(&edge, &wanted);
    assert!(missing.is_empty(), "queried but not exported: {missing:?}");
    assert!(wanted.len() >= 20, "{wanted:?}");
    // Redis answered, and the failure counters the rules watch read 0.
    assert_eq!(edge.metric("sipedge_cluster_redis_up", &[]), 1.0);
    for name in
        ["sipedge_cluster_data_loss_total", "sipedge_cluster_refused_total", "sipedge_dns_budget_overruns_total"]
    {
        assert_eq!(edge.metric(name, &[]), 0.0, "{name}");
    }
}
