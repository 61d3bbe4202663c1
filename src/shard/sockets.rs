//! Binding a shard's sockets: one per listener, SO_REUSEPORT so every shard
//! binds the same address and the kernel spreads flows across them; and
//! steering them: requests to the shard on the receiving CPU
//! (`server.steering`), UDP responses to the shard their Via branch names
//! (`server.steer_responses`; the programs are in `steer_bpf.rs`).
//!
//! Shards bind one after another, in shard order (`Reuseport::bind_all`
//! waits for its turn), so in every reuseport group a socket's index is its
//! shard's number: that index is what the CBPF program returns. Each socket
//! is still made on its own shard's thread, so the kernel allocates it on
//! that CPU's NUMA node.

use super::steer_bpf;
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
    /// Whether UDP groups steer responses by branch (`server.steer_responses`
    /// with two shards or more).
    by_branch: bool,
    /// The CBPF programs of UDP and of TCP groups, where they have one.
    udp_program: Option<Vec<libc::sock_filter>>,
    tcp_program: Option<Vec<libc::sock_filter>>,
    cpus: Vec<usize>,
    bound: Mutex<usize>,
    turn: Condvar,
}

impl Reuseport {
    /// `cpus[i]` is the CPU shard `i` is pinned to; `steer_responses`:
    /// `server.steer_responses` (UDP responses to the shard of their branch).
    pub fn new(steering: Steering, steer_responses: bool, cpus: Vec<usize>) -> Reuseport {
        let distinct = cpus.iter().collect::<std::collections::BTreeSet<_>>().len();
        if steering == Steering::Cbpf && distinct < cpus.len() {
            log::warn!("server.steering = \"cbpf\" with {} shards on {distinct} CPUs: only the first shard on each CPU is handed traffic", cpus.len());
        }
        let by_cpu = steering == Steering::Cbpf;
        let by_branch = steer_responses && cpus.len() > 1;
        if by_branch {
            log::info!("UDP responses go straight to the shard named in their Via branch (server.steer_responses)");
        }
        Reuseport {
            steering,
            by_branch,
            udp_program: steer_bpf::program(&cpus, by_cpu, by_branch),
            tcp_program: steer_bpf::program(&cpus, by_cpu, false),
            cpus,
            bound: Mutex::new(0),
            turn: Condvar::new(),
        }
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
                let udp = l.transport == Transport::Udp;
                self.steer(s, id, udp).map_err(|e| {
                    let responses = if udp && self.by_branch { ", server.steer_responses = true" } else { "" };
                    format!(
                        "cannot steer {} {} (server.steering = \"{}\"{responses}): {e}",
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
    /// so it is in its reuseport group. A CBPF program belongs to the
    /// group: shard 0, the first to bind, attaches it once.
    fn steer(&self, s: &Socket, id: usize, udp: bool) -> std::io::Result<()> {
        if self.steering == Steering::IncomingCpu {
            s.set_cpu_affinity(self.cpus[id])?;
        }
        let program = if udp { &self.udp_program } else { &self.tcp_program };
        match program {
            Some(p) if id == 0 => attach_reuseport_cbpf(s, p),
            _ => Ok(()),
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
