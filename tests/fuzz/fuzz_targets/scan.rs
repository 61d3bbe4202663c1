//! Invariants of the wire layer on arbitrary bytes: scanning never panics; a
//! Complete message re-serialised through the Editor with no edits gives the
//! identical bytes, and scanning those again gives the same header index;
//! check_request/check_response and write_response never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipedge::sip::{check_request, check_response, scan, write_response, Editor, Framing, Status};

fuzz_target!(|data: &[u8]| {
    for framing in [Framing::Datagram, Framing::Stream] {
        let Ok(Status::Complete(m)) = scan(data, framing) else { continue };
        let mut out = Vec::new();
        Editor::new(&m).write(&mut out);
        assert_eq!(&out[..], m.bytes());
        let m2 = match scan(&out, framing) {
            Ok(Status::Complete(m2)) => m2,
            other => panic!("re-scan failed: {:?}", other.map(|s| s.is_partial())),
        };
        assert_eq!(m.headers().len(), m2.headers().len());
        let off = m.start_line.start;
        for (a, b) in m.headers().iter().zip(m2.headers()) {
            assert_eq!(a.name, b.name);
            assert_eq!(a.line.start - off, b.line.start);
            assert_eq!(a.line.end - off, b.line.end);
            assert_eq!(a.value.start - off, b.value.start);
            assert_eq!(a.value.end - off, b.value.end);
        }
        assert_eq!(m.body(), m2.body());
        let ess = check_request(&m).ok();
        let _ = check_response(&m);
        let mut r = Vec::new();
        write_response(&m, ess.as_ref(), 400, "Bad", Some(b"t"), Some(("10.0.0.1".parse().unwrap(), 5)), &[], b"", &mut r);
    }
});
