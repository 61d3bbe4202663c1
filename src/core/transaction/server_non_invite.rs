//! Server non-INVITE transaction: RFC 3261 §17.2.2, Figure 8.
//!
//! Owns: passing the request up, answering request retransmissions with the
//! last response (nothing in Trying), and absorbing them after the final for
//! Timer J (64·T1 UDP, 0 reliable). No 100 Trying: §17.2.2 / RFC 4320 say a
//! non-INVITE gets a provisional only from the TU.
//!
//! ```text
//! start()          -> Trying      deliver request
//! Trying           request        absorbed
//! Trying           1xx from TU    -> Proceeding, send
//! Proceeding       request        resend last provisional
//! Proceeding       1xx from TU    send
//! Trying|Proc      200-699 TU     -> Completed, send, J (0 reliable)
//! Proceeding       transport err  -> Terminated, TransportError
//! Completed        request        resend final
//! Completed        transport err  -> Terminated, TransportError
//! Completed        J fires        -> Terminated
//! ```
//!
//! A transport error in Trying cannot happen (nothing was sent) and is
//! ignored; further responses from the TU in Completed are discarded.

use super::{class, terminate, Action, Armed, Class, Deadlines, Msg, TimerName, Timers};

/// The states of Figure 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A retransmission of the request matched this transaction.
    Request,
    /// The TU passes a response with this code down.
    Respond(u16),
    Timer(TimerName),
    /// Sending a response failed.
    TransportError,
}

#[derive(Clone, Debug)]
pub struct ServerNonInvite {
    pub(super) state: State,
    pub(super) reliable: bool,
    pub(super) timers: Timers,
    /// Last response sent (0: none yet).
    pub(super) last: u16,
    pub(super) armed: Armed,
}

impl ServerNonInvite {
    /// A request matched no transaction at `now`: pass it up.
    pub fn start(_now: u64, reliable: bool, timers: &Timers, out: &mut Vec<Action>) -> Self {
        out.push(Action::Deliver(Msg::Request));
        ServerNonInvite { state: State::Trying, reliable, timers: *timers, last: 0, armed: Armed::NONE }
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
            (Proceeding | Completed, Event::Request) => {
                out.push(Action::Resend(Msg::Response(self.last)));
            }
            (Trying | Proceeding, Event::Respond(code)) => match class(code) {
                Some(Class::Provisional) => {
                    self.last = code;
                    out.push(Action::Send(Msg::Response(code)));
                    self.state = Proceeding;
                }
                Some(Class::Success | Class::Failure) => {
                    self.last = code;
                    out.push(Action::Send(Msg::Response(code)));
                    self.state = Completed;
                    let j = self.timers.j(self.reliable);
                    if j == 0 {
                        self.finish(out);
                    } else {
                        self.armed.set(TimerName::J, now + j, out);
                    }
                }
                None => {}
            },
            (Proceeding | Completed, Event::TransportError) => {
                out.push(Action::TransportError);
                self.finish(out);
            }
            (Completed, Event::Timer(TimerName::J)) if self.armed.fire(TimerName::J, now) => {
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

    fn started(reliable: bool) -> (ServerNonInvite, Vec<Action>) {
        let mut out = Vec::new();
        let tx = ServerNonInvite::start(0, reliable, &Timers::default(), &mut out);
        (tx, out)
    }

    #[test]
    fn start_delivers_without_100() {
        let (tx, out) = started(false);
        assert_eq!(tx.state(), State::Trying);
        assert_eq!(out, vec![Action::Deliver(Msg::Request)]);
    }

    #[test]
    fn trying_absorbs_retransmits() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(100, Event::Request, &mut out);
        tx.on(100, Event::TransportError, &mut out);
        tx.on(100, Event::Timer(TimerName::J), &mut out);
        assert!(out.is_empty());
        assert_eq!(tx.state(), State::Trying);
    }

    #[test]
    fn proceeding_resends_last_provisional() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(100, Event::Respond(100), &mut out);
        assert_eq!(out, vec![Action::Send(Msg::Response(100))]);
        assert_eq!(tx.state(), State::Proceeding);
        out.clear();
        tx.on(200, Event::Request, &mut out);
        assert_eq!(out, vec![Action::Resend(Msg::Response(100))]);
        out.clear();
        tx.on(300, Event::Respond(183), &mut out);
        tx.on(400, Event::Request, &mut out);
        assert_eq!(out, vec![Action::Send(Msg::Response(183)), Action::Resend(Msg::Response(183))]);
    }

    #[test]
    fn final_then_j_absorbs_with_final() {
        for pre in [None, Some(100)] {
            let (mut tx, _) = started(false);
            let mut out = Vec::new();
            if let Some(p) = pre {
                tx.on(10, Event::Respond(p), &mut out);
            }
            out.clear();
            tx.on(1_000, Event::Respond(200), &mut out);
            assert_eq!(tx.state(), State::Completed);
            assert!(has(&out, Action::Send(Msg::Response(200))));
            assert_eq!(set_at(&out, TimerName::J), Some(33_000));
            out.clear();
            tx.on(2_000, Event::Request, &mut out);
            assert_eq!(out, vec![Action::Resend(Msg::Response(200))]);
            out.clear();
            tx.on(2_000, Event::Respond(500), &mut out);
            tx.on(2_000, Event::Respond(180), &mut out);
            assert!(out.is_empty(), "TU responses after the final are discarded");
            tx.on(32_999, Event::Timer(TimerName::J), &mut out);
            assert!(out.is_empty());
            tx.on(33_000, Event::Timer(TimerName::J), &mut out);
            assert_eq!(out, vec![Action::Terminated]);
            assert!(tx.is_terminated());
        }
    }

    #[test]
    fn reliable_j_zero() {
        let (mut tx, _) = started(true);
        let mut out = Vec::new();
        tx.on(1_000, Event::Respond(404), &mut out);
        assert_eq!(out, vec![Action::Send(Msg::Response(404)), Action::Terminated]);
        assert!(tx.is_terminated());
    }

    #[test]
    fn transport_errors() {
        let (mut tx, _) = started(false);
        let mut out = Vec::new();
        tx.on(1, Event::Respond(100), &mut out);
        out.clear();
        tx.on(2, Event::TransportError, &mut out);
        assert_eq!(out, vec![Action::TransportError, Action::Terminated]);

        let (mut tx, _) = started(false);
        tx.on(1, Event::Respond(403), &mut out);
        out.clear();
        tx.on(2, Event::TransportError, &mut out);
        assert_eq!(out, vec![Action::TransportError, Action::CancelTimer(TimerName::J), Action::Terminated]);
    }
}
