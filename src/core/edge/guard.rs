//! The edge's side of protection (`core::protect` holds the rules): a
//! banned source is dropped before its bytes are scanned; a request from a
//! source not allowlisted is dropped when its User-Agent names a scanner,
//! counted towards the flood tripwire, refused (513) over its method's size
//! limit and put through the rate-limit rules (503 with Retry-After, or
//! dropped, or parked for a lease of the key's tokens: `limits.rs`);
//! authentication failures and flood counts go to the shard owning the
//! source IP, and bans are told to every shard.

use super::{Edge, Output};
use crate::core::counters::{Drop, MethodName};
use crate::core::mesh::MeshMsg;
use crate::core::protect::{event_package, Action, Ban, Facts, Verdict};
use crate::core::registrar::request::aor_of;
use crate::core::Origin;
use crate::sip::{Essentials, HeaderName, Message, Method};
use std::net::IpAddr;

/// Stop here: the request has been answered or dropped.
pub(super) struct Stop;

impl Edge {
    /// Before scanning: is the source banned? (Counted as a drop.)
    pub(super) fn banned(&mut self, origin: &Origin) -> bool {
        let banned = self.protect.banned(origin.peer.ip(), self.now_ms);
        if banned {
            self.counters.wire.drops.add(Drop::Banned);
        }
        banned
    }

    /// Scanner, flood and size checks of a scanned request, before validation.
    pub(super) fn screen(&mut self, origin: Origin, msg: &Message<'_>, out: &mut Vec<Output>) -> Result<(), Stop> {
        let ip = origin.peer.ip();
        if self.protect.allowed(ip) {
            return Ok(());
        }
        if self.protect.scanner(msg.header(HeaderName::UserAgent)) {
            self.counters.wire.drops.add(Drop::Scanner);
            return Err(Stop);
        }
        if let Some(ban) = self.protect.count_request(ip, self.now_ms) {
            self.tell_ban(ban, out);
            self.counters.wire.drops.add(Drop::Banned);
            return Err(Stop);
        }
        let method = msg.method().map(|m| m.as_bytes()).unwrap_or_default();
        if self.protect.max_size(method).is_some_and(|max| msg.buf.len() > max) {
            self.protect.stats.oversize.add(MethodName::of(method));
            if matches!(msg.method(), Some(Method::Ack)) {
                self.counters.wire.drops.add(Drop::AckOverSizeLimit);
            } else {
                self.reject(origin, msg, None, 513, "Message Too Large", out);
            }
            return Err(Stop);
        }
        Ok(())
    }

    /// The rate-limit rules from rule `from` on, for a valid request (ACKs
    /// belong to transactions already admitted and are not limited).
    pub(super) fn rate_limit(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        from: usize,
        out: &mut Vec<Output>,
    ) -> Result<(), Stop> {
        let ip = origin.peer.ip();
        if self.protect.cfg.rules.is_empty() || ess.method == Method::Ack || self.protect.allowed(ip) {
            return Ok(());
        }
        let uri = if ess.method == Method::Register { &ess.to.uri } else { &ess.from.uri };
        let aor = aor_of(uri);
        let facts = Facts {
            ip,
            method: ess.method.as_bytes(),
            aor: Some(&aor),
            event: msg.header(HeaderName::Event).map(event_package),
            user_agent: msg.header(HeaderName::UserAgent),
            profile: self.profile_of(origin, msg),
        };
        match self.protect.limit(&facts, self.now_ms, from) {
            Verdict::Pass => return Ok(()),
            Verdict::Wait { rule, key, ask } => self.wait_for_lease(origin, msg, rule, key, ask, out),
            Verdict::Drop { .. } => self.refuse(origin, msg, Some(ess), Action::Drop, 0, out),
            Verdict::Reject { retry_after, .. } => {
                self.refuse(origin, msg, Some(ess), Action::Reject, retry_after, out)
            }
        }
        Err(Stop)
    }

    /// A request over a rate limit: dropped, or 503 with Retry-After.
    pub(super) fn refuse(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: Option<&Essentials<'_>>,
        action: Action,
        retry_after: u32,
        out: &mut Vec<Output>,
    ) {
        match action {
            Action::Drop => self.counters.wire.drops.add(Drop::RateLimited),
            Action::Reject => {
                let secs = retry_after.to_string();
                let extra = [("Retry-After", secs.as_bytes())];
                self.respond(origin, msg, ess, 503, "Service Unavailable", &extra, out);
            }
        }
    }

    /// A wrong password (or someone else's AOR) from `ip`: counted on the
    /// shard owning the IP, so the count is exact over every shard.
    pub(super) fn auth_failure(&mut self, ip: IpAddr, out: &mut Vec<Output>) {
        if self.protect.cfg.auth_failures.is_none() || self.protect.allowed(ip) {
            return;
        }
        let owner = self.protect.ip_owner(ip);
        if owner != self.cfg.shard {
            self.counters.wire.mesh_sent += 1;
            return out.push(Output::ToShard { shard: owner, msg: MeshMsg::AuthFailed { ip } });
        }
        if let Some(ban) = self.protect.auth_failed(ip, self.now_ms) {
            self.tell_ban(ban, out);
        }
    }

    /// Another shard's authentication failure, on the owner of its IP.
    pub(super) fn on_auth_failed(&mut self, ip: IpAddr, out: &mut Vec<Output>) {
        if let Some(ban) = self.protect.auth_failed(ip, self.now_ms) {
            self.tell_ban(ban, out);
        }
    }

    /// Flood counts of other shards' IPs, to their owners (every tick;
    /// `core::protect` says when a batch is due).
    pub(super) fn report_floods(&mut self, out: &mut Vec<Output>) {
        for (owner, counts) in self.protect.flood_reports(self.now_ms) {
            self.counters.wire.mesh_sent += 1;
            out.push(Output::ToShard { shard: owner, msg: MeshMsg::FloodCounts(counts) });
        }
    }

    /// Another shard's flood counts, on the owner of their IPs.
    pub(super) fn on_flood_counts(&mut self, counts: Vec<(IpAddr, u32)>, out: &mut Vec<Output>) {
        for (ip, n) in counts {
            if let Some(ban) = self.protect.flood_reported(ip, n, self.now_ms) {
                self.tell_ban(ban, out);
            }
        }
    }

    /// A ban this shard decided, for every other shard
    /// (and for the log: one line, from the shard that decided it).
    fn tell_ban(&mut self, ban: Ban, out: &mut Vec<Output>) {
        for s in (0..self.cfg.shards).filter(|&s| s != self.cfg.shard) {
            self.counters.wire.mesh_sent += 1;
            out.push(Output::ToShard { shard: s, msg: MeshMsg::Ban(ban) });
        }
        out.push(Output::Ban(crate::core::protect::BanNews::Banned(ban)));
    }

    /// Bans in force on this shard (every shard holds every ban).
    pub fn bans(&self) -> Vec<Ban> {
        self.protect.bans.active(self.now_ms).copied().collect()
    }

    /// Lifts a ban on this shard (the admin API asks every shard); true if there was one.
    pub fn lift_ban(&mut self, ip: IpAddr) -> bool {
        self.protect.lift(ip)
    }

    pub fn protect_stats(&self) -> &crate::core::protect::ProtectStats {
        &self.protect.stats
    }

    /// Bans this shard decided that are in force, by reason.
    pub fn bans_active(&self) -> crate::reason::Tally<crate::core::protect::BanReason> {
        self.protect.active_by_reason(self.now_ms)
    }

    /// Names of the rate-limit rules, in config order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.protect.cfg.rules.iter().map(|r| r.name.as_str())
    }
}
