//! The shared location (`[cluster]`): what an edge writes to the shared
//! store about one address-of-record, and what the store's answer means.
//! Sans-IO: no Redis type here. The store room (`services::store`) turns a
//! `StoreWrite` into one atomic server-side update of one AOR and hands the
//! AOR's stored values back as `Fetched`; this file owns the value format
//! and its decoding.
//!
//! # One AOR, one record set
//!
//! The store keeps, per AOR, a map `binding key → value`. The key says which
//! bindings are "the same" for RFC 3261 §10.3 step 7 (`binding_key`): the
//! `+sip.instance` and `reg-id` when both are present (RFC 5626 §6), else
//! the Contact URI with scheme and host lower-cased (the location table's
//! `uri_eq`). The value is
//!
//! ```text
//! <expires_at> <updated> <cseq> <node>\n<call-id>\n<json>
//! ```
//!
//! `expires_at` and `updated` are unix seconds of the *store's* clock (Redis
//! `TIME`), written by the store when it applies the update, so the edges'
//! clocks never meet: an edge reads the store's `now` with every answer and
//! converts (`decode`). `cseq` and `call-id` are the binding's, for the
//! §10.3 checks the store runs. `node` is the edge holding the binding's
//! connection or NAT binding. `json` is written by that edge and read only
//! by edges: the binding's serde record and, for delivery from other edges,
//! `edge`: a URI of the holding edge carrying a topology-hiding token that
//! names the device's flow (`token::PARAM`), so another edge reaches the
//! device in one hop through it.
//!
//! # What a write does (in the store, atomically)
//!
//! `Register` applies one REGISTER's Call-ID/CSeq rules against the AOR's
//! stored bindings (all edges'): an older CSeq of the same Call-ID refuses
//! the whole request (500), an equal one is a retransmission (no change),
//! removals delete, the rest upsert with `now + expires`; past
//! `max_contacts` the oldest others go (`replace_oldest`) or the request is
//! refused (403). `Assert` makes this node's bindings of the AOR exactly the
//! given ones (a replay after Redis was away or lost its data), never
//! overwriting a binding the store holds with a higher CSeq of the same
//! Call-ID. Both answer with every live binding of the AOR afterwards.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::binding::uri_parts;
use super::Binding;
use crate::core::registrar::Reject;

/// One atomic update of one AOR in the shared store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreWrite {
    pub aor: Vec<u8>,
    pub kind: WriteKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteKind {
    /// One REGISTER (RFC 3261 §10.3 applied by the store).
    Register {
        call_id: Vec<u8>,
        cseq: u32,
        /// `Contact: *`: remove every binding of the AOR (all edges').
        wildcard: bool,
        max_contacts: u32,
        replace_oldest: bool,
        contacts: Vec<SharedContact>,
    },
    /// This node's bindings of the AOR are exactly `bindings` (empty: it
    /// holds none any more).
    Assert { bindings: Vec<SharedContact> },
}

/// One binding as written.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedContact {
    /// `binding_key`.
    pub key: Vec<u8>,
    /// Seconds from the store's now; 0 removes the binding.
    pub expires: u32,
    pub call_id: Vec<u8>,
    pub cseq: u32,
    /// The JSON part of the value (`SharedJson`), empty for a removal.
    pub json: Vec<u8>,
}

/// The store's answer about one AOR: its now and every live value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fetched {
    /// Unix seconds of the store's clock when it answered.
    pub store_now: u64,
    pub values: Vec<Vec<u8>>,
}

/// What a write came back with.
pub type Written = Result<Fetched, Reject>;

/// The JSON part of a stored value.
#[derive(Serialize, Deserialize)]
pub struct SharedJson {
    /// A URI of the holding edge that reaches this binding's device through
    /// it (the edge's `peer_addr` with a token), when that edge sealed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    pub binding: Binding,
}

/// A binding read from the store, its times converted to this edge's clock.
#[derive(Debug, Clone)]
pub struct SharedBinding {
    /// The edge holding it.
    pub node: String,
    /// `SharedJson::edge`.
    pub edge: Option<String>,
    pub binding: Binding,
}

/// Which stored binding a contact replaces (see the top of this file).
pub fn binding_key(contact: &[u8], instance: Option<&[u8]>, reg_id: Option<u32>) -> Vec<u8> {
    if let (Some(instance), Some(reg_id)) = (instance, reg_id) {
        let mut k = b"i:".to_vec();
        k.extend_from_slice(instance);
        k.push(b' ');
        k.extend_from_slice(reg_id.to_string().as_bytes());
        return k;
    }
    let (scheme, (h0, h1)) = uri_parts(contact);
    let mut k = Vec::with_capacity(contact.len() + 2);
    k.extend_from_slice(b"c:");
    k.extend(contact[..scheme].iter().map(u8::to_ascii_lowercase));
    k.extend_from_slice(&contact[scheme..h0]);
    k.extend(contact[h0..h1].iter().map(u8::to_ascii_lowercase));
    k.extend_from_slice(&contact[h1..]);
    k
}

/// The JSON part of a binding's value.
pub fn encode_json(binding: &Binding, edge: Option<String>) -> Vec<u8> {
    serde_json::to_vec(&SharedJson { edge, binding: binding.clone() }).unwrap_or_default()
}

/// A stored value as this edge sees it: `None` when it does not parse
/// (counted by the caller, never trusted). `local_now` and `store_now` are
/// the same instant in unix seconds on the two clocks.
pub fn decode(value: &[u8], local_now: u64, store_now: u64) -> Option<SharedBinding> {
    let mut parts = value.splitn(3, |&c| c == b'\n');
    let head = std::str::from_utf8(parts.next()?).ok()?;
    let _call_id = parts.next()?;
    let json = parts.next()?;
    let mut head = head.split(' ');
    let expires_at: u64 = head.next()?.parse().ok()?;
    let updated: u64 = head.next()?.parse().ok()?;
    let _cseq: u32 = head.next()?.parse().ok()?;
    let node = head.next()?.to_string();
    let shared: SharedJson = serde_json::from_slice(json).ok()?;
    let to_local = |t: u64| (local_now + t).saturating_sub(store_now);
    let binding = shared.binding.retimed(to_local(expires_at), to_local(updated));
    Some(SharedBinding { node, edge: shared.edge, binding })
}

/// Every value of an answer that parses, and how many did not.
pub fn decode_all(fetched: &Fetched, local_now: u64) -> (Vec<SharedBinding>, usize) {
    let mut bad = 0;
    let list = fetched
        .values
        .iter()
        .filter_map(|v| {
            let b = decode(v, local_now, fetched.store_now);
            bad += usize::from(b.is_none());
            b
        })
        .collect();
    (list, bad)
}

/// A peer edge seen alive: its name and where it takes requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub node: String,
    pub addr: SocketAddr,
}

/// What the store room tells a shard without being asked.
#[derive(Debug, Clone)]
pub enum ClusterEvent {
    /// Another edge changed this AOR: forget the cached copy.
    Invalidate { aor: Vec<u8> },
    /// Invalidations may have been missed (the subscription was lost):
    /// forget every cached copy.
    FlushCache,
    /// The store answers again. `lost_data`: it came back without our
    /// bindings (restarted empty, flushed), so re-assert all of them.
    StoreUp { lost_data: bool },
    /// The store stopped answering: serve from memory, journal changes.
    StoreDown,
    /// At start: this edge's bindings of one AOR this shard owns, read back
    /// from the store.
    Restore { aor: Vec<u8>, fetched: Fetched },
    /// The edges seen alive now (this one included).
    Peers(Vec<Peer>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::location::NewBinding;
    use crate::core::Transport;

    fn binding(contact: &[u8]) -> Binding {
        let nb = NewBinding {
            contact,
            q: 1000,
            expires_at: 2_000,
            call_id: b"c1",
            cseq: 7,
            source: "192.0.2.1:5060".parse().unwrap(),
            transport: Transport::Udp,
            flow: None,
            path: &[],
            instance: None,
            reg_id: None,
            user_agent: Some(b"UA"),
            updated: 1_000,
        };
        Binding::build(b"alice@example.com", &nb, None, None)
    }

    #[test]
    fn keys_fold_scheme_and_host_case_and_prefer_instance() {
        assert_eq!(
            binding_key(b"SIP:bob@EXAMPLE.com;Transport=udp", None, None),
            b"c:sip:bob@example.com;Transport=udp"
        );
        assert_eq!(binding_key(b"sip:bob@h", Some(b"<urn:uuid:1>"), Some(2)), b"i:<urn:uuid:1> 2");
        assert_eq!(binding_key(b"sip:bob@h", Some(b"<urn:uuid:1>"), None), b"c:sip:bob@h");
    }

    #[test]
    fn a_value_decodes_into_this_edges_clock() {
        let json = encode_json(&binding(b"sip:alice@192.0.2.1"), Some("sip:192.0.2.9:5060;th=x".into()));
        let mut v = b"1500 1100 7 edge-a\nc1\n".to_vec();
        v.extend_from_slice(&json);
        // The store's clock is 100 s behind this edge's.
        let b = decode(&v, 1_200, 1_100).unwrap();
        assert_eq!((b.node.as_str(), b.edge.as_deref()), ("edge-a", Some("sip:192.0.2.9:5060;th=x")));
        assert_eq!((b.binding.expires_at(), b.binding.updated()), (1_600, 1_200));
        assert_eq!(b.binding.contact(), b"sip:alice@192.0.2.1");
        assert_eq!(b.binding.user_agent(), Some(&b"UA"[..]));
    }

    #[test]
    fn garbage_values_are_counted_not_trusted() {
        let f = Fetched { store_now: 10, values: vec![b"x".to_vec(), b"1 2 3 n\nc\n{".to_vec(), Vec::new()] };
        let (list, bad) = decode_all(&f, 10);
        assert_eq!((list.len(), bad), (0, 3));
    }
}
