//! Property tests of the wire layer on generated messages: random header
//! names (compact forms included), folding, LF-only line ends, random bodies.
//! - scan → Editor with no edits → identical bytes, and a re-scan indexes
//!   the same headers;
//! - in stream framing every proper prefix is `Partial`;
//! - a datagram with trailing octets ignores them;
//! - `values()` spans always point at what they yield.

use proptest::prelude::*;
use sipedge::sip::{check_request, scan, write_response, Editor, Framing, HeaderName, Message, ScanError, Status};

const NAMES: &[&str] = &[
    "Via",
    "v",
    "VIA",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "CSeq",
    "Contact",
    "m",
    "Route",
    "Record-Route",
    "Max-Forwards",
    "Subject",
    "s",
    "k",
    "o",
    "u",
    "r",
    "b",
    "x",
    "y",
    "e",
    "c",
    "Supported",
    "Allow",
    "X-Custom",
    "NewFangledHeader",
    "extensionHeader-!.%*+_`'~",
];

fn line_end() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\r\n"), Just("\n")]
}

fn header() -> impl Strategy<Value = String> {
    (
        prop::sample::select(NAMES),
        "[ \t]{0,2}",
        "[ \t]{0,2}",
        prop::collection::vec("[a-zA-Z0-9;=<>@:.,\"/_ -]{1,20}", 1..4),
        prop::collection::vec(prop_oneof![Just("\r\n "), Just("\n\t"), Just("\r\n\t  ")], 3),
        prop::bool::ANY,
        line_end(),
    )
        .prop_map(|(name, pre, post, parts, folds, fold, le)| {
            let mut v = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    v.push_str(if fold { folds[i - 1] } else { " " });
                }
                v.push_str(p);
            }
            format!("{name}{pre}:{post}{v}{le}")
        })
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just("INVITE sip:bob@example.com SIP/2.0".to_string()),
            Just("REGISTER sip:example.com SIP/2.0".to_string()),
            Just("SIP/2.0 200 OK".to_string()),
            "[A-Z]{3,9}".prop_map(|m| format!("{m} sip:x@[2001:db8::1]:5060;lr SIP/2.0")),
        ],
        prop::collection::vec(header(), 0..20),
        prop::collection::vec(any::<u8>(), 0..200),
        prop::sample::select(&["Content-Length", "l", "content-length"][..]),
        any::<prop::sample::Index>(),
        line_end(),
        line_end(),
        0usize..3,
    )
        .prop_map(|(sl, hdrs, body, cl, pos, le1, le2, lead)| {
            let mut out = Vec::new();
            for _ in 0..lead {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(sl.as_bytes());
            out.extend_from_slice(le1.as_bytes());
            let at = pos.index(hdrs.len() + 1);
            for (i, h) in hdrs.iter().enumerate() {
                if i == at {
                    out.extend_from_slice(format!("{cl}: {}\r\n", body.len()).as_bytes());
                }
                out.extend_from_slice(h.as_bytes());
            }
            if at == hdrs.len() {
                out.extend_from_slice(format!("{cl}: {}\r\n", body.len()).as_bytes());
            }
            out.extend_from_slice(le2.as_bytes());
            out.extend_from_slice(&body);
            out
        })
}

fn index(m: &Message<'_>) -> Vec<(HeaderName, Vec<u8>, Vec<u8>)> {
    m.headers().iter().map(|h| (h.name, h.name_span.of(m.buf).to_vec(), h.value.of(m.buf).to_vec())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn roundtrip_identical(b in message()) {
        let m = scan(&b, Framing::Stream).unwrap().complete().expect("complete");
        prop_assert_eq!(m.len, b.len());
        let mut out = Vec::new();
        Editor::new(&m).write(&mut out);
        prop_assert_eq!(&out[..], m.bytes());
        let m2 = scan(&out, Framing::Stream).unwrap().complete().unwrap();
        prop_assert_eq!(index(&m), index(&m2));
        prop_assert_eq!(m.body(), m2.body());
        for h in m.headers() {
            prop_assert_eq!(h.name, HeaderName::from_bytes(h.name_span.of(m.buf)));
            prop_assert!(h.line.start <= h.name_span.start && h.value.end <= h.line.end);
        }
        for name in [HeaderName::Via, HeaderName::Contact, HeaderName::To, HeaderName::Other] {
            for (v, s) in m.values(name) {
                prop_assert_eq!(v, s.of(m.buf));
                prop_assert!(!v.is_empty() || !name.is_list());
            }
        }
    }

    #[test]
    fn every_prefix_is_partial(b in message()) {
        for cut in 0..b.len() {
            match scan(&b[..cut], Framing::Stream) {
                Ok(Status::Partial) => {}
                other => prop_assert!(false, "cut {} of {}: {:?}", cut, b.len(), other.map(|s| s.is_partial())),
            }
        }
    }

    #[test]
    fn datagram_ignores_trailing(b in message(), junk in prop::collection::vec(any::<u8>(), 0..50)) {
        let mut d = b.clone();
        d.extend_from_slice(&junk);
        let m = scan(&d, Framing::Datagram).unwrap().complete().unwrap();
        prop_assert_eq!(m.len, b.len());
        prop_assert_eq!(m.buf, &b[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..400)) {
        for f in [Framing::Stream, Framing::Datagram] {
            if let Ok(Status::Complete(m)) = scan(&b, f) {
                let mut out = Vec::new();
                Editor::new(&m).write(&mut out);
                prop_assert_eq!(&out[..], m.bytes());
                let ess = check_request(&m).ok();
                let mut r = Vec::new();
                write_response(&m, ess.as_ref(), 400, "Bad", Some(b"t"), Some(("10.0.0.1".parse().unwrap(), 5)), &[], b"", &mut r);
            }
        }
    }
}

#[test]
fn error_reasons_are_short() {
    for e in [ScanError::BadContentLength, ScanError::MissingContentLength, ScanError::BadHeaderLine] {
        assert!(e.reason().len() < 40 && !e.reason().is_empty());
    }
}
