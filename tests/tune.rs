//! Bare-metal tuning, with the real binary and scripts: `sipedge tune
//! check` against profiles made from this machine's own /proc/sys (which it
//! only reads: writes go to a fake root, or to a key the kernel refuses even
//! to root), `tune apply` as a dry run, the tuning scripts against a fake
//! /sys and /proc, and the edge serving with `server.steering` on, a client
//! pinned to a CPU being answered by the shard on that CPU.

mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the binary: (exit code, stdout, stderr).
fn sipedge(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run sipedge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The running kernel's value of a key, blanks collapsed.
fn current(key: &str) -> String {
    let text = std::fs::read_to_string(Path::new("/proc/sys").join(key.replace('.', "/"))).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A fresh temp directory for this test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sipedge-tune-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_file(path: &Path, text: &str) -> String {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Keys every Linux has, each with a different comparison rule.
const KEYS: &[&str] = &[
    "net.core.somaxconn",
    "net.core.rmem_max",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_tw_reuse",
];

/// A profile of `KEYS` at this kernel's values, with `net.core.somaxconn` replaced by `somaxconn`.
fn profile_of_this_kernel(somaxconn: &str) -> String {
    let mut text = String::from("# made from this machine's /proc/sys\n\n");
    for key in KEYS {
        let value = if *key == "net.core.somaxconn" { somaxconn.to_string() } else { current(key) };
        text += &format!("# Cost of {key} falling short.\n{key} = {value}\n");
    }
    text + "# A key no kernel has.\nnet.sipedge_test.no_such_key = 1\n"
}

#[test]
fn check_passes_against_this_kernels_own_values() {
    let dir = temp_dir("same");
    let file = write_file(&dir.join("same.conf"), &profile_of_this_kernel(&current("net.core.somaxconn")));
    let (code, out, err) = sipedge(&["tune", "check", "--profile", &file]);
    assert_eq!(code, 0, "{out}{err}");
    for key in KEYS {
        assert!(out.contains(&format!("ok          {key} = ")), "{key}: {out}");
    }
    assert!(out.contains("not present net.sipedge_test.no_such_key"), "{out}");
    assert!(out.contains("0 differ, 5 match or better, 1 not present"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_names_the_key_that_differs_and_what_it_costs() {
    let dir = temp_dir("differs");
    let more: u64 = current("net.core.somaxconn").parse::<u64>().unwrap() + 1;
    let file = write_file(&dir.join("more.conf"), &profile_of_this_kernel(&more.to_string()));
    let (code, out, err) = sipedge(&["tune", "check", "--profile", &file]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("DIFFERS     net.core.somaxconn = {}, profile {more} (wanted >=)", more - 1)),
        "{out}"
    );
    assert!(out.contains("cost: Cost of net.core.somaxconn falling short."), "{out}");
    assert!(out.contains("1 differ, 4 match or better"), "{out}");
    // A lower value than the kernel's is better for a maximum.
    let file = write_file(&dir.join("less.conf"), &profile_of_this_kernel("1"));
    let (code, out, _) = sipedge(&["tune", "check", "--profile", &file]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("better      net.core.somaxconn"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_profiles_exit_2_with_a_clear_message() {
    let (code, out, err) = sipedge(&["tune", "check", "--profile", "no-such-profile"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("unknown profile `no-such-profile`: the embedded profiles are general, udp-heavy, tcp-tls-heavy"),
        "{err}"
    );
    let (code, _, err) = sipedge(&["tune", "apply", "--profile", "./missing.conf"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read profile file ./missing.conf"), "{err}");
    let dir = temp_dir("bad");
    let file = write_file(&dir.join("bad.conf"), "# fine\nnet.core.somaxconn = 1\nnet.core.rmem_max 4\n");
    let (code, _, err) = sipedge(&["tune", "check", "--profile", &file]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{file}:3: expected `key = value`")), "{err}");
    let (code, _, err) = sipedge(&["tune", "show", "nope"]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn embedded_profiles_are_checked_and_shown() {
    for name in ["general", "udp-heavy", "tcp-tls-heavy"] {
        let (code, out, err) = sipedge(&["tune", "check", "--profile", name]);
        assert!(code == 0 || code == 1, "{name}: {code} {out}{err}");
        assert!(out.starts_with(&format!("profile {name} (embedded) against /proc/sys\n")), "{out}");
        assert!(out.contains("net.core.rmem_max"), "{out}");
        let (code, shown, _) = sipedge(&["tune", "show", name]);
        assert_eq!(code, 0);
        let file =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sysctl/{name}.conf"))).unwrap();
        assert_eq!(shown, file);
    }
    // No --profile: general.
    let (_, out, _) = sipedge(&["tune", "check"]);
    assert!(out.starts_with("profile general (embedded)"), "{out}");
}

#[test]
fn apply_without_yes_prints_commands_and_changes_nothing() {
    let dir = temp_dir("dry");
    let before = current("net.core.somaxconn");
    let more = before.parse::<u64>().unwrap() + 1;
    let file = write_file(&dir.join("more.conf"), &profile_of_this_kernel(&more.to_string()));
    let (code, out, err) = sipedge(&["tune", "apply", "--profile", &file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dry run, nothing written (add --yes to write /proc/sys)"), "{out}");
    assert!(out.contains(&format!("\nsysctl -w net.core.somaxconn={more}\n")), "{out}");
    assert!(out.ends_with("# 1 to write\n"), "{out}");
    assert_eq!(current("net.core.somaxconn"), before);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn apply_with_yes_writes_what_falls_short_and_reports_refusals() {
    // Against a fake /proc/sys (the hidden --sysctl-root).
    let dir = temp_dir("yes");
    let root = dir.join("sys");
    write_file(&root.join("net/core/somaxconn"), "128\n");
    write_file(&root.join("net/core/rmem_max"), "33554432\n");
    let file = write_file(
        &dir.join("p.conf"),
        "# Accept queue.\nnet.core.somaxconn = 4096\n# Buffers.\nnet.core.rmem_max = 8388608\n",
    );
    let (code, out, err) =
        sipedge(&["tune", "apply", "--profile", &file, "--yes", "--sysctl-root", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("set     net.core.somaxconn = 4096 (was 128)"), "{out}");
    assert!(out.contains("# already ok: net.core.rmem_max = 33554432"), "{out}");
    assert_eq!(std::fs::read_to_string(root.join("net/core/somaxconn")).unwrap(), "4096\n");
    assert_eq!(std::fs::read_to_string(root.join("net/core/rmem_max")).unwrap(), "33554432\n");
    // The real /proc/sys: fs.file-nr is read-only (0444, no write handler),
    // refused even to root, so this writes nothing and must fail clearly.
    let file = write_file(&dir.join("ro.conf"), "# Read-only.\nfs.file-nr = 0 0 0\n");
    let (code, out, err) = sipedge(&["tune", "apply", "--profile", &file, "--yes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAILED  fs.file-nr: /proc/sys/fs/file-nr: Permission denied"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs a tuning script against the fake tree under `fake`: (exit code, stdout+stderr).
fn script(fake: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning").join(args[0]))
        .args(&args[1..])
        .env("SIPEDGE_SYSFS", fake.join("sys"))
        .env("SIPEDGE_PROCFS", fake.join("proc"))
        .env("SIPEDGE_ETC", fake.join("etc"))
        .output()
        .expect("bash");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// A NIC `eth9` with 2 receive and 3 transmit queues, IRQs 41 and 42, on
/// NUMA node 0 with CPUs 0-7 (cpu N and N+4 are SMT siblings).
fn fake_host(name: &str) -> PathBuf {
    let f = temp_dir(name);
    let net = f.join("sys/class/net/eth9");
    for q in ["rx-0", "rx-1"] {
        write_file(&net.join("queues").join(q).join("rps_cpus"), "0\n");
    }
    for q in ["tx-0", "tx-1", "tx-2"] {
        write_file(&net.join("queues").join(q).join("xps_cpus"), "0\n");
    }
    write_file(&net.join("device/numa_node"), "0\n");
    write_file(&net.join("device/local_cpulist"), "0-7\n");
    write_file(&f.join("sys/devices/system/cpu/online"), "0-7\n");
    for c in 0..8 {
        write_file(
            &f.join(format!("sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list")),
            &format!("{},{}\n", c % 4, c % 4 + 4),
        );
    }
    for irq in [40, 41, 42] {
        write_file(&f.join(format!("proc/irq/{irq}/smp_affinity_list")), "0-7\n");
    }
    write_file(
        &f.join("proc/interrupts"),
        "           CPU0       CPU1\n  40:          0          0  PCI-MSI  eth9\n  41:        100          0  PCI-MSI  eth9-TxRx-0\n  42:          0        100  PCI-MSI  eth9-TxRx-1\n  43:          1          1  PCI-MSI  eth10-TxRx-0\n",
    );
    f
}

#[test]
fn nic_queues_script_is_a_dry_run_unless_applied() {
    let f = fake_host("nic");
    let (code, out) = script(&f, &["nic-queues.sh", "eth9", "2,3,4"]);
    assert_eq!(code, 0, "{out}");
    let p = f.display();
    // Queue IRQs round-robin on the shard CPUs; 2 queues for 3 CPUs: RPS over all three (mask 0x1c).
    for line in [
        format!("echo 2 > {p}/proc/irq/41/smp_affinity_list"),
        format!("echo 3 > {p}/proc/irq/42/smp_affinity_list"),
        format!("echo 1c > {p}/sys/class/net/eth9/queues/rx-1/rps_cpus"),
        format!("echo 4 > {p}/sys/class/net/eth9/queues/tx-0/xps_cpus"),
        format!("echo 10 > {p}/sys/class/net/eth9/queues/tx-2/xps_cpus"),
    ] {
        assert!(out.contains(&line), "{line}\n{out}");
    }
    assert!(!out.contains("irq/40/"), "the link IRQ is not a queue's: {out}");
    assert_eq!(std::fs::read_to_string(f.join("proc/irq/41/smp_affinity_list")).unwrap(), "0-7\n");
    // Applied, with as many queues as CPUs: RPS off.
    let (code, out) = script(&f, &["nic-queues.sh", "eth9", "2-3", "--apply"]);
    assert_eq!(code, 0, "{out}");
    let read = |rel: &str| std::fs::read_to_string(f.join(rel)).unwrap();
    assert_eq!(read("proc/irq/42/smp_affinity_list"), "3\n");
    assert_eq!(read("sys/class/net/eth9/queues/rx-0/rps_cpus"), "0\n");
    assert_eq!(read("sys/class/net/eth9/queues/tx-1/xps_cpus"), "8\n");
    assert_eq!(read("sys/class/net/eth9/queues/tx-2/xps_cpus"), "0\n");
    let (code, out) = script(&f, &["nic-queues.sh", "eth0", "2"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no interface eth0"), "{out}");
    let _ = std::fs::remove_dir_all(f);
}

#[test]
fn cpu_plan_and_isolation_scripts_print_the_plan() {
    let f = fake_host("plan");
    let (code, out) = script(&f, &["cpu-plan.sh", "eth9"]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "shard CPUs, one per physical core: 1-3 (3 shards)",
        "SMT siblings left idle: 4-7",
        "[server] cores = [1, 2, 3]",
        "CPUAffinity=0-3",
        "tuning/nic-queues.sh eth9 1-3",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    let (code, out) = script(&f, &["isolate-cpus.sh", "1-3"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("isolcpus=managed_irq,domain,1-3 nohz_full=1-3 rcu_nocbs=1-3 irqaffinity=0,4-7"), "{out}");
    let cfg = f.join("etc/default/grub.d/60-sipedge-isolation.cfg");
    assert!(!cfg.exists());
    let (code, out) = script(&f, &["isolate-cpus.sh", "1-3", "--apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("irqaffinity=0,4-7"));
    let (code, out) = script(&f, &["isolate-cpus.sh", "0-7"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("leave at least one CPU"), "{out}");
    let _ = std::fs::remove_dir_all(f);
}

/// Pins the calling thread to one CPU.
fn pin_to(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) sets this thread's mask.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set), 0, "pin to CPU {cpu}");
    }
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

fn shard_count(edge: &Edge, name: &str, labels: &[&str], shard: usize) -> f64 {
    edge.per_shard(name, labels).iter().find(|(s, _)| *s == shard.to_string()).map(|(_, v)| *v).unwrap_or(0.0)
}

/// Two shards with `steering`: OPTIONS over UDP and TCP answered; and where
/// the two shards run on two CPUs, a client pinned to a CPU is served by the
/// shard on that CPU (loopback runs the receive path on the sender's CPU).
fn serves_and_steers(steering: &str) {
    let edge = Edge::start_server(free_port(), &format!("shards = 2\nsteering = \"{steering}\""), "");
    for _ in 0..8 {
        assert!(answers_options(&edge), "{steering}: OPTIONS over UDP unanswered");
    }
    let mut c = std::net::TcpStream::connect(edge.sip).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
    let port = c.local_addr().unwrap().port();
    c.write_all(&options(edge.sip, "TCP", port, "steered-tcp")).unwrap();
    let mut buf = [0u8; 2048];
    let n = std::io::Read::read(&mut c, &mut buf).unwrap();
    assert_eq!(code(&String::from_utf8_lossy(&buf[..n])), 200, "{steering}: OPTIONS over TCP");

    // The counters of what came before are flushed before each count starts.
    let udp = ("sipedge_requests_received_total", ["method=\"OPTIONS\""]);
    edge.wait_metric(udp.0, &udp.1, |v| v >= 9.0);
    edge.wait_metric("sipedge_tcp_accepted_total", &[], |v| v >= 1.0);

    let placement = sipedge::host::placement(2, &[], &sipedge::host::allowed_cpus().unwrap());
    if placement[0] == placement[1] {
        eprintln!("{steering}: both shards on CPU {}: steering not observable here", placement[0]);
        return;
    }
    if steering == "incoming-cpu" && !kernel_at_least(6, 1) {
        eprintln!("incoming-cpu: reuseport groups honour SO_INCOMING_CPU from Linux 6.1 only");
        return;
    }
    const N: f64 = 16.0;
    for (shard, &cpu) in placement.iter().enumerate() {
        let before: Vec<f64> = (0..2).map(|s| shard_count(&edge, udp.0, &udp.1, s)).collect();
        let accepted: Vec<f64> = (0..2).map(|s| shard_count(&edge, "sipedge_tcp_accepted_total", &[], s)).collect();
        let conns = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    pin_to(cpu);
                    for _ in 0..N as usize {
                        assert!(answers_options(&edge));
                    }
                    (0..4).map(|_| std::net::TcpStream::connect(edge.sip).unwrap()).collect::<Vec<_>>()
                })
                .join()
                .unwrap()
        });
        edge.wait_metric(udp.0, &udp.1, |v| v >= before.iter().sum::<f64>() + N);
        edge.wait_metric("sipedge_tcp_accepted_total", &[], |v| v >= accepted.iter().sum::<f64>() + 4.0);
        let got: Vec<f64> = (0..2).map(|s| shard_count(&edge, udp.0, &udp.1, s) - before[s]).collect();
        assert_eq!(got[shard], N, "{steering}: client on CPU {cpu}, UDP per shard {got:?} (placement {placement:?})");
        let got: Vec<f64> =
            (0..2).map(|s| shard_count(&edge, "sipedge_tcp_accepted_total", &[], s) - accepted[s]).collect();
        assert_eq!(got[shard], 4.0, "{steering}: client on CPU {cpu}, TCP accepts per shard {got:?}");
        drop(conns);
    }
}

#[test]
fn cbpf_steering_serves_and_hands_each_cpus_traffic_to_its_shard() {
    serves_and_steers("cbpf");
}

#[test]
fn incoming_cpu_steering_serves_and_hands_each_cpus_traffic_to_its_shard() {
    serves_and_steers("incoming-cpu");
}

#[test]
fn check_notes_a_guest_whose_idle_vcpus_halt_at_once_without_failing() {
    let dir = temp_dir("idle");
    let file = write_file(&dir.join("same.conf"), &profile_of_this_kernel(&current("net.core.somaxconn")));
    let sys = dir.join("sys");
    let poll = sys.join("module/haltpoll/parameters/guest_halt_poll_ns");
    std::fs::create_dir_all(poll.parent().unwrap()).unwrap();
    std::fs::create_dir_all(sys.join("devices/system/cpu/cpuidle")).unwrap();
    std::fs::write(sys.join("devices/system/cpu/cpuidle/current_governor_ro"), "haltpoll\n").unwrap();
    std::fs::write(&poll, "0\n").unwrap();
    let sys_arg = sys.to_str().unwrap();
    let (code, out, err) = sipedge(&["tune", "check", "--profile", &file, "--sys-root", sys_arg]);
    // A note, not a difference: the exit code is the profile's.
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("note        idle vCPUs halt at once"), "{out}");
    assert!(out.contains(&format!("write 200000 to {}", poll.display())), "{out}");
    std::fs::write(&poll, "200000\n").unwrap();
    let (code, out, _) = sipedge(&["tune", "check", "--profile", &file, "--sys-root", sys_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("note"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
