//! SIP Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760), sans-IO:
//! no clock (time is passed in as unix seconds) and no IO except
//! `Users::load` reading the subscribers file.
//!
//! - `algorithm`: MD5, SHA-256, SHA-512-256 and `H(a:b:...)` as hex.
//! - `users`: the subscribers file (format in its doc) and HA1 lookup.
//! - `nonce`: stateless MAC'd nonces any shard can verify (shared secret).
//! - `credentials`: zero-copy parse of Authorization / Proxy-Authorization.
//! - `challenge`: WWW-Authenticate / Proxy-Authenticate values.
//! - `verify`: the full per-request check, with per-shard `nc` replay
//!   memory and no user enumeration.
//!
//! Typical registrar flow, per shard:
//!
//! ```text
//! let key = NonceKey::new(shared_secret);         // same secret on every shard
//! let mut verifier = Verifier::new(300, 100_000);
//! // request without (usable) credentials, or Verdict::Stale:
//! key.issue(now, &mut nonce);
//! for alg in Algorithm::ALL { write_challenge(realm, &nonce, alg, stale, &mut value); /* one header each */ }
//! // request with credentials:
//! match parse_credentials(authorization) {
//!     Ok(c) => match verifier.verify(&users, &key, method, &c, &[realm], now) { .. },
//!     Err(CredError::NotDigest) | Err(_) => /* challenge */,
//! }
//! ```

pub mod algorithm;
pub mod challenge;
pub mod credentials;
pub mod nonce;
pub mod users;
pub mod verify;

pub use algorithm::Algorithm;
pub use challenge::write_challenge;
pub use credentials::{parse_credentials, unq, CredError, Credentials};
pub use nonce::{NonceCheck, NonceKey, NONCE_LEN};
pub use users::{Users, UsersError};
pub use verify::{Verdict, Verifier};

crate::reasons! {
    /// Why digest authentication failed (`sipedge_auth_failures_total`):
    /// every reason but `NotOwner` is a `Verdict::Reject` of the verifier;
    /// `NotOwner` is the registrar's and proxy's check of the user against
    /// the AOR. Order of the verifier's checks: see `verify`.
    pub enum AuthFailure {
        UserhashUnsupported => "userhash unsupported",
        UnknownNonce => "unknown nonce",
        WrongRealm => "wrong realm",
        AlgorithmNotOffered => "algorithm not offered",
        MissingQop => "missing qop",
        UnsupportedQop => "unsupported qop",
        MissingCnonce => "missing cnonce",
        MissingNc => "missing nc",
        BadNc => "bad nc",
        /// Wrong password (or unknown user): counts towards a ban.
        BadResponse => "bad response",
        NonceReuse => "nonce reuse",
        /// A nonce that already carried a wrong response, used again.
        BurnedNonce => "nonce burned by a wrong response",
        NotOwner => "user does not own the AOR",
    }
}
