//! `idle`: many idle connections, each with a registration. Opens
//! `--connections` client connections (TLS or TCP, from rotating source
//! addresses), sends one REGISTER for a distinct user on each (with digest
//! when `--auth`), keeps them all open, and reports the server's memory
//! growth (PSS and RSS of its process tree, before vs after) per open
//! connection, with the registration run's report, as a table and JSON.

use crate::cli::{IdleArgs, Transport};
use crate::engine::{self, FreshConns, LoadConfig};
use crate::event_loop::{ClientSpec, Net};
use crate::memory::{self, Mem};
use crate::scenario::register::{load_users, Register};
use crate::tls;
use std::fmt::Write as _;
use std::io;
use std::time::{Duration, Instant};

/// Polls (and so serves) every connection for `secs`.
fn idle_for(net: &mut Net, secs: f64) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        net.poll(100, &mut |_, _, _, _| {});
    }
}

fn mem_json(m: Option<Mem>) -> String {
    m.map(|m| {
        format!(
            "{{\"rss_kb\": {}, \"pss_kb\": {}, \"anon_kb\": {}, \"processes\": {}}}",
            m.rss_kb, m.pss_kb, m.anon_kb, m.processes
        )
    })
    .unwrap_or_else(|| "null".into())
}

/// Bytes per connection of a growth in kB (None without a sample or a connection).
fn per_conn(before: Option<Mem>, after: Option<Mem>, f: fn(&Mem) -> u64, conns: usize) -> Option<f64> {
    let (b, a) = (before?, after?);
    (conns > 0).then(|| (f(&a) as f64 - f(&b) as f64) * 1024.0 / conns as f64)
}

pub fn run(a: &IdleArgs) -> io::Result<()> {
    if a.transport == Transport::Udp {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "idle needs --transport tls or tcp"));
    }
    let via = a.transport.via();
    let users = load_users(None, a.connections as usize)?;
    let domain = a.domain.clone().unwrap_or_else(|| a.target.ip().to_string());
    let mut net = Net::new()?;
    net.stream_rbuf = 8192; // registration answers only
    let tls = (a.transport == Transport::Tls).then(|| tls::client_config(a.conn.tls_resume));
    net.set_client(ClientSpec::new(a.target, tls, a.conn.source_ips.clone().map(|s| s.0).unwrap_or_default()));

    let before = a.server_pid.and_then(memory::tree_mem);
    let kernel_before = memory::kernel_tcp_pages();
    let mut sc = Register::new(a.target, via, &domain, users, a.auth);
    let cfg = LoadConfig {
        rate: None,
        arrivals: crate::pacer::Arrivals::Ticks,
        concurrency: a.concurrency.max(1),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(3600),
        timeout: Duration::from_millis(a.timeout_ms),
        expect_any: false,
        server_pid: a.server_pid,
        target: a.target,
        fresh_conns: Some(FreshConns { keep: true }),
        max_ops: Some(a.connections),
        read_lag: false,
    };
    let report = engine::run_report(&cfg, &mut net, &[], &mut sc, None, via);
    idle_for(&mut net, a.settle);
    let after = a.server_pid.and_then(memory::tree_mem);
    let kernel_after = memory::kernel_tcp_pages();
    let open = net.alive();
    idle_for(&mut net, a.hold);
    let open_after_hold = net.alive();

    let pss = per_conn(before, after, |m| m.pss_kb, open);
    let rss = per_conn(before, after, |m| m.rss_kb, open);
    let mut t = report.table();
    let row = |t: &mut String, k: &str, v: String| {
        let _ = writeln!(t, "  {k:<28} {v}");
    };
    row(
        &mut t,
        "connections open",
        format!("{open} of {} ({} after a {:.0} s hold)", a.connections, open_after_hold, a.hold),
    );
    row(
        &mut t,
        "registered (REGISTER 2xx)",
        format!("{}{}", report.stats.ok, if a.auth { " with digest" } else { " without auth" }),
    );
    if let (Some(b), Some(f)) = (before, after) {
        row(&mut t, "server PSS before/after", format!("{} / {} kB ({} processes)", b.pss_kb, f.pss_kb, f.processes));
        row(&mut t, "server RSS before/after", format!("{} / {} kB", b.rss_kb, f.rss_kb));
        row(&mut t, "server PSS per connection", format!("{:.0} bytes", pss.unwrap_or(0.0)));
        row(&mut t, "server RSS per connection", format!("{:.0} bytes", rss.unwrap_or(0.0)));
    }
    if let (Some(b), Some(f)) = (kernel_before, kernel_after) {
        row(&mut t, "kernel TCP memory", format!("{b} -> {f} pages (both ends)"));
    }
    print!("{t}");
    if let Some(p) = &a.json {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "null".into());
        let optu = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| "null".into());
        let j = format!(
            "{{\"scenario\": \"idle\", \"transport\": \"{via}\", \"auth\": {}, \"connections_requested\": {}, \"connections_open\": {open}, \
\"connections_open_after_hold\": {open_after_hold}, \"hold_s\": {}, \"registered\": {}, \"server_before\": {}, \"server_after\": {}, \
\"bytes_per_conn_pss\": {}, \"bytes_per_conn_rss\": {}, \"kernel_tcp_pages_before\": {}, \"kernel_tcp_pages_after\": {}, \"registration\": {}}}\n",
            a.auth,
            a.connections,
            a.hold,
            report.stats.ok,
            mem_json(before),
            mem_json(after),
            opt(pss),
            opt(rss),
            optu(kernel_before),
            optu(kernel_after),
            report.json().trim_end(),
        );
        std::fs::write(p, j)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_per_connection() {
        let m = |pss| Some(Mem { rss_kb: 0, pss_kb: pss, anon_kb: 0, processes: 1 });
        assert_eq!(per_conn(m(1000), m(1000 + 390_625), |m| m.pss_kb, 50_000), Some(8000.0));
        assert_eq!(per_conn(m(1000), m(1000), |m| m.pss_kb, 0), None);
        assert_eq!(per_conn(None, m(1), |m| m.pss_kb, 1), None);
    }
}
