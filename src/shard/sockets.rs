//! Binding a shard's sockets: one per listener, SO_REUSEPORT so every shard
//! binds the same address and the kernel spreads flows across them.

use crate::config::{Config, Transport};
use glommio::net::{TcpListener, UdpSocket};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};

/// Kernel buffer asked for per UDP socket (the kernel caps it at
/// net.core.rmem_max/wmem_max; see sysctl/).
const UDP_BUFFER: usize = 4 << 20;
const TCP_BACKLOG: i32 = 1024;

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

pub fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = socket(addr, Type::DGRAM, Protocol::UDP)?;
    let _ = s.set_recv_buffer_size(UDP_BUFFER);
    let _ = s.set_send_buffer_size(UDP_BUFFER);
    s.bind(&addr.into())?;
    // SAFETY: the fd was just created, is owned by nobody else, and is handed over whole.
    Ok(unsafe { UdpSocket::from_raw_fd(s.into_raw_fd()) })
}

pub fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = socket(addr, Type::STREAM, Protocol::TCP)?;
    s.set_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(TCP_BACKLOG)?;
    // SAFETY: as above.
    Ok(unsafe { TcpListener::from_raw_fd(s.into_raw_fd()) })
}

/// Sockets for every listener, by listener index: (udp, tcp).
#[allow(clippy::type_complexity)]
pub fn bind_all(config: &Config) -> Result<(Vec<Option<UdpSocket>>, Vec<Option<TcpListener>>), String> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for l in &config.listen {
        let err = |e: std::io::Error| format!("cannot bind {} {}: {e}", l.transport.as_str(), l.addr);
        match l.transport {
            Transport::Udp => {
                udp.push(Some(bind_udp(l.addr).map_err(err)?));
                tcp.push(None);
            }
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => {
                udp.push(None);
                tcp.push(Some(bind_tcp(l.addr).map_err(err)?));
            }
        }
    }
    Ok((udp, tcp))
}
