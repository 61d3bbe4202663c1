//! Client INVITE transaction: RFC 3261 §17.1.1, Figure 5, with RFC 6026's
//! Accepted state.
//!
//! Owns: request retransmission (Timer A, doubling from T1, uncapped, UDP
//! only), the transaction timeout (Timer B), the ACK for 3xx–6xx (built and
//! sent by the transaction, resent for each retransmitted final, Timer D), and
//! RFC 6026's Accepted state: a 2xx is passed up and the transaction lingers
//! for Timer M (64·T1) passing every further 2xx (retransmissions, forks) up
//! to the TU, which ACKs them itself (§13.2.2.4). Timer C (proxy, §16.6 (11))
//! belongs to the proxy TU, not here.
//!
//! ```text
//! start()      -> Calling     send INVITE, A (UDP), B
//! Calling      A fires        resend INVITE, A doubled
//! Calling      B fires        -> Terminated, Timeout (TU: 408)
//! Calling|Proc 1xx            -> Proceeding, deliver
//! Calling|Proc 2xx            -> Accepted, deliver, M
//! Calling|Proc 300-699        -> Completed, send ACK, deliver, D (0 reliable)
//! Completed    300-699        resend ACK
//! Completed    D fires        -> Terminated
//! Accepted     2xx            deliver
//! Accepted     M fires        -> Terminated
//! Calling|Completed transport error -> Terminated, TransportError
//! ```

use super::{class, terminate, Action, Armed, Class, Deadlines, Msg, TimerName, Timers};

/// The states of Figure 5 (+ Accepted, RFC 6026). There is no "before
/// start" state: the machine is born by `start`, in Calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A response matched this transaction.
    Response(u16),
    Timer(TimerName),
    /// Sending the INVITE or the ACK failed.
    TransportError,
}

#[derive(Clone, Debug)]
pub struct ClientInvite {
    pub(super) state: State,
    pub(super) reliable: bool,
    pub(super) timers: Timers,
    /// Current Timer A interval.
    pub(super) a_interval: u64,
    pub(super) armed: Armed,
}

impl ClientInvite {
    /// The TU hands over the INVITE at `now`: send it, arm A (UDP) and B.
    pub fn start(now: u64, reliable: bool, timers: &Timers, out: &mut Vec<Action>) -> Self {
        let mut tx = ClientInvite {
            state: State::Calling,
            reliable,
            timers: *timers,
            a_interval: timers.t1,
            armed: Armed::NONE,
        };
        out.push(Action::Send(Msg::Request));
        if let Some(a) = timers.a(reliable) {
            tx.a_interval = a;
            tx.armed.set(TimerName::A, now + a, out);
        }
        tx.armed.set(TimerName::B, now + timers.b(), out);
        tx
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

    pub fn on(&mut self, now: u64, ev: Event, out: &mut Vec<Action>) {
        use State::*;
        match (self.state, ev) {
            (Calling, Event::Timer(TimerName::A)) if self.armed.fire(TimerName::A, now) => {
                out.push(Action::Resend(Msg::Request));
                self.a_interval = Timers::double(self.a_interval, None);
                self.armed.set(TimerName::A, now + self.a_interval, out);
            }
            (Calling, Event::Timer(TimerName::B)) if self.armed.fire(TimerName::B, now) => {
                out.push(Action::Timeout);
                self.finish(out);
            }
            (Calling | Proceeding, Event::Response(code)) => match class(code) {
                Some(Class::Provisional) => {
                    self.armed.cancel(TimerName::A, out);
                    self.armed.cancel(TimerName::B, out);
                    out.push(Action::Deliver(Msg::Response(code)));
                    self.state = Proceeding;
                }
                Some(Class::Success) => {
                    self.armed.cancel_all(out);
                    out.push(Action::Deliver(Msg::Response(code)));
                    self.state = Accepted;
                    self.armed.set(TimerName::M, now + self.timers.m(), out);
                }
                Some(Class::Failure) => {
                    self.armed.cancel_all(out);
                    out.push(Action::Send(Msg::Ack));
                    out.push(Action::Deliver(Msg::Response(code)));
                    self.state = Completed;
                    let d = self.timers.d(self.reliable);
                    if d == 0 {
                        self.finish(out);
                    } else {
                        self.armed.set(TimerName::D, now + d, out);
                    }
                }
                None => {}
            },
            (Completed, Event::Response(code)) if class(code) == Some(Class::Failure) => {
                out.push(Action::Resend(Msg::Ack));
            }
            (Completed, Event::Timer(TimerName::D)) if self.armed.fire(TimerName::D, now) => {
                self.finish(out);
            }
            (Accepted, Event::Response(code)) if class(code) == Some(Class::Success) => {
                out.push(Action::Deliver(Msg::Response(code)));
            }
            (Accepted, Event::Timer(TimerName::M)) if self.armed.fire(TimerName::M, now) => {
                self.finish(out);
            }
            (Calling | Completed, Event::TransportError) => {
                out.push(Action::TransportError);
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

    fn started(reliable: bool) -> (ClientInvite, Vec<Action>) {
        let mut out = Vec::new();
        let tx = ClientInvite::start(0, reliable, &Timers::default(), &mut out);
        (tx, out)
    }

    #[test]
    fn start_sends_and_arms_a_and_b() {
        let (tx, out) = started(false);
        assert_eq!(tx.state(), State::Calling);
        assert_eq!(out[0], Action::Send(Msg::Request));
        assert_eq!(set_at(&out, TimerName::A), Some(500));
        assert_eq!(set_at(&out, TimerName::B), Some(32_000));
    }

    #[test]
    fn timer_a_doubles_uncapped_until_b_times_out() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        // A fires at 500, 1500, 3500, 7500, 15500, 31500: intervals 500,
        // 1000, 2000, 4000, 8000, 16000 (no T2 cap for INVITE).
        let mut fire_at = 500;
        let mut resends = Vec::new();
        while fire_at < 32_000 {
            out.clear();
            tx.on(fire_at, Event::Timer(TimerName::A), &mut out);
            assert!(has(&out, Action::Resend(Msg::Request)), "at {fire_at}");
            resends.push(fire_at);
            fire_at = set_at(&out, TimerName::A).unwrap();
        }
        assert_eq!(resends, vec![500, 1_500, 3_500, 7_500, 15_500, 31_500]);
        assert_eq!(fire_at, 63_500, "interval 32 s after 16 s: uncapped");
        out.clear();
        tx.on(32_000, Event::Timer(TimerName::B), &mut out);
        assert!(has(&out, Action::Timeout));
        assert!(has(&out, Action::CancelTimer(TimerName::A)));
        assert_eq!(out.last(), Some(&Action::Terminated));
        assert_eq!(tx.state(), State::Terminated);
        out.clear();
        tx.on(63_500, Event::Timer(TimerName::A), &mut out);
        assert!(out.is_empty(), "dead transaction does nothing");
    }

    #[test]
    fn early_or_stale_timer_is_ignored() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(499, Event::Timer(TimerName::A), &mut out);
        tx.on(10, Event::Timer(TimerName::B), &mut out);
        tx.on(10, Event::Timer(TimerName::D), &mut out);
        assert!(out.is_empty());
        assert_eq!(tx.state(), State::Calling);
    }

    #[test]
    fn reliable_never_retransmits() {
        let (mut tx, out) = started(true);
        assert_eq!(set_at(&out, TimerName::A), None);
        assert_eq!(set_at(&out, TimerName::B), Some(32_000));
        let mut out = Vec::new();
        tx.on(500, Event::Timer(TimerName::A), &mut out);
        assert!(out.is_empty());
        tx.on(32_000, Event::Timer(TimerName::B), &mut out);
        assert!(has(&out, Action::Timeout));
        assert!(tx.is_terminated());
    }

    #[test]
    fn provisional_stops_retransmits_and_b() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(200, Event::Response(100), &mut out);
        assert_eq!(tx.state(), State::Proceeding);
        assert!(has(&out, Action::Deliver(Msg::Response(100))));
        assert!(has(&out, Action::CancelTimer(TimerName::A)));
        assert!(has(&out, Action::CancelTimer(TimerName::B)));
        out.clear();
        tx.on(500, Event::Timer(TimerName::A), &mut out);
        tx.on(32_000, Event::Timer(TimerName::B), &mut out);
        assert!(out.is_empty(), "no retransmit, no timeout in Proceeding");
        tx.on(40_000, Event::Response(180), &mut out);
        assert_eq!(out, vec![Action::Deliver(Msg::Response(180))]);
        assert_eq!(tx.state(), State::Proceeding);
    }

    #[test]
    fn failure_sends_ack_and_absorbs_retransmits_until_d() {
        for from_proceeding in [false, true] {
            let (mut tx, _) = started(false);
            let mut out = Vec::new();
            if from_proceeding {
                tx.on(100, Event::Response(180), &mut out);
            }
            out.clear();
            tx.on(1_000, Event::Response(486), &mut out);
            assert_eq!(tx.state(), State::Completed);
            assert_eq!(count(&out, Action::Send(Msg::Ack)), 1);
            assert!(has(&out, Action::Deliver(Msg::Response(486))));
            assert_eq!(set_at(&out, TimerName::D), Some(33_000));
            out.clear();
            tx.on(2_000, Event::Response(486), &mut out);
            assert_eq!(out, vec![Action::Resend(Msg::Ack)], "absorbed, ACK resent");
            out.clear();
            tx.on(2_000, Event::Timer(TimerName::A), &mut out);
            assert!(out.is_empty(), "A cancelled on leaving Calling");
            tx.on(32_999, Event::Timer(TimerName::D), &mut out);
            assert!(out.is_empty());
            tx.on(33_000, Event::Timer(TimerName::D), &mut out);
            assert_eq!(out, vec![Action::Terminated]);
            assert!(tx.is_terminated());
        }
    }

    #[test]
    fn reliable_failure_terminates_at_once() {
        let (mut tx, _) = started(true);
        let mut out = Vec::new();
        tx.on(100, Event::Response(503), &mut out);
        assert_eq!(
            out,
            vec![
                Action::CancelTimer(TimerName::B),
                Action::Send(Msg::Ack),
                Action::Deliver(Msg::Response(503)),
                Action::Terminated
            ]
        );
        assert!(tx.is_terminated());
    }

    #[test]
    fn success_goes_up_and_lingers_in_accepted_for_m() {
        for from_proceeding in [false, true] {
            let (mut tx, _) = started(false);
            let mut out = Vec::new();
            if from_proceeding {
                tx.on(100, Event::Response(183), &mut out);
            }
            out.clear();
            tx.on(1_000, Event::Response(200), &mut out);
            assert_eq!(tx.state(), State::Accepted);
            assert!(has(&out, Action::Deliver(Msg::Response(200))));
            assert!(!has(&out, Action::Send(Msg::Ack)), "TU ACKs a 2xx, not us");
            assert_eq!(set_at(&out, TimerName::M), Some(33_000));
            out.clear();
            // Retransmitted / forked 2xx: passed up each time.
            tx.on(1_500, Event::Response(200), &mut out);
            assert_eq!(out, vec![Action::Deliver(Msg::Response(200))]);
            out.clear();
            tx.on(1_600, Event::Response(486), &mut out);
            tx.on(1_600, Event::Response(180), &mut out);
            tx.on(1_600, Event::Timer(TimerName::A), &mut out);
            tx.on(1_600, Event::Timer(TimerName::B), &mut out);
            tx.on(1_600, Event::TransportError, &mut out);
            assert!(out.is_empty(), "Accepted ignores the rest");
            tx.on(33_000, Event::Timer(TimerName::M), &mut out);
            assert_eq!(out, vec![Action::Terminated]);
        }
    }

    #[test]
    fn transport_error_in_calling_and_completed() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(1, Event::TransportError, &mut out);
        assert!(has(&out, Action::TransportError));
        assert_eq!(out.last(), Some(&Action::Terminated));
        assert!(tx.is_terminated());

        let (mut tx, _) = started(false);
        tx.on(1, Event::Response(404), &mut out);
        out.clear();
        tx.on(2, Event::TransportError, &mut out);
        assert_eq!(out, vec![Action::TransportError, Action::CancelTimer(TimerName::D), Action::Terminated]);

        // Proceeding sends nothing, so nothing can fail there.
        let (mut tx, _) = started(false);
        tx.on(1, Event::Response(180), &mut out);
        out.clear();
        tx.on(2, Event::TransportError, &mut out);
        assert!(out.is_empty());
        assert_eq!(tx.state(), State::Proceeding);
    }

    #[test]
    fn bogus_codes_ignored() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(1, Event::Response(99), &mut out);
        tx.on(1, Event::Response(700), &mut out);
        assert!(out.is_empty());
        assert_eq!(tx.state(), State::Calling);
    }
}
