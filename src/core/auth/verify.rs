//! Verifying Digest credentials for one request (RFC 3261 §22.4, RFC 7616
//! §3.4.1, RFC 8760), and the per-shard replay memory that makes `nc` mean
//! something. Owns `Verifier` and `Verdict`.
//!
//! Order of checks, each with the reason label a `Reject` carries (stable:
//! the registrar uses them as metric labels):
//!
//! 1. `userhash=true` → "userhash unsupported" (never offered in challenges).
//! 2. nonce MAC → "unknown nonce" (forged, foreign secret, garbage).
//! 3. realm among the served realms (exact bytes) → "wrong realm".
//! 4. algorithm (absent = MD5) among the offered ones → "algorithm not offered".
//! 5. `qop` present → "missing qop"; equal to `auth` → "unsupported qop";
//!    `cnonce` present and non-empty → "missing cnonce"; `nc` present →
//!    "missing nc", non-zero → "bad nc".
//! 6. the nonce did not carry a wrong response before → "nonce burned by
//!    a wrong response"; response = `KD(HA1, nonce:nc:cnonce:qop:HA2)`,
//!    `HA2 = H(method:uri)`, compared in constant time (hex either case) →
//!    "bad response", and the nonce is burned: whoever guesses must fetch a
//!    fresh challenge for every guess, a round trip each, even from an
//!    allowlisted address that is never banned. (Someone who sees a
//!    client's nonce can burn it; the client then gets a fresh challenge
//!    and retries: one round trip, never a way in.)
//! 7. nonce age: past its lifetime (or > 60 s ahead) → `Stale`. Only a
//!    correct response earns `Stale` (RFC 7616 §3.3: the client then retries
//!    with the new nonce without asking its user again).
//! 8. `nc` strictly greater than the highest seen for this nonce →
//!    otherwise "nonce reuse". Recorded only after steps 1–7 pass, so a
//!    forged request cannot burn a legitimate client's `nc`.
//!
//! **No enumeration.** An unknown user (or one with no secret for the
//! algorithm) is checked against a fake HA1 = HMAC(secret, username:realm):
//! the same path, one keyed hash instead of one password hash, and the same
//! verdict, "bad response", as a wrong password.
//!
//! **Replay memory** maps each used nonce (its timestamp+salt id) to the
//! highest `nc` accepted, in insertion order. Entries leave when their nonce
//! has gone stale (it can no longer pass step 7), checked at the front of
//! the queue on every call, so the work is amortised O(1). When the map is
//! full of live entries the oldest is evicted and every untracked nonce
//! issued no later than it is answered `Stale` from then on, so eviction
//! never reopens a replay window; it only makes a few clients fetch a new
//! nonce. The memory is per shard: a replay sent to another shard is caught
//! only by the nonce lifetime (SO_REUSEPORT keeps one client's flow on one
//! shard, so honest traffic is unaffected). Keep the lifetime short.
//!
//! `nc` is hashed as 8 lowercase hex digits, as RFC 7616 requires; a client
//! that sends it in uppercase fails with "bad response".

use std::collections::{HashMap, VecDeque};

use subtle::ConstantTimeEq;

use super::algorithm::{hex_encode, Algorithm};
use super::credentials::{unq, Credentials};
use super::nonce::NonceKey;
use super::users::Users;
use super::AuthFailure;

/// The outcome of verifying one request's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Authenticated; `username` as it appeared in the header (raw, escapes
    /// kept: unescape with `unq` if it has a backslash).
    Ok { username: &'a [u8] },
    /// Right credentials on an expired nonce: challenge again with
    /// `stale=true`.
    Stale,
    /// Refused; the reason says why (for metrics and logs, not for the peer).
    Reject(AuthFailure),
}

/// The `nc` of a nonce that carried a wrong response: no later one passes.
const BURNED: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Seen {
    ts: u64,
    nc: u32,
}

/// Per-shard verifier with its replay memory.
#[derive(Debug)]
pub struct Verifier {
    lifetime_secs: u64,
    max_tracked: usize,
    offered: [bool; 3],
    seen: HashMap<u128, Seen>,
    order: VecDeque<u128>,
    /// Untracked nonces issued before this are answered `Stale` (eviction).
    floor: u64,
    evicted: u64,
}

impl Verifier {
    /// `lifetime_secs`: how long a nonce is fresh; `max_tracked`: how many
    /// nonces' `nc` to remember (at least 1).
    pub fn new(lifetime_secs: u64, max_tracked: usize) -> Verifier {
        Verifier {
            lifetime_secs,
            max_tracked: max_tracked.max(1),
            offered: [true; 3],
            seen: HashMap::new(),
            order: VecDeque::new(),
            floor: 0,
            evicted: 0,
        }
    }

    /// Restricts the algorithms accepted to those challenged with (default:
    /// all). Credentials using another are refused, "algorithm not offered".
    pub fn set_algorithms(&mut self, algs: &[Algorithm]) {
        self.offered = [false; 3];
        for a in algs {
            self.offered[a.index()] = true;
        }
    }

    /// Nonce lifetime this verifier enforces.
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    /// Nonces whose `nc` is being remembered.
    pub fn tracked(&self) -> usize {
        self.seen.len()
    }

    /// Live entries evicted because the memory was full (a counter for
    /// metrics; non-zero means `max_tracked` is too small).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Full check of one request's credentials; see the module doc for the
    /// order of checks and the reasons.
    pub fn verify<'a>(
        &mut self,
        users: &Users,
        key: &NonceKey,
        method: &[u8],
        creds: &Credentials<'a>,
        realms: &[&[u8]],
        now: u64,
    ) -> Verdict<'a> {
        if creds.userhash {
            return Verdict::Reject(AuthFailure::UserhashUnsupported);
        }
        let Some(nonce) = key.decode(creds.nonce) else {
            return Verdict::Reject(AuthFailure::UnknownNonce);
        };
        let realm = unq(creds.realm);
        if !realms.iter().any(|r| *r == &*realm) {
            return Verdict::Reject(AuthFailure::WrongRealm);
        }
        let alg = creds.algorithm.unwrap_or(Algorithm::Md5);
        if !self.offered[alg.index()] {
            return Verdict::Reject(AuthFailure::AlgorithmNotOffered);
        }
        let Some(qop) = creds.qop else {
            return Verdict::Reject(AuthFailure::MissingQop);
        };
        if !qop.eq_ignore_ascii_case(b"auth") {
            return Verdict::Reject(AuthFailure::UnsupportedQop);
        }
        let Some(cnonce) = creds.cnonce.filter(|c| !c.is_empty()) else {
            return Verdict::Reject(AuthFailure::MissingCnonce);
        };
        let Some(nc) = creds.nc else {
            return Verdict::Reject(AuthFailure::MissingNc);
        };
        if nc == 0 {
            return Verdict::Reject(AuthFailure::BadNc);
        }

        if self.seen.get(&nonce.id).is_some_and(|s| s.nc == BURNED) {
            return Verdict::Reject(AuthFailure::BurnedNonce);
        }
        let username = unq(creds.username);
        let mut ha1 = [0u8; 64];
        let ha1_len = match users.ha1(&username, &realm, alg, &mut ha1) {
            Some(n) => n,
            None => key.fake_ha1(&username, &realm, alg, &mut ha1),
        };
        let mut want = [0u8; 64];
        let n = expected_response(
            alg,
            &ha1[..ha1_len],
            method,
            &unq(creds.uri),
            creds.nonce,
            nc,
            &unq(cnonce),
            qop,
            &mut want,
        );
        let stale = NonceKey::is_stale(nonce.ts, now, self.lifetime_secs);
        if !response_matches(&want[..n], creds.response) {
            if !stale {
                self.purge(now);
                match self.seen.get_mut(&nonce.id) {
                    Some(s) => s.nc = BURNED,
                    None => {
                        self.track(nonce.id, nonce.ts, BURNED);
                    }
                }
            }
            return Verdict::Reject(AuthFailure::BadResponse);
        }

        if stale {
            return Verdict::Stale;
        }
        self.purge(now);
        if let Some(s) = self.seen.get_mut(&nonce.id) {
            if nc <= s.nc {
                return Verdict::Reject(AuthFailure::NonceReuse);
            }
            s.nc = nc;
            return Verdict::Ok { username: creds.username };
        }
        if nonce.ts < self.floor || !self.track(nonce.id, nonce.ts, nc) {
            // Possibly evicted: cannot tell a first use from a replay.
            return Verdict::Stale;
        }
        Verdict::Ok { username: creds.username }
    }

    /// Remembers nonce `id` (issued at `ts`) with `nc`, evicting the oldest
    /// when full; false when the nonce is older than what eviction forgot.
    fn track(&mut self, id: u128, ts: u64, nc: u32) -> bool {
        if self.seen.len() >= self.max_tracked {
            if let Some(old) = self.order.pop_front() {
                if let Some(s) = self.seen.remove(&old) {
                    self.floor = self.floor.max(s.ts.saturating_add(1));
                    self.evicted += 1;
                }
            }
            if ts < self.floor {
                return false;
            }
        }
        self.seen.insert(id, Seen { ts, nc });
        self.order.push_back(id);
        true
    }

    /// Drops entries at the front of the queue whose nonce is past its
    /// lifetime (those cannot verify any more).
    fn purge(&mut self, now: u64) {
        while let Some(&id) = self.order.front() {
            let ts = self.seen.get(&id).map_or(0, |s| s.ts);
            if now.saturating_sub(ts) <= self.lifetime_secs {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&id);
        }
    }
}

/// `KD(HA1, nonce:nc:cnonce:qop:HA2)` with `HA2 = H(method:uri)`, as hex in
/// `out`; returns its length.
#[allow(clippy::too_many_arguments)]
pub(crate) fn expected_response(
    alg: Algorithm,
    ha1: &[u8],
    method: &[u8],
    uri: &[u8],
    nonce: &[u8],
    nc: u32,
    cnonce: &[u8],
    qop: &[u8],
    out: &mut [u8; 64],
) -> usize {
    let mut ha2 = [0u8; 64];
    let ha2_len = alg.hash_hex(&[method, uri], &mut ha2);
    let mut nc_hex = [0u8; 8];
    hex_encode(&nc.to_be_bytes(), &mut nc_hex);
    alg.hash_hex(&[ha1, nonce, &nc_hex, cnonce, qop, &ha2[..ha2_len]], out)
}

/// Constant-time (for equal lengths) comparison of our lowercase hex with
/// the client's hex in either case.
fn response_matches(want: &[u8], got: &[u8]) -> bool {
    if want.len() != got.len() {
        return false;
    }
    let mut lower = [0u8; 64];
    for (d, s) in lower.iter_mut().zip(got) {
        *d = s.to_ascii_lowercase();
    }
    bool::from(want.ct_eq(&lower[..got.len()]))
}

#[cfg(test)]
mod tests {
    use super::super::credentials::parse_credentials;
    use super::*;

    fn hx(alg: Algorithm, parts: &[&[u8]]) -> String {
        let mut o = [0u8; 64];
        let n = alg.hash_hex(parts, &mut o);
        String::from_utf8(o[..n].to_vec()).unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    /// What a phone computes, written out from RFC 7616 §3.4.1 independently
    /// of `expected_response`.
    fn client_response(
        alg: Algorithm,
        user: &str,
        realm: &str,
        pw: &str,
        method: &str,
        uri: &str,
        nonce: &str,
        nc: &str,
        cnonce: &str,
    ) -> String {
        let ha1 = hx(alg, &[user.as_bytes(), realm.as_bytes(), pw.as_bytes()]);
        let ha2 = hx(alg, &[method.as_bytes(), uri.as_bytes()]);
        hx(alg, &[ha1.as_bytes(), nonce.as_bytes(), nc.as_bytes(), cnonce.as_bytes(), b"auth", ha2.as_bytes()])
    }

    fn resp_of(c: &Credentials, alg: Algorithm, ha1: &str, method: &str) -> String {
        let mut o = [0u8; 64];
        let n = expected_response(
            alg,
            ha1.as_bytes(),
            method.as_bytes(),
            c.uri,
            c.nonce,
            c.nc.unwrap(),
            c.cnonce.unwrap(),
            c.qop.unwrap(),
            &mut o,
        );
        String::from_utf8(o[..n].to_vec()).unwrap()
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let c = Credentials {
            username: b"Mufasa",
            realm: b"testrealm@host.com",
            nonce: b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            uri: b"/dir/index.html",
            response: b"6629fae49393a05397450978507c4ef1",
            algorithm: None,
            cnonce: Some(b"0a4f113b"),
            nc: Some(1),
            qop: Some(b"auth"),
            opaque: Some(b"5ccc069c403ebaf9f0171e9517f40e41"),
            userhash: false,
        };
        // Passwords with whitespace cannot be written in the file: operators store the HA1.
        let e = Users::parse("Mufasa testrealm@host.com password=Circle Of Life", "t").unwrap_err();
        assert!(e.message.contains("expected key=value"));
        let ha1 = hx(Algorithm::Md5, &[b"Mufasa", b"testrealm@host.com", b"Circle Of Life"]);
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        assert_eq!(resp_of(&c, Algorithm::Md5, &ha1, "GET"), "6629fae49393a05397450978507c4ef1");
        assert!(response_matches(b"6629fae49393a05397450978507c4ef1", c.response));
        assert!(response_matches(b"6629fae49393a05397450978507c4ef1", b"6629FAE49393A05397450978507C4EF1"));
        assert!(!response_matches(b"6629fae49393a05397450978507c4ef1", b"6629fae49393a05397450978507c4ef0"));
        assert!(!response_matches(b"6629fae49393a05397450978507c4ef1", b"6629fae49393a05397450978507c4ef"));
        assert_ne!(resp_of(&c, Algorithm::Md5, &ha1, "REGISTER"), "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_section_3_9_1_examples() {
        let base = "username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
                    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
                    cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
                    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        for (alg, resp) in [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (Algorithm::Sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ] {
            let h = format!("Digest {}, algorithm={}, response=\"{}\"", base, alg.token(), resp);
            let c = parse_credentials(h.as_bytes()).unwrap();
            assert_eq!(c.algorithm, Some(alg));
            // HA1 as an operator would store it (the password has spaces),
            // looked up through `Users` as the verifier does.
            let pw_ha1 = hx(alg, &[b"Mufasa", b"http-auth@example.org", b"Circle of Life"]);
            let key = if alg == Algorithm::Md5 { "md5" } else { "sha256" };
            let users = Users::parse(&format!("Mufasa http-auth@example.org {}={}", key, pw_ha1), "t").unwrap();
            let mut ha1 = [0u8; 64];
            let n = users.ha1(c.username, c.realm, alg, &mut ha1).unwrap();
            assert_eq!(&ha1[..n], pw_ha1.as_bytes());
            assert_eq!(resp_of(&c, alg, &pw_ha1, "GET"), resp, "{:?}", alg);
            assert_eq!(
                client_response(
                    alg,
                    "Mufasa",
                    "http-auth@example.org",
                    "Circle of Life",
                    "GET",
                    "/dir/index.html",
                    "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                    "00000001",
                    "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
                ),
                resp
            );
        }
    }

    const NOW: u64 = 1_750_000_000;
    const REALM: &str = "example.com";
    const REALMS: &[&[u8]] = &[b"other.net", b"example.com"];

    struct Phone {
        user: &'static str,
        pw: &'static str,
        alg: Option<Algorithm>,
        uri: &'static str,
    }

    impl Phone {
        fn header(&self, nonce: &str, nc: u32, cnonce: &str) -> String {
            let alg = self.alg.unwrap_or(Algorithm::Md5);
            let ncs = format!("{:08x}", nc);
            let r = client_response(alg, self.user, REALM, self.pw, "REGISTER", self.uri, nonce, &ncs, cnonce);
            let alg_param = self.alg.map(|a| format!(", algorithm={}", a.token())).unwrap_or_default();
            format!(
                "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\"{}, cnonce=\"{}\", nc={}, qop=auth",
                self.user.replace('\\', "\\\\").replace('"', "\\\""), REALM, nonce, self.uri, r, alg_param, cnonce, ncs
            )
        }
    }

    fn alice(alg: Option<Algorithm>) -> Phone {
        Phone { user: "alice", pw: "s3cret", alg, uri: "sip:example.com" }
    }

    fn setup() -> (Users, NonceKey, Verifier) {
        let users = Users::parse(
            &format!(
                "alice example.com password=s3cret\n\
                 hashed example.com md5={} sha256={}\n\
                 a\"b\\c example.com password=q\n",
                hx(Algorithm::Md5, &[b"hashed", b"example.com", b"pw2"]),
                hx(Algorithm::Sha256, &[b"hashed", b"example.com", b"pw2"]),
            ),
            "subs",
        )
        .unwrap();
        (users, NonceKey::new([42; 32]), Verifier::new(300, 1000))
    }

    fn nonce(k: &NonceKey, at: u64) -> String {
        let mut v = Vec::new();
        k.issue(at, &mut v);
        String::from_utf8(v).unwrap()
    }

    fn run<'a>(v: &mut Verifier, u: &Users, k: &NonceKey, h: &'a str, now: u64) -> Verdict<'a> {
        let c = parse_credentials(h.as_bytes()).unwrap();
        v.verify(u, k, b"REGISTER", &c, REALMS, now)
    }

    #[test]
    fn every_algorithm_round_trips_including_sha512_256() {
        let (u, k, mut v) = setup();
        for alg in [None, Some(Algorithm::Md5), Some(Algorithm::Sha256), Some(Algorithm::Sha512_256)] {
            let n = nonce(&k, NOW);
            let h = alice(alg).header(&n, 1, "abc");
            assert_eq!(run(&mut v, &u, &k, &h, NOW + 5), Verdict::Ok { username: b"alice" }, "{:?}", alg);
        }
        // SHA-512-256: server-side expected value equals the phone's.
        let n = nonce(&k, NOW);
        let h = alice(Some(Algorithm::Sha512_256)).header(&n, 7, "xyz");
        let c = parse_credentials(h.as_bytes()).unwrap();
        let ha1 = hx(Algorithm::Sha512_256, &[b"alice", b"example.com", b"s3cret"]);
        assert_eq!(resp_of(&c, Algorithm::Sha512_256, &ha1, "REGISTER").as_bytes(), c.response);
        assert_eq!(c.response.len(), 64);
        assert_eq!(v.tracked(), 4);
    }

    #[test]
    fn ha1_entries_and_escaped_usernames_authenticate() {
        let (u, k, mut v) = setup();
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let p = Phone { user: "hashed", pw: "pw2", alg: Some(alg), uri: "sip:example.com" };
            let h = p.header(&nonce(&k, NOW), 1, "c");
            assert_eq!(run(&mut v, &u, &k, &h, NOW), Verdict::Ok { username: b"hashed" });
        }
        // No SHA-512-256 secret for that user: treated as unknown.
        let p = Phone { user: "hashed", pw: "pw2", alg: Some(Algorithm::Sha512_256), uri: "sip:example.com" };
        assert_eq!(
            run(&mut v, &u, &k, &p.header(&nonce(&k, NOW), 1, "c"), NOW),
            Verdict::Reject(AuthFailure::BadResponse)
        );
        let p = Phone { user: "a\"b\\c", pw: "q", alg: None, uri: "sip:example.com" };
        let h = p.header(&nonce(&k, NOW), 1, "c");
        assert_eq!(run(&mut v, &u, &k, &h, NOW), Verdict::Ok { username: br#"a\"b\\c"# });
    }

    #[test]
    fn replayed_nc_is_refused_and_increasing_nc_accepted() {
        let (u, k, mut v) = setup();
        let n = nonce(&k, NOW);
        let p = alice(Some(Algorithm::Sha256));
        let h1 = p.header(&n, 1, "c1");
        assert!(matches!(run(&mut v, &u, &k, &h1, NOW), Verdict::Ok { .. }));
        assert_eq!(run(&mut v, &u, &k, &h1, NOW + 1), Verdict::Reject(AuthFailure::NonceReuse));
        let h3 = p.header(&n, 3, "c1");
        assert!(matches!(run(&mut v, &u, &k, &h3, NOW + 2), Verdict::Ok { .. }));
        assert_eq!(run(&mut v, &u, &k, &p.header(&n, 2, "c9"), NOW + 3), Verdict::Reject(AuthFailure::NonceReuse));
        assert!(matches!(run(&mut v, &u, &k, &p.header(&n, 4, "c9"), NOW + 3), Verdict::Ok { .. }));
        assert_eq!(v.tracked(), 1);
        // A fresh nonce starts its own count.
        assert!(matches!(run(&mut v, &u, &k, &p.header(&nonce(&k, NOW), 1, "c"), NOW + 4), Verdict::Ok { .. }));
        assert_eq!(v.tracked(), 2);
        assert_eq!(run(&mut v, &u, &k, &p.header(&n, 0, "c"), NOW + 4), Verdict::Reject(AuthFailure::BadNc));
    }

    #[test]
    fn a_wrong_response_burns_the_nonce_so_every_guess_needs_a_fresh_challenge() {
        let (u, k, mut v) = setup();
        let n = nonce(&k, NOW);
        let bad = Phone { user: "alice", pw: "guess", alg: None, uri: "sip:example.com" };
        assert_eq!(run(&mut v, &u, &k, &bad.header(&n, 1, "c"), NOW), Verdict::Reject(AuthFailure::BadResponse));
        assert_eq!(run(&mut v, &u, &k, &bad.header(&n, 2, "c"), NOW), Verdict::Reject(AuthFailure::BurnedNonce));
        assert_eq!(
            run(&mut v, &u, &k, &alice(None).header(&n, 3, "c"), NOW),
            Verdict::Reject(AuthFailure::BurnedNonce),
            "even the right password: fetch a fresh nonce"
        );
        let fresh = nonce(&k, NOW + 1);
        assert!(matches!(run(&mut v, &u, &k, &alice(None).header(&fresh, 1, "c"), NOW + 1), Verdict::Ok { .. }));
        // A nonce in use is burned too; a stale one is not remembered.
        assert_eq!(
            run(&mut v, &u, &k, &bad.header(&fresh, 2, "c"), NOW + 1),
            Verdict::Reject(AuthFailure::BadResponse)
        );
        assert_eq!(
            run(&mut v, &u, &k, &alice(None).header(&fresh, 3, "c"), NOW + 1),
            Verdict::Reject(AuthFailure::BurnedNonce)
        );
        let before = v.tracked();
        let old = nonce(&k, NOW - 10_000);
        assert_eq!(run(&mut v, &u, &k, &bad.header(&old, 1, "c"), NOW), Verdict::Reject(AuthFailure::BadResponse));
        assert_eq!(v.tracked(), before);
    }

    #[test]
    fn unknown_user_reads_exactly_like_a_wrong_password() {
        let (u, k, mut v) = setup();
        let n = nonce(&k, NOW);
        let wrong_pw = Phone { user: "alice", pw: "nope", alg: Some(Algorithm::Sha256), uri: "sip:example.com" };
        let ghost = Phone { user: "mallory", pw: "nope", alg: Some(Algorithm::Sha256), uri: "sip:example.com" };
        let ghost_empty = Phone { user: "", pw: "", alg: None, uri: "sip:example.com" };
        // Each on a nonce of its own: a wrong response burns its nonce.
        let (n2, n3) = (nonce(&k, NOW - 1), nonce(&k, NOW - 2));
        let (h1, h2, h3) = (wrong_pw.header(&n, 1, "c"), ghost.header(&n2, 1, "c"), ghost_empty.header(&n3, 1, "c"));
        let a = run(&mut v, &u, &k, &h1, NOW);
        let b = run(&mut v, &u, &k, &h2, NOW);
        let c = run(&mut v, &u, &k, &h3, NOW);
        assert_eq!(a, Verdict::Reject(AuthFailure::BadResponse));
        assert_eq!(a, b);
        assert_eq!(a, c);
        // Same on a stale nonce: no Stale hint for an unknown user either.
        let old = nonce(&k, NOW - 1000);
        assert_eq!(run(&mut v, &u, &k, &wrong_pw.header(&old, 1, "c"), NOW), Verdict::Reject(AuthFailure::BadResponse));
        assert_eq!(run(&mut v, &u, &k, &ghost.header(&old, 1, "c"), NOW), Verdict::Reject(AuthFailure::BadResponse));
    }

    #[test]
    fn stale_only_for_right_credentials_on_an_old_nonce() {
        let (u, k, mut v) = setup();
        let n = nonce(&k, NOW);
        let h = alice(None).header(&n, 1, "c");
        assert_eq!(run(&mut v, &u, &k, &h, NOW + 301), Verdict::Stale);
        assert_eq!(v.tracked(), 0);
        assert!(matches!(run(&mut v, &u, &k, &h, NOW + 300), Verdict::Ok { .. }));
    }

    #[test]
    fn each_rejection_reason() {
        let (u, k, _) = setup();
        let mut v;
        let n = nonce(&k, NOW);
        let good = alice(None).header(&n, 1, "c");
        let cases: Vec<(String, &str)> = vec![
            (good.replace(&n, &nonce(&NonceKey::new([1; 32]), NOW)), "unknown nonce"),
            (good.replace(&n, "dcd98b7102dd2f0e8b11d0f600bfb0c093"), "unknown nonce"),
            (good.replace("realm=\"example.com\"", "realm=\"evil.org\""), "wrong realm"),
            (good.replace("realm=\"example.com\"", "realm=\"EXAMPLE.COM\""), "wrong realm"),
            (good.replace(", qop=auth", ""), "missing qop"),
            (good.replace("qop=auth", "qop=auth-int"), "unsupported qop"),
            (good.replace("cnonce=\"c\", ", ""), "missing cnonce"),
            (good.replace("cnonce=\"c\"", "cnonce=\"\""), "missing cnonce"),
            (good.replace("nc=00000001, ", ""), "missing nc"),
            (good.replace("uri=\"sip:example.com\"", "uri=\"sip:elsewhere\""), "bad response"),
            (format!("{}, userhash=true", good), "userhash unsupported"),
            (good.replace(&format!("nonce=\"{}\"", n), "nonce=\"\""), "unknown nonce"),
        ];
        for (h, why) in &cases {
            // A fresh replay memory per case: a bad response burns its nonce.
            v = Verifier::new(300, 1000);
            let got = match run(&mut v, &u, &k, h, NOW) {
                Verdict::Reject(r) => r.label(),
                _ => "accepted",
            };
            assert_eq!(got, *why, "{}", h);
        }
        // The method is part of HA2.
        v = Verifier::new(300, 1000);
        let c = parse_credentials(good.as_bytes()).unwrap();
        assert_eq!(v.verify(&u, &k, b"INVITE", &c, REALMS, NOW), Verdict::Reject(AuthFailure::BadResponse));
        // Served realms are the caller's choice.
        assert_eq!(v.verify(&u, &k, b"REGISTER", &c, &[b"other.net"], NOW), Verdict::Reject(AuthFailure::WrongRealm));
        // Restricting algorithms.
        v = Verifier::new(300, 1000);
        v.set_algorithms(&[Algorithm::Sha256, Algorithm::Sha512_256]);
        assert_eq!(run(&mut v, &u, &k, &good, NOW), Verdict::Reject(AuthFailure::AlgorithmNotOffered));
        let sha = alice(Some(Algorithm::Sha256)).header(&n, 1, "c");
        assert!(matches!(run(&mut v, &u, &k, &sha, NOW), Verdict::Ok { .. }));
        // Uppercase response hex is accepted.
        let up = alice(Some(Algorithm::Sha512_256)).header(&nonce(&k, NOW), 1, "c");
        let r = parse_credentials(up.as_bytes()).unwrap().response.to_vec();
        let up = up.replace(std::str::from_utf8(&r).unwrap(), &String::from_utf8(r.clone()).unwrap().to_uppercase());
        assert!(matches!(run(&mut v, &u, &k, &up, NOW), Verdict::Ok { .. }));
    }

    #[test]
    fn replay_memory_stays_bounded_and_eviction_never_reopens_replay() {
        let (u, k, _) = setup();
        let mut v = Verifier::new(300, 4);
        let p = alice(None);
        let mut used = Vec::new();
        for i in 0..10u64 {
            let n = nonce(&k, NOW + i);
            let h = p.header(&n, 1, "c");
            assert!(matches!(run(&mut v, &u, &k, &h, NOW + i), Verdict::Ok { .. }), "{}", i);
            assert!(v.tracked() <= 4);
            used.push(h);
        }
        assert_eq!(v.tracked(), 4);
        assert_eq!(v.evicted(), 6);
        // Evicted nonces replayed: Stale (fetch a new nonce), never Ok.
        for h in &used[..6] {
            assert_eq!(run(&mut v, &u, &k, h, NOW + 10), Verdict::Stale);
        }
        // Tracked ones: replay refused.
        for h in &used[6..] {
            assert_eq!(run(&mut v, &u, &k, h, NOW + 10), Verdict::Reject(AuthFailure::NonceReuse));
        }
        // A nonce issued now still works.
        let h = p.header(&nonce(&k, NOW + 20), 1, "c");
        assert!(matches!(run(&mut v, &u, &k, &h, NOW + 20), Verdict::Ok { .. }));
        assert_eq!(v.tracked(), 4);
        // Once everything is past its lifetime, entries are dropped.
        let later = NOW + 20 + 301;
        let h = p.header(&nonce(&k, later), 1, "c");
        assert!(matches!(run(&mut v, &u, &k, &h, later), Verdict::Ok { .. }));
        assert_eq!(v.tracked(), 1);
        assert_eq!(v.evicted(), 7);
    }

    #[test]
    fn expired_entries_are_purged_without_eviction() {
        let (u, k, _) = setup();
        let mut v = Verifier::new(60, 100);
        let p = alice(None);
        for i in 0..50u64 {
            let t = NOW + i * 10;
            assert!(matches!(run(&mut v, &u, &k, &p.header(&nonce(&k, t), 1, "c"), t), Verdict::Ok { .. }));
            assert!(v.tracked() <= 7, "{} at {}", v.tracked(), i);
        }
        assert_eq!(v.evicted(), 0);
    }

    #[test]
    fn mutated_headers_never_panic_and_never_pass() {
        // Deterministic byte mutations of a valid header: parse and verify
        // must not panic, and no mutation of the response may authenticate.
        let (u, k, mut v) = setup();
        let good = alice(Some(Algorithm::Sha256)).header(&nonce(&k, NOW), 1, "c");
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let resp_at = good.find("response=\"").unwrap() + 10;
        for _ in 0..20_000 {
            let mut b = good.clone().into_bytes();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % b.len();
                match next() % 3 {
                    0 => b[i] = next() as u8,
                    1 => {
                        b.remove(i);
                    }
                    _ => b.insert(i, b"\",\\= \t\r\n"[(next() % 7) as usize]),
                }
            }
            if let Ok(c) = parse_credentials(&b) {
                let verdict = v.verify(&u, &k, b"REGISTER", &c, REALMS, NOW);
                if !c.response.eq_ignore_ascii_case(&good.as_bytes()[resp_at..resp_at + 64]) {
                    assert!(!matches!(verdict, Verdict::Ok { .. }), "{}", String::from_utf8_lossy(&b));
                }
            }
        }
        assert!(v.tracked() <= 1);
    }
}
