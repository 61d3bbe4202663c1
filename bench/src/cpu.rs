//! CPU accounting: the server's utime+stime from /proc (summed over the
//! process and all its descendants, so multi-process servers such as
//! Kamailio are counted whole; /proc/PID/stat already sums threads), and the
//! generator's own CPU from getrusage. Also the process tree itself, which
//! the memory sampling walks too.

use std::collections::HashMap;

fn clk_tck() -> f64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (pid, ppid, utime+stime ticks) parsed from one /proc/N/stat line.
pub fn parse_stat(line: &str) -> Option<(i32, i32, u64)> {
    let pid: i32 = line.split_whitespace().next()?.parse().ok()?;
    let rest = &line[line.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // after ')' : state(0) ppid(1) ... utime(11) stime(12)
    let ppid = f.get(1)?.parse().ok()?;
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((pid, ppid, ut + st))
}

/// `pid` and all its descendants, each with its utime+stime ticks (None
/// when `pid` does not exist).
pub fn tree(pid: i32) -> Option<Vec<(i32, u64)>> {
    let mut procs: HashMap<i32, (i32, u64)> = HashMap::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(s) = std::fs::read_to_string(e.path().join("stat")) {
            if let Some((p, pp, t)) = parse_stat(&s) {
                procs.insert(p, (pp, t));
            }
        }
    }
    procs.get(&pid)?;
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        if let Some(&(_, t)) = procs.get(&p) {
            out.push((p, t));
        }
        frontier.extend(procs.iter().filter(|(_, &(pp, _))| pp == p).map(|(&c, _)| c));
    }
    Some(out)
}

/// CPU seconds consumed so far by `pid` and all its descendants.
pub fn tree_cpu_secs(pid: i32) -> Option<f64> {
    Some(tree(pid)?.iter().map(|&(_, t)| t).sum::<u64>() as f64 / clk_tck())
}

/// This process's user+system CPU seconds.
pub fn self_cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let l = "1234 (kam ail) io) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(l), Some((1234, 1, 325)));
    }

    #[test]
    fn own_tree_is_measurable() {
        let me = std::process::id() as i32;
        assert!(tree_cpu_secs(me).is_some());
        assert!(self_cpu_secs() >= 0.0);
    }
}
