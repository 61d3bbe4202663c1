//! The generator's own lag in reading answers (`--read-lag`, UDP): for
//! each datagram, the time from the kernel queueing it (`SO_TIMESTAMPNS`,
//! stamped on loopback when the sender's `sendmsg` hands it over) to the
//! generator's `recvmmsg` returning it. That is the generator waking
//! (from a halted vCPU, on a VM), getting back to its loop and reading: a
//! latency the server does not spend but the generator adds to every
//! answer. Two servers compared at the same rate can differ in it (how
//! their answers meet the generator's sleeps), so `compare.sh` prints it
//! beside the latency.
//!
//! Owns: the control-message buffers `recvmmsg` fills and the histogram.
//! Off by default: enabling timestamps makes the kernel stamp every
//! packet it receives, the servers' too.
//!
//! The first socket in the system to ask turns stamping on through the
//! kernel's deferred work (`netstamp_work`); a datagram that arrives
//! before that has run is stamped when it is read (lag ≈ 0). The engine
//! enables stamping before the warm-up and resets the histogram after it,
//! so the measured window never holds such a stamp.

use hdrhistogram::Histogram;
use std::mem::size_of;

/// Room for one `SCM_TIMESTAMPNS` control message (a `timespec`), aligned.
const CMSG: usize = 64;

pub struct ReadLag {
    /// One control buffer per message of a `recvmmsg` batch.
    bufs: Vec<u64>,
    /// Nanoseconds from kernel stamp to read, while measuring.
    pub hist: Histogram<u64>,
    /// Datagrams that carried no stamp (not counted in `hist`).
    pub unstamped: u64,
}

impl ReadLag {
    pub fn new(batch: usize) -> ReadLag {
        ReadLag {
            bufs: vec![0; batch * CMSG / 8],
            hist: Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("static bounds"),
            unstamped: 0,
        }
    }

    /// Asks the kernel to stamp datagrams arriving on UDP socket `fd`.
    pub fn enable(fd: i32) {
        let on: i32 = 1;
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                &on as *const i32 as *const libc::c_void,
                size_of::<i32>() as _,
            );
        }
    }

    /// Points message `k`'s header at its control buffer.
    pub fn prepare(&mut self, k: usize, h: &mut libc::msghdr) {
        h.msg_control = self.bufs[k * CMSG / 8..].as_mut_ptr() as *mut libc::c_void;
        h.msg_controllen = CMSG as _;
    }

    /// After `recvmmsg` returned `hdrs`: records each one's lag against now.
    pub fn record(&mut self, hdrs: &[libc::mmsghdr]) {
        let now = realtime_ns();
        for m in hdrs {
            match stamp(&m.msg_hdr) {
                Some(t) => {
                    let _ = self.hist.record(now.saturating_sub(t).max(1));
                }
                None => self.unstamped += 1,
            }
        }
    }

    /// Starts the measured window afresh.
    pub fn reset(&mut self) {
        self.hist.reset();
        self.unstamped = 0;
    }
}

/// The `SCM_TIMESTAMPNS` stamp of a received message, in ns of CLOCK_REALTIME.
fn stamp(h: &libc::msghdr) -> Option<u64> {
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

fn realtime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use crate::event_loop::{bound_socket, Net, Role};

    /// A datagram sent to a stamped socket and read 2 ms later shows a lag
    /// of at least those 2 ms (the stamp is the kernel's, not the read's).
    /// The kernel turns stamping on asynchronously the first time any
    /// socket asks (see the module doc), so the probe is repeated, each
    /// time afresh, until the kernel has; if it never does, the test fails.
    #[test]
    fn a_datagram_read_late_shows_its_lag() {
        let mut net = Net::new().unwrap();
        let rx = net.add_udp_listener("127.0.0.1:0".parse().unwrap(), Role::Uas).unwrap();
        net.measure_read_lag();
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], net.conns[rx].local_port));
        let tx = bound_socket("127.0.0.1:0".parse().unwrap(), libc::SOCK_DGRAM, false).unwrap();
        let sock = unsafe { <std::net::UdpSocket as std::os::fd::FromRawFd>::from_raw_fd(tx) };
        let mut min = 0;
        for _ in 0..50 {
            net.read_lag.as_mut().unwrap().reset();
            sock.send_to(b"OPTIONS", to).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
            let mut got = 0;
            for _ in 0..100 {
                got += net.poll(10, &mut |_, _, _, b| assert_eq!(b, b"OPTIONS"));
                if got > 0 {
                    break;
                }
            }
            assert_eq!(got, 1);
            let lag = net.read_lag.as_ref().unwrap();
            assert_eq!((lag.hist.len(), lag.unstamped), (1, 0));
            min = lag.hist.min();
            if min >= 2_000_000 {
                break;
            }
        }
        assert!(min >= 2_000_000, "lag {min} ns after 50 probes");
    }
}
