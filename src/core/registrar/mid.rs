//! The mid-registrar's rules (`registrar.mode = "mid"`), pure: which
//! REGISTERs the edge answers itself and which go to the core registrar,
//! what the core is told, and the book of what the core holds.
//!
//! Devices get short registrations (`device_expires`); the core gets long
//! ones (`upstream_expires`) for a contact of the edge that stands for the
//! device's binding (`throttle = "contact"`) or for the whole AOR
//! (`"aor"`). That contact is stable, so the core keeps one binding per
//! device (or per AOR) however often the device refreshes:
//! `sip:<user>@<edge>;md=<domain>;mr=<tag>`, where `tag` is a 64-bit hash
//! of the AOR and, per contact, of the binding's key (`shared::binding_key`).
//! A request from the core to that URI finds the device(s) again by AOR and
//! tag (`Edge::decide`).
//!
//! **What is forwarded** (`plan`): a REGISTER that adds a binding (the core
//! must see, and may challenge, every new device: the edge never answers
//! for credentials it has not seen the core accept for that binding), that
//! removes one the core holds (in AOR mode: the AOR's last), the wildcard,
//! and a refresh whose upstream registration is near its end: less than
//! `device_expires` plus a jitter (0..device_expires, from the tag, so
//! refreshes to the core are spread over time) left. Everything else — a
//! refresh of a binding the core accepted, with time left upstream, or a
//! query — is answered by the edge from its own table.
//!
//! **The book** (`MidBook`): per tag, until when the core holds its
//! registration and when the device's own expires, with a wheel that
//! fires at the device's expiry: a device that did not refresh is
//! de-registered upstream once (`due`), an AOR once its last device goes.

use super::{ContactChange, RegisterOp};
use crate::core::location::shared::binding_key;
use crate::core::location::Location;
use crate::core::owner::fnv1a;
use crate::core::timer::Wheel;
use std::collections::HashMap;

/// `registrar.mode = "mid"` as the core needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MidConfig {
    pub device_expires: u32,
    pub upstream_expires: u32,
    /// One upstream registration per AOR (else per device contact).
    pub per_aor: bool,
}

/// The URI parameters of the edge's contact towards the core.
pub const DOMAIN_PARAM: &str = "md";
pub const TAG_PARAM: &str = "mr";

/// The tag of a contact's upstream registration (per AOR: `key` empty).
pub fn tag(aor: &[u8], key: &[u8]) -> u64 {
    fnv1a(&[aor, b"\0", key])
}

/// The tag of a stored binding of `aor` (contact mode).
pub fn binding_tag(aor: &[u8], b: &crate::core::location::Binding) -> u64 {
    tag(aor, &binding_key(b.contact(), b.instance(), b.reg_id()))
}

/// The tag a contact of `op` is registered upstream under.
pub fn contact_tag(cfg: &MidConfig, op: &RegisterOp, c: &ContactChange) -> u64 {
    if cfg.per_aor {
        return tag(&op.aor, b"");
    }
    tag(&op.aor, &binding_key(&c.uri, c.instance.as_deref(), c.reg_id))
}

/// The edge's contact for `tag`: `<sip:user@host:port;md=domain;mr=tag>;expires=E`.
pub fn edge_contact(user: &[u8], edge: &str, domain: &[u8], tag: u64, expires: u32) -> Vec<u8> {
    let mut v = b"<sip:".to_vec();
    v.extend_from_slice(user);
    v.push(b'@');
    v.extend_from_slice(edge.as_bytes());
    v.extend_from_slice(format!(";{DOMAIN_PARAM}=").as_bytes());
    v.extend_from_slice(domain);
    v.extend_from_slice(format!(";{TAG_PARAM}={tag:016x}>;expires={expires}").as_bytes());
    v
}

/// A tag as the `mr` parameter writes it.
pub fn parse_tag(v: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(v).ok()?, 16).ok()
}

/// A REGISTER forwarded to the core, waiting for its answer.
#[derive(Debug)]
pub struct Forwarded {
    pub op: RegisterOp,
}

/// What the core holds for one tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub aor: Vec<u8>,
    /// Until when the core holds the registration (unix s).
    pub expires_at: u64,
    /// Until when the device's (or, per AOR, the last device's) binding runs.
    pub device_expires_at: u64,
}

/// The owner shard's book of upstream registrations.
pub struct MidBook {
    pub cfg: MidConfig,
    pub entries: HashMap<u64, Upstream>,
    wheel: Wheel<u64>,
}

/// The decision for one REGISTER.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Answer from the edge's table.
    Absorb,
    /// Tell the core; its answer decides.
    Forward,
}

impl MidBook {
    pub fn new(cfg: MidConfig, now: u64) -> MidBook {
        MidBook { cfg, entries: HashMap::new(), wheel: Wheel::new(now, 4096) }
    }

    /// Seconds before the upstream registration's end at which a refresh
    /// goes to the core: the device's period plus a jitter from the tag.
    fn margin(&self, tag: u64) -> u64 {
        let d = u64::from(self.cfg.device_expires);
        d + tag % d.max(1)
    }

    /// Absorb or forward `op` (see the top of this file). Without
    /// `refresh_early`, a refresh is absorbed as long as the core holds the
    /// registration at all (the core is down: its registration runs on).
    pub fn plan(&self, loc: &Location, op: &RegisterOp, now: u64, refresh_early: bool) -> Plan {
        if op.wildcard {
            return Plan::Forward;
        }
        let existing = loc.get(&op.aor);
        let live = existing.iter().filter(|b| b.expires_at() > now).count();
        for c in &op.contacts {
            let tag = contact_tag(&self.cfg, op, c);
            let known = existing.iter().any(|b| {
                b.expires_at() > now
                    && binding_key(b.contact(), b.instance(), b.reg_id())
                        == binding_key(&c.uri, c.instance.as_deref(), c.reg_id)
            });
            let up = self.entries.get(&tag);
            if c.expires == 0 {
                let last = !self.cfg.per_aor || (known && live == 1);
                if up.is_some() && last {
                    return Plan::Forward;
                }
                continue;
            }
            match up {
                Some(u) if known && u.expires_at > now + if refresh_early { self.margin(tag) } else { 0 } => {}
                _ => return Plan::Forward,
            }
        }
        Plan::Absorb
    }

    /// The core accepted `op`: what it now holds.
    pub fn accepted(&mut self, op: &RegisterOp, now: u64) {
        if op.wildcard {
            // The only scan of the book: a wildcard removes every tag of its AOR.
            for t in self.tags_of(&op.aor) {
                self.entries.remove(&t);
            }
            return;
        }
        for c in &op.contacts {
            let tag = contact_tag(&self.cfg, op, c);
            if c.expires == 0 {
                if !self.cfg.per_aor {
                    self.entries.remove(&tag);
                }
                continue;
            }
            let device = now + u64::from(c.expires.min(self.cfg.device_expires));
            let u = Upstream {
                aor: op.aor.clone(),
                expires_at: now + u64::from(self.cfg.upstream_expires),
                device_expires_at: device,
            };
            self.wheel.schedule(device, tag);
            self.entries.insert(tag, u);
        }
    }

    /// An absorbed refresh: the device's binding runs on.
    pub fn refreshed(&mut self, op: &RegisterOp, now: u64) {
        for c in op.contacts.iter().filter(|c| c.expires > 0) {
            let tag = contact_tag(&self.cfg, op, c);
            let device = now + u64::from(c.expires.min(self.cfg.device_expires));
            if let Some(u) = self.entries.get_mut(&tag) {
                if device > u.device_expires_at {
                    u.device_expires_at = device;
                    self.wheel.schedule(device, tag);
                }
            }
        }
    }

    /// Tags whose device went away without a word (its binding expired, or
    /// per AOR the last one did) at `now`: each is taken out of the book,
    /// to be de-registered upstream once. `held(aor, tag)`: whether the
    /// table still holds a live binding for it.
    pub fn due(&mut self, now: u64, held: impl Fn(&[u8], u64) -> bool) -> Vec<(u64, Upstream)> {
        let mut fired = Vec::new();
        self.wheel.advance(now, &mut fired);
        let mut gone = Vec::new();
        for tag in fired {
            let Some(u) = self.entries.get(&tag) else { continue };
            if u.device_expires_at > now || held(&u.aor, tag) {
                continue;
            }
            if let Some(u) = self.entries.remove(&tag) {
                gone.push((tag, u));
            }
        }
        gone
    }

    /// The tags of `aor`'s bindings the book holds (before a wildcard).
    pub fn tags_of(&self, aor: &[u8]) -> Vec<u64> {
        self.entries.iter().filter(|(_, u)| u.aor == aor).map(|(t, _)| *t).collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
