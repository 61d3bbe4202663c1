//! What a shard's core counts: plain integers owned by one shard, touched
//! per message without atomics, grouped by the component that counts them
//! (`WireStats`, `RegistrarStats`, `ProxyStats`; protection counts in
//! `protect::ProtectStats`). Reasons are typed families (`reason::Reason`)
//! defined here or beside the code that decides them (`auth::AuthFailure`,
//! `proxy::hygiene::SdpUnfiltered`, `protect::BanReason`, `sip::ScanError`,
//! `sip::Invalid`). The shard counts its own I/O (`shard::stats`); both are
//! published to `metrics` on the shard's tick (`telemetry::publish`); tests
//! read them directly.

use super::auth::AuthFailure;
use super::proxy::hygiene::SdpUnfiltered;
use super::Transport;
use crate::reason::Tally;
use crate::sip::{Invalid, ScanError};

crate::reasons! {
    /// Request methods counted by name; everything else is "other".
    pub enum MethodName {
        Invite => "INVITE",
        Ack => "ACK",
        Bye => "BYE",
        Cancel => "CANCEL",
        Register => "REGISTER",
        Options => "OPTIONS",
        Subscribe => "SUBSCRIBE",
        Notify => "NOTIFY",
        Message => "MESSAGE",
        Info => "INFO",
        Update => "UPDATE",
        Prack => "PRACK",
        Refer => "REFER",
        Publish => "PUBLISH",
        Other => "other",
    }
}

impl MethodName {
    /// The counted name of a request method (case-sensitive, RFC 3261 §7.1).
    pub fn of(method: &[u8]) -> MethodName {
        use crate::reason::Reason;
        MethodName::all()
            .find(|m| *m != MethodName::Other && m.label().as_bytes() == method)
            .unwrap_or(MethodName::Other)
    }
}

crate::reasons! {
    /// Why the core dropped a message without an answer. Published with the
    /// shard's own I/O drops (`shard::stats::IoDrop`) as `sipedge_drops_total`.
    pub enum Drop {
        IncompleteMessage => "incomplete message",
        ResponseNotOurs => "response not ours",
        MalformedUnanswerable => "malformed, unanswerable",
        AckUnsupportedScheme => "ack with unsupported scheme",
        Banned => "banned",
        Scanner => "scanner",
        AckOverSizeLimit => "ack over size limit",
        RateLimited => "rate limited",
        /// A request waiting for a rate-limit lease whose answer never came.
        LeaseLost => "rate limit lease lost",
        NoMatchingTransaction => "no matching transaction",
        UndeliverableUnscannable => "undeliverable, unscannable",
        Undeliverable => "undeliverable",
        UndeliverableTransactionGone => "undeliverable, transaction gone",
        LocationLookupLost => "location lookup lost",
        AckNotRoutable => "ack not routable",
        /// The ACK of a 3xx–6xx the edge answered itself without a
        /// transaction (a 407 challenge, a refusal): taken, nothing to relay.
        AckOfOwnAnswer => "ack of the edge's own answer",
        StatelessForwardRefused => "stateless forward refused",
        Late2xxWithoutVia => "late 2xx without a Via",
        Late2xxBadVia => "late 2xx with a bad Via",
        NoOutgoingWebSocket => "no outgoing WebSocket connection",
        ;
        /// A message the scanner refused and that could not be answered.
        Unscannable(ScanError),
        /// A response that failed `sip::check_response`.
        BadResponse(Invalid),
    }
}

crate::reasons! {
    /// Why a request was answered as malformed (400, 505, 416).
    pub enum Malformed {
        ;
        Unscannable(ScanError),
        Invalid(Invalid),
    }
}

crate::reasons! {
    /// REGISTER answers by status code.
    pub enum RegisterResult {
        Ok => "200",
        BadRequest => "400",
        Unauthorized => "401",
        Forbidden => "403",
        IntervalTooBrief => "423",
        ServerError => "500",
        Other => "other",
    }
}

impl RegisterResult {
    pub fn of(code: u16) -> RegisterResult {
        match code {
            200 => RegisterResult::Ok,
            400 => RegisterResult::BadRequest,
            401 => RegisterResult::Unauthorized,
            403 => RegisterResult::Forbidden,
            423 => RegisterResult::IntervalTooBrief,
            500 => RegisterResult::ServerError,
            _ => RegisterResult::Other,
        }
    }
}

/// Messages in and out, and where they went.
#[derive(Clone, Debug)]
pub struct WireStats {
    /// Messages received, [transport][0 = request, 1 = response].
    pub received: [[u64; 2]; Transport::ALL.len()],
    /// Requests received by method.
    pub requests: Tally<MethodName>,
    /// Responses this shard generated, by status code (index = code - 100).
    pub responses_sent: Box<[u64; 600]>,
    /// Requests that failed validation and were answered (400, 505, ...), by reason.
    pub malformed: Tally<Malformed>,
    /// Messages dropped without an answer, by reason.
    pub drops: Tally<Drop>,
    /// Responses that reached the shard holding their transaction directly.
    pub responses_home: u64,
    /// Responses that reached another shard, which handed them over the mesh
    /// (`server.steer_responses` off, or a response it could not read).
    pub responses_forwarded: u64,
    /// Messages the core handed to another shard (responses, answers to
    /// asks); the asks themselves are counted by the shard that routes them.
    pub mesh_sent: u64,
    /// Mesh messages the core took in (answers are counted by the shard).
    pub mesh_received: u64,
}

impl Default for WireStats {
    fn default() -> Self {
        WireStats {
            received: [[0; 2]; Transport::ALL.len()],
            requests: Tally::default(),
            responses_sent: Box::new([0; 600]),
            malformed: Tally::default(),
            drops: Tally::default(),
            responses_home: 0,
            responses_forwarded: 0,
            mesh_sent: 0,
            mesh_received: 0,
        }
    }
}

impl WireStats {
    pub fn count_received(&mut self, t: Transport, request: bool) {
        self.received[t.index()][!request as usize] += 1;
    }

    pub fn count_method(&mut self, method: &[u8]) {
        self.requests.add(MethodName::of(method));
    }

    pub fn count_sent(&mut self, code: u16) {
        if (100..700).contains(&code) {
            self.responses_sent[(code - 100) as usize] += 1;
        }
    }

    pub fn sent(&self, code: u16) -> u64 {
        self.responses_sent.get(code.wrapping_sub(100) as usize).copied().unwrap_or(0)
    }

    /// Non-zero response counts as (code, count).
    pub fn sent_codes(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.responses_sent.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (i as u16 + 100, *n))
    }
}

/// What the registrar counts.
#[derive(Clone, Debug, Default)]
pub struct RegistrarStats {
    /// REGISTER answers by status code.
    pub results: Tally<RegisterResult>,
    /// Digest authentication failures by reason.
    pub auth_failures: Tally<AuthFailure>,
    /// Cross-shard REGISTERs whose owner could not be reached or never answered.
    pub lost: u64,
}

/// What the proxy counts.
#[derive(Clone, Debug, Default)]
pub struct ProxyStats {
    /// Server transactions created.
    pub transactions: u64,
    /// Requests forwarded as branches (forks and failovers included).
    pub branches: u64,
    /// Messages relayed to a next hop (requests, ACKs, CANCELs, responses).
    pub relayed: u64,
    /// Retransmissions absorbed (requests) or sent (timers).
    pub retransmissions: u64,
    /// Branches that timed out (answered as 408).
    pub branch_timeouts: u64,
    /// Failovers to the next upstream.
    pub failovers: u64,
    /// Targets whose name gave no address (DNS failed, no records).
    pub dns_failed_targets: u64,
    /// Resolved targets failed over and blocklisted: [timeout or transport error, 503].
    pub dns_failovers: [u64; 2],
    /// CANCELs sent to branches.
    pub cancels_sent: u64,
    /// 407 challenges sent.
    pub challenges: u64,
    /// OPTIONS probes sent to upstreams.
    pub probes_sent: u64,
    /// Upstreams that went up or down.
    pub upstream_changes: u64,
    /// Branches that failed because their binding's flow was gone (430).
    pub flow_failures: u64,
    /// Payload types removed from relayed SDP (`[hygiene]`).
    pub sdp_codecs_removed: u64,
    /// Requests answered 488 because their SDP would keep no codec.
    pub sdp_rejected: u64,
    /// SDP relayed without filtering, by reason.
    pub sdp_unfiltered: Tally<SdpUnfiltered>,
    /// Header lines removed by the `[hygiene]` patterns.
    pub headers_removed: u64,
}

/// Per-shard counters of the core, by component.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Requests per `[[profile]]` matched (by index; empty without profiles).
    pub profiles: Vec<u64>,
    pub cluster: super::edge::cluster::ClusterStats,
    pub mid: super::edge::mid::MidStats,
    pub wire: WireStats,
    pub registrar: RegistrarStats,
    pub proxy: ProxyStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_methods_count() {
        let mut c = WireStats::default();
        c.drops.add(Drop::Banned);
        c.drops.add(Drop::Banned);
        c.drops.add(Drop::Unscannable(ScanError::BadStartLine));
        assert_eq!(
            (c.drops.get(Drop::Banned), c.drops.get(Drop::Unscannable(ScanError::BadStartLine)), c.drops.total()),
            (2, 1, 3)
        );
        c.count_method(b"OPTIONS");
        c.count_method(b"FOO");
        c.count_method(b"other");
        assert_eq!((c.requests.get(MethodName::Options), c.requests.get(MethodName::Other)), (1, 2));
        c.count_sent(200);
        c.count_sent(999);
        assert_eq!(c.sent(200), 1);
        assert_eq!(c.sent_codes().collect::<Vec<_>>(), vec![(200, 1)]);
    }
}
