//! A lingering transaction packed into one allocation of exactly its
//! length, and unpacked again into the `Tx` it was: what `pack` keeps is
//! what anything still able to happen to a quiet transaction reads (the
//! module doc of `lingering` says what that is). Built with `core::pack`.
//!
//! ```text
//! key        its length, then the server key: branch, host, port + 1 (0: none),
//!            method (0 INVITE, 1 CANCEL, 2 and the name)
//! branches   how many, then each one's number (the n of z9hG4bK-<shard>-<n>)
//! flags      inside, Record-Route, cancelled, request kept
//! profile    + 1 (0: none)
//! origin     transport, listener, address, connection
//! server     the packed machine (`transaction::packed`)
//! last       the response a retransmission gets (none for an accepted INVITE)
//! request    framing and bytes, when kept (topology hiding, from inside)
//! branch     for each: flags (inside, resolved, provisional, CANCEL),
//!            final code + 1, upstream + 1, next hop, the client machine,
//!            its CANCEL's, the ACK of a 3xx–6xx
//! ```
//!
//! Branches whose client transaction and CANCEL have both ended are not
//! kept: nothing can reach them any more (their keys went when they ended).

use crate::core::owner;
use crate::core::pack::{Reader, Writer};
use crate::core::proxy::route::NextHop;
use crate::core::proxy::state::{Branch, Cancel, Target, Tx};
use crate::core::transaction::{ClientKey, ClientTx, KeyMethod, ServerKey, ServerTx, Timers};
use crate::sip::{Framing, Stored};
use std::collections::VecDeque;

const INSIDE: u8 = 1;
const RECORD_ROUTE: u8 = 2;
const CANCELLED: u8 = 4;
const REQUEST: u8 = 8;

const TARGET_INSIDE: u8 = 1;
const RESOLVED: u8 = 2;
const PROVISIONAL: u8 = 4;
const CANCEL: u8 = 8;

/// A branch is kept while its client transaction or its CANCEL goes on.
fn kept(b: &Branch) -> bool {
    !b.client.is_terminated() || b.cancel.as_ref().is_some_and(|c| !c.client.is_terminated())
}

/// The server key as `pack` writes it (also what a lookup compares).
fn write_key(key: &ServerKey, w: &mut Writer) {
    w.bytes(key.branch().as_bytes());
    w.bytes(key.host().as_bytes());
    w.opt(key.port().map(u64::from));
    match key.method() {
        KeyMethod::Invite => w.u8(0),
        KeyMethod::Cancel => w.u8(1),
        KeyMethod::Other(m) => {
            w.u8(2);
            w.bytes(m.as_bytes());
        }
    }
}

fn read_key(r: &mut Reader<'_>) -> Option<ServerKey> {
    let branch = std::str::from_utf8(r.bytes()?).ok()?;
    let host = std::str::from_utf8(r.bytes()?).ok()?;
    let port = r.opt()?.map(u16::try_from).transpose().ok()?;
    let method = match r.u8()? {
        0 => "INVITE",
        1 => "CANCEL",
        2 => std::str::from_utf8(r.bytes()?).ok()?,
        _ => return None,
    };
    ServerKey::new(branch, host, port, method).ok()
}

fn framing_code(f: Framing) -> u8 {
    match f {
        Framing::Datagram => 0,
        Framing::Stream => 1,
        Framing::HeadersOnly => 2,
    }
}

fn framing_of(code: u8) -> Option<Framing> {
    [Framing::Datagram, Framing::Stream, Framing::HeadersOnly].get(usize::from(code)).copied()
}

/// `tx`, packed. Only for a quiet transaction (`Tx::quiet`): what a busy
/// one still needs (its request for new branches, the targets left, the
/// best answer so far) is not kept.
pub fn pack(tx: &Tx) -> Box<[u8]> {
    let mut w = Writer::new();
    let mut key = Writer::new();
    write_key(&tx.key, &mut key);
    w.bytes(key.as_slice());
    let branches: Vec<&Branch> = tx.branches.iter().filter(|b| kept(b)).collect();
    w.u8(branches.len() as u8);
    for b in &branches {
        w.uint(b.seq);
    }
    let flag = |on: bool, f: u8| if on { f } else { 0 };
    w.u8(flag(tx.inside, INSIDE)
        | flag(tx.record_route, RECORD_ROUTE)
        | flag(tx.cancelled, CANCELLED)
        | flag(tx.request.is_some(), REQUEST));
    w.opt(tx.profile.map(u64::from));
    w.origin(&tx.origin);
    tx.server.pack(&mut w);
    w.bytes(&tx.last);
    if let Some(r) = &tx.request {
        w.u8(framing_code(r.framing()));
        w.bytes(r.bytes());
    }
    for b in branches {
        let cancel = b.cancel.as_ref().filter(|c| !c.client.is_terminated());
        w.u8(flag(b.target.inside, TARGET_INSIDE)
            | flag(b.target.resolved, RESOLVED)
            | flag(b.provisional, PROVISIONAL)
            | flag(cancel.is_some(), CANCEL));
        w.opt(b.final_code.map(u64::from));
        w.opt(b.target.upstream.map(|u| u as u64));
        w.transport(b.target.hop.transport);
        w.addr(b.target.hop.addr);
        w.flow(b.target.hop.flow);
        b.client.pack(&mut w);
        if let Some(c) = cancel {
            c.client.pack(&mut w);
        }
        w.bytes(&b.ack);
    }
    w.finish()
}

/// The server key's packed form, at the start of `record`.
fn key_bytes(record: &[u8]) -> Option<&[u8]> {
    Reader::new(record).bytes()
}

/// Whether `record` is the transaction of `key`.
pub fn has_key(record: &[u8], key: &ServerKey) -> bool {
    let mut w = Writer::new();
    write_key(key, &mut w);
    key_bytes(record) == Some(w.as_slice())
}

/// The server key of `record`.
pub fn key(record: &[u8]) -> Option<ServerKey> {
    read_key(&mut Reader::new(key_bytes(record)?))
}

/// The numbers of the branches `record` keeps.
pub fn seqs(record: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let mut r = Reader::new(record);
    let n = r.bytes().and_then(|_| r.u8()).unwrap_or(0);
    (0..n).map_while(move |_| r.uint())
}

/// The transaction `record` packs; `shard` wrote its branches, `timers`
/// are its machines' durations. None: not a record `pack` wrote.
pub fn unpack(record: &[u8], shard: u16, timers: &Timers) -> Option<Tx> {
    let mut r = Reader::new(record);
    let key = read_key(&mut Reader::new(r.bytes()?))?;
    let seqs: Vec<u64> = (0..r.u8()?).map(|_| r.uint()).collect::<Option<_>>()?;
    let flags = r.u8()?;
    let profile = r.opt()?.map(u16::try_from).transpose().ok()?;
    let origin = r.origin()?;
    let server = ServerTx::unpack(&mut r, timers)?;
    let last = r.bytes()?.to_vec();
    let request = match flags & REQUEST {
        0 => None,
        _ => {
            let framing = framing_of(r.u8()?)?;
            Some(Stored::new(r.bytes()?.to_vec(), framing).ok()?)
        }
    };
    let method = key.method().name().to_string();
    let mut branches = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let bflags = r.u8()?;
        let final_code = r.opt()?.map(u16::try_from).transpose().ok()?;
        let upstream = r.opt()?.map(usize::try_from).transpose().ok()?;
        let hop = NextHop { transport: r.transport()?, addr: r.addr()?, flow: r.flow()? };
        let client = ClientTx::unpack(&mut r, timers)?;
        let cancel = match bflags & CANCEL {
            0 => None,
            _ => Some(Box::new(Cancel { client: ClientTx::unpack(&mut r, timers)?, bytes: Vec::new() })),
        };
        let ack = r.bytes()?.to_vec();
        let mut branch = Vec::with_capacity(32);
        owner::write_branch(shard, seq, &mut branch);
        let key = ClientKey::new(std::str::from_utf8(&branch).ok()?, &method).ok()?;
        let target = Target {
            resolved: bflags & RESOLVED != 0,
            ..Target::at(Vec::new(), Vec::new(), hop, upstream, bflags & TARGET_INSIDE != 0)
        };
        branches.push(Branch {
            seq,
            key,
            client,
            target,
            request: Vec::new(),
            ack,
            cancel,
            provisional: bflags & PROVISIONAL != 0,
            cancel_wanted: false,
            final_code,
            timer_c: 0,
        });
    }
    if !r.is_empty() {
        return None;
    }
    Some(Tx {
        invite: *key.method() == KeyMethod::Invite,
        key,
        server,
        origin,
        request,
        last,
        branches,
        pending: VecDeque::new(),
        best: None,
        cancelled: flags & CANCELLED != 0,
        inside: flags & INSIDE != 0,
        record_route: flags & RECORD_ROUTE != 0,
        lookup: None,
        started_ms: None,
        mid: None,
        held: None,
        profile,
        wake: None,
    })
}
