//! Command line: `run`, `check-config`, `print-default-config`, `tune`, `users`, `--version`.

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
    /// Compare /proc/sys with a profile: print what differs and what it costs.
    /// Exit 0 when every key matches or is better, 1 when one differs, 2 for a bad profile.
    Check {
        #[arg(long, value_name = "PROFILE", default_value = "general")]
        profile: String,
        /// Read the settings from here instead of /proc/sys (tests).
        #[arg(long, value_name = "DIR", default_value = crate::tune::PROC_SYS, hide = true)]
        sysctl_root: PathBuf,
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
