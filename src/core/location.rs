//! The shard's slice of the location table (RFC 3261 §10.3 bindings).
//!
//! Owns: the bindings of every address-of-record that `shard_of(aor)` maps
//! to this shard, their expiry (through a per-shard `timer::Wheel`, never by
//! scanning), and the interned user-agent strings. It does not decide
//! anything about REGISTER (that is `registrar`): it stores, replaces,
//! removes and expires what it is told, with time passed in.
//!
//! Memory is the point of most choices here (a shard may hold millions).
//! Measured by `benches/location_memory.rs` (1M AORs, one typical binding
//! each, mimalloc): about 240 bytes of RSS and 220 of live heap per binding,
//! one allocation per binding.
//! - `Binding` is 72 bytes inline, with ONE heap block holding all its
//!   variable bytes: the AOR, contact, Call-ID, instance and Path values
//!   (`u16` offsets), and the IPv6 source address when there is one (IPv4
//!   stays inline). Each binding carries its AOR, so it is a self-contained
//!   record for replication, and the table stores no separate key. IPv6 flow
//!   info and scope id are not kept (clients of an edge have global
//!   addresses). The user agent is interned per shard and shared as a thin
//!   `Arc` (8 bytes; `Arc` rather than `Rc` so a `Binding` stays `Send`);
//!   unused ones are swept when the interner doubles.
//! - AORs live in a slab (`Vec<Bindings>`), the binding inline when there is
//!   one (the usual case), a `Vec` otherwise. The hash index maps a keyed
//!   32-bit SipHash of the AOR to the slot (9 bytes a bucket instead of 33
//!   for `HashMap<Box<[u8]>, Vec<Binding>>`, plus no key allocation); the few
//!   AORs whose 32-bit hash is already taken by another AOR go to a small
//!   overflow map keyed by the bytes, so lookups stay exact. Vacant slots are
//!   reused; the slab keeps the capacity of its peak until the table drains.
//! - The wheel key is the slot number (`u32`), not the AOR bytes: when it
//!   fires, every binding of that slot with `expires_at <= now` goes. That
//!   is the lazy cancellation: a refreshed or removed binding leaves a stale
//!   entry that finds nothing to do, and a slot reused by another AOR only
//!   ever loses bindings that are themselves expired. Invariant: every
//!   binding has a wheel entry at its own `expires_at` on its own slot.
//!
//! Contact comparison (§10.3 step 7, §19.1.4 simplified): byte equality
//! after lower-casing scheme and host; user part, port, parameters and
//! headers compare byte for byte. Contacts are the URI as sent, without the
//! `<>` and without the header parameters (expires, q, +sip.instance ...).
//! When the new binding carries both `+sip.instance` and `reg-id`
//! (RFC 5626 §6), the binding of the same instance and reg-id is replaced
//! instead (instance compared byte for byte).

use std::borrow::Borrow;
use std::collections::hash_map::{Entry as MapEntry, RandomState};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::timer::Wheel;
use crate::core::{FlowId, Transport};

/// Buckets of the expiry wheel: one revolution is 68 minutes, above the
/// usual 3600 s registration, so almost every entry fires on its first pass.
pub const WHEEL_SLOTS: usize = 4096;

/// A binding to insert or refresh, borrowed from the parsed REGISTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewBinding<'a> {
    /// The Contact URI as sent, without `<>` and header parameters.
    pub contact: &'a [u8],
    /// q-value × 1000; 1000 when absent.
    pub q: u16,
    /// Unix seconds.
    pub expires_at: u64,
    pub call_id: &'a [u8],
    pub cseq: u32,
    pub source: SocketAddr,
    pub transport: Transport,
    pub flow: Option<FlowId>,
    /// Path header values in order (RFC 3327), possibly empty.
    pub path: &'a [&'a [u8]],
    /// `+sip.instance` value as sent (RFC 5626).
    pub instance: Option<&'a [u8]>,
    pub reg_id: Option<u32>,
    pub user_agent: Option<&'a [u8]>,
    /// Unix seconds of this registration.
    pub updated: u64,
}

/// A binding does not fit the compact layout: AOR + contact + Call-ID +
/// instance over 65519 bytes, or one Path value over 65535 bytes. Such a
/// REGISTER deserves a 4xx before it gets here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge;

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("binding too large (AOR + contact + Call-ID + instance over 65519 bytes, or a Path value over 65535)")
    }
}

impl std::error::Error for TooLarge {}

/// What `upsert` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    /// A new binding (and possibly a new AOR).
    Added,
    /// An existing binding (same contact, or same instance + reg-id) was
    /// refreshed or replaced.
    Updated,
}

const F_V6: u8 = 1;
const F_FLOW: u8 = 2;
const F_INSTANCE: u8 = 4;
const F_REG_ID: u8 = 8;

type UserAgent = Arc<Box<[u8]>>;

/// One binding of an AOR: a plain, owned record (`Clone`, `PartialEq`,
/// serde). Fields are read through accessors because the storage is packed
/// (see the module doc); serde goes through a readable record with the same
/// field names, and `Debug` prints the decoded fields.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "BindingRecord", try_from = "BindingRecord")]
pub struct Binding {
    /// [IPv6 source address, when `F_V6`] aor | contact | call_id | instance
    /// | (u16 LE length, Path value)*
    data: Box<[u8]>,
    user_agent: Option<UserAgent>,
    expires_at: u64,
    updated: u64,
    /// The IPv4 source address (zero when `F_V6`).
    ip4: [u8; 4],
    cseq: u32,
    reg_id: u32,
    flow_conn: u32,
    flow_shard: u16,
    port: u16,
    q: u16,
    aor_end: u16,
    contact_end: u16,
    call_id_end: u16,
    instance_end: u16,
    transport: Transport,
    flags: u8,
}

impl Binding {
    /// Checks the size limits of the packed layout.
    fn check(aor: &[u8], b: &NewBinding<'_>) -> Result<(), TooLarge> {
        let fixed =
            16 + aor.len() + b.contact.len() + b.call_id.len() + b.instance.map_or(0, <[u8]>::len);
        if fixed > usize::from(u16::MAX) || b.path.iter().any(|p| p.len() > usize::from(u16::MAX)) {
            return Err(TooLarge);
        }
        Ok(())
    }

    /// Builds a binding; `check` must have passed. `data`: the string block
    /// of the binding it refreshes, when `same_strings` (the usual refresh).
    fn build(
        aor: &[u8],
        b: &NewBinding<'_>,
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
            updated: b.updated,
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
    fn same_strings(&self, aor: &[u8], b: &NewBinding<'_>) -> bool {
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

    /// Whether `b` refreshes or replaces this binding (see module doc).
    pub fn is_replaced_by(&self, b: &NewBinding<'_>) -> bool {
        match (b.instance, b.reg_id) {
            (Some(instance), Some(reg_id)) => {
                self.instance() == Some(instance) && self.reg_id() == Some(reg_id)
            }
            _ => uri_eq(self.contact(), b.contact),
        }
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
            updated: self.updated,
        })
    }

    fn ip6(&self) -> Option<&[u8]> {
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
        (self.flags & F_FLOW != 0).then_some(FlowId {
            shard: self.flow_shard,
            conn: self.flow_conn,
        })
    }

    /// Path header values in order (RFC 3327).
    pub fn path(&self) -> PathIter<'_> {
        PathIter {
            rest: &self.data[usize::from(self.instance_end)..],
        }
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
        self.updated
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

/// The serde shape of a `Binding`: readable, self-contained (the user agent
/// is written out, not as a shard-local id).
#[derive(Serialize, Deserialize)]
#[serde(rename = "Binding")]
struct BindingRecord {
    aor: Bytes,
    contact: Bytes,
    q: u16,
    expires_at: u64,
    call_id: Bytes,
    cseq: u32,
    source: SocketAddr,
    #[serde(with = "transport_label")]
    transport: Transport,
    flow: Option<FlowRecord>,
    #[serde(default)]
    path: Vec<Bytes>,
    instance: Option<Bytes>,
    reg_id: Option<u32>,
    user_agent: Option<Bytes>,
    updated: u64,
}

#[derive(Serialize, Deserialize)]
struct FlowRecord {
    shard: u16,
    conn: u32,
}

impl From<Binding> for BindingRecord {
    fn from(b: Binding) -> Self {
        BindingRecord {
            aor: Bytes(b.aor().to_vec()),
            contact: Bytes(b.contact().to_vec()),
            q: b.q,
            expires_at: b.expires_at,
            call_id: Bytes(b.call_id().to_vec()),
            cseq: b.cseq,
            source: b.source(),
            transport: b.transport,
            flow: b.flow().map(|f| FlowRecord {
                shard: f.shard,
                conn: f.conn,
            }),
            path: b.path().map(|p| Bytes(p.to_vec())).collect(),
            instance: b.instance().map(|i| Bytes(i.to_vec())),
            reg_id: b.reg_id(),
            user_agent: b.user_agent().map(|u| Bytes(u.to_vec())),
            updated: b.updated,
        }
    }
}

impl TryFrom<BindingRecord> for Binding {
    type Error = TooLarge;

    fn try_from(r: BindingRecord) -> Result<Self, TooLarge> {
        let path: Vec<&[u8]> = r.path.iter().map(|p| &p.0[..]).collect();
        let nb = NewBinding {
            contact: &r.contact.0,
            q: r.q,
            expires_at: r.expires_at,
            call_id: &r.call_id.0,
            cseq: r.cseq,
            source: r.source,
            transport: r.transport,
            flow: r.flow.as_ref().map(|f| FlowId {
                shard: f.shard,
                conn: f.conn,
            }),
            path: &path,
            instance: r.instance.as_ref().map(|i| &i.0[..]),
            reg_id: r.reg_id,
            user_agent: None,
            updated: r.updated,
        };
        Binding::check(&r.aor.0, &nb)?;
        let ua = r.user_agent.map(|u| Arc::new(u.0.into_boxed_slice()));
        Ok(Binding::build(&r.aor.0, &nb, ua, None))
    }
}

/// Raw bytes on the wire of serde: a string when UTF-8 (readable JSON), bytes
/// otherwise; both read back (binary formats encode the two alike).
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or bytes")
            }
            fn visit_str<E>(self, v: &str) -> Result<Bytes, E> {
                Ok(Bytes(v.as_bytes().to_vec()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_string<E>(self, v: String) -> Result<Bytes, E> {
                Ok(Bytes(v.into_bytes()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Bytes, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element()? {
                    v.push(b);
                }
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

mod transport_label {
    use super::Transport;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Transport, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.label())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Transport, D::Error> {
        let label = String::deserialize(d)?;
        Transport::ALL
            .into_iter()
            .find(|t| t.label().eq_ignore_ascii_case(&label))
            .ok_or_else(|| D::Error::custom(format_args!("unknown transport {label:?}")))
    }
}

/// RFC 3261 §19.1.4, simplified: scheme and host case-insensitive, all else
/// byte for byte.
fn uri_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
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
fn uri_parts(u: &[u8]) -> (usize, (usize, usize)) {
    let Some(colon) = u.iter().position(|&c| c == b':') else {
        return (0, (0, 0));
    };
    let rest = colon + 1;
    let end = u[rest..]
        .iter()
        .position(|&c| c == b'?')
        .map_or(u.len(), |p| rest + p);
    let start = u[rest..end]
        .iter()
        .position(|&c| c == b'@')
        .map_or(rest, |p| rest + p + 1);
    let host_end = if u.get(start) == Some(&b'[') {
        u[start..end]
            .iter()
            .position(|&c| c == b']')
            .map_or(end, |p| start + p + 1)
    } else {
        u[start..end]
            .iter()
            .position(|&c| matches!(c, b':' | b';'))
            .map_or(end, |p| start + p)
    };
    (colon, (start, host_end))
}

/// The bindings of one AOR: inline when there is one. A slot with no
/// binding (`Many` of an empty vector) is vacant.
#[derive(Debug)]
enum Bindings {
    One(Binding),
    Many(Vec<Binding>),
}

impl Bindings {
    const VACANT: Bindings = Bindings::Many(Vec::new());

    fn as_slice(&self) -> &[Binding] {
        match self {
            Bindings::One(b) => std::slice::from_ref(b),
            Bindings::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Binding] {
        match self {
            Bindings::One(b) => std::slice::from_mut(b),
            Bindings::Many(v) => v,
        }
    }

    fn push(&mut self, b: Binding) {
        match std::mem::replace(self, Bindings::VACANT) {
            Bindings::One(first) => *self = Bindings::Many(vec![first, b]),
            Bindings::Many(v) if v.is_empty() => *self = Bindings::One(b),
            Bindings::Many(mut v) => {
                v.push(b);
                *self = Bindings::Many(v);
            }
        }
    }

    /// Drops the bindings for which `drop(position, binding)` holds, keeping
    /// the order of the others (the caller knows some, not all, go).
    fn drop_some(&mut self, drop: impl Fn(usize, &Binding) -> bool) {
        if let Bindings::Many(v) = self {
            let mut k = 0;
            v.retain(|b| {
                k += 1;
                !drop(k - 1, b)
            });
            if v.len() == 1 {
                *self = Bindings::One(v.pop().expect("one binding"));
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Bindings::Many(v) if v.is_empty())
    }
}

/// Hasher for keys that already are a keyed hash: spreads the 32 bits over
/// the 64 (the table uses the top bits as tags) without rehashing.
#[derive(Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

/// An interned user agent, looked up by its bytes.
struct UaKey(UserAgent);

impl Borrow<[u8]> for UaKey {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl Hash for UaKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (**self.0).hash(h)
    }
}

impl PartialEq for UaKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for UaKey {}

/// The shard's slice of the location table.
pub struct Location {
    /// Keyed 32-bit hash of the AOR -> slot.
    index: HashMap<u32, u32, BuildHasherDefault<Spread>>,
    /// AORs whose 32-bit hash was taken by another AOR when they arrived.
    overflow: HashMap<Box<[u8]>, u32>,
    hasher: RandomState,
    /// The bindings of each AOR (the AOR bytes are in each binding).
    slots: Vec<Bindings>,
    free: Vec<u32>,
    wheel: Wheel<u32>,
    fired: Vec<u32>,
    user_agents: HashSet<UaKey>,
    /// Interner size at which unused user agents are swept.
    ua_sweep_at: usize,
    bindings: usize,
    aors: usize,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("aors", &self.aors)
            .field("bindings", &self.bindings)
            .field("timers", &self.wheel.len())
            .field("user_agents", &self.user_agents.len())
            .finish()
    }
}

impl Location {
    pub fn new(now: u64) -> Self {
        Location {
            index: HashMap::default(),
            overflow: HashMap::new(),
            hasher: RandomState::new(),
            slots: Vec::new(),
            free: Vec::new(),
            wheel: Wheel::new(now, WHEEL_SLOTS),
            fired: Vec::new(),
            user_agents: HashSet::new(),
            ua_sweep_at: 1024,
            bindings: 0,
            aors: 0,
        }
    }

    /// The bindings of `aor`, in the order they were added (empty if none).
    pub fn get(&self, aor: &[u8]) -> &[Binding] {
        match self.find(aor) {
            Some(i) => self.slots[i as usize].as_slice(),
            None => &[],
        }
    }

    /// Inserts a binding for `aor`, or refreshes/replaces the one it matches
    /// (same contact URI, or same instance + reg-id when both are given; see
    /// the module doc), and schedules its expiry. Refreshing with the same
    /// strings reuses the binding's string block.
    pub fn upsert(&mut self, aor: &[u8], b: NewBinding<'_>) -> Result<Upserted, TooLarge> {
        Binding::check(aor, &b)?;
        let ua = b.user_agent.map(|u| self.intern(u));
        let h = self.hash32(aor);
        let slot = match self.find_hashed(aor, h) {
            Some(i) => {
                let bindings = &mut self.slots[i as usize];
                if let Some(old) = bindings
                    .as_mut_slice()
                    .iter_mut()
                    .find(|x| x.is_replaced_by(&b))
                {
                    let data = old
                        .same_strings(aor, &b)
                        .then(|| std::mem::take(&mut old.data));
                    *old = Binding::build(aor, &b, ua, data);
                    self.wheel.schedule(b.expires_at, i);
                    return Ok(Upserted::Updated);
                }
                bindings.push(Binding::build(aor, &b, ua, None));
                i
            }
            None => self.add_slot(h, Binding::build(aor, &b, ua, None)),
        };
        self.bindings += 1;
        self.wheel.schedule(b.expires_at, slot);
        Ok(Upserted::Added)
    }

    /// `upsert` of an owned binding (e.g. one replicated from another edge).
    pub fn upsert_binding(&mut self, aor: &[u8], b: &Binding) -> Result<Upserted, TooLarge> {
        b.with_new(|nb| self.upsert(aor, nb))
    }

    /// Removes the binding of `aor` whose contact URI matches `contact`.
    pub fn remove(&mut self, aor: &[u8], contact: &[u8]) -> bool {
        let Some(i) = self.find(aor) else {
            return false;
        };
        let Some(pos) = self.slots[i as usize]
            .as_slice()
            .iter()
            .position(|b| uri_eq(b.contact(), contact))
        else {
            return false;
        };
        self.drop_where(i, |k, _| k == pos) > 0
    }

    /// Removes the binding of `aor` with this `+sip.instance` and reg-id
    /// (RFC 5626 §6: Expires 0 on an outbound registration).
    pub fn remove_instance(&mut self, aor: &[u8], instance: &[u8], reg_id: u32) -> bool {
        let Some(i) = self.find(aor) else {
            return false;
        };
        self.drop_where(i, |_, b| {
            b.instance() == Some(instance) && b.reg_id() == Some(reg_id)
        }) > 0
    }

    /// Removes every binding of `aor`; returns how many.
    pub fn remove_all(&mut self, aor: &[u8]) -> usize {
        let Some(i) = self.find(aor) else { return 0 };
        self.drop_where(i, |_, _| true)
    }

    /// Drops every binding whose `expires_at <= now`; returns how many.
    /// Driven by the wheel: touches only the AORs with a timer due.
    pub fn expire(&mut self, now: u64) -> usize {
        let mut fired = std::mem::take(&mut self.fired);
        self.wheel.advance(now, &mut fired);
        let mut total = 0;
        for &i in &fired {
            // A stale entry may name a freed slot, or one given back
            // (`drop_where`): both hold nothing.
            if self.slots.get(i as usize).is_some_and(|b| !b.is_empty()) {
                total += self.drop_where(i, |_, b| b.expires_at <= now);
            }
        }
        fired.clear();
        if fired.capacity() > 4096 {
            fired.shrink_to(4096);
        }
        self.fired = fired;
        total
    }

    /// Bindings on this shard.
    pub fn bindings(&self) -> usize {
        self.bindings
    }

    /// AORs with at least one binding on this shard.
    pub fn aors(&self) -> usize {
        self.aors
    }

    /// Expiry timers pending (stale ones of refreshed or removed bindings
    /// included): a gauge for the shard's metrics.
    pub fn timers(&self) -> usize {
        self.wheel.len()
    }

    /// Distinct user agents interned (including not yet swept unused ones).
    pub fn user_agents(&self) -> usize {
        self.user_agents.len()
    }

    fn hash32(&self, aor: &[u8]) -> u32 {
        self.hasher.hash_one(aor) as u32
    }

    fn find(&self, aor: &[u8]) -> Option<u32> {
        self.find_hashed(aor, self.hash32(aor))
    }

    fn find_hashed(&self, aor: &[u8], h: u32) -> Option<u32> {
        if let Some(&i) = self.index.get(&h) {
            if self.slots[i as usize]
                .as_slice()
                .first()
                .is_some_and(|b| b.aor() == aor)
            {
                return Some(i);
            }
        }
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow.get(aor).copied()
    }

    /// Adds a slot for `first.aor()` (hash `h`), known to be absent.
    fn add_slot(&mut self, h: u32, first: Binding) -> u32 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).expect("under 2^32 AORs per shard");
                self.slots.push(Bindings::VACANT);
                i
            }
        };
        match self.index.entry(h) {
            MapEntry::Vacant(v) => {
                v.insert(i);
            }
            MapEntry::Occupied(_) => {
                self.overflow.insert(first.aor().into(), i);
            }
        }
        self.slots[i as usize] = Bindings::One(first);
        self.aors += 1;
        i
    }

    /// Drops the bindings of slot `i` for which `drop(position, binding)`
    /// holds; frees the slot when none is left. Returns how many went.
    fn drop_where(&mut self, i: u32, drop: impl Fn(usize, &Binding) -> bool) -> usize {
        let bindings = &mut self.slots[i as usize];
        let (len, dropping) = {
            let list = bindings.as_slice();
            (
                list.len(),
                list.iter().enumerate().filter(|(k, b)| drop(*k, b)).count(),
            )
        };
        self.bindings -= dropping;
        if dropping < len {
            if dropping > 0 {
                bindings.drop_some(drop);
            }
            return dropping;
        }
        let gone = std::mem::replace(bindings, Bindings::VACANT);
        let aor = gone.as_slice()[0].aor();
        match self.index.entry(self.hasher.hash_one(aor) as u32) {
            MapEntry::Occupied(e) if *e.get() == i => {
                e.remove();
            }
            _ => {
                self.overflow.remove(aor);
            }
        }
        self.free.push(i);
        self.aors -= 1;
        if self.aors == 0 {
            // Fully drained (e.g. the shard lost its clients): give the
            // slab and the index back. Stale timers of freed slots are
            // skipped by `expire`, whatever their slot number.
            self.slots = Vec::new();
            self.free = Vec::new();
            self.index = HashMap::default();
            self.overflow = HashMap::new();
        } else if self.index.capacity() > 1024 && self.index.len() < self.index.capacity() / 4 {
            self.index.shrink_to(self.index.len() * 2);
        }
        dropping
    }

    fn intern(&mut self, ua: &[u8]) -> UserAgent {
        if let Some(k) = self.user_agents.get(ua) {
            return k.0.clone();
        }
        if self.user_agents.len() >= self.ua_sweep_at {
            // Amortised O(1): sweep only when the interner doubled.
            self.user_agents.retain(|k| Arc::strong_count(&k.0) > 1);
            self.ua_sweep_at = (self.user_agents.len() * 2).max(1024);
        }
        let ua: UserAgent = Arc::new(ua.into());
        self.user_agents.insert(UaKey(ua.clone()));
        ua
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AOR: &[u8] = b"sip:+4915112345678@example.com";
    const CONTACT: &[u8] = b"sip:+4915112345678@198.51.100.7:49152;transport=udp;ob";
    const CALL_ID: &[u8] = b"a84b4c76e66710a84b4c76e66710abcd";
    const UA: &[u8] = b"Linphone/5.2.5 (Android 13)";

    fn nb(contact: &[u8], expires_at: u64) -> NewBinding<'_> {
        NewBinding {
            contact,
            q: 1000,
            expires_at,
            call_id: CALL_ID,
            cseq: 1,
            source: "198.51.100.7:49152".parse().unwrap(),
            transport: Transport::Udp,
            flow: None,
            path: &[],
            instance: None,
            reg_id: None,
            user_agent: Some(UA),
            updated: 1000,
        }
    }

    #[test]
    fn layout_stays_small() {
        assert!(
            std::mem::size_of::<Binding>() <= 72,
            "{}",
            std::mem::size_of::<Binding>()
        );
        assert!(
            std::mem::size_of::<Bindings>() <= 72,
            "{}",
            std::mem::size_of::<Bindings>()
        );
    }

    #[test]
    fn upsert_new_then_refresh_keeps_one_binding() {
        let mut loc = Location::new(1000);
        assert_eq!(loc.upsert(AOR, nb(CONTACT, 4600)), Ok(Upserted::Added));
        let got = loc.get(AOR);
        assert_eq!(got.len(), 1);
        let b = &got[0];
        assert_eq!(b.aor(), AOR);
        assert_eq!(b.contact(), CONTACT);
        assert_eq!(b.call_id(), CALL_ID);
        assert_eq!(b.q(), 1000);
        assert_eq!(b.expires_at(), 4600);
        assert_eq!(
            b.source(),
            "198.51.100.7:49152".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(b.transport(), Transport::Udp);
        assert_eq!(b.flow(), None);
        assert_eq!(b.path().count(), 0);
        assert_eq!(b.instance(), None);
        assert_eq!(b.reg_id(), None);
        assert_eq!(b.user_agent(), Some(UA));
        assert_eq!(b.updated(), 1000);

        // Refresh: same contact, differently cased scheme and host.
        let mut r = nb(
            b"SIP:+4915112345678@198.51.100.7:49152;transport=udp;ob",
            5000,
        );
        r.cseq = 2;
        r.updated = 1400;
        assert_eq!(loc.upsert(AOR, r), Ok(Upserted::Updated));
        let b = &loc.get(AOR)[0];
        assert_eq!((b.cseq(), b.expires_at(), b.updated()), (2, 5000, 1400));
        assert_eq!((loc.aors(), loc.bindings()), (1, 1));
        assert_eq!(loc.user_agents(), 1);

        // Same contact from a new (IPv6) source: the string block is rebuilt.
        let mut r6 = nb(CONTACT, 5000);
        r6.source = "[2001:db8::1]:5060".parse().unwrap();
        assert_eq!(loc.upsert(AOR, r6), Ok(Upserted::Updated));
        let b = &loc.get(AOR)[0];
        assert_eq!((b.aor(), b.contact(), b.call_id()), (AOR, CONTACT, CALL_ID));
        assert_eq!(
            b.source(),
            "[2001:db8::1]:5060".parse::<SocketAddr>().unwrap()
        );
        let mut r4 = nb(CONTACT, 5000);
        r4.source = "192.0.2.44:5070".parse().unwrap();
        loc.upsert(AOR, r4).unwrap();
        assert_eq!(
            loc.get(AOR)[0].source(),
            "192.0.2.44:5070".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(loc.get(AOR)[0].contact(), CONTACT);

        // A different user part is a different contact.
        assert_eq!(
            loc.upsert(
                AOR,
                nb(
                    b"sip:+4915112345679@198.51.100.7:49152;transport=udp;ob",
                    5000
                )
            ),
            Ok(Upserted::Added)
        );
        assert_eq!((loc.aors(), loc.bindings()), (1, 2));
    }

    #[test]
    fn replace_by_instance_and_reg_id() {
        let mut loc = Location::new(0);
        let inst: &[u8] = b"\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
        let mut a = nb(b"sip:alice@192.0.2.1:5060;transport=tcp", 3600);
        a.instance = Some(inst);
        a.reg_id = Some(1);
        a.transport = Transport::Tcp;
        a.flow = Some(FlowId { shard: 3, conn: 77 });
        let path: [&[u8]; 2] = [b"<sip:edge1.example.com;lr;ob>", b"<sip:p2.example.com;lr>"];
        a.path = &path;
        assert_eq!(loc.upsert(b"sip:alice@example.com", a), Ok(Upserted::Added));
        // Same instance, other reg-id: a second flow of the same device.
        let mut b2 = a;
        b2.contact = b"sip:alice@192.0.2.1:5062;transport=tcp";
        b2.reg_id = Some(2);
        assert_eq!(
            loc.upsert(b"sip:alice@example.com", b2),
            Ok(Upserted::Added)
        );
        // New contact address (NAT rebinding), same instance + reg-id 1: replaces.
        let mut a2 = a;
        a2.contact = b"sip:alice@203.0.113.9:41000;transport=tcp";
        a2.flow = Some(FlowId { shard: 3, conn: 99 });
        a2.path = &[];
        assert_eq!(
            loc.upsert(b"sip:alice@example.com", a2),
            Ok(Upserted::Updated)
        );
        let got = loc.get(b"sip:alice@example.com");
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].contact(),
            b"sip:alice@203.0.113.9:41000;transport=tcp"
        );
        assert_eq!(got[0].flow(), Some(FlowId { shard: 3, conn: 99 }));
        assert_eq!(got[0].path().count(), 0);
        assert_eq!(got[0].instance(), Some(inst));
        assert_eq!(got[1].reg_id(), Some(2));
        assert_eq!(got[1].path().collect::<Vec<_>>(), path.to_vec());
        assert_eq!(loc.bindings(), 2);
        assert!(!loc.remove_instance(b"sip:alice@example.com", inst, 3));
        assert!(loc.remove_instance(b"sip:alice@example.com", inst, 1));
        assert_eq!(loc.get(b"sip:alice@example.com")[0].reg_id(), Some(2));
        assert_eq!(loc.bindings(), 1);
    }

    #[test]
    fn remove_and_remove_all() {
        let mut loc = Location::new(0);
        loc.upsert(AOR, nb(b"sip:a@192.0.2.1", 100)).unwrap();
        loc.upsert(AOR, nb(b"sip:b@192.0.2.1", 100)).unwrap();
        loc.upsert(AOR, nb(b"sip:c@192.0.2.1", 100)).unwrap();
        loc.upsert(b"sip:other@example.com", nb(b"sip:o@192.0.2.1", 100))
            .unwrap();
        assert_eq!((loc.aors(), loc.bindings()), (2, 4));
        assert!(loc.remove(AOR, b"sip:b@192.0.2.1"));
        assert!(!loc.remove(AOR, b"sip:b@192.0.2.1"));
        assert!(!loc.remove(b"sip:nobody@example.com", b"sip:b@192.0.2.1"));
        assert!(
            !loc.remove(AOR, b"sip:A@192.0.2.1"),
            "user part is case-sensitive"
        );
        assert!(loc.remove(AOR, b"sip:a@192.0.2.1"));
        assert_eq!(loc.get(AOR).len(), 1);
        assert_eq!((loc.aors(), loc.bindings()), (2, 2));
        assert_eq!(loc.remove_all(AOR), 1);
        assert_eq!(loc.remove_all(AOR), 0);
        assert!(loc.get(AOR).is_empty());
        assert_eq!((loc.aors(), loc.bindings()), (1, 1));
        // A removed AOR's stale timers do no harm, also once its slot is reused.
        loc.upsert(b"sip:new@example.com", nb(b"sip:n@192.0.2.1", 500))
            .unwrap();
        assert_eq!(loc.expire(100), 1); // sip:other only
        assert_eq!(loc.get(b"sip:new@example.com").len(), 1);
        assert_eq!(loc.expire(499), 0);
        assert_eq!(loc.expire(500), 1);
        assert_eq!((loc.aors(), loc.bindings(), loc.timers()), (0, 0, 0));
    }

    #[test]
    fn expiry_fires_within_the_second_through_the_wheel() {
        let mut loc = Location::new(1_700_000_000);
        let t0 = 1_700_000_000u64;
        for k in 0..300u64 {
            let aor = format!("sip:+49151{k:08}@example.com");
            let contact = format!("sip:+49151{k:08}@198.51.100.7:{}", 1024 + k);
            loc.upsert(
                aor.as_bytes(),
                nb(contact.as_bytes(), t0 + 1 + k * 37 % 5000),
            )
            .unwrap();
        }
        assert_eq!(loc.bindings(), 300);
        let mut seen = 0;
        for now in t0..=t0 + 5100 {
            let gone = loc.expire(now);
            // Exactly those with expires_at == now go at `now`.
            let due = (0..300u64)
                .filter(|k| t0 + 1 + k * 37 % 5000 == now)
                .count();
            assert_eq!(gone, due, "now={now}");
            seen += gone;
        }
        assert_eq!(seen, 300);
        assert_eq!((loc.aors(), loc.bindings(), loc.timers()), (0, 0, 0));
    }

    #[test]
    fn refresh_is_lazily_cancelled_and_shorter_refresh_wins() {
        let mut loc = Location::new(0);
        loc.upsert(AOR, nb(CONTACT, 100)).unwrap();
        loc.upsert(AOR, nb(CONTACT, 200)).unwrap(); // refresh: later
        assert_eq!(loc.timers(), 2);
        assert_eq!(loc.expire(150), 0); // old entry fired, binding still due later
        assert_eq!(loc.get(AOR)[0].expires_at(), 200);
        loc.upsert(AOR, nb(CONTACT, 160)).unwrap(); // refresh: sooner
        assert_eq!(loc.expire(159), 0);
        assert_eq!(loc.expire(160), 1);
        assert_eq!(loc.expire(300), 0); // the 200 entry is stale now
        assert_eq!(loc.timers(), 0);
        // Already expired at insertion: goes on the next expire.
        loc.upsert(AOR, nb(CONTACT, 250)).unwrap();
        assert_eq!(loc.expire(300), 1);
    }

    #[test]
    fn drained_table_gives_memory_back_and_stale_timers_stay_harmless() {
        let mut loc = Location::new(0);
        for k in 0..2000u64 {
            loc.upsert(
                format!("sip:u{k}@e").as_bytes(),
                nb(b"sip:x@192.0.2.1", 100 + k % 3),
            )
            .unwrap();
        }
        for k in 0..2000u64 {
            assert_eq!(loc.remove_all(format!("sip:u{k}@e").as_bytes()), 1);
        }
        assert_eq!(loc.slots.capacity(), 0);
        assert_eq!(loc.timers(), 2000);
        loc.upsert(b"sip:late@e", nb(b"sip:x@192.0.2.1", 500))
            .unwrap();
        assert_eq!(
            loc.expire(102),
            0,
            "stale entries of slot 0 fire on the new AOR, which is not due"
        );
        assert_eq!(loc.get(b"sip:late@e").len(), 1);
        assert_eq!(loc.expire(500), 1);
        assert_eq!(loc.timers(), 0);
    }

    #[test]
    fn long_gap_expires_everything_due() {
        let mut loc = Location::new(0);
        for k in 0..50u64 {
            let aor = format!("sip:u{k}@example.com");
            loc.upsert(aor.as_bytes(), nb(b"sip:x@192.0.2.1", 10 + k * 1000))
                .unwrap();
        }
        assert_eq!(loc.expire(30_000), 30); // gap of several revolutions
        assert_eq!(loc.bindings(), 20);
        assert_eq!(loc.expire(100_000), 20);
    }

    #[test]
    fn multi_contact_aor_expires_each_binding_on_time() {
        let mut loc = Location::new(0);
        loc.upsert(AOR, nb(b"sip:a@192.0.2.1", 10)).unwrap();
        loc.upsert(AOR, nb(b"sip:b@192.0.2.1", 20)).unwrap();
        loc.upsert(AOR, nb(b"sip:c@192.0.2.1", 30)).unwrap();
        assert_eq!(loc.expire(10), 1);
        assert_eq!(
            loc.get(AOR).iter().map(|b| b.contact()).collect::<Vec<_>>(),
            [&b"sip:b@192.0.2.1"[..], b"sip:c@192.0.2.1"]
        );
        assert_eq!(loc.expire(29), 1);
        assert_eq!(loc.expire(30), 1);
        assert_eq!((loc.aors(), loc.bindings()), (0, 0));
    }

    #[test]
    fn uri_comparison() {
        assert!(uri_eq(
            b"sip:alice@Example.COM;transport=udp",
            b"SIP:alice@example.com;transport=udp"
        ));
        assert!(!uri_eq(b"sip:Alice@example.com", b"sip:alice@example.com"));
        assert!(!uri_eq(
            b"sip:alice@example.com;transport=UDP",
            b"sip:alice@example.com;transport=udp"
        ));
        assert!(uri_eq(b"sip:[2001:DB8::1]:5060", b"sip:[2001:db8::1]:5060"));
        assert!(uri_eq(
            b"sips:EXAMPLE.com?subject=A@B",
            b"sips:example.com?subject=A@B"
        ));
        assert!(!uri_eq(
            b"sips:example.com?subject=A@B",
            b"sips:example.com?subject=a@b"
        ));
        assert!(!uri_eq(b"sip:a@b:5060", b"sip:a@b:5061"));
        assert!(uri_eq(b"opaque", b"opaque"));
    }

    #[test]
    fn too_large_is_refused_without_side_effects() {
        let mut loc = Location::new(0);
        let big = vec![b'x'; 70_000];
        assert_eq!(loc.upsert(AOR, nb(&big, 10)), Err(TooLarge));
        let path: [&[u8]; 1] = [&big];
        let mut b = nb(CONTACT, 10);
        b.path = &path;
        assert_eq!(loc.upsert(AOR, b), Err(TooLarge));
        assert_eq!((loc.aors(), loc.bindings(), loc.timers()), (0, 0, 0));
    }

    #[test]
    fn user_agents_are_interned_and_swept() {
        let mut loc = Location::new(0);
        for k in 0..3000u64 {
            let aor = format!("sip:u{k}@example.com");
            let ua = format!("UA/{}", k % 3);
            let mut b = nb(b"sip:x@192.0.2.1", 10);
            b.user_agent = Some(ua.as_bytes());
            loc.upsert(aor.as_bytes(), b).unwrap();
        }
        assert_eq!(loc.user_agents(), 3);
        let a = &loc.get(b"sip:u0@example.com")[0];
        let b = &loc.get(b"sip:u3@example.com")[0];
        assert!(Arc::ptr_eq(
            a.user_agent.as_ref().unwrap(),
            b.user_agent.as_ref().unwrap()
        ));
        assert_eq!(loc.expire(10), 3000);
        for k in 0..2000u64 {
            let aor = format!("sip:v{k}@example.com");
            let ua = format!("Other/{k}");
            let mut b = nb(b"sip:x@192.0.2.1", 20);
            b.user_agent = Some(ua.as_bytes());
            loc.upsert(aor.as_bytes(), b).unwrap();
        }
        assert!(loc.user_agents() <= 2000 + 3 && loc.user_agents() >= 2000);
        assert_eq!(loc.expire(20), 2000);
        for k in 0..1100u64 {
            let ua = format!("Third/{k}");
            let mut b = nb(b"sip:x@192.0.2.1", 30);
            b.user_agent = Some(ua.as_bytes());
            loc.upsert(format!("sip:w{k}@e").as_bytes(), b).unwrap();
        }
        assert!(
            loc.user_agents() < 2000,
            "unused ones were swept: {}",
            loc.user_agents()
        );
    }

    #[test]
    fn serde_round_trip() {
        let inst: &[u8] = b"\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";
        let path: [&[u8]; 2] = [b"<sip:edge1.example.com;lr;ob>", &[0xff, 0x00, b'x']];
        let b = NewBinding {
            contact: CONTACT,
            q: 500,
            expires_at: 4600,
            call_id: CALL_ID,
            cseq: 42,
            source: "[2001:db8::7]:5061".parse().unwrap(),
            transport: Transport::Tcp,
            flow: Some(FlowId {
                shard: 5,
                conn: 123_456,
            }),
            path: &path,
            instance: Some(inst),
            reg_id: Some(1),
            user_agent: Some(UA),
            updated: 1000,
        };
        let mut loc = Location::new(0);
        loc.upsert(AOR, b).unwrap();
        let original = loc.get(AOR)[0].clone();
        let json = serde_json::to_string(&original).unwrap();
        assert!(
            json.contains("\"contact\":\"sip:+4915112345678@198.51.100.7:49152;transport=udp;ob\""),
            "{json}"
        );
        assert!(json.contains("\"transport\":\"tcp\""), "{json}");
        let back: Binding = serde_json::from_str(&json).unwrap();
        assert_eq!(back, original);
        assert_eq!(format!("{back:?}"), format!("{original:?}"));
        // And into another table, where the user agent is interned again.
        let mut other = Location::new(0);
        assert_eq!(other.upsert_binding(AOR, &back), Ok(Upserted::Added));
        assert_eq!(other.get(AOR)[0], original);
        // IPv4, no options.
        loc.upsert(b"sip:b@example.com", nb(CONTACT, 10)).unwrap();
        let v4 = loc.get(b"sip:b@example.com")[0].clone();
        let back: Binding = serde_json::from_str(&serde_json::to_string(&v4).unwrap()).unwrap();
        assert_eq!(back, v4);
        assert!(
            serde_json::from_str::<Binding>(&json.replace("\"tcp\"", "\"carrier-pigeon\""))
                .is_err()
        );
    }

    #[test]
    fn aors_sharing_a_32_bit_hash_stay_apart() {
        let mut loc = Location::new(0);
        // Birthday search for two AORs whose index hash collides (~80k tries).
        let mut seen = HashMap::new();
        let (a, b) = (0u64..5_000_000)
            .find_map(|k| {
                let aor = format!("sip:{k}@e");
                seen.insert(loc.hash32(aor.as_bytes()), aor.clone())
                    .map(|other| (other, aor))
            })
            .expect("a 32-bit collision");
        let (a, b) = (a.as_bytes(), b.as_bytes());
        loc.upsert(a, nb(b"sip:a@192.0.2.1", 10)).unwrap();
        loc.upsert(b, nb(b"sip:b@192.0.2.1", 20)).unwrap();
        assert_eq!(loc.overflow.len(), 1);
        assert_eq!(loc.get(a)[0].contact(), b"sip:a@192.0.2.1");
        assert_eq!(loc.get(b)[0].contact(), b"sip:b@192.0.2.1");
        assert_eq!(loc.remove_all(a), 1); // the indexed one goes, the overflowed stays
        assert!(loc.get(a).is_empty());
        assert_eq!(loc.get(b)[0].contact(), b"sip:b@192.0.2.1");
        loc.upsert(a, nb(b"sip:a2@192.0.2.1", 30)).unwrap(); // back into the index
        assert_eq!(loc.get(a)[0].contact(), b"sip:a2@192.0.2.1");
        assert_eq!(
            loc.upsert(b, nb(b"sip:b@192.0.2.1", 40)),
            Ok(Upserted::Updated)
        );
        assert_eq!(loc.expire(20), 0);
        assert_eq!(loc.expire(30), 1);
        assert_eq!(loc.get(b)[0].expires_at(), 40);
        assert_eq!(loc.expire(40), 1);
        assert_eq!((loc.aors(), loc.bindings()), (0, 0));
    }

    #[test]
    fn matches_a_naive_model_under_random_operations() {
        // Deterministic LCG; a naive model of (aor -> [(contact, expires_at)]).
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let aors: Vec<String> = (0..20)
            .map(|k| format!("sip:user{k}@example.com"))
            .collect();
        let contacts: Vec<String> = (0..5)
            .map(|k| format!("sip:c{k}@192.0.2.{k}:5060"))
            .collect();
        let mut now = 1_000u64;
        let mut loc = Location::new(now);
        let mut model: HashMap<usize, Vec<(usize, u64)>> = HashMap::new();
        for step in 0..30_000 {
            let a = rnd(20) as usize;
            let c = rnd(5) as usize;
            match rnd(10) {
                0..=4 => {
                    let at = now + rnd(60);
                    let added = loc
                        .upsert(aors[a].as_bytes(), nb(contacts[c].as_bytes(), at))
                        .unwrap();
                    let list = model.entry(a).or_default();
                    match list.iter_mut().find(|(mc, _)| *mc == c) {
                        Some(e) => {
                            e.1 = at;
                            assert_eq!(added, Upserted::Updated);
                        }
                        None => {
                            list.push((c, at));
                            assert_eq!(added, Upserted::Added);
                        }
                    }
                }
                5 => {
                    let list = model.entry(a).or_default();
                    let pos = list.iter().position(|(mc, _)| *mc == c);
                    assert_eq!(
                        loc.remove(aors[a].as_bytes(), contacts[c].as_bytes()),
                        pos.is_some()
                    );
                    if let Some(pos) = pos {
                        list.remove(pos);
                    }
                }
                6 if rnd(10) == 0 => {
                    let n = model.remove(&a).map_or(0, |l| l.len());
                    assert_eq!(loc.remove_all(aors[a].as_bytes()), n);
                }
                _ => {
                    now += if rnd(200) == 0 {
                        5_000 + rnd(5_000)
                    } else {
                        rnd(8)
                    };
                    let mut n = 0;
                    for list in model.values_mut() {
                        let before = list.len();
                        list.retain(|&(_, at)| at > now);
                        n += before - list.len();
                    }
                    assert_eq!(loc.expire(now), n, "step {step}");
                }
            }
            model.retain(|_, l| !l.is_empty());
            for (k, aor) in aors.iter().enumerate() {
                let got: Vec<(&[u8], u64)> = loc
                    .get(aor.as_bytes())
                    .iter()
                    .map(|b| (b.contact(), b.expires_at()))
                    .collect();
                let want: Vec<(&[u8], u64)> = model.get(&k).map_or(vec![], |l| {
                    l.iter()
                        .map(|&(c, at)| (contacts[c].as_bytes(), at))
                        .collect()
                });
                assert_eq!(got, want, "step {step}, {aor}");
            }
            assert_eq!(loc.aors(), model.len());
            assert_eq!(loc.bindings(), model.values().map(Vec::len).sum::<usize>());
        }
    }

    #[test]
    fn many_aors_stay_exact() {
        // 200k AORs: a few collisions of the 32-bit index expected.
        let mut loc = Location::new(0);
        let n = 200_000u64;
        for k in 0..n {
            let aor = format!("sip:{k}@e");
            loc.upsert(aor.as_bytes(), nb(b"sip:x@192.0.2.1", 10 + k % 7))
                .unwrap();
        }
        assert_eq!(loc.aors(), n as usize);
        for k in (0..n).step_by(997) {
            assert_eq!(loc.get(format!("sip:{k}@e").as_bytes()).len(), 1);
        }
        assert!(loc.get(b"sip:nobody@e").is_empty());
        for k in (0..n).filter(|k| k % 2 == 0) {
            assert_eq!(loc.remove_all(format!("sip:{k}@e").as_bytes()), 1);
        }
        for k in 0..n {
            assert_eq!(
                loc.get(format!("sip:{k}@e").as_bytes()).len(),
                (k % 2) as usize,
                "k={k}"
            );
        }
        assert_eq!(loc.expire(20), (n / 2) as usize);
        assert_eq!((loc.aors(), loc.bindings()), (0, 0));
        assert!(loc.index.is_empty() && loc.overflow.is_empty());
    }
}
