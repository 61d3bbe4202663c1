//! What a shard counts: plain integers owned by one shard, touched per
//! message without atomics. The shard publishes them to `metrics` on a tick
//! (`telemetry::publish`); tests read them directly.

use super::Transport;

/// Request methods counted by name; everything else is "other".
pub const METHODS: [&str; 15] = [
    "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "SUBSCRIBE", "NOTIFY", "MESSAGE", "INFO",
    "UPDATE", "PRACK", "REFER", "PUBLISH", "other",
];

/// A counter keyed by a static reason string. Reasons are few, so a short
/// vector beats a hash map.
#[derive(Clone, Debug, Default)]
pub struct ReasonCounts(Vec<(&'static str, u64)>);

impl ReasonCounts {
    pub fn add(&mut self, reason: &'static str) {
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.0.push((reason, 1)),
        }
    }

    pub fn get(&self, reason: &str) -> u64 {
        self.0.iter().find(|(r, _)| *r == reason).map(|(_, n)| *n).unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// Per-shard counters.
#[derive(Clone, Debug)]
pub struct Counters {
    /// Messages received, [transport][0 = request, 1 = response].
    pub received: [[u64; 2]; Transport::ALL.len()],
    /// Requests received by method (index into `METHODS`).
    pub requests: [u64; METHODS.len()],
    /// Responses this shard generated, by status code (index = code - 100).
    pub responses_sent: Box<[u64; 600]>,
    /// Requests that failed validation and were answered (400, 505, ...), by reason.
    pub malformed: ReasonCounts,
    /// Messages dropped without an answer, by reason.
    pub drops: ReasonCounts,
    /// Responses that reached the shard holding their transaction directly.
    pub responses_home: u64,
    /// Responses handed to another shard over the mesh.
    pub mesh_sent: u64,
    /// Messages received from other shards.
    pub mesh_received: u64,
    /// Messages that could not be handed over because the queue was full.
    pub mesh_dropped: u64,
    /// CRLF keepalives answered on stream transports.
    pub keepalives: u64,
    /// UDP receive batches (recvmmsg calls that returned data): messages
    /// per batch shows how much the load lets the shard amortize.
    pub udp_batches: u64,
    /// REGISTER answers by status code (as text, e.g. "200", "401").
    pub register_results: ReasonCounts,
    /// Digest authentication failures by reason.
    pub auth_failures: ReasonCounts,
    /// Cross-shard REGISTERs whose owner could not be reached or never answered.
    pub register_lost: u64,
    /// Server transactions created by the proxy.
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
    /// CANCELs sent to branches.
    pub cancels_sent: u64,
    /// 407 challenges sent.
    pub proxy_challenges: u64,
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
    /// SDP relayed without filtering, by reason: multipart, encoded, an
    /// answer or ACK that would keep no codec.
    pub sdp_unfiltered: ReasonCounts,
    /// Header lines removed by the `[hygiene]` patterns.
    pub headers_removed: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            received: [[0; 2]; Transport::ALL.len()],
            requests: [0; METHODS.len()],
            responses_sent: Box::new([0; 600]),
            malformed: ReasonCounts::default(),
            drops: ReasonCounts::default(),
            responses_home: 0,
            mesh_sent: 0,
            mesh_received: 0,
            mesh_dropped: 0,
            keepalives: 0,
            udp_batches: 0,
            register_results: ReasonCounts::default(),
            auth_failures: ReasonCounts::default(),
            register_lost: 0,
            transactions: 0,
            branches: 0,
            relayed: 0,
            retransmissions: 0,
            branch_timeouts: 0,
            failovers: 0,
            cancels_sent: 0,
            proxy_challenges: 0,
            probes_sent: 0,
            upstream_changes: 0,
            flow_failures: 0,
            sdp_codecs_removed: 0,
            sdp_rejected: 0,
            sdp_unfiltered: ReasonCounts::default(),
            headers_removed: 0,
        }
    }
}

impl Counters {
    pub fn count_received(&mut self, t: Transport, request: bool) {
        self.received[t.index()][!request as usize] += 1;
    }

    pub fn count_method(&mut self, method: &[u8]) {
        let i = METHODS[..METHODS.len() - 1].iter().position(|m| m.as_bytes() == method).unwrap_or(METHODS.len() - 1);
        self.requests[i] += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_methods_count() {
        let mut c = Counters::default();
        c.drops.add("a");
        c.drops.add("a");
        c.drops.add("b");
        assert_eq!((c.drops.get("a"), c.drops.get("b"), c.drops.total()), (2, 1, 3));
        c.count_method(b"OPTIONS");
        c.count_method(b"FOO");
        assert_eq!(c.requests[5], 1);
        assert_eq!(c.requests[METHODS.len() - 1], 1);
        c.count_sent(200);
        c.count_sent(999);
        assert_eq!(c.sent(200), 1);
        assert_eq!(c.sent_codes().collect::<Vec<_>>(), vec![(200, 1)]);
    }
}
