//! The registrar's answers, written on the shard that received the
//! REGISTER: the 200 listing every current binding with its remaining
//! expiry, `Date`, Path (RFC 3327) and Outbound (RFC 5626) headers; and the
//! refusals (400/403/423/500) with their reason phrases.

use super::date::write_http_date;
use super::{BindingView, Reject};
use crate::sip::{self, HeaderName, Message};
use std::net::SocketAddr;

/// Writes the 200 OK for a REGISTER whose bindings are now `bindings`.
#[allow(clippy::too_many_arguments)]
pub fn write_ok(
    msg: &Message<'_>,
    ess: Option<&sip::Essentials<'_>>,
    peer: SocketAddr,
    to_tag: &[u8],
    bindings: &[BindingView],
    now: u64,
    flow_timer: u32,
    out: &mut Vec<u8>,
) {
    let mut owned: Vec<(&'static str, Vec<u8>)> = Vec::with_capacity(bindings.len() + 4);
    for b in bindings {
        let mut v = Vec::with_capacity(b.contact.len() + 32);
        v.push(b'<');
        v.extend_from_slice(&b.contact);
        v.extend_from_slice(format!(">;expires={}", b.expires_at.saturating_sub(now)).as_bytes());
        if b.q != 1000 {
            v.extend_from_slice(format!(";q={}", q_text(b.q)).as_bytes());
        }
        owned.push(("Contact", v));
    }
    if super::request::has_option(msg, HeaderName::Supported, b"path") {
        for (p, _) in msg.values(HeaderName::Path) {
            owned.push(("Path", p.to_vec()));
        }
    }
    // RFC 5626 §6: only for the REGISTER that itself used outbound (reg-id
    // with an instance; a reg-id alone is ignored).
    let used_outbound = msg.values(HeaderName::Contact).any(|(v, _)| {
        sip::parse_name_addr(v).is_ok_and(|na| na.param("reg-id").is_some() && na.param("+sip.instance").is_some())
    });
    if used_outbound && super::request::has_option(msg, HeaderName::Supported, b"outbound") {
        owned.push(("Require", b"outbound".to_vec()));
        owned.push(("Flow-Timer", flow_timer.to_string().into_bytes()));
    }
    let mut date = Vec::with_capacity(32);
    write_http_date(now, &mut date);
    owned.push(("Date", date));
    let extra: Vec<(&str, &[u8])> = owned.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    sip::write_response(msg, ess, 200, "OK", Some(to_tag), Some((peer.ip(), peer.port())), &extra, b"", out);
}

/// Writes a refusal (423 carries Min-Expires).
pub fn write_reject(
    msg: &Message<'_>,
    ess: Option<&sip::Essentials<'_>>,
    peer: SocketAddr,
    to_tag: &[u8],
    r: &Reject,
    out: &mut Vec<u8>,
) {
    let min = r.min_expires.map(|m| m.to_string());
    let extra: Vec<(&str, &[u8])> = min.iter().map(|m| ("Min-Expires", m.as_bytes())).collect();
    sip::write_response(msg, ess, r.code, r.reason, Some(to_tag), Some((peer.ip(), peer.port())), &extra, b"", out);
}

/// q × 1000 back to RFC 3261 text: "0.5", "0.25", "0".
fn q_text(q: u16) -> String {
    let s = format!("{}.{:03}", q / 1000, q % 1000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn q_values_print_like_the_rfc() {
        assert_eq!(super::q_text(500), "0.5");
        assert_eq!(super::q_text(250), "0.25");
        assert_eq!(super::q_text(1), "0.001");
        assert_eq!(super::q_text(0), "0");
    }
}
