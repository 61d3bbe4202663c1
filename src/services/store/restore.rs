//! The start-up read-back: once Redis is first reached, the AORs this node
//! listed in its index `sipedge:node:{<node>}:aors` (SSCAN of that one set,
//! never a keyspace scan) are fetched in pipelined chunks, one chunk per
//! turn of the store thread so asks keep being served, and each AOR still
//! holding a value of this node goes to its owner shard as
//! `ClusterEvent::Restore`. AORs without any leave the index.

use super::scripts;
use super::worker::Worker;
use super::StoreEvent;
use crate::core::location::shared::ClusterEvent;
use crate::core::owner::shard_of;
use metrics::counter;
use redis::Value;
use std::collections::VecDeque;

/// AORs fetched per round trip.
const CHUNK: usize = 64;
/// SSCAN's COUNT hint.
const SCAN: usize = 512;

#[derive(Default)]
pub struct Restore {
    /// The SSCAN cursor; None when the scan is over (or not begun).
    cursor: Option<u64>,
    todo: VecDeque<Vec<u8>>,
    restored: u64,
    running: bool,
}

impl Restore {
    pub fn begin(&mut self) {
        self.cursor = Some(0);
        self.running = true;
    }

    pub fn pending(&self) -> bool {
        self.running
    }

    /// One round trip of the read-back; a failed one has taken the link
    /// down and is done again after it returns.
    pub fn step(&mut self, w: &mut Worker) {
        if self.todo.len() < CHUNK {
            if let Some(cursor) = self.cursor {
                let mut c = redis::cmd("SSCAN");
                c.arg(scripts::index_key(&w.settings.node)).arg(cursor).arg("COUNT").arg(SCAN);
                let Ok(mut replies) = w.round(vec![c]) else { return };
                match replies.pop() {
                    Some(Ok(Value::Array(mut parts))) if parts.len() == 2 => {
                        let list = parts.pop();
                        let next = match parts.pop() {
                            Some(Value::BulkString(b)) => std::str::from_utf8(&b).ok().and_then(|s| s.parse().ok()),
                            _ => None,
                        };
                        if let Some(Value::Array(list)) = list {
                            self.todo.extend(list.into_iter().filter_map(|v| match v {
                                Value::BulkString(b) => Some(b),
                                _ => None,
                            }));
                        }
                        self.cursor = next.filter(|&n: &u64| n != 0);
                    }
                    other => {
                        w.note_error(format!("restore: SSCAN answered {other:?}"));
                        self.cursor = None;
                    }
                }
                return;
            }
        }
        let chunk: Vec<Vec<u8>> = self.todo.drain(..self.todo.len().min(CHUNK)).collect();
        if chunk.is_empty() {
            self.running = false;
            log::info!("store: read back {} AORs of node {} at start", self.restored, w.settings.node);
            return;
        }
        let call = w.link_mut().map_or(scripts::Call::Sha, |l| l.call);
        let cmds = chunk.iter().map(|aor| scripts::fetch_cmd(&w.scripts, call, aor)).collect();
        let Ok(replies) = w.round(cmds) else {
            for aor in chunk.into_iter().rev() {
                self.todo.push_front(aor);
            }
            return;
        };
        for (aor, reply) in chunk.into_iter().zip(replies) {
            let fetched = match reply.map_err(|e| e.to_string()).and_then(|v| scripts::fetched(v).map_err(|g| g.0)) {
                Ok(f) => f,
                Err(e) => {
                    w.note_error(format!("restore: {e}"));
                    continue;
                }
            };
            if scripts::holds(&fetched, &w.settings.node) {
                let shard = shard_of(&aor, w.settings.shards);
                self.restored += 1;
                counter!("sipedge_cluster_restored_total").increment(1);
                w.ends.send(shard, StoreEvent::Cluster(ClusterEvent::Restore { aor, fetched }));
            } else {
                w.index_update(&aor, false);
            }
        }
    }
}
