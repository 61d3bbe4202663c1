//! Batched datagram IO: `recvmmsg`/`sendmmsg` over a UDP socket's fd,
//! non-blocking. A shard drains up to `BATCH` datagrams per system call and
//! answers them with one `sendmmsg`, so under load the per-message system
//! call cost is divided by the batch size. Waiting for the socket to become
//! readable stays with glommio (`UdpSocket::readable`, a poll on its main ring).

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// Largest datagram accepted.
pub const MAX_DATAGRAM: usize = 65535;

/// Receive buffers for one socket.
pub struct RecvBatch {
    bufs: Vec<u8>,
    addrs: [libc::sockaddr_storage; BATCH],
    lens: [usize; BATCH],
    truncated: [bool; BATCH],
    n: usize,
}

impl RecvBatch {
    pub fn new() -> Self {
        RecvBatch {
            bufs: vec![0u8; BATCH * MAX_DATAGRAM],
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
            addrs: unsafe { zeroed() },
            lens: [0; BATCH],
            truncated: [false; BATCH],
            n: 0,
        }
    }

    /// Receives up to `BATCH` datagrams without blocking; Ok(0) when none is waiting.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        // SAFETY: every iovec points into `self.bufs` at a distinct MAX_DATAGRAM-sized
        // slot and every msg_name into `self.addrs`; both outlive the call.
        unsafe {
            let mut iov: [libc::iovec; BATCH] = zeroed();
            let mut hdrs: [libc::mmsghdr; BATCH] = zeroed();
            for i in 0..BATCH {
                iov[i] = libc::iovec {
                    iov_base: self.bufs.as_mut_ptr().add(i * MAX_DATAGRAM).cast(),
                    iov_len: MAX_DATAGRAM,
                };
                let h = &mut hdrs[i].msg_hdr;
                h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                h.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
                h.msg_iov = &mut iov[i];
                h.msg_iovlen = 1;
            }
            let r = libc::recvmmsg(fd, hdrs.as_mut_ptr(), BATCH as u32, libc::MSG_DONTWAIT, std::ptr::null_mut());
            if r < 0 {
                let e = io::Error::last_os_error();
                self.n = 0;
                return if e.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(e) };
            }
            self.n = r as usize;
            for (i, h) in hdrs.iter().take(self.n).enumerate() {
                self.lens[i] = h.msg_len as usize;
                self.truncated[i] = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            }
            Ok(self.n)
        }
    }

    /// Datagram `i` of the last batch: (bytes, source, truncated).
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>, bool) {
        let off = i * MAX_DATAGRAM;
        (&self.bufs[off..off + self.lens[i]], from_storage(&self.addrs[i]), self.truncated[i])
    }
}

/// Outgoing datagrams for one socket, sent with one `sendmmsg`.
#[derive(Default)]
pub struct SendBatch {
    pub items: Vec<(SocketAddr, Vec<u8>)>,
}

impl SendBatch {
    /// Sends everything it can without blocking; returns how many left the
    /// socket (the rest stays at the front of `items` for the caller).
    pub fn send(&mut self, fd: RawFd) -> io::Result<usize> {
        let mut sent = 0;
        while sent < self.items.len() {
            let chunk = &self.items[sent..(sent + BATCH).min(self.items.len())];
            // SAFETY: iovecs and names point into `chunk` and local arrays that
            // outlive the call; the kernel only reads them.
            let r = unsafe {
                let mut iov: [libc::iovec; BATCH] = zeroed();
                let mut names: [libc::sockaddr_storage; BATCH] = zeroed();
                let mut hdrs: [libc::mmsghdr; BATCH] = zeroed();
                for (i, (addr, bytes)) in chunk.iter().enumerate() {
                    iov[i] = libc::iovec { iov_base: bytes.as_ptr() as *mut _, iov_len: bytes.len() };
                    let len = to_storage(*addr, &mut names[i]);
                    let h = &mut hdrs[i].msg_hdr;
                    h.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
                    h.msg_namelen = len;
                    h.msg_iov = &mut iov[i];
                    h.msg_iovlen = 1;
                }
                libc::sendmmsg(fd, hdrs.as_mut_ptr(), chunk.len() as u32, libc::MSG_DONTWAIT)
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    break;
                }
                return Err(e);
            }
            sent += r as usize;
            if (r as usize) < chunk.len() {
                break;
            }
        }
        self.items.drain(..sent);
        Ok(sent)
    }
}

fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match s.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_storage(addr: SocketAddr, s: &mut libc::sockaddr_storage) -> u32 {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let out: &mut libc::sockaddr_in = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast() };
            out.sin_family = libc::AF_INET as u16;
            out.sin_port = a.port().to_be();
            out.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let out: &mut libc::sockaddr_in6 = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast() };
            out.sin6_family = libc::AF_INET6 as u16;
            out.sin6_port = a.port().to_be();
            out.sin6_addr.s6_addr = a.ip().octets();
            out.sin6_flowinfo = a.flowinfo();
            out.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn batches_round_trip_over_loopback_v4_and_v6() {
        for (bind, peer_bind) in [("127.0.0.1:0", "127.0.0.1:0"), ("[::1]:0", "[::1]:0")] {
            let Ok(a) = std::net::UdpSocket::bind(bind) else { continue };
            let b = std::net::UdpSocket::bind(peer_bind).unwrap();
            let mut out = SendBatch::default();
            for i in 0..40u8 {
                out.items.push((b.local_addr().unwrap(), vec![i; 10 + i as usize]));
            }
            assert_eq!(out.send(a.as_raw_fd()).unwrap(), 40);
            assert!(out.items.is_empty());
            let mut rb = RecvBatch::new();
            let mut got = 0;
            b.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
            while got < 40 {
                let n = rb.recv(b.as_raw_fd()).unwrap();
                for i in 0..n {
                    let (bytes, from, trunc) = rb.get(i);
                    assert_eq!(from, Some(a.local_addr().unwrap()));
                    assert!(!trunc);
                    assert_eq!(bytes.len(), 10 + bytes[0] as usize);
                }
                got += n;
            }
            assert_eq!(rb.recv(b.as_raw_fd()).unwrap(), 0, "nothing left: would block");
        }
    }
}
