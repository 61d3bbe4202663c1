//! sipedge entry point: parse the command line, load the config, hand over
//! to the control loop.
//!
//! Memory: the global allocator is mimalloc, and transparent huge pages are
//! off for the whole process (`no_huge_pages`, first thing in `main`).
//! mimalloc asks for THP on its arenas (`madvise(MADV_HUGEPAGE)`), so with
//! the kernel's usual `enabled=madvise` the first touch of each 2 MiB of
//! fresh or purged arena memory faults in a whole huge page, zeroed inside
//! whichever allocation touched it, on the shard's thread. On the 2-vCPU
//! development VM (nested virtualisation, free page reporting to the host)
//! such a fault took 4.6-6 ms, because the host backs all 512 of its 4 KiB
//! pages at once. That was the ~5.6 ms stall behind the call p999 of issue
//! 15: at 3,000 calls/s, 178 THP faults per run (`thp_fault_alloc`) and a
//! core call over 2 ms in 46 of 100 seconds, call p999 5.9 ms; with THP off,
//! no THP fault, no second with a core call over 2 ms, p999 1.2 ms, same
//! CPU per call and RSS (`bench/results/thp-20261204.txt`). Memory then
//! faults in 4 KiB at a time (about 11 us each there), spread over many
//! allocations. mimalloc's own switch (`MIMALLOC_ALLOW_THP=0`) measured the
//! same; it acts when mimalloc starts, before `main`, so the code uses the
//! kernel's. glibc's malloc instead: p999 6.9 ms and 2.7x the RSS (836 MB).
//! Where the host already backs the memory, a THP fault still took 0.24 ms
//! here (`bench/thp-first-touch.c`): a tail that a shard serving every
//! message on one thread does without.

use clap::Parser;
use sipedge::cli::{Cli, Command, TuneAction, UsersAction};
use sipedge::config::{Config, DEFAULT_TOML};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_huge_pages();
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
        Command::Users { config, file, action } => users(config, file, action),
        Command::Ctl { config, admin, json, action } => {
            let addr = match (admin, config) {
                (Some(a), _) => a,
                (None, Some(path)) => match Config::load(&path) {
                    Ok(c) => c.admin.addr,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(2);
                    }
                },
                (None, None) => Config::embedded().admin.addr,
            };
            sipedge::ctl::run(addr, json, action)
        }
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
            let style = sipedge::telemetry::logger::Style::detect(cfg.log.format == sipedge::config::LogFormat::Json);
            let _logger = sipedge::telemetry::logger::init(cfg.log.level.filter(), cfg.log.queue.get() as usize, style);
            match sipedge::control::run(cfg, sipedge::admin::start) {
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
    /// What is done with the profile: checked (and the idle note read
    /// under this sysfs root), or applied (written when true).
    enum Run {
        Check(std::path::PathBuf),
        Apply(bool),
    }
    let (profile, root, run) = match action {
        TuneAction::Show { name } => {
            return match tune::embedded(&name) {
                Some(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!(
                        "sipedge tune show: unknown profile `{name}`: the embedded profiles are {}",
                        tune::names()
                    );
                    ExitCode::from(tune::EXIT_BAD_PROFILE)
                }
            };
        }
        TuneAction::Check { profile, sysctl_root, sys_root } => (profile, sysctl_root, Run::Check(sys_root)),
        TuneAction::Apply { profile, yes, sysctl_root } => (profile, sysctl_root, Run::Apply(yes)),
    };
    let profile = match tune::load(&profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sipedge tune: {e}");
            return ExitCode::from(tune::EXIT_BAD_PROFILE);
        }
    };
    let (report, code) = match run {
        Run::Check(sys) => {
            let (mut report, code) = tune::check_report(&profile, &root);
            report.extend(tune::idle::note(&sys));
            (report, code)
        }
        Run::Apply(yes) => tune::apply_report(&profile, &root, yes),
    };
    print!("{report}");
    ExitCode::from(code)
}

/// `sipedge users add|remove|list`: edits the subscribers file, then asks a
/// running edge (the config's admin address) to reload it.
fn users(config: Option<std::path::PathBuf>, file: Option<std::path::PathBuf>, action: UsersAction) -> ExitCode {
    use sipedge::subscribers;
    let fail = |code: u8, msg: String| {
        eprintln!("sipedge users: {msg}");
        ExitCode::from(code)
    };
    let cfg = match config.as_deref().map(Config::load).transpose() {
        Ok(c) => c,
        Err(e) => return fail(2, e.to_string()),
    };
    let path = match file
        .or_else(|| cfg.as_ref().map(|c| c.auth.users_file.clone()).filter(|f| !f.is_empty()).map(Into::into))
    {
        Some(p) => p,
        None => {
            return fail(2, "which file? give --file USERS, or --config FILE whose [auth] users_file is set".into())
        }
    };
    let text = match subscribers::read(&path) {
        Ok(t) => t,
        Err(e) => return fail(1, e),
    };
    let (new, done) = match action {
        UsersAction::List => {
            for l in subscribers::list(&text) {
                println!("{}@{}\t{}", l.user, l.domain, l.kinds.join(","));
            }
            return ExitCode::SUCCESS;
        }
        UsersAction::Add { username, domain, password } => {
            if let Err(e) =
                subscribers::check_name("username", &username).and_then(|_| subscribers::check_name("domain", &domain))
            {
                return fail(2, e);
            }
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    let _ = std::io::stdin().read_line(&mut line);
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.is_empty() {
                return fail(2, "empty password (give --password, or one line on standard input)".into());
            }
            let (new, replaced) =
                subscribers::upsert(&text, &username, &domain, &subscribers::ha1_line(&username, &domain, &password));
            (new, format!("{} {username}@{domain}", if replaced { "updated" } else { "added" }))
        }
        UsersAction::Remove { username, domain } => match subscribers::remove(&text, &username, &domain) {
            Some(new) => (new, format!("removed {username}@{domain}")),
            None => return fail(1, format!("no subscriber {username}@{domain} in {}", path.display())),
        },
    };
    match subscribers::write(&path, &new) {
        Ok(n) => println!("{done} ({n} subscribers in {})", path.display()),
        Err(e) => return fail(1, e),
    }
    let Some(cfg) = cfg else {
        println!("no --config: a running edge reads the file on SIGHUP or POST /reload");
        return ExitCode::SUCCESS;
    };
    match sipedge::ctl::call(cfg.admin.addr, "POST", "/reload") {
        Ok((200, body)) => println!("edge at {} reloaded: {}", cfg.admin.addr, body.trim()),
        Ok((code, body)) => {
            return fail(1, format!("the edge at {} refused the reload ({code}): {}", cfg.admin.addr, body.trim()))
        }
        Err(e) => println!("{e}: the edge reads the file when it starts"),
    }
    ExitCode::SUCCESS
}

/// Transparent huge pages off for this process and its children
/// (`PR_SET_THP_DISABLE`: the kernel then gives no VMA of the process a huge
/// page, whatever mimalloc advises); see the top of this file.
fn no_huge_pages() {
    // SAFETY: prctl with integer arguments only; no memory is passed.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        eprintln!("sipedge: could not turn off transparent huge pages: {}", std::io::Error::last_os_error());
    }
}
