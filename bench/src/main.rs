//! sipedge-bench: a SIP load generator, one core or several (`--threads`), (options, register,
//! register-auth, call over UDP, TCP or TLS; idle connections) with an
//! in-process UAS and a UDP echo floor.
//! See bench/README.md.

mod cli;
mod cpu;
mod digest;
mod echo;
mod engine;
mod event_loop;
mod hash;
mod idle;
mod memory;
mod pacer;
mod read_lag;
mod report;
mod scenario;
mod sipmsg;
mod template;
mod threads;
mod tls;

use clap::Parser;
use cli::{Cli, Cmd, LoadArgs, Transport};
use engine::{FreshConns, LoadConfig, Scenario};
use event_loop::{ClientSpec, Net};
use scenario::uas::Uas;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

fn config(a: &LoadArgs) -> LoadConfig {
    LoadConfig {
        rate: a.rate,
        arrivals: a.arrivals,
        concurrency: a.concurrency.unwrap_or(64),
        warmup: Duration::from_secs_f64(a.warmup),
        duration: Duration::from_secs_f64(a.duration),
        timeout: Duration::from_millis(a.timeout_ms),
        expect_any: a.expect_any,
        server_pid: a.server_pid,
        target: a.target,
        fresh_conns: a.connection_per_op.then_some(FreshConns { keep: false }),
        max_ops: None,
        read_lag: a.read_lag,
    }
}

fn open_uac(net: &mut Net, a: &LoadArgs) -> std::io::Result<Vec<usize>> {
    let tls = (a.transport == Transport::Tls).then(|| tls::client_config(a.conn.tls_resume));
    if a.connection_per_op {
        if a.transport == Transport::Udp {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "--connection-per-op needs --transport tcp or tls",
            ));
        }
        net.set_client(ClientSpec::new(a.target, tls, a.conn.source_ips.clone().map(|s| s.0).unwrap_or_default()));
        return Ok(Vec::new());
    }
    (0..a.sockets.max(1))
        .map(|_| match (a.transport, &tls) {
            (Transport::Udp, _) => net.add_udp_client(a.target),
            (Transport::Tcp, _) => net.add_tcp_client(a.target),
            (Transport::Tls, Some(c)) => net.add_tls_client(a.target, c),
            (Transport::Tls, None) => unreachable!("a TLS run has a client config"),
        })
        .collect()
}

/// Runs the load `a` describes: on this thread, or on `--threads` pinned
/// threads (`threads.rs`). `setup(i, net)` builds thread `i`'s scenario
/// (and UAS) and opens its listening sockets, before its client sockets.
fn drive<S>(a: &LoadArgs, setup: S) -> std::io::Result<()>
where
    S: Fn(usize, &mut Net) -> std::io::Result<threads::Parts> + Sync,
{
    let cfg = config(a);
    let report = if a.threads <= 1 {
        let mut net = Net::new()?;
        let (mut scenario, mut uas) = setup(0, &mut net)?;
        let uac = open_uac(&mut net, a)?;
        engine::run_report(&cfg, &mut net, &uac, scenario.as_mut(), uas.as_mut(), a.transport.via())
    } else {
        threads::run(&cfg, a.threads, a.transport.via(), |i, net| {
            let parts = setup(i, net)?;
            Ok((open_uac(net, a)?, parts))
        })?
    };
    if !a.quiet {
        print!("{}", report.table());
    }
    if let Some(p) = &a.json {
        std::fs::write(p, report.json())?;
    }
    Ok(())
}

fn real_main() -> std::io::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Echo(s) => echo::serve(s.listen, s.duration),
        Cmd::Idle(a) => idle::run(&a),
        Cmd::Uas(s) => scenario::uas::serve(s.listen, s.duration),
        Cmd::Options(a) => drive(&a, |_, _| {
            let sc: Box<dyn Scenario> = Box::new(scenario::options::Options::new(a.target, a.transport.via()));
            Ok((sc, None))
        }),
        Cmd::Register(r) => register(r, false),
        Cmd::RegisterAuth(r) => register(r, true),
        Cmd::Call(c) => drive(&c.load, |i, net| {
            // Thread i's UAS listens on the given port + i, and its calls go there.
            let uas_listen = c.uas_listen.map(|l| SocketAddr::new(l.ip(), l.port() + i as u16));
            let uas = match uas_listen {
                Some(l) => {
                    scenario::uas::listen(net, l)?;
                    Some(Uas::new(l))
                }
                None => None,
            };
            let uas_addr = uas_listen.unwrap_or(c.uas_addr);
            let ruri = c.ruri.clone().unwrap_or_else(|| format!("sip:uas@{uas_addr}"));
            let sc: Box<dyn Scenario> =
                Box::new(scenario::call::Call::new(c.load.target, c.load.transport.via(), &ruri));
            Ok((sc, uas))
        }),
    }
}

fn register(r: cli::RegisterArgs, auth: bool) -> std::io::Result<()> {
    let users = scenario::register::load_users(r.users.as_deref(), r.user_count)?;
    if users.len() < r.load.threads.max(1) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "fewer users than threads"));
    }
    let domain = r.domain.clone().unwrap_or_else(|| r.load.target.ip().to_string());
    let n = r.load.threads.max(1);
    drive(&r.load, |i, _| {
        // User k is thread k mod n's: no two threads register the same AOR.
        let mine = users.iter().skip(i).step_by(n).cloned().collect();
        let sc: Box<dyn Scenario> =
            Box::new(scenario::register::Register::new(r.load.target, r.load.transport.via(), &domain, mine, auth));
        Ok((sc, None))
    })
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sipedge-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
