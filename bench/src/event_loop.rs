//! Single-threaded epoll event loop over non-blocking UDP sockets and TCP
//! connections. Outgoing messages are queued into one preallocated buffer
//! and flushed per iteration: UDP runs per socket go out with one
//! `sendmmsg`, TCP bytes are coalesced into one `write` per connection.
//! Incoming UDP is drained with `recvmmsg`; TCP is framed by Content-Length.

use crate::sipmsg;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

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
        };
        n.tx.buf.clear();
        Ok(n)
    }

    fn add(&mut self, fd: i32, kind: Kind, role: Role, peer: Option<SocketAddr>) -> io::Result<usize> {
        let idx = self.conns.len();
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: idx as u64 };
        cvt(unsafe { libc::epoll_ctl(self.ep, libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        let stream = kind == Kind::Tcp;
        self.conns.push(Conn {
            fd,
            kind,
            role,
            local_port: local_port(fd),
            peer,
            alive: true,
            rbuf: if stream { vec![0; TCP_RBUF] } else { Vec::new() },
            rlen: 0,
            wbuf: Vec::with_capacity(if stream { 64 * 1024 } else { 0 }),
            want_out: false,
        });
        Ok(idx)
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

    fn close(&mut self, idx: usize) {
        let c = &mut self.conns[idx];
        if c.alive {
            c.alive = false;
            unsafe {
                libc::epoll_ctl(self.ep, libc::EPOLL_CTL_DEL, c.fd, std::ptr::null_mut());
                libc::close(c.fd);
            }
            self.stats.tcp_closed += 1;
        }
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
        if !c.alive || c.wbuf.is_empty() {
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
        let c = &mut self.conns[ci];
        let want = !c.wbuf.is_empty();
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
                self.write_tcp(ci);
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
                self.riov[k] = libc::iovec {
                    iov_base: self.rbufs[k * DGRAM..].as_mut_ptr() as *mut libc::c_void,
                    iov_len: DGRAM,
                };
                let h = &mut self.rhdrs[k].msg_hdr;
                h.msg_name = &mut self.raddrs[k] as *mut _ as *mut libc::c_void;
                h.msg_namelen = size_of::<libc::sockaddr_storage>() as _;
                h.msg_iov = &mut self.riov[k];
                h.msg_iovlen = 1;
                h.msg_control = std::ptr::null_mut();
                h.msg_controllen = 0;
                h.msg_flags = 0;
            }
            let r = unsafe {
                libc::recvmmsg(fd, self.rhdrs.as_mut_ptr(), BATCH as u32, libc::MSG_DONTWAIT, std::ptr::null_mut())
            };
            if r <= 0 {
                break;
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
        let r = unsafe {
            libc::read(c.fd, c.rbuf[c.rlen..].as_mut_ptr() as *mut libc::c_void, c.rbuf.len() - c.rlen)
        };
        if r == 0 {
            self.close(ci);
            return 0;
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                self.close(ci);
            }
            return 0;
        }
        c.rlen += r as usize;
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
