//! TLS server settings of a listener (rustls): its certificates loaded from
//! PEM files, and the choice of certificate by SNI: the exact name first,
//! then a wildcard one label deep (`*.example.com`, case-insensitive), then
//! the listener's first certificate for clients that send no SNI or a name
//! nobody holds (phones dialling an IP address). Names come from each
//! certificate's subjectAltName DNS entries (its CN when it has none).
//! With `client_ca` set, clients must present a certificate from one of
//! those CAs (mutual TLS for trunks and the core).
//! Loading is blocking file IO done on the control thread (at start, on
//! reload); the resulting `ServerConfig` is shared read-only by every shard.

use super::{load_chain, load_key, load_roots, provider};
use crate::config::Listen;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::sync::Arc;

/// Certificates of one listener by the names they serve.
#[derive(Debug)]
pub struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` stored as `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl SniResolver {
    /// The certificate for `sni` (None: no SNI sent).
    pub fn pick(&self, sni: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = sni.map(|n| n.trim_end_matches('.').to_ascii_lowercase()) else { return &self.default };
        if let Some(c) = self.exact.get(&name) {
            return c;
        }
        name.split_once('.').and_then(|(_, parent)| self.wildcard.get(parent)).unwrap_or(&self.default)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()).clone())
    }
}

/// The TLS settings of a `tls` or `wss` listener: TLS 1.2 and 1.3, ring provider,
/// client certificates required and checked against `client_ca` when set,
/// secrets to `key_log` (a no-op unless the key log is on).
pub fn server_config(l: &Listen, key_log: Arc<dyn rustls::KeyLog>) -> Result<Arc<ServerConfig>, String> {
    let resolver = resolver(l)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("listen {}: {e}", l.addr))?;
    let builder = if l.client_ca.is_empty() {
        builder.with_no_client_auth()
    } else {
        let roots = load_roots(&l.client_ca)?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("{}: {e}", l.client_ca))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.key_log = key_log;
    Ok(Arc::new(config))
}

/// Loads every certificate of a listener and indexes it by its names.
pub fn resolver(l: &Listen) -> Result<SniResolver, String> {
    let provider = provider();
    let mut exact = HashMap::new();
    let mut wildcard = HashMap::new();
    let mut default = None;
    for files in &l.certificates {
        let chain = load_chain(&files.cert)?;
        let leaf = &chain[0];
        let key = load_key(&files.key)?;
        let signer = provider.key_provider.load_private_key(key).map_err(|e| format!("{}: {e}", files.key))?;
        let names = names_of(leaf).map_err(|e| format!("{}: {e}", files.cert))?;
        let ck = Arc::new(CertifiedKey::new(chain, signer));
        ck.keys_match().map_err(|e| format!("{} and {} do not belong together: {e}", files.cert, files.key))?;
        for n in names {
            match n.strip_prefix("*.") {
                Some(parent) => wildcard.entry(parent.to_string()).or_insert_with(|| ck.clone()),
                None => exact.entry(n).or_insert_with(|| ck.clone()),
            };
        }
        default.get_or_insert(ck);
    }
    let default = default.ok_or_else(|| format!("listen {}: no certificate", l.addr))?;
    Ok(SniResolver { exact, wildcard, default })
}

/// DNS names a certificate serves, lower-cased.
fn names_of(cert: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    use x509_parser::prelude::*;
    let (_, x) = X509Certificate::from_der(cert.as_ref()).map_err(|e| format!("not a certificate: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = x.subject_alternative_name() {
        for g in &san.value.general_names {
            if let GeneralName::DNSName(n) = g {
                names.push(n.to_ascii_lowercase());
            }
        }
    }
    if names.is_empty() {
        names.extend(x.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).map(|s| s.to_ascii_lowercase()));
    }
    Ok(names)
}
