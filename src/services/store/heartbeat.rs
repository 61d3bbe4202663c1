//! Liveness and data-loss detection, run by the store thread between
//! rounds (one pipelined round trip every `heartbeat_ms`, so an ask waits
//! at most one round trip behind it). Each beat writes this edge's key
//! `sipedge:node:{<node>}` = `"<peer_addr> <unix_ms>"` with a TTL of
//! `liveness_ms`, adds the node to `sipedge:nodes`, reads every listed
//! node's key (a missing one is dead and leaves the list) and sends the
//! shards `Peers` when the set of live edges changed. The epoch marker
//! `sipedge:epoch` (a random value set NX at first contact) says whether
//! the store still holds what we wrote: missing or different means it
//! restarted empty, was flushed or failed over to a copy without it, and
//! the shards are told `StoreUp { lost_data: true }` to re-assert.
//!
//! In a Redis Cluster the marker lives in one slot: a failover that loses
//! other slots only is not seen by it.

use super::link::{Link, Reply};
use super::scripts::{self, Scripts, EPOCH, NODES};
use super::worker::Worker;
use crate::core::location::shared::{ClusterEvent, Peer};
use metrics::gauge;
use redis::Value;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub struct Heartbeat {
    /// When the next beat is due.
    pub due: Instant,
    /// The epoch marker as we last saw it.
    epoch: Option<Vec<u8>>,
    /// The nodes listed at the last beat (their keys are read at the next).
    known: Vec<String>,
    /// The live set last sent to the shards.
    sent: Option<Vec<Peer>>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat { due: Instant::now(), epoch: None, known: Vec::new(), sent: None }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn random_epoch() -> Vec<u8> {
    let mut b = [0u8; 12];
    if getrandom::getrandom(&mut b).is_err() {
        b[..8].copy_from_slice(&unix_ms().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect::<String>().into_bytes()
}

fn bulk(r: Option<&Reply>) -> Option<&[u8]> {
    match r {
        Some(Ok(Value::BulkString(b))) => Some(b),
        _ => None,
    }
}

fn members(r: Option<&Reply>) -> Vec<String> {
    let list = match r {
        Some(Ok(Value::Array(l))) | Some(Ok(Value::Set(l))) => l,
        _ => return Vec::new(),
    };
    let mut out: Vec<String> = list
        .iter()
        .filter_map(|v| match v {
            Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// `"<peer_addr> <unix_ms>"` → the peer and its heartbeat's age.
fn peer(node: &str, value: &[u8], now_ms: u64) -> Option<(Peer, u64)> {
    let s = std::str::from_utf8(value).ok()?;
    let (addr, ms) = s.split_once(' ')?;
    let addr: SocketAddr = addr.parse().ok()?;
    let ms: u64 = ms.parse().ok()?;
    Some((Peer { node: node.to_string(), addr }, now_ms.saturating_sub(ms)))
}

impl Heartbeat {
    /// Sets the marker when missing and reads it: true when it is not the
    /// one we saw before (the store lost what we wrote).
    pub fn check_epoch(&mut self, link: &mut Link, scripts: &Scripts) -> Result<bool, String> {
        let mut set = redis::cmd("SET");
        set.arg(EPOCH).arg(random_epoch()).arg("NX");
        let mut get = redis::cmd("GET");
        get.arg(EPOCH);
        let replies = link.pipeline(&[set, get], scripts).map_err(|e| super::link::describe(&e))?;
        let now = match bulk(replies.get(1)) {
            Some(v) => v.to_vec(),
            None => return Err(format!("epoch marker unreadable: {:?}", replies.get(1))),
        };
        let lost = self.epoch.as_ref().is_some_and(|e| *e != now);
        self.epoch = Some(now);
        Ok(lost)
    }

    /// One beat; a failed round has taken the link down.
    pub fn beat(&mut self, w: &mut Worker) {
        let s = &w.settings;
        self.due = Instant::now() + s.heartbeat;
        let node = s.node.clone();
        let mut cmds = Vec::new();
        let mut c = redis::cmd("SET");
        c.arg(scripts::node_key(&node))
            .arg(format!("{} {}", s.peer_addr, unix_ms()))
            .arg("PX")
            .arg(s.liveness.as_millis().max(1) as u64);
        cmds.push(c);
        let mut c = redis::cmd("SADD");
        c.arg(NODES).arg(&node);
        cmds.push(c);
        let mut c = redis::cmd("SMEMBERS");
        c.arg(NODES);
        cmds.push(c);
        let mut c = redis::cmd("GET");
        c.arg(EPOCH);
        cmds.push(c);
        let known = std::mem::take(&mut self.known);
        for n in &known {
            let mut c = redis::cmd("GET");
            c.arg(scripts::node_key(n));
            cmds.push(c);
        }
        let Ok(replies) = w.round(cmds) else { return };
        let listed = members(replies.get(2));
        if bulk(replies.get(3)).map(<[u8]>::to_vec) != self.epoch {
            let lost = match w.link_and_scripts() {
                Some((link, scripts)) => self.check_epoch(link, scripts),
                None => return,
            };
            match lost {
                Ok(_) => w.lost_data(),
                Err(e) => return w.down(e),
            }
        }
        let now_ms = unix_ms();
        let mut seen: Vec<(Peer, u64)> = Vec::new();
        for (i, n) in known.iter().enumerate() {
            match replies.get(4 + i) {
                Some(Ok(Value::BulkString(v))) => seen.extend(peer(n, v, now_ms)),
                Some(Ok(Value::Nil)) => {
                    let mut c = redis::cmd("SREM");
                    c.arg(NODES).arg(n);
                    w.later.push(c);
                }
                _ => {}
            }
        }
        // Nodes listed for the first time: read them now rather than a beat later.
        let new: Vec<&String> = listed.iter().filter(|n| !known.contains(n)).collect();
        if !new.is_empty() {
            let cmds = new
                .iter()
                .map(|n| {
                    let mut c = redis::cmd("GET");
                    c.arg(scripts::node_key(n));
                    c
                })
                .collect();
            let Ok(replies) = w.round(cmds) else { return };
            for (n, r) in new.iter().zip(&replies) {
                if let Ok(Value::BulkString(v)) = r {
                    seen.extend(peer(n, v, now_ms));
                }
            }
        }
        self.known = listed;
        seen.sort_by(|a, b| a.0.node.cmp(&b.0.node));
        let alive: Vec<Peer> = seen.iter().map(|(p, _)| p.clone()).collect();
        gauge!("sipedge_cluster_peers").set(alive.len() as f64);
        if let Ok(mut st) = w.status().lock() {
            st.peers = seen.iter().map(|(p, age)| (p.node.clone(), p.addr.to_string(), *age)).collect();
        }
        if self.sent.as_ref() != Some(&alive) {
            w.ends.broadcast(ClusterEvent::Peers(alive.clone()));
            self.sent = Some(alive);
        }
    }
}
