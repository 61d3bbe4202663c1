//! Stateless nonces: issuing them and checking a returned one's MAC and age.
//! Any shard can verify a nonce another shard issued, since all shards build
//! their `NonceKey` from the same 32-byte secret given at start.
//!
//! A nonce is 64 lowercase hex characters:
//!
//! ```text
//! hex(ts: u64 BE) | hex(salt: u64 BE) | hex(HMAC-SHA256(secret, ts | salt)[..16])
//!     16 chars          16 chars                 32 chars
//! ```
//!
//! The salt (a per-key counter started at a random value) makes every nonce
//! unique, even two issued in the same second on the same or different
//! shards. This deviates from a bare `ts | MAC(ts)` nonce on purpose: the
//! verifier tracks the highest `nc` per nonce, so two clients sharing a nonce
//! would refuse each other's `nc=00000001` as a replay.
//!
//! The same key also derives the fake HA1 the verifier uses for unknown
//! users (domain-separated from nonce MACs by a label).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::algorithm::{hex_decode, hex_encode, Algorithm};

type HmacSha256 = Hmac<Sha256>;

/// Length of an issued nonce in characters.
pub const NONCE_LEN: usize = 64;

/// How far in the future a nonce's timestamp may be (clock skew between the
/// issuing and verifying shard, or a secret shared across hosts).
const MAX_FUTURE_SECS: u64 = 60;

const FAKE_HA1_LABEL: &[u8] = b"sipedge fake HA1\0";

/// The outcome of checking a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours and within its lifetime.
    Fresh,
    /// Ours but expired (or too far in the future): challenge again with
    /// `stale=true` if the response was otherwise right.
    Stale,
    /// Not issued with this secret, or not a nonce at all.
    Invalid,
}

/// A nonce that passed its MAC check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub ts: u64,
    /// Unique per issued nonce (timestamp and salt).
    pub id: u128,
}

/// The shared nonce secret, with a keyed HMAC ready to clone.
pub struct NonceKey {
    mac: HmacSha256,
    salt: AtomicU64,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // A failure here leaves 0: salts then start at 0, still unique per key.
    let _ = getrandom::getrandom(&mut b);
    u64::from_be_bytes(b)
}

impl NonceKey {
    /// A key from a secret shared by all shards.
    pub fn new(secret: [u8; 32]) -> NonceKey {
        NonceKey {
            mac: <HmacSha256 as Mac>::new_from_slice(&secret).expect("HMAC takes any key length"),
            salt: AtomicU64::new(random_u64()),
        }
    }

    /// A key from a fresh random secret (single-process deployments and
    /// tests; shards must share one key's secret, so use `new` for them).
    pub fn random() -> NonceKey {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).expect("OS random source unavailable");
        NonceKey::new(secret)
    }

    fn tag(&self, body: &[u8; 16]) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(body);
        m.finalize().into_bytes().into()
    }

    /// Appends a new nonce for time `now` (unix seconds) to `out`.
    pub fn issue(&self, now: u64, out: &mut Vec<u8>) {
        let salt = self.salt.fetch_add(1, Ordering::Relaxed);
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&now.to_be_bytes());
        body[8..].copy_from_slice(&salt.to_be_bytes());
        let tag = self.tag(&body);
        let mut hex = [0u8; NONCE_LEN];
        hex_encode(&body, &mut hex[..32]);
        hex_encode(&tag[..16], &mut hex[32..]);
        out.extend_from_slice(&hex);
    }

    /// Checks the MAC; `None` for anything not issued with this secret.
    pub(crate) fn decode(&self, nonce: &[u8]) -> Option<Decoded> {
        if nonce.len() != NONCE_LEN {
            return None;
        }
        let mut raw = [0u8; 32];
        hex_decode(nonce, &mut raw)?;
        let body: [u8; 16] = raw[..16].try_into().unwrap();
        let tag = self.tag(&body);
        if !bool::from(tag[..16].ct_eq(&raw[16..])) {
            return None;
        }
        Some(Decoded { ts: u64::from_be_bytes(raw[..8].try_into().unwrap()), id: u128::from_be_bytes(body) })
    }

    /// Whether a nonce issued at `ts` is stale at `now`.
    pub(crate) fn is_stale(ts: u64, now: u64, lifetime_secs: u64) -> bool {
        ts > now.saturating_add(MAX_FUTURE_SECS) || now.saturating_sub(ts) > lifetime_secs
    }

    /// Checks a nonce returned by a client: MAC mismatch or garbage is
    /// `Invalid`; older than `lifetime_secs` or more than 60 s in the future
    /// is `Stale`.
    pub fn check(&self, nonce: &[u8], now: u64, lifetime_secs: u64) -> NonceCheck {
        match self.decode(nonce) {
            None => NonceCheck::Invalid,
            Some(d) if Self::is_stale(d.ts, now, lifetime_secs) => NonceCheck::Stale,
            Some(_) => NonceCheck::Fresh,
        }
    }

    /// A stable, secret HA1 for a user that does not exist, so that a wrong
    /// password and an unknown user cost the same and read the same.
    pub(crate) fn fake_ha1(&self, username: &[u8], realm: &[u8], alg: Algorithm, out: &mut [u8; 64]) -> usize {
        let mut m = self.mac.clone();
        m.update(FAKE_HA1_LABEL);
        m.update(username);
        m.update(b":");
        m.update(realm);
        let t: [u8; 32] = m.finalize().into_bytes().into();
        hex_encode(&t, &mut out[..]);
        alg.hex_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn issue(k: &NonceKey, now: u64) -> Vec<u8> {
        let mut v = Vec::new();
        k.issue(now, &mut v);
        v
    }

    #[test]
    fn fresh_until_lifetime_then_stale() {
        let k = NonceKey::new([7; 32]);
        let n = issue(&k, NOW);
        assert_eq!(n.len(), NONCE_LEN);
        assert!(n.iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(k.check(&n, NOW, 300), NonceCheck::Fresh);
        assert_eq!(k.check(&n, NOW + 300, 300), NonceCheck::Fresh);
        assert_eq!(k.check(&n, NOW + 301, 300), NonceCheck::Stale);
        // Issued "in the future" (another shard's clock ahead): 60 s tolerated.
        assert_eq!(k.check(&n, NOW - 60, 300), NonceCheck::Fresh);
        assert_eq!(k.check(&n, NOW - 61, 300), NonceCheck::Stale);
    }

    #[test]
    fn every_nonce_is_unique_and_shards_verify_each_other() {
        let a = NonceKey::new([9; 32]);
        let b = NonceKey::new([9; 32]);
        let (n1, n2, n3) = (issue(&a, NOW), issue(&a, NOW), issue(&b, NOW));
        assert_ne!(n1, n2);
        assert_ne!(n1, n3);
        for n in [&n1, &n2, &n3] {
            assert_eq!(a.check(n, NOW, 30), NonceCheck::Fresh);
            assert_eq!(b.check(n, NOW, 30), NonceCheck::Fresh);
        }
        assert_ne!(a.decode(&n1).unwrap().id, a.decode(&n2).unwrap().id);
        assert_eq!(a.decode(&n1).unwrap().ts, NOW);
    }

    #[test]
    fn tampered_foreign_truncated_or_garbage_is_invalid() {
        let k = NonceKey::new([1; 32]);
        let n = issue(&k, NOW);
        // Flip each byte in turn (timestamp, salt and MAC parts alike).
        for i in 0..n.len() {
            let mut bad = n.clone();
            bad[i] = if bad[i] == b'0' { b'1' } else { b'0' };
            assert_eq!(k.check(&bad, NOW, 300), NonceCheck::Invalid, "byte {}", i);
        }
        // Uppercase of the same hex still decodes to the same bytes: accepted.
        assert_eq!(k.check(&n.to_ascii_uppercase(), NOW, 300), NonceCheck::Fresh);
        assert_eq!(NonceKey::new([2; 32]).check(&n, NOW, 300), NonceCheck::Invalid);
        assert_eq!(NonceKey::random().check(&n, NOW, 300), NonceCheck::Invalid);
        assert_eq!(k.check(&n[..NONCE_LEN - 1], NOW, 300), NonceCheck::Invalid);
        assert_eq!(k.check(&n[..NONCE_LEN - 2], NOW, 300), NonceCheck::Invalid);
        let mut long = n.clone();
        long.extend_from_slice(b"00");
        assert_eq!(k.check(&long, NOW, 300), NonceCheck::Invalid);
        let mut nothex = n.clone();
        nothex[40] = b'g';
        assert_eq!(k.check(&nothex, NOW, 300), NonceCheck::Invalid);
        assert_eq!(k.check(b"", NOW, 300), NonceCheck::Invalid);
        assert_eq!(k.check(&[b'z'; NONCE_LEN], NOW, 300), NonceCheck::Invalid);
        // A stale forgery is still Invalid, never Stale.
        let mut old = n.clone();
        old[0] = b'1';
        assert_eq!(k.check(&old, NOW + 10_000, 300), NonceCheck::Invalid);
    }

    #[test]
    fn fake_ha1_is_stable_keyed_and_per_user() {
        let k = NonceKey::new([3; 32]);
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        assert_eq!(k.fake_ha1(b"ghost", b"r", Algorithm::Md5, &mut a), 32);
        assert_eq!(k.fake_ha1(b"ghost", b"r", Algorithm::Sha256, &mut b), 64);
        assert_eq!(a[..32], b[..32]);
        k.fake_ha1(b"ghost2", b"r", Algorithm::Md5, &mut b);
        assert_ne!(a[..32], b[..32]);
        NonceKey::new([4; 32]).fake_ha1(b"ghost", b"r", Algorithm::Md5, &mut b);
        assert_ne!(a[..32], b[..32]);
        assert_eq!(format!("{:?}", k), "NonceKey(..)");
    }
}
