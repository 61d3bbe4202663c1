//! `sipedge tune`: the sysctl profiles shipped in `sysctl/` (embedded in
//! the binary) held against the running kernel. `check` reports each key
//! and, for the ones that fall short, what that costs (the profile's own
//! comment); `apply` writes the ones that fall short, and only those, so it
//! never lowers a limit the host already has higher.
//!
//! This file owns the embedded profiles, finding a profile by name or path,
//! and the two reports with their exit codes; parsing is in `profile.rs`,
//! reading and comparing in `check.rs`, the note on how idle CPUs wait
//! (sysfs, not a sysctl) in `idle.rs`.

pub mod check;
pub mod idle;
pub mod profile;

/// Test helper: a directory standing in for /proc/sys.
#[cfg(test)]
pub(crate) mod testing {
    /// A fresh directory under the temp dir holding `files` (path relative to it, content).
    pub fn fake_root(files: &[(&str, &str)]) -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "sipedge-tune-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        for (rel, content) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        root
    }
}

use check::{Finding, Outcome};
use profile::Profile;
use std::fmt::Write as _;
use std::path::Path;

/// The profiles compiled into the binary, by name.
pub const PROFILES: &[(&str, &str)] = &[
    ("general", include_str!("../../sysctl/general.conf")),
    ("udp-heavy", include_str!("../../sysctl/udp-heavy.conf")),
    ("tcp-tls-heavy", include_str!("../../sysctl/tcp-tls-heavy.conf")),
];

/// Where the running kernel's settings are.
pub const PROC_SYS: &str = "/proc/sys";

/// Exit codes: everything matches or is better / something differs or
/// failed / the profile could not be had.
pub const EXIT_OK: u8 = 0;
pub const EXIT_DIFFERS: u8 = 1;
pub const EXIT_BAD_PROFILE: u8 = 2;

/// An embedded profile's text (`udp-heavy` or `udp-heavy.conf`).
pub fn embedded(name: &str) -> Option<&'static str> {
    let name = name.strip_suffix(".conf").unwrap_or(name);
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// The embedded profiles' names, for messages.
pub fn names() -> String {
    PROFILES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The profile `arg` names: an embedded one, or else a file (a name with a
/// `/` is always a file). Errors are for the operator, one line.
pub fn load(arg: &str) -> Result<Profile, String> {
    if !arg.contains('/') {
        if let Some(text) = embedded(arg) {
            let name = format!("{} (embedded)", arg.strip_suffix(".conf").unwrap_or(arg));
            return Profile::parse(text, &name).map_err(|e| e.to_string());
        }
    }
    match std::fs::read_to_string(arg) {
        Ok(text) => Profile::parse(&text, arg).map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !arg.contains('/') => Err(format!(
            "unknown profile `{arg}`: the embedded profiles are {}; anything else must be a profile file",
            names()
        )),
        Err(e) => Err(format!("cannot read profile file {arg}: {e}")),
    }
}

fn why<'a>(f: &'a Finding<'_>) -> &'a str {
    if f.entry.why.is_empty() {
        "(the profile gives no reason)"
    } else {
        &f.entry.why
    }
}

/// `tune check`: one line per key, the cost under each one that falls
/// short, a summary; exit 0 when every key matches, is better or is absent.
pub fn check_report(profile: &Profile, root: &Path) -> (String, u8) {
    let findings = check::check(root, profile);
    let mut out = String::new();
    let _ = writeln!(out, "profile {} against {}", profile.name, root.display());
    let (mut fine, mut differ, mut absent) = (0, 0, 0);
    for f in &findings {
        let (key, want, rule) = (&f.entry.key, &f.entry.value, f.rule);
        let kernel = f.kernel.as_deref().unwrap_or("");
        let _ = match &f.outcome {
            Outcome::Equal => writeln!(out, "  ok          {key} = {kernel}"),
            Outcome::Better => writeln!(out, "  better      {key} = {kernel} (profile {want}, wanted {rule})"),
            Outcome::Differs => writeln!(
                out,
                "  DIFFERS     {key} = {kernel}, profile {want} (wanted {rule})\n              cost: {}",
                why(f)
            ),
            Outcome::NotPresent => {
                writeln!(out, "  not present {key}: not in this kernel (module not loaded?), profile {want}\n              why: {}", why(f))
            }
            Outcome::Unreadable(e) => writeln!(out, "  UNREADABLE  {key}: {e}\n              cost: {}", why(f)),
        };
        match f.outcome {
            Outcome::NotPresent => absent += 1,
            Outcome::Equal | Outcome::Better => fine += 1,
            _ => differ += 1,
        }
    }
    let _ = writeln!(out, "{differ} differ, {fine} match or better, {absent} not present");
    (out, if differ == 0 { EXIT_OK } else { EXIT_DIFFERS })
}

/// `key=value` quoted for a shell when it needs to be.
fn shell_word(key: &str, value: &str) -> String {
    let word = format!("{key}={value}");
    if word.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:=,+@".contains(c)) {
        word
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `tune apply`: without `write`, the `sysctl -w` commands for the keys
/// that fall short (a shell script: everything else is a comment) and exit
/// 0; with `write`, writes them and reports each, exit 1 if any failed.
pub fn apply_report(profile: &Profile, root: &Path, write: bool) -> (String, u8) {
    let findings = check::check(root, profile);
    let mut out = String::new();
    if write {
        let _ = writeln!(out, "# profile {}: writing {}", profile.name, root.display());
    } else {
        let _ = writeln!(
            out,
            "# profile {}: dry run, nothing written (add --yes to write {})",
            profile.name,
            root.display()
        );
    }
    let (mut todo, mut set, mut failed) = (0, 0, 0);
    for f in &findings {
        let (key, want) = (&f.entry.key, &f.entry.value);
        let kernel = f.kernel.as_deref().unwrap_or("");
        let _ = match &f.outcome {
            Outcome::Equal | Outcome::Better => {
                writeln!(out, "# already ok: {key} = {kernel} (profile {want}, wanted {})", f.rule)
            }
            Outcome::NotPresent => writeln!(out, "# not present, skipped: {key} (module not loaded?)"),
            Outcome::Unreadable(e) => {
                failed += 1;
                writeln!(out, "# UNREADABLE, skipped: {key}: {e}")
            }
            Outcome::Differs if !write => {
                todo += 1;
                writeln!(out, "# {key} is {kernel}: {}\nsysctl -w {}", why(f), shell_word(key, want))
            }
            Outcome::Differs => match check::write(root, f.entry) {
                Err(e) => {
                    failed += 1;
                    writeln!(out, "FAILED  {key}: {e}")
                }
                Ok(()) => match check::check_entry(root, f.entry) {
                    after if after.outcome.is_fine() => {
                        set += 1;
                        writeln!(out, "set     {key} = {want} (was {kernel})")
                    }
                    after => {
                        failed += 1;
                        writeln!(
                            out,
                            "FAILED  {key}: wrote {want}, the kernel reads back {}",
                            after.kernel.as_deref().unwrap_or("nothing")
                        )
                    }
                },
            },
        };
    }
    if write {
        let _ = writeln!(out, "# {set} set, {failed} failed; this lasts until reboot: install the profile under /etc/sysctl.d/ to keep it");
        (out, if failed == 0 { EXIT_OK } else { EXIT_DIFFERS })
    } else {
        let _ = writeln!(out, "# {todo} to write");
        (out, EXIT_OK)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::fake_root as root_with;
    use super::*;

    #[test]
    fn embedded_profiles_parse_and_give_a_reason_for_every_key() {
        for (name, _) in PROFILES {
            let p = load(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(p.entries.len() >= 10, "{name}");
            for e in &p.entries {
                assert!(!e.why.is_empty(), "{name}:{}: `{}` has no comment saying why", e.line, e.key);
            }
        }
    }

    #[test]
    fn embedded_profiles_cover_what_the_issue_asks() {
        for (name, _) in PROFILES {
            let p = load(name).unwrap();
            let has = |part: &str| p.entries.iter().any(|e| e.key.contains(part));
            for part in [
                "rmem_max",
                "netdev_max_backlog",
                "somaxconn",
                "ip_local_port_range",
                "tcp_tw_reuse",
                "nf_conntrack_max",
                "busy_read",
            ] {
                assert!(has(part), "{name} lacks {part}");
            }
        }
    }

    #[test]
    fn profiles_are_found_by_name_or_path() {
        assert_eq!(load("udp-heavy").unwrap().name, "udp-heavy (embedded)");
        assert_eq!(load("udp-heavy.conf").unwrap().name, "udp-heavy (embedded)");
        let e = load("no-such").unwrap_err();
        assert!(e.contains("unknown profile `no-such`") && e.contains("general, udp-heavy, tcp-tls-heavy"), "{e}");
        let e = load("/no/such/file.conf").unwrap_err();
        assert!(e.contains("cannot read profile file /no/such/file.conf"), "{e}");
        let path = std::env::temp_dir().join(format!("sipedge-tune-load-{}.conf", std::process::id()));
        std::fs::write(&path, "net.core.somaxconn = 1\nbroken line\n").unwrap();
        let e = load(path.to_str().unwrap()).unwrap_err();
        assert!(e.ends_with(":2: expected `key = value`, found `broken line`"), "{e}");
        let _ = std::fs::remove_file(path);
    }

    const PROFILE: &str = "# Bursts are dropped.\nnet.core.rmem_max = 8388608\n# Connections refused.\nnet.core.somaxconn = 4096\n# Ports.\nnet.ipv4.tcp_rmem = 4096 16384 4194304\n# ct\nnet.netfilter.nf_conntrack_max = 9\n";

    #[test]
    fn check_names_what_differs_and_its_cost() {
        let root = root_with(&[
            ("net/core/rmem_max", "212992\n"),
            ("net/core/somaxconn", "8192\n"),
            ("net/ipv4/tcp_rmem", "4096\t16384\t4194304\n"),
        ]);
        let p = Profile::parse(PROFILE, "t.conf").unwrap();
        let (text, code) = check_report(&p, &root);
        assert_eq!(code, EXIT_DIFFERS, "{text}");
        assert!(text.contains("DIFFERS     net.core.rmem_max = 212992, profile 8388608 (wanted >=)\n              cost: Bursts are dropped.\n"), "{text}");
        assert!(text.contains("better      net.core.somaxconn = 8192"), "{text}");
        assert!(text.contains("ok          net.ipv4.tcp_rmem = 4096 16384 4194304"), "{text}");
        assert!(text.contains("not present net.netfilter.nf_conntrack_max"), "{text}");
        assert!(text.ends_with("1 differ, 2 match or better, 1 not present\n"), "{text}");
        std::fs::write(root.join("net/core/rmem_max"), "8388608\n").unwrap();
        assert_eq!(check_report(&p, &root).1, EXIT_OK);
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn apply_dry_run_prints_commands_and_writes_nothing() {
        let root = root_with(&[
            ("net/core/rmem_max", "212992\n"),
            ("net/core/somaxconn", "128\n"),
            ("net/ipv4/tcp_rmem", "4096 131072 6291456\n"),
        ]);
        let p = Profile::parse(PROFILE, "t.conf").unwrap();
        let (text, code) = apply_report(&p, &root, false);
        assert_eq!(code, EXIT_OK);
        assert!(text.contains("\nsysctl -w net.core.rmem_max=8388608\n"), "{text}");
        assert!(text.contains("\nsysctl -w 'net.ipv4.tcp_rmem=4096 16384 4194304'\n"), "{text}");
        assert!(text.contains("# not present, skipped: net.netfilter.nf_conntrack_max"), "{text}");
        assert!(text.ends_with("# 3 to write\n"), "{text}");
        // Every line that is not a command is a shell comment.
        assert!(text.lines().all(|l| l.starts_with('#') || l.starts_with("sysctl -w ")), "{text}");
        assert_eq!(std::fs::read_to_string(root.join("net/core/rmem_max")).unwrap(), "212992\n");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn apply_writes_only_what_falls_short_and_reports_failures() {
        let root = root_with(&[("net/core/rmem_max", "212992\n"), ("net/core/somaxconn", "65535\n")]);
        // tcp_rmem is a directory here: unreadable, skipped, counted as failed.
        std::fs::create_dir_all(root.join("net/ipv4/tcp_rmem")).unwrap();
        // fs.file-nr is read-only in every kernel (mode 0444, no write
        // handler), even for root: the write is refused, nothing changes.
        std::fs::create_dir_all(root.join("fs")).unwrap();
        std::os::unix::fs::symlink("/proc/sys/fs/file-nr", root.join("fs/file-nr")).unwrap();
        let p = Profile::parse(&format!("{PROFILE}# read-only\nfs.file-nr = 0 0 0\n"), "t.conf").unwrap();
        let (text, code) = apply_report(&p, &root, true);
        assert_eq!(code, EXIT_DIFFERS, "{text}");
        assert!(text.contains("set     net.core.rmem_max = 8388608 (was 212992)"), "{text}");
        assert!(text.contains("# UNREADABLE, skipped: net.ipv4.tcp_rmem"), "{text}");
        assert!(
            text.contains("FAILED  fs.file-nr: ") && text.contains("Permission denied") && text.contains("root"),
            "{text}"
        );
        assert!(text.contains("# 1 set, 2 failed"), "{text}");
        assert_eq!(std::fs::read_to_string(root.join("net/core/rmem_max")).unwrap(), "8388608\n");
        // A higher limit than the profile's is left alone.
        assert_eq!(std::fs::read_to_string(root.join("net/core/somaxconn")).unwrap(), "65535\n");
        std::fs::remove_dir_all(root.join("net/ipv4/tcp_rmem")).unwrap();
        std::fs::remove_file(root.join("fs/file-nr")).unwrap();
        let (text, code) = apply_report(&p, &root, true);
        assert_eq!(code, EXIT_OK, "{text}");
        let _ = std::fs::remove_dir_all(root);
    }
}
