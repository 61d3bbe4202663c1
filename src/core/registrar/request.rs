//! Turning a REGISTER into a `RegisterOp` on the shard that received it
//! (RFC 3261 §10.3 steps 1, 3, 5, 6): domain, address-of-record, Contact
//! list with expiry and q-values, the wildcard, Path (RFC 3327) and
//! Outbound (RFC 5626) parameters. Everything the AOR's owner needs is
//! copied into owned data so it can cross the mesh.

use super::{RegistrarConfig, Reject, Terms};
use crate::core::{FlowId, Origin, Transport};
use crate::sip::{self, Essentials, HeaderName, Message, Scheme};
use std::net::SocketAddr;

/// One Contact of a REGISTER.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactChange {
    /// The contact URI exactly as sent (without header parameters).
    pub uri: Vec<u8>,
    /// Seconds; 0 removes the binding.
    pub expires: u32,
    /// q-value × 1000.
    pub q: u16,
    pub instance: Option<Vec<u8>>,
    pub reg_id: Option<u32>,
}

/// A registration request, ready for the AOR's owner shard.
#[derive(Clone, Debug)]
pub struct RegisterOp {
    pub aor: Vec<u8>,
    pub call_id: Vec<u8>,
    pub cseq: u32,
    /// `Contact: *` with `Expires: 0`: remove every binding.
    pub wildcard: bool,
    /// Empty (and not wildcard): a query for the current bindings.
    pub contacts: Vec<ContactChange>,
    pub source: SocketAddr,
    pub transport: Transport,
    pub flow: Option<FlowId>,
    /// Path values to store (only when the client supports path).
    pub path: Vec<Vec<u8>>,
    pub user_agent: Option<Vec<u8>>,
    pub now: u64,
    /// Most bindings the AOR may hold (the sender's terms).
    pub max_contacts: u32,
}

/// The AOR for what an operator typed (`alice@example.com`,
/// `sip:alice@Example.com:5060`): `sip:` when no scheme is given, then
/// `aor_of`. None when it is not a SIP URI.
pub fn aor_of_typed(s: &str) -> Option<Vec<u8>> {
    let has_scheme = ["sip:", "sips:"].iter().any(|p| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)));
    let text = if has_scheme { s.to_string() } else { format!("sip:{s}") };
    let uri = sip::parse_uri(text.as_bytes()).ok()?;
    uri.is_sip().then(|| aor_of(&uri))
}

/// Canonical address-of-record of a To (or From) URI: `sip:user@host`,
/// scheme and host lower-cased, port and parameters dropped.
pub fn aor_of(uri: &sip::Uri<'_>) -> Vec<u8> {
    let mut aor = Vec::with_capacity(uri.host.len() + 24);
    aor.extend_from_slice(if uri.scheme == Scheme::Sips { b"sips:" } else { b"sip:" });
    if let Some(u) = uri.user {
        aor.extend_from_slice(u);
        aor.push(b'@');
    }
    aor.extend(uri.host.iter().map(u8::to_ascii_lowercase));
    aor
}

/// Does a list header (Supported, Require) carry this option tag?
pub fn has_option(msg: &Message<'_>, name: HeaderName, tag: &[u8]) -> bool {
    msg.values(name).any(|(v, _)| v.eq_ignore_ascii_case(tag))
}

fn parse_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse::<u64>().ok().map(|n| n.min(u32::MAX as u64) as u32)
}

/// q-value (RFC 3261 §20.10: 0 to 1, up to three decimals) × 1000.
fn parse_q(v: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(v).ok()?;
    let q: f64 = s.parse().ok()?;
    (0.0..=1.0).contains(&q).then(|| (q * 1000.0).round() as u16)
}

/// Is this domain served here?
pub fn serves(cfg: &RegistrarConfig, host: &[u8]) -> bool {
    cfg.domains.iter().any(|d| d.eq_ignore_ascii_case(host))
}

/// Builds the op for a REGISTER that passed authentication.
pub fn prepare(
    msg: &Message<'_>,
    ess: &Essentials<'_>,
    origin: Origin,
    now: u64,
    cfg: &RegistrarConfig,
    terms: &Terms,
) -> Result<RegisterOp, Reject> {
    let to = &ess.to.uri;
    if !matches!(to.scheme, Scheme::Sip | Scheme::Sips) {
        return Err(Reject::new(400, "To is not a SIP URI"));
    }
    if !serves(cfg, to.host) {
        return Err(Reject::new(403, "Domain not served"));
    }
    let header_expires = match msg.header(HeaderName::Expires) {
        Some(v) => Some(parse_u32(sip::header::trim_lws(v)).ok_or(Reject::new(400, "Bad Expires"))?),
        None => None,
    };
    let values: Vec<&[u8]> = msg.values(HeaderName::Contact).map(|(v, _)| v).collect();
    let mut op = RegisterOp {
        aor: aor_of(to),
        call_id: ess.call_id.to_vec(),
        cseq: ess.cseq,
        wildcard: false,
        contacts: Vec::with_capacity(values.len()),
        source: origin.peer,
        transport: origin.transport,
        flow: origin.flow,
        path: Vec::new(),
        user_agent: msg.header(HeaderName::UserAgent).map(<[u8]>::to_vec),
        now,
        max_contacts: terms.max_contacts,
    };
    if values.iter().any(|v| sip::is_star_contact(v)) {
        // RFC 3261 §10.3 step 6: `*` only alone and only with Expires: 0.
        if values.len() != 1 || header_expires != Some(0) {
            return Err(Reject::new(400, "Invalid wildcard Contact"));
        }
        op.wildcard = true;
        return Ok(op);
    }
    for v in values {
        let na = sip::parse_name_addr(v).map_err(|_| Reject::new(400, "Bad Contact"))?;
        let expires = match na.param("expires") {
            Some(Some(e)) => parse_u32(e).ok_or(Reject::new(400, "Bad Contact expires"))?,
            Some(None) => return Err(Reject::new(400, "Bad Contact expires")),
            None => header_expires.unwrap_or(terms.default_expires),
        };
        if expires != 0 && expires < terms.min_expires {
            return Err(Reject { code: 423, reason: "Interval Too Brief", min_expires: Some(terms.min_expires) });
        }
        let q = match na.param("q") {
            Some(Some(q)) => parse_q(q).ok_or(Reject::new(400, "Bad Contact q"))?,
            _ => 1000,
        };
        let reg_id = match na.param("reg-id") {
            Some(Some(r)) => Some(parse_u32(r).ok_or(Reject::new(400, "Bad reg-id"))?),
            _ => None,
        };
        let instance = na.param("+sip.instance").flatten().map(<[u8]>::to_vec);
        op.contacts.push(ContactChange {
            uri: na.uri_raw.to_vec(),
            expires: expires.min(terms.max_expires),
            q,
            // RFC 5626 §6: a reg-id without an instance is ignored.
            reg_id: reg_id.filter(|_| instance.is_some()),
            instance,
        });
    }
    // RFC 5626 §6: a REGISTER with a reg-id binds one flow: more than one
    // Contact that adds a binding, any of them with a reg-id, is refused.
    let adding = || op.contacts.iter().filter(|c| c.expires != 0);
    if adding().count() > 1 && adding().any(|c| c.reg_id.is_some()) {
        return Err(Reject::new(400, "More Than One Contact With reg-id"));
    }
    if has_option(msg, HeaderName::Supported, b"path") {
        op.path = msg.values(HeaderName::Path).map(|(v, _)| v.to_vec()).collect();
    }
    Ok(op)
}
