//! sipedge entry point: parse the command line, load the config, hand over
//! to the control loop.

use clap::Parser;
use sipedge::cli::{Cli, Command};
use sipedge::config::{Config, DEFAULT_TOML};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::PrintDefaultConfig => {
            print!("{DEFAULT_TOML}");
            ExitCode::SUCCESS
        }
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Run { config } => {
            let cfg = match config {
                Some(path) => match Config::load(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(2);
                    }
                },
                None => Config::embedded(),
            };
            let _logger = sipedge::telemetry::logger::init(cfg.log.level.filter(), cfg.log.queue.get() as usize);
            match sipedge::control::run(cfg) {
                Ok(()) => {
                    log::logger().flush();
                    // Give the logger thread a moment to write the last lines.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sipedge: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
