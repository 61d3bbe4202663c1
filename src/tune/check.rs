//! Comparing a profile with a running kernel. Each key is read from
//! `<root>/<key as a path>` (root: `/proc/sys`, or a directory in tests)
//! and compared by its rule; the rules are the table in [`rule_for`].
//! Everything here is pure but for reading and writing files under the root.
//!
//! How values compare: both sides are split on blanks. The same words are
//! `Equal`. Otherwise every word must be a number and, word by word, on the
//! right side of the key's rule: then the kernel is `Better` (a larger
//! buffer than the profile asks for is fine), else it `Differs`. A key with
//! no file under the root is `NotPresent` (a module that is not loaded,
//! like nf_conntrack, or a key of another kernel): reported, not an error.

use super::profile::{Entry, Profile};
use std::fmt;
use std::io;
use std::path::Path;

/// How a kernel value compares with the profile's, word by word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anything but the profile's value differs (switches, modes, trade-offs).
    Exact,
    /// Limits, buffers, queues, table sizes: as large or larger is fine.
    AtLeast,
    /// Timeouts and probe counts: as short or shorter is fine.
    AtMost,
    /// One rule per word (`ip_local_port_range`: low <=, high >=).
    Each(&'static [Rule]),
}

/// `ip_local_port_range`: the kernel's range must contain the profile's.
const RANGE: &[Rule] = &[Rule::AtMost, Rule::AtLeast];
/// `tcp_rmem`/`tcp_wmem` (min, default, max): the floor and the ceiling at
/// least the profile's, the default (what every idle connection holds) at most.
const TCP_BUFFERS: &[Rule] = &[Rule::AtLeast, Rule::AtMost, Rule::AtLeast];
/// `tcp_mem`/`udp_mem` (min, pressure, max) in pages: thresholds, all at least.
const MEM_PAGES: &[Rule] = &[Rule::AtLeast, Rule::AtLeast, Rule::AtLeast];

/// The rule of a key (dotted form). Keys not named here compare `Exact`.
pub fn rule_for(key: &str) -> Rule {
    match key {
        "net.ipv4.ip_local_port_range" => Rule::Each(RANGE),
        "net.ipv4.tcp_rmem" | "net.ipv4.tcp_wmem" => Rule::Each(TCP_BUFFERS),
        "net.ipv4.tcp_mem" | "net.ipv4.udp_mem" => Rule::Each(MEM_PAGES),
        "net.core.rmem_max"
        | "net.core.wmem_max"
        | "net.core.rmem_default"
        | "net.core.wmem_default"
        | "net.core.optmem_max"
        | "net.core.netdev_max_backlog"
        | "net.core.netdev_budget"
        | "net.core.netdev_budget_usecs"
        | "net.core.somaxconn"
        | "net.ipv4.tcp_max_syn_backlog"
        | "net.ipv4.tcp_max_tw_buckets"
        | "net.ipv4.tcp_max_orphans"
        | "net.ipv4.udp_rmem_min"
        | "net.ipv4.udp_wmem_min"
        | "fs.file-max"
        | "fs.nr_open"
        | "net.netfilter.nf_conntrack_max"
        | "net.nf_conntrack_max"
        | "net.netfilter.nf_conntrack_buckets" => Rule::AtLeast,
        "net.ipv4.tcp_keepalive_time"
        | "net.ipv4.tcp_keepalive_intvl"
        | "net.ipv4.tcp_keepalive_probes"
        | "net.ipv4.tcp_fin_timeout" => Rule::AtMost,
        k if k.starts_with("net.netfilter.nf_conntrack_") && k.contains("timeout") => Rule::AtMost,
        _ => Rule::Exact,
    }
}

impl fmt::Display for Rule {
    /// What the kernel must be, relative to the profile: `==`, `>=`, `<=`, `(<=, >=)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Exact => f.write_str("=="),
            Rule::AtLeast => f.write_str(">="),
            Rule::AtMost => f.write_str("<="),
            Rule::Each(rules) => {
                let parts: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
                write!(f, "({})", parts.join(", "))
            }
        }
    }
}

/// How one key of the running kernel stands against the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The same value.
    Equal,
    /// Another value, on the right side of the rule.
    Better,
    /// Falls short of the profile.
    Differs,
    /// No such key in this kernel (module not loaded, other kernel version).
    NotPresent,
    /// The key exists but could not be read.
    Unreadable(String),
}

impl Outcome {
    /// Nothing to do for this key.
    pub fn is_fine(&self) -> bool {
        matches!(self, Outcome::Equal | Outcome::Better | Outcome::NotPresent)
    }
}

/// Compares a kernel value with the profile's under `rule` (pure).
pub fn compare(rule: Rule, kernel: &str, wanted: &str) -> Outcome {
    let k: Vec<&str> = kernel.split_whitespace().collect();
    let w: Vec<&str> = wanted.split_whitespace().collect();
    if k == w {
        return Outcome::Equal;
    }
    let rules: Vec<Rule> = match rule {
        Rule::Exact => return Outcome::Differs,
        Rule::Each(rules) => rules.to_vec(),
        scalar => vec![scalar; w.len()],
    };
    if k.len() != w.len() || w.len() != rules.len() {
        return Outcome::Differs;
    }
    let ok = k.iter().zip(&w).zip(&rules).all(|((k, w), rule)| match (k.parse::<i128>(), w.parse::<i128>()) {
        (Ok(k), Ok(w)) => match rule {
            Rule::AtLeast => k >= w,
            Rule::AtMost => k <= w,
            _ => k == w,
        },
        _ => false,
    });
    if ok {
        Outcome::Better
    } else {
        Outcome::Differs
    }
}

/// The kernel's value of a key: `Ok(None)` when the key does not exist.
pub fn read(root: &Path, entry: &Entry) -> io::Result<Option<String>> {
    match std::fs::read_to_string(root.join(entry.rel_path())) {
        Ok(v) => Ok(Some(v.split_whitespace().collect::<Vec<_>>().join(" "))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One key of the profile against the kernel.
#[derive(Debug, Clone)]
pub struct Finding<'p> {
    pub entry: &'p Entry,
    pub rule: Rule,
    /// What the kernel has (None: not present or unreadable).
    pub kernel: Option<String>,
    pub outcome: Outcome,
}

/// Compares one key of the kernel under `root` with the profile.
pub fn check_entry<'p>(root: &Path, entry: &'p Entry) -> Finding<'p> {
    let rule = rule_for(&entry.dotted());
    let (kernel, outcome) = match read(root, entry) {
        Ok(Some(v)) => {
            let o = compare(rule, &v, &entry.value);
            (Some(v), o)
        }
        Ok(None) => (None, Outcome::NotPresent),
        Err(e) => (None, Outcome::Unreadable(e.to_string())),
    };
    Finding { entry, rule, kernel, outcome }
}

/// Compares every key of the profile with the kernel under `root`.
pub fn check<'p>(root: &Path, profile: &'p Profile) -> Vec<Finding<'p>> {
    profile.entries.iter().map(|e| check_entry(root, e)).collect()
}

/// Writes a key's profile value under `root` (what `sysctl -w` does).
/// Errors say what to do about them.
pub fn write(root: &Path, entry: &Entry) -> Result<(), String> {
    use std::io::Write;
    let path = root.join(entry.rel_path());
    let result = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{}\n", entry.value).as_bytes()));
    result.map_err(|e| match e.kind() {
        // SAFETY: geteuid cannot fail.
        io::ErrorKind::PermissionDenied if unsafe { libc::geteuid() } == 0 => {
            format!(
                "{}: {e}: refused even to root (a read-only key, or one this network namespace may not set)",
                path.display()
            )
        }
        io::ErrorKind::PermissionDenied => format!(
            "{}: {e}: run as root (CAP_SYS_ADMIN; CAP_NET_ADMIN for net.* in a network namespace)",
            path.display()
        ),
        io::ErrorKind::ReadOnlyFilesystem => {
            format!("{}: {e}: /proc/sys is read-only here (a container?); set it on the host", path.display())
        }
        io::ErrorKind::InvalidInput => format!("{}: {e}: the kernel refused the value", path.display()),
        _ => format!("{}: {e}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::fake_root;
    use super::*;

    #[test]
    fn equal_words_are_equal_whatever_the_rule() {
        assert_eq!(compare(Rule::Exact, "fq", "fq"), Outcome::Equal);
        assert_eq!(compare(Rule::AtLeast, "4096\t131072  6291456", "4096 131072 6291456"), Outcome::Equal);
    }

    #[test]
    fn maxima_may_be_larger_not_smaller() {
        let r = rule_for("net.core.rmem_max");
        assert_eq!(r, Rule::AtLeast);
        assert_eq!(compare(r, "33554432", "16777216"), Outcome::Better);
        assert_eq!(compare(r, "212992", "16777216"), Outcome::Differs);
        assert_eq!(compare(rule_for("fs.file-max"), "9223372036854775807", "2097152"), Outcome::Better);
    }

    #[test]
    fn timeouts_may_be_shorter_not_longer() {
        let r = rule_for("net.netfilter.nf_conntrack_udp_timeout_stream");
        assert_eq!(r, Rule::AtMost);
        assert_eq!(compare(r, "30", "60"), Outcome::Better);
        assert_eq!(compare(r, "120", "60"), Outcome::Differs);
        assert_eq!(compare(rule_for("net.ipv4.tcp_keepalive_time"), "7200", "120"), Outcome::Differs);
    }

    #[test]
    fn port_range_must_contain_the_profiles() {
        let r = rule_for("net.ipv4.ip_local_port_range");
        assert_eq!(r.to_string(), "(<=, >=)");
        assert_eq!(compare(r, "1024 65535", "10240 65000"), Outcome::Better);
        assert_eq!(compare(r, "32768 60999", "10240 65000"), Outcome::Differs);
        assert_eq!(compare(r, "10240 60999", "10240 65000"), Outcome::Differs);
    }

    #[test]
    fn tcp_buffers_compare_element_wise() {
        let r = rule_for("net.ipv4.tcp_rmem");
        assert_eq!(r.to_string(), "(>=, <=, >=)");
        // Larger max, same default: better.
        assert_eq!(compare(r, "4096 16384 6291456", "4096 16384 4194304"), Outcome::Better);
        // The kernel's default 131072 holds more per idle connection than 16384.
        assert_eq!(compare(r, "4096 131072 6291456", "4096 16384 4194304"), Outcome::Differs);
        // A missing word differs.
        assert_eq!(compare(r, "4096 16384", "4096 16384 4194304"), Outcome::Differs);
    }

    #[test]
    fn switches_and_words_compare_exactly() {
        assert_eq!(rule_for("net.ipv4.tcp_tw_reuse"), Rule::Exact);
        assert_eq!(compare(Rule::Exact, "2", "1"), Outcome::Differs);
        assert_eq!(compare(rule_for("net.core.default_qdisc"), "pfifo_fast", "fq"), Outcome::Differs);
        // A non-number under a numeric rule differs rather than passing.
        assert_eq!(compare(Rule::AtLeast, "lots", "10"), Outcome::Differs);
    }

    #[test]
    fn check_reads_a_fake_proc_sys() {
        let root = fake_root(&[
            ("net/core/rmem_max", "212992\n"),
            ("net/core/somaxconn", "4096\n"),
            ("net/ipv4/tcp_rmem", "4096\t131072\t6291456\n"),
            ("net/ipv4/ip_local_port_range", "1024\t65535\n"),
        ]);
        let p = Profile::parse(
            "# cost of rmem\nnet.core.rmem_max = 8388608\nnet.core.somaxconn = 4096\nnet.ipv4.ip_local_port_range = 10240 65000\n# ct\nnet.netfilter.nf_conntrack_max = 262144\n",
            "t",
        )
        .unwrap();
        let f = check(&root, &p);
        let got: Vec<(&str, Option<&str>, &Outcome)> =
            f.iter().map(|f| (f.entry.key.as_str(), f.kernel.as_deref(), &f.outcome)).collect();
        assert_eq!(
            got,
            [
                ("net.core.rmem_max", Some("212992"), &Outcome::Differs),
                ("net.core.somaxconn", Some("4096"), &Outcome::Equal),
                ("net.ipv4.ip_local_port_range", Some("1024 65535"), &Outcome::Better),
                ("net.netfilter.nf_conntrack_max", None, &Outcome::NotPresent),
            ]
        );
        assert_eq!(f[0].entry.why, "cost of rmem");
        assert!(f[3].outcome.is_fine() && !f[0].outcome.is_fine());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn write_sets_the_value_and_explains_failures() {
        let root = fake_root(&[("net/core/rmem_max", "212992\n")]);
        let p = Profile::parse("net.core.rmem_max = 8388608\nnet.core.wmem_max = 8388608\n", "t").unwrap();
        write(&root, &p.entries[0]).unwrap();
        assert_eq!(check_entry(&root, &p.entries[0]).outcome, Outcome::Equal);
        // A key the kernel does not have cannot be written (and is not created).
        let e = write(&root, &p.entries[1]).unwrap_err();
        assert!(e.contains("wmem_max") && e.contains("No such file"), "{e}");
        assert!(!root.join("net/core/wmem_max").exists());
        let _ = std::fs::remove_dir_all(root);
    }
}
