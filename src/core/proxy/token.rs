//! Topology-hiding tokens: the opaque `th=<token>` URI parameter.
//!
//! When the edge hands a device a Contact or Record-Route that stands for
//! something inside the operator's network, it does not show the inside
//! addresses. It seals what it needs to route later in-dialog requests (a
//! [`DialogTarget`]) into a token and puts the token in the URI as the
//! parameter [`PARAM`]. When a request comes back with that parameter,
//! [`TokenKey::open`] gives the target back. This file owns the token format
//! and nothing else: finding the parameter in a URI and rewriting the
//! request are the caller's.
//!
//! # Why AEAD
//!
//! The token must be both confidential (a device must not learn inside
//! addresses) and authenticated (a device must not steer the edge to an
//! address of its choosing by editing a token). ChaCha20-Poly1305 (RFC 8439,
//! the RustCrypto `chacha20poly1305` crate) gives both in one pass, and
//! needs no state: any shard, and the edge after a restart, opens a token
//! with the 32-byte key from config alone.
//!
//! # Token
//!
//! `base64url_nopad(nonce(12) || ciphertext || tag(16))`, so only
//! `[A-Za-z0-9_-]`, which is safe in a URI parameter value unescaped. The
//! nonce is `prefix(4) || counter(8, big-endian)`: the prefix is picked at
//! random once per [`TokenKey`] (one per shard, new at each start), the
//! counter starts at a random point and goes up by one per seal. The associated data is the fixed
//! [`AAD`] string, so a token cannot be confused with anything else sealed
//! under the same key.
//!
//! # Plaintext (version 1)
//!
//! All integers big-endian:
//!
//! ```text
//! version  u8     = 1
//! uri      u16 length, then the bytes
//! routes   u16 count, then per route: u16 length, then the bytes
//! dest     u8 kind: 0 = none
//!                   4 = transport u8, IPv4 address (4), port u16
//!                   6 = transport u8, IPv6 address (16), port u16, scope id u32
//! flow     absent, or u8 = 1, shard u16, conn u32: the connection a device
//!          is reached on (tokens sealed before flows were carried have none)
//! ```
//!
//! [`TokenKey::open`] accepts only a plaintext that parses exactly: known
//! version, every length within the data, a known dest kind, no trailing
//! bytes. The IPv6 flow label is not carried (it is 0 after opening).
//!
//! # Bounds
//!
//! `seal` is meant for bounded inputs: values taken from one SIP message,
//! which this edge caps at 65535 bytes, so every field fits a u16 length.
//! A target with a field or route count over 65535 cannot be encoded; `seal`
//! then still appends a well-formed token, but one that never opens (its
//! plaintext is empty), so a later request is refused rather than misrouted.

use crate::core::FlowId;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

/// Name of the URI parameter that carries a token (`;th=<token>`).
pub const PARAM: &str = "th";

/// Associated data of every token: binds it to this use of the key.
const AAD: &[u8] = b"sipedge th v1";
/// First byte of the plaintext.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const DEST_NONE: u8 = 0;
/// Marks the optional flow after dest.
const FLOW: u8 = 1;
const DEST_V4: u8 = 4;
const DEST_V6: u8 = 6;

/// What an in-dialog request that carries a token must be sent to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialogTarget {
    /// The Request-URI to restore (the inside party's Contact URI, raw bytes, no angle brackets).
    pub uri: Vec<u8>,
    /// Route values (raw name-addr bytes each, e.g. `<sip:10.0.0.5;lr>`) to put on top of the request, in order.
    pub routes: Vec<Vec<u8>>,
    /// Where to send it when known (a NATed device's real source address): transport byte 0=udp,1=tcp and the address.
    pub dest: Option<(u8, SocketAddr)>,
    /// The connection the device is reached on (only its shard writes it).
    pub flow: Option<FlowId>,
}

/// Seals and opens tokens under one key. Each shard has its own, with its
/// own nonce prefix, so sealing needs no shared state.
pub struct TokenKey {
    cipher: ChaCha20Poly1305,
    nonce_prefix: [u8; 4],
    counter: u64,
}

impl std::fmt::Debug for TokenKey {
    /// Shows the nonce state only, never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("nonce_prefix", &self.nonce_prefix)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// `key`: 32 bytes from config; each shard has its own TokenKey.
    /// `seed`: 12 random bytes picked at start: the nonce prefix and the
    /// counter's starting point, so two shards or two runs under one key
    /// start at unrelated points of the 96-bit nonce space.
    pub fn new(key: [u8; 32], seed: [u8; 12]) -> TokenKey {
        let mut prefix = [0u8; 4];
        prefix.copy_from_slice(&seed[..4]);
        let mut counter = [0u8; 8];
        counter.copy_from_slice(&seed[4..]);
        TokenKey {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
            nonce_prefix: prefix,
            counter: u64::from_be_bytes(counter),
        }
    }

    /// Appends the token (base64url, no padding: only [A-Za-z0-9_-]) to `out`. Nonce = prefix(4) || counter(8, incremented per seal).
    ///
    /// A target too large to encode (see the module doc) yields a token
    /// that never opens.
    pub fn seal(&mut self, t: &DialogTarget, out: &mut Vec<u8>) {
        let plain = encode(t).unwrap_or_default();
        self.seal_plain(&plain, out);
    }

    /// Decodes and authenticates a token; None when it is not base64url, too short, fails authentication, or the plaintext is malformed. Never panics on any input.
    pub fn open(&self, token: &[u8]) -> Option<DialogTarget> {
        let mut raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at_mut(NONCE_LEN);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        self.cipher.decrypt_in_place_detached(Nonce::from_slice(nonce), AAD, body, Tag::from_slice(tag)).ok()?;
        decode(body)
    }

    /// Encrypts `plain` under the next nonce and appends the token.
    fn seal_plain(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        let mut raw = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
        raw.extend_from_slice(&self.nonce_prefix);
        raw.extend_from_slice(&self.counter.to_be_bytes());
        // 2^64 seals per start are out of reach; wrapping keeps this total.
        self.counter = self.counter.wrapping_add(1);
        raw.extend_from_slice(plain);
        let (nonce, body) = raw.split_at_mut(NONCE_LEN);
        match self.cipher.encrypt_in_place_detached(Nonce::from_slice(nonce), AAD, body) {
            Ok(tag) => raw.extend_from_slice(&tag),
            // Only for plaintexts near 256 GiB; leave a token too short to open.
            Err(_) => raw.truncate(NONCE_LEN),
        }
        let start = out.len();
        out.resize(start + encoded_len(raw.len()), 0);
        // The slice has exactly the encoded length, so this cannot fail;
        // should it, drop the partial token rather than leave zero bytes.
        if URL_SAFE_NO_PAD.encode_slice(&raw, &mut out[start..]).is_err() {
            out.truncate(start);
        }
    }
}

/// Length of the unpadded base64 text for `n` bytes.
fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3][n % 3]
}

/// Appends a u16 length and the bytes; None when they do not fit a u16.
fn put_field(buf: &mut Vec<u8>, field: &[u8]) -> Option<()> {
    let len = u16::try_from(field.len()).ok()?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(field);
    Some(())
}

/// The version-1 plaintext of `t`; None when a length or count exceeds u16.
fn encode(t: &DialogTarget) -> Option<Vec<u8>> {
    let size = 1 + 2 + t.uri.len() + 2 + t.routes.iter().map(|r| 2 + r.len()).sum::<usize>() + 28;
    let mut buf = Vec::with_capacity(size);
    buf.push(VERSION);
    put_field(&mut buf, &t.uri)?;
    let count = u16::try_from(t.routes.len()).ok()?;
    buf.extend_from_slice(&count.to_be_bytes());
    for r in &t.routes {
        put_field(&mut buf, r)?;
    }
    match t.dest {
        None => buf.push(DEST_NONE),
        Some((transport, SocketAddr::V4(a))) => {
            buf.extend_from_slice(&[DEST_V4, transport]);
            buf.extend_from_slice(&a.ip().octets());
            buf.extend_from_slice(&a.port().to_be_bytes());
        }
        Some((transport, SocketAddr::V6(a))) => {
            buf.extend_from_slice(&[DEST_V6, transport]);
            buf.extend_from_slice(&a.ip().octets());
            buf.extend_from_slice(&a.port().to_be_bytes());
            buf.extend_from_slice(&a.scope_id().to_be_bytes());
        }
    }
    if let Some(f) = t.flow {
        buf.push(FLOW);
        buf.extend_from_slice(&f.shard.to_be_bytes());
        buf.extend_from_slice(&f.conn.to_be_bytes());
    }
    Some(buf)
}

/// A bounds-checked reader over the plaintext.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }
    fn field(&mut self) -> Option<Vec<u8>> {
        let len = self.u16()?;
        Some(self.take(usize::from(len))?.to_vec())
    }
}

/// Parses a version-1 plaintext; None unless it parses exactly, with no
/// trailing bytes.
fn decode(plain: &[u8]) -> Option<DialogTarget> {
    let mut r = Reader(plain);
    if r.u8()? != VERSION {
        return None;
    }
    let uri = r.field()?;
    let count = r.u16()?;
    // Each route takes at least its 2-byte length: refuse a count the data
    // cannot hold before reserving room for it.
    if usize::from(count) * 2 > r.0.len() {
        return None;
    }
    let mut routes = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        routes.push(r.field()?);
    }
    let dest = match r.u8()? {
        DEST_NONE => None,
        DEST_V4 => {
            let transport = r.u8()?;
            let ip = Ipv4Addr::from(r.array::<4>()?);
            let port = r.u16()?;
            Some((transport, SocketAddr::new(IpAddr::V4(ip), port)))
        }
        DEST_V6 => {
            let transport = r.u8()?;
            let ip = Ipv6Addr::from(r.array::<16>()?);
            let port = r.u16()?;
            let scope = u32::from_be_bytes(r.array()?);
            Some((transport, SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))))
        }
        _ => return None,
    };
    let flow = match r.0.first() {
        None => None,
        Some(&FLOW) => {
            r.u8()?;
            Some(FlowId { shard: r.u16()?, conn: u32::from_be_bytes(r.array()?) })
        }
        Some(_) => return None,
    };
    if !r.0.is_empty() {
        return None;
    }
    Some(DialogTarget { uri, routes, dest, flow })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];
    const PREFIX: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
    const SEED: [u8; 12] = [0xa1, 0xb2, 0xc3, 0xd4, 0, 0, 0, 0, 0, 0, 0, 0];
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn key() -> TokenKey {
        TokenKey::new(KEY, SEED)
    }

    fn target(routes: usize, dest: Option<(u8, SocketAddr)>) -> DialogTarget {
        DialogTarget {
            uri: b"sip:pbx@10.1.2.3:5080;transport=tcp".to_vec(),
            routes: (0..routes).map(|i| format!("<sip:10.0.0.{i};lr>").into_bytes()).collect(),
            dest,
            flow: None,
        }
    }

    fn seal(k: &mut TokenKey, t: &DialogTarget) -> Vec<u8> {
        let mut out = Vec::new();
        k.seal(t, &mut out);
        out
    }

    fn v4() -> Option<(u8, SocketAddr)> {
        Some((0, "203.0.113.9:40123".parse().unwrap()))
    }

    fn v6() -> Option<(u8, SocketAddr)> {
        Some((1, "[2001:db8::1:2]:5061".parse().unwrap()))
    }

    fn all_targets() -> Vec<DialogTarget> {
        let link_local = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 5060, 0, 3));
        vec![
            target(0, None),
            target(1, None),
            target(3, None),
            target(0, v4()),
            target(2, v4()),
            target(0, v6()),
            target(2, v6()),
            target(1, Some((1, link_local))),
            DialogTarget { uri: Vec::new(), routes: vec![Vec::new()], dest: None, flow: None },
        ]
    }

    fn only_alphabet(tok: &[u8]) -> bool {
        tok.iter().all(|c| ALPHABET.contains(c))
    }

    #[test]
    fn round_trip() {
        let mut k = key();
        for t in all_targets() {
            let tok = seal(&mut k, &t);
            assert_eq!(k.open(&tok), Some(t.clone()), "{}", String::from_utf8_lossy(&tok));
            // Another TokenKey with the same key (another shard, or after a
            // restart) opens it too.
            assert_eq!(TokenKey::new(KEY, [9; 12]).open(&tok), Some(t));
        }
    }

    #[test]
    fn seal_appends() {
        let mut k = key();
        let t = target(1, v4());
        let mut out = b"sip:x@edge;th=".to_vec();
        k.seal(&t, &mut out);
        let tok = &out[b"sip:x@edge;th=".len()..];
        assert!(out.starts_with(b"sip:x@edge;th="));
        assert_eq!(k.open(tok), Some(t));
    }

    #[test]
    fn tokens_use_url_safe_alphabet_only() {
        let mut k = key();
        for t in all_targets() {
            for _ in 0..20 {
                let tok = seal(&mut k, &t);
                assert!(only_alphabet(&tok), "{}", String::from_utf8_lossy(&tok));
            }
        }
    }

    #[test]
    fn nonce_is_prefix_and_counter() {
        let mut k = key();
        let t = target(1, None);
        for n in 0u64..3 {
            let raw = URL_SAFE_NO_PAD.decode(seal(&mut k, &t)).unwrap();
            assert_eq!(raw[..4], PREFIX);
            assert_eq!(raw[4..12], n.to_be_bytes());
        }
    }

    #[test]
    fn two_seals_differ_and_both_open() {
        let mut k = key();
        let t = target(2, v6());
        let a = seal(&mut k, &t);
        let b = seal(&mut k, &t);
        assert_ne!(a, b);
        assert_eq!(k.open(&a), Some(t.clone()));
        assert_eq!(k.open(&b), Some(t));
    }

    #[test]
    fn other_key_does_not_open() {
        let t = target(1, v4());
        let tok = seal(&mut key(), &t);
        let mut other = KEY;
        other[31] ^= 1;
        assert_eq!(TokenKey::new(other, SEED).open(&tok), None);
    }

    #[test]
    fn any_changed_character_is_refused() {
        let mut k = key();
        let t = target(1, v4());
        let tok = seal(&mut k, &t);
        for i in 0..tok.len() {
            for &c in ALPHABET.iter().filter(|&&c| c != tok[i]) {
                let mut bad = tok.clone();
                bad[i] = c;
                assert_eq!(k.open(&bad), None, "position {i} to {}", c as char);
            }
            for c in [b'=', b'+', b'/', b'.', b' ', 0, 0xff] {
                let mut bad = tok.clone();
                bad[i] = c;
                assert_eq!(k.open(&bad), None);
            }
        }
    }

    #[test]
    fn any_flipped_bit_is_refused() {
        let mut k = key();
        let t = target(2, v6());
        let raw = URL_SAFE_NO_PAD.decode(seal(&mut k, &t)).unwrap();
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut bad = raw.clone();
                bad[i] ^= 1 << bit;
                assert_eq!(k.open(URL_SAFE_NO_PAD.encode(&bad).as_bytes()), None, "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn truncated_or_extended_tokens_are_refused() {
        let mut k = key();
        let tok = seal(&mut k, &target(1, v4()));
        for n in 0..tok.len() {
            assert_eq!(k.open(&tok[..n]), None, "prefix of {n}");
            assert_eq!(k.open(&tok[n + 1..]), None, "suffix from {}", n + 1);
        }
        for extra in [&b"A"[..], b"AA", b"AAA", b"AAAA", b"="] {
            let mut long = tok.clone();
            long.extend_from_slice(extra);
            assert_eq!(k.open(&long), None);
        }
    }

    #[test]
    fn garbage_is_refused() {
        let k = key();
        // xorshift64: deterministic pseudo-random inputs without extra crates.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..2000 {
            let len = (next() % 200) as usize;
            let any: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            assert_eq!(k.open(&any), None);
            let b64: Vec<u8> = (0..len).map(|_| ALPHABET[(next() % 64) as usize]).collect();
            assert_eq!(k.open(&b64), None);
        }
    }

    #[test]
    fn inside_addresses_are_not_in_the_token() {
        let mut k = key();
        let t = DialogTarget {
            uri: b"sip:pbx@10.1.2.3:5080".to_vec(),
            routes: vec![b"<sip:10.1.2.3;lr>".to_vec()],
            dest: Some((0, "10.1.2.3:5080".parse().unwrap())),
            flow: None,
        };
        let tok = seal(&mut k, &t);
        let raw = URL_SAFE_NO_PAD.decode(&tok).unwrap();
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(&raw, b"10.1.2.3"));
        assert!(!contains(&raw, b"pbx"));
        assert!(!contains(&raw, &[10, 1, 2, 3]));
        assert!(!contains(&tok, b"10.1.2.3"));
        // Its base64 forms at each of the three alignments.
        for pad in 0..3 {
            let mut s = vec![b'x'; pad];
            s.extend_from_slice(b"10.1.2.3");
            let enc = URL_SAFE_NO_PAD.encode(&s);
            let core = &enc.as_bytes()[(pad * 4).div_ceil(3)..enc.len() - 1];
            assert!(!contains(&tok, core), "{}", String::from_utf8_lossy(core));
        }
        assert_eq!(k.open(&tok), Some(t));
    }

    #[test]
    fn parser_refuses_trailing_and_malformed_plaintext() {
        let t = target(2, v6());
        let plain = encode(&t).unwrap();
        assert_eq!(decode(&plain), Some(t));
        let mut trailing = plain.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), None);
        for n in 0..plain.len() {
            assert_eq!(decode(&plain[..n]), None, "truncated to {n}");
        }
        let mut version = plain.clone();
        version[0] = 2;
        assert_eq!(decode(&version), None);
        let mut kind = encode(&target(0, None)).unwrap();
        *kind.last_mut().unwrap() = 5;
        assert_eq!(decode(&kind), None);
        // A route count far beyond the data.
        assert_eq!(decode(&[VERSION, 0, 0, 0xff, 0xff, 0]), None);

        // The same refusals through a correctly authenticated token.
        let mut k = key();
        for bad in [trailing, version, kind, Vec::new()] {
            let mut tok = Vec::new();
            k.seal_plain(&bad, &mut tok);
            assert_eq!(k.open(&tok), None);
        }
    }

    #[test]
    fn oversized_target_seals_to_a_token_that_never_opens() {
        let mut k = key();
        let mut t = target(0, None);
        t.uri = vec![b'a'; 70_000];
        let tok = seal(&mut k, &t);
        assert!(!tok.is_empty() && only_alphabet(&tok));
        assert_eq!(k.open(&tok), None);
        let many = DialogTarget { uri: Vec::new(), routes: vec![Vec::new(); 70_000], dest: None, flow: None };
        let tok = seal(&mut k, &many);
        assert_eq!(k.open(&tok), None);
    }

    #[test]
    fn encoded_len_matches_base64() {
        for n in 0..50 {
            assert_eq!(encoded_len(n), URL_SAFE_NO_PAD.encode(vec![0; n]).len());
        }
    }

    fn arb_dest() -> impl Strategy<Value = Option<(u8, SocketAddr)>> {
        prop_oneof![
            Just(None),
            (0u8..2, any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(tr, ip, port)| Some((tr, SocketAddr::from((ip, port))))),
            (0u8..2, any::<[u8; 16]>(), any::<u16>(), any::<u32>()).prop_map(|(tr, ip, port, scope)| {
                Some((tr, SocketAddr::V6(SocketAddrV6::new(ip.into(), port, 0, scope))))
            }),
        ]
    }

    proptest! {
        #[test]
        fn prop_round_trip(
            uri in proptest::collection::vec(any::<u8>(), 0..300),
            routes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..6),
            dest in arb_dest(),
            flow in proptest::option::of((any::<u16>(), any::<u32>())),
        ) {
            let flow = flow.map(|(shard, conn)| FlowId { shard, conn });
            let t = DialogTarget { uri, routes, dest, flow };
            let mut k = key();
            let tok = seal(&mut k, &t);
            prop_assert!(only_alphabet(&tok));
            prop_assert_eq!(k.open(&tok), Some(t));
        }

        #[test]
        fn prop_open_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            prop_assert_eq!(key().open(&bytes), None);
        }

        #[test]
        fn prop_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&bytes);
        }
    }
}
