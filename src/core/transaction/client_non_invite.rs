//! Client non-INVITE transaction: RFC 3261 §17.1.2, Figure 6.
//!
//! Owns: request retransmission (Timer E: T1 doubling, capped at T2, UDP
//! only; at T2 once a provisional arrived), the timeout (Timer F, 64·T1), and
//! absorbing response retransmissions in Completed (Timer K: T4, 0 reliable).
//!
//! ```text
//! start()        -> Trying      send request, E (UDP), F
//! Trying         E fires        resend, E = min(2E, T2)
//! Proceeding     E fires        resend, E = T2
//! Trying         1xx            -> Proceeding, deliver
//! Proceeding     1xx            deliver
//! Trying|Proc    200-699        -> Completed, deliver, K (0 reliable)
//! Trying|Proc    F fires        -> Terminated, Timeout (TU: 408)
//! Trying|Proc    transport err  -> Terminated, TransportError
//! Completed      any response   absorbed
//! Completed      K fires        -> Terminated
//! ```

use super::{class, terminate, Action, Armed, Class, Deadlines, Msg, TimerName, Timers};

/// The states of Figure 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A response matched this transaction.
    Response(u16),
    Timer(TimerName),
    /// Sending the request failed.
    TransportError,
}

#[derive(Clone, Debug)]
pub struct ClientNonInvite {
    pub(super) state: State,
    pub(super) reliable: bool,
    pub(super) timers: Timers,
    /// Current Timer E interval.
    pub(super) e_interval: u64,
    pub(super) armed: Armed,
}

impl ClientNonInvite {
    /// The TU hands over the request at `now`: send it, arm E (UDP) and F.
    pub fn start(now: u64, reliable: bool, timers: &Timers, out: &mut Vec<Action>) -> Self {
        let mut tx = ClientNonInvite {
            state: State::Trying,
            reliable,
            timers: *timers,
            e_interval: timers.t1,
            armed: Armed::NONE,
        };
        out.push(Action::Send(Msg::Request));
        if let Some(e) = timers.e(reliable) {
            tx.e_interval = e;
            tx.armed.set(TimerName::E, now + e, out);
        }
        tx.armed.set(TimerName::F, now + timers.f(), out);
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
            (Trying | Proceeding, Event::Timer(TimerName::E)) if self.armed.fire(TimerName::E, now) => {
                out.push(Action::Resend(Msg::Request));
                self.e_interval = if self.state == Trying {
                    Timers::double(self.e_interval, Some(self.timers.t2))
                } else {
                    self.timers.t2
                };
                self.armed.set(TimerName::E, now + self.e_interval, out);
            }
            (Trying | Proceeding, Event::Timer(TimerName::F)) if self.armed.fire(TimerName::F, now) => {
                out.push(Action::Timeout);
                self.finish(out);
            }
            (Trying | Proceeding, Event::TransportError) => {
                out.push(Action::TransportError);
                self.finish(out);
            }
            (Trying | Proceeding, Event::Response(code)) => match class(code) {
                Some(Class::Provisional) => {
                    out.push(Action::Deliver(Msg::Response(code)));
                    self.state = Proceeding;
                }
                Some(Class::Success | Class::Failure) => {
                    self.armed.cancel_all(out);
                    out.push(Action::Deliver(Msg::Response(code)));
                    self.state = Completed;
                    let k = self.timers.k(self.reliable);
                    if k == 0 {
                        self.finish(out);
                    } else {
                        self.armed.set(TimerName::K, now + k, out);
                    }
                }
                None => {}
            },
            (Completed, Event::Timer(TimerName::K)) if self.armed.fire(TimerName::K, now) => {
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

    fn started(reliable: bool) -> (ClientNonInvite, Vec<Action>) {
        let mut out = Vec::new();
        let tx = ClientNonInvite::start(0, reliable, &Timers::default(), &mut out);
        (tx, out)
    }

    /// Fires E each time it is due until `until`; returns the firing times.
    fn run_e(tx: &mut ClientNonInvite, first: u64, until: u64) -> (Vec<u64>, u64) {
        let mut out = Vec::new();
        let mut at = first;
        let mut fired = Vec::new();
        while at < until {
            out.clear();
            tx.on(at, Event::Timer(TimerName::E), &mut out);
            assert!(has(&out, Action::Resend(Msg::Request)), "at {at}");
            fired.push(at);
            at = set_at(&out, TimerName::E).unwrap();
        }
        (fired, at)
    }

    #[test]
    fn start_sends_and_arms_e_and_f() {
        let (tx, out) = started(false);
        assert_eq!(tx.state(), State::Trying);
        assert_eq!(out[0], Action::Send(Msg::Request));
        assert_eq!(set_at(&out, TimerName::E), Some(500));
        assert_eq!(set_at(&out, TimerName::F), Some(32_000));
    }

    #[test]
    fn timer_e_doubles_capped_at_t2_then_f_times_out() {
        let (mut tx, _) = started(false);
        let (fired, next) = run_e(&mut tx, 500, 32_000);
        // Intervals 500, 1000, 2000, 4000, 4000, 4000 ...: capped at T2.
        assert_eq!(fired, vec![500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
        assert_eq!(next, 35_500);
        let mut out = Vec::new();
        tx.on(32_000, Event::Timer(TimerName::F), &mut out);
        assert!(has(&out, Action::Timeout));
        assert!(has(&out, Action::CancelTimer(TimerName::E)));
        assert_eq!(out.last(), Some(&Action::Terminated));
        assert!(tx.is_terminated());
    }

    #[test]
    fn proceeding_retransmits_every_t2() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(100, Event::Response(100), &mut out);
        assert_eq!(tx.state(), State::Proceeding);
        assert_eq!(out, vec![Action::Deliver(Msg::Response(100))], "E and F keep running");
        // E still due at 500; from then on every T2.
        let (fired, _) = run_e(&mut tx, 500, 13_000);
        assert_eq!(fired, vec![500, 4_500, 8_500, 12_500]);
        out.clear();
        tx.on(13_000, Event::Response(183), &mut out);
        assert_eq!(out, vec![Action::Deliver(Msg::Response(183))]);
        out.clear();
        tx.on(32_000, Event::Timer(TimerName::F), &mut out);
        assert!(has(&out, Action::Timeout), "F still guards Proceeding");
        assert!(tx.is_terminated());
    }

    #[test]
    fn final_goes_up_and_k_absorbs_retransmits() {
        for (pre, code) in [(None, 200), (Some(100), 404), (None, 603)] {
            let (mut tx, _) = started(false);
            let mut out = Vec::new();
            if let Some(p) = pre {
                tx.on(10, Event::Response(p), &mut out);
            }
            out.clear();
            tx.on(1_000, Event::Response(code), &mut out);
            assert_eq!(tx.state(), State::Completed);
            assert!(has(&out, Action::Deliver(Msg::Response(code))));
            assert!(has(&out, Action::CancelTimer(TimerName::E)));
            assert!(has(&out, Action::CancelTimer(TimerName::F)));
            assert_eq!(set_at(&out, TimerName::K), Some(6_000));
            out.clear();
            tx.on(2_000, Event::Response(code), &mut out);
            tx.on(2_000, Event::Response(180), &mut out);
            tx.on(2_000, Event::Timer(TimerName::E), &mut out);
            tx.on(32_000, Event::Timer(TimerName::F), &mut out);
            tx.on(5_999, Event::Timer(TimerName::K), &mut out);
            tx.on(5_999, Event::TransportError, &mut out);
            assert!(out.is_empty(), "Completed absorbs: {out:?}");
            tx.on(6_000, Event::Timer(TimerName::K), &mut out);
            assert_eq!(out, vec![Action::Terminated]);
        }
    }

    #[test]
    fn reliable_no_retransmits_and_k_zero() {
        let (mut tx, out) = started(true);
        assert_eq!(set_at(&out, TimerName::E), None);
        assert_eq!(set_at(&out, TimerName::F), Some(32_000));
        let mut out = Vec::new();
        tx.on(500, Event::Timer(TimerName::E), &mut out);
        assert!(out.is_empty());
        tx.on(600, Event::Response(200), &mut out);
        assert_eq!(
            out,
            vec![Action::CancelTimer(TimerName::F), Action::Deliver(Msg::Response(200)), Action::Terminated]
        );
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_timeout() {
        let (mut tx, _) = started(true);
        let mut out = Vec::new();
        tx.on(32_000, Event::Timer(TimerName::F), &mut out);
        assert_eq!(out, vec![Action::Timeout, Action::Terminated]);
    }

    #[test]
    fn transport_error_in_trying_and_proceeding() {
        for pre in [None, Some(180)] {
            let (mut tx, _) = started(false);
            let mut out = Vec::new();
            if let Some(p) = pre {
                tx.on(1, Event::Response(p), &mut out);
            }
            out.clear();
            tx.on(2, Event::TransportError, &mut out);
            assert_eq!(out[0], Action::TransportError);
            assert_eq!(out.last(), Some(&Action::Terminated));
            assert!(tx.is_terminated());
        }
    }

    #[test]
    fn early_timers_ignored() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(499, Event::Timer(TimerName::E), &mut out);
        tx.on(31_999, Event::Timer(TimerName::F), &mut out);
        tx.on(1, Event::Timer(TimerName::K), &mut out);
        assert!(no_sends(&out) && out.is_empty());
        assert_eq!(tx.state(), State::Trying);
    }
}
