//! The store thread ("sipedge-store"): takes up to `BATCH` asks per round
//! from the queue, sends them as one pipeline, answers each on its shard's
//! channel. Between rounds: the heartbeat (`heartbeat`), the start-up
//! read-back (`restore`), reconnecting. Owns the up/down state: a failed
//! round answers its asks `Unreachable`, drops the link and tells every
//! shard `StoreDown` once; while down, asks are answered `Unreachable` at
//! once and the link is tried again every `RETRY`.

use super::heartbeat::Heartbeat;
use super::link::{describe, Link, Reply, Target};
use super::restore::Restore;
use super::scripts::{self, Call, Scripts};
use super::Ends;
use super::{ClusterStatus, StoreEvent, BATCH};
use crate::core::location::shared::ClusterEvent;
use crate::core::{Answer, Ask};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use metrics::{counter, gauge, histogram};
use redis::Cmd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a down link is tried again.
pub const RETRY: Duration = Duration::from_millis(500);

pub struct Settings {
    pub node: String,
    pub peer_addr: String,
    pub target: Target,
    pub heartbeat: Duration,
    pub liveness: Duration,
    pub shards: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Not tried yet.
    Unknown,
    Up,
    Down,
}

pub struct Worker {
    pub settings: Settings,
    rx: Receiver<(u16, u64, Ask)>,
    pub ends: Arc<Ends>,
    status: Arc<Mutex<ClusterStatus>>,
    pub scripts: Scripts,
    link: Option<Link>,
    state: State,
    retry_at: Instant,
    /// Commands riding on the next round (index updates, housekeeping): off the answers' critical path.
    pub later: Vec<Cmd>,
    heartbeat: Heartbeat,
    restore: Restore,
}

impl Worker {
    pub fn new(
        settings: Settings,
        rx: Receiver<(u16, u64, Ask)>,
        ends: Arc<Ends>,
        status: Arc<Mutex<ClusterStatus>>,
    ) -> Worker {
        let heartbeat = Heartbeat::default();
        Worker {
            settings,
            rx,
            ends,
            status,
            scripts: Scripts::default(),
            link: None,
            state: State::Unknown,
            retry_at: Instant::now(),
            later: Vec::new(),
            heartbeat,
            restore: Restore::default(),
        }
    }

    /// The loop; ends when every handle has gone.
    pub fn run(mut self) {
        gauge!("sipedge_cluster_redis_up").set(0.0);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let wait = self.next_wake().saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(a) => batch.push(a),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // The last index updates, before the thread ends.
                    if !self.later.is_empty() {
                        let _ = self.round(Vec::new());
                    }
                    return;
                }
            }
            while batch.len() < BATCH {
                match self.rx.try_recv() {
                    Ok(a) => batch.push(a),
                    Err(_) => break,
                }
            }
            if self.link.is_none() && Instant::now() >= self.retry_at {
                self.connect();
            }
            if !batch.is_empty() {
                self.serve(&mut batch);
            }
            // Idle: the riding commands go now rather than with the next round.
            if self.link.is_some() && !self.later.is_empty() && self.rx.is_empty() {
                let _ = self.round(Vec::new());
            }
            if self.link.is_some() && Instant::now() >= self.heartbeat.due {
                self.beat();
            }
            if self.link.is_some() && self.restore.pending() {
                self.restore_step();
            }
            gauge!("sipedge_cluster_queue_depth").set(self.rx.len() as f64);
        }
    }

    fn next_wake(&self) -> Instant {
        if self.link.is_none() {
            return self.retry_at;
        }
        if self.restore.pending() {
            return Instant::now();
        }
        self.heartbeat.due
    }

    fn set_status(&self, f: impl FnOnce(&mut ClusterStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// Notes an error that did not take the link down (one command's).
    pub fn note_error(&self, e: String) {
        log::debug!("store: {e}");
        self.set_status(|s| s.last_error = Some(e));
    }

    /// One try to (re)connect; the up edge when it works.
    fn connect(&mut self) {
        let mut link = match Link::connect(&self.settings.target, &self.scripts, Call::Sha) {
            Ok(l) => l,
            Err(e) => return self.down(e),
        };
        let lost = match self.heartbeat.check_epoch(&mut link, &self.scripts) {
            Ok(lost) => lost,
            Err(e) => return self.down(e),
        };
        self.link = Some(link);
        let was = self.state;
        self.state = State::Up;
        log::info!(
            "store: Redis {} answers{}",
            self.settings.target.urls.join(","),
            if lost { " but lost our bindings (epoch changed)" } else { "" }
        );
        if lost {
            counter!("sipedge_cluster_data_loss_total").increment(1);
        }
        gauge!("sipedge_cluster_redis_up").set(1.0);
        self.set_status(|s| s.redis_up = true);
        self.ends.broadcast(ClusterEvent::StoreUp { lost_data: lost });
        if was == State::Unknown {
            self.restore.begin();
        }
        self.heartbeat.due = Instant::now();
    }

    /// The link failed (or could not be made): drop it, tell the shards
    /// on the edge, try again in `RETRY`.
    pub fn down(&mut self, e: String) {
        self.link = None;
        self.retry_at = Instant::now() + RETRY;
        if self.state != State::Down {
            log::warn!("store: Redis {} unreachable: {e}", self.settings.target.urls.join(","));
            self.state = State::Down;
            gauge!("sipedge_cluster_redis_up").set(0.0);
            self.ends.broadcast(ClusterEvent::StoreDown);
        } else {
            log::debug!("store: Redis still unreachable: {e}");
        }
        self.set_status(|s| {
            s.redis_up = false;
            s.last_error = Some(e);
        });
    }

    /// One round trip on the link with the pending index updates in front;
    /// `Err` has taken the link down already.
    pub fn round(&mut self, cmds: Vec<Cmd>) -> Result<Vec<Reply>, ()> {
        let Some(link) = self.link.as_mut() else { return Err(()) };
        let skip = self.later.len();
        let mut all = std::mem::take(&mut self.later);
        all.extend(cmds);
        let t0 = Instant::now();
        let r = link.pipeline(&all, &self.scripts);
        histogram!("sipedge_cluster_redis_seconds").record(t0.elapsed().as_secs_f64());
        counter!("sipedge_cluster_redis_round_trips_total").increment(1);
        match r {
            Ok(mut replies) => {
                if let Some(Err(e)) = replies.iter().take(skip).find(|r| r.is_err()) {
                    self.note_error(format!("housekeeping: {e}"));
                }
                Ok(replies.split_off(skip))
            }
            Err(e) => {
                self.down(describe(&e));
                Err(())
            }
        }
    }

    fn answer(&self, shard: u16, token: u64, answer: Answer) {
        self.ends.send(shard as usize, StoreEvent::Answer { token, answer });
    }

    /// One batch of asks: one pipeline, one answer each.
    fn serve(&mut self, batch: &mut Vec<(u16, u64, Ask)>) {
        if self.link.is_none() {
            for (shard, token, _) in batch.drain(..) {
                self.answer(shard, token, Answer::Unreachable);
            }
            return;
        }
        let call = self.link.as_ref().map_or(Call::Sha, |l| l.call);
        let mut asks = Vec::with_capacity(batch.len());
        let mut cmds = Vec::with_capacity(batch.len());
        for (shard, token, ask) in batch.drain(..) {
            match &ask {
                Ask::Store(w) => cmds.push(scripts::write_cmd(&self.scripts, call, &self.settings.node, w)),
                Ask::Fetch { aor } => cmds.push(scripts::fetch_cmd(&self.scripts, call, aor)),
                _ => {
                    self.answer(shard, token, Answer::Unreachable);
                    continue;
                }
            }
            asks.push((shard, token, ask));
        }
        if cmds.is_empty() {
            return;
        }
        let Ok(replies) = self.round(cmds) else {
            for (shard, token, _) in asks {
                self.answer(shard, token, Answer::Unreachable);
            }
            return;
        };
        for ((shard, token, ask), reply) in asks.into_iter().zip(replies) {
            let answer = match (ask, reply) {
                (_, Err(e)) => {
                    self.note_error(e);
                    Answer::Unreachable
                }
                (Ask::Store(w), Ok(v)) => match scripts::written(v) {
                    Ok(written) => {
                        if let Ok(f) = &written {
                            self.index_update(&w.aor, scripts::holds(f, &self.settings.node));
                        }
                        Answer::Stored(written)
                    }
                    Err(g) => {
                        self.note_error(g.0);
                        Answer::Unreachable
                    }
                },
                (_, Ok(v)) => match scripts::fetched(v) {
                    Ok(f) => Answer::Fetched(f),
                    Err(g) => {
                        self.note_error(g.0);
                        Answer::Unreachable
                    }
                },
            };
            self.answer(shard, token, answer);
        }
    }

    /// Queues the index update for `aor`: this node holds bindings of it or not.
    pub fn index_update(&mut self, aor: &[u8], holds: bool) {
        let mut c = redis::cmd(if holds { "SADD" } else { "SREM" });
        c.arg(scripts::index_key(&self.settings.node)).arg(aor);
        self.later.push(c);
    }

    fn beat(&mut self) {
        let mut hb = std::mem::take(&mut self.heartbeat);
        hb.beat(self);
        self.heartbeat = hb;
    }

    fn restore_step(&mut self) {
        let mut r = std::mem::take(&mut self.restore);
        r.step(self);
        self.restore = r;
    }

    pub fn status(&self) -> &Arc<Mutex<ClusterStatus>> {
        &self.status
    }

    pub fn link_mut(&mut self) -> Option<&mut Link> {
        self.link.as_mut()
    }

    /// The link and the scripts, borrowed together.
    pub fn link_and_scripts(&mut self) -> Option<(&mut Link, &Scripts)> {
        Some((self.link.as_mut()?, &self.scripts))
    }

    /// The data-loss edge while up: the shards re-assert everything.
    pub fn lost_data(&mut self) {
        log::warn!("store: Redis lost our bindings (epoch marker changed); the shards re-assert them");
        counter!("sipedge_cluster_data_loss_total").increment(1);
        self.ends.broadcast(ClusterEvent::StoreUp { lost_data: true });
    }
}
