//! What the host gives the process: the CPUs it may run on
//! (`sched_getaffinity`, so `taskset` is honoured), shard placement on them,
//! and the locked-memory limit glommio's io_uring rings need.

use std::io;

/// CPUs in the process affinity mask, ascending.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for pid 0 (this thread).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect())
    }
}

/// The CPU of each shard: `cores` from config if given, else the allowed
/// CPUs; round-robin when there are more shards than CPUs. `shards == 0`
/// means one per CPU.
pub fn placement(shards: usize, cores: &[usize], allowed: &[usize]) -> Vec<usize> {
    let cpus = if cores.is_empty() { allowed } else { cores };
    let n = if shards == 0 { cpus.len() } else { shards };
    (0..n).map(|i| cpus[i % cpus.len()]).collect()
}

/// Makes sure RLIMIT_MEMLOCK allows `needed` bytes: raises the soft limit
/// (and the hard one, when privileged) or explains what is missing.
pub fn ensure_memlock(needed: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) != 0 {
            return Err(format!("cannot read RLIMIT_MEMLOCK: {}", io::Error::last_os_error()));
        }
        if lim.rlim_cur == libc::RLIM_INFINITY || lim.rlim_cur >= needed {
            return Ok(lim.rlim_cur);
        }
        let want = libc::rlimit {
            rlim_cur: needed,
            rlim_max: if lim.rlim_max == libc::RLIM_INFINITY { lim.rlim_max } else { lim.rlim_max.max(needed) },
        };
        if libc::setrlimit(libc::RLIMIT_MEMLOCK, &want) == 0 {
            return Ok(needed);
        }
    }
    Err(format!(
        "RLIMIT_MEMLOCK is {} KiB (hard {} KiB) and could not be raised to the {} KiB sipedge needs: \
         glommio registers io_uring rings and buffers in locked memory and refuses to start below 512 KiB; each shard pins about 192 KiB. \
         Raise it with `ulimit -l {}`, LimitMEMLOCK= in the systemd unit, or run with CAP_SYS_RESOURCE.",
        lim.rlim_cur / 1024,
        if lim.rlim_max == libc::RLIM_INFINITY { u64::MAX / 1024 } else { lim.rlim_max / 1024 },
        needed / 1024,
        needed.div_ceil(1024),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_round_robins_and_defaults_to_one_per_cpu() {
        assert_eq!(placement(0, &[], &[0, 1]), vec![0, 1]);
        assert_eq!(placement(4, &[], &[0, 1]), vec![0, 1, 0, 1]);
        assert_eq!(placement(3, &[5], &[0, 1]), vec![5, 5, 5]);
        assert_eq!(placement(0, &[2, 3, 7], &[0]), vec![2, 3, 7]);
    }

    #[test]
    fn allowed_cpus_is_not_empty() {
        assert!(!allowed_cpus().unwrap().is_empty());
    }

    #[test]
    fn memlock_already_sufficient_for_a_small_need() {
        assert!(ensure_memlock(4096).is_ok());
    }
}
