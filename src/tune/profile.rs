//! A sysctl profile: the `sysctl.d(5)` text format (`key = value` lines,
//! `#` or `;` comments), parsed into entries that each carry the comment
//! block above them, joined into one line, as the reason they are set.
//! Pure: text in, entries out.
//!
//! Which comment a key takes: the comment lines directly above it, or above
//! the run of keys it belongs to (`rmem_max` and `wmem_max` under one
//! comment share it). A blank line ends a comment block, so a file header
//! separated by a blank line belongs to no key.

use std::fmt;
use std::path::PathBuf;

/// One `key = value` line and why the profile sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written: dotted (`net.core.rmem_max`) or, as sysctl(8)
    /// allows, slashed when a component holds a dot (`net/ipv4/conf/eth0.100/rp_filter`).
    pub key: String,
    /// The value, runs of blanks collapsed to one space (`4096 16384 4194304`).
    pub value: String,
    /// The comment above the line, on one line; empty when there is none.
    pub why: String,
    /// 1-based line number in the profile text.
    pub line: usize,
}

impl Entry {
    /// The key's file relative to the sysctl root (`/proc/sys`).
    pub fn rel_path(&self) -> PathBuf {
        let sep = if self.key.contains('/') { '/' } else { '.' };
        self.key.split(sep).collect()
    }

    /// The key in dotted form, as the comparison rules name keys.
    pub fn dotted(&self) -> String {
        if self.key.contains('/') {
            self.key.replace('/', ".")
        } else {
            self.key.clone()
        }
    }
}

/// A parsed profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Its embedded name (`udp-heavy`) or the path it was read from.
    pub name: String,
    pub entries: Vec<Entry>,
}

/// A line the parser refuses, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub name: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.name, self.line, self.message)
    }
}

impl std::error::Error for ProfileError {}

impl Profile {
    /// Parses profile text; `name` names it in errors.
    pub fn parse(text: &str, name: &str) -> Result<Profile, ProfileError> {
        let err = |line: usize, message: String| ProfileError { name: name.to_string(), line, message };
        let mut entries: Vec<Entry> = Vec::new();
        let mut why: Vec<&str> = Vec::new();
        let mut after_key = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() {
                why.clear();
                after_key = false;
                continue;
            }
            if let Some(c) = l.strip_prefix('#').or_else(|| l.strip_prefix(';')) {
                if after_key {
                    why.clear();
                    after_key = false;
                }
                let c = c.trim();
                if !c.is_empty() {
                    why.push(c);
                }
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                return Err(err(line, format!("expected `key = value`, found `{l}`")));
            };
            // systemd-sysctl: a leading `-` only means "ignore a failure to set it".
            let key = k.trim().trim_start_matches('-').to_string();
            check_key(&key).map_err(|m| err(line, m))?;
            let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
            if value.is_empty() {
                return Err(err(line, format!("key `{key}` has no value")));
            }
            if let Some(first) = entries.iter().find(|e| e.dotted() == key.replace('/', ".")) {
                return Err(err(line, format!("key `{key}` is set twice (first on line {})", first.line)));
            }
            entries.push(Entry { key, value, why: why.join(" "), line });
            after_key = true;
        }
        if entries.is_empty() {
            return Err(err(0, "no `key = value` line: not a sysctl profile".into()));
        }
        Ok(Profile { name: name.to_string(), entries })
    }
}

/// A key must name a file under the sysctl root and nothing outside it.
fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("empty key".into());
    }
    if key.contains(['*', '?', '[']) {
        return Err(format!("key `{key}`: globs are not supported, name each key"));
    }
    if key.contains(char::is_whitespace) || key.starts_with('/') {
        return Err(format!("key `{key}` is not a sysctl name"));
    }
    let sep = if key.contains('/') { '/' } else { '.' };
    if key.split(sep).any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(format!("key `{key}` has an empty or relative component"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_block_is_the_reason_of_every_key_under_it() {
        let p = Profile::parse(
            "# header\n# install it\n\n# Buffers: bursts need room.\n# Each shard asks 4 MiB.\nnet.core.rmem_max = 8\nnet.core.wmem_max=9\n; Backlog.\nnet.core.netdev_max_backlog = 1\n\nfs.nr_open = 2\n",
            "t",
        )
        .unwrap();
        let why: Vec<(&str, &str, usize)> =
            p.entries.iter().map(|e| (e.key.as_str(), e.why.as_str(), e.line)).collect();
        assert_eq!(
            why,
            [
                ("net.core.rmem_max", "Buffers: bursts need room. Each shard asks 4 MiB.", 6),
                ("net.core.wmem_max", "Buffers: bursts need room. Each shard asks 4 MiB.", 7),
                ("net.core.netdev_max_backlog", "Backlog.", 9),
                ("fs.nr_open", "", 11),
            ]
        );
    }

    #[test]
    fn values_have_their_blanks_collapsed() {
        let p = Profile::parse("net.ipv4.tcp_rmem =\t4096   16384\t4194304  \n", "t").unwrap();
        assert_eq!(p.entries[0].value, "4096 16384 4194304");
    }

    #[test]
    fn keys_map_to_paths_dotted_or_slashed() {
        let p = Profile::parse("net.core.somaxconn = 1\n-net/ipv4/conf/eth0.100/rp_filter = 2\n", "t").unwrap();
        assert_eq!(p.entries[0].rel_path(), PathBuf::from("net/core/somaxconn"));
        assert_eq!(p.entries[1].key, "net/ipv4/conf/eth0.100/rp_filter");
        assert_eq!(p.entries[1].rel_path(), PathBuf::from("net/ipv4/conf/eth0.100/rp_filter"));
        assert_eq!(p.entries[1].dotted(), "net.ipv4.conf.eth0.100.rp_filter");
    }

    #[test]
    fn bad_lines_are_refused_with_their_line() {
        let bad = |text: &str| Profile::parse(text, "p.conf").unwrap_err();
        let e = bad("# ok\nnet.core.somaxconn 4096\n");
        assert_eq!((e.line, e.to_string().starts_with("p.conf:2: expected `key = value`")), (2, true), "{e}");
        assert!(bad("net.core.somaxconn =\n").message.contains("no value"));
        assert!(bad("net.ipv4.conf.*.rp_filter = 1\n").message.contains("globs"));
        assert!(bad("net..core = 1\n").message.contains("empty or relative"));
        assert!(bad("net/../../etc/passwd = 1\n").message.contains("empty or relative"));
        assert!(bad("/etc/passwd = 1\n").message.contains("not a sysctl name"));
        let e = bad("a.b = 1\n\na.b = 2\n");
        assert_eq!((e.line, e.message.contains("first on line 1")), (3, true), "{e}");
        assert!(bad("# only a comment\n\n").message.contains("not a sysctl profile"));
    }
}
