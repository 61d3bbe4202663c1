//! Device and carrier profiles (`[[profile]]`), as the core matches them:
//! in order, the first whose every given matcher holds (User-Agent
//! substring, any case; source network; transport). What a profile changes
//! is read by the code it concerns: the digest challenges offered and the
//! registration terms (`edge::register`), the answers mapped per method and
//! the headers of what is sent to its peers (`edge::branch`, `edge::relay`,
//! `edge::traced`; the transaction keeps its sender's profile), NAT
//! (`edge::nat`, `edge::keepalive`), its rate-limit rules (appended to
//! `[protect]`'s, scoped to it); an exempt profile's sources are
//! allowlisted where shards are built. Matching runs only when profiles
//! are configured.

use super::auth::Algorithm;
use super::net::Cidr;
use super::registrar::Terms;
use super::Transport;
use std::net::IpAddr;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// Lower-cased substrings.
    pub user_agent: Vec<Vec<u8>>,
    pub sources: Vec<Cidr>,
    pub transports: Vec<Transport>,
    /// Challenges offered, in order; empty = the global list.
    pub auth_algorithms: Vec<Algorithm>,
    /// (method, code, the code these devices get instead).
    pub map_answers: Vec<(Vec<u8>, u16, u16)>,
    /// Removed from the answers these devices get (and, for a profile
    /// matched by address alone, from the requests sent to those peers).
    pub strip_headers: crate::sip::HeaderPatterns,
    /// Added where `strip_headers` removes, as (name, value).
    pub add_headers: Vec<(String, Vec<u8>)>,
    /// The registration terms of these devices (None: `[registrar]`'s).
    pub terms: Option<Terms>,
    /// How the edge treats these devices' NAT.
    pub nat: Nat,
    /// Seconds between the keepalives the edge sends to where these
    /// devices registered from over UDP; 0 = none.
    pub keepalive_secs: u32,
}

/// How the edge treats a device class's NAT. Every device's answers go
/// to where its request came from and its Via is stamped (`received`,
/// `rport` when asked) whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nat {
    /// A Contact that does not name the source (or a device on a
    /// connection) gets the alias; a registration is reached at its source.
    #[default]
    Auto,
    /// Also an alias on a Contact naming the source, and `rport` stamped on
    /// the sender's Via though it did not ask (devices behind an ALG that
    /// rewrites Contact but not Via, or that omit rport).
    Always,
    /// Contacts taken as they are: no alias, and a registration is reached
    /// at its Contact's address (when an IP literal), not its source
    /// (PBXs and trunks on public addresses that receive elsewhere).
    Never,
}

impl Profile {
    /// Whether this profile can name a peer the edge sends to: matched by
    /// address (and transport) alone, since a User-Agent is only known of
    /// a sender.
    fn names_peers(&self) -> bool {
        self.user_agent.is_empty() && !self.sources.is_empty()
    }

    /// Whether the messages to these peers are edited.
    pub fn edits_headers(&self) -> bool {
        !self.strip_headers.is_empty() || !self.add_headers.is_empty()
    }

    /// The code a device of this profile gets for a final answer `code` to `method`.
    pub fn mapped(&self, method: &[u8], code: u16) -> Option<u16> {
        self.map_answers.iter().find(|(m, from, _)| m == method && *from == code).map(|(_, _, to)| *to)
    }

    /// Does a sender match? `ua`: its User-Agent, lower-cased. The cheap
    /// matchers first.
    fn matches(&self, ua: Option<&[u8]>, ip: IpAddr, transport: Transport) -> bool {
        (self.transports.is_empty() || self.transports.contains(&transport))
            && (self.sources.is_empty() || self.sources.iter().any(|c| c.contains(ip)))
            && (self.user_agent.is_empty() || ua.is_some_and(|ua| self.user_agent.iter().any(|s| contains(ua, s))))
    }
}

/// Is `needle` (non-empty) in `hay`? A scan for its first byte, then a
/// compare: User-Agents are short and few of their bytes start a pattern.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    let Some(last) = hay.len().checked_sub(needle.len()) else { return false };
    memchr::memchr_iter(first, hay).take_while(|&i| i <= last).any(|i| &hay[i + 1..i + needle.len()] == rest)
}

/// The configured profiles, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profiles(pub Vec<Profile>);

impl Profiles {
    /// The index of the first profile matching a sender, if any.
    pub fn matching(&self, ua: Option<&[u8]>, ip: IpAddr, transport: Transport) -> Option<usize> {
        if self.0.is_empty() {
            return None;
        }
        // The User-Agent lower-cased once (on the stack when it fits).
        let mut small = [0u8; 256];
        let mut large = Vec::new();
        let lower = ua.map(|ua| {
            let buf = if ua.len() <= small.len() {
                &mut small[..ua.len()]
            } else {
                large.resize(ua.len(), 0);
                &mut large[..]
            };
            for (d, s) in buf.iter_mut().zip(ua) {
                *d = s.to_ascii_lowercase();
            }
            &*buf
        });
        self.0.iter().position(|p| p.matches(lower, ip, transport))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The profile of a peer the edge sends a request to, when its header
    /// rules apply there: the first address-matched profile holding `ip`
    /// (and `transport`) that edits headers.
    pub fn of_peer(&self, ip: IpAddr, transport: Transport) -> Option<&Profile> {
        self.0.iter().filter(|p| p.names_peers()).find(|p| p.matches(None, ip, transport)).filter(|p| p.edits_headers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, ua: &[&str], sources: &[&str]) -> Profile {
        Profile {
            name: name.into(),
            user_agent: ua.iter().map(|s| s.to_ascii_lowercase().into_bytes()).collect(),
            sources: sources.iter().map(|s| Cidr::parse(s).unwrap()).collect(),
            transports: Vec::new(),
            auth_algorithms: vec![Algorithm::Md5],
            map_answers: vec![(b"SUBSCRIBE".to_vec(), 403, 480)],
            ..Profile::default()
        }
    }

    #[test]
    fn the_first_profile_whose_every_matcher_holds_decides() {
        let p = Profiles(vec![profile("office", &["yealink"], &["10.0.0.0/8"]), profile("old", &["baresip"], &[])]);
        let ip = |s: &str| s.parse().unwrap();
        assert_eq!(p.matching(Some(b"Yealink SIP-T46U"), ip("10.1.2.3"), Transport::Udp), Some(0));
        assert_eq!(p.matching(Some(b"Yealink SIP-T46U"), ip("192.0.2.1"), Transport::Udp), None, "both must hold");
        assert_eq!(p.matching(Some(b"baresip v1.0.0 (x86_64/linux)"), ip("192.0.2.1"), Transport::Tls), Some(1));
        assert_eq!(p.matching(None, ip("192.0.2.1"), Transport::Udp), None);
        assert_eq!(Profiles::default().matching(Some(b"baresip"), ip("192.0.2.1"), Transport::Udp), None);
        assert_eq!(p.matching(Some(b"bar"), ip("192.0.2.1"), Transport::Udp), None, "shorter than a pattern");
        assert_eq!(p.matching(Some(b"x BARESIP"), ip("192.0.2.1"), Transport::Udp), Some(1), "at the end, any case");
        assert_eq!(p.0[0].mapped(b"SUBSCRIBE", 403), Some(480));
        assert_eq!(p.0[0].mapped(b"INVITE", 403), None, "per method");
    }
}
