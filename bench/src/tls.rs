//! The generator's TLS client transport: a rustls client configuration that
//! accepts any server certificate (we measure servers, not PKI), session
//! resumption on or off, and the plumbing between a rustls
//! `ClientConnection` and a non-blocking socket of the epoll loop
//! (TLS bytes in and out through the fd, plaintext in and out of buffers).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

/// Accepts whatever certificate the server shows and skips the handshake
/// signature check: the generator's CPU goes to load, and both servers run
/// the same certificate anyway. The server still signs (its cost is real).
#[derive(Debug)]
struct AcceptAny(Vec<SignatureScheme>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

/// Client settings shared by every connection of a run. Without
/// `resume` every connection makes a full handshake (ECDHE + signature).
pub fn client_config(resume: bool) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let schemes = provider.signature_verification_algorithms.supported_schemes();
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(schemes)))
        .with_no_client_auth();
    if !resume {
        cfg.resumption = Resumption::disabled();
    }
    Arc::new(cfg)
}

/// A client session towards `peer` (no SNI: the server name is its IP).
pub fn session(cfg: &Arc<ClientConfig>, peer: SocketAddr) -> io::Result<Box<ClientConnection>> {
    let mut c =
        ClientConnection::new(cfg.clone(), ServerName::IpAddress(peer.ip().into())).map_err(io::Error::other)?;
    // the generator queues whole request batches before the handshake ends
    c.set_buffer_limit(None);
    Ok(Box::new(c))
}

/// A raw non-blocking fd as `Read`/`Write` for rustls (EAGAIN -> WouldBlock).
struct Fd(i32);

impl Read for Fd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = unsafe { libc::read(self.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

impl Write for Fd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = unsafe { libc::write(self.0, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}

/// What a readable socket gave: plaintext bytes appended, and whether the
/// connection is over (EOF, close_notify, or a TLS error).
pub struct Readable {
    pub plaintext: usize,
    pub closed: bool,
}

/// Reads what the socket has (a bounded number of records), decrypts it and
/// moves the plaintext into `out` (as much as fits).
pub fn on_readable(s: &mut ClientConnection, fd: i32, out: &mut [u8]) -> Readable {
    let mut closed = false;
    for _ in 0..16 {
        match s.read_tls(&mut Fd(fd)) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {
                if s.process_new_packets().is_err() {
                    closed = true;
                    break;
                }
            }
            Err(e) if would_block(&e) => break,
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let mut n = 0;
    while n < out.len() {
        match s.reader().read(&mut out[n..]) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    Readable { plaintext: n, closed }
}

/// Encrypts `plain` (may be empty) and writes what the socket takes.
/// Ok(true): TLS bytes remain queued (wait for EPOLLOUT). Err: connection lost.
pub fn write(s: &mut ClientConnection, fd: i32, plain: &[u8]) -> io::Result<bool> {
    if !plain.is_empty() {
        s.writer().write_all(plain)?;
    }
    while s.wants_write() {
        match s.write_tls(&mut Fd(fd)) {
            Ok(_) => {}
            Err(e) if would_block(&e) => return Ok(true),
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Queues close_notify and gives it one chance to leave before close(2).
pub fn close_notify(s: &mut ClientConnection, fd: i32) {
    s.send_close_notify();
    let _ = write(s, fd, &[]);
}
