//! One binding: the packed, self-contained record (72 bytes inline plus
//! one heap block for its variable bytes), its accessors, and contact-URI
//! comparison. The layout is described in the `location` module doc.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::core::{FlowId, Transport};

use super::record::BindingRecord;
use super::{NewBinding, TooLarge};

pub(super) const F_V6: u8 = 1;
pub(super) const F_FLOW: u8 = 2;
pub(super) const F_INSTANCE: u8 = 4;
pub(super) const F_REG_ID: u8 = 8;

pub(super) type UserAgent = Arc<Box<[u8]>>;

/// One binding of an AOR: a plain, owned record (`Clone`, `PartialEq`,
/// serde). Fields are read through accessors because the storage is packed
/// (see the module doc); serde goes through a readable record with the same
/// field names, and `Debug` prints the decoded fields.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "BindingRecord", try_from = "BindingRecord")]
pub struct Binding {
    /// [IPv6 source address, when `F_V6`] aor | contact | call_id | instance
    /// | (u16 LE length, Path value)*
    pub(super) data: Box<[u8]>,
    pub(super) user_agent: Option<UserAgent>,
    pub(super) expires_at: u64,
    /// Unix seconds of the last refresh (until 2106: saturates beyond).
    pub(super) updated: u32,
    /// `ContactKey` of the contact: a binding that cannot match a new
    /// contact is passed over without reading its string block.
    pub(super) contact_key: ContactKey,
    /// The IPv4 source address (zero when `F_V6`).
    pub(super) ip4: [u8; 4],
    pub(super) cseq: u32,
    pub(super) reg_id: u32,
    pub(super) flow_conn: u32,
    pub(super) flow_shard: u16,
    pub(super) port: u16,
    pub(super) q: u16,
    pub(super) aor_end: u16,
    pub(super) contact_end: u16,
    pub(super) call_id_end: u16,
    pub(super) instance_end: u16,
    pub(super) transport: Transport,
    pub(super) flags: u8,
}

impl Binding {
    /// Checks the size limits of the packed layout.
    pub(super) fn check(aor: &[u8], b: &NewBinding<'_>) -> Result<(), TooLarge> {
        let fixed = 16 + aor.len() + b.contact.len() + b.call_id.len() + b.instance.map_or(0, <[u8]>::len);
        if fixed > usize::from(u16::MAX) || b.path.iter().any(|p| p.len() > usize::from(u16::MAX)) {
            return Err(TooLarge);
        }
        Ok(())
    }

    /// Builds a binding; `check` must have passed. `key`:
    /// `ContactKey::of(b.contact)`, which the caller may already hold.
    /// `data`: the string block of the binding it refreshes, when
    /// `same_strings` (the usual refresh).
    pub(super) fn build(
        aor: &[u8],
        b: &NewBinding<'_>,
        key: ContactKey,
        user_agent: Option<UserAgent>,
        data: Option<Box<[u8]>>,
    ) -> Binding {
        let mut flags = 0;
        let mut ip4 = [0; 4];
        let ip6 = match b.source.ip() {
            IpAddr::V4(v4) => {
                ip4 = v4.octets();
                None
            }
            IpAddr::V6(v6) => {
                flags |= F_V6;
                Some(v6.octets())
            }
        };
        let aor_end = ip6.map_or(0, |ip| ip.len()) + aor.len();
        let contact_end = aor_end + b.contact.len();
        let call_id_end = contact_end + b.call_id.len();
        let instance_end = call_id_end + b.instance.map_or(0, <[u8]>::len);
        let data = match data {
            Some(data) => data,
            None => {
                let len = instance_end + b.path.iter().map(|p| 2 + p.len()).sum::<usize>();
                let mut data = Vec::with_capacity(len);
                data.extend_from_slice(ip6.as_ref().map_or(&[][..], |ip| &ip[..]));
                data.extend_from_slice(aor);
                data.extend_from_slice(b.contact);
                data.extend_from_slice(b.call_id);
                data.extend_from_slice(b.instance.unwrap_or_default());
                for p in b.path {
                    data.extend_from_slice(&(p.len() as u16).to_le_bytes());
                    data.extend_from_slice(p);
                }
                data.into_boxed_slice()
            }
        };
        if b.flow.is_some() {
            flags |= F_FLOW;
        }
        if b.instance.is_some() {
            flags |= F_INSTANCE;
        }
        if b.reg_id.is_some() {
            flags |= F_REG_ID;
        }
        let flow = b.flow.unwrap_or(FlowId { shard: 0, conn: 0 });
        Binding {
            data,
            user_agent,
            expires_at: b.expires_at,
            updated: u32::try_from(b.updated).unwrap_or(u32::MAX),
            contact_key: key,
            ip4,
            cseq: b.cseq,
            reg_id: b.reg_id.unwrap_or(0),
            flow_conn: flow.conn,
            flow_shard: flow.shard,
            port: b.source.port(),
            q: b.q,
            aor_end: aor_end as u16,
            contact_end: contact_end as u16,
            call_id_end: call_id_end as u16,
            instance_end: instance_end as u16,
            transport: b.transport,
            flags,
        }
    }

    /// Whether `build(aor, b, ..)` would produce the same string block.
    pub(super) fn same_strings(&self, aor: &[u8], b: &NewBinding<'_>) -> bool {
        let ip6 = match b.source {
            SocketAddr::V6(a) => Some(a.ip().octets()),
            SocketAddr::V4(_) => None,
        };
        self.ip6() == ip6.as_ref().map(|ip| &ip[..])
            && self.aor() == aor
            && self.contact() == b.contact
            && self.call_id() == b.call_id
            && self.instance() == b.instance
            && self.path().eq(b.path.iter().copied())
    }

    /// Whether `b` refreshes or replaces this binding (see module doc);
    /// `key` is `ContactKey::of(b.contact)`, taken once for a whole list.
    pub fn is_replaced_by(&self, b: &NewBinding<'_>, key: ContactKey) -> bool {
        match (b.instance, b.reg_id) {
            (Some(instance), Some(reg_id)) => self.instance() == Some(instance) && self.reg_id() == Some(reg_id),
            _ => self.contact_key == key && uri_eq(self.contact(), b.contact),
        }
    }

    /// The `ContactKey` of this binding's contact.
    pub fn contact_key(&self) -> ContactKey {
        self.contact_key
    }

    /// The borrowed form of this binding, for `f` (e.g. to upsert it into
    /// another table). Allocates only when there are Path values.
    pub fn with_new<R>(&self, f: impl FnOnce(NewBinding<'_>) -> R) -> R {
        let path: Vec<&[u8]> = self.path().collect();
        f(NewBinding {
            contact: self.contact(),
            q: self.q,
            expires_at: self.expires_at,
            call_id: self.call_id(),
            cseq: self.cseq,
            source: self.source(),
            transport: self.transport,
            flow: self.flow(),
            path: &path,
            instance: self.instance(),
            reg_id: self.reg_id(),
            user_agent: self.user_agent(),
            updated: u64::from(self.updated),
        })
    }

    pub(super) fn ip6(&self) -> Option<&[u8]> {
        (self.flags & F_V6 != 0).then(|| &self.data[..16])
    }

    /// The address-of-record this binding belongs to.
    pub fn aor(&self) -> &[u8] {
        let start = if self.flags & F_V6 != 0 { 16 } else { 0 };
        &self.data[start..usize::from(self.aor_end)]
    }

    /// The Contact URI as the client sent it (no `<>`, no header params).
    pub fn contact(&self) -> &[u8] {
        &self.data[usize::from(self.aor_end)..usize::from(self.contact_end)]
    }

    /// q-value × 1000.
    pub fn q(&self) -> u16 {
        self.q
    }

    /// Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    pub fn call_id(&self) -> &[u8] {
        &self.data[usize::from(self.contact_end)..usize::from(self.call_id_end)]
    }

    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// Where the REGISTER came from (IPv6 without flow info and scope id).
    pub fn source(&self) -> SocketAddr {
        match self.ip6().and_then(|ip| <[u8; 16]>::try_from(ip).ok()) {
            Some(ip) => SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), self.port, 0, 0)),
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::from(self.ip4)), self.port),
        }
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The connection the REGISTER arrived on (stream transports).
    pub fn flow(&self) -> Option<FlowId> {
        (self.flags & F_FLOW != 0).then_some(FlowId { shard: self.flow_shard, conn: self.flow_conn })
    }

    /// Path header values in order (RFC 3327).
    pub fn path(&self) -> PathIter<'_> {
        PathIter { rest: &self.data[usize::from(self.instance_end)..] }
    }

    /// `+sip.instance` value as sent.
    pub fn instance(&self) -> Option<&[u8]> {
        (self.flags & F_INSTANCE != 0)
            .then(|| &self.data[usize::from(self.call_id_end)..usize::from(self.instance_end)])
    }

    pub fn reg_id(&self) -> Option<u32> {
        (self.flags & F_REG_ID != 0).then_some(self.reg_id)
    }

    pub fn user_agent(&self) -> Option<&[u8]> {
        self.user_agent.as_deref().map(|b| &**b)
    }

    /// Unix seconds of the last refresh.
    pub fn updated(&self) -> u64 {
        u64::from(self.updated)
    }

    /// A binding on its own (not in a table), its user agent not interned.
    pub fn from_new(aor: &[u8], b: &NewBinding<'_>) -> Result<Binding, TooLarge> {
        Binding::check(aor, b)?;
        Ok(Binding::build(
            aor,
            b,
            ContactKey::of(b.contact),
            b.user_agent.map(|u| Arc::new(u.to_vec().into_boxed_slice())),
            None,
        ))
    }

    /// The same binding with its expiry and update time moved to another
    /// clock (a binding read from the shared store, `shared::decode`).
    pub fn retimed(mut self, expires_at: u64, updated: u64) -> Binding {
        self.expires_at = expires_at;
        self.updated = u32::try_from(updated).unwrap_or(u32::MAX);
        self
    }
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_struct("Binding")
            .field("aor", &s(self.aor()))
            .field("contact", &s(self.contact()))
            .field("q", &self.q)
            .field("expires_at", &self.expires_at)
            .field("call_id", &s(self.call_id()))
            .field("cseq", &self.cseq)
            .field("source", &self.source())
            .field("transport", &self.transport)
            .field("flow", &self.flow())
            .field("path", &self.path().map(s).collect::<Vec<_>>())
            .field("instance", &self.instance().map(s))
            .field("reg_id", &self.reg_id())
            .field("user_agent", &self.user_agent().map(s))
            .field("updated", &self.updated)
            .finish()
    }
}

/// Path values of a binding.
#[derive(Clone, Debug)]
pub struct PathIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for PathIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.rest.split_first_chunk::<2>()?;
        let (value, rest) = rest.split_at(usize::from(u16::from_le_bytes(*len)));
        self.rest = rest;
        Some(value)
    }
}

/// RFC 3261 §19.1.4, simplified: scheme and host case-insensitive, all else
/// byte for byte.
/// A 32-bit hash of a contact URI under the equality of `uri_eq`: the
/// scheme and host are hashed without case, the rest as sent, so equal URIs
/// have equal keys. Comparing keys first spares reading and parsing the
/// stored contact of every binding of an AOR that a REGISTER does not name
/// (with eight bindings an AOR, those reads were 10 % of a shard's CPU per
/// REGISTER, nearly all of it cache misses on the string blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContactKey(u32);

impl ContactKey {
    pub fn of(uri: &[u8]) -> ContactKey {
        let (scheme, (h0, h1)) = uri_parts(uri);
        // FNV-1a, 32 bits: a few dozen bytes, once per contact of a request.
        let mut h: u32 = 0x811c_9dc5;
        for (i, &c) in uri.iter().enumerate() {
            let fold = i < scheme || (h0..h1).contains(&i);
            h = (h ^ u32::from(if fold { c.to_ascii_lowercase() } else { c })).wrapping_mul(0x0100_0193);
        }
        ContactKey(h)
    }
}

pub(super) fn uri_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a == b {
        // a refresh repeats its Contact byte for byte
        return true;
    }
    let (sa, ha) = (uri_parts(a), uri_parts(b));
    if sa != ha {
        return false;
    }
    let (scheme, (h0, h1)) = sa;
    a[..scheme].eq_ignore_ascii_case(&b[..scheme])
        && a[scheme..h0] == b[scheme..h0]
        && a[h0..h1].eq_ignore_ascii_case(&b[h0..h1])
        && a[h1..] == b[h1..]
}

/// (end of scheme, host range) of a URI; an opaque string yields empty ranges.
pub(super) fn uri_parts(u: &[u8]) -> (usize, (usize, usize)) {
    let Some(colon) = u.iter().position(|&c| c == b':') else {
        return (0, (0, 0));
    };
    let rest = colon + 1;
    let end = u[rest..].iter().position(|&c| c == b'?').map_or(u.len(), |p| rest + p);
    let start = u[rest..end].iter().position(|&c| c == b'@').map_or(rest, |p| rest + p + 1);
    let host_end = if u.get(start) == Some(&b'[') {
        u[start..end].iter().position(|&c| c == b']').map_or(end, |p| start + p + 1)
    } else {
        u[start..end].iter().position(|&c| matches!(c, b':' | b';')).map_or(end, |p| start + p)
    };
    (colon, (start, host_end))
}
