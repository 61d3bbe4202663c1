//! Transaction timer durations (RFC 3261 §17 Table 4, RFC 6026 Timers L/M).
//!
//! Owns: T1/T2/T4 and every duration derived from them, in milliseconds, and
//! the transport rule: on a reliable transport (TCP, TLS, SCTP, WS) there are
//! no request/response retransmissions (Timers A, E, G are never armed) and
//! the "absorb late retransmissions" waits D, I, J, K are zero.

/// Timer names of RFC 3261 Table 4 plus L and M of RFC 6026.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerName {
    /// Client INVITE request retransmit (UDP only), doubling, uncapped.
    A,
    /// Client INVITE transaction timeout (64·T1).
    B,
    /// Client INVITE wait for response retransmits in Completed.
    D,
    /// Client non-INVITE request retransmit (UDP only), doubling, capped at T2.
    E,
    /// Client non-INVITE transaction timeout (64·T1).
    F,
    /// Server INVITE final response retransmit (UDP only), capped at T2.
    G,
    /// Server INVITE wait for ACK (64·T1).
    H,
    /// Server INVITE wait for ACK retransmits in Confirmed.
    I,
    /// Server non-INVITE wait for request retransmits in Completed.
    J,
    /// Client non-INVITE wait for response retransmits in Completed.
    K,
    /// Server INVITE wait in Accepted for INVITE/ACK/2xx retransmits (RFC 6026).
    L,
    /// Client INVITE wait in Accepted for 2xx retransmits (RFC 6026).
    M,
}

impl TimerName {
    pub const COUNT: usize = 12;
    pub const ALL: [TimerName; TimerName::COUNT] = [
        TimerName::A,
        TimerName::B,
        TimerName::D,
        TimerName::E,
        TimerName::F,
        TimerName::G,
        TimerName::H,
        TimerName::I,
        TimerName::J,
        TimerName::K,
        TimerName::L,
        TimerName::M,
    ];
}

/// T1, T2, T4 in milliseconds (RFC 3261 §17.1.1.1, Table 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate; default 500 ms.
    pub t1: u64,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses; default 4 s.
    pub t2: u64,
    /// Maximum time a message stays in the network; default 5 s.
    pub t4: u64,
}

/// RFC 3261's recommended values, for tests; the product's come from
/// `[proxy]` in `config` (`shard::build`'s tests check they agree).
#[cfg(test)]
impl Default for Timers {
    fn default() -> Self {
        Timers { t1: 500, t2: 4_000, t4: 5_000 }
    }
}

impl Timers {
    /// 64·T1: Timers B, F, H, J (UDP), L, M.
    pub fn t1x64(&self) -> u64 {
        self.t1.saturating_mul(64)
    }
    /// First Timer A interval: T1 on UDP, none (no retransmission) reliable.
    pub fn a(&self, reliable: bool) -> Option<u64> {
        (!reliable).then_some(self.t1)
    }
    pub fn b(&self) -> u64 {
        self.t1x64()
    }
    /// Timer D: "> 32 s for UDP", 0 reliable. We use max(32 s, 64·T1) so a
    /// raised T1 still covers the peer's whole retransmission window.
    pub fn d(&self, reliable: bool) -> u64 {
        if reliable {
            0
        } else {
            self.t1x64().max(32_000)
        }
    }
    /// First Timer E interval: T1 on UDP, none reliable.
    pub fn e(&self, reliable: bool) -> Option<u64> {
        (!reliable).then_some(self.t1)
    }
    pub fn f(&self) -> u64 {
        self.t1x64()
    }
    /// First Timer G interval: T1 on UDP, none reliable.
    pub fn g(&self, reliable: bool) -> Option<u64> {
        (!reliable).then_some(self.t1)
    }
    pub fn h(&self) -> u64 {
        self.t1x64()
    }
    pub fn i(&self, reliable: bool) -> u64 {
        if reliable {
            0
        } else {
            self.t4
        }
    }
    pub fn j(&self, reliable: bool) -> u64 {
        if reliable {
            0
        } else {
            self.t1x64()
        }
    }
    pub fn k(&self, reliable: bool) -> u64 {
        if reliable {
            0
        } else {
            self.t4
        }
    }
    pub fn l(&self) -> u64 {
        self.t1x64()
    }
    pub fn m(&self) -> u64 {
        self.t1x64()
    }
    /// Next interval of a doubling retransmit timer: A is uncapped
    /// (`cap = None`), E and G are capped at T2.
    pub fn double(interval: u64, cap: Option<u64>) -> u64 {
        let next = interval.saturating_mul(2);
        match cap {
            Some(c) => next.min(c),
            None => next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_table_4_udp() {
        let t = Timers::default();
        assert_eq!((t.t1, t.t2, t.t4), (500, 4_000, 5_000));
        assert_eq!(t.a(false), Some(500));
        assert_eq!(t.b(), 32_000);
        assert_eq!(t.d(false), 32_000);
        assert_eq!(t.e(false), Some(500));
        assert_eq!(t.f(), 32_000);
        assert_eq!(t.g(false), Some(500));
        assert_eq!(t.h(), 32_000);
        assert_eq!(t.i(false), 5_000);
        assert_eq!(t.j(false), 32_000);
        assert_eq!(t.k(false), 5_000);
        assert_eq!(t.l(), 32_000);
        assert_eq!(t.m(), 32_000);
    }

    #[test]
    fn reliable_has_no_retransmits_and_zero_waits() {
        let t = Timers::default();
        assert_eq!(t.a(true), None);
        assert_eq!(t.e(true), None);
        assert_eq!(t.g(true), None);
        assert_eq!((t.d(true), t.i(true), t.j(true), t.k(true)), (0, 0, 0, 0));
        // Timeouts do not depend on the transport.
        assert_eq!((t.b(), t.f(), t.h()), (32_000, 32_000, 32_000));
    }

    #[test]
    fn derived_from_custom_t1() {
        let t = Timers { t1: 1_000, t2: 4_000, t4: 5_000 };
        assert_eq!(t.b(), 64_000);
        assert_eq!(t.d(false), 64_000, "D covers 64*T1 when that exceeds 32 s");
        let t = Timers { t1: 100, t2: 4_000, t4: 5_000 };
        assert_eq!(t.d(false), 32_000, "D never below 32 s on UDP");
    }

    #[test]
    fn doubling() {
        assert_eq!(Timers::double(500, None), 1_000);
        assert_eq!(Timers::double(16_000, None), 32_000);
        assert_eq!(Timers::double(2_000, Some(4_000)), 4_000);
        assert_eq!(Timers::double(4_000, Some(4_000)), 4_000);
    }
}
