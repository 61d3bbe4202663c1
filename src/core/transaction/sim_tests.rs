//! Simulation tests of the transaction machines (RFC 3261 §17, RFC 6026).
//!
//! Owns: a small deterministic simulator that runs one client transaction
//! against one server transaction — the INVITE pair or the non-INVITE pair,
//! through the proxy's own [`ClientTx`] / [`ServerTx`] wrappers — over a virtual clock,
//! a timer store and a seeded network that loses, duplicates, delays and so
//! reorders messages; toy TUs on both ends; the end-to-end properties checked
//! after every run; and a few scripted scenarios asserting exact times. It
//! owns no transaction logic: the machines are driven only through their
//! `start` / `on` and observed through their actions and `state()`.
//!
//! The model:
//!
//! * Network: every transmission (the machines' `Send` / `Resend`, and the
//!   client TU's end-to-end ACK for a 2xx) is handed to a [`World`], which
//!   says how many copies get through and after what delay. The random world
//!   loses each copy with probability `loss`, duplicates with probability
//!   `dup`, and delays each copy uniformly in `[d_min, d_max]`, so copies
//!   overtake each other. A reliable transport never loses or duplicates and
//!   delivers in order per direction.
//! * Timer store: `SetTimer` schedules an entry, `CancelTimer` is honoured
//!   either eagerly (the entry is dropped) or lazily (it still fires, stale),
//!   and a lazy run also fires bogus timers at random instants. Every seed
//!   runs both ways and the two action traces must be identical: the
//!   machines ignore timers that are not armed or not due.
//! * Server TU: takes the request when it is passed up and, after random
//!   think times, answers: INVITE with 180 then the scenario's final;
//!   non-INVITE with an optional 100 then the final. For a 2xx to an INVITE
//!   it retransmits the 2xx itself (§13.3.1.4: T1 doubling to T2, until the
//!   ACK is passed up or 64·T1 passed), through the machine (Accepted sends
//!   each 2xx the TU gives it).
//! * Client TU: records what is passed up; ACKs each 2xx end to end (that
//!   ACK reaches the server machine, which passes it up in Accepted). The ACK
//!   for a 3xx–6xx is the client INVITE machine's own `Send(Ack)`.
//!
//! Assumptions the properties rely on, asserted where the worlds are built:
//! the delay spread `d_max - d_min` is under T1 and a round trip `2·d_max`
//! is under T4, the network's "maximum lifetime" of Table 4. Under them no
//! hop-by-hop retransmission outlives the timer that exists to absorb it (J,
//! D, K, I), so a request, a non-2xx response or its ACK reaching a
//! terminated transaction is a finding — except after a timeout (B/F
//! client, H server), where the peer may still be retransmitting by design.
//! A 2xx to an INVITE and its ACK are end to end and may outlive L / M (the
//! core handles them, RFC 6026), so they are exempt.

use super::{Action, ClientTx, Msg, ServerTx, TimerName, Timers};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Seeds per (scenario, network) pair; `SIM_SEEDS=n` runs more.
fn seeds() -> u64 {
    std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(500)
}
/// No run may take more steps than this (a loop would).
const STEP_CAP: u32 = 20_000;
/// Longest total think time of the random server TU (see `RandomWorld::answers`).
const THINK_MAX: u64 = 5_000;

// ------------------------------------------------------------------ PRNG

/// splitmix64: tiny, seedable, plenty for picking losses and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

// ------------------------------------------------------------------ worlds

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

impl Side {
    fn i(self) -> usize {
        self as usize
    }
    fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Side::Client => "C",
            Side::Server => "S",
        }
    }
}

/// What the simulator asks of its surroundings: the network's verdict on
/// each transmission and the server TU's answers.
trait World {
    /// The `nth` (from 1) transmission of `msg` by `from`: push one delay per
    /// copy that gets through (none: lost).
    fn fate(&mut self, from: Side, msg: Msg, nth: u32, delays: &mut Vec<u64>);
    /// The request reached the server TU: push its answers as (think time
    /// since the previous answer, code).
    fn answers(&mut self, invite: bool, plan: &mut Vec<(u64, u16)>);
}

#[derive(Clone, Copy, Debug)]
struct Net {
    loss: f64,
    dup: f64,
    d_min: u64,
    d_max: u64,
}

/// Seeded random network and TU.
struct RandomWorld {
    rng: Rng,
    net: Net,
    final_code: u16,
}

impl RandomWorld {
    /// Think time before the final: a quarter of the time within a delay
    /// spread of the provisional, so the two often cross in the network.
    fn think(&mut self, max: u64) -> u64 {
        let max = if self.rng.chance(0.25) { 150 } else { max };
        self.rng.between(1, max)
    }
}

impl World for RandomWorld {
    fn fate(&mut self, _from: Side, _msg: Msg, _nth: u32, delays: &mut Vec<u64>) {
        let copies = if self.rng.chance(self.net.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if !self.rng.chance(self.net.loss) {
                delays.push(self.rng.between(self.net.d_min, self.net.d_max));
            }
        }
    }

    /// Think times total at most `THINK_MAX`.
    fn answers(&mut self, invite: bool, plan: &mut Vec<(u64, u16)>) {
        if invite {
            plan.push((self.rng.between(1, 1_000), 180));
            plan.push((self.think(4_000), self.final_code));
        } else {
            if self.rng.chance(0.5) {
                plan.push((self.rng.between(1, 1_000), 100));
            }
            plan.push((self.think(3_000), self.final_code));
        }
    }
}

/// A fixed script: every copy takes `delay` unless a rule for that
/// (sender, message, nth transmission) says otherwise (no delays: lost).
struct Script {
    delay: u64,
    rules: &'static [(Side, Msg, u32, &'static [u64])],
    answers: &'static [(u64, u16)],
}

impl World for Script {
    fn fate(&mut self, from: Side, msg: Msg, nth: u32, delays: &mut Vec<u64>) {
        match self.rules.iter().find(|r| (r.0, r.1, r.2) == (from, msg, nth)) {
            Some(rule) => delays.extend_from_slice(rule.3),
            None => delays.push(self.delay),
        }
    }
    fn answers(&mut self, _invite: bool, plan: &mut Vec<(u64, u16)>) {
        plan.extend_from_slice(self.answers);
    }
}

// ------------------------------------------------------------------ simulator

#[derive(Clone, Copy, Debug)]
struct Opts {
    /// The INVITE pair (ACKs, 2xx handled end to end) or the non-INVITE pair.
    invite: bool,
    reliable: bool,
    timers: Timers,
    /// Timer store honours `CancelTimer` / re-arming lazily: stale entries fire.
    lazy: bool,
    /// Bogus timer firings at random instants in `1..=horizon` (lazy runs).
    spurious: u32,
    horizon: u64,
    seed: u64,
    /// Keep a readable log (for failure reports and scripted tests).
    verbose: bool,
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    /// A copy of a message reaches this side.
    Arrive(Side, Msg),
    /// A timer store entry is due.
    Timer(Side, TimerName),
    /// The server TU hands this response to its transaction.
    Answer(u16),
    /// The server TU's own 2xx retransmission (§13.3.1.4).
    Retransmit2xx { code: u16, interval: u64, until: u64 },
    /// A timer firing no store entry asked for.
    Spurious(Side, TimerName),
}

impl Ev {
    /// Order within one instant: messages and TU first, then timers, bogus
    /// firings last (so a bogus firing never pre-empts a due timer).
    fn prio(&self) -> u8 {
        match self {
            Ev::Spurious(..) => 2,
            Ev::Timer(..) => 1,
            _ => 0,
        }
    }
}

/// Everything a run did, for the property checks.
#[derive(Default)]
struct Outcome {
    /// Every machine action: (time, side, action).
    trace: Vec<(u64, Side, Action)>,
    /// Each state a machine was seen in after a call: (time, side, state).
    states: Vec<(u64, Side, &'static str)>,
    /// Each copy that reached a side, with the receiver's state before it
    /// ("-": no server transaction yet).
    arrivals: Vec<(u64, Side, Msg, &'static str)>,
    /// What the client TU was passed: (time, code).
    client_tu: Vec<(u64, u16)>,
    /// When the server TU was passed the request / an ACK.
    server_tu_requests: Vec<u64>,
    server_tu_acks: Vec<u64>,
    /// End-to-end ACKs the client TU sent for 2xx responses.
    tu_acks_sent: u32,
    server_created: bool,
    /// Stale store entries / bogus firings delivered (lazy runs).
    stale_timers: u32,
    spurious_timers: u32,
    steps: u32,
    violations: Vec<String>,
    log: Vec<String>,
}

impl Outcome {
    fn acts(&self, side: Side) -> impl Iterator<Item = (u64, Action)> + '_ {
        self.trace.iter().filter(move |e| e.1 == side).map(|e| (e.0, e.2))
    }
    fn count(&self, side: Side, a: Action) -> usize {
        self.acts(side).filter(|e| e.1 == a).count()
    }
    fn first(&self, side: Side, a: Action) -> Option<u64> {
        self.acts(side).find(|e| e.1 == a).map(|e| e.0)
    }
    fn times(&self, side: Side, a: Action) -> Vec<u64> {
        self.acts(side).filter(|e| e.1 == a).map(|e| e.0).collect()
    }
    fn last_state(&self, side: Side) -> &'static str {
        self.states.iter().rev().find(|s| s.1 == side).map_or("-", |s| s.2)
    }
    fn state_path(&self, side: Side) -> Vec<(u64, &'static str)> {
        self.states.iter().filter(|s| s.1 == side).map(|s| (s.0, s.2)).collect()
    }
    /// Copies that reached `side` matching `msg` while it was in one of `states`.
    fn arrived(&self, side: Side, msg: impl Fn(Msg) -> bool, states: &[&str]) -> usize {
        self.arrivals.iter().filter(|a| a.1 == side && msg(a.2) && states.contains(&a.3)).count()
    }
}

struct Sim<'w> {
    opts: Opts,
    world: &'w mut dyn World,
    now: u64,
    seq: u64,
    /// Pending events: (at, prio, seq, event); tiny, so a linear min-scan.
    queue: Vec<(u64, u8, u64, Ev)>,
    /// The live (deadline, seq) of each armed timer, per side; a store entry
    /// that is not the live one was cancelled or re-armed (stale).
    armed: [[Option<(u64, u64)>; TimerName::COUNT]; 2],
    client: ClientTx,
    server: Option<ServerTx>,
    /// Transmissions so far per (sender, message), for `World::fate`'s `nth`.
    sent: Vec<((Side, Msg), u32)>,
    /// Latest arrival scheduled per destination (in-order reliable transport).
    last_arrival: [u64; 2],
    last_state: [&'static str; 2],
    dead: [bool; 2],
    /// The server TU got the ACK for its 2xx: stop retransmitting it.
    tu_got_ack: bool,
    out: Vec<Action>,
    delays: Vec<u64>,
    o: Outcome,
}

/// Runs one client/server pair until nothing is left to happen.
fn simulate(opts: Opts, world: &mut dyn World) -> Outcome {
    let mut out = Vec::new();
    let client = ClientTx::start(opts.invite, 0, opts.reliable, &opts.timers, &mut out);
    let mut sim = Sim {
        opts,
        world,
        now: 0,
        seq: 0,
        queue: Vec::new(),
        armed: [[None; TimerName::COUNT]; 2],
        client,
        server: None,
        sent: Vec::new(),
        last_arrival: [0; 2],
        last_state: ["-"; 2],
        dead: [false; 2],
        tu_got_ack: false,
        out: Vec::new(),
        delays: Vec::new(),
        o: Outcome::default(),
    };
    if opts.spurious > 0 {
        let mut rng = Rng(opts.seed ^ 0x05EE_D0F5_7A1E);
        for _ in 0..opts.spurious {
            let at = rng.between(1, opts.horizon);
            let side = if rng.chance(0.5) { Side::Client } else { Side::Server };
            let name = TimerName::ALL[(rng.next() % TimerName::COUNT as u64) as usize];
            sim.push(at, Ev::Spurious(side, name));
        }
    }
    sim.note(|| "C  TU hands the request to a new client transaction".into());
    sim.settle(Side::Client, &mut out);
    sim.run();
    sim.o
}

impl Sim<'_> {
    fn note(&mut self, line: impl FnOnce() -> String) {
        if self.opts.verbose {
            let line = format!("{:>7}  {}", self.now, line());
            self.o.log.push(line);
        }
    }

    fn violate(&mut self, what: String) {
        let what = format!("t={}: {what}", self.now);
        self.note(|| format!("VIOLATION {what}"));
        self.o.violations.push(what);
    }

    fn push(&mut self, at: u64, ev: Ev) -> u64 {
        self.seq += 1;
        self.queue.push((at, ev.prio(), self.seq, ev));
        self.seq
    }

    fn pop(&mut self) -> Option<(u64, u64, Ev)> {
        let i = (0..self.queue.len()).min_by_key(|&i| {
            let (at, prio, seq, _) = self.queue[i];
            (at, prio, seq)
        })?;
        let (at, _, seq, ev) = self.queue.swap_remove(i);
        Some((at, seq, ev))
    }

    fn run(&mut self) {
        while let Some((at, seq, ev)) = self.pop() {
            self.o.steps += 1;
            if self.o.steps > STEP_CAP {
                self.violate(format!("more than {STEP_CAP} steps: a loop?"));
                return;
            }
            self.now = at;
            self.step(at, seq, ev);
        }
    }

    fn step(&mut self, at: u64, seq: u64, ev: Ev) {
        match ev {
            Ev::Arrive(to, msg) => self.arrive(to, msg),
            Ev::Timer(side, name) => {
                let slot = &mut self.armed[side.i()][name as usize];
                let live = *slot == Some((at, seq));
                if live {
                    *slot = None;
                } else if self.opts.lazy {
                    self.o.stale_timers += 1;
                } else {
                    return; // an eager store dropped this entry
                }
                self.note(|| format!("{}  timer {name:?}{}", side.tag(), if live { "" } else { " (stale)" }));
                self.fire(side, name);
            }
            Ev::Spurious(side, name) => {
                if side == Side::Server && self.server.is_none() {
                    return;
                }
                self.o.spurious_timers += 1;
                self.note(|| format!("{}  timer {name:?} (bogus)", side.tag()));
                let before = self.o.trace.len();
                self.fire(side, name);
                if self.o.trace.len() != before {
                    let acts = self.o.trace[before..].to_vec();
                    self.violate(format!("bogus {side:?} timer {name:?} was acted on: {acts:?}"));
                }
            }
            Ev::Answer(code) => {
                self.note(|| format!("S  TU answers {code}"));
                self.server_call(|s, now, out| s.respond(now, code, out));
                if self.opts.invite && (200..300).contains(&code) {
                    let t = self.opts.timers;
                    let (interval, until) = (t.t1, self.now + t.t1x64());
                    self.push(self.now + interval, Ev::Retransmit2xx { code, interval, until });
                }
            }
            Ev::Retransmit2xx { code, interval, until } => {
                if self.tu_got_ack || self.now >= until {
                    return;
                }
                self.note(|| format!("S  TU retransmits its {code}"));
                self.server_call(|s, now, out| s.respond(now, code, out));
                let interval = Timers::double(interval, Some(self.opts.timers.t2));
                self.push(self.now + interval, Ev::Retransmit2xx { code, interval, until });
            }
        }
    }

    fn arrive(&mut self, to: Side, msg: Msg) {
        let state = match to {
            Side::Client => self.client.state_name(),
            Side::Server => self.server.as_ref().map_or("-", |s| s.state_name()),
        };
        self.o.arrivals.push((self.now, to, msg, state));
        self.note(|| format!("{}  <- {msg:?} (in {state})", to.tag()));
        match (to, msg) {
            (Side::Client, Msg::Response(code)) => self.client_call(|c, now, out| c.response(now, code, out)),
            (Side::Server, Msg::Request) if self.server.is_none() => {
                let mut out = std::mem::take(&mut self.out);
                let o = &self.opts;
                self.server = Some(ServerTx::start(o.invite, self.now, o.reliable, &o.timers, &mut out));
                self.o.server_created = true;
                self.settle(Side::Server, &mut out);
                self.out = out;
            }
            (Side::Server, Msg::Request) => self.server_call(|s, now, out| s.retransmission(now, out)),
            (Side::Server, Msg::Ack) if self.server.is_some() => self.server_call(|s, now, out| s.ack(now, out)),
            _ => self.violate(format!("{msg:?} reached the {to:?} out of the blue")),
        }
    }

    fn fire(&mut self, side: Side, name: TimerName) {
        match side {
            Side::Client => self.client_call(|c, now, out| c.timer(now, name, out)),
            Side::Server => self.server_call(|s, now, out| s.timer(now, name, out)),
        }
    }

    fn client_call(&mut self, f: impl FnOnce(&mut ClientTx, u64, &mut Vec<Action>)) {
        let mut out = std::mem::take(&mut self.out);
        f(&mut self.client, self.now, &mut out);
        self.settle(Side::Client, &mut out);
        self.out = out;
    }

    fn server_call(&mut self, f: impl FnOnce(&mut ServerTx, u64, &mut Vec<Action>)) {
        let mut out = std::mem::take(&mut self.out);
        let server = self.server.as_mut().expect("server events only after the request arrived");
        f(server, self.now, &mut out);
        self.settle(Side::Server, &mut out);
        self.out = out;
    }

    /// Records the machine's state and performs its actions.
    fn settle(&mut self, side: Side, out: &mut Vec<Action>) {
        let state = match side {
            Side::Client => self.client.state_name(),
            Side::Server => self.server.as_ref().map_or("-", |s| s.state_name()),
        };
        if self.last_state[side.i()] != state {
            self.last_state[side.i()] = state;
            self.o.states.push((self.now, side, state));
        }
        for a in out.drain(..) {
            self.note(|| format!("{}  {a:?}", side.tag()));
            if self.dead[side.i()] {
                self.violate(format!("{side:?} acted after Terminated: {a:?}"));
            }
            self.o.trace.push((self.now, side, a));
            match a {
                Action::Send(m) | Action::Resend(m) => self.transmit(side, m),
                Action::Deliver(m) => self.deliver(side, m),
                Action::SetTimer { timer, at } => {
                    if at <= self.now {
                        self.violate(format!("{side:?} armed {timer:?} for {at}, not in the future"));
                    }
                    let seq = self.push(at, Ev::Timer(side, timer));
                    self.armed[side.i()][timer as usize] = Some((at, seq));
                }
                Action::CancelTimer(timer) => self.armed[side.i()][timer as usize] = None,
                Action::Timeout => {}
                Action::TransportError => self.violate(format!("{side:?} reported a transport error; none simulated")),
                Action::Terminated => self.dead[side.i()] = true,
            }
        }
    }

    fn transmit(&mut self, from: Side, msg: Msg) {
        let nth = match self.sent.iter_mut().find(|e| e.0 == (from, msg)) {
            Some(e) => {
                e.1 += 1;
                e.1
            }
            None => {
                self.sent.push(((from, msg), 1));
                1
            }
        };
        let mut delays = std::mem::take(&mut self.delays);
        delays.clear();
        self.world.fate(from, msg, nth, &mut delays);
        let to = from.peer();
        for &d in &delays {
            let mut at = self.now + d;
            if self.opts.reliable {
                at = at.max(self.last_arrival[to.i()]);
                self.last_arrival[to.i()] = at;
            }
            self.push(at, Ev::Arrive(to, msg));
        }
        self.note(|| {
            let fate = match delays.len() {
                0 => "lost".to_string(),
                _ => format!("delays {delays:?}"),
            };
            format!("{}  -> {msg:?} #{nth}: {fate}", from.tag())
        });
        self.delays = delays;
    }

    fn deliver(&mut self, side: Side, msg: Msg) {
        match (side, msg) {
            (Side::Client, Msg::Response(code)) => {
                self.o.client_tu.push((self.now, code));
                if self.opts.invite && (200..300).contains(&code) {
                    // §13.2.2.4: the UAC core ACKs every 2xx, end to end.
                    self.o.tu_acks_sent += 1;
                    self.note(|| "C  TU ACKs the 2xx".into());
                    self.transmit(Side::Client, Msg::Ack);
                }
            }
            (Side::Server, Msg::Request) => {
                self.o.server_tu_requests.push(self.now);
                let mut plan = Vec::new();
                self.world.answers(self.opts.invite, &mut plan);
                let mut at = self.now;
                for (think, code) in plan {
                    at += think;
                    self.push(at, Ev::Answer(code));
                }
            }
            (Side::Server, Msg::Ack) => {
                self.o.server_tu_acks.push(self.now);
                self.tu_got_ack = true;
            }
            _ => self.violate(format!("{side:?} passed up {msg:?}")),
        }
    }
}

// ------------------------------------------------------------------ bounds

/// Copies of a message sent by a doubling retransmit timer that starts at
/// `t1` (capped at `cap`) before a timeout `limit` after the first copy: the
/// first copy plus one per firing strictly before the limit. (At a tie this
/// simulator's store fires B/F/H first: they were armed first.)
fn max_copies(t1: u64, cap: Option<u64>, limit: u64) -> usize {
    let (mut at, mut interval, mut copies) = (t1, t1, 1);
    while at < limit {
        copies += 1;
        interval = Timers::double(interval, cap);
        at += interval;
    }
    copies
}

/// Client request copies: INVITE (Timer A uncapped until B), non-INVITE
/// (Timer E capped at T2 until F; a provisional only slows E down to T2).
fn max_request_copies(t: &Timers, invite: bool, reliable: bool) -> usize {
    match (reliable, invite) {
        (true, _) => 1,
        (false, true) => max_copies(t.t1, None, t.b()),
        (false, false) => max_copies(t.t1, Some(t.t2), t.f()),
    }
}

/// Latest time by which both transactions must be over: the request may
/// first get through just before B/F (plus a delay), the TU thinks, the
/// final may need until H to get through (plus a delay), then the client
/// lingers for D/M/K, and a Confirmed server for I ≤ T4.
fn horizon(t: &Timers, d_max: u64) -> u64 {
    t.b() + d_max + THINK_MAX + t.h() + d_max + t.d(false).max(t.m()).max(t.t4)
}

// ------------------------------------------------------------------ properties

/// A random run's parameters.
#[derive(Clone, Copy, Debug)]
struct Case {
    invite: bool,
    final_code: u16,
    reliable: bool,
    timers: Timers,
    net: Net,
}

fn is_final(m: Msg) -> bool {
    matches!(m, Msg::Response(c) if c >= 200)
}

/// The end-to-end properties of one run; returns what failed.
fn check(o: &Outcome, c: &Case) -> Vec<String> {
    use Side::{Client, Server};
    let t = &c.timers;
    let rel = c.reliable;
    let lossless = c.net.loss == 0.0;
    let success = (200..300).contains(&c.final_code);
    let mut v = o.violations.clone();
    macro_rules! ensure {
        ($ok:expr, $($msg:tt)+) => {
            if !$ok {
                v.push(format!($($msg)+));
            }
        };
    }

    let finals: Vec<(u64, u16)> = o.client_tu.iter().copied().filter(|f| f.1 >= 200).collect();
    let delivered = !finals.is_empty();
    let c_timeouts = o.times(Client, Action::Timeout);
    let s_timeouts = o.times(Server, Action::Timeout);
    let c_end = o.first(Client, Action::Terminated);
    let s_end = o.first(Server, Action::Terminated);
    let final_sent = o.first(Server, Action::Send(Msg::Response(c.final_code)));
    let limit = horizon(t, c.net.d_max);

    // 1. Liveness: both end, in bounded virtual time. The one exception the
    //    RFC allows: a client INVITE in Proceeding waits for a final with no
    //    timer (Timer C is the proxy TU's) — only if no final ever reached it.
    let stuck = c_end.is_none();
    if stuck {
        ensure!(
            c.invite
                && o.last_state(Client) == "Proceeding"
                && !o.arrivals.iter().any(|a| a.1 == Client && is_final(a.2)),
            "client never terminated (in {})",
            o.last_state(Client)
        );
    }
    ensure!(c_end.is_none_or(|e| e <= limit), "client ended at {c_end:?} > {limit}");
    ensure!(o.server_created == s_end.is_some(), "server created but never terminated");
    ensure!(s_end.is_none_or(|e| e <= limit), "server ended at {s_end:?} > {limit}");

    // 2. The client TU learns the outcome exactly once: the final, a
    //    Timeout, or (see above) nothing yet.
    ensure!(
        delivered as u8 + !c_timeouts.is_empty() as u8 + stuck as u8 == 1,
        "client outcome not exactly one of final / Timeout / waiting: finals {finals:?}, timeouts {c_timeouts:?}"
    );
    ensure!(
        c_timeouts.iter().all(|&x| x == t.t1x64()) && c_timeouts.len() <= 1,
        "client timeouts {c_timeouts:?}, expected at most one, at B/F = {}",
        t.t1x64()
    );
    ensure!(
        finals.iter().all(|f| f.1 == c.final_code),
        "client TU got finals {finals:?}, the server only sent {}",
        c.final_code
    );
    if c.invite && success {
        // RFC 6026 §8.4: every 2xx reaching the live transaction goes up.
        let arrived = o.arrived(Client, is_final, &["Calling", "Proceeding", "Accepted"]);
        ensure!(finals.len() == arrived, "{arrived} 2xx reached the client, {} passed up", finals.len());
    } else {
        ensure!(finals.len() <= 1, "final passed up {} times", finals.len());
    }
    if lossless {
        ensure!(delivered, "lossless network, yet the final never reached the client TU");
    }

    // 6. No provisional after the final.
    if let Some(first) = o.client_tu.iter().position(|f| f.1 >= 200) {
        ensure!(
            o.client_tu[first..].iter().all(|f| f.1 >= 200),
            "provisional passed up after the final: {:?}",
            o.client_tu
        );
    }

    // 3. The server TU gets the request exactly once; nothing outlives the
    //    transaction that absorbs it (see the module doc's assumptions).
    ensure!(
        o.server_tu_requests.len() == o.server_created as usize,
        "server TU got the request {} times",
        o.server_tu_requests.len()
    );
    if !o.server_created {
        ensure!(!c_timeouts.is_empty(), "no request got through, yet no client Timeout");
    }
    ensure!(
        o.arrived(Server, |m| m == Msg::Request, &["Terminated"]) == 0,
        "a request copy reached the terminated server (a new transaction: the TU would get it twice)"
    );
    // A 2xx and its ACK are end to end: one that comes after L / M is the
    // core's business (RFC 6026 §7.1, §8.9), not a transaction's, so only
    // hop-by-hop messages are held to this.
    if !(c.invite && success) {
        ensure!(
            !s_timeouts.is_empty() || o.arrived(Server, |m| m == Msg::Ack, &["Terminated"]) == 0,
            "an ACK outlived the server transaction that had not timed out"
        );
    }
    ensure!(
        !c_timeouts.is_empty()
            || o.arrived(Client, |m| !(c.invite && matches!(m, Msg::Response(200..=299))), &["Terminated"]) == 0,
        "a response outlived the client transaction that had not timed out"
    );
    if o.server_created {
        ensure!(final_sent.is_some(), "the server TU answered but no final was sent");
    }

    // Per pair: ACKs, server timeouts, exact lingering times.
    let fs = final_sent.unwrap_or(0);
    if c.invite && !success {
        // The first ACK reaching the Completed server moves it on at once:
        // to Confirmed, or straight through to Terminated when I is zero.
        let acked = o.arrivals.iter().find(|a| a.1 == Server && a.2 == Msg::Ack && a.3 == "Completed").map(|a| a.0);
        let next = if t.i(rel) == 0 { "Terminated" } else { "Confirmed" };
        if let Some(at) = acked {
            ensure!(
                o.states.contains(&(at, Server, next)),
                "the ACK reached the Completed server at {at}, which did not go {next}"
            );
        }
        if o.server_created {
            ensure!(s_timeouts.is_empty() == acked.is_some(), "server: ACKed at {acked:?} but Timeouts {s_timeouts:?}");
        }
        if acked.is_some() {
            ensure!(delivered, "server Confirmed by an ACK for a final the client never got");
        }
        ensure!(
            o.count(Client, Action::Send(Msg::Ack)) == delivered as usize,
            "client sent the ACK {} times, final delivered: {delivered}",
            o.count(Client, Action::Send(Msg::Ack))
        );
        let retransmits = o.arrived(Client, |m| m == Msg::Response(c.final_code), &["Completed"]);
        ensure!(
            o.count(Client, Action::Resend(Msg::Ack)) == retransmits,
            "{retransmits} final retransmissions reached the Completed client, ACK resent {} times",
            o.count(Client, Action::Resend(Msg::Ack))
        );
        if lossless {
            ensure!(acked.is_some(), "lossless network, yet the server never got the ACK");
        }
        match (acked, s_end) {
            (Some(at), Some(end)) => {
                ensure!(end == at + t.i(rel), "ACKed at {at}, ended at {end}, I = {}", t.i(rel))
            }
            (None, Some(end)) => ensure!(
                s_timeouts == [fs + t.h()] && end == fs + t.h(),
                "final sent at {fs}, timeouts {s_timeouts:?}, ended at {end}, H = {}",
                t.h()
            ),
            _ => {}
        }
        if let (Some(&(at, _)), Some(end)) = (finals.first(), c_end) {
            ensure!(end == at + t.d(rel), "final at {at}, client ended at {end}, D = {}", t.d(rel));
        }
    } else if c.invite {
        ensure!(s_timeouts.is_empty(), "server Timeout {s_timeouts:?} after a 2xx");
        ensure!(
            o.server_tu_acks.len() == o.arrived(Server, |m| m == Msg::Ack, &["Accepted"]),
            "ACKs reaching the Accepted server not each passed up"
        );
        ensure!(o.tu_acks_sent as usize == finals.len(), "client TU ACKs != 2xx passed up");
        ensure!(
            o.count(Client, Action::Send(Msg::Ack)) + o.count(Client, Action::Resend(Msg::Ack)) == 0,
            "the client transaction ACKed a 2xx (the TU's job)"
        );
        if lossless {
            ensure!(!o.server_tu_acks.is_empty(), "lossless network, yet no ACK reached the server TU");
        }
        if let Some(end) = s_end {
            ensure!(end == fs + t.l(), "2xx sent at {fs}, server ended at {end}, L = {}", t.l());
        }
        if let (Some(&(at, _)), Some(end)) = (finals.first(), c_end) {
            ensure!(end == at + t.m(), "2xx at {at}, client ended at {end}, M = {}", t.m());
        }
    } else {
        ensure!(s_timeouts.is_empty(), "non-INVITE server timed out: {s_timeouts:?}");
        if let Some(end) = s_end {
            ensure!(end == fs + t.j(rel), "final sent at {fs}, server ended at {end}, J = {}", t.j(rel));
        }
        if let (Some(&(at, _)), Some(end)) = (finals.first(), c_end) {
            ensure!(end == at + t.k(rel), "final at {at}, client ended at {end}, K = {}", t.k(rel));
        }
    }
    if let (Some(&at), Some(end)) = (c_timeouts.first(), c_end) {
        ensure!(end == at, "client timed out at {at} but ended at {end}");
    }

    // 4. Reliable transport: no retransmissions, no retransmit timers.
    if rel {
        let bad: Vec<_> = o
            .trace
            .iter()
            .filter(|e| match e.2 {
                Action::Resend(_) => true,
                Action::SetTimer { timer, .. } => {
                    matches!(timer, TimerName::A | TimerName::E | TimerName::G)
                }
                _ => false,
            })
            .collect();
        ensure!(bad.is_empty(), "reliable transport, yet {bad:?}");
    }

    // 5. Retransmission: only of what was sent, within the timers' bounds.
    for side in [Client, Server] {
        let mut sent = Vec::new();
        for (at, a) in o.acts(side) {
            match a {
                Action::Send(m) => sent.push(m),
                Action::Resend(m) => ensure!(sent.contains(&m), "{side:?} resent {m:?} at {at} before sending it"),
                _ => {}
            }
        }
    }
    let copies = o.count(Client, Action::Send(Msg::Request)) + o.count(Client, Action::Resend(Msg::Request));
    let max = max_request_copies(t, c.invite, rel);
    ensure!(copies <= max, "client sent {copies} request copies, bound {max}");
    let g_resends = if c.invite && !success && !rel { max_copies(t.t1, Some(t.t2), t.h()) - 1 } else { 0 };
    let request_retransmits =
        o.arrived(Server, |m| m == Msg::Request, &["Trying", "Proceeding", "Completed", "Confirmed", "Accepted"]);
    let resends = o.acts(Server).filter(|e| matches!(e.1, Action::Resend(_))).count();
    ensure!(
        resends <= g_resends + request_retransmits,
        "server resent {resends} responses: > {g_resends} by G + {request_retransmits} request retransmissions"
    );
    v
}

// ------------------------------------------------------------------ drivers

fn random_opts(c: &Case, seed: u64, lazy: bool, verbose: bool) -> Opts {
    Opts {
        invite: c.invite,
        reliable: c.reliable,
        timers: c.timers,
        lazy,
        spurious: if lazy { 8 } else { 0 },
        horizon: horizon(&c.timers, c.net.d_max),
        seed,
        verbose,
    }
}

fn random_run(c: &Case, seed: u64, lazy: bool, verbose: bool) -> Outcome {
    let mut world = RandomWorld {
        rng: Rng(seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0xE703_7ED1_A0B4_28DB),
        net: c.net,
        final_code: c.final_code,
    };
    simulate(random_opts(c, seed, lazy, verbose), &mut world)
}

/// Totals over a sweep, to show the interesting paths were exercised.
#[derive(Default, Debug)]
struct Tally {
    runs: u32,
    finals: u32,
    timeouts: u32,
    waiting: u32,
    resends: u32,
    late_provisionals: u32,
    stale_timers: u32,
    spurious_timers: u32,
}

/// Runs `seeds()` seeds of one case, each with an eager store and again with a
/// lazy store plus bogus firings; checks the properties and that both
/// traces are identical. Panics with the seed and a readable trace.
fn sweep(c: Case) -> Tally {
    assert!(
        c.net.d_max - c.net.d_min < c.timers.t1 && 2 * c.net.d_max < c.timers.t4,
        "delay assumptions of the module doc"
    );
    assert!(!c.reliable || (c.net.loss == 0.0 && c.net.dup == 0.0));
    let mut tally = Tally::default();
    for seed in 0..seeds() {
        let runs =
            catch_unwind(AssertUnwindSafe(|| (random_run(&c, seed, false, false), random_run(&c, seed, true, false))));
        let (eager, lazy) = runs.unwrap_or_else(|_| panic!("panicked: {c:?} seed {seed}"));
        let mut failed = check(&eager, &c);
        if let Some(i) = (0..eager.trace.len().max(lazy.trace.len())).find(|&i| eager.trace.get(i) != lazy.trace.get(i))
        {
            failed.push(format!(
                "lazy timer store changed the trace at action {i}: eager {:?}, lazy {:?}",
                eager.trace.get(i),
                lazy.trace.get(i)
            ));
        }
        failed.extend(lazy.violations.iter().map(|v| format!("lazy run: {v}")));
        if !failed.is_empty() {
            // Replay the run that failed, with a log.
            let lazy_only = check(&eager, &c).is_empty();
            let replay = random_run(&c, seed, lazy_only, true);
            panic!("{c:?} seed {seed}:\n  {}\ntrace:\n{}", failed.join("\n  "), replay.log.join("\n"));
        }
        tally.runs += 1;
        let finals = eager.client_tu.iter().any(|f| f.1 >= 200);
        let timeout = eager.first(Side::Client, Action::Timeout).is_some();
        tally.finals += finals as u32;
        tally.timeouts += timeout as u32;
        tally.waiting += (!finals && !timeout) as u32;
        tally.resends += eager.trace.iter().filter(|e| matches!(e.2, Action::Resend(_))).count() as u32;
        tally.late_provisionals += eager.arrived(
            Side::Client,
            |m| matches!(m, Msg::Response(c) if c < 200),
            &["Completed", "Accepted", "Terminated"],
        ) as u32;
        tally.stale_timers += lazy.stale_timers;
        tally.spurious_timers += lazy.spurious_timers;
    }
    tally
}

/// A network delaying 5–150 ms that loses and duplicates at these rates.
const fn net(loss: f64, dup: f64) -> Net {
    Net { loss, dup, d_min: 5, d_max: 150 }
}
const UDP_LOSSLESS: Net = net(0.0, 0.1);
const UDP_10: Net = net(0.1, 0.1);
const UDP_30: Net = net(0.3, 0.1);
const RELIABLE: Net = net(0.0, 0.0);
/// Non-default timers, so the bounds are seen to follow `Timers`.
const FAST: Timers = Timers { t1: 250, t2: 2_000, t4: 2_500 };

/// Every network of a scenario: UDP at 0/10/30 % loss, a reliable
/// transport, and UDP at 30 % with non-default timers.
fn scenario(invite: bool, final_code: u16) {
    let d = Timers::default();
    let nets =
        [(false, d, UDP_LOSSLESS), (false, d, UDP_10), (false, d, UDP_30), (true, d, RELIABLE), (false, FAST, UDP_30)];
    let mut all = Tally::default();
    for (reliable, timers, net) in nets {
        let case = Case { invite, final_code, reliable, timers, net };
        let t = sweep(case);
        eprintln!("{case:?}\n  {t:?}");
        if net.loss > 0.0 {
            assert!(t.resends > 0, "lossy sweep never retransmitted: {case:?}");
        }
        if net.loss == 0.0 {
            assert_eq!(t.finals, t.runs, "lossless: every run delivers the final");
        }
        all.stale_timers += t.stale_timers;
        all.spurious_timers += t.spurious_timers;
        all.late_provisionals += t.late_provisionals;
    }
    assert!(all.stale_timers > 0 && all.spurious_timers > 0, "lazy store never fired a stale timer");
    if invite {
        assert!(all.late_provisionals > 0, "no provisional ever overtook the final");
    }
}

#[test]
fn sim_non_invite_200() {
    scenario(false, 200);
}

#[test]
fn sim_non_invite_404() {
    scenario(false, 404);
}

#[test]
fn sim_invite_200() {
    scenario(true, 200);
}

#[test]
fn sim_invite_486() {
    scenario(true, 486);
}

#[test]
fn retransmit_bounds_from_default_timers() {
    let t = Timers::default();
    assert_eq!(max_request_copies(&t, false, false), 11, "E: 0, .5, 1.5, 3.5, 7.5, 11.5 ... 31.5 s");
    assert_eq!(max_request_copies(&t, true, false), 7, "A: 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5 s");
    assert_eq!(max_request_copies(&t, true, true), 1);
}

/// Everything lost: the client sends exactly the bound, times out at 64·T1,
/// and no server transaction ever exists.
#[test]
fn sim_black_hole_times_out_at_the_bound() {
    struct BlackHole;
    impl World for BlackHole {
        fn fate(&mut self, _: Side, _: Msg, _: u32, _: &mut Vec<u64>) {}
        fn answers(&mut self, _: bool, _: &mut Vec<(u64, u16)>) {}
    }
    fn go(invite: bool, timers: Timers) {
        let c = Case {
            invite,
            final_code: 200,
            reliable: false,
            timers,
            net: Net { loss: 1.0, dup: 0.0, d_min: 5, d_max: 150 },
        };
        for lazy in [false, true] {
            let o = simulate(random_opts(&c, 7, lazy, true), &mut BlackHole);
            let failed = check(&o, &c);
            assert!(failed.is_empty(), "{failed:?}\n{}", o.log.join("\n"));
            let copies =
                o.count(Side::Client, Action::Send(Msg::Request)) + o.count(Side::Client, Action::Resend(Msg::Request));
            assert_eq!(copies, max_request_copies(&timers, invite, false));
            assert_eq!(o.times(Side::Client, Action::Timeout), [timers.t1x64()]);
            assert!(!o.server_created && o.client_tu.is_empty());
        }
    }
    for timers in [Timers::default(), FAST] {
        go(true, timers);
        go(false, timers);
    }
}

// ------------------------------------------------------------------ scripts

fn scripted(invite: bool, reliable: bool, mut world: impl World) -> Outcome {
    let opts = Opts {
        invite,
        reliable,
        timers: Timers::default(),
        lazy: false,
        spurious: 0,
        horizon: 0,
        seed: 0,
        verbose: true,
    };
    let o = simulate(opts, &mut world);
    assert!(o.violations.is_empty(), "{:?}\n{}", o.violations, o.log.join("\n"));
    o
}

/// Asserts `got == want`, printing the run's log otherwise.
macro_rules! expect {
    ($o:expr, $got:expr, $want:expr) => {
        assert_eq!($got, $want, "\n{}", $o.log.join("\n"))
    };
}

/// UDP, every hop 50 ms. The first INVITE is lost and retransmitted at T1;
/// the TU answers 486 after 100 ms; the ACK is lost once, so the server
/// retransmits the 486 at G = T1, the client re-ACKs from Completed, the
/// server is Confirmed and ends T4 later; the client ends D after the 486.
#[test]
fn script_invite_486_lost_invite_and_lost_ack() {
    use Side::{Client, Server};
    let o = scripted(
        true,
        false,
        Script {
            delay: 50,
            rules: &[(Client, Msg::Request, 1, &[]), (Client, Msg::Ack, 1, &[])],
            answers: &[(100, 486)],
        },
    );
    expect!(o, o.times(Client, Action::Send(Msg::Request)), [0]);
    expect!(o, o.times(Client, Action::Resend(Msg::Request)), [500]);
    expect!(o, o.server_tu_requests, [550]);
    expect!(o, o.client_tu, [(600, 100), (700, 486)]);
    expect!(o, o.times(Server, Action::Send(Msg::Response(486))), [650]);
    expect!(o, o.times(Server, Action::Resend(Msg::Response(486))), [1_150]);
    expect!(o, o.times(Client, Action::Send(Msg::Ack)), [700]);
    expect!(o, o.times(Client, Action::Resend(Msg::Ack)), [1_200]);
    expect!(
        o,
        o.state_path(Server),
        [(550, "Proceeding"), (650, "Completed"), (1_250, "Confirmed"), (6_250, "Terminated")]
    );
    expect!(o, o.state_path(Client), [(0, "Calling"), (600, "Proceeding"), (700, "Completed"), (32_700, "Terminated")]);
    expect!(o, o.first(Server, Action::Timeout).or(o.first(Client, Action::Timeout)), None);
    // G was re-armed (1 s) at 1150 and cancelled by the ACK at 1250.
    expect!(o, o.times(Server, Action::CancelTimer(TimerName::G)), [1_250]);
}

/// UDP, every hop 50 ms, non-INVITE. The TU thinks 1.2 s: the retransmission
/// at T1 is absorbed in Trying (no response yet); the 200 is lost; the next
/// retransmission (E doubled: 1.5 s) is answered from Completed with the
/// 200; the client ends K = T4 later, the server J = 64·T1 after its 200.
#[test]
fn script_non_invite_absorbed_in_trying_answered_from_completed() {
    use Side::{Client, Server};
    let o = scripted(
        false,
        false,
        Script { delay: 50, rules: &[(Server, Msg::Response(200), 1, &[])], answers: &[(1_200, 200)] },
    );
    expect!(o, o.times(Client, Action::Resend(Msg::Request)), [500, 1_500]);
    let at_server: Vec<_> = o.arrivals.iter().filter(|a| a.1 == Server).map(|a| (a.0, a.3)).collect();
    expect!(o, at_server, [(50, "-"), (550, "Trying"), (1_550, "Completed")]);
    expect!(o, o.server_tu_requests, [50]);
    expect!(o, o.times(Server, Action::Send(Msg::Response(200))), [1_250]);
    expect!(o, o.times(Server, Action::Resend(Msg::Response(200))), [1_550]);
    expect!(o, o.client_tu, [(1_600, 200)]);
    expect!(o, o.state_path(Client), [(0, "Trying"), (1_600, "Completed"), (6_600, "Terminated")]);
    expect!(o, o.state_path(Server), [(50, "Trying"), (1_250, "Completed"), (33_250, "Terminated")]);
}

/// UDP, every hop 50 ms, INVITE answered 180 then 200 (RFC 6026). The 180
/// is held up 400 ms and arrives after the 200: absorbed in Accepted. The
/// TU's first ACK is lost, so the server TU retransmits its 2xx at T1; the
/// client passes that 2xx up too and its TU ACKs again; the server passes
/// the ACK up and the TU stops. L and M end both 64·T1 after their 2xx.
#[test]
fn script_invite_200_late_180_and_2xx_retransmitted_until_ack() {
    use Side::{Client, Server};
    let o = scripted(
        true,
        false,
        Script {
            delay: 50,
            rules: &[(Server, Msg::Response(180), 1, &[400]), (Client, Msg::Ack, 1, &[])],
            answers: &[(100, 180), (200, 200)],
        },
    );
    expect!(o, o.client_tu, [(100, 100), (400, 200), (900, 200)]);
    expect!(o, o.arrived(Client, |m| m == Msg::Response(180), &["Accepted"]), 1);
    expect!(o, o.times(Server, Action::Send(Msg::Response(200))), [350, 850]);
    expect!(o, o.tu_acks_sent, 2);
    expect!(o, o.server_tu_acks, [950]);
    expect!(o, o.count(Client, Action::Send(Msg::Ack)), 0);
    expect!(o, o.state_path(Client), [(0, "Calling"), (100, "Proceeding"), (400, "Accepted"), (32_400, "Terminated")]);
    expect!(o, o.state_path(Server), [(50, "Proceeding"), (350, "Accepted"), (32_350, "Terminated")]);
}

/// UDP; the client hears nothing (every server → client copy is lost), the
/// server hears everything after 50 ms. Exact retransmission schedules:
/// A doubles uncapped until B, E doubles up to T2 until F, G doubles up to
/// T2 until H; the server answers every request retransmission too.
#[test]
fn script_deaf_client_exact_retransmit_schedules() {
    use Side::{Client, Server};
    struct Deaf(&'static [(u64, u16)]);
    impl World for Deaf {
        fn fate(&mut self, from: Side, _: Msg, _: u32, delays: &mut Vec<u64>) {
            if from == Client {
                delays.push(50);
            }
        }
        fn answers(&mut self, _: bool, plan: &mut Vec<(u64, u16)>) {
            plan.extend_from_slice(self.0);
        }
    }

    let o = scripted(true, false, Deaf(&[(100, 486)]));
    let a = [500, 1_500, 3_500, 7_500, 15_500, 31_500];
    expect!(o, o.times(Client, Action::Resend(Msg::Request)), a);
    expect!(o, o.times(Client, Action::Timeout), [32_000]);
    expect!(o, o.first(Client, Action::Terminated), Some(32_000));
    let mut resends: Vec<u64> = a.iter().map(|t| t + 50).collect(); // INVITE retransmissions
    resends.extend([650, 1_650, 3_650, 7_650, 11_650, 15_650, 19_650, 23_650, 27_650, 31_650]); // G
    resends.sort();
    expect!(o, o.times(Server, Action::Resend(Msg::Response(486))), resends);
    expect!(o, o.times(Server, Action::Timeout), [32_150]);
    expect!(o, o.first(Server, Action::Terminated), Some(32_150));
    expect!(o, o.server_tu_requests, [50]);

    let o = scripted(false, false, Deaf(&[(100, 404)]));
    let e = [500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500];
    expect!(o, o.times(Client, Action::Resend(Msg::Request)), e);
    expect!(o, o.times(Client, Action::Timeout), [32_000]);
    expect!(o, o.first(Client, Action::Terminated), Some(32_000));
    let answered: Vec<u64> = e.iter().map(|t| t + 50).collect();
    expect!(o, o.times(Server, Action::Resend(Msg::Response(404))), answered);
    expect!(o, o.first(Server, Action::Terminated), Some(150 + 32_000));
    expect!(o, o.server_tu_requests, [50]);
}
