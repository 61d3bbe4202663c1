//! Test harness: starts the real `sipedge` binary on free loopback ports
//! and talks to it over real sockets. Every instance is killed on drop.
#![allow(dead_code)]

pub mod dns;
pub mod redis;
pub mod sipp;
pub mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sipedge");

/// A free port on 127.0.0.1 for both UDP and TCP (racy by nature, retried by callers).
pub fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A free four-digit port, for peers that mishandle longer ones (sipsak
/// 0.9.8 drops the fifth digit of the port in the Request-URI it writes).
pub fn free_low_port() -> u16 {
    let start = 6000 + (std::process::id() % 3000) as u16;
    (start..9999)
        .chain(6000..start)
        .find(|&p| UdpSocket::bind(("127.0.0.1", p)).is_ok() && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port between 6000 and 9999")
}

pub struct Edge {
    pub child: Child,
    pub sip: SocketAddr,
    pub admin: SocketAddr,
    pub config: String,
    /// Where `config` was written (what `--config` names).
    pub config_path: std::path::PathBuf,
}

impl Edge {
    /// Starts sipedge with `shards` shards on UDP+TCP 127.0.0.1:<free>; `extra` is appended to the config.
    pub fn start(shards: usize, extra: &str) -> Edge {
        Edge::start_at(free_port(), shards, extra)
    }

    /// As `start`, with the SIP listeners on `sip_port`.
    pub fn start_at(sip_port: u16, shards: usize, extra: &str) -> Edge {
        Edge::start_server(sip_port, &format!("shards = {shards}"), extra)
    }

    /// As `start_at`; `server` is the body of the `[server]` table (`shards = 2\nsteering = "cbpf"`).
    pub fn start_server(sip_port: u16, server: &str, extra: &str) -> Edge {
        Edge::start_server_logging(sip_port, server, extra, Stdio::inherit())
    }

    /// As `start`, its log (stderr) written to a file: the edge and the file.
    pub fn start_logged(shards: usize, extra: &str) -> (Edge, std::path::PathBuf) {
        let port = free_port();
        let path = std::env::temp_dir().join(format!("sipedge-log-{}-{port}", std::process::id()));
        let log = std::fs::File::create(&path).unwrap();
        (Edge::start_server_logging(port, &format!("shards = {shards}"), extra, Stdio::from(log)), path)
    }

    fn start_server_logging(sip_port: u16, server: &str, extra: &str, log: Stdio) -> Edge {
        let admin_port = free_port();
        let config = format!(
            "[server]\n{server}\n\n[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:{sip_port}\"\n\n[[listen]]\ntransport = \"tcp\"\naddr = \"127.0.0.1:{sip_port}\"\n\n[admin]\naddr = \"127.0.0.1:{admin_port}\"\n\n[metrics]\nflush_ms = 100\n\n[log]\nlevel = \"warn\"\n{extra}"
        );
        Edge::with_config_logging(
            config,
            format!("127.0.0.1:{sip_port}").parse().unwrap(),
            format!("127.0.0.1:{admin_port}").parse().unwrap(),
            log,
        )
    }

    pub fn with_config(config: String, sip: SocketAddr, admin: SocketAddr) -> Edge {
        Edge::with_config_logging(config, sip, admin, Stdio::inherit())
    }

    /// As `with_config`, its stderr (the log) to `log`.
    pub fn with_config_logging(config: String, sip: SocketAddr, admin: SocketAddr, log: Stdio) -> Edge {
        let path = std::env::temp_dir().join(format!("sipedge-test-{}-{}.toml", std::process::id(), sip.port()));
        std::fs::write(&path, &config).unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config", path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sipedge");
        let mut edge = Edge { child, sip, admin, config, config_path: path };
        edge.wait_healthy();
        edge
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("sipedge exited at start: {status}");
            }
            if matches!(http_get(self.admin, "/health"), Some((200, _))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sipedge not healthy within 10 s");
    }

    pub fn metrics(&self) -> String {
        http_get(self.admin, "/metrics").expect("metrics").1
    }

    /// Sum of every sample of `name` whose labels contain all of `labels`.
    pub fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        metric_sum(&self.metrics(), name, labels)
    }

    /// Polls until `pred(metric)` holds (counters are flushed on a 100 ms tick).
    pub fn wait_metric(&self, name: &str, labels: &[&str], pred: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let v = self.metric(name, labels);
            if pred(v) || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Per-shard values of a metric: (shard label, value).
    pub fn per_shard(&self, name: &str, labels: &[&str]) -> Vec<(String, f64)> {
        let text = self.metrics();
        let mut out: Vec<(String, f64)> = Vec::new();
        for (line_labels, v) in samples(&text, name) {
            if labels.iter().all(|l| line_labels.contains(l)) {
                if let Some(s) = line_labels.split("shard=\"").nth(1).and_then(|r| r.split('"').next()) {
                    match out.iter_mut().find(|(k, _)| k == s) {
                        Some((_, acc)) => *acc += v,
                        None => out.push((s.to_string(), v)),
                    }
                }
            }
        }
        out
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM; returns the exit code and how long it took.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let start = Instant::now();
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = start + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s.code(), start.elapsed());
            }
            if Instant::now() > deadline {
                return (None, start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn samples<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(move |l| {
        let rest = l.strip_prefix(name)?;
        let (labels, value) = if let Some(r) = rest.strip_prefix('{') {
            let (labels, v) = r.split_once('}')?;
            (labels, v)
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            return None;
        };
        Some((labels, value.trim().parse().ok()?))
    })
}

pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    samples(text, name).filter(|(l, _)| labels.iter().all(|x| l.contains(x))).map(|(_, v)| v).sum()
}

/// Minimal HTTP/1.0 GET: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    http(addr, "GET", path)
}

/// Minimal HTTP/1.0 POST without a body: (status, body).
pub fn http_post(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    http(addr, "POST", path)
}

/// Minimal HTTP/1.0 DELETE: (status, body).
pub fn http_delete(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    http(addr, "DELETE", path)
}

fn http(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((code, body))
}

/// An OPTIONS request to the edge; `transport` is the Via token.
pub fn options(target: SocketAddr, transport: &str, local_port: u16, id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:{local_port};branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag={id}\r\nTo: <sip:{target}>\r\nCall-ID: {id}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Sends one datagram from a fresh socket and waits for one answer.
pub fn udp_exchange(target: SocketAddr, bytes: &[u8], wait: Duration) -> Option<String> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(bytes, target).unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Status code of a SIP response.
pub fn code(resp: &str) -> u16 {
    resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Is the edge still answering OPTIONS over UDP?
pub fn answers_options(edge: &Edge) -> bool {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(&options(edge.sip, "UDP", port, &format!("live{port}")), edge.sip).unwrap();
    let mut buf = vec![0u8; 65535];
    matches!(s.recv_from(&mut buf), Ok((n, _)) if code(&String::from_utf8_lossy(&buf[..n])) == 200)
}

/// sipsak REGISTERs `user` (digest `password`) at the edge with contact
/// `contact`, expiring in 300 s; true when it got 200. The edge's port must
/// have four digits (`free_low_port`: sipsak 0.9.8 drops a fifth).
pub fn sipsak_register(edge: &Edge, user: &str, password: &str, contact: &str) -> bool {
    let aor = format!("sip:{user}@127.0.0.1:{}", edge.sip.port());
    Command::new("timeout")
        .args(["10", "sipsak", "-U", "-C", contact, "-s", &aor, "-u", user, "-a", password, "-x", "300"])
        .output()
        .expect("sipsak is not installed: tests/run.sh installs Debian's sipsak")
        .status
        .success()
}

impl Edge {
    /// `sipedge ctl --config <this edge's config> ARGS`: (exit code, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(BIN).arg("ctl").arg("--config").arg(&self.config_path).args(args).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into(),
            String::from_utf8_lossy(&o.stderr).into(),
        )
    }
}
