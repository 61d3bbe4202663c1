//! Server INVITE transaction: RFC 3261 §17.2.1, Figure 7, with RFC 6026's
//! Accepted state for 2xx.
//!
//! Owns: the 100 Trying, answering INVITE retransmissions with the last
//! response sent, final-response retransmission over UDP (Timer G: T1
//! doubling, capped at T2), the wait for the ACK (Timer H, 64·T1 → TU told
//! `Timeout`), absorbing ACK retransmissions (Confirmed, Timer I: T4, 0
//! reliable), and RFC 6026's Accepted state: after a 2xx the transaction
//! stays for Timer L (64·T1) so that INVITE retransmissions are absorbed (not
//! mistaken for new requests), further 2xx from the TU (its own
//! retransmissions, §13.3.1.4, or a proxy's forked 2xx) are sent, and an ACK
//! matching it is passed up to the TU.
//!
//! 100 Trying: the transaction sends it itself, at once, in `start`. §17.2.1
//! lets a TU that answers within 200 ms skip it, but the edge is a proxy
//! whose answers come from upstream (well over 200 ms for an INVITE), and
//! §16.2 says a stateful proxy SHOULD send 100 for INVITE; deciding "fast or
//! not" per request would need a second timer. A request rejected in the same
//! turn (e.g. a 407 challenge) therefore costs one extra 100 datagram, which
//! is harmless. A 100 is not a retransmittable response but it is "the last
//! provisional", so an INVITE retransmission before any other provisional is
//! answered by resending it (§17.2.1).
//!
//! ```text
//! start()      -> Proceeding  deliver INVITE, send 100
//! Proceeding   INVITE         resend last provisional
//! Proceeding   1xx from TU    send
//! Proceeding   2xx from TU    -> Accepted, send, L
//! Proceeding   300-699 TU     -> Completed, send, G (UDP), H
//! Proceeding|Completed transport err -> Terminated, TransportError
//! Completed    INVITE         resend final
//! Completed    G fires        resend final, G = min(2G, T2)
//! Completed    H fires        -> Terminated, Timeout (no ACK)
//! Completed    ACK            -> Confirmed, I (0 reliable)
//! Confirmed    ACK            absorbed
//! Confirmed    I fires        -> Terminated
//! Accepted     INVITE         absorbed
//! Accepted     ACK            deliver ACK
//! Accepted     2xx from TU    send
//! Accepted     L fires        -> Terminated
//! ```
//!
//! Transport error in Accepted: RFC 6026 gives that state no transport-error
//! arc; the TU owns 2xx delivery there, so it is told (`TransportError`) and
//! the transaction stays until Timer L, still absorbing INVITE retransmissions.

use super::{class, terminate, Action, Armed, Class, Deadlines, Msg, TimerName, Timers};

/// The states of Figure 7 (+ Accepted, RFC 6026).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A retransmission of the INVITE matched this transaction.
    Invite,
    /// An ACK matched this transaction.
    Ack,
    /// The TU passes a response with this code down.
    Respond(u16),
    Timer(TimerName),
    /// Sending a response failed.
    TransportError,
}

#[derive(Clone, Debug)]
pub struct ServerInvite {
    pub(super) state: State,
    pub(super) reliable: bool,
    pub(super) timers: Timers,
    /// Last response sent (what an INVITE retransmission gets again).
    pub(super) last: u16,
    /// Current Timer G interval.
    pub(super) g_interval: u64,
    pub(super) armed: Armed,
}

impl ServerInvite {
    /// An INVITE matched no transaction at `now`: pass it up, send 100.
    pub fn start(_now: u64, reliable: bool, timers: &Timers, out: &mut Vec<Action>) -> Self {
        out.push(Action::Deliver(Msg::Request));
        out.push(Action::Send(Msg::Response(100)));
        ServerInvite {
            state: State::Proceeding,
            reliable,
            timers: *timers,
            last: 100,
            g_interval: timers.t1,
            armed: Armed::NONE,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Every timer armed, with its deadline (ms).
    pub fn deadlines(&self) -> Deadlines {
        self.armed.deadlines()
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Code of the last response sent (100 until the TU answers).
    pub fn last_response(&self) -> u16 {
        self.last
    }

    pub fn on(&mut self, now: u64, ev: Event, out: &mut Vec<Action>) {
        use State::*;
        match (self.state, ev) {
            (Proceeding | Completed, Event::Invite) => {
                out.push(Action::Resend(Msg::Response(self.last)));
            }
            (Proceeding, Event::Respond(code)) => match class(code) {
                Some(Class::Provisional) => {
                    self.last = code;
                    out.push(Action::Send(Msg::Response(code)));
                }
                Some(Class::Success) => {
                    self.last = code;
                    out.push(Action::Send(Msg::Response(code)));
                    self.state = Accepted;
                    self.armed.set(TimerName::L, now + self.timers.l(), out);
                }
                Some(Class::Failure) => {
                    self.last = code;
                    out.push(Action::Send(Msg::Response(code)));
                    self.state = Completed;
                    if let Some(g) = self.timers.g(self.reliable) {
                        self.g_interval = g;
                        self.armed.set(TimerName::G, now + g, out);
                    }
                    self.armed.set(TimerName::H, now + self.timers.h(), out);
                }
                None => {}
            },
            (Proceeding | Completed, Event::TransportError) => {
                out.push(Action::TransportError);
                self.finish(out);
            }
            (Completed, Event::Timer(TimerName::G)) if self.armed.fire(TimerName::G, now) => {
                out.push(Action::Resend(Msg::Response(self.last)));
                self.g_interval = Timers::double(self.g_interval, Some(self.timers.t2));
                self.armed.set(TimerName::G, now + self.g_interval, out);
            }
            (Completed, Event::Timer(TimerName::H)) if self.armed.fire(TimerName::H, now) => {
                out.push(Action::Timeout);
                self.finish(out);
            }
            (Completed, Event::Ack) => {
                self.armed.cancel_all(out);
                self.state = Confirmed;
                let i = self.timers.i(self.reliable);
                if i == 0 {
                    self.finish(out);
                } else {
                    self.armed.set(TimerName::I, now + i, out);
                }
            }
            (Confirmed, Event::Timer(TimerName::I)) if self.armed.fire(TimerName::I, now) => {
                self.finish(out);
            }
            (Accepted, Event::Ack) => out.push(Action::Deliver(Msg::Ack)),
            (Accepted, Event::Respond(code)) if class(code) == Some(Class::Success) => {
                self.last = code;
                out.push(Action::Send(Msg::Response(code)));
            }
            (Accepted, Event::TransportError) => out.push(Action::TransportError),
            (Accepted, Event::Timer(TimerName::L)) if self.armed.fire(TimerName::L, now) => {
                self.finish(out);
            }
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Action>) {
        self.state = State::Terminated;
        terminate(&mut self.armed, out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn started(reliable: bool) -> (ServerInvite, Vec<Action>) {
        let mut out = Vec::new();
        let tx = ServerInvite::start(0, reliable, &Timers::default(), &mut out);
        (tx, out)
    }

    fn completed(reliable: bool, code: u16) -> ServerInvite {
        let (mut tx, _) = started(reliable);
        let mut out = Vec::new();
        tx.on(1_000, Event::Respond(code), &mut out);
        assert_eq!(tx.state(), State::Completed);
        tx
    }

    #[test]
    fn start_delivers_and_sends_100() {
        let (tx, out) = started(false);
        assert_eq!(tx.state(), State::Proceeding);
        assert_eq!(out, vec![Action::Deliver(Msg::Request), Action::Send(Msg::Response(100))]);
    }

    #[test]
    fn proceeding_answers_retransmits_with_last_provisional() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(100, Event::Invite, &mut out);
        assert_eq!(out, vec![Action::Resend(Msg::Response(100))]);
        out.clear();
        tx.on(200, Event::Respond(180), &mut out);
        assert_eq!(out, vec![Action::Send(Msg::Response(180))]);
        assert_eq!(tx.state(), State::Proceeding);
        out.clear();
        tx.on(300, Event::Invite, &mut out);
        assert_eq!(out, vec![Action::Resend(Msg::Response(180))]);
        out.clear();
        tx.on(300, Event::Ack, &mut out);
        tx.on(300, Event::Timer(TimerName::G), &mut out);
        tx.on(300, Event::Timer(TimerName::H), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn failure_retransmits_g_capped_until_h_timeout() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(1_000, Event::Respond(486), &mut out);
        assert_eq!(tx.state(), State::Completed);
        assert!(has(&out, Action::Send(Msg::Response(486))));
        assert_eq!(set_at(&out, TimerName::G), Some(1_500));
        assert_eq!(set_at(&out, TimerName::H), Some(33_000));
        let mut at = 1_500;
        let mut fired = Vec::new();
        while at < 33_000 {
            out.clear();
            tx.on(at, Event::Timer(TimerName::G), &mut out);
            assert_eq!(out[0], Action::Resend(Msg::Response(486)));
            fired.push(at);
            at = set_at(&out, TimerName::G).unwrap();
        }
        // Intervals 500, 1000, 2000, 4000, 4000 ...: capped at T2.
        assert_eq!(&fired[..6], &[1_500, 2_500, 4_500, 8_500, 12_500, 16_500]);
        assert_eq!(fired.last(), Some(&32_500));
        out.clear();
        tx.on(33_000, Event::Timer(TimerName::H), &mut out);
        assert_eq!(out, vec![Action::Timeout, Action::CancelTimer(TimerName::G), Action::Terminated]);
        assert!(tx.is_terminated());
    }

    #[test]
    fn completed_answers_invite_retransmit_with_final() {
        let mut tx = completed(false, 404);
        let mut out = Vec::new();
        tx.on(1_200, Event::Invite, &mut out);
        assert_eq!(out, vec![Action::Resend(Msg::Response(404))]);
        out.clear();
        tx.on(1_200, Event::Respond(500), &mut out);
        tx.on(1_200, Event::Respond(200), &mut out);
        assert!(out.is_empty(), "a second final from the TU is discarded");
    }

    #[test]
    fn ack_confirms_and_i_absorbs_ack_retransmits() {
        let mut tx = completed(false, 404);
        let mut out = Vec::new();
        tx.on(2_000, Event::Ack, &mut out);
        assert_eq!(tx.state(), State::Confirmed);
        assert!(has(&out, Action::CancelTimer(TimerName::G)));
        assert!(has(&out, Action::CancelTimer(TimerName::H)));
        assert_eq!(set_at(&out, TimerName::I), Some(7_000));
        assert!(no_sends(&out));
        out.clear();
        tx.on(2_100, Event::Ack, &mut out);
        tx.on(2_100, Event::Invite, &mut out);
        tx.on(2_500, Event::Timer(TimerName::G), &mut out);
        tx.on(33_000, Event::Timer(TimerName::H), &mut out);
        tx.on(6_999, Event::Timer(TimerName::I), &mut out);
        tx.on(6_999, Event::TransportError, &mut out);
        assert!(out.is_empty(), "Confirmed absorbs: {out:?}");
        tx.on(7_000, Event::Timer(TimerName::I), &mut out);
        assert_eq!(out, vec![Action::Terminated]);
    }

    #[test]
    fn reliable_no_g_and_i_zero() {
        let (mut tx, _) = started(true);
        let mut out = Vec::new();
        tx.on(1_000, Event::Respond(603), &mut out);
        assert_eq!(set_at(&out, TimerName::G), None);
        assert_eq!(set_at(&out, TimerName::H), Some(33_000));
        out.clear();
        tx.on(1_500, Event::Timer(TimerName::G), &mut out);
        assert!(out.is_empty());
        tx.on(2_000, Event::Ack, &mut out);
        assert_eq!(out, vec![Action::CancelTimer(TimerName::H), Action::Terminated]);
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_h_still_times_out() {
        let mut tx = completed(true, 486);
        let mut out = Vec::new();
        tx.on(33_000, Event::Timer(TimerName::H), &mut out);
        assert_eq!(out, vec![Action::Timeout, Action::Terminated]);
    }

    #[test]
    fn success_goes_to_accepted_for_l() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(100, Event::Respond(180), &mut out);
        out.clear();
        tx.on(1_000, Event::Respond(200), &mut out);
        assert_eq!(tx.state(), State::Accepted);
        assert!(has(&out, Action::Send(Msg::Response(200))));
        assert_eq!(set_at(&out, TimerName::L), Some(33_000));
        assert_eq!(set_at(&out, TimerName::G), None, "2xx retransmission is the TU's");
        out.clear();
        tx.on(1_100, Event::Invite, &mut out);
        assert!(out.is_empty(), "INVITE retransmission absorbed in Accepted");
        tx.on(1_500, Event::Respond(200), &mut out);
        assert_eq!(out, vec![Action::Send(Msg::Response(200))], "TU's 2xx retransmit");
        out.clear();
        tx.on(1_500, Event::Respond(486), &mut out);
        tx.on(1_500, Event::Respond(180), &mut out);
        assert!(out.is_empty(), "non-2xx after 2xx discarded");
        tx.on(1_600, Event::Ack, &mut out);
        assert_eq!(out, vec![Action::Deliver(Msg::Ack)]);
        assert_eq!(tx.state(), State::Accepted, "ACK does not end Accepted");
        out.clear();
        tx.on(1_700, Event::TransportError, &mut out);
        assert_eq!(out, vec![Action::TransportError]);
        assert_eq!(tx.state(), State::Accepted);
        out.clear();
        tx.on(32_999, Event::Timer(TimerName::L), &mut out);
        assert!(out.is_empty());
        tx.on(33_000, Event::Timer(TimerName::L), &mut out);
        assert_eq!(out, vec![Action::Terminated]);
    }

    #[test]
    fn reliable_success_still_lingers() {
        let (mut tx, _) = started(true);
        let mut out = Vec::new();
        tx.on(1_000, Event::Respond(200), &mut out);
        assert_eq!(tx.state(), State::Accepted);
        assert_eq!(set_at(&out, TimerName::L), Some(33_000));
    }

    #[test]
    fn transport_error_in_proceeding_and_completed() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(1, Event::TransportError, &mut out);
        assert_eq!(out, vec![Action::TransportError, Action::Terminated]);
        assert!(tx.is_terminated());

        let mut tx = completed(false, 500);
        out.clear();
        tx.on(1_100, Event::TransportError, &mut out);
        assert_eq!(out[0], Action::TransportError);
        assert!(has(&out, Action::CancelTimer(TimerName::G)));
        assert!(has(&out, Action::CancelTimer(TimerName::H)));
        assert_eq!(out.last(), Some(&Action::Terminated));
        out.clear();
        tx.on(1_200, Event::Invite, &mut out);
        assert!(out.is_empty(), "dead transaction does nothing");
    }
}
