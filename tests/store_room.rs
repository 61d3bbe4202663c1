//! The store room against a real `redis-server` (started here on a free
//! port, killed on drop): the scripts' §10.3 semantics, invalidations
//! between two nodes, the heartbeat, SIGSTOP/SIGCONT, FLUSHALL, the
//! start-up read-back, and the ways Redis can be wrong (bad URL, garbage,
//! a password we lack). Skipped (passing) when redis-server is missing.

use sipedge::config::{Bounded, Cluster, NodeName, RedisUrls};
use sipedge::core::location::shared::{
    binding_key, decode_all, encode_json, ClusterEvent, SharedContact, StoreWrite, WriteKind,
};
use sipedge::core::location::{Location, NewBinding};
use sipedge::core::owner::shard_of;
use sipedge::core::{Answer, Ask, Transport};
use sipedge::services::store::{start, StoreEvent, StoreRoom};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const REDIS: &str = "/usr/bin/redis-server";
const WAIT: Duration = Duration::from_secs(10);

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(extra: &[&str]) -> Option<Redis> {
        if !std::path::Path::new(REDIS).exists() {
            eprintln!("skipped: no {REDIS}");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(REDIS)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        let r = Redis { child, port };
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t0.elapsed() < WAIT, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(r)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn signal(&self, sig: &str) {
        Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap();
    }

    /// One command over RESP, its reply line(s) as text (enough for tests).
    fn cli(&self, args: &[&str]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(out.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        line
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cfg(node: &str, urls: Vec<String>, timeout_ms: u64) -> Cluster {
    Cluster {
        enabled: true,
        node: NodeName(node.into()),
        redis: RedisUrls(urls),
        peer_addr: Some("127.0.0.1:5070".parse().unwrap()),
        redis_timeout_ms: Bounded(timeout_ms),
        heartbeat_ms: Bounded(200),
        liveness_ms: Bounded(2000),
        ..Cluster::default()
    }
}

static TOKEN: AtomicU64 = AtomicU64::new(1);
static AOR: AtomicU64 = AtomicU64::new(1);

fn fresh_aor() -> Vec<u8> {
    format!("user{}-{}@example.com", AOR.fetch_add(1, Ordering::Relaxed), std::process::id()).into_bytes()
}

struct Room {
    room: StoreRoom,
    shards: usize,
    /// Events read while waiting for another, per shard, in order.
    backlog: RefCell<Vec<VecDeque<StoreEvent>>>,
}

impl Room {
    fn start(c: &Cluster) -> Room {
        Room { room: start(c, 2), shards: 2, backlog: RefCell::new(vec![VecDeque::new(), VecDeque::new()]) }
    }

    /// The first event of `shard` that `f` picks, within `WAIT`; the others
    /// stay for later waits.
    fn wait_event(&self, shard: usize, f: impl FnMut(&StoreEvent) -> bool) -> Option<StoreEvent> {
        self.wait_event_for(shard, WAIT, f)
    }

    fn wait_event_for(&self, shard: usize, d: Duration, mut f: impl FnMut(&StoreEvent) -> bool) -> Option<StoreEvent> {
        {
            let mut backlog = self.backlog.borrow_mut();
            if let Some(i) = backlog[shard].iter().position(&mut f) {
                return backlog[shard].remove(i);
            }
        }
        let end = &self.room.ends[shard];
        let t0 = Instant::now();
        while t0.elapsed() < d {
            let mut bell = [0u8; 64];
            let _ = (&end.doorbell).read(&mut bell);
            if let Ok(ev) = end.events.recv_timeout(Duration::from_millis(50)) {
                if f(&ev) {
                    return Some(ev);
                }
                self.backlog.borrow_mut()[shard].push_back(ev);
            }
        }
        None
    }

    fn ask(&self, aor: &[u8], ask: Ask) -> Answer {
        let shard = shard_of(aor, self.shards);
        let token = TOKEN.fetch_add(1, Ordering::Relaxed);
        assert!(self.room.handle.ask(shard as u16, token, ask), "refused");
        match self.wait_event(shard, |ev| matches!(ev, StoreEvent::Answer { token: t, .. } if *t == token)) {
            Some(StoreEvent::Answer { answer, .. }) => answer,
            _ => panic!("no answer"),
        }
    }

    fn store(&self, w: StoreWrite) -> Answer {
        let aor = w.aor.clone();
        self.ask(&aor, Ask::Store(Box::new(w)))
    }

    fn fetch(&self, aor: &[u8]) -> Vec<Vec<u8>> {
        match self.ask(aor, Ask::Fetch { aor: aor.to_vec() }) {
            Answer::Fetched(f) => {
                let mut v = f.values;
                v.sort();
                v
            }
            other => panic!("fetch answered {other:?}"),
        }
    }

    fn wait_up(&self) {
        let t0 = Instant::now();
        while !self.room.handle.status().redis_up {
            assert!(t0.elapsed() < WAIT, "Redis never up: {:?}", self.room.handle.status());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn json(aor: &[u8], contact: &[u8]) -> Vec<u8> {
    let mut loc = Location::new(1_000);
    let nb = NewBinding {
        contact,
        q: 1000,
        expires_at: 5_000,
        call_id: b"c",
        cseq: 1,
        source: "192.0.2.1:5060".parse().unwrap(),
        transport: Transport::Udp,
        flow: None,
        path: &[],
        instance: None,
        reg_id: None,
        user_agent: Some(b"test"),
        updated: 1_000,
    };
    loc.upsert(aor, nb).unwrap();
    encode_json(&loc.get(aor)[0], None)
}

fn contact(aor: &[u8], uri: &str, expires: u32) -> SharedContact {
    SharedContact {
        key: binding_key(uri.as_bytes(), None, None),
        expires,
        call_id: Vec::new(),
        cseq: 0,
        json: if expires > 0 { json(aor, uri.as_bytes()) } else { Vec::new() },
    }
}

fn register(aor: &[u8], call_id: &str, cseq: u32, contacts: Vec<SharedContact>) -> StoreWrite {
    StoreWrite {
        aor: aor.to_vec(),
        kind: WriteKind::Register {
            call_id: call_id.as_bytes().to_vec(),
            cseq,
            wildcard: false,
            max_contacts: 10,
            replace_oldest: false,
            contacts,
        },
    }
}

fn stored(a: Answer) -> Vec<String> {
    match a {
        Answer::Stored(Ok(f)) => {
            let (list, bad) = decode_all(&f, f.store_now);
            assert_eq!(bad, 0);
            let mut c: Vec<String> =
                list.iter().map(|b| String::from_utf8_lossy(b.binding.contact()).into_owned()).collect();
            c.sort();
            c
        }
        other => panic!("store answered {other:?}"),
    }
}

fn refused(a: Answer) -> u16 {
    match a {
        Answer::Stored(Err(r)) => r.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn register_semantics() {
    let Some(redis) = Redis::start(&[]) else { return };
    let r = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    r.wait_up();
    let aor = fresh_aor();
    let a = "sip:a@192.0.2.1";
    let b = "sip:b@192.0.2.2";
    // Adds.
    assert_eq!(stored(r.store(register(&aor, "c1", 1, vec![contact(&aor, a, 60)]))), vec![a]);
    assert_eq!(stored(r.store(register(&aor, "c2", 1, vec![contact(&aor, b, 60)]))), vec![a, b]);
    // Refreshes (higher CSeq).
    assert_eq!(stored(r.store(register(&aor, "c1", 2, vec![contact(&aor, a, 120)]))), vec![a, b]);
    let before = r.fetch(&aor);
    // Out of order: refused, nothing changed.
    assert_eq!(refused(r.store(register(&aor, "c1", 1, vec![contact(&aor, a, 0)]))), 500);
    assert_eq!(r.fetch(&aor), before);
    // Equal CSeq: a retransmission, nothing changed even though it removes.
    assert_eq!(stored(r.store(register(&aor, "c1", 2, vec![contact(&aor, a, 0)]))), vec![a, b]);
    assert_eq!(r.fetch(&aor), before);
    // Removes.
    assert_eq!(stored(r.store(register(&aor, "c1", 3, vec![contact(&aor, a, 0)]))), vec![b]);
    // Wildcard removes every binding.
    let mut w = register(&aor, "c3", 1, vec![]);
    if let WriteKind::Register { wildcard, .. } = &mut w.kind {
        *wildcard = true;
    }
    assert!(stored(r.store(w)).is_empty());
    assert!(r.fetch(&aor).is_empty());
    assert_eq!(redis.cli(&["EXISTS", &format!("sipedge:loc:{{{}}}", String::from_utf8_lossy(&aor))]), ":0\r\n");
}

#[test]
fn max_contacts_refuse_or_replace_oldest() {
    let Some(redis) = Redis::start(&[]) else { return };
    let r = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    r.wait_up();
    let aor = fresh_aor();
    let limited = |call: &str, uri: &str, replace: bool| {
        let mut w = register(&aor, call, 1, vec![contact(&aor, uri, 60)]);
        if let WriteKind::Register { max_contacts, replace_oldest, .. } = &mut w.kind {
            *max_contacts = 2;
            *replace_oldest = replace;
        }
        w
    };
    stored(r.store(limited("c1", "sip:1@h", false)));
    // `updated` has a one-second grain: make the first one the oldest.
    std::thread::sleep(Duration::from_millis(1100));
    stored(r.store(limited("c2", "sip:2@h", false)));
    let before = r.fetch(&aor);
    assert_eq!(refused(r.store(limited("c3", "sip:3@h", false))), 403);
    assert_eq!(r.fetch(&aor), before);
    assert_eq!(stored(r.store(limited("c3", "sip:3@h", true))), vec!["sip:2@h", "sip:3@h"]);
}

#[test]
fn assert_keeps_a_higher_cseq_of_another_node_and_drops_its_own_unlisted() {
    let Some(redis) = Redis::start(&[]) else { return };
    let a = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    let b = Room::start(&cfg("edge-b", vec![redis.url()], 500));
    a.wait_up();
    b.wait_up();
    let aor = fresh_aor();
    // edge-b registers x with CSeq 5; edge-a holds y.
    stored(b.store(register(&aor, "cx", 5, vec![contact(&aor, "sip:x@h", 60)])));
    stored(a.store(register(&aor, "cy", 1, vec![contact(&aor, "sip:y@h", 60)])));
    // edge-a asserts x with an older CSeq of the same Call-ID and z; y unlisted.
    let mut x = contact(&aor, "sip:x@h", 60);
    x.call_id = b"cx".to_vec();
    x.cseq = 4;
    let mut z = contact(&aor, "sip:z@h", 60);
    z.call_id = b"cz".to_vec();
    z.cseq = 1;
    let w = StoreWrite { aor: aor.clone(), kind: WriteKind::Assert { bindings: vec![x, z] } };
    let answer = a.store(w);
    let Answer::Stored(Ok(f)) = answer else { panic!("{answer:?}") };
    let (list, _) = decode_all(&f, f.store_now);
    let mut seen: Vec<(String, String)> =
        list.iter().map(|b| (String::from_utf8_lossy(b.binding.contact()).into_owned(), b.node.clone())).collect();
    seen.sort();
    assert_eq!(seen, vec![("sip:x@h".into(), "edge-b".into()), ("sip:z@h".into(), "edge-a".into())]);
}

#[test]
fn fetch_filters_expired() {
    let Some(redis) = Redis::start(&[]) else { return };
    let r = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    r.wait_up();
    let aor = fresh_aor();
    stored(r.store(register(&aor, "c1", 1, vec![contact(&aor, "sip:short@h", 1), contact(&aor, "sip:long@h", 60)])));
    let t0 = Instant::now();
    while r.fetch(&aor).len() != 1 {
        assert!(t0.elapsed() < WAIT, "the expired binding stayed");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(t0.elapsed() >= Duration::from_millis(900) || r.fetch(&aor).len() == 1);
}

#[test]
fn invalidations_reach_the_owner_shard_only_from_another_node_and_peers_list_both() {
    let Some(redis) = Redis::start(&[]) else { return };
    let a = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    let b = Room::start(&cfg("edge-b", vec![redis.url()], 500));
    a.wait_up();
    b.wait_up();
    // Each room flushes its shards' caches when its subscription is made.
    for room in [&a, &b] {
        for shard in 0..2 {
            assert!(room.wait_event(shard, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::FlushCache))).is_some());
        }
    }
    let aor = fresh_aor();
    let owner = shard_of(&aor, 2);
    stored(a.store(register(&aor, "c1", 1, vec![contact(&aor, "sip:a@h", 60)])));
    let got = b.wait_event(owner, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::Invalidate { .. })));
    let Some(StoreEvent::Cluster(ClusterEvent::Invalidate { aor: got })) = got else { panic!("no invalidation") };
    assert_eq!(got, aor);
    // edge-a never hears of its own change.
    // edge-a never hears of its own change: by the time it lists both
    // peers, no invalidation of the AOR has come.
    let own = a.wait_event(owner, |ev| {
        matches!(ev, StoreEvent::Cluster(ClusterEvent::Invalidate { aor: x }) if *x == aor)
            || matches!(ev, StoreEvent::Cluster(ClusterEvent::Peers(p)) if p.len() == 2)
    });
    assert!(matches!(own, Some(StoreEvent::Cluster(ClusterEvent::Peers(_)))), "{own:?}");
    let mut nodes = Vec::new();
    let t0 = Instant::now();
    while nodes != ["edge-a", "edge-b"] {
        assert!(t0.elapsed() < WAIT, "peers: {:?}", a.room.handle.status());
        nodes = a.room.handle.status().peers.iter().map(|p| p.0.clone()).collect();
        std::thread::sleep(Duration::from_millis(50));
    }
    let peers = b.wait_event(0, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::Peers(p)) if p.len() == 2));
    let Some(StoreEvent::Cluster(ClusterEvent::Peers(peers))) = peers else { panic!("no Peers with both") };
    let peers: Vec<String> = peers.into_iter().map(|p| p.node).collect();
    assert_eq!(peers, ["edge-a", "edge-b"]);
}

#[test]
fn a_stopped_redis_is_down_fast_and_up_again() {
    let Some(redis) = Redis::start(&[]) else { return };
    let timeout = 300;
    let r = Room::start(&cfg("edge-a", vec![redis.url()], timeout));
    r.wait_up();
    let aor = fresh_aor();
    stored(r.store(register(&aor, "c1", 1, vec![contact(&aor, "sip:a@h", 60)])));
    let shard = shard_of(&aor, 2);
    // The first contact's StoreUp, out of the way.
    let first = r.wait_event(shard, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::StoreUp { .. })));
    assert!(first.is_some());
    redis.signal("-STOP");
    let t0 = Instant::now();
    let a = r.store(register(&aor, "c1", 2, vec![contact(&aor, "sip:a@h", 60)]));
    assert!(matches!(a, Answer::Unreachable), "{a:?}");
    // One read deadline, plus slack for a loaded machine.
    assert!(t0.elapsed() < Duration::from_millis(3 * timeout + 1500), "{:?}", t0.elapsed());
    assert!(r.wait_event(shard, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::StoreDown))).is_some());
    // While down: answered at once.
    let t1 = Instant::now();
    assert!(matches!(r.fetch_raw(&aor), Answer::Unreachable));
    assert!(t1.elapsed() < Duration::from_millis(4 * timeout + 1500), "{:?}", t1.elapsed());
    assert!(!r.room.handle.status().redis_up);
    assert!(r.room.handle.status().last_error.is_some());
    redis.signal("-CONT");
    let up = r.wait_event(shard, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::StoreUp { .. })));
    assert!(matches!(up, Some(StoreEvent::Cluster(ClusterEvent::StoreUp { lost_data: false }))), "{up:?}");
    assert_eq!(r.fetch(&aor).len(), 1);
}

impl Room {
    fn fetch_raw(&self, aor: &[u8]) -> Answer {
        self.ask(aor, Ask::Fetch { aor: aor.to_vec() })
    }
}

#[test]
fn flushall_is_data_loss() {
    let Some(redis) = Redis::start(&[]) else { return };
    let r = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    r.wait_up();
    assert!(r
        .wait_event(1, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::StoreUp { lost_data: false })))
        .is_some());
    assert_eq!(redis.cli(&["FLUSHALL"]), "+OK\r\n");
    let lost = r.wait_event(1, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::StoreUp { .. })));
    assert!(matches!(lost, Some(StoreEvent::Cluster(ClusterEvent::StoreUp { lost_data: true }))), "{lost:?}");
}

#[test]
fn restore_reads_back_this_nodes_aors() {
    let Some(redis) = Redis::start(&[]) else { return };
    let aors: Vec<Vec<u8>> = (0..20).map(|_| fresh_aor()).collect();
    {
        let a = Room::start(&cfg("edge-a", vec![redis.url()], 500));
        let b = Room::start(&cfg("edge-b", vec![redis.url()], 500));
        a.wait_up();
        b.wait_up();
        for aor in &aors {
            stored(a.store(register(aor, "c1", 1, vec![contact(aor, "sip:a@h", 60)])));
        }
        // edge-b takes over the first one: edge-a no longer holds it.
        let mut w = register(&aors[0], "c1", 2, vec![contact(&aors[0], "sip:a@h", 0)]);
        if let WriteKind::Register { contacts, .. } = &mut w.kind {
            contacts.push(contact(&aors[0], "sip:b@h", 60));
        }
        assert_eq!(stored(b.store(w)), vec!["sip:b@h"]);
    }
    let a = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    let mut got = Vec::new();
    for shard in 0..2 {
        while let Some(StoreEvent::Cluster(ClusterEvent::Restore { aor, fetched })) =
            a.wait_event_for(shard, Duration::from_secs(3), |ev| {
                matches!(ev, StoreEvent::Cluster(ClusterEvent::Restore { .. }))
            })
        {
            assert_eq!(shard, shard_of(&aor, 2));
            assert_eq!(fetched.values.len(), 1);
            got.push(aor);
        }
    }
    got.sort();
    let mut want = aors[1..].to_vec();
    want.sort();
    assert_eq!(got, want);
}

/// Asks are answered `Unreachable` and the status says why.
fn degraded(c: &Cluster) {
    let r = Room::start(c);
    let aor = fresh_aor();
    let t0 = Instant::now();
    loop {
        let a = r.store(register(&aor, "c1", 1, vec![contact(&aor, "sip:a@h", 60)]));
        assert!(matches!(a, Answer::Unreachable), "{a:?}");
        if r.room.handle.status().last_error.is_some() {
            break;
        }
        assert!(t0.elapsed() < WAIT);
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = r.room.handle.status();
    assert!(!s.redis_up);
    assert!(!s.last_error.unwrap().is_empty());
    assert!(r.room.handle.registrations(&aor).is_err());
    assert!(r.wait_event(0, |ev| matches!(ev, StoreEvent::Cluster(ClusterEvent::StoreDown))).is_some());
}

#[test]
fn a_wrong_url_is_degraded_not_fatal() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    degraded(&cfg("edge-a", vec![format!("redis://127.0.0.1:{port}/")], 200));
    degraded(&cfg("edge-a", vec!["redis://no-such-host.invalid:6379/".into()], 200));
}

#[test]
fn a_server_answering_garbage_is_degraded_not_fatal() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\xff garbage\r\n").is_err() {
                        break;
                    }
                }
            });
        }
    });
    degraded(&cfg("edge-a", vec![format!("redis://127.0.0.1:{port}/")], 200));
}

#[test]
fn a_password_we_lack_is_degraded_not_fatal() {
    let Some(redis) = Redis::start(&["--requirepass", "sekrit"]) else { return };
    degraded(&cfg("edge-a", vec![redis.url()], 200));
    let wrong = format!("redis://:wrong@127.0.0.1:{}/", redis.port);
    degraded(&cfg("edge-a", vec![wrong], 200));
    // With it, it works.
    let right = format!("redis://:sekrit@127.0.0.1:{}/", redis.port);
    let r = Room::start(&cfg("edge-a", vec![right], 500));
    r.wait_up();
    let aor = fresh_aor();
    stored(r.store(register(&aor, "c1", 1, vec![contact(&aor, "sip:a@h", 60)])));
    let f = r.room.handle.registrations(&aor).unwrap();
    assert_eq!(f.values.len(), 1);
}

#[test]
fn nosript_after_script_flush_is_reloaded() {
    let Some(redis) = Redis::start(&[]) else { return };
    let r = Room::start(&cfg("edge-a", vec![redis.url()], 500));
    r.wait_up();
    assert_eq!(redis.cli(&["SCRIPT", "FLUSH"]), "+OK\r\n");
    let aor = fresh_aor();
    assert_eq!(stored(r.store(register(&aor, "c1", 1, vec![contact(&aor, "sip:a@h", 60)]))), vec!["sip:a@h"]);
}

#[test]
fn pipelined_round_trips_measured() {
    let Some(redis) = Redis::start(&[]) else { return };
    let r = Room::start(&cfg("edge-a", vec![redis.url()], 1000));
    r.wait_up();
    let aors: Vec<Vec<u8>> = (0..2000).map(|_| fresh_aor()).collect();
    let t0 = Instant::now();
    let mut want = std::collections::HashSet::new();
    for aor in &aors {
        let token = TOKEN.fetch_add(1, Ordering::Relaxed);
        let shard = shard_of(aor, 2);
        assert!(r.room.handle.ask(
            shard as u16,
            token,
            Ask::Store(Box::new(register(aor, "c1", 1, vec![contact(aor, "sip:a@h", 60)])))
        ));
        want.insert(token);
    }
    let mut ok = 0;
    for shard in 0..2 {
        while let Some(StoreEvent::Answer { answer, .. }) = r.wait_event_for(
            shard,
            Duration::from_secs(2),
            |ev| matches!(ev, StoreEvent::Answer { token, .. } if want.contains(token)),
        ) {
            ok += usize::from(matches!(answer, Answer::Stored(Ok(_))));
        }
    }
    eprintln!("2000 registers stored in {:?} (answers drained with a 2 s idle tail)", t0.elapsed());
    assert_eq!(ok, 2000);
    // One alone.
    let aor = fresh_aor();
    let t1 = Instant::now();
    let n = 200;
    for i in 0..n {
        stored(r.store(register(&aor, "c1", i + 1, vec![contact(&aor, "sip:a@h", 60)])));
    }
    eprintln!("one register round trip (ask → answer): {:?} on average", t1.elapsed() / n);
}
