//! Command-line interface (clap derive): scenarios, load shape, the idle
//! connection run, and the standalone helper servers (`uas`, `echo`); also
//! the parsing of source address lists.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "sipedge-bench", version, about = "SIP load generator (single core, epoll, batched UDP/TCP)")]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// OPTIONS to the server, expects 200 (or any reply with --expect-any)
    Options(LoadArgs),
    /// REGISTER without authentication, expects 200
    Register(RegisterArgs),
    /// REGISTER -> 401/407 -> REGISTER with digest (MD5/SHA-256, qop=auth) -> 200
    RegisterAuth(RegisterArgs),
    /// INVITE/100/180/200/ACK/BYE/200 through the target to a UAS
    Call(CallArgs),
    /// Opens N connections (one REGISTER each), keeps them idle and reports
    /// the server's memory growth per connection
    Idle(IdleArgs),
    /// Standalone UAS answering INVITE (180+200), BYE and others (200)
    Uas(ServeArgs),
    /// Plain UDP echo server (the floor)
    Echo(ServeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn via(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// Source addresses of opened connections (used in turn).
#[derive(Debug, Clone)]
pub struct Sources(pub Vec<IpAddr>);

/// Parses source addresses: a comma-separated list of IPs and IPv4 ranges
/// (`127.0.0.2-127.0.0.9`, both ends included).
pub fn parse_sources(s: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: Ipv4Addr = a.trim().parse().map_err(|_| format!("bad address in range `{part}`"))?;
                let b: Ipv4Addr = b.trim().parse().map_err(|_| format!("bad address in range `{part}`"))?;
                let (a, b) = (u32::from(a), u32::from(b));
                if b < a || b - a >= 65536 {
                    return Err(format!("range `{part}` is empty or larger than 65536 addresses"));
                }
                out.extend((a..=b).map(|v| IpAddr::V4(Ipv4Addr::from(v))));
            }
            None => out.push(part.parse().map_err(|_| format!("bad address `{part}`"))?),
        }
    }
    if out.is_empty() {
        return Err("no source address".into());
    }
    Ok(out)
}

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Server address
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub target: SocketAddr,
    #[arg(long, value_enum, default_value_t = Transport::Udp)]
    pub transport: Transport,
    /// Open loop: new operations per second
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Open loop: when operations start: "ticks" (what is due each time the
    /// loop runs, millisecond sleeps) or "poisson" (independent arrivals,
    /// each at its own microsecond)
    #[arg(long, value_enum, default_value_t = crate::pacer::Arrivals::Ticks, requires = "rate")]
    pub arrivals: crate::pacer::Arrivals,
    /// Closed loop: outstanding operations (default 64 when --rate absent)
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Measured window, seconds
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Warm-up before the window, seconds (not counted)
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// UDP sockets / TCP connections (distinct source ports), per thread
    #[arg(long, default_value_t = 8)]
    pub sockets: usize,
    /// Generator threads, each pinned to one CPU of the process's affinity
    /// mask, with its own sockets, users and share of the load
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Server process: its CPU (and its children's) is measured over the window
    #[arg(long)]
    pub server_pid: Option<i32>,
    /// Also write the results as JSON here
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Operation timeout (counts as failure), ms
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    /// Any reply matching the transaction counts as success (echo floor)
    #[arg(long)]
    pub expect_any: bool,
    /// Do not print the table
    #[arg(long)]
    pub quiet: bool,
    /// Measure how late the generator reads each UDP answer (kernel stamp
    /// to `recvmmsg`; see read_lag.rs). Makes the kernel stamp every packet.
    #[arg(long)]
    pub read_lag: bool,
    /// A new connection for every operation, closed when it ends (TCP/TLS:
    /// measures connection setup and, with TLS, the handshake)
    #[arg(long)]
    pub connection_per_op: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// How stream connections are opened.
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Source addresses for opened connections, e.g. 127.0.0.2-127.0.0.9
    /// (past the ephemeral port limit of one address)
    #[arg(long, value_parser = |s: &str| parse_sources(s).map(Sources))]
    pub source_ips: Option<Sources>,
    /// TLS: offer session resumption (default: every handshake is full)
    #[arg(long)]
    pub tls_resume: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Users file: `username password` or `username:password` per line
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// Without --users: generate this many users (u00000/pw00000...)
    #[arg(long, default_value_t = 1000)]
    pub user_count: usize,
    /// Registration domain (default: the target IP)
    #[arg(long)]
    pub domain: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct IdleArgs {
    /// Server address
    #[arg(long, default_value = "127.0.0.1:5061")]
    pub target: SocketAddr,
    #[arg(long, value_enum, default_value_t = Transport::Tls)]
    pub transport: Transport,
    /// Connections to open and keep, one REGISTER (one user) each
    #[arg(long, default_value_t = 1000)]
    pub connections: u64,
    /// Connections being opened/registered at once
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Answer 401/407 with digest (users u00000/pw00000...), else plain REGISTER
    #[arg(long)]
    pub auth: bool,
    /// Registration domain (default: the target IP)
    #[arg(long)]
    pub domain: Option<String>,
    /// Server process: its memory (and its children's) before and after
    #[arg(long)]
    pub server_pid: Option<i32>,
    /// Seconds to wait after the last registration before sampling memory
    #[arg(long, default_value_t = 3.0)]
    pub settle: f64,
    /// Seconds to keep the connections open after sampling (then check they still are)
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
    /// Operation timeout, ms
    #[arg(long, default_value_t = 10000)]
    pub timeout_ms: u64,
    /// Also write the results as JSON here
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Debug, Clone)]
pub struct CallArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Run a UAS inside this process on ADDR (UDP and TCP)
    #[arg(long)]
    pub uas_listen: Option<SocketAddr>,
    /// Where the UAS is (used for the Request-URI when --uas-listen is absent)
    #[arg(long, default_value = "127.0.0.1:5070")]
    pub uas_addr: SocketAddr,
    /// Request-URI of the INVITE (default sip:uas@<uas address>)
    #[arg(long)]
    pub ruri: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long)]
    pub listen: SocketAddr,
    /// Stop after this many seconds (default: run until killed)
    #[arg(long)]
    pub duration: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lists_and_ranges() {
        let v = parse_sources("127.0.0.2-127.0.0.4, 10.1.1.1,::1").unwrap();
        let s: Vec<String> = v.iter().map(|a| a.to_string()).collect();
        assert_eq!(s, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "10.1.1.1", "::1"]);
        assert_eq!(parse_sources("127.0.0.255-127.0.1.0").unwrap().len(), 2);
        assert!(parse_sources("127.0.0.4-127.0.0.2").is_err());
        assert!(parse_sources("127.0.0.1-10.0.0.1").is_err());
        assert!(parse_sources("127.0.0.x").is_err());
        assert!(parse_sources(" , ").is_err());
        assert!(parse_sources("1.0.0.0-1.1.0.0").is_err());
    }
}
