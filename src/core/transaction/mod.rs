//! SIP transactions (RFC 3261 §17, updated by RFC 6026), sans-IO.
//!
//! Owns: the four transaction state machines (one enum per figure of §17:
//! [`ClientInvite`] = Figure 5, [`ClientNonInvite`] = Figure 6,
//! [`ServerInvite`] = Figure 7, [`ServerNonInvite`] = Figure 8), the timer
//! durations of Table 4 ([`Timers`]) and the matching keys of §17.1.3 and
//! §17.2.3 ([`ClientKey`], [`ServerKey`]). It does not own messages, sockets,
//! the clock or the timer store: a machine is told *what happened* (an
//! `Event`) and *when* (`now`, milliseconds on any monotonic scale the caller
//! picks), and appends what to do to a caller-owned `Vec<Action>`.
//!
//! Shape shared by all four machines:
//!
//! * `start(now, reliable, &timers, &mut out)` builds the machine in the
//!   figure's first state and emits the entry actions (client: the TU hands
//!   the request over, it is sent; server: the request arrived and matched no
//!   transaction, it is passed up). So each `State` enum is exactly the
//!   figure's states, with no "not started yet" variant.
//! * `on(now, event, &mut out)` runs one transition. It never allocates
//!   beyond pushing to `out`, and never panics: an event that the current
//!   state does not expect is ignored (absorbed), as the figures do.
//! * `state()` is the figure's state, `is_terminated()` the usual question.
//!
//! Timers: the machine says `SetTimer { timer, at }` / `CancelTimer(timer)`
//! and the shard delivers `Event::Timer(timer)` when `at` is reached. The
//! machine remembers every deadline it set and ignores a timer event that is
//! not armed or not yet due, so a timer store with lazy cancellation (like
//! `core::timer::Wheel`) is safe to use: a stale firing does nothing. On
//! entering `Terminated` the machine cancels whatever it still had armed, then
//! says `Terminated`. A caller may also skip the actions and read what is
//! armed with `deadlines()`: the proxy does, keeping one entry per
//! transaction, at its earliest deadline, in a wheel of 10 ms slots
//! (`core::proxy::wake`), rounded up so none fires early. The durations are
//! milliseconds (T1 = 500 ms).
//!
//! A zero duration (Timers D, I, J, K on a reliable transport, Table 4) is not
//! scheduled: the machine takes the "timer fires" arc at once, in the same
//! `on` call, which is what a zero timer means and saves a trip through the
//! timer store.
//!
//! Messages are not stored here: `Action::Send(Msg::Response(code))` means
//! "send the response with this code that the TU just gave you" and
//! `Action::Resend(..)` means "send again the bytes you sent last time for
//! this message" (the shard keeps the last request/ACK/response bytes per
//! transaction). `Send` vs `Resend` lets the shard count retransmissions.
//!
//! Response codes outside 100..=699 are ignored by every machine (the parser
//! rejects them before they get here).

pub mod client_invite;
pub mod client_non_invite;
pub mod either;
pub mod key;
mod packed;
pub mod server_invite;
pub mod server_non_invite;
pub mod timers;

pub use client_invite::{ClientInvite, Event as ClientInviteEvent, State as ClientInviteState};
pub use client_non_invite::{ClientNonInvite, Event as ClientNonInviteEvent, State as ClientNonInviteState};
pub use either::{ClientTx, ServerTx};
pub use key::{ClientKey, KeyError, KeyMethod, ServerKey, MAGIC_COOKIE};
pub use server_invite::{Event as ServerInviteEvent, ServerInvite, State as ServerInviteState};
pub use server_non_invite::{Event as ServerNonInviteEvent, ServerNonInvite, State as ServerNonInviteState};
pub use timers::{TimerName, Timers};

/// Which message an action is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// The request that created the transaction.
    Request,
    /// The ACK a client INVITE transaction builds for a 3xx–6xx (§17.1.1.3),
    /// or, on the server side, an ACK received (passed up in Accepted).
    Ack,
    /// A response with this status code.
    Response(u16),
}

/// An effect for the caller (shard / TU) to perform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// First transmission of a message.
    Send(Msg),
    /// Retransmission: send the same bytes as last time for that message.
    Resend(Msg),
    /// Pass up to the TU: a response (client side), the request or an ACK
    /// (server side).
    Deliver(Msg),
    /// Arm `timer` to fire at `at` (ms); re-arming replaces the deadline.
    SetTimer { timer: TimerName, at: u64 },
    /// Disarm `timer` (optional for a lazily cancelling store).
    CancelTimer(TimerName),
    /// Tell the TU the transaction timed out: Timer B/F (client; the TU
    /// acts as if a 408 arrived, §8.1.3.1) or Timer H (server: no ACK).
    Timeout,
    /// Tell the TU of a transport failure (§17.1.4, §17.2.4).
    TransportError,
    /// The transaction is over: drop it and its key.
    Terminated,
}

/// Response class helpers (codes outside 100..=699 are `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Provisional,
    Success,
    Failure,
}

pub(crate) fn class(code: u16) -> Option<Class> {
    match code {
        100..=199 => Some(Class::Provisional),
        200..=299 => Some(Class::Success),
        300..=699 => Some(Class::Failure),
        _ => None,
    }
}

/// The deadlines a machine has armed, one slot per timer name. Stored as
/// `u32` offsets (+1; 0 = unarmed) from a base picked at the first `set`,
/// half the u32 range before it, so each deadline may lie ±24 days around
/// the first one: a machine carries 56 bytes of deadlines, not 192
/// (a proxy keeps hundreds of thousands of lingering transactions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Armed {
    base: u64,
    at: [u32; TimerName::COUNT],
}

const NO_BASE: u64 = u64::MAX;

impl Armed {
    pub(crate) const NONE: Armed = Armed { base: NO_BASE, at: [0; TimerName::COUNT] };

    pub(crate) fn set(&mut self, timer: TimerName, at: u64, out: &mut Vec<Action>) {
        self.arm(timer, at);
        out.push(Action::SetTimer { timer, at });
    }

    /// Arms `timer` at `at` without saying so (a packed machine coming back).
    pub(crate) fn arm(&mut self, timer: TimerName, at: u64) {
        if self.base == NO_BASE {
            self.base = at.saturating_sub(u64::from(u32::MAX / 2));
        }
        let off = at.saturating_sub(self.base).min(u64::from(u32::MAX - 1)) as u32;
        self.at[timer as usize] = off + 1;
    }

    pub(crate) fn cancel(&mut self, timer: TimerName, out: &mut Vec<Action>) {
        if std::mem::take(&mut self.at[timer as usize]) != 0 {
            out.push(Action::CancelTimer(timer));
        }
    }

    pub(crate) fn cancel_all(&mut self, out: &mut Vec<Action>) {
        for t in TimerName::ALL {
            self.cancel(t, out);
        }
    }

    /// Every armed timer and its deadline, in `TimerName` order.
    pub(crate) fn deadlines(&self) -> Deadlines {
        Deadlines { armed: *self, next: 0 }
    }

    /// True (and disarms it) when `timer` is armed and due at `now`.
    pub(crate) fn fire(&mut self, timer: TimerName, now: u64) -> bool {
        match self.at[timer as usize] {
            0 => false,
            off if self.base + u64::from(off - 1) <= now => {
                self.at[timer as usize] = 0;
                true
            }
            _ => false,
        }
    }
}

/// The timers a machine has armed and their deadlines (ms), in
/// `TimerName` order: what a timer store keyed by transaction (the proxy's
/// wheel holds one entry per transaction, at its earliest deadline) wakes
/// the machine for. A copy: it borrows nothing and allocates nothing.
#[derive(Clone, Debug)]
pub struct Deadlines {
    armed: Armed,
    next: usize,
}

impl Iterator for Deadlines {
    type Item = (TimerName, u64);

    fn next(&mut self) -> Option<(TimerName, u64)> {
        while self.next < TimerName::COUNT {
            let i = self.next;
            self.next += 1;
            if let off @ 1.. = self.armed.at[i] {
                return Some((TimerName::ALL[i], self.armed.base + u64::from(off - 1)));
            }
        }
        None
    }
}

/// Ends a transaction: cancel what is armed, say `Terminated`.
pub(crate) fn terminate(armed: &mut Armed, out: &mut Vec<Action>) {
    armed.cancel_all(out);
    out.push(Action::Terminated);
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// Deadline of the last `SetTimer` for `timer` in `out`.
    pub fn set_at(out: &[Action], timer: TimerName) -> Option<u64> {
        out.iter().rev().find_map(|a| match *a {
            Action::SetTimer { timer: t, at } if t == timer => Some(at),
            _ => None,
        })
    }

    pub fn has(out: &[Action], a: Action) -> bool {
        out.contains(&a)
    }

    pub fn count(out: &[Action], a: Action) -> usize {
        out.iter().filter(|x| **x == a).count()
    }

    pub fn no_sends(out: &[Action]) -> bool {
        !out.iter().any(|a| matches!(a, Action::Send(_) | Action::Resend(_)))
    }
}
#[cfg(test)]
mod sim_tests;
