//! Rate-limit rules: which requests a rule applies to (methods, a
//! User-Agent pattern, an Event package, a profile's devices), what its
//! bucket is keyed by, its rate and burst, and what happens over the limit.
//! A profile's rules come after `[protect]`'s and only add limits: a
//! request passes every rule that applies to it.

use super::scanner::contains_ci;
use std::net::IpAddr;

/// What a rule's buckets are keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKey {
    /// The source IP.
    Ip,
    /// The address-of-record: the To URI of a REGISTER, the From URI of anything else.
    Aor,
    /// The Event package (SUBSCRIBE, PUBLISH, NOTIFY); requests without one are not counted.
    Event,
    /// The User-Agent value; requests without one are not counted.
    UserAgent,
    /// The method: one bucket per method for the whole edge.
    Global,
}

impl RuleKey {
    pub fn label(self) -> &'static str {
        match self {
            RuleKey::Ip => "ip",
            RuleKey::Aor => "aor",
            RuleKey::Event => "event",
            RuleKey::UserAgent => "user-agent",
            RuleKey::Global => "global",
        }
    }

    /// A key of this kind written as text (an IP address, an AOR, an Event
    /// package, a User-Agent, a method), as `Rule::key_of` would make it.
    pub fn parse(self, text: &str) -> Option<Vec<u8>> {
        let mut key = Vec::new();
        match self {
            RuleKey::Ip => super::flood::ip_key(text.parse().ok()?, &mut key),
            RuleKey::Aor | RuleKey::UserAgent => key.extend_from_slice(text.as_bytes()),
            RuleKey::Event => key.extend(text.bytes().map(|b| b.to_ascii_lowercase())),
            RuleKey::Global => key.extend(text.bytes().map(|b| b.to_ascii_uppercase())),
        }
        (!key.is_empty()).then_some(key)
    }
}

/// Over the limit: answer 503 with Retry-After, or say nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Reject,
    Drop,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub key: RuleKey,
    /// Upper-case method names; empty = every method.
    pub methods: Vec<Vec<u8>>,
    /// Lower-case User-Agent substring; empty = any (or none).
    pub user_agent: Vec<u8>,
    /// Lower-case Event package; empty = any (or none).
    pub event: Vec<u8>,
    /// Tokens per second and bucket size for the whole edge.
    pub rate: f64,
    pub burst: f64,
    pub action: Action,
    /// Counts only the requests of this `[[profile]]` (its own `limit`s).
    pub profile: Option<u16>,
}

/// What the rules look at in a request.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub ip: IpAddr,
    pub method: &'a [u8],
    /// `sip:user@host` as the key for `aor` rules.
    pub aor: Option<&'a [u8]>,
    pub event: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    /// The sender's profile.
    pub profile: Option<u16>,
}

/// The Event package of an Event header value: the token before any parameter.
pub fn event_package(value: &[u8]) -> &[u8] {
    let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    value[..end].trim_ascii()
}

impl Rule {
    pub fn applies(&self, f: &Facts<'_>) -> bool {
        let method_ok = self.methods.is_empty() || self.methods.iter().any(|m| m.as_slice() == f.method);
        let ua_ok = self.user_agent.is_empty() || f.user_agent.is_some_and(|ua| contains_ci(ua, &self.user_agent));
        let event_ok = self.event.is_empty() || f.event.is_some_and(|e| e.eq_ignore_ascii_case(&self.event));
        let profile_ok = self.profile.is_none() || self.profile == f.profile;
        method_ok && ua_ok && event_ok && profile_ok
    }

    /// The bucket key of a request this rule applies to; None = not counted.
    pub fn key_of(&self, f: &Facts<'_>, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        match self.key {
            RuleKey::Ip => super::flood::ip_key(f.ip, buf),
            RuleKey::Aor => buf.extend_from_slice(match f.aor {
                Some(a) => a,
                None => return false,
            }),
            RuleKey::Event => match f.event {
                Some(e) => buf.extend(e.iter().map(u8::to_ascii_lowercase)),
                None => return false,
            },
            RuleKey::UserAgent => match f.user_agent {
                Some(ua) => buf.extend_from_slice(ua),
                None => return false,
            },
            RuleKey::Global => buf.extend_from_slice(f.method),
        }
        true
    }
}
