//! TLS with rustls (ring provider, TLS 1.2 and 1.3), for every TLS listener
//! and for connections the edge opens to TLS upstreams. Loading is blocking
//! file IO done on the control thread (at start and on reload); the shards
//! only ever get finished, immutable `rustls` configs.
//!
//! - `server`: a listener's certificates, chosen by SNI; optional mutual TLS.
//! - `client`: outgoing TLS, verifying the upstream's name against the
//!   configured CAs (or the system's), with an optional client certificate.
//! - `keylog`: the SSLKEYLOGFILE-format key log for Wireshark, off by default.

pub mod client;
pub mod keylog;
pub mod server;

pub use server::{resolver, server_config, SniResolver};

use crate::config::{Config, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// Every TLS config of the edge, built from one `Config`: what a shard
/// needs to accept and to open TLS connections. Replaced whole on reload.
#[derive(Clone, Default)]
pub struct TlsSet {
    /// Server settings by listener index (None: not a TLS listener).
    pub servers: Vec<Option<Arc<rustls::ServerConfig>>>,
    /// Settings for connections to TLS upstreams (None: no upstream uses TLS).
    pub client: Option<Arc<rustls::ClientConfig>>,
}

impl TlsSet {
    /// Loads every certificate and key the config names. Err names the
    /// file and what is wrong with it; nothing is half-loaded.
    pub fn load(config: &Config, key_log: &Arc<dyn rustls::KeyLog>) -> Result<TlsSet, String> {
        let servers = config
            .listen
            .iter()
            .map(|l| l.transport.is_tls().then(|| server_config(l, key_log.clone())).transpose())
            .collect::<Result<Vec<_>, String>>()?;
        let outgoing = config.proxy.route.iter().flat_map(|r| &r.upstreams).any(|u| u.transport() == Transport::Tls);
        let client = outgoing.then(|| client::client_config(&config.tls, key_log.clone())).transpose()?;
        Ok(TlsSet { servers, client })
    }
}

/// The ring provider every config of the edge uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PEM certificate chain, leaf first.
fn load_chain(file: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<_> = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("{file}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{file}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("{file}: no certificate in the file"));
    }
    Ok(chain)
}

/// A PEM private key (PKCS#8, PKCS#1 or SEC1).
fn load_key(file: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(file).map_err(|e| format!("{file}: {e}"))
}

/// The CAs of a PEM file, as a root store.
fn load_roots(file: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(file).map_err(|e| format!("{file}: {e}"))? {
        roots.add(ca.map_err(|e| format!("{file}: {e}"))?).map_err(|e| format!("{file}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{file}: no CA certificate in the file"));
    }
    Ok(roots)
}
