//! The resolver room: DNS for the shards, off their cores (RFC 3263). The
//! shards hand it `Ask::Resolve` through one bounded queue (never
//! blocking; a full queue is a counted refusal, answered `Unreachable` at
//! once); one thread runs the lookups on a current-thread tokio runtime
//! with the hickory resolver (UDP, TCP when an answer is truncated, CNAME
//! chains, every configured server in turn), merges identical lookups in
//! flight, cuts each at its budget, and answers on each asking shard's
//! channel, then rings its doorbell (`services::ends`).
//!
//! What to query and what an answer means are `core::resolve::select`'s;
//! here are only the queries (`lookup.rs`) and the thread (`worker.rs`).
//! What a shard keeps of an answer is `core::resolve::names`'.
//!
//! Failure modes: a server that never answers costs each lookup its
//! budget at most (then `Failure::Budget`, or `Timeout` when every try
//! timed out first); a server that refuses or fails is `ServerFailed`; a
//! name that does not exist is `NotFound` with its negative TTL. Requests
//! that need no name never pass through here, so they are not slowed.

mod lookup;
mod worker;

use crate::config;
use crate::core::resolve::{Dest, Failure, Resolved};
use crate::core::{Answer, Ask};
use metrics::counter;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// What the room sends one shard: the answer to its ask `token`.
#[derive(Debug)]
pub struct Answered {
    pub token: u64,
    pub answer: Answer,
}

/// One shard's end of the room.
pub type ShardEnd = super::ends::ShardEnd<Answered>;

/// The room as `main` gets it.
pub struct ResolverRoom {
    pub handle: ResolverHandle,
    pub ends: Vec<ShardEnd>,
}

/// The settings a lookup runs with (from `[dns]`).
#[derive(Clone, Debug)]
pub struct Settings {
    pub servers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub attempts: usize,
    pub budget: Duration,
    pub ttl_min: Duration,
    pub ttl_max: Duration,
    pub negative_max: Duration,
    /// How long a negative answer without an SOA is kept.
    pub failure: Duration,
    pub cache_entries: usize,
    pub statics: BTreeMap<String, Vec<SocketAddr>>,
}

impl Settings {
    pub fn of(cfg: &config::Dns) -> Settings {
        Settings {
            servers: cfg.servers.clone(),
            timeout: Duration::from_millis(cfg.timeout_ms.get()),
            attempts: cfg.attempts.get() as usize,
            budget: Duration::from_millis(cfg.budget_ms.get()),
            ttl_min: Duration::from_secs(cfg.ttl_min_secs.get()),
            ttl_max: Duration::from_secs(cfg.ttl_max_secs.get()),
            negative_max: Duration::from_secs(cfg.negative_max_secs.get()),
            failure: Duration::from_millis(cfg.failure_ms.get()),
            cache_entries: cfg.cache_entries.get() as usize,
            statics: cfg.statics.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect(),
        }
    }
}

/// What the thread is asked.
enum Job {
    /// A shard's ask.
    Ask { shard: u16, token: u64, dest: Dest },
    /// The admin face's question (`/dns/{name}`), answered on `reply`.
    Describe { dest: Dest, reply: std::sync::mpsc::SyncSender<Result<Resolved, Failure>> },
}

/// Shared by every shard and the admin face: lookups go in here.
#[derive(Clone)]
pub struct ResolverHandle {
    tx: tokio::sync::mpsc::Sender<Job>,
    budget: Duration,
}

impl ResolverHandle {
    /// Queues the resolve ask `token` of `shard`; false when refused (queue
    /// full, the thread gone, not a resolve ask): the caller answers
    /// `Unreachable` at once.
    pub fn ask(&self, shard: u16, token: u64, ask: Ask) -> bool {
        let Ask::Resolve(dest) = ask else { return false };
        match self.tx.try_send(Job::Ask { shard, token, dest }) {
            Ok(()) => true,
            Err(e) => {
                let reason = match e {
                    tokio::sync::mpsc::error::TrySendError::Full(_) => "queue full",
                    tokio::sync::mpsc::error::TrySendError::Closed(_) => "stopped",
                };
                counter!("sipedge_dns_refused_total", "reason" => reason).increment(1);
                false
            }
        }
    }

    /// What the edge would get for `dest` now (blocking the caller's
    /// thread for the budget at most; for the admin face, never a shard).
    pub fn describe(&self, dest: Dest) -> Result<Resolved, Failure> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.tx.try_send(Job::Describe { dest, reply }).map_err(|_| Failure::Unreachable)?;
        answer.recv_timeout(self.budget + Duration::from_millis(500)).unwrap_or(Err(Failure::Budget))
    }
}

/// Starts the room's thread for `shards` shards. Never waits on DNS.
pub fn start(cfg: &config::Dns, shards: usize) -> ResolverRoom {
    let queue = cfg.queue.get() as usize;
    let (tx, rx) = tokio::sync::mpsc::channel(queue);
    let (ends, shard_ends) = super::ends::Ends::new(shards, queue + 1024, "sipedge_dns_answers_dropped_total");
    super::count_from_zero("sipedge_dns_refused_total", &["queue full", "stopped"]);
    super::count_from_zero("sipedge_dns_budget_overruns_total", &[]);
    let settings = Settings::of(cfg);
    let budget = settings.budget;
    let w = worker::Worker { settings, rx, ends };
    if let Err(e) = std::thread::Builder::new().name("sipedge-dns".into()).spawn(move || w.run()) {
        log::error!("dns: cannot start its thread: {e}");
    }
    ResolverRoom { handle: ResolverHandle { tx, budget }, ends: shard_ends }
}
