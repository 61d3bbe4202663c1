//! Per-message costs of the wire layer: scan + check + response build for a
//! typical REGISTER, an INVITE with SDP and a 200 OK, with rsip's parse of
//! the same REGISTER for comparison. A counting global allocator reports
//! allocations per operation before the criterion runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use sipedge::sip::{check_request, check_response, scan, write_response, Editor, Framing, HeaderName};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const REGISTER: &[u8] = b"REGISTER sip:sip.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-524287-1---a8e1d3c9f0b2e4a1\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:alice@192.0.2.10:5060;rinstance=9f8e7d6c5b4a3921;transport=UDP>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\r\n\
To: \"Alice\" <sip:alice@sip.example.net>\r\n\
From: \"Alice\" <sip:alice@sip.example.net>;tag=4f1e2d3c\r\n\
Call-ID: ZDQ1YjA4NGY3NjYxZGQ3NmI0Njg0YTg4ZjE1YzM0MjM\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, outbound, path, gruu\r\n\
User-Agent: Zoiper rv2.10.19.6\r\n\
Allow-Events: presence, kpml, talk\r\n\
Content-Length: 0\r\n\r\n";

const INVITE: &[u8] = b"INVITE sip:bob@sip.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-d8754z-77a1b2c3\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:alice@192.0.2.10:5060>\r\n\
To: <sip:bob@sip.example.net>\r\n\
From: \"Alice\" <sip:alice@sip.example.net>;tag=8a7b6c5d\r\n\
Call-ID: NjA0ZjE2YTk3YjIxOGQ0ZWFiNzQ0YjY2ZDA0OGQ5NzE\r\n\
CSeq: 1 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO\r\n\
Content-Type: application/sdp\r\n\
Supported: replaces, timer\r\n\
User-Agent: Zoiper rv2.10.19.6\r\n\
Content-Length: 237\r\n\r\n\
v=0\r\n\
o=Z 0 0 IN IP4 192.0.2.10\r\n\
s=Z\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 8000 RTP/AVP 106 9 98 101 0 8 3\r\n\
a=rtpmap:106 opus/48000/2\r\n\
a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1\r\n\
a=rtpmap:98 telephone-event/48000\r\n\
a=sendrecv\r\n";

const OK200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;branch=z9hG4bK-524287-1---a8e1d3c9f0b2e4a1;received=198.51.100.7\r\n\
Contact: <sip:alice@198.51.100.7:5060;rinstance=9f8e7d6c5b4a3921>;expires=3600\r\n\
To: \"Alice\" <sip:alice@sip.example.net>;tag=as5b1c2d3e\r\n\
From: \"Alice\" <sip:alice@sip.example.net>;tag=4f1e2d3c\r\n\
Call-ID: ZDQ1YjA4NGY3NjYxZGQ3NmI0Njg0YTg4ZjE1YzM0MjM\r\n\
CSeq: 2 REGISTER\r\n\
Server: sipedge\r\n\
Content-Length: 0\r\n\r\n";

fn parse_check(b: &[u8]) -> usize {
    let m = scan(black_box(b), Framing::Datagram).unwrap().complete().unwrap();
    let e = check_request(&m).unwrap();
    m.headers().len() + e.cseq as usize
}

fn respond(b: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let m = scan(black_box(b), Framing::Datagram).unwrap().complete().unwrap();
    let e = check_request(&m).unwrap();
    write_response(
        &m,
        Some(&e),
        200,
        "OK",
        Some(b"edge-1a2b3c"),
        Some(("198.51.100.7".parse().unwrap(), 40123)),
        &[("Expires", b"3600")],
        b"",
        out,
    );
}

fn forward(b: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let m = scan(black_box(b), Framing::Datagram).unwrap().complete().unwrap();
    let mut ed = Editor::new(&m);
    ed.insert_header_first("Via", b"SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKedge1");
    ed.insert_header_first("Record-Route", b"<sip:203.0.113.1;lr>");
    if let Some(i) = m.position(HeaderName::MaxForwards) {
        ed.replace_value(i, b"69");
    }
    ed.write(out);
}

fn allocs_of(f: impl Fn()) -> usize {
    f(); // warm
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..100 {
        f();
    }
    (ALLOCS.load(Ordering::Relaxed) - before) / 100
}

fn bench(c: &mut Criterion) {
    let mut out = Vec::with_capacity(4096);
    let cell = std::cell::RefCell::new(Vec::with_capacity(4096));
    eprintln!("REGISTER is {} bytes, INVITE {} bytes, 200 OK {} bytes", REGISTER.len(), INVITE.len(), OK200.len());
    eprintln!("allocations per op:");
    eprintln!(
        "  scan+check REGISTER   {}",
        allocs_of(|| {
            black_box(parse_check(REGISTER));
        })
    );
    eprintln!("  respond REGISTER      {}", allocs_of(|| respond(REGISTER, &mut cell.borrow_mut())));
    eprintln!("  forward INVITE        {}", allocs_of(|| forward(INVITE, &mut cell.borrow_mut())));
    eprintln!(
        "  rsip parse REGISTER   {}",
        allocs_of(|| {
            black_box(rsip::SipMessage::try_from(REGISTER).unwrap());
        })
    );

    let mut g = c.benchmark_group("sip_wire");
    g.bench_function("scan REGISTER", |b| {
        b.iter(|| scan(black_box(REGISTER), Framing::Datagram).unwrap().complete().unwrap().headers().len())
    });
    g.bench_function("scan+check REGISTER", |b| b.iter(|| parse_check(REGISTER)));
    g.bench_function("scan+check+respond REGISTER", |b| b.iter(|| respond(REGISTER, &mut out)));
    g.bench_function("rsip parse REGISTER", |b| b.iter(|| rsip::SipMessage::try_from(black_box(REGISTER)).unwrap()));
    g.bench_function("scan+check INVITE+SDP", |b| b.iter(|| parse_check(INVITE)));
    g.bench_function("scan+forward INVITE+SDP", |b| b.iter(|| forward(INVITE, &mut out)));
    g.bench_function("scan+check 200 OK", |b| {
        b.iter(|| {
            let m = scan(black_box(OK200), Framing::Datagram).unwrap().complete().unwrap();
            check_response(&m).unwrap().cseq
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
