//! Command line: `run`, `check-config`, `print-default-config`, `--version`.

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
}
