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
//! instead (instance compared byte for byte). Each binding keeps a 32-bit
//! hash of its contact under that equality (`ContactKey`, in 4 bytes of
//! `updated` that seconds until 2106 do not need), so a REGISTER passes
//! over the bindings it does not name without reading their string blocks.

use std::borrow::Borrow;
use std::collections::hash_map::{Entry as MapEntry, RandomState};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

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
        f.write_str(
            "binding too large (AOR + contact + Call-ID + instance over 65519 bytes, or a Path value over 65535)",
        )
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

mod binding;
mod record;
pub mod shared;

use binding::{uri_eq, UserAgent};
pub use binding::{Binding, ContactKey, PathIter};

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
        let key = ContactKey::of(b.contact);
        let slot = match self.find_hashed(aor, h) {
            Some(i) => {
                let bindings = &mut self.slots[i as usize];
                if let Some(old) = bindings.as_mut_slice().iter_mut().find(|x| x.is_replaced_by(&b, key)) {
                    let data = old.same_strings(aor, &b).then(|| std::mem::take(&mut old.data));
                    *old = Binding::build(aor, &b, key, ua, data);
                    self.wheel.schedule(b.expires_at, i);
                    return Ok(Upserted::Updated);
                }
                bindings.push(Binding::build(aor, &b, key, ua, None));
                i
            }
            None => self.add_slot(h, Binding::build(aor, &b, key, ua, None)),
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
        let Some(pos) = self.slots[i as usize].as_slice().iter().position(|b| uri_eq(b.contact(), contact)) else {
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
        self.drop_where(i, |_, b| b.instance() == Some(instance) && b.reg_id() == Some(reg_id)) > 0
    }

    /// Makes `bindings` the whole set of `aor` (what the shared store says
    /// this edge holds). Bindings that do not fit are left out and counted.
    pub fn replace(&mut self, aor: &[u8], bindings: &[Binding]) -> usize {
        self.remove_all(aor);
        bindings.iter().filter(|b| self.upsert_binding(aor, b).is_err()).count()
    }

    /// Every AOR with a binding (a full re-assert to the shared store walks it).
    pub fn aor_keys(&self) -> Vec<Vec<u8>> {
        self.slots.iter().filter_map(|s| s.as_slice().first().map(|b| b.aor().to_vec())).collect()
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
            if self.slots[i as usize].as_slice().first().is_some_and(|b| b.aor() == aor) {
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
            (list.len(), list.iter().enumerate().filter(|(k, b)| drop(*k, b)).count())
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
mod tests;
