//! NAT traversal for dialogs when topology hiding is off: a device behind
//! NAT writes its private address in Contact, which later in-dialog
//! requests would be sent to. The edge appends where the device really is
//! (`;alias=ip~port~transport`, transport 1 = UDP, 2 = TCP, 3 = TLS, 5 = WS,
//! 6 = WSS, as Kamailio's nathelper spells it) to the Contact URI of every request and
//! response it relays from a device whose Contact differs from its source
//! address; a request whose Request-URI carries the alias goes to that
//! address, with the parameter taken off again.
//!
//! A device on a connection gets the alias always, with the connection
//! added (`~shard~conn`, hex): its in-dialog requests must go down the
//! connection it opened (RFC 5626, RFC 5923), which only the shard that
//! owns it can write, and a device's listening port is rarely reachable.
//! (With topology hiding on, the sealed token carries the same instead.)
//!
//! A device profile changes this per device class (`nat`): "always" puts
//! the alias on every Contact and stamps `rport` though the device did not
//! ask; "never" takes Contacts as they are, a registration included.

use crate::core::proxy::route::{hop_of_uri, NextHop};
use crate::core::{FlowId, Transport};
use crate::sip::{self, parse_name_addr, Editor, Framing, HeaderName, Status};
use std::net::{IpAddr, SocketAddr};

const ALIAS: &str = "alias";

/// `bytes` with `;alias=` appended to its first Contact URI when the
/// Contact does not already name `source`, or `source` is a connection, or
/// `always` (a profile's `nat = "always"`). None: nothing to change.
pub(super) fn alias_contact(bytes: &[u8], source: NextHop, always: bool) -> Option<Vec<u8>> {
    let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else { return None };
    let i = msg.position(HeaderName::Contact)?;
    let (value, _) = msg.values(HeaderName::Contact).next()?;
    let na = parse_name_addr(value).ok()?;
    let addr = source.addr;
    let same_host = std::str::from_utf8(na.uri.host.trim_ascii_start())
        .ok()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        == Some(addr.ip());
    let reachable = !always && same_host && na.uri.port.unwrap_or(5060) == addr.port() && source.flow.is_none();
    if reachable || na.uri.param(ALIAS).is_some() || !na.uri.is_sip() {
        return None;
    }
    let ip = match addr.ip() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let mut alias = format!(";{ALIAS}={ip}~{}~{}", addr.port(), source.transport.proto_number());
    if let Some(f) = source.flow {
        alias.push_str(&format!("~{:x}~{:x}", f.shard, f.conn));
    }
    // Insert right after the URI: inside the brackets, before header params.
    let uri_end = na.uri_raw.as_ptr() as usize - value.as_ptr() as usize + na.uri_raw.len();
    let mut v = Vec::with_capacity(value.len() + alias.len() + 2);
    if na.bracketed {
        v.extend_from_slice(&value[..uri_end]);
        v.extend_from_slice(alias.as_bytes());
        v.extend_from_slice(&value[uri_end..]);
    } else {
        // Bare URI: its parameters would be header parameters; bracket it.
        v.push(b'<');
        v.extend_from_slice(na.uri_raw);
        v.extend_from_slice(alias.as_bytes());
        v.push(b'>');
        v.extend_from_slice(&value[uri_end..]);
    }
    let mut e = Editor::new(&msg);
    e.replace_value(i, &v);
    let mut out = Vec::with_capacity(bytes.len() + alias.len() + 2);
    e.write(&mut out);
    Some(out)
}

/// A registration from a device whose Contacts are taken as they are (its
/// profile's `nat = "never"`): reached at its first Contact's address and
/// transport (when an IP literal), not where the REGISTER came from.
pub(super) fn reach_at_contact(op: &mut crate::core::registrar::RegisterOp) {
    let hop = op.contacts.first().and_then(|c| sip::parse_uri(&c.uri).ok()).and_then(|u| hop_of_uri(&u));
    if let Some(hop) = hop {
        (op.source, op.transport, op.flow) = (hop.addr, hop.transport, None);
    }
}

/// A Request-URI carrying an alias: the URI without it and where to send.
pub(super) fn alias_target(ruri: &[u8]) -> Option<(Vec<u8>, NextHop)> {
    let u = sip::parse_uri(ruri).ok()?;
    let value = u.param(ALIAS)??;
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split('~');
    let ip: IpAddr = parts.next()?.trim_matches(['[', ']']).parse().ok()?;
    let port: u16 = parts.next()?.parse().ok()?;
    let transport = parts.next()?.parse().ok().and_then(Transport::from_proto_number)?;
    let flow = match (parts.next(), parts.next()) {
        (Some(s), Some(c)) => {
            Some(FlowId { shard: u16::from_str_radix(s, 16).ok()?, conn: u32::from_str_radix(c, 16).ok()? })
        }
        (None, None) => None,
        _ => return None,
    };
    // Cut ";alias=value" out of the URI, bytes around it kept as they were.
    let start = value.as_ptr() as usize - ruri.as_ptr() as usize - (ALIAS.len() + 2);
    let end = value.as_ptr() as usize - ruri.as_ptr() as usize + value.len();
    let mut uri = ruri[..start].to_vec();
    uri.extend_from_slice(&ruri[end..]);
    Some((uri, NextHop { transport, addr: SocketAddr::new(ip, port), flow }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_round_trip() {
        let (uri, hop) = alias_target(b"sip:bob@192.168.1.5:5062;alias=203.0.113.10~40000~1;ob").unwrap();
        assert_eq!(uri, b"sip:bob@192.168.1.5:5062;ob");
        assert_eq!((hop.transport, hop.addr), (Transport::Udp, "203.0.113.10:40000".parse().unwrap()));
        let (uri, hop) = alias_target(b"sip:bob@[fd00::5];alias=[2001:db8::1]~5070~2").unwrap();
        assert_eq!(uri, b"sip:bob@[fd00::5]");
        assert_eq!((hop.transport, hop.addr), (Transport::Tcp, "[2001:db8::1]:5070".parse().unwrap()));
        let (_, hop) = alias_target(b"sip:bob-1@127.0.0.1:40378;transport=tls;alias=127.0.0.1~40378~3~1~2f").unwrap();
        assert_eq!((hop.transport, hop.flow), (Transport::Tls, Some(FlowId { shard: 1, conn: 0x2f })));
        assert!(
            alias_target(b"sip:bob@192.168.1.5;alias=127.0.0.1~5060~2~1").is_none(),
            "a shard without a connection"
        );
        assert!(alias_target(b"sip:bob@192.168.1.5").is_none());
        assert!(alias_target(b"sip:bob@192.168.1.5;alias=garbage").is_none());
    }
}
