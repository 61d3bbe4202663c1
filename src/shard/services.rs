//! Asks out, answers in: the one place where a core's `Output::Ask` finds
//! its way and where answers go back into the core as `Input::Answer`.
//!
//! An ask that names a shard (the owner of an AOR) travels the mesh as
//! `MeshMsg::Ask`; that shard's core serves it and its `MeshMsg::Answer`
//! comes back through the mesh inbox. A store ask (`[cluster]`) goes to the
//! store room's bounded queue, a resolve ask to the resolver room's; their
//! answers (and the store's news) come back on this shard's own queue per
//! room, announced by a byte on that room's doorbell (`serve_room`). An
//! ask that cannot be handed over (a full mesh batch, a full queue, no
//! store) is answered `Answer::Unreachable` at once, so the work parked
//! for it does not wait out its expiry.

use super::mesh::Outbox;
use super::Shard;
use crate::core::{Answer, Ask, Input, MeshMsg};
use crate::services::resolver::{Answered, ResolverHandle};
use crate::services::store::{StoreEvent, StoreHandle};
use futures_lite::AsyncReadExt;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;

/// A shard's link to the store room.
pub struct StoreLink {
    pub handle: StoreHandle,
    pub events: crossbeam_channel::Receiver<StoreEvent>,
}

/// A shard's link to the resolver room.
pub struct ResolverLink {
    pub handle: ResolverHandle,
    pub events: crossbeam_channel::Receiver<Answered>,
}

/// Sends the core's ask `token` on its way.
pub fn route(shard: &Rc<Shard>, token: u64, ask: Ask) {
    let Some(to) = ask.shard() else {
        let taken = match ask {
            Ask::Resolve(_) => shard.resolver.as_ref().is_some_and(|r| r.handle.ask(shard.id, token, ask)),
            ask => shard.store.as_ref().is_some_and(|s| s.handle.ask(shard.id, token, ask)),
        };
        if !taken {
            let s = shard.clone();
            super::polls::spawn(async move { unreachable(&s, vec![token]).await }).detach();
        }
        return;
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

/// Feeds a room's answers (and news) to the core, woken by the room's
/// doorbell byte; drains everything queued per wake-up. `events` finds the
/// room's queue on the shard, `input` makes an event the core's input.
pub async fn serve_room<E>(
    shard: Rc<Shard>,
    doorbell: std::os::unix::net::UnixStream,
    events: fn(&Shard) -> Option<&crossbeam_channel::Receiver<E>>,
    input: fn(E) -> Input<'static>,
) {
    let Ok(()) = doorbell.set_nonblocking(true) else { return };
    // SAFETY: the descriptor was just released by `into_raw_fd` and is owned by nothing else.
    let mut bell = unsafe { glommio::net::UnixStream::from_raw_fd(doorbell.into_raw_fd()) };
    let mut buf = [0u8; 256];
    loop {
        match bell.read(&mut buf).await {
            Ok(0) | Err(_) => return, // the room is gone
            Ok(_) => {}
        }
        let Some(queue) = events(&shard) else { return };
        let queued: Vec<E> = queue.try_iter().collect();
        let now = super::clock::now_ms();
        for event in queued {
            super::io::feed(&shard, now, input(event)).await;
        }
    }
}

/// The store room's queue and what its events are for the core.
pub fn store_events(shard: &Shard) -> Option<&crossbeam_channel::Receiver<StoreEvent>> {
    shard.store.as_ref().map(|l| &l.events)
}

pub fn store_input(event: StoreEvent) -> Input<'static> {
    match event {
        StoreEvent::Answer { token, answer } => Input::Answer { token, answer },
        StoreEvent::Cluster(e) => Input::Cluster(e),
    }
}

/// The resolver room's queue and what its answers are for the core.
pub fn resolver_events(shard: &Shard) -> Option<&crossbeam_channel::Receiver<Answered>> {
    shard.resolver.as_ref().map(|l| &l.events)
}

pub fn resolver_input(a: Answered) -> Input<'static> {
    Input::Answer { token: a.token, answer: a.answer }
}
