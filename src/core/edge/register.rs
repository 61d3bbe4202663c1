//! The edge's side of registration: digest authentication of a REGISTER on
//! the shard that received it, the ask to the shard owning the AOR (parked
//! meanwhile, see `waiting.rs`) and the owner's side of it, the answer, and
//! the expiry tick. The rules themselves live in `core::registrar` and
//! `core::auth`.
//!
//! No enumeration: an unknown user and a wrong password get the same fresh
//! 401 (the verifier does the same work for both); the failure reason is
//! only counted.

use super::waiting::{Parked, Requester};
use super::{Edge, EdgeConfig, Output};
use crate::core::ask::Ask;
use crate::core::auth::{
    parse_credentials, unq, write_challenge, Algorithm, AuthFailure, NonceKey, Users, Verdict, Verifier,
};
use crate::core::counters::RegisterResult;
use crate::core::location::{Binding, Location};
use crate::core::profile::Nat;
use crate::core::registrar::{apply::apply, reply, request, BindingView, RegisterOp, RegistrarConfig, Reject, Terms};
use crate::core::{owner, Origin};
use crate::sip::{self, Essentials, HeaderName, Message, Stored};
use std::sync::Arc;

/// Digest settings every shard shares (the secret makes nonces verifiable anywhere).
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub users: Arc<Users>,
    pub secret: [u8; 32],
    pub algorithms: Vec<Algorithm>,
    pub nonce_lifetime_secs: u64,
}

/// Nonces whose nonce-count a shard remembers at once.
const MAX_TRACKED_NONCES: usize = 65536;

struct Auth {
    users: Arc<Users>,
    key: NonceKey,
    verifier: Verifier,
    algorithms: Vec<Algorithm>,
}

/// A shard's registrar state: its slice of the location table and the
/// digest verifier (REGISTERs waiting for another shard are in `Edge::waiting`).
pub(crate) struct RegState {
    pub(super) cfg: RegistrarConfig,
    pub location: Location,
    auth: Option<Auth>,
    /// The mid-registrar's book of what the core holds (mid mode only).
    pub mid: Option<crate::core::registrar::mid::MidBook>,
}

impl RegState {
    pub fn new(cfg: &EdgeConfig, now: u64) -> RegState {
        let auth = cfg.auth.as_ref().map(|a| {
            let mut verifier = Verifier::new(a.nonce_lifetime_secs, MAX_TRACKED_NONCES);
            verifier.set_algorithms(&a.algorithms);
            Auth { users: a.users.clone(), key: NonceKey::new(a.secret), verifier, algorithms: a.algorithms.clone() }
        });
        let mid = cfg.registrar.mid.clone().map(|m| crate::core::registrar::mid::MidBook::new(m, now));
        RegState { cfg: cfg.registrar.clone(), location: Location::new(now), auth, mid }
    }

    pub fn enabled(&self) -> bool {
        !self.cfg.domains.is_empty()
    }

    pub fn auth_enabled(&self) -> bool {
        self.auth.is_some()
    }
}

/// Where to find credentials and whom they must name.
pub(super) struct DigestCheck<'a> {
    pub header: HeaderName,
    pub method: &'a [u8],
    pub realm: &'a [u8],
    pub user: Option<&'a [u8]>,
    /// Where the request came from (failures count towards its ban).
    pub from: std::net::IpAddr,
}

/// Why a request is not (yet) authenticated.
pub(super) enum Unauthenticated {
    Challenge { stale: bool },
    Forbidden(&'static str),
}
impl Edge {
    /// Replaces the subscribers (reload).
    pub fn set_users(&mut self, users: Arc<Users>) {
        if let Some(a) = &mut self.reg.auth {
            a.users = users;
        }
    }

    /// The bindings of an AOR held by this shard.
    pub fn registrations(&self, aor: &[u8]) -> &[Binding] {
        self.reg.location.get(aor)
    }

    /// Bindings held by this shard.
    pub fn registrations_active(&self) -> usize {
        self.reg.location.bindings()
    }

    pub(super) fn on_register(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        out: &mut Vec<Output>,
    ) {
        if !request::serves(&self.reg.cfg, ess.ruri.host) {
            return self.answer_register(
                origin,
                msg,
                Some(ess),
                self.now_ms,
                Err(Reject::new(403, "Domain not served")),
                out,
            );
        }
        if self.reg.mid.is_some() {
            return self.on_mid_register(origin, msg, ess, out);
        }
        let Some(op) = self.authenticated_op(origin, msg, ess, out) else { return };
        let owner = owner::shard_of(&op.aor, self.cfg.shards as usize) as u16;
        if owner == self.cfg.shard && self.cluster.is_some() {
            let requester = Requester::Here { origin, request: Stored::of(msg), since_ms: self.now_ms };
            return self.register_shared(op, requester, out);
        }
        if owner == self.cfg.shard {
            let result = apply(&mut self.reg.location, &op, &self.reg.cfg);
            return self.answer_register(origin, msg, Some(ess), self.now_ms, result, out);
        }
        let parked = Parked::Register { origin, request: Stored::of(msg), since_ms: self.now_ms };
        self.ask(parked, Ask::Register { shard: owner, op: Box::new(op) }, out);
    }

    /// A REGISTER's digest check (when the edge authenticates devices) and
    /// its `RegisterOp`; None when it was answered instead (challenge,
    /// refusal, a bad request).
    pub(super) fn authenticated_op(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        out: &mut Vec<Output>,
    ) -> Option<RegisterOp> {
        let check = DigestCheck {
            header: HeaderName::Authorization,
            method: b"REGISTER",
            realm: ess.to.uri.host,
            user: ess.to.uri.user,
            from: origin.peer.ip(),
        };
        if let Err(why) = self.authenticate(msg, &check, out) {
            match why {
                Unauthenticated::Forbidden(reason) => {
                    self.answer_register(origin, msg, Some(ess), self.now_ms, Err(Reject::new(403, reason)), out)
                }
                Unauthenticated::Challenge { stale } => {
                    self.counters.registrar.results.add(RegisterResult::Unauthorized);
                    self.challenge(origin, msg, ess, 401, check.realm, stale, out)
                }
            }
            return None;
        }
        let profile = self.sender_profile(origin, msg);
        let terms = profile.and_then(|p| p.terms).unwrap_or(self.reg.cfg.terms);
        let trust_contact = profile.is_some_and(|p| p.nat == Nat::Never);
        match request::prepare(msg, ess, origin, self.now, &self.reg.cfg, &terms) {
            Ok(mut op) => {
                if trust_contact {
                    super::nat::reach_at_contact(&mut op);
                }
                Some(op)
            }
            Err(r) => {
                self.answer_register(origin, msg, Some(ess), self.now_ms, Err(r), out);
                None
            }
        }
    }

    /// On the owner: apply a REGISTER another shard authenticated.
    pub(super) fn apply_register(&mut self, op: &RegisterOp) -> Result<Vec<BindingView>, Reject> {
        apply(&mut self.reg.location, op, &self.reg.cfg)
    }

    /// Back home: answer the REGISTER that waited for its owner.
    pub(super) fn on_registered(
        &mut self,
        origin: Origin,
        request: &Stored,
        since_ms: u64,
        result: Result<Vec<BindingView>, Reject>,
        out: &mut Vec<Output>,
    ) {
        let msg = request.view();
        let ess = sip::check_request(&msg).ok();
        self.answer_register(origin, &msg, ess.as_ref(), since_ms, result, out);
    }

    /// The registration terms of a REGISTER's sender: its profile's, else `[registrar]`'s.
    pub(super) fn terms_of(&self, origin: Origin, msg: &Message<'_>) -> Terms {
        self.sender_profile(origin, msg).and_then(|p| p.terms).unwrap_or(self.reg.cfg.terms)
    }

    pub(super) fn reg_tick(&mut self) {
        self.reg.location.expire(self.now);
    }

    pub(super) fn answer_register(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: Option<&Essentials<'_>>,
        since_ms: u64,
        result: Result<Vec<BindingView>, Reject>,
        out: &mut Vec<Output>,
    ) {
        let tag = super::to_tag(msg);
        let mut bytes = Vec::with_capacity(msg.buf.len() + 256);
        let code = match &result {
            Ok(bindings) => {
                let flow_timer = self.terms_of(origin, msg).flow_timer;
                reply::write_ok(msg, ess, origin.peer, &tag, bindings, self.now, flow_timer, &mut bytes);
                self.keep_alive(origin, msg, bindings);
                200
            }
            Err(r) => {
                reply::write_reject(msg, ess, origin.peer, &tag, r, &mut bytes);
                r.code
            }
        };
        self.counters.registrar.results.add(RegisterResult::of(code));
        self.send(origin, msg, ess, since_ms, code, bytes, out);
    }

    /// RFC 3261 §22.4 / RFC 7616: finds credentials for the realm in
    /// `check.header` and checks them; the authenticated user must be
    /// `check.user` (nobody registers or calls as someone else).
    /// A wrong password and a user naming someone else's AOR count towards
    /// an authentication-failure ban of the source (see `guard`).
    pub(super) fn authenticate(
        &mut self,
        msg: &Message<'_>,
        check: &DigestCheck<'_>,
        out: &mut Vec<Output>,
    ) -> Result<(), Unauthenticated> {
        let now = self.now;
        let Some(auth) = &mut self.reg.auth else { return Ok(()) };
        let realm = check.realm;
        let creds = msg
            .values(check.header)
            .filter_map(|(v, _)| parse_credentials(v).ok())
            .find(|c| unq(c.realm).eq_ignore_ascii_case(realm));
        let Some(creds) = creds else { return Err(Unauthenticated::Challenge { stale: false }) };
        match auth.verifier.verify(&auth.users, &auth.key, check.method, &creds, &[realm], now) {
            Verdict::Ok { username } => {
                if check.user.map(|u| u == &*unq(username)) != Some(true) {
                    self.counters.registrar.auth_failures.add(AuthFailure::NotOwner);
                    self.auth_failure(check.from, out);
                    return Err(Unauthenticated::Forbidden("Username does not match the AOR"));
                }
                Ok(())
            }
            Verdict::Stale => Err(Unauthenticated::Challenge { stale: true }),
            Verdict::Reject(reason) => {
                self.counters.registrar.auth_failures.add(reason);
                if reason == AuthFailure::BadResponse {
                    self.auth_failure(check.from, out);
                }
                Err(Unauthenticated::Challenge { stale: false })
            }
        }
    }

    /// Answers with a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate)
    /// challenge for `realm`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn challenge(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        code: u16,
        realm: &[u8],
        stale: bool,
        out: &mut Vec<Output>,
    ) {
        let (header, reason) = if code == 407 {
            ("Proxy-Authenticate", "Proxy Authentication Required")
        } else {
            ("WWW-Authenticate", "Unauthorized")
        };
        let to_tag = super::to_tag(msg);
        let mut bytes = Vec::with_capacity(msg.buf.len() + 256);
        let ua = msg.header(HeaderName::UserAgent);
        let profile = self.cfg.profiles.matching(ua, origin.peer.ip(), origin.transport);
        let challenges = self.challenges(realm, stale, profile);
        let extra: Vec<(&str, &[u8])> = challenges.iter().map(|c| (header, c.as_slice())).collect();
        sip::write_response(
            msg,
            Some(ess),
            code,
            reason,
            Some(&to_tag),
            Some((origin.peer.ip(), origin.peer.port())),
            &extra,
            b"",
            &mut bytes,
        );
        let since = self.now_ms;
        self.send(origin, msg, Some(ess), since, code, bytes, out)
    }

    /// One challenge value per algorithm offered (the matching profile's,
    /// else the configured ones), sharing one fresh nonce.
    fn challenges(&self, realm: &[u8], stale: bool, profile: Option<usize>) -> Vec<Vec<u8>> {
        let Some(auth) = &self.reg.auth else { return Vec::new() };
        let mut nonce = Vec::with_capacity(64);
        auth.key.issue(self.now, &mut nonce);
        let offered = match profile.map(|i| &self.cfg.profiles.0[i].auth_algorithms) {
            Some(list) if !list.is_empty() => list,
            _ => &auth.algorithms,
        };
        offered
            .iter()
            .map(|&alg| {
                let mut v = Vec::with_capacity(160);
                write_challenge(realm, &nonce, alg, stale, &mut v);
                v
            })
            .collect()
    }
}
