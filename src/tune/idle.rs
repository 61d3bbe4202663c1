//! How idle CPUs wait, for `tune check`: read from sysfs, reported as a
//! note under the profile's keys. In a KVM guest whose cpuidle governor is
//! `haltpoll` with `guest_halt_poll_ns` 0, an idle vCPU halts at once, so a
//! datagram that finds a shard asleep waits for the host to wake its vCPU:
//! 12–36 µs on the development VM by how long it idled (`bench/wakedepth.c`),
//! on every message of a quiet edge and on every answer to a quiet peer on
//! the same guest. Polling before halting (the guest's default, 200 µs)
//! spends the host's CPU instead, which is the host owner's trade: a note,
//! not a difference, and the exit code is the profile's alone.
//!
//! Owns: reading the two files and the note's wording. Pure but for reads
//! under the root (`/sys`, or a directory in tests).

use std::path::Path;

/// Where the kernel's devices and modules are.
pub const SYSFS: &str = "/sys";

const GOVERNOR: &str = "devices/system/cpu/cpuidle/current_governor_ro";
const GOVERNOR_RW: &str = "devices/system/cpu/cpuidle/current_governor";
const HALT_POLL: &str = "module/haltpoll/parameters/guest_halt_poll_ns";

/// The note for the idle policy under `sys`, if it is one that costs
/// wake-ups; None otherwise (bare metal, another governor, polling on).
pub fn note(sys: &Path) -> Option<String> {
    let read = |rel: &str| std::fs::read_to_string(sys.join(rel)).ok().map(|s| s.trim().to_string());
    let governor = read(GOVERNOR).or_else(|| read(GOVERNOR_RW))?;
    let poll_ns: u64 = read(HALT_POLL)?.parse().ok()?;
    (governor == "haltpoll" && poll_ns == 0).then(|| {
        format!(
            "  note        idle vCPUs halt at once (cpuidle governor haltpoll, guest_halt_poll_ns = 0):\n\
             \x20             a message that finds a shard or its peer asleep waits for the host to wake its vCPU\n\
             \x20             (12-36 us on the development VM). To poll first, at the host's CPU: boot with\n\
             \x20             haltpoll.guest_halt_poll_ns=200000, or write 200000 to {}/{HALT_POLL}\n",
            sys.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::testing::fake_root;

    #[test]
    fn a_guest_that_halts_at_once_gets_the_note() {
        let root = fake_root(&[(GOVERNOR, "haltpoll\n"), (HALT_POLL, "0\n")]);
        let n = note(&root).expect("a note");
        assert!(n.contains("guest_halt_poll_ns = 0") && n.contains("haltpoll.guest_halt_poll_ns=200000"), "{n}");
        assert!(n.contains(&format!("{}/{HALT_POLL}", root.display())), "{n}");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn polling_another_governor_or_bare_metal_get_none() {
        for files in [
            &[(GOVERNOR, "haltpoll\n"), (HALT_POLL, "200000\n")][..],
            &[(GOVERNOR, "menu\n"), (HALT_POLL, "0\n")][..],
            &[(GOVERNOR, "menu\n")][..],
            &[][..],
        ] {
            let root = fake_root(files);
            assert_eq!(note(&root), None, "{files:?}");
            let _ = std::fs::remove_dir_all(root);
        }
        // Kernels without current_governor_ro have the writable one.
        let root = fake_root(&[(GOVERNOR_RW, "haltpoll\n"), (HALT_POLL, "0\n")]);
        assert!(note(&root).is_some());
        let _ = std::fs::remove_dir_all(root);
    }
}
