//! Memory per binding of the location table, and the cost of expiring it.
//!
//! Inserts 1,000,000 AORs with one typical binding each (AOR
//! `sip:+49151XXXXXXXX@example.com`, contact
//! `sip:+49151XXXXXXXX@198.51.100.7:PORT;transport=udp;ob`, 32-char Call-ID,
//! user agent `Linphone/5.2.5 (Android 13)`, no Path), and prints:
//! - RSS growth / 1e6 (from /proc/self/statm), what the machine pays;
//! - live heap growth / 1e6 from a counting global allocator (requested
//!   bytes, before the allocator's size classes), and allocations per binding;
//! - lookup time, then the time to expire all of them second by second
//!   through the wheel, and the RSS left afterwards.
//!
//! The allocator is mimalloc, as in the `sipedge` binary;
//! `SIPEDGE_BENCH_ALLOC=system` selects the system allocator instead.
//! Run: `cargo bench --bench location_memory` (a plain main, harness = false).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use sipedge::core::location::{Binding, Location, NewBinding};
use sipedge::core::Transport;

const N: u64 = 1_000_000;

/// Counts live bytes and allocations on top of mimalloc or the system
/// allocator (chosen once, at the first allocation, from the environment).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// 0: undecided, 1: mimalloc, 2: system.
static MODE: AtomicU8 = AtomicU8::new(0);

fn use_system() -> bool {
    let mut mode = MODE.load(Relaxed);
    if mode == 0 {
        // getenv does not allocate, so it is safe inside the allocator.
        let v = unsafe { libc::getenv(c"SIPEDGE_BENCH_ALLOC".as_ptr()) };
        let system = !v.is_null() && unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() == b"system";
        mode = if system { 2 } else { 1 };
        MODE.store(mode, Relaxed);
    }
    mode == 2
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        if use_system() {
            System.alloc(l)
        } else {
            mimalloc::MiMalloc.alloc(l)
        }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        if use_system() {
            System.alloc_zeroed(l)
        } else {
            mimalloc::MiMalloc.alloc_zeroed(l)
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        if use_system() {
            System.dealloc(p, l)
        } else {
            mimalloc::MiMalloc.dealloc(p, l)
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Relaxed);
        if use_system() {
            System.realloc(p, l, new)
        } else {
            mimalloc::MiMalloc.realloc(p, l, new)
        }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("statm rss");
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

/// Writes the 8 varying digits of binding `k` over `at..at + 8` of `buf`.
fn put_digits(buf: &mut [u8], at: usize, k: u64) {
    let mut v = k;
    for i in (0..8).rev() {
        buf[at + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn main() {
    let now: u64 = 1_760_000_000;
    let ua: &[u8] = b"Linphone/5.2.5 (Android 13)";
    let mut aor = *b"sip:+4915100000000@example.com";
    let mut contact = *b"sip:+4915100000000@198.51.100.7:49152;transport=udp;ob";
    let mut call_id = *b"0000000017c1f2b84a3d9e5c6b7a8f90";
    assert_eq!((aor.len(), call_id.len()), (30, 32));

    let mut loc = Location::new(now);
    let rss0 = rss_bytes();
    let live0 = LIVE.load(Relaxed);
    let allocs0 = ALLOCS.load(Relaxed);
    let t = Instant::now();
    for k in 0..N {
        put_digits(&mut aor, 10, k);
        put_digits(&mut contact, 10, k);
        put_digits(&mut call_id, 0, k.wrapping_mul(2_654_435_761) % 100_000_000);
        let b = NewBinding {
            contact: &contact,
            q: 1000,
            // Spread over 10 minutes, as registrations are.
            expires_at: now + 3600 + k % 600,
            call_id: &call_id,
            cseq: 1,
            source: std::net::SocketAddr::from(([198, 51, 100, 7], 1024 + (k % 60_000) as u16)),
            transport: Transport::Udp,
            flow: None,
            path: &[],
            instance: None,
            reg_id: None,
            user_agent: Some(ua),
            updated: now,
        };
        loc.upsert(&aor, b).expect("fits");
    }
    let insert = t.elapsed();
    let rss1 = rss_bytes();
    let live1 = LIVE.load(Relaxed);
    let allocs1 = ALLOCS.load(Relaxed);
    assert_eq!((loc.aors(), loc.bindings()), (N as usize, N as usize));

    let t = Instant::now();
    let mut found = 0;
    for k in 0..N {
        put_digits(&mut aor, 10, k);
        found += black_box(loc.get(&aor)).len();
    }
    let lookup = t.elapsed();
    assert_eq!(found, N as usize);

    let t = Instant::now();
    let mut expired = 0;
    let mut ticks = 0;
    for s in now + 1..=now + 3600 + 600 {
        expired += loc.expire(s);
        ticks += 1;
    }
    let expire = t.elapsed();
    assert_eq!(expired, N as usize);
    assert_eq!((loc.aors(), loc.bindings(), loc.timers()), (0, 0, 0));
    let rss2 = rss_bytes();
    let live2 = LIVE.load(Relaxed);

    let alloc = if use_system() { "system" } else { "mimalloc" };
    let per = |bytes: f64| bytes / N as f64;
    println!("location_memory: {N} AORs x 1 typical binding, allocator {alloc}");
    println!("  size_of::<Binding>()        {:>8} bytes", std::mem::size_of::<Binding>());
    println!("  RSS growth per binding      {:>8.1} bytes", per(rss1 as f64 - rss0 as f64));
    println!("  live heap per binding       {:>8.1} bytes", per((live1 - live0) as f64));
    println!("  allocations per binding     {:>8.2}", per((allocs1 - allocs0) as f64));
    println!("  insert                      {:>8.1} ns/binding", insert.as_nanos() as f64 / N as f64);
    println!("  lookup (get, hit)           {:>8.1} ns/lookup", lookup.as_nanos() as f64 / N as f64);
    println!(
        "  expire all ({ticks} ticks)     {:>8.1} ms total, {:.1} ns/binding",
        expire.as_secs_f64() * 1e3,
        expire.as_nanos() as f64 / N as f64
    );
    println!(
        "  after expiry: live heap {:.1} MB above start, RSS {:.1} MB above start (kept by the allocator)",
        (live2 - live0) as f64 / 1e6,
        (rss2 as f64 - rss0 as f64) / 1e6
    );
}
