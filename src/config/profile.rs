//! `[[profile]]`: device and carrier profiles, matched in order on what a
//! request says about its sender (User-Agent substrings, source networks,
//! transport); the first that matches decides. A profile sets the digest
//! algorithms the edge offers those devices (`auth_algorithms`, chosen
//! among `auth.algorithms`: a profile can narrow or reorder what is
//! offered, never add what the edge would not accept), the answers those
//! devices get per method (`map_answers`), the headers removed from or
//! added to what is sent to those peers (`strip_headers`, `add_headers`),
//! their registration terms (expiry bounds, `max_contacts`, Flow-Timer),
//! their NAT handling (`nat`, `keepalive_secs`), rate-limit rules of their
//! own (`limit`, added to `[protect]`'s), and whether those peers are
//! exempt from bans and limits (`exempt_from_protection`).
//!
//! A User-Agent is whatever the client says, so a profile matched by it
//! may only tighten what protects the edge: `exempt_from_protection` and
//! `nat = "never"` (registrations reached where their Contact says, not
//! where they came from) need a profile matched by `sources` alone.
//! Checked where it is written, like the rest of the config.

use super::{Bounded, Cidr, Code, DigestAlgorithm, Limit, MethodName, Registrar, Transport};
use crate::sip::HeaderPattern;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Shown in metrics and `/profiles/match`; unique.
    pub name: String,
    /// Matches when the User-Agent contains one of these (any case).
    #[serde(default)]
    pub user_agent: Vec<String>,
    /// Matches when the source address is in one of these networks.
    #[serde(default)]
    pub sources: Vec<Cidr>,
    /// Matches when the request came over one of these transports.
    #[serde(default)]
    pub transports: Vec<Transport>,
    /// The digest challenges offered, in order (a subset of `auth.algorithms`); empty = the global list.
    #[serde(default)]
    pub auth_algorithms: Vec<DigestAlgorithm>,
    /// Final answers these devices get to their requests, per method:
    /// `{ SUBSCRIBE = { 403 = 480 } }` (before `proxy.map_answers`).
    #[serde(default)]
    pub map_answers: BTreeMap<MethodName, BTreeMap<Code, Bounded<300, 699>>>,
    /// Never rate-limited or banned, like `protect.allow` (a profile
    /// matched by `sources` alone).
    #[serde(default)]
    pub exempt_from_protection: bool,
    /// Header name patterns removed from the answers these devices get
    /// (on top of `hygiene.strip_to_devices`; the same patterns are refused).
    #[serde(default)]
    pub strip_headers: Vec<HeaderPattern>,
    /// Headers added to the answers these devices get: `{ "X-Carrier" = "acme" }`.
    #[serde(default)]
    pub add_headers: BTreeMap<String, String>,
    /// Registration terms for these devices; unset = `[registrar]`'s.
    pub default_expires: Option<Bounded<1, 604800>>,
    pub min_expires: Option<Bounded<1, 604800>>,
    pub max_expires: Option<Bounded<1, 604800>>,
    pub max_contacts: Option<Bounded<1, 1000>>,
    pub flow_timer_secs: Option<Bounded<10, 3600>>,
    /// NAT handling: "auto", "always" or "never".
    #[serde(default)]
    pub nat: NatMode,
    /// The edge sends these devices a keepalive this often over UDP while
    /// they are registered (seconds); unset = never.
    pub keepalive_secs: Option<Bounded<5, 3600>>,
    /// Rate-limit rules for these devices only, after `[protect]`'s.
    #[serde(default)]
    pub limit: Vec<Limit>,
}

/// `profile.nat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// An alias on a Contact that does not name the source.
    #[default]
    Auto,
    /// An alias on every Contact, rport stamped though not asked.
    Always,
    /// Contacts taken as they are (sources-only profiles).
    Never,
}

impl Profile {
    /// The registration terms (default, min, max expiry) with `[registrar]`'s
    /// for what the profile leaves unset.
    pub fn expiry(&self, r: &Registrar) -> (u64, u64, u64) {
        let or = |v: Option<Bounded<1, 604800>>, g: Bounded<1, 604800>| v.unwrap_or(g).get();
        (
            or(self.default_expires, r.default_expires),
            or(self.min_expires, r.min_expires),
            or(self.max_expires, r.max_expires),
        )
    }

    /// Does it set registration terms of its own?
    pub fn sets_terms(&self) -> bool {
        self.default_expires.is_some()
            || self.min_expires.is_some()
            || self.max_expires.is_some()
            || self.max_contacts.is_some()
            || self.flow_timer_secs.is_some()
    }

    /// What is wrong with it against the rest of the config, as (key, message).
    pub fn problem(&self, accepted: &[DigestAlgorithm], registrar: &Registrar) -> Option<(&'static str, String)> {
        if self.name.is_empty() {
            return Some(("name", "every profile needs a name".into()));
        }
        if self.user_agent.is_empty() && self.sources.is_empty() && self.transports.is_empty() {
            return Some(("user_agent", "a profile needs user_agent, sources or transports to match on".into()));
        }
        if self.user_agent.iter().any(String::is_empty) {
            return Some(("user_agent", "an empty substring would match every device".into()));
        }
        if self.exempt_from_protection && (self.sources.is_empty() || !self.user_agent.is_empty()) {
            return Some((
                "exempt_from_protection",
                "only a profile matched by sources alone may be exempt from bans and limits: a User-Agent is whatever the client says".into(),
            ));
        }
        if self.nat == NatMode::Never && (self.sources.is_empty() || !self.user_agent.is_empty()) {
            return Some((
                "nat",
                "only a profile matched by sources alone may take Contacts as they are: a User-Agent is whatever the client says".into(),
            ));
        }
        let (default, min, max) = self.expiry(registrar);
        if !(min <= default && default <= max) {
            return Some(("min_expires", format!("need min_expires ({min}) <= default_expires ({default}) <= max_expires ({max}), unset ones taken from [registrar]")));
        }
        let token = |c: u8| c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c);
        if let Some((name, _)) = self
            .add_headers
            .iter()
            .find(|(n, v)| n.is_empty() || !n.bytes().all(token) || v.bytes().any(|c| c == b'\r' || c == b'\n'))
        {
            return Some(("add_headers", format!("{name:?}: a header name is a token, its value one line")));
        }
        if let Some(a) = self.auth_algorithms.iter().find(|a| !accepted.contains(a)) {
            return Some((
                "auth_algorithms",
                format!("{a:?} is not in auth.algorithms: a profile cannot offer what the edge does not accept"),
            ));
        }
        None
    }
}
