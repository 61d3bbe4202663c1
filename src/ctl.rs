//! The command line's side of the admin API: one plain HTTP/1.0 request to
//! a running edge's `[admin] addr`, with short timeouts, for the
//! subcommands that act on a running edge (`users` reloads it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `method path` to the admin API at `addr`: (status, body), or why no edge answered.
pub fn call(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, String), String> {
    let fail = |e: std::io::Error| format!("no edge answered on {addr} ({e})");
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(fail)?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n").map_err(fail)?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(fail)?;
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("{addr} did not answer HTTP"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((code, body))
}
