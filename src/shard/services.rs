//! Asks out, answers in: the one place where a core's `Output::Ask` finds
//! its way and where answers go back into the core as `Input::Answer`.
//!
//! Today every ask names a shard (the owner of an AOR) and travels the mesh
//! as `MeshMsg::Ask`; that shard's core serves it and its `MeshMsg::Answer`
//! comes back through the mesh inbox. An ask the mesh cannot take (the
//! destination's queue is full, so the whole batch is dropped) is answered
//! `Answer::Unreachable` at once, so the work parked for it does not wait
//! out its expiry. Redis and DNS asks will be routed here to their I/O
//! threads, their answers fed back the same way.

use super::mesh::Outbox;
use super::Shard;
use crate::core::{Answer, Ask, Input, MeshMsg};
use std::rc::Rc;

/// Sends the core's ask `token` on its way.
pub fn route(shard: &Rc<Shard>, token: u64, ask: Ask) {
    let to = match &ask {
        Ask::Register { shard: to, .. } | Ask::Lookup { shard: to, .. } => *to,
        Ask::Store(_) | Ask::Fetch { .. } => return, // routed to the store room (next commit)
    };
    shard.stats.borrow_mut().mesh_sent += 1;
    Outbox::push(shard, to, MeshMsg::Ask { reply_to: shard.id, token, ask });
}

/// What a message from another shard is for the core: an answer to one of
/// its asks, or a mesh message.
pub fn from_mesh(shard: &Shard, msg: MeshMsg) -> Input<'static> {
    match msg {
        MeshMsg::Answer { token, answer } => {
            shard.stats.borrow_mut().mesh_received += 1;
            Input::Answer { token, answer }
        }
        msg => Input::Mesh(msg),
    }
}

/// The asks among messages the mesh could not take.
pub fn asks_in(dropped: &[MeshMsg]) -> Vec<u64> {
    dropped.iter().filter_map(|m| if let MeshMsg::Ask { token, .. } = m { Some(*token) } else { None }).collect()
}

/// Answers asks that could not be handed over: `Unreachable`, at once.
pub async fn unreachable(shard: &Rc<Shard>, tokens: Vec<u64>) {
    for token in tokens {
        let now = super::clock::now_ms();
        super::io::feed(shard, now, Input::Answer { token, answer: Answer::Unreachable }).await;
    }
}
