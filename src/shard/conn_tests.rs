//! A connection's writer task (`conn::spawn_writer`): what one turn queued
//! leaves in one write on a byte stream, one message per write on a
//! WebSocket, and nothing queued is lost when the flow closes.

use super::conn::{spawn_writer, Sink, JOIN_MAX};
use glommio::channels::local_channel;
use std::cell::RefCell;
use std::rc::Rc;

/// A sink that records each write; `J`: whether it joins messages.
struct Record<const J: bool>(Rc<RefCell<Vec<Vec<u8>>>>);

impl<const J: bool> Sink for Record<J> {
    const JOINS: bool = J;
    async fn put(&mut self, bytes: Vec<u8>) -> bool {
        self.0.borrow_mut().push(bytes);
        true
    }
    async fn finish(&mut self) {}
}

/// Queues `messages` before the writer first runs, then closes the flow
/// (drops the sender); the writes the sink saw.
fn writes<const J: bool>(messages: &[&[u8]]) -> Vec<Vec<u8>> {
    let ex = glommio::LocalExecutorBuilder::default().make().expect("executor");
    let messages: Vec<Vec<u8>> = messages.iter().map(|m| m.to_vec()).collect();
    ex.run(async move {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let (tx, rx) = local_channel::new_bounded(16);
        for m in messages {
            tx.try_send(m).expect("room");
        }
        let writer = spawn_writer(rx, Record::<J>(seen.clone()));
        drop(tx);
        writer.await;
        seen.take()
    })
}

#[test]
fn a_byte_stream_gets_what_was_queued_in_one_write() {
    let w = writes::<true>(&[b"OPTIONS a\r\n\r\n", b"OPTIONS b\r\n\r\n", b"OPTIONS c\r\n\r\n"]);
    assert_eq!(w, vec![b"OPTIONS a\r\n\r\nOPTIONS b\r\n\r\nOPTIONS c\r\n\r\n".to_vec()]);
}

#[test]
fn a_websocket_gets_one_message_per_write() {
    let w = writes::<false>(&[b"a", b"b", b"c"]);
    assert_eq!(w, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
}

#[test]
fn a_join_stops_once_it_holds_join_max_bytes() {
    // Each under the limit, two over it (40 kB each with JOIN_MAX at 64 kB).
    let big = vec![b'x'; JOIN_MAX * 5 / 8];
    let w = writes::<true>(&[&big, &big, &big, b"tail"]);
    // The first is under the limit: the next one joins it; then the write
    // holds more than the limit, so the rest follow in the next write.
    assert_eq!(w.iter().map(Vec::len).collect::<Vec<_>>(), vec![2 * big.len(), big.len() + 4]);
}
