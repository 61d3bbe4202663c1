//! sipedge-bench: a single-core SIP load generator (options, register,
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
mod report;
mod scenario;
mod sipmsg;
mod template;
mod tls;

use clap::Parser;
use cli::{Cli, Cmd, LoadArgs, Transport};
use engine::{FreshConns, LoadConfig, Scenario};
use event_loop::{ClientSpec, Net};
use scenario::uas::Uas;
use std::process::ExitCode;
use std::time::Duration;

fn config(a: &LoadArgs) -> LoadConfig {
    LoadConfig {
        rate: a.rate,
        concurrency: a.concurrency.unwrap_or(64),
        warmup: Duration::from_secs_f64(a.warmup),
        duration: Duration::from_secs_f64(a.duration),
        timeout: Duration::from_millis(a.timeout_ms),
        expect_any: a.expect_any,
        server_pid: a.server_pid,
        target: a.target,
        fresh_conns: a.connection_per_op.then_some(FreshConns { keep: false }),
        max_ops: None,
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

fn drive(a: &LoadArgs, net: &mut Net, scenario: &mut dyn Scenario, uas: Option<&mut Uas>) -> std::io::Result<()> {
    let uac = open_uac(net, a)?;
    let report = engine::run_report(&config(a), net, &uac, scenario, uas, a.transport.via());
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
        Cmd::Options(a) => {
            let mut net = Net::new()?;
            let mut sc = scenario::options::Options::new(a.target, a.transport.via());
            drive(&a, &mut net, &mut sc, None)
        }
        Cmd::Register(r) => register(r, false),
        Cmd::RegisterAuth(r) => register(r, true),
        Cmd::Call(c) => {
            let mut net = Net::new()?;
            let mut uas = match c.uas_listen {
                Some(l) => {
                    scenario::uas::listen(&mut net, l)?;
                    Some(Uas::new(l))
                }
                None => None,
            };
            let uas_addr = c.uas_listen.unwrap_or(c.uas_addr);
            let ruri = c.ruri.clone().unwrap_or_else(|| format!("sip:uas@{uas_addr}"));
            let mut sc = scenario::call::Call::new(c.load.target, c.load.transport.via(), &ruri);
            drive(&c.load, &mut net, &mut sc, uas.as_mut())
        }
    }
}

fn register(r: cli::RegisterArgs, auth: bool) -> std::io::Result<()> {
    let users = scenario::register::load_users(r.users.as_deref(), r.user_count)?;
    if users.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "users file has no users"));
    }
    let domain = r.domain.clone().unwrap_or_else(|| r.load.target.ip().to_string());
    let mut net = Net::new()?;
    let mut sc = scenario::register::Register::new(r.load.target, r.load.transport.via(), &domain, users, auth);
    drive(&r.load, &mut net, &mut sc, None)
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
