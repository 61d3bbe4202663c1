//! sipedge entry point: parse the command line, load the config, hand over
//! to the control loop.

use clap::Parser;
use sipedge::cli::{Cli, Command, TuneAction};
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
        Command::Tune { action } => tune(action),
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

/// `sipedge tune check|apply|show`: the report on stdout, a bad profile on stderr (exit 2).
fn tune(action: TuneAction) -> ExitCode {
    use sipedge::tune;
    let (profile, root, apply) = match action {
        TuneAction::Show { name } => {
            return match tune::embedded(&name) {
                Some(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("sipedge tune show: unknown profile `{name}`: the embedded profiles are {}", tune::names());
                    ExitCode::from(tune::EXIT_BAD_PROFILE)
                }
            };
        }
        TuneAction::Check { profile, sysctl_root } => (profile, sysctl_root, None),
        TuneAction::Apply { profile, yes, sysctl_root } => (profile, sysctl_root, Some(yes)),
    };
    let profile = match tune::load(&profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sipedge tune: {e}");
            return ExitCode::from(tune::EXIT_BAD_PROFILE);
        }
    };
    let (report, code) = match apply {
        None => tune::check_report(&profile, &root),
        Some(yes) => tune::apply_report(&profile, &root, yes),
    };
    print!("{report}");
    ExitCode::from(code)
}
