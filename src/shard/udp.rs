//! A shard's UDP listener loop: drain the socket in batches (`mmsg`), feed
//! each datagram to the core, answer the batch with one `sendmmsg`, and
//! park on glommio (io_uring) only when the socket is empty. The wait is
//! `UdpSocket::readable` (our patch of glommio, vendor/glommio/PATCHES.md):
//! a poll on the main ring, one completion per wake, where `peek_from`
//! tried a receive, queued a peek on the latency ring and woke through it.

use super::mmsg::{RecvBatch, SendBatch};
use super::stats::IoDrop;
use super::Shard;
use crate::core::{Dest, Input, Origin, Output, Packet, Transport};
use glommio::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::rc::Rc;

pub async fn serve(shard: Rc<Shard>, listener: u16, sock: Rc<UdpSocket>) {
    let fd = sock.as_raw_fd();
    let mut rx = RecvBatch::new();
    let mut tx = SendBatch::default();
    let mut others: Vec<Output> = Vec::new();
    let coalesce = std::time::Duration::from_micros(shard.config.server.udp_coalesce_us.get());
    // Dense traffic: the last batch held several datagrams, so more are
    // likely within the coalescing window. Sparse traffic never waits.
    let mut dense = false;
    // The last batch was not full: the socket was probably drained, so wait
    // first rather than spend a system call on an empty recvmmsg.
    let mut drained = false;
    loop {
        if drained {
            drained = false;
            if dense && !coalesce.is_zero() {
                // Dense traffic: let a few more datagrams gather instead of
                // paying a reactor turn for each.
                dense = false;
                glommio::timer::sleep(coalesce).await;
            } else if sock.readable().await.is_err() {
                // Wait for the next datagram without taking it.
                shard.stats.borrow_mut().drops.add(IoDrop::UdpRecvError);
            }
        }
        let n = match rx.recv(fd) {
            Ok(0) => {
                drained = true;
                continue;
            }
            Ok(n) => n,
            Err(e) => {
                log::debug!("shard {}: udp recvmmsg: {e}", shard.id);
                shard.stats.borrow_mut().drops.add(IoDrop::UdpRecvError);
                continue;
            }
        };
        if shard.stopping.get() {
            return;
        }
        shard.stats.borrow_mut().udp_batches += 1;
        dense = n >= 2;
        drained = n < super::mmsg::BATCH;
        let now = super::clock::now_ms();
        let mut outs = Vec::new();
        for i in 0..n {
            let (bytes, peer, truncated) = rx.get(i);
            let Some(peer) = peer else { continue };
            if truncated {
                shard.stats.borrow_mut().drops.add(IoDrop::DatagramTruncated);
                continue;
            }
            let origin = Origin { transport: Transport::Udp, listener, peer, flow: None };
            super::io::handle(&shard, now, Input::Packet(Packet { origin, bytes }), &mut outs);
            for o in outs.drain(..) {
                match o {
                    Output::Send { dest: Dest::Udp { listener: l, peer }, bytes } if l == listener => {
                        tx.items.push((peer, bytes))
                    }
                    o => others.push(o),
                }
            }
        }
        flush(&shard, &sock, &mut tx).await;
        if !others.is_empty() {
            super::io::perform(&shard, std::mem::take(&mut others)).await;
        }
        // What the batch left to do once its answers are out (lingering).
        shard.edge.borrow_mut().settle();
    }
}

/// Sends the batch; what the socket cannot take now goes out one by one
/// through glommio, which waits for room.
async fn flush(shard: &Shard, sock: &UdpSocket, tx: &mut SendBatch) {
    if tx.items.is_empty() {
        return;
    }
    if let Err(e) = tx.send(sock.as_raw_fd()) {
        log::debug!("shard {}: udp sendmmsg: {e}", shard.id);
        shard.stats.borrow_mut().drops.add(IoDrop::UdpSendFailed);
        tx.items.remove(0);
    }
    for (peer, bytes) in tx.items.drain(..) {
        if sock.send_to(&bytes, peer).await.is_err() {
            shard.stats.borrow_mut().drops.add(IoDrop::UdpSendFailed);
        }
    }
}
