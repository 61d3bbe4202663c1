//! TLS helpers for the tests: certificates made with `openssl req`/`x509`
//! (self-signed, or signed by a test CA), and `openssl s_client` as a TLS
//! client, one-shot or kept open to send more on the same connection.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A self-signed certificate for `name` in `dir`: (cert, key).
pub fn certificate(dir: &Path, file: &str, name: &str) -> (PathBuf, PathBuf) {
    certificate_as(dir, file, name, "")
}

/// As `certificate`, with `org` as the subject's O (tells two apart).
pub fn certificate_as(dir: &Path, file: &str, name: &str, org: &str) -> (PathBuf, PathBuf) {
    let org = if org.is_empty() { String::new() } else { format!("/O={org}") };
    self_signed(dir, file, &format!("/CN={name}{org}"), &format!("DNS:{name}"))
}

/// A self-signed certificate with this subject and subjectAltName.
pub fn self_signed(dir: &Path, file: &str, subject: &str, san: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{file}.pem")), dir.join(format!("{file}.key")));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", subject, "-addext", &format!("subjectAltName={san}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is not installed: tests/run.sh installs it");
    assert!(ok.success());
    (cert, key)
}

/// `openssl s_client` to 127.0.0.1:`port` with `args`, started by `cmd`
/// (`openssl` itself, or a `timeout` around it), stdin and stdout piped.
fn spawn_s_client(mut cmd: Command, port: u16, args: &[&str]) -> std::process::Child {
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl")
}

/// Runs `openssl s_client` against the edge, writes `send`, returns what it printed.
pub fn s_client(port: u16, args: &[&str], send: &[u8]) -> String {
    let mut timed = Command::new("timeout");
    timed.args(["5", "openssl"]);
    let mut child = spawn_s_client(timed, port, args);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(send).unwrap();
    if send.is_empty() {
        drop(stdin); // the handshake is all we want
    } else {
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1000));
            drop(stdin);
        });
    }
    String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned()
}

pub fn test_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sipedge-tls-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A certificate for `name` signed by the CA `ca` (its files from `certificate`).
pub fn signed_by(dir: &Path, ca: &(PathBuf, PathBuf), file: &str, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key, csr) =
        (dir.join(format!("{file}.pem")), dir.join(format!("{file}.key")), dir.join(format!("{file}.csr")));
    let run = |args: &[&std::ffi::OsStr]| {
        assert!(Command::new("openssl").args(args).stderr(Stdio::null()).status().unwrap().success())
    };
    run(&[
        "req".as_ref(),
        "-newkey".as_ref(),
        "ec".as_ref(),
        "-pkeyopt".as_ref(),
        "ec_paramgen_curve:prime256v1".as_ref(),
        "-nodes".as_ref(),
        "-subj".as_ref(),
        format!("/CN={name}").as_ref(),
        "-keyout".as_ref(),
        key.as_ref(),
        "-out".as_ref(),
        csr.as_ref(),
    ]);
    // v3 with the usual leaf extensions: webpki refuses v1 certificates.
    let ext = dir.join(format!("{file}.ext"));
    std::fs::write(&ext, format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=DNS:{name}\n")).unwrap();
    run(&[
        "x509".as_ref(),
        "-req".as_ref(),
        "-in".as_ref(),
        csr.as_ref(),
        "-CA".as_ref(),
        ca.0.as_ref(),
        "-CAkey".as_ref(),
        ca.1.as_ref(),
        "-CAcreateserial".as_ref(),
        "-days".as_ref(),
        "2".as_ref(),
        "-extfile".as_ref(),
        ext.as_ref(),
        "-out".as_ref(),
        cert.as_ref(),
    ]);
    (cert, key)
}

/// The `subject=` line `openssl s_client` printed for the server's certificate.
pub fn subject(out: &str) -> String {
    out.lines().find(|l| l.starts_with("subject=")).unwrap_or("no certificate").to_string()
}

/// An `openssl s_client` connection kept open: what it prints is collected
/// by a thread, what the test sends goes out on the same TLS connection.
pub struct Session {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    out: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Session {
    /// Connects to 127.0.0.1:`port` (`-nocommands`: a line starting with R
    /// is SIP, not a renegotiation).
    pub fn open(port: u16, args: &[&str]) -> Session {
        let args: Vec<&str> = ["-nocommands"].iter().chain(args).copied().collect();
        let mut child = spawn_s_client(Command::new("openssl"), port, &args);
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Session { child, stdin, out }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits (5 s at most) until what it printed contains `text` `times` times.
    pub fn wait_for(&self, text: &str, times: usize) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if self.out.lock().unwrap().matches(text).count() >= times {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    pub fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
