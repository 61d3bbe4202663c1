//! Binding a shard's sockets: one per listener, SO_REUSEPORT so every shard
//! binds the same address and the kernel spreads flows across them; and
//! steering them (`server.steering`) to the shard on the receiving CPU.
//!
//! Shards bind one after another, in shard order (`Reuseport::bind_all`
//! waits for its turn), so in every reuseport group a socket's index is its
//! shard's number: that index is what the CBPF program returns. Each socket
//! is still made on its own shard's thread, so the kernel allocates it on
//! that CPU's NUMA node.

use crate::config::{Config, Steering, Transport};
use glommio::net::{TcpListener, UdpSocket};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Kernel buffer asked for per UDP socket (the kernel caps it at
/// net.core.rmem_max/wmem_max; see sysctl/).
const UDP_BUFFER: usize = 4 << 20;
const TCP_BACKLOG: i32 = 1024;

/// How long a shard waits for the shards before it to bind. Past that (one
/// of them died before binding) it binds anyway; the edge will not start,
/// and waiting longer would only delay saying so.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// What the shards share about their reuseport groups: the steering, the
/// CPU of every shard, and how many shards have bound so far.
pub struct Reuseport {
    steering: Steering,
    /// The CBPF program, when steering is `cbpf`.
    program: Vec<libc::sock_filter>,
    cpus: Vec<usize>,
    bound: Mutex<usize>,
    turn: Condvar,
}

impl Reuseport {
    /// `cpus[i]` is the CPU shard `i` is pinned to.
    pub fn new(steering: Steering, cpus: Vec<usize>) -> Reuseport {
        let distinct = cpus.iter().collect::<std::collections::BTreeSet<_>>().len();
        if steering == Steering::Cbpf && distinct < cpus.len() {
            log::warn!("server.steering = \"cbpf\" with {} shards on {distinct} CPUs: only the first shard on each CPU is handed traffic", cpus.len());
        }
        let program = if steering == Steering::Cbpf { cbpf_program(&cpus) } else { Vec::new() };
        Reuseport { steering, program, cpus, bound: Mutex::new(0), turn: Condvar::new() }
    }

    /// Sockets of shard `id` for every listener, by listener index: (udp,
    /// tcp). Binds once shards 0..id have bound theirs.
    #[allow(clippy::type_complexity)]
    pub fn bind_all(
        &self,
        config: &Config,
        id: usize,
    ) -> Result<(Vec<Option<UdpSocket>>, Vec<Option<TcpListener>>), String> {
        let bound = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut bound, wait) =
            self.turn.wait_timeout_while(bound, TURN_WAIT, |n| *n < id).unwrap_or_else(PoisonError::into_inner);
        if wait.timed_out() {
            log::warn!("shard {id}: the shards before it did not bind within {TURN_WAIT:?}; binding anyway");
        }
        let result = self.bind_listeners(config, id);
        *bound = (*bound).max(id) + 1;
        drop(bound);
        self.turn.notify_all();
        result
    }

    #[allow(clippy::type_complexity)]
    fn bind_listeners(
        &self,
        config: &Config,
        id: usize,
    ) -> Result<(Vec<Option<UdpSocket>>, Vec<Option<TcpListener>>), String> {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for l in &config.listen {
            let err = |e: std::io::Error| format!("cannot bind {} {}: {e}", l.transport.as_str(), l.addr);
            let steer = |s: &Socket| {
                self.steer(s, id).map_err(|e| {
                    format!(
                        "cannot steer {} {} (server.steering = \"{}\"): {e}",
                        l.transport.as_str(),
                        l.addr,
                        self.steering.as_str()
                    )
                })
            };
            match l.transport {
                Transport::Udp => {
                    let s = bind_udp(l.addr).map_err(err)?;
                    steer(&s)?;
                    // SAFETY: the fd was just created, is owned by nobody else, and is handed over whole.
                    udp.push(Some(unsafe { UdpSocket::from_raw_fd(s.into_raw_fd()) }));
                    tcp.push(None);
                }
                Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => {
                    let s = bind_tcp(l.addr).map_err(err)?;
                    steer(&s)?;
                    udp.push(None);
                    // SAFETY: as above.
                    tcp.push(Some(unsafe { TcpListener::from_raw_fd(s.into_raw_fd()) }));
                }
            }
        }
        Ok((udp, tcp))
    }

    /// Applies the steering to shard `id`'s socket, bound and (TCP) listening,
    /// so it is in its reuseport group. The CBPF program belongs to the
    /// group: shard 0, the first to bind, attaches it once.
    fn steer(&self, s: &Socket, id: usize) -> std::io::Result<()> {
        match self.steering {
            Steering::Hash => Ok(()),
            Steering::IncomingCpu => s.set_cpu_affinity(self.cpus[id]),
            Steering::Cbpf if id == 0 => attach_reuseport_cbpf(s, &self.program),
            Steering::Cbpf => Ok(()),
        }
    }
}

fn socket(addr: SocketAddr, ty: Type, proto: Protocol) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<Socket> {
    let s = socket(addr, Type::DGRAM, Protocol::UDP)?;
    let _ = s.set_recv_buffer_size(UDP_BUFFER);
    let _ = s.set_send_buffer_size(UDP_BUFFER);
    s.bind(&addr.into())?;
    Ok(s)
}

/// A TCP socket joins its reuseport group at listen(), so it listens here.
fn bind_tcp(addr: SocketAddr) -> std::io::Result<Socket> {
    let s = socket(addr, Type::STREAM, Protocol::TCP)?;
    s.set_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(TCP_BACKLOG)?;
    Ok(s)
}

/// The reuseport program: the index in the group (= shard number) of the
/// first shard on the CPU that received the packet. When shard `i` runs on
/// CPU `i` for every shard, that is the CPU number itself: `ld #cpu; ret a`.
/// Otherwise a table maps each shard CPU to its shard. A CPU without a
/// shard yields an index past the group, and the kernel falls back to its
/// hash for that packet.
pub fn cbpf_program(cpus: &[usize]) -> Vec<libc::sock_filter> {
    let stmt = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let load_cpu = stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32);
    if cpus.iter().enumerate().all(|(i, &c)| i == c) {
        return vec![load_cpu, stmt(libc::BPF_RET | libc::BPF_A, 0)];
    }
    let mut prog = vec![load_cpu];
    let mut seen = Vec::new();
    for (shard, &cpu) in cpus.iter().enumerate() {
        if seen.contains(&cpu) {
            continue;
        }
        seen.push(cpu);
        // if A == cpu: return shard (next instruction), else skip it.
        prog.push(libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: cpu as u32,
        });
        prog.push(stmt(libc::BPF_RET | libc::BPF_K, shard as u32));
    }
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, u32::MAX));
    prog
}

/// SO_ATTACH_REUSEPORT_CBPF: the program picks the socket of the group
/// `s` belongs to. Needs no privilege.
fn attach_reuseport_cbpf(s: &Socket, program: &[libc::sock_filter]) -> std::io::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| std::io::Error::other("reuseport program too long"))?;
    let fprog = libc::sock_fprog { len, filter: program.as_ptr() as *mut libc::sock_filter };
    // SAFETY: fprog points at `program`, alive for the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the subset of classic BPF that `cbpf_program` emits, with the
    /// packet received on `cpu`.
    fn run(prog: &[libc::sock_filter], cpu: u32) -> u32 {
        let (mut pc, mut a) = (0usize, 0u32);
        loop {
            let i = prog[pc];
            let code = i.code as u32;
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    assert_eq!(i.k, (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32);
                    a = cpu;
                }
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    pc += if a == i.k { i.jt as usize } else { i.jf as usize };
                }
                c if c == libc::BPF_RET | libc::BPF_A => return a,
                c if c == libc::BPF_RET | libc::BPF_K => return i.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
            pc += 1;
        }
    }

    #[test]
    fn shards_on_cpus_0_to_n_load_the_cpu_and_return_it() {
        let prog = cbpf_program(&[0, 1, 2, 3]);
        assert_eq!(prog.len(), 2, "ld #cpu; ret a");
        assert_eq!((run(&prog, 2), run(&prog, 7)), (2, 7));
    }

    #[test]
    fn other_placements_map_each_cpu_to_its_first_shard() {
        // server.cores = [4, 6], three shards round-robin: CPU 4 has shards 0 and 2.
        let prog = cbpf_program(&[4, 6, 4]);
        assert_eq!(run(&prog, 4), 0);
        assert_eq!(run(&prog, 6), 1);
        // A CPU without a shard: an index past the group, so the kernel hashes.
        assert_eq!(run(&prog, 0), u32::MAX);
        // 1024 shards fit the kernel's 4096-instruction limit.
        let many: Vec<usize> = (0..1024).map(|i| 4095 - i).collect();
        let prog = cbpf_program(&many);
        assert!(prog.len() <= 4096);
        assert_eq!(run(&prog, 4095 - 700), 700);
    }
}
