//! `[[profile]]`: device and carrier profiles, matched in order on what a
//! request says about its sender (User-Agent substrings, source networks,
//! transport); the first that matches decides. A profile sets the digest
//! algorithms the edge offers those devices (`auth_algorithms`, chosen
//! among `auth.algorithms`: a profile can narrow or reorder what is
//! offered, never add what the edge would not accept), the answers those
//! devices get per method (`map_answers`) and the headers removed from or
//! added to those answers (`strip_headers`, `add_headers`), and whether those peers are
//! exempt from bans and limits (`exempt_from_protection`: for a profile
//! matched by its sources only, since a User-Agent is whatever the client
//! says). Checked where it is written, like the rest of the config.

use super::{Bounded, Cidr, Code, DigestAlgorithm, MethodName, Transport};
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
}

impl Profile {
    /// What is wrong with it against the rest of the config, as (key, message).
    pub fn problem(&self, accepted: &[DigestAlgorithm]) -> Option<(&'static str, String)> {
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
