//! The transactions that only linger: their final answer sent, every
//! branch answered, nothing left to forward. RFC 3261 §17 keeps them for
//! a while (64·T1 for most) so that retransmissions are absorbed: a server
//! transaction answers a retransmitted request with its final answer again
//! (non-INVITE, INVITE 3xx–6xx until the ACK; Timer G resends it), absorbs
//! INVITE and ACK retransmissions (Accepted, Confirmed); a client one
//! absorbs retransmitted answers (Timer K), resends its ACK for a
//! retransmitted 3xx–6xx (Timer D), relays a retransmitted 2xx through the
//! transaction (Timer M, RFC 6026). At thousands of calls a second this is
//! most of a shard's transactions, so here each is one packed record
//! (`record.rs`) holding only what that needs: the server key, its branches'
//! numbers, the machines (no `Timers` copy), where answers go, the last
//! answer where the RFC resends it, each branch's next hop and ACK.
//!
//! Owns: the records, their expiry and the two indexes that find them. The
//! records are the entries of a [`CancellableWheel`], each at its earliest
//! deadline: the wheel node is the record's slot and its handle the
//! record's name, so there is no separate table or wheel entry. The server
//! index maps a keyed SipHash of the server key to the node (the key itself
//! is compared in the record, so matching is exact); the client index maps
//! a branch's number (`z9hG4bK-<shard>-<n>`, unique per shard) to it. Each
//! index entry keeps 32 bits of its key's hash beside the node (`Entry`),
//! and the index hashes entries from those bits alone: a part of an index
//! that grows or clears its tombstones rehashes every entry, and reading
//! each record back for its key (cold, at 128,000 records) made those
//! rehashes 0.25–0.5 ms pauses of the shard, ten a second at 2,000 calls/s.
//!
//! Nothing here decides anything: `core::edge::linger` moves a quiet
//! transaction in, unpacks it into the `Tx` it was for each thing that
//! happens to it, runs the live step on it and packs it again.
//!
//! Memory, measured (`proxy_tests::steady`, calls INVITE…BYE through the
//! edge, every transaction lingering): 289 bytes a transaction, all tables
//! included; the breakdown is on `state::Tx`.

mod record;

use record::{has_key, key, pack, seqs, unpack};

use super::state::Tx;
use crate::core::split_map::SplitTable;
use crate::core::timer::cancellable::{CancellableWheel, TimerHandle};
use crate::core::transaction::{ServerKey, Timers};
use std::hash::{BuildHasher, RandomState};

/// The lingering transactions of a shard.
pub struct Lingering {
    /// The records, in wheel slots (`WHEEL_MS`) at their earliest deadline.
    records: Records,
    /// Keyed hash of the server key → node (`Entry::server`).
    servers: SplitTable<Entry>,
    /// Branch number → node and place of the number in the record
    /// (`Entry::client`).
    clients: SplitTable<Entry>,
    hasher: RandomState,
}

/// An index entry: the record's node and `tag`, from which the index
/// hashes the entry without reading the record (`Entry::server_hash`,
/// `Entry::client_hash`). Server index: the top 32 bits of the server
/// key's keyed hash. Client index: which of the record's branch numbers
/// filed it (top 8 bits) and 24 bits of that number's hash. Lookups
/// compare the tag before the record.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    node: u32,
    tag: u32,
}

const CLIENT_BITS: u32 = 0x00ff_ffff;

impl Entry {
    /// The server index's entry for a server key hashed to `h`.
    fn server(node: u32, h: u64) -> Entry {
        Entry { node, tag: key_bits(h) }
    }

    /// The client index's entry for branch number `nth` of a record, `seq`.
    fn client(node: u32, nth: u8, seq: u64) -> Entry {
        Entry { node, tag: u32::from(nth) << 24 | seq_bits(seq) }
    }

    /// Which of its record's branch numbers a client entry stands for.
    fn nth(self) -> usize {
        (self.tag >> 24) as usize
    }

    /// What a server entry is hashed by in its index.
    fn server_hash(self) -> u64 {
        index_hash(self.tag)
    }

    /// What a client entry is hashed by in its index (its number's bits).
    fn client_hash(self) -> u64 {
        index_hash(self.tag & CLIENT_BITS)
    }
}

/// The 32 bits of a server key's keyed hash `h` that its entry keeps.
fn key_bits(h: u64) -> u32 {
    (h >> 32) as u32
}

/// The 24 bits of a branch number's hash that its client entries keep.
fn seq_bits(seq: u64) -> u32 {
    (seq_hash(seq) >> 32) as u32 & CLIENT_BITS
}

/// What the indexes hash an entry by: the bits it keeps, mixed again so
/// that they fill the part number and hashbrown's bits.
fn index_hash(bits: u32) -> u64 {
    seq_hash(u64::from(bits))
}

/// The client index's hash of a branch number (they are consecutive: mixed
/// so the parts and buckets spread; splitmix64's finaliser).
fn seq_hash(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

type Records = CancellableWheel<Box<[u8]>>;

/// The record in node `i`.
fn record_at(records: &Records, i: u32) -> Option<&[u8]> {
    records.handle_at(i).and_then(|h| records.get(h)).map(|r| &r[..])
}

/// The branch number a client index entry was filed under.
fn filed_seq(records: &Records, f: Entry) -> Option<u64> {
    seqs(record_at(records, f.node)?).nth(f.nth())
}

impl Lingering {
    /// An empty table whose present is wheel slot `now`.
    pub fn new(now: u64) -> Lingering {
        Lingering {
            records: CancellableWheel::new(now, 4096),
            servers: SplitTable::default(),
            clients: SplitTable::default(),
            hasher: RandomState::new(),
        }
    }

    /// Lingering transactions (each has one wheel entry).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The wheel's present (slot).
    pub fn now(&self) -> u64 {
        self.records.now()
    }

    /// The slot of the earliest record due (see `CancellableWheel::next_due`).
    pub fn next_due(&self) -> Option<u64> {
        self.records.next_due()
    }

    /// Every record due at slot `now` (each stays until updated or removed).
    pub fn due(&mut self, now: u64, out: &mut Vec<TimerHandle>) {
        self.records.due(now, out);
    }

    /// Takes `tx` in, packed, due at `slot`; its name.
    pub fn insert(&mut self, tx: &Tx, slot: u64) -> TimerHandle {
        let h = self.records.schedule(slot, pack(tx));
        let e = Entry::server(h.node(), self.hasher.hash_one(&tx.key));
        self.servers.insert_unique(e.server_hash(), e, |e| e.server_hash());
        self.file_clients(h.node());
        h
    }

    /// The lingering transaction of server key `key`.
    pub fn server(&self, key: &ServerKey) -> Option<TimerHandle> {
        let records = &self.records;
        let want = key_bits(self.hasher.hash_one(key));
        let found = self
            .servers
            .find(index_hash(want), |e| e.tag == want && record_at(records, e.node).is_some_and(|r| has_key(r, key)))?;
        self.records.handle_at(found.node)
    }

    /// The lingering transaction with a branch numbered `seq`.
    pub fn client(&self, seq: u64) -> Option<TimerHandle> {
        let records = &self.records;
        let want = seq_bits(seq);
        let found = self
            .clients
            .find(index_hash(want), |&f| f.tag & CLIENT_BITS == want && filed_seq(records, f) == Some(seq))?;
        self.records.handle_at(found.node)
    }

    /// The transaction record `h` packs (see `record::unpack`).
    pub fn unpack(&self, h: TimerHandle, shard: u16, timers: &Timers) -> Option<Tx> {
        unpack(self.records.get(h)?, shard, timers)
    }

    /// After a step of `h`: `tx` packed again in its place, due at `slot`;
    /// the branches it no longer keeps are no longer found.
    pub fn update(&mut self, h: TimerHandle, tx: &Tx, slot: u64) {
        let Some(record) = self.records.get_mut(h) else { return };
        let old = std::mem::replace(record, pack(tx));
        if !seqs(&old).eq(seqs(record)) {
            self.unfile_clients(h.node(), &old);
            self.file_clients(h.node());
        }
        self.records.reschedule(h, slot);
    }

    /// Forgets record `h` and every key that finds it.
    pub fn remove(&mut self, h: TimerHandle) {
        let Some(record) = self.records.cancel(h) else { return };
        if let Some(k) = key(&record) {
            let e = Entry::server(h.node(), self.hasher.hash_one(&k));
            self.servers.remove(e.server_hash(), |x| *x == e);
        }
        self.unfile_clients(h.node(), &record);
    }

    /// Files every branch number of the record in node `node`.
    fn file_clients(&mut self, node: u32) {
        let records = &self.records;
        let Some(record) = record_at(records, node) else { return };
        for (nth, seq) in seqs(record).enumerate() {
            let f = Entry::client(node, nth as u8, seq);
            self.clients.insert_unique(f.client_hash(), f, |f| f.client_hash());
        }
    }

    /// Takes out the client index entries of node `node` for the branch
    /// numbers of `record` (what the node held when they were filed).
    fn unfile_clients(&mut self, node: u32, record: &[u8]) {
        for (nth, seq) in seqs(record).enumerate() {
            let filed = Entry::client(node, nth as u8, seq);
            self.clients.remove(filed.client_hash(), |f| *f == filed);
        }
    }

    /// Bytes of the records themselves (their allocations, not their slots).
    pub fn record_bytes(&self) -> usize {
        (0..self.records.capacity() as u32).filter_map(|i| record_at(&self.records, i)).map(<[u8]>::len).sum()
    }

    /// Keys filed in the two indexes (server keys, branch numbers).
    pub fn keys(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    /// Bytes the two indexes hold.
    pub fn index_bytes(&self) -> usize {
        self.servers.allocated() + self.clients.allocated()
    }
}
