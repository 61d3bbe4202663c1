//! `echo`: a plain UDP echo server, the floor for what a "server" costs on
//! this machine (recvmmsg + sendmmsg of the same bytes, one socket).

use crate::event_loop::{bound_socket, from_sockaddr};
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const BATCH: usize = 64;
const DGRAM: usize = 8192;

pub fn serve(addr: SocketAddr, duration: Option<f64>) -> std::io::Result<()> {
    let fd = bound_socket(addr, libc::SOCK_DGRAM, true)?;
    // blocking mode with a receive timeout so --duration is honoured
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            size_of::<libc::timeval>() as _,
        );
    }
    eprintln!("echo listening on {addr} (udp)");
    let end = duration.map(|d| Instant::now() + Duration::from_secs_f64(d));
    let mut bufs = vec![0u8; BATCH * DGRAM];
    let mut addrs: Vec<libc::sockaddr_storage> = vec![unsafe { zeroed() }; BATCH];
    let mut iov = vec![libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; BATCH];
    let mut hdrs: Vec<libc::mmsghdr> = vec![unsafe { zeroed() }; BATCH];
    let mut total: u64 = 0;
    loop {
        for k in 0..BATCH {
            iov[k] = libc::iovec { iov_base: bufs[k * DGRAM..].as_mut_ptr() as *mut libc::c_void, iov_len: DGRAM };
            let h = &mut hdrs[k].msg_hdr;
            h.msg_name = &mut addrs[k] as *mut _ as *mut libc::c_void;
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as _;
            h.msg_iov = &mut iov[k];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        // blocks for the first datagram, then takes what is queued
        let r =
            unsafe { libc::recvmmsg(fd, hdrs.as_mut_ptr(), BATCH as u32, libc::MSG_WAITFORONE, std::ptr::null_mut()) };
        if r > 0 {
            let n = r as usize;
            for k in 0..n {
                iov[k].iov_len = hdrs[k].msg_len as usize;
                // msg_namelen was set by the kernel to the source length
                let _ = from_sockaddr(&addrs[k]);
            }
            let mut done = 0;
            while done < n {
                let s = unsafe { libc::sendmmsg(fd, hdrs[done..].as_mut_ptr(), (n - done) as u32, 0) };
                if s <= 0 {
                    break;
                }
                done += s as usize;
            }
            total += n as u64;
        }
        if end.is_some_and(|e| Instant::now() >= e) {
            eprintln!("echo: {total} datagrams");
            return Ok(());
        }
    }
}
