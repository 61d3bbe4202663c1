//! A connection's writer task (`conn::spawn_writer`): what one turn queued
//! leaves in one write on a byte stream, one message per write on a
//! WebSocket, and nothing queued is lost when the flow closes.

use super::conn::{spawn_writer, Sink};
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
    let big = vec![b'x'; 40 * 1024];
    let w = writes::<true>(&[&big, &big, &big, b"tail"]);
    // 40 kB, under the limit: the next one joins (80 kB); the rest follow.
    assert_eq!(w.iter().map(Vec::len).collect::<Vec<_>>(), vec![80 * 1024, 40 * 1024 + 4]);
}
