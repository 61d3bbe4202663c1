//! Outgoing TLS (to the core's upstreams): the upstream's certificate must
//! chain to `tls.ca` (a PEM file) or, when that is empty, to the system's
//! trust store, and must name the upstream: its `server_name`, or its IP
//! address when it has none (an IP subjectAltName). When `tls.client_cert`
//! is set, the edge presents it to upstreams that ask (mutual TLS).

use super::{load_chain, load_key, load_roots, provider};
use crate::config::TlsSettings;
use rustls::ClientConfig;
use std::sync::Arc;

/// The settings of every TLS connection the edge opens.
pub fn client_config(t: &TlsSettings, key_log: Arc<dyn rustls::KeyLog>) -> Result<Arc<ClientConfig>, String> {
    let roots = if t.ca.is_empty() { system_roots()? } else { load_roots(&t.ca)? };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("outgoing TLS: {e}"))?
        .with_root_certificates(roots);
    let mut config = match (t.client_cert.is_empty(), t.client_key.is_empty()) {
        (true, true) => builder.with_no_client_auth(),
        (false, false) => builder
            .with_client_auth_cert(load_chain(&t.client_cert)?, load_key(&t.client_key)?)
            .map_err(|e| format!("{} and {}: {e}", t.client_cert, t.client_key))?,
        _ => return Err("tls.client_cert and tls.client_key go together".into()),
    };
    config.key_log = key_log;
    Ok(Arc::new(config))
}

/// The operating system's trust store (on Debian /etc/ssl/certs).
fn system_roots() -> Result<rustls::RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(format!("outgoing TLS: no system CA certificates found ({:?}); set tls.ca", found.errors.first()));
    }
    Ok(roots)
}

/// The name an upstream's certificate must carry.
pub fn server_name(name: &str, addr: std::net::SocketAddr) -> Result<rustls::pki_types::ServerName<'static>, String> {
    if name.is_empty() {
        return Ok(rustls::pki_types::ServerName::IpAddress(addr.ip().into()));
    }
    rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| format!("server_name {name:?}: {e}"))
}
