//! The serde form of a `Binding`: a readable record with the same field
//! names (user agent written out, byte fields as strings when UTF-8), so
//! the table can be replicated between edges.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::{FlowId, Transport};

use super::{Binding, ContactKey, NewBinding, TooLarge};

/// The serde shape of a `Binding`: readable, self-contained (the user agent
/// is written out, not as a shard-local id).
#[derive(Serialize, Deserialize)]
#[serde(rename = "Binding")]
pub(super) struct BindingRecord {
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
            flow: b.flow().map(|f| FlowRecord { shard: f.shard, conn: f.conn }),
            path: b.path().map(|p| Bytes(p.to_vec())).collect(),
            instance: b.instance().map(|i| Bytes(i.to_vec())),
            reg_id: b.reg_id(),
            user_agent: b.user_agent().map(|u| Bytes(u.to_vec())),
            updated: b.updated(),
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
            flow: r.flow.as_ref().map(|f| FlowId { shard: f.shard, conn: f.conn }),
            path: &path,
            instance: r.instance.as_ref().map(|i| &i.0[..]),
            reg_id: r.reg_id,
            user_agent: None,
            updated: r.updated,
        };
        Binding::check(&r.aor.0, &nb)?;
        let ua = r.user_agent.map(|u| Arc::new(u.0.into_boxed_slice()));
        Ok(Binding::build(&r.aor.0, &nb, ContactKey::of(nb.contact), ua, None))
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
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
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
