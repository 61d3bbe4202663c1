//! The invalidation watcher ("sipedge-watch"): its own connection (for a
//! Redis Cluster, a plain one to the first seed that answers: a classic
//! PUBLISH reaches every node), SUBSCRIBE `sipedge:inval`; a message
//! `<node> <aor>` from another node becomes `ClusterEvent::Invalidate` to
//! the AOR's owner shard. Each (re)subscription first tells every shard
//! `FlushCache` (invalidations may have been missed meanwhile). Reconnects
//! with backoff; ends when every `StoreHandle` has gone.

use super::link::{describe, Target};
use super::scripts::CHANNEL;
use super::Ends;
use super::StoreEvent;
use crate::core::location::shared::ClusterEvent;
use crate::core::owner::shard_of;
use metrics::counter;
use std::sync::{Arc, Weak};
use std::time::Duration;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often a quiet subscription looks whether the room still runs.
const TICK: Duration = Duration::from_millis(500);

pub struct Watcher {
    pub node: String,
    pub target: Target,
    pub shards: usize,
    pub ends: Arc<Ends>,
    pub alive: Weak<()>,
}

impl Watcher {
    fn alive(&self) -> bool {
        self.alive.strong_count() > 0
    }

    fn connect(&self) -> Result<redis::Connection, String> {
        let mut last = String::from("no Redis URL");
        for url in &self.target.urls {
            let conn = redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(self.target.connect_timeout()));
            match conn {
                Ok(c) => return Ok(c),
                Err(e) => last = describe(&e),
            }
        }
        Err(last)
    }

    pub fn run(self) {
        let mut backoff = BACKOFF_MIN;
        let mut subscribed: Option<bool> = None;
        while self.alive() {
            let err = match self.connect() {
                Ok(mut conn) => {
                    let r = self.follow(&mut conn, &mut subscribed);
                    backoff = BACKOFF_MIN;
                    r
                }
                Err(e) => e,
            };
            if !self.alive() {
                return;
            }
            if subscribed != Some(false) {
                log::warn!("store: invalidation subscription lost: {err}");
                subscribed = Some(false);
            } else {
                log::debug!("store: invalidation subscription: {err}");
            }
            let mut left = backoff;
            while !left.is_zero() && self.alive() {
                let nap = left.min(TICK);
                std::thread::sleep(nap);
                left -= nap;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Subscribes and follows until the connection fails (its error).
    fn follow(&self, conn: &mut redis::Connection, subscribed: &mut Option<bool>) -> String {
        let mut ps = conn.as_pubsub();
        if let Err(e) = ps.subscribe(CHANNEL) {
            return describe(&e);
        }
        if let Err(e) = ps.set_read_timeout(Some(TICK)) {
            return describe(&e);
        }
        if *subscribed != Some(true) {
            log::info!("store: following invalidations on {CHANNEL}");
            *subscribed = Some(true);
        }
        self.ends.broadcast(ClusterEvent::FlushCache);
        loop {
            match ps.get_message() {
                Ok(msg) => self.message(msg.get_payload_bytes()),
                Err(e) if e.is_timeout() => {
                    if !self.alive() {
                        return "stopped".into();
                    }
                }
                Err(e) => return describe(&e),
            }
        }
    }

    fn message(&self, payload: &[u8]) {
        let Some(sp) = payload.iter().position(|&c| c == b' ') else { return };
        let (node, aor) = (&payload[..sp], &payload[sp + 1..]);
        if node == self.node.as_bytes() {
            return;
        }
        counter!("sipedge_cluster_invalidations_total").increment(1);
        let shard = shard_of(aor, self.shards);
        self.ends.send(shard, StoreEvent::Cluster(ClusterEvent::Invalidate { aor: aor.to_vec() }));
    }
}
