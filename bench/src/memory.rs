//! Server memory sampling for the idle-connection run: resident (RSS) and
//! proportional (PSS) set sizes of a process and all its descendants, from
//! /proc/PID/smaps_rollup. PSS divides each shared page among the processes
//! mapping it, so its sum over Kamailio's processes counts shared memory
//! once; RSS summed over them would count it once per process.

use crate::cpu;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Mem {
    pub rss_kb: u64,
    pub pss_kb: u64,
    /// Anonymous resident memory (heap, stacks, private mappings).
    pub anon_kb: u64,
    pub processes: u32,
}

/// Rss, Pss and Anonymous (kB) from a smaps_rollup text.
pub fn parse_rollup(text: &str) -> Mem {
    let mut m = Mem { processes: 1, ..Mem::default() };
    for l in text.lines() {
        let Some((k, v)) = l.split_once(':') else { continue };
        let kb = v.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
        match k {
            "Rss" => m.rss_kb = kb,
            "Pss" => m.pss_kb = kb,
            "Anonymous" => m.anon_kb = kb,
            _ => {}
        }
    }
    m
}

/// Memory of `pid` and its descendants, summed (None: no such process).
pub fn tree_mem(pid: i32) -> Option<Mem> {
    let mut total = Mem::default();
    for (p, _) in cpu::tree(pid)? {
        if let Ok(t) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            let m = parse_rollup(&t);
            total.rss_kb += m.rss_kb;
            total.pss_kb += m.pss_kb;
            total.anon_kb += m.anon_kb;
            total.processes += 1;
        }
    }
    Some(total)
}

/// The kernel's TCP memory in pages (`TCP: ... mem N` of /proc/net/sockstat):
/// socket buffers of both ends of every loopback connection, for context.
pub fn kernel_tcp_pages() -> Option<u64> {
    let t = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let l = t.lines().find(|l| l.starts_with("TCP:"))?;
    let f: Vec<&str> = l.split_whitespace().collect();
    f.iter().position(|&w| w == "mem").and_then(|i| f.get(i + 1)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smaps_rollup() {
        let t = "55d0c-7ffd [rollup]\nRss:              123456 kB\nPss:              100000 kB\nPss_Anon:          90000 kB\nShared_Clean:       1000 kB\nAnonymous:         95000 kB\n";
        assert_eq!(parse_rollup(t), Mem { rss_kb: 123456, pss_kb: 100000, anon_kb: 95000, processes: 1 });
    }

    #[test]
    fn own_tree_has_memory() {
        let m = tree_mem(std::process::id() as i32).unwrap();
        assert!(m.rss_kb > 0 && m.pss_kb > 0 && m.processes >= 1, "{m:?}");
        assert!(kernel_tcp_pages().is_some());
    }
}
