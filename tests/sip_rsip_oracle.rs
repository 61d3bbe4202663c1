//! Differential test against rsip 0.4: wherever rsip accepts a message and
//! can answer the question, our Call-ID, CSeq, From/To tags, top Via branch
//! and header-line count must agree with it.

use std::path::PathBuf;

use rsip::prelude::*;
use sipedge::sip::{check_request, parse_name_addr, parse_via, scan, Framing, HeaderName, Message};

fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

const TYPICAL: &[&str] = &[
    "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nTo: Alice <sip:alice@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 REGISTER\r\nContact: <sip:alice@192.0.2.10:5060>;expires=3600\r\nExpires: 3600\r\nUser-Agent: test/1.0\r\nContent-Length: 0\r\n\r\n",
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\nMax-Forwards: 70\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\nTo: Bob <sip:bob@biloxi.example.com>\r\nCall-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 2 INVITE\r\nContact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bKnashds8;received=192.0.2.3\r\nTo: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContact: <sip:bob@192.0.2.4>\r\nContent-Length: 0\r\n\r\n",
    "BYE sip:alice@pc33.atlanta.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10\r\nMax-Forwards: 70\r\nFrom: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\nTo: Alice <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 231 BYE\r\nContent-Length: 0\r\n\r\n",
    "OPTIONS sip:carol@chicago.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\nMax-Forwards: 70\r\nTo: <sip:carol@chicago.com>\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\nContact: <sip:alice@pc33.atlanta.com>\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n",
];

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Returns the number of fields compared.
fn compare(bytes: &[u8], m: &Message<'_>) -> usize {
    let Ok(r) = rsip::SipMessage::try_from(bytes) else { return 0 };
    let mut compared = 0;
    assert_eq!(r.headers().iter().count(), m.headers().len(), "header count");
    compared += 1;
    if let Ok(cid) = r.call_id_header() {
        assert_eq!(cid.value().trim(), s(m.header(HeaderName::CallId).unwrap()));
        compared += 1;
    }
    if let Ok(seq) = r.cseq_header().and_then(|c| c.seq()) {
        let ours = sipedge::sip::parse_cseq(m.header(HeaderName::CSeq).unwrap()).unwrap().0;
        assert_eq!(seq, ours, "cseq");
        compared += 1;
    }
    if let Ok(Some(tag)) = r.from_header().and_then(|f| f.tag()) {
        let ours = parse_name_addr(m.header(HeaderName::From).unwrap()).unwrap();
        assert_eq!(tag.to_string(), s(ours.tag().unwrap()), "from tag");
        compared += 1;
    }
    if let Ok(tag) = r.to_header().and_then(|f| f.tag()) {
        let ours = parse_name_addr(m.header(HeaderName::To).unwrap()).unwrap();
        assert_eq!(tag.map(|t| t.to_string()), ours.tag().map(s), "to tag");
        compared += 1;
    }
    if let Ok(via) = r.via_header().and_then(|v| v.typed()) {
        let ours = parse_via(m.values(HeaderName::Via).next().unwrap().0).unwrap();
        assert_eq!(via.branch().map(|b| b.to_string()), ours.branch().map(s), "branch");
        compared += 1;
    }
    compared
}

#[test]
fn typical_messages_agree() {
    for t in TYPICAL {
        let m = scan(t.as_bytes(), Framing::Stream).unwrap().complete().unwrap();
        assert!(compare(t.as_bytes(), &m) >= 6, "rsip must accept and fully compare: {t}");
    }
}

#[test]
fn valid_vectors_agree() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut total = 0;
    let mut accepted = 0;
    for suite in ["rfc4475", "rfc5118"] {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(base.join(suite).join("manifest.json")).unwrap()).unwrap();
        for c in manifest["cases"].as_array().unwrap() {
            if c["expect"]["udp"][0] != "parse-ok" {
                continue;
            }
            let file = c["file"].as_str().unwrap();
            let raw = std::fs::read(base.join(suite).join("dat").join(file)).unwrap();
            let wire = if matches!(file, "intmeth.dat" | "mpart01.dat") { raw } else { crlf(&raw) };
            let m = scan(&wire, Framing::Datagram).unwrap().complete().unwrap();
            check_request(&m).unwrap();
            total += 1;
            let n = compare(m.buf, &m);
            if n > 0 {
                accepted += 1;
            }
        }
    }
    assert!(total >= 25, "{total}");
    // rsip rejects several torture messages; it must accept at least the plain ones.
    assert!(accepted >= 5, "rsip accepted only {accepted}/{total}");
}
