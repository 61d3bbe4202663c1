//! Command-line interface (clap derive): scenarios, load shape, and the
//! standalone helper servers (`uas`, `echo`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
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
    /// Standalone UAS answering INVITE (180+200), BYE and others (200)
    Uas(ServeArgs),
    /// Plain UDP echo server (the floor)
    Echo(ServeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn via(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
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
    /// Closed loop: outstanding operations (default 64 when --rate absent)
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Measured window, seconds
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Warm-up before the window, seconds (not counted)
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// UDP sockets / TCP connections (distinct source ports)
    #[arg(long, default_value_t = 8)]
    pub sockets: usize,
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
