//! One type per side: `ServerTx` is a server INVITE or non-INVITE machine,
//! `ClientTx` a client one, so the proxy's transaction table holds one kind
//! of entry per side and speaks to it in proxy terms (a retransmission came,
//! the TU answers, a response arrived, a timer fired) without matching on
//! the method everywhere.

use super::{client_invite as ci, client_non_invite as cn, server_invite as si, server_non_invite as sn};
use super::{Action, ClientInvite, ClientNonInvite, Deadlines, ServerInvite, ServerNonInvite, TimerName, Timers};

#[derive(Clone, Debug)]
pub enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

impl ServerTx {
    /// A new request matched nothing: the machine of its kind (INVITE sends 100).
    pub fn start(invite: bool, now: u64, reliable: bool, timers: &Timers, out: &mut Vec<Action>) -> ServerTx {
        if invite {
            ServerTx::Invite(ServerInvite::start(now, reliable, timers, out))
        } else {
            ServerTx::NonInvite(ServerNonInvite::start(now, reliable, timers, out))
        }
    }

    /// The request came again.
    pub fn retransmission(&mut self, now: u64, out: &mut Vec<Action>) {
        match self {
            ServerTx::Invite(t) => t.on(now, si::Event::Invite, out),
            ServerTx::NonInvite(t) => t.on(now, sn::Event::Request, out),
        }
    }

    /// The TU (the proxy) answers with `code`.
    pub fn respond(&mut self, now: u64, code: u16, out: &mut Vec<Action>) {
        match self {
            ServerTx::Invite(t) => t.on(now, si::Event::Respond(code), out),
            ServerTx::NonInvite(t) => t.on(now, sn::Event::Respond(code), out),
        }
    }

    /// An ACK matched (INVITE only; ignored otherwise).
    pub fn ack(&mut self, now: u64, out: &mut Vec<Action>) {
        if let ServerTx::Invite(t) = self {
            t.on(now, si::Event::Ack, out)
        }
    }

    pub fn timer(&mut self, now: u64, name: TimerName, out: &mut Vec<Action>) {
        match self {
            ServerTx::Invite(t) => t.on(now, si::Event::Timer(name), out),
            ServerTx::NonInvite(t) => t.on(now, sn::Event::Timer(name), out),
        }
    }

    /// Every timer armed and its deadline (ms): what the caller's timer
    /// store must wake the machine for.
    pub fn deadlines(&self) -> Deadlines {
        match self {
            ServerTx::Invite(t) => t.deadlines(),
            ServerTx::NonInvite(t) => t.deadlines(),
        }
    }

    /// An INVITE transaction that sent a 3xx–6xx: an ACK for it is hop by hop.
    pub fn absorbs_ack(&self) -> bool {
        matches!(self, ServerTx::Invite(t) if matches!(t.state(), si::State::Completed | si::State::Confirmed))
    }

    /// A final response has been sent.
    pub fn is_final(&self) -> bool {
        match self {
            ServerTx::Invite(t) => t.state() != si::State::Proceeding,
            ServerTx::NonInvite(t) => matches!(t.state(), sn::State::Completed | sn::State::Terminated),
        }
    }

    pub fn is_terminated(&self) -> bool {
        match self {
            ServerTx::Invite(t) => t.is_terminated(),
            ServerTx::NonInvite(t) => t.is_terminated(),
        }
    }

    /// The figure's state, for logs and traces.
    pub fn state_name(&self) -> &'static str {
        match self {
            ServerTx::Invite(t) => name(format!("{:?}", t.state())),
            ServerTx::NonInvite(t) => name(format!("{:?}", t.state())),
        }
    }
}

#[derive(Clone, Debug)]
pub enum ClientTx {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

impl ClientTx {
    /// Hands a request to a new client transaction: it is sent.
    pub fn start(invite: bool, now: u64, reliable: bool, timers: &Timers, out: &mut Vec<Action>) -> ClientTx {
        if invite {
            ClientTx::Invite(ClientInvite::start(now, reliable, timers, out))
        } else {
            ClientTx::NonInvite(ClientNonInvite::start(now, reliable, timers, out))
        }
    }

    pub fn response(&mut self, now: u64, code: u16, out: &mut Vec<Action>) {
        match self {
            ClientTx::Invite(t) => t.on(now, ci::Event::Response(code), out),
            ClientTx::NonInvite(t) => t.on(now, cn::Event::Response(code), out),
        }
    }

    pub fn timer(&mut self, now: u64, name: TimerName, out: &mut Vec<Action>) {
        match self {
            ClientTx::Invite(t) => t.on(now, ci::Event::Timer(name), out),
            ClientTx::NonInvite(t) => t.on(now, cn::Event::Timer(name), out),
        }
    }

    /// Every timer armed and its deadline (ms).
    pub fn deadlines(&self) -> Deadlines {
        match self {
            ClientTx::Invite(t) => t.deadlines(),
            ClientTx::NonInvite(t) => t.deadlines(),
        }
    }

    pub fn transport_error(&mut self, now: u64, out: &mut Vec<Action>) {
        match self {
            ClientTx::Invite(t) => t.on(now, ci::Event::TransportError, out),
            ClientTx::NonInvite(t) => t.on(now, cn::Event::TransportError, out),
        }
    }

    /// Still sends its request (Calling, Trying, a non-INVITE's
    /// Proceeding: Timers A and E): it needs the request's bytes.
    pub fn sends_request(&self) -> bool {
        match self {
            ClientTx::Invite(t) => t.state() == ci::State::Calling,
            ClientTx::NonInvite(t) => matches!(t.state(), cn::State::Trying | cn::State::Proceeding),
        }
    }

    pub fn is_terminated(&self) -> bool {
        match self {
            ClientTx::Invite(t) => t.is_terminated(),
            ClientTx::NonInvite(t) => t.is_terminated(),
        }
    }

    /// The figure's state, for logs and traces.
    pub fn state_name(&self) -> &'static str {
        match self {
            ClientTx::Invite(t) => name(format!("{:?}", t.state())),
            ClientTx::NonInvite(t) => name(format!("{:?}", t.state())),
        }
    }
}

/// Every state name of the four figures, so a name outlives its formatting.
const STATE_NAMES: [&str; 7] = ["Calling", "Trying", "Proceeding", "Completed", "Confirmed", "Accepted", "Terminated"];

fn name(debug: String) -> &'static str {
    STATE_NAMES.iter().find(|n| **n == debug).copied().unwrap_or("?")
}
