//! A machine in a few bytes: what a transaction that only lingers (its
//! final answer sent, `core::proxy::lingering`) keeps of its machines. The
//! figure's state, the transport (reliable or not), the last response
//! (server side), the current retransmission interval and every armed
//! deadline; not its `Timers` (24 bytes a machine), which the caller gives
//! back when unpacking (the proxy's, from its settings). A server
//! non-INVITE machine in Completed packs into 11 bytes, against 96 in memory.
//!
//! An unpacked machine behaves as the one packed: same state, same last
//! response, same interval, same deadlines (the tests drive both with the
//! same events and compare what they do).
//!
//! First byte: bit 7 INVITE, bit 6 reliable, bits 0..6 the state's place in
//! its figure's list below. Then the last response (server), the interval
//! (all but the server non-INVITE machine), and the deadlines: how many,
//! then each timer's place in `TimerName::ALL` and its deadline (ms).

use super::{client_invite as ci, client_non_invite as cn, server_invite as si, server_non_invite as sn};
use super::{
    Armed, ClientInvite, ClientNonInvite, ClientTx, ServerInvite, ServerNonInvite, ServerTx, TimerName, Timers,
};
use crate::core::pack::{Reader, Writer};

const SERVER_INVITE: [si::State; 5] =
    [si::State::Proceeding, si::State::Completed, si::State::Confirmed, si::State::Accepted, si::State::Terminated];
const SERVER_NON_INVITE: [sn::State; 4] =
    [sn::State::Trying, sn::State::Proceeding, sn::State::Completed, sn::State::Terminated];
const CLIENT_INVITE: [ci::State; 5] =
    [ci::State::Calling, ci::State::Proceeding, ci::State::Completed, ci::State::Accepted, ci::State::Terminated];
const CLIENT_NON_INVITE: [cn::State; 4] =
    [cn::State::Trying, cn::State::Proceeding, cn::State::Completed, cn::State::Terminated];

const INVITE: u8 = 0x80;
const RELIABLE: u8 = 0x40;

fn head<S: PartialEq>(invite: bool, reliable: bool, states: &[S], state: &S) -> u8 {
    let place = states.iter().position(|s| s == state).unwrap_or(0) as u8;
    place | if invite { INVITE } else { 0 } | if reliable { RELIABLE } else { 0 }
}

/// (INVITE, reliable, place of the state).
fn split(b: u8) -> (bool, bool, usize) {
    (b & INVITE != 0, b & RELIABLE != 0, usize::from(b & 0x3f))
}

fn pack_armed(a: &Armed, w: &mut Writer) {
    w.u8(a.deadlines().count() as u8);
    for (t, at) in a.deadlines() {
        w.u8(t as u8);
        w.uint(at);
    }
}

fn unpack_armed(r: &mut Reader<'_>) -> Option<Armed> {
    let mut a = Armed::NONE;
    for _ in 0..r.u8()? {
        let t = *TimerName::ALL.get(usize::from(r.u8()?))?;
        a.arm(t, r.uint()?);
    }
    Some(a)
}

impl ServerTx {
    pub fn pack(&self, w: &mut Writer) {
        match self {
            ServerTx::Invite(t) => {
                w.u8(head(true, t.reliable, &SERVER_INVITE, &t.state));
                w.uint(u64::from(t.last));
                w.uint(t.g_interval);
                pack_armed(&t.armed, w);
            }
            ServerTx::NonInvite(t) => {
                w.u8(head(false, t.reliable, &SERVER_NON_INVITE, &t.state));
                w.uint(u64::from(t.last));
                pack_armed(&t.armed, w);
            }
        }
    }

    /// What [`ServerTx::pack`] wrote, with `timers` for its durations.
    pub fn unpack(r: &mut Reader<'_>, timers: &Timers) -> Option<ServerTx> {
        let (invite, reliable, place) = split(r.u8()?);
        let last = r.small()?;
        Some(if invite {
            let state = *SERVER_INVITE.get(place)?;
            let g_interval = r.uint()?;
            ServerTx::Invite(ServerInvite {
                state,
                reliable,
                timers: *timers,
                last,
                g_interval,
                armed: unpack_armed(r)?,
            })
        } else {
            let state = *SERVER_NON_INVITE.get(place)?;
            ServerTx::NonInvite(ServerNonInvite { state, reliable, timers: *timers, last, armed: unpack_armed(r)? })
        })
    }
}

impl ClientTx {
    pub fn pack(&self, w: &mut Writer) {
        match self {
            ClientTx::Invite(t) => {
                w.u8(head(true, t.reliable, &CLIENT_INVITE, &t.state));
                w.uint(t.a_interval);
                pack_armed(&t.armed, w);
            }
            ClientTx::NonInvite(t) => {
                w.u8(head(false, t.reliable, &CLIENT_NON_INVITE, &t.state));
                w.uint(t.e_interval);
                pack_armed(&t.armed, w);
            }
        }
    }

    /// What [`ClientTx::pack`] wrote, with `timers` for its durations.
    pub fn unpack(r: &mut Reader<'_>, timers: &Timers) -> Option<ClientTx> {
        let (invite, reliable, place) = split(r.u8()?);
        let interval = r.uint()?;
        Some(if invite {
            let state = *CLIENT_INVITE.get(place)?;
            ClientTx::Invite(ClientInvite {
                state,
                reliable,
                timers: *timers,
                a_interval: interval,
                armed: unpack_armed(r)?,
            })
        } else {
            let state = *CLIENT_NON_INVITE.get(place)?;
            ClientTx::NonInvite(ClientNonInvite {
                state,
                reliable,
                timers: *timers,
                e_interval: interval,
                armed: unpack_armed(r)?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Action;
    use super::*;

    fn timers() -> Timers {
        Timers::default()
    }

    /// One thing that can happen to a machine.
    type Event<T> = Box<dyn Fn(&mut T, &mut Vec<Action>)>;

    /// What the tests need of either side's machine.
    trait Machine: Clone + 'static {
        fn name(&self) -> &'static str;
        fn armed(&self) -> Vec<(TimerName, u64)>;
        fn pack_into(&self, w: &mut Writer);
        fn unpack_from(r: &mut Reader<'_>) -> Option<Self>;
        /// Every event but the timers, at `now`.
        fn events(now: u64) -> Vec<Event<Self>>;
        fn timer(&mut self, at: u64, name: TimerName, out: &mut Vec<Action>);
    }

    impl Machine for ServerTx {
        fn name(&self) -> &'static str {
            self.state_name()
        }
        fn armed(&self) -> Vec<(TimerName, u64)> {
            self.deadlines().collect()
        }
        fn pack_into(&self, w: &mut Writer) {
            self.pack(w)
        }
        fn unpack_from(r: &mut Reader<'_>) -> Option<Self> {
            ServerTx::unpack(r, &timers())
        }
        fn events(now: u64) -> Vec<Event<Self>> {
            vec![
                Box::new(move |t, o| t.retransmission(now, o)),
                Box::new(move |t, o| t.ack(now, o)),
                Box::new(move |t, o| t.respond(now, 200, o)),
                Box::new(move |t, o| t.respond(now, 486, o)),
            ]
        }
        fn timer(&mut self, at: u64, name: TimerName, out: &mut Vec<Action>) {
            ServerTx::timer(self, at, name, out)
        }
    }

    impl Machine for ClientTx {
        fn name(&self) -> &'static str {
            self.state_name()
        }
        fn armed(&self) -> Vec<(TimerName, u64)> {
            self.deadlines().collect()
        }
        fn pack_into(&self, w: &mut Writer) {
            self.pack(w)
        }
        fn unpack_from(r: &mut Reader<'_>) -> Option<Self> {
            ClientTx::unpack(r, &timers())
        }
        fn events(now: u64) -> Vec<Event<Self>> {
            vec![
                Box::new(move |t, o| t.response(now, 180, o)),
                Box::new(move |t, o| t.response(now, 200, o)),
                Box::new(move |t, o| t.response(now, 486, o)),
                Box::new(move |t, o| t.transport_error(now, o)),
            ]
        }
        fn timer(&mut self, at: u64, name: TimerName, out: &mut Vec<Action>) {
            ClientTx::timer(self, at, name, out)
        }
    }

    /// The machine packed and unpacked: same state and deadlines, and the
    /// same answer to every event, timers around its deadlines included.
    fn behave_alike<T: Machine>(tx: &T, now: u64) {
        let mut w = Writer::new();
        tx.pack_into(&mut w);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        let back = T::unpack_from(&mut r).expect("unpacks");
        assert!(r.is_empty(), "every byte read");
        assert_eq!((back.name(), back.armed()), (tx.name(), tx.armed()));
        let mut events = T::events(now);
        for name in TimerName::ALL {
            for at in [now, now + 500, now + 5_000, now + 40_000] {
                events.push(Box::new(move |t: &mut T, o: &mut Vec<Action>| t.timer(at, name, o)));
            }
        }
        for ev in events {
            let (mut a, mut b) = (tx.clone(), back.clone());
            let (mut oa, mut ob) = (Vec::new(), Vec::new());
            ev(&mut a, &mut oa);
            ev(&mut b, &mut ob);
            assert_eq!(oa, ob, "in {}", tx.name());
            assert_eq!((a.name(), a.armed()), (b.name(), b.armed()));
        }
    }

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn server_machines_come_back_in_every_state_and_behave_alike() {
        let mut out = Vec::new();
        for reliable in [false, true] {
            for invite in [true, false] {
                let fresh = ServerTx::start(invite, T0, reliable, &timers(), &mut out);
                behave_alike(&fresh, T0 + 10);
                for code in [180, 200, 404] {
                    let mut t = fresh.clone();
                    t.respond(T0 + 100, code, &mut out);
                    behave_alike(&t, T0 + 200);
                    // Completed, then Confirmed by the ACK; a G already fired.
                    t.timer(T0 + 600, TimerName::G, &mut out);
                    behave_alike(&t, T0 + 700);
                    t.ack(T0 + 800, &mut out);
                    behave_alike(&t, T0 + 900);
                }
            }
        }
    }

    #[test]
    fn client_machines_come_back_in_every_state_and_behave_alike() {
        let mut out = Vec::new();
        for reliable in [false, true] {
            for invite in [true, false] {
                let fresh = ClientTx::start(invite, T0, reliable, &timers(), &mut out);
                behave_alike(&fresh, T0 + 10);
                let mut t = fresh.clone();
                t.timer(T0 + 500, TimerName::A, &mut out);
                t.timer(T0 + 500, TimerName::E, &mut out);
                behave_alike(&t, T0 + 600);
                for code in [183, 200, 486] {
                    let mut t = fresh.clone();
                    t.response(T0 + 100, code, &mut out);
                    behave_alike(&t, T0 + 200);
                }
            }
        }
    }

    #[test]
    fn a_completed_non_invite_server_machine_packs_into_a_few_bytes() {
        let mut out = Vec::new();
        let mut t = ServerTx::start(false, T0, false, &timers(), &mut out);
        t.respond(T0, 200, &mut out);
        let mut w = Writer::new();
        t.pack(&mut w);
        assert_eq!(w.len(), 11, "head, last (2), one deadline (1 + 6), count");
        assert!(ServerTx::unpack(&mut Reader::new(&[0x3f, 0, 0]), &timers()).is_none(), "no such state");
    }
}
