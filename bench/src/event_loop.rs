//! Single-threaded epoll event loop over non-blocking UDP sockets and TCP
//! or TLS connections. Outgoing messages are queued into one preallocated
//! buffer and flushed per iteration: UDP runs per socket go out with one
//! `sendmmsg`, stream bytes are coalesced into one `write` (TLS: one
//! encryption) per connection. Incoming UDP is drained with `recvmmsg`;
//! streams are framed by Content-Length. Client connections can also be
//! opened on demand (non-blocking connect, rotating source addresses) from a
//! [`ClientSpec`], for connection-per-operation and idle-connection runs.

use crate::read_lag::ReadLag;
use crate::sipmsg;
use crate::tls;
use rustls::{ClientConfig, ClientConnection};
use std::io;
use std::mem::{size_of, zeroed};
use std::net::IpAddr;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;

const BATCH: usize = 64;
const DGRAM: usize = 8192;
const TCP_RBUF: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Udp,
    Tcp,
    Listener,
}

/// Who handles messages arriving on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Uac,
    Uas,
}

pub struct Conn {
    pub fd: i32,
    pub kind: Kind,
    pub role: Role,
    pub local_port: u16,
    pub peer: Option<SocketAddr>,
    pub alive: bool,
    rbuf: Vec<u8>,
    rlen: usize,
    wbuf: Vec<u8>,
    want_out: bool,
    /// Non-blocking connect still in progress (waiting for EPOLLOUT).
    connecting: bool,
    tls: Option<Box<ClientConnection>>,
}

/// How [`Net::open_client`] opens client connections: to `peer`, TLS when
/// `tls` is set, from `sources` in turn (empty: the kernel's choice).
pub struct ClientSpec {
    pub peer: SocketAddr,
    pub tls: Option<Arc<ClientConfig>>,
    pub sources: Vec<IpAddr>,
    next: usize,
}

impl ClientSpec {
    pub fn new(peer: SocketAddr, tls: Option<Arc<ClientConfig>>, sources: Vec<IpAddr>) -> ClientSpec {
        ClientSpec { peer, tls, sources, next: 0 }
    }
}

struct TxItem {
    conn: u32,
    off: u32,
    len: u32,
    dst: SocketAddr,
}

/// Outgoing queue. Write a message into `buf` after `begin()`, then `commit`.
pub struct Tx {
    pub buf: Vec<u8>,
    items: Vec<TxItem>,
    start: usize,
}

impl Tx {
    #[inline]
    pub fn begin(&mut self) -> &mut Vec<u8> {
        self.start = self.buf.len();
        &mut self.buf
    }
    #[inline]
    pub fn commit(&mut self, conn: usize, dst: SocketAddr) {
        let len = self.buf.len() - self.start;
        self.items.push(TxItem { conn: conn as u32, off: self.start as u32, len: len as u32, dst });
    }
    #[inline]
    pub fn send(&mut self, conn: usize, dst: SocketAddr, bytes: &[u8]) {
        self.begin().extend_from_slice(bytes);
        self.commit(conn, dst);
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct NetStats {
    pub sent: u64,
    pub recv: u64,
    /// datagrams dropped because the socket buffer was full (EAGAIN) or errors
    pub send_errors: u64,
    pub tcp_closed: u64,
    /// non-blocking connects that failed
    pub connect_errors: u64,
}

pub struct Net {
    ep: i32,
    pub conns: Vec<Conn>,
    pub tx: Tx,
    pub stats: NetStats,
    events: Vec<libc::epoll_event>,
    // recvmmsg / sendmmsg scratch (fixed size; pointers refreshed per call)
    rbufs: Vec<u8>,
    raddrs: Vec<libc::sockaddr_storage>,
    rhdrs: Vec<libc::mmsghdr>,
    riov: Vec<libc::iovec>,
    saddrs: Vec<libc::sockaddr_storage>,
    shdrs: Vec<libc::mmsghdr>,
    siov: Vec<libc::iovec>,
    dirty_tcp: Vec<u32>,
    /// Read buffer of each stream connection (the largest message it can frame).
    pub stream_rbuf: usize,
    client: Option<ClientSpec>,
    /// The generator's lag in reading datagrams, when measured
    /// ([`Net::measure_read_lag`]).
    pub read_lag: Option<ReadLag>,
}

fn cvt(r: i32) -> io::Result<i32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub fn to_sockaddr(a: &SocketAddr, st: &mut libc::sockaddr_storage) -> libc::socklen_t {
    unsafe {
        match a {
            SocketAddr::V4(v4) => {
                let sin = st as *mut _ as *mut libc::sockaddr_in;
                (*sin).sin_family = libc::AF_INET as _;
                (*sin).sin_port = v4.port().to_be();
                (*sin).sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) };
                size_of::<libc::sockaddr_in>() as _
            }
            SocketAddr::V6(v6) => {
                let sin6 = st as *mut _ as *mut libc::sockaddr_in6;
                (*sin6).sin6_family = libc::AF_INET6 as _;
                (*sin6).sin6_port = v6.port().to_be();
                (*sin6).sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
                (*sin6).sin6_flowinfo = 0;
                (*sin6).sin6_scope_id = v6.scope_id();
                size_of::<libc::sockaddr_in6>() as _
            }
        }
    }
}

pub fn from_sockaddr(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    unsafe {
        match st.ss_family as i32 {
            libc::AF_INET => {
                let sin = &*(st as *const _ as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 => {
                let s = &*(st as *const _ as *const libc::sockaddr_in6);
                let ip = std::net::Ipv6Addr::from(s.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(s.sin6_port), 0, s.sin6_scope_id)))
            }
            _ => None,
        }
    }
}

fn family(a: &SocketAddr) -> i32 {
    if a.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    }
}

fn local_port(fd: i32) -> u16 {
    unsafe {
        let mut st: libc::sockaddr_storage = zeroed();
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        libc::getsockname(fd, &mut st as *mut _ as *mut libc::sockaddr, &mut len);
        from_sockaddr(&st).map(|a| a.port()).unwrap_or(0)
    }
}

fn set_opt(fd: i32, level: i32, name: i32, v: i32) {
    unsafe {
        libc::setsockopt(fd, level, name, &v as *const i32 as *const libc::c_void, size_of::<i32>() as _);
    }
}

/// Creates a socket of `ty` bound to `bind` (port 0 = ephemeral).
pub fn bound_socket(bind: SocketAddr, ty: i32, reuse: bool) -> io::Result<i32> {
    unsafe {
        let fd = cvt(libc::socket(family(&bind), ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0))?;
        if reuse {
            set_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
        }
        if ty == libc::SOCK_DGRAM {
            set_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 4 << 20);
            set_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, 4 << 20);
        }
        let mut st: libc::sockaddr_storage = zeroed();
        let len = to_sockaddr(&bind, &mut st);
        if libc::bind(fd, &st as *const _ as *const libc::sockaddr, len) < 0 {
            let e = io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        Ok(fd)
    }
}

impl Net {
    pub fn new() -> io::Result<Net> {
        raise_fd_limit();
        let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        let mut n = Net {
            ep,
            conns: Vec::new(),
            tx: Tx { buf: Vec::with_capacity(4 << 20), items: Vec::with_capacity(16384), start: 0 },
            stats: NetStats::default(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 256],
            rbufs: vec![0u8; BATCH * DGRAM],
            raddrs: vec![unsafe { zeroed() }; BATCH],
            rhdrs: vec![unsafe { zeroed() }; BATCH],
            riov: vec![libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; BATCH],
            saddrs: vec![unsafe { zeroed() }; BATCH],
            shdrs: vec![unsafe { zeroed() }; BATCH],
            siov: vec![libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; BATCH],
            dirty_tcp: Vec::new(),
            stream_rbuf: TCP_RBUF,
            client: None,
            read_lag: None,
        };
        n.tx.buf.clear();
        Ok(n)
    }

    fn add(&mut self, fd: i32, kind: Kind, role: Role, peer: Option<SocketAddr>) -> io::Result<usize> {
        self.add_with(fd, kind, role, peer, false, None)
    }

    fn add_with(
        &mut self,
        fd: i32,
        kind: Kind,
        role: Role,
        peer: Option<SocketAddr>,
        connecting: bool,
        tls: Option<Box<ClientConnection>>,
    ) -> io::Result<usize> {
        let idx = self.conns.len();
        let events = if connecting { libc::EPOLLIN | libc::EPOLLOUT } else { libc::EPOLLIN };
        let mut ev = libc::epoll_event { events: events as u32, u64: idx as u64 };
        if let Err(e) = cvt(unsafe { libc::epoll_ctl(self.ep, libc::EPOLL_CTL_ADD, fd, &mut ev) }) {
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let stream = kind == Kind::Tcp;
        if kind == Kind::Udp && self.read_lag.is_some() {
            ReadLag::enable(fd);
        }
        self.conns.push(Conn {
            fd,
            kind,
            role,
            local_port: local_port(fd),
            peer,
            alive: true,
            rbuf: if stream { vec![0; self.stream_rbuf] } else { Vec::new() },
            rlen: 0,
            wbuf: Vec::with_capacity(if stream { self.stream_rbuf.min(64 * 1024) } else { 0 }),
            want_out: connecting,
            connecting,
            tls,
        });
        Ok(idx)
    }

    /// From now on, times how late each UDP datagram is read (`read_lag.rs`),
    /// on the sockets open now and those opened later.
    pub fn measure_read_lag(&mut self) {
        for c in self.conns.iter().filter(|c| c.kind == Kind::Udp && c.alive) {
            ReadLag::enable(c.fd);
        }
        self.read_lag = Some(ReadLag::new(BATCH));
    }

    /// Sets how [`Net::open_client`] opens connections.
    pub fn set_client(&mut self, spec: ClientSpec) {
        self.client = Some(spec);
    }

    /// Opens a client connection as the [`ClientSpec`] says, without
    /// waiting: bytes queued on it go out once connected (and, with TLS,
    /// once the handshake is done).
    pub fn open_client(&mut self) -> io::Result<usize> {
        let spec = self.client.as_mut().ok_or_else(|| io::Error::other("no client spec"))?;
        let src = (!spec.sources.is_empty()).then(|| spec.sources[spec.next % spec.sources.len()]);
        spec.next = spec.next.wrapping_add(1);
        let (peer, cfg) = (spec.peer, spec.tls.clone());
        let fd = connect_nonblocking(peer, src)?;
        let tls = match cfg {
            Some(c) => match tls::session(&c, peer) {
                Ok(s) => Some(s),
                Err(e) => {
                    unsafe { libc::close(fd) };
                    return Err(e);
                }
            },
            None => None,
        };
        self.add_with(fd, Kind::Tcp, Role::Uac, Some(peer), true, tls)
    }

    /// TLS connection to `peer` from the kernel's choice of source address.
    pub fn add_tls_client(&mut self, peer: SocketAddr, cfg: &Arc<ClientConfig>) -> io::Result<usize> {
        let fd = connect_nonblocking(peer, None)?;
        let s = tls::session(cfg, peer)?;
        self.add_with(fd, Kind::Tcp, Role::Uac, Some(peer), true, Some(s))
    }

    /// UDP socket on an ephemeral port of the same family as `peer`.
    pub fn add_udp_client(&mut self, peer: SocketAddr) -> io::Result<usize> {
        let bind = if peer.is_ipv4() { "127.0.0.1:0".parse().unwrap() } else { "[::1]:0".parse().unwrap() };
        let fd = bound_socket(bind, libc::SOCK_DGRAM, false)?;
        self.add(fd, Kind::Udp, Role::Uac, Some(peer))
    }

    pub fn add_udp_listener(&mut self, addr: SocketAddr, role: Role) -> io::Result<usize> {
        let fd = bound_socket(addr, libc::SOCK_DGRAM, true)?;
        self.add(fd, Kind::Udp, role, None)
    }

    /// TCP connection to `peer` (blocking connect, then non-blocking).
    pub fn add_tcp_client(&mut self, peer: SocketAddr) -> io::Result<usize> {
        let s = std::net::TcpStream::connect_timeout(&peer, std::time::Duration::from_secs(3))?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        use std::os::fd::IntoRawFd;
        let fd = s.into_raw_fd();
        self.add(fd, Kind::Tcp, Role::Uac, Some(peer))
    }

    pub fn add_tcp_listener(&mut self, addr: SocketAddr, role: Role) -> io::Result<usize> {
        let fd = bound_socket(addr, libc::SOCK_STREAM, true)?;
        cvt(unsafe { libc::listen(fd, 1024) })?;
        self.add(fd, Kind::Listener, role, None)
    }

    /// Closes a connection (TLS: after a close_notify) and frees its buffers.
    pub fn close(&mut self, idx: usize) {
        let c = &mut self.conns[idx];
        if c.alive {
            c.alive = false;
            if let (Some(s), false) = (c.tls.as_deref_mut(), c.connecting) {
                tls::close_notify(s, c.fd);
            }
            unsafe {
                libc::epoll_ctl(self.ep, libc::EPOLL_CTL_DEL, c.fd, std::ptr::null_mut());
                libc::close(c.fd);
            }
            c.tls = None;
            c.rbuf = Vec::new();
            c.wbuf = Vec::new();
            self.stats.tcp_closed += 1;
        }
    }

    /// Open connections.
    pub fn alive(&self) -> usize {
        self.conns.iter().filter(|c| c.alive).count()
    }

    /// A non-blocking connect finished (EPOLLOUT): failed, or ready to write.
    fn connected(&mut self, ci: usize) {
        let fd = self.conns[ci].fd;
        let mut err: i32 = 0;
        let mut len = size_of::<i32>() as libc::socklen_t;
        unsafe {
            libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut err as *mut i32 as *mut libc::c_void, &mut len)
        };
        if err != 0 {
            self.stats.connect_errors += 1;
            self.conns[ci].connecting = false;
            self.close(ci);
            return;
        }
        self.conns[ci].connecting = false;
        self.write_tcp(ci);
    }

    /// Sends everything queued in `tx`.
    pub fn flush(&mut self) {
        let n = self.tx.items.len();
        let mut i = 0;
        while i < n {
            let conn = self.tx.items[i].conn as usize;
            match self.conns[conn].kind {
                Kind::Tcp => {
                    let it = &self.tx.items[i];
                    let bytes = &self.tx.buf[it.off as usize..(it.off + it.len) as usize];
                    let c = &mut self.conns[conn];
                    if c.alive {
                        if c.wbuf.is_empty() {
                            self.dirty_tcp.push(conn as u32);
                        }
                        c.wbuf.extend_from_slice(bytes);
                    } else {
                        self.stats.send_errors += 1;
                    }
                    i += 1;
                }
                _ => {
                    // run of datagrams for the same socket
                    let mut j = i;
                    while j < n && j - i < BATCH && self.tx.items[j].conn as usize == conn {
                        let k = j - i;
                        let it = &self.tx.items[j];
                        let alen = to_sockaddr(&it.dst, &mut self.saddrs[k]);
                        self.siov[k] = libc::iovec {
                            iov_base: self.tx.buf[it.off as usize..].as_mut_ptr() as *mut libc::c_void,
                            iov_len: it.len as usize,
                        };
                        let h = &mut self.shdrs[k].msg_hdr;
                        h.msg_name = &mut self.saddrs[k] as *mut _ as *mut libc::c_void;
                        h.msg_namelen = alen;
                        h.msg_iov = &mut self.siov[k];
                        h.msg_iovlen = 1;
                        h.msg_control = std::ptr::null_mut();
                        h.msg_controllen = 0;
                        h.msg_flags = 0;
                        j += 1;
                    }
                    let cnt = j - i;
                    let fd = self.conns[conn].fd;
                    let mut done = 0;
                    while done < cnt {
                        let r = unsafe {
                            libc::sendmmsg(fd, self.shdrs[done..].as_mut_ptr(), (cnt - done) as u32, libc::MSG_DONTWAIT)
                        };
                        if r > 0 {
                            done += r as usize;
                        } else {
                            let e = io::Error::last_os_error();
                            if e.kind() == io::ErrorKind::Interrupted {
                                continue;
                            }
                            // EAGAIN or error: drop this datagram, try the rest
                            self.stats.send_errors += 1;
                            done += 1;
                        }
                    }
                    self.stats.sent += cnt as u64;
                    i = j;
                }
            }
        }
        self.tx.items.clear();
        self.tx.buf.clear();
        let dirty = std::mem::take(&mut self.dirty_tcp);
        for &ci in &dirty {
            self.write_tcp(ci as usize);
        }
        self.dirty_tcp = dirty;
        self.dirty_tcp.clear();
    }

    fn write_tcp(&mut self, ci: usize) {
        let c = &mut self.conns[ci];
        if !c.alive || c.connecting {
            return;
        }
        if let Some(s) = c.tls.as_deref_mut() {
            match tls::write(s, c.fd, &c.wbuf) {
                Ok(_) => c.wbuf.clear(),
                Err(_) => {
                    self.close(ci);
                    return;
                }
            }
        } else {
            if c.wbuf.is_empty() {
                return;
            }
            let r = unsafe { libc::write(c.fd, c.wbuf.as_ptr() as *const libc::c_void, c.wbuf.len()) };
            if r >= 0 {
                c.wbuf.drain(..r as usize);
            } else {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                    self.close(ci);
                    return;
                }
            }
        }
        let c = &mut self.conns[ci];
        let want = !c.wbuf.is_empty() || c.tls.as_ref().is_some_and(|s| s.wants_write());
        if want != c.want_out {
            c.want_out = want;
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | if want { libc::EPOLLOUT } else { 0 }) as u32,
                u64: ci as u64,
            };
            unsafe { libc::epoll_ctl(self.ep, libc::EPOLL_CTL_MOD, c.fd, &mut ev) };
        }
    }

    /// Waits up to `timeout_ms` and hands every received message to
    /// `handler(tx, conn, src, bytes)`. Returns number of messages.
    pub fn poll<F: FnMut(&mut Tx, usize, SocketAddr, &[u8])>(&mut self, timeout_ms: i32, handler: &mut F) -> usize {
        let n = unsafe { libc::epoll_wait(self.ep, self.events.as_mut_ptr(), self.events.len() as i32, timeout_ms) };
        self.handle_events(n, handler)
    }

    /// As `poll`, waiting to the nanosecond (`epoll_pwait2`, Linux 5.11;
    /// where it is missing, whole milliseconds as `poll`).
    pub fn poll_precise<F: FnMut(&mut Tx, usize, SocketAddr, &[u8])>(
        &mut self,
        timeout: std::time::Duration,
        handler: &mut F,
    ) -> usize {
        let ts = libc::timespec { tv_sec: timeout.as_secs() as _, tv_nsec: timeout.subsec_nanos() as _ };
        let n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                self.ep,
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                &ts as *const libc::timespec,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        } as i32;
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            return self.poll(timeout.as_micros().div_ceil(1000) as i32, handler);
        }
        self.handle_events(n, handler)
    }

    fn handle_events<F: FnMut(&mut Tx, usize, SocketAddr, &[u8])>(&mut self, n: i32, handler: &mut F) -> usize {
        if n <= 0 {
            return 0;
        }
        let mut total = 0;
        for e in 0..n as usize {
            let ev = self.events[e];
            let ci = ev.u64 as usize;
            if ci >= self.conns.len() || !self.conns[ci].alive {
                continue;
            }
            if ev.events & libc::EPOLLOUT as u32 != 0 {
                if self.conns[ci].connecting {
                    self.connected(ci);
                } else {
                    self.write_tcp(ci);
                }
                if !self.conns[ci].alive {
                    continue;
                }
            }
            if ev.events & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 == 0 {
                continue;
            }
            match self.conns[ci].kind {
                Kind::Udp => total += self.recv_udp(ci, handler),
                Kind::Tcp => total += self.recv_tcp(ci, handler),
                Kind::Listener => self.accept(ci),
            }
        }
        self.stats.recv += total as u64;
        total
    }

    fn recv_udp<F: FnMut(&mut Tx, usize, SocketAddr, &[u8])>(&mut self, ci: usize, handler: &mut F) -> usize {
        let fd = self.conns[ci].fd;
        let mut total = 0;
        for _round in 0..8 {
            for k in 0..BATCH {
                self.riov[k] =
                    libc::iovec { iov_base: self.rbufs[k * DGRAM..].as_mut_ptr() as *mut libc::c_void, iov_len: DGRAM };
                let h = &mut self.rhdrs[k].msg_hdr;
                h.msg_name = &mut self.raddrs[k] as *mut _ as *mut libc::c_void;
                h.msg_namelen = size_of::<libc::sockaddr_storage>() as _;
                h.msg_iov = &mut self.riov[k];
                h.msg_iovlen = 1;
                h.msg_control = std::ptr::null_mut();
                h.msg_controllen = 0;
                h.msg_flags = 0;
                if let Some(lag) = self.read_lag.as_mut() {
                    lag.prepare(k, h);
                }
            }
            let r = unsafe {
                libc::recvmmsg(fd, self.rhdrs.as_mut_ptr(), BATCH as u32, libc::MSG_DONTWAIT, std::ptr::null_mut())
            };
            if r <= 0 {
                break;
            }
            if let Some(lag) = self.read_lag.as_mut() {
                lag.record(&self.rhdrs[..r as usize]);
            }
            for k in 0..r as usize {
                let len = self.rhdrs[k].msg_len as usize;
                let src = match from_sockaddr(&self.raddrs[k]) {
                    Some(a) => a,
                    None => continue,
                };
                handler(&mut self.tx, ci, src, &self.rbufs[k * DGRAM..k * DGRAM + len]);
            }
            total += r as usize;
            if (r as usize) < BATCH {
                break;
            }
        }
        total
    }

    fn recv_tcp<F: FnMut(&mut Tx, usize, SocketAddr, &[u8])>(&mut self, ci: usize, handler: &mut F) -> usize {
        let c = &mut self.conns[ci];
        if c.rlen == c.rbuf.len() {
            // message larger than buffer: protocol error, drop connection
            self.close(ci);
            return 0;
        }
        if c.connecting {
            // EPOLLERR/EPOLLHUP before EPOLLOUT: the connect failed
            self.stats.connect_errors += 1;
            c.connecting = false;
            self.close(ci);
            return 0;
        }
        let (rlen, closed) = if let Some(s) = c.tls.as_deref_mut() {
            let r = tls::on_readable(s, c.fd, &mut c.rbuf[c.rlen..]);
            (r.plaintext, r.closed)
        } else {
            let r =
                unsafe { libc::read(c.fd, c.rbuf[c.rlen..].as_mut_ptr() as *mut libc::c_void, c.rbuf.len() - c.rlen) };
            if r < 0 {
                let e = io::Error::last_os_error();
                let lost = e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted;
                (0, lost)
            } else {
                (r as usize, r == 0)
            }
        };
        if c.tls.as_ref().is_some_and(|s| s.wants_write()) {
            // handshake flights, key updates, alerts
            self.write_tcp(ci);
        }
        let c = &mut self.conns[ci];
        if rlen == 0 {
            if closed {
                self.close(ci);
            }
            return 0;
        }
        c.rlen += rlen;
        let peer = c.peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let mut off = 0;
        let mut count = 0;
        while let Some((skip, len)) = sipmsg::frame(&c.rbuf[off..c.rlen]) {
            let s = off + skip;
            handler(&mut self.tx, ci, peer, &c.rbuf[s..s + len]);
            off = s + len;
            count += 1;
        }
        if off > 0 {
            c.rbuf.copy_within(off..c.rlen, 0);
            c.rlen -= off;
        }
        if closed {
            self.close(ci);
        }
        count
    }

    fn accept(&mut self, li: usize) {
        let role = self.conns[li].role;
        loop {
            let mut st: libc::sockaddr_storage = unsafe { zeroed() };
            let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let fd = unsafe {
                libc::accept4(
                    self.conns[li].fd,
                    &mut st as *mut _ as *mut libc::sockaddr,
                    &mut len,
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                return;
            }
            set_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
            let _ = self.add(fd, Kind::Tcp, role, from_sockaddr(&st));
        }
    }
}

/// Raises this process's open-file limit to its hard limit (runs with tens
/// of thousands of connections; the shell's `ulimit -Hn` is the ceiling).
fn raise_fd_limit() {
    unsafe {
        let mut l: libc::rlimit = zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// A non-blocking TCP socket (TCP_NODELAY) connecting to `peer`, bound to
/// `src` when given. IP_BIND_ADDRESS_NO_PORT leaves the port to connect(),
/// which may then reuse ports whose 4-tuple differs (and, on loopback,
/// TIME_WAIT ones), so many source addresses give many connections.
fn connect_nonblocking(peer: SocketAddr, src: Option<IpAddr>) -> io::Result<i32> {
    unsafe {
        let fd = cvt(libc::socket(family(&peer), libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0))?;
        set_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
        let fail = |fd| {
            let e = io::Error::last_os_error();
            libc::close(fd);
            Err(e)
        };
        if let Some(ip) = src {
            set_opt(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1);
            let mut st: libc::sockaddr_storage = zeroed();
            let len = to_sockaddr(&SocketAddr::new(ip, 0), &mut st);
            if libc::bind(fd, &st as *const _ as *const libc::sockaddr, len) < 0 {
                return fail(fd);
            }
        }
        let mut st: libc::sockaddr_storage = zeroed();
        let len = to_sockaddr(&peer, &mut st);
        if libc::connect(fd, &st as *const _ as *const libc::sockaddr, len) < 0
            && *libc::__errno_location() != libc::EINPROGRESS
        {
            return fail(fd);
        }
        Ok(fd)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &self.conns {
            if c.alive {
                unsafe { libc::close(c.fd) };
            }
        }
        unsafe { libc::close(self.ep) };
    }
}
