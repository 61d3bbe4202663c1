//! A real DNS server for the tests: dnsmasq (Debian `dnsmasq-base`) on its
//! own loopback address, authoritative for `sipedge.test` from the records
//! a test gives it (NAPTR, SRV, A, AAAA, CNAME), every query logged so a
//! test can count them, and a hosts directory it re-reads when a file
//! there changes (a zone reload). Killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The DNS server's own loopback address.
pub const DNS_IP: &str = "127.0.0.53";

pub struct Dnsmasq {
    child: Child,
    pub addr: std::net::SocketAddr,
    pub dir: PathBuf,
}

impl Dnsmasq {
    /// dnsmasq with `records` (dnsmasq config lines) and `hosts` (a hosts
    /// file in its watched directory); local data has a TTL of `ttl` s.
    pub fn start(records: &str, hosts: &str, ttl: u32) -> Dnsmasq {
        let port = super::free_port();
        let dir = std::env::temp_dir().join(format!("sipedge-dns-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("hosts.d")).unwrap();
        std::fs::write(dir.join("hosts.d/hosts"), hosts).unwrap();
        let conf = format!(
            "port={port}\nlisten-address={DNS_IP}\nbind-interfaces\nno-resolv\nno-hosts\nuser=root\npid-file=\n\
             log-queries\nlog-facility={log}\nlocal-ttl={ttl}\nlocal=/sipedge.test/\nhostsdir={hosts}\n{records}\n",
            log = dir.join("queries.log").display(),
            hosts = dir.join("hosts.d").display(),
        );
        std::fs::write(dir.join("dnsmasq.conf"), conf).unwrap();
        let child = Command::new("/usr/sbin/dnsmasq")
            .arg("-k")
            .arg(format!("--conf-file={}", dir.join("dnsmasq.conf").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (Debian package dnsmasq-base) must be installed");
        let addr = format!("{DNS_IP}:{port}").parse().unwrap();
        let d = Dnsmasq { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while d.queries("").is_empty() && Instant::now() < deadline {
            // Ask until it answers (its log then has a line).
            let _ = query(addr, "ready.sipedge.test");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// The query log lines that mention `name`.
    pub fn queries(&self, name: &str) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("queries.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("query[") && l.contains(name)).map(String::from).collect()
    }

    /// Rewrites the watched hosts file (dnsmasq re-reads it at once).
    pub fn rewrite_hosts(&self, hosts: &str) {
        let tmp = self.dir.join("hosts.tmp");
        std::fs::write(&tmp, hosts).unwrap();
        std::fs::rename(tmp, self.dir.join("hosts.d/hosts")).unwrap();
    }

    /// SIGSTOP / SIGCONT: a server that stops answering, then comes back.
    pub fn pause(&self, paused: bool) {
        let sig = if paused { "-STOP" } else { "-CONT" };
        Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap();
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.pause(false);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One A query over UDP (to see the server answer); the answer's bytes.
fn query(server: std::net::SocketAddr, name: &str) -> Option<Vec<u8>> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&q, server).ok()?;
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// A DNS server that answers every query REFUSED (a server that is up and
/// will not help), on a thread; stops with the process.
pub fn refusing_server() -> std::net::SocketAddr {
    let sock = std::net::UdpSocket::bind("127.0.0.54:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            let mut a = buf[..n].to_vec();
            a[2] |= 0x80; // QR
            a[3] = (a[3] & 0xf0) | 5; // RCODE REFUSED
            let _ = sock.send_to(&a, from);
        }
    });
    addr
}

/// A UDP socket that never answers (a dead DNS server).
pub fn silent_server() -> (std::net::UdpSocket, std::net::SocketAddr) {
    let sock = std::net::UdpSocket::bind("127.0.0.55:0").unwrap();
    let addr = sock.local_addr().unwrap();
    (sock, addr)
}
