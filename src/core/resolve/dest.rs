//! A destination given by name: the host of a SIP URI that is not an IP
//! literal, with what the URI says of port, transport and security. Its
//! RFC 3263 reading is `select::first`.

use crate::core::Transport;
use crate::sip::{host_name, Scheme, Uri};
use std::fmt;

/// A name to resolve, lower-cased, without a trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dest {
    pub host: String,
    /// An explicit port: no NAPTR, no SRV (RFC 3263 §4.2).
    pub port: Option<u16>,
    /// A `transport` parameter: SRV for that transport only (§4.1).
    pub transport: Option<Transport>,
    /// `sips:`: TLS only (`_sips._tcp`).
    pub secure: bool,
}

impl Dest {
    /// The name a SIP or SIPS URI's host is, when it is one (None for an IP
    /// literal, `localhost`, another scheme or a host that is not a name).
    pub fn of_uri(uri: &Uri<'_>) -> Option<Dest> {
        if !uri.is_sip() {
            return None;
        }
        let transport = match uri.param("transport") {
            Some(Some(t)) => Some(Transport::from_uri_param(t)?),
            None => None,
            _ => return None,
        };
        Dest::named(std::str::from_utf8(uri.host).ok()?, uri.port, transport, uri.scheme == Scheme::Sips)
    }

    /// A destination by name from its parts; None when `host` is an IP
    /// literal, `localhost` or not a valid host name.
    pub fn named(host: &str, port: Option<u16>, transport: Option<Transport>, secure: bool) -> Option<Dest> {
        let host = host_name(host).filter(|h| h != "localhost")?;
        if matches!(transport, Some(Transport::Ws | Transport::Wss)) {
            return None; // the edge opens no WebSocket connections
        }
        Some(Dest { host, port, transport, secure })
    }

    /// The transport used when DNS does not say (no NAPTR, no SRV, or an
    /// explicit port): the URI's, else TLS for `sips:`, else UDP.
    pub fn default_transport(&self) -> Transport {
        self.transport.unwrap_or(if self.secure { Transport::Tls } else { Transport::Udp })
    }

    /// The port used when DNS does not say: 5061 for TLS, else 5060.
    pub fn default_port(&self) -> u16 {
        self.port.unwrap_or(if self.default_transport() == Transport::Tls { 5061 } else { 5060 })
    }
}

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", if self.secure { "sips" } else { "sip" }, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(t) = self.transport {
            write!(f, ";transport={}", t.label())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse_uri;

    fn dest(s: &str) -> Option<Dest> {
        Dest::of_uri(&parse_uri(s.as_bytes()).unwrap())
    }

    #[test]
    fn names_and_literals() {
        let d = dest("sip:bob@Core.Example.NET.:5080;transport=TCP").unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.transport, d.secure),
            ("core.example.net", Some(5080), Some(Transport::Tcp), false)
        );
        let d = dest("sips:trunk.carrier.example").unwrap();
        assert_eq!((d.default_transport(), d.default_port()), (Transport::Tls, 5061));
        assert_eq!(dest("sip:core.example.net").unwrap().default_port(), 5060);
        assert!(dest("sip:10.0.0.1").is_none());
        assert!(dest("sip:[2001:db8::1]:5060").is_none());
        assert!(dest("sip:localhost").is_none());
        assert!(dest("tel:+123").is_none());
        assert!(dest("sip:x.example;transport=sctp").is_none());
        assert!(dest("sip:x.example;transport=ws").is_none());
        assert_eq!(
            dest("sip:core.example.net;transport=tls").unwrap().to_string(),
            "sip:core.example.net;transport=tls"
        );
    }
}
