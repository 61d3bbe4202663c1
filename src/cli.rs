//! Command line: `run`, `check-config`, `print-default-config`, `tune`, `users`, `ctl`, `--version`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "sipedge", version, about = "Thread-per-core SIP edge: registrar, proxy and protection")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the edge (on the embedded default config unless --config is given).
    Run {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Validate a config file: exit 0 if valid, else print file:line:column, key and problem.
    CheckConfig { file: PathBuf },
    /// Print the embedded default config, every key commented.
    PrintDefaultConfig,
    /// Hold the running kernel against a sysctl profile (sysctl/): check or apply.
    Tune {
        #[command(subcommand)]
        action: TuneAction,
    },
    /// Add, remove or list subscribers in the users file (HA1 hashes, never
    /// passwords); a running edge is told to reload it.
    Users {
        /// The edge's config: its `[auth] users_file` is edited and its
        /// `[admin] addr` is asked to reload.
        #[arg(long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        /// The subscribers file to edit (instead of the config's).
        #[arg(long, value_name = "USERS", global = true)]
        file: Option<PathBuf>,
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Ask a running edge (its admin API) about itself, for people: health,
    /// reload, registrations, bans. --json prints the API's own answer.
    Ctl {
        /// The running edge's config: its `[admin] addr` is asked.
        #[arg(long, value_name = "FILE", global = true, conflicts_with = "admin")]
        config: Option<PathBuf>,
        /// The admin address to ask (default: the embedded default's, 127.0.0.1:9060).
        #[arg(long, value_name = "ADDR", global = true)]
        admin: Option<std::net::SocketAddr>,
        /// Print the admin API's JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: CtlAction,
    },
}

/// `sipedge ctl ...`.
#[derive(Subcommand, Debug)]
pub enum CtlAction {
    /// Is every shard serving? Exit 0 yes, 1 no (the reason printed).
    Health,
    /// Re-read the subscribers file and TLS certificates (exit 1 when refused).
    Reload,
    /// The bindings of an address-of-record (`alice@example.com`).
    Registrations { aor: String },
    /// The banned addresses; --lift IP lifts one ban (exit 1 when it was not banned).
    Bans {
        #[arg(long, value_name = "IP")]
        lift: Option<std::net::IpAddr>,
    },
    /// The per-request trace log: one line per finished transaction of an
    /// AOR, an IP or a method, on every shard, at once, without a restart.
    Trace {
        #[command(subcommand)]
        action: TraceAction,
    },
}

/// `sipedge ctl trace ...`. RULE: `alice@example.com`, `192.0.2.7` or `INVITE`.
#[derive(Subcommand, Debug)]
pub enum TraceAction {
    /// Trace the requests from or to an AOR, from an IP, or of a method.
    Add { rule: String },
    /// Stop tracing one (exit 1 when it was not traced).
    Remove { rule: String },
    /// The rules in force.
    List,
}

/// `sipedge users ...`.
#[derive(Subcommand, Debug)]
pub enum UsersAction {
    /// Add a subscriber, or set a new password for one. The password is read
    /// from standard input (one line) unless --password is given.
    Add {
        username: String,
        domain: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Remove a subscriber (exit 1 when there is none).
    Remove { username: String, domain: String },
    /// List subscribers: username, domain and the kinds of secret stored.
    List,
}

/// `sipedge tune ...`. PROFILE: an embedded profile (general, udp-heavy,
/// tcp-tls-heavy) or a profile file.
#[derive(Subcommand, Debug)]
pub enum TuneAction {
    /// Compare /proc/sys with a profile: print what differs and what it costs,
    /// and a note when idle vCPUs halt without polling (a KVM guest's haltpoll).
    /// Exit 0 when every key matches or is better, 1 when one differs, 2 for a bad profile.
    Check {
        #[arg(long, value_name = "PROFILE", default_value = "general")]
        profile: String,
        /// Read the settings from here instead of /proc/sys (tests).
        #[arg(long, value_name = "DIR", default_value = crate::tune::PROC_SYS, hide = true)]
        sysctl_root: PathBuf,
        /// Read how idle CPUs wait from here instead of /sys (tests).
        #[arg(long, value_name = "DIR", default_value = crate::tune::idle::SYSFS, hide = true)]
        sys_root: PathBuf,
    },
    /// Write the profile's values the kernel falls short of; without --yes only
    /// print the `sysctl -w` commands.
    Apply {
        #[arg(long, value_name = "PROFILE")]
        profile: String,
        /// Write /proc/sys (otherwise a dry run).
        #[arg(long)]
        yes: bool,
        #[arg(long, value_name = "DIR", default_value = crate::tune::PROC_SYS, hide = true)]
        sysctl_root: PathBuf,
    },
    /// Print an embedded profile, to install it: `sipedge tune show udp-heavy > /etc/sysctl.d/60-sipedge.conf`.
    Show { name: String },
}
