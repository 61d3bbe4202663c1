//! Message hygiene (`[hygiene]`): which relayed messages have their SDP
//! filtered, and which header patterns go in which direction. Pure
//! decisions on a scanned message; the edge applies them while it rewrites
//! what it relays (`core::edge::hygiene`) and counts what they did.
//!
//! SDP is looked at in INVITE, UPDATE, PRACK and ACK requests and in the
//! 101–299 answers to INVITE, UPDATE and PRACK: the messages that carry
//! offers and answers (RFC 3264, RFC 3311, RFC 3262). Only a body whose
//! Content-Type is `application/sdp` is filtered; a multipart body (SDP
//! with ISUP, say) and an encoded one (Content-Encoding) are relayed as
//! they are and counted.

use crate::sip::sdp::{filter_codecs, CodecFilter, Filtered};
use crate::sip::{parse_cseq, HeaderName, HeaderPatterns, Message, Method};

/// The core's hygiene settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hygiene {
    /// Off when it allows no codec.
    pub codecs: CodecFilter,
    /// Removed from what goes to devices (outside `proxy.trusted`).
    pub to_devices: HeaderPatterns,
    /// Removed from what goes to the core.
    pub to_core: HeaderPatterns,
}

/// A test fixture, not the product's default (that is `config`'s):
/// as the embedded config, no codec filtering, `X-Internal-*` kept from
/// devices. `shard::build`'s tests check it against the embedded default.
#[cfg(test)]
impl Default for Hygiene {
    fn default() -> Self {
        Hygiene {
            codecs: CodecFilter::new::<&str, _>(&[], &["audio"]),
            to_devices: HeaderPatterns::of(&["X-Internal-*"]),
            to_core: HeaderPatterns::default(),
        }
    }
}

/// What the codec filter makes of one message's body.
#[derive(Debug, PartialEq, Eq)]
pub enum Sdp {
    /// Nothing to filter, or nothing removed: relay the body as it is.
    Unchanged,
    /// The new body.
    Filtered(Filtered),
    /// A media section would keep no codec.
    NoCodecLeft,
    /// An SDP the filter does not look into, and why.
    Skipped(SdpUnfiltered),
}

crate::reasons! {
    /// Why SDP was relayed without filtering (`sipedge_sdp_unfiltered_total`).
    pub enum SdpUnfiltered {
        Multipart => "multipart",
        /// A Content-Encoding other than identity.
        Encoded => "encoded",
        /// An answer or ACK whose SDP would keep no codec (relayed as it is).
        NoCodecLeft => "no codec left",
    }
}

impl Hygiene {
    /// The patterns for a message going inside (to the core) or out (to a device).
    pub fn strip(&self, to_inside: bool) -> &HeaderPatterns {
        if to_inside {
            &self.to_core
        } else {
            &self.to_devices
        }
    }

    /// The codec filter applied to `msg`'s body.
    pub fn sdp(&self, msg: &Message<'_>) -> Sdp {
        if self.codecs.is_off() || msg.body().is_empty() || !carries_offer_or_answer(msg) {
            return Sdp::Unchanged;
        }
        let Some(ctype) = msg.header(HeaderName::ContentType) else { return Sdp::Unchanged };
        let media_type = ctype.split(|&c| c == b';').next().unwrap_or_default().trim_ascii();
        if media_type.len() >= 10 && media_type[..10].eq_ignore_ascii_case(b"multipart/") {
            return Sdp::Skipped(SdpUnfiltered::Multipart);
        }
        if !media_type.eq_ignore_ascii_case(b"application/sdp") {
            return Sdp::Unchanged;
        }
        if msg.header(HeaderName::ContentEncoding).is_some_and(|e| !e.trim_ascii().eq_ignore_ascii_case(b"identity")) {
            return Sdp::Skipped(SdpUnfiltered::Encoded);
        }
        match filter_codecs(msg.body(), &self.codecs) {
            Ok(None) => Sdp::Unchanged,
            Ok(Some(f)) => Sdp::Filtered(f),
            Err(_) => Sdp::NoCodecLeft,
        }
    }
}

/// Requests and answers that carry offers and answers.
fn carries_offer_or_answer(msg: &Message<'_>) -> bool {
    let sdp_method = |m: Method<'_>| matches!(m, Method::Invite | Method::Update | Method::Prack);
    match (msg.method(), msg.code()) {
        (Some(m), _) => sdp_method(m) || m == Method::Ack,
        (None, Some(code)) => {
            (101..300).contains(&code)
                && msg.header(HeaderName::CSeq).and_then(parse_cseq).is_some_and(|(_, m)| sdp_method(m))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{scan, Framing};

    fn hygiene() -> Hygiene {
        Hygiene { codecs: CodecFilter::new(&["PCMU"], &["audio"]), ..Hygiene::default() }
    }

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 18\r\n";

    fn verdict(start: &str, cseq: &str, ctype: &str, extra: &str, body: &str) -> Sdp {
        let text = format!("{start}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: {cseq}\r\nContent-Type: {ctype}\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len());
        let m = scan(text.as_bytes(), Framing::Stream).unwrap().complete().unwrap();
        hygiene().sdp(&m)
    }

    #[test]
    fn offers_and_answers_are_filtered_other_bodies_are_not() {
        let filtered = |v: Sdp| matches!(v, Sdp::Filtered(f) if f.removed == 1);
        for (start, cseq) in [
            ("INVITE sip:a SIP/2.0", "1 INVITE"),
            ("UPDATE sip:a SIP/2.0", "2 UPDATE"),
            ("PRACK sip:a SIP/2.0", "3 PRACK"),
            ("ACK sip:a SIP/2.0", "1 ACK"),
        ] {
            assert!(filtered(verdict(start, cseq, "application/sdp", "", SDP)), "{start}");
        }
        for code in ["180 Ringing", "183 Session Progress", "200 OK"] {
            assert!(
                filtered(verdict(&format!("SIP/2.0 {code}"), "1 INVITE", "Application/SDP; charset=x", "", SDP)),
                "{code}"
            );
        }
        assert_eq!(verdict("SIP/2.0 488 Not Acceptable Here", "1 INVITE", "application/sdp", "", SDP), Sdp::Unchanged);
        assert_eq!(verdict("SIP/2.0 200 OK", "1 OPTIONS", "application/sdp", "", SDP), Sdp::Unchanged);
        assert_eq!(verdict("MESSAGE sip:a SIP/2.0", "1 MESSAGE", "application/sdp", "", SDP), Sdp::Unchanged);
        assert_eq!(verdict("INVITE sip:a SIP/2.0", "1 INVITE", "text/plain", "", SDP), Sdp::Unchanged);
        assert_eq!(
            verdict("INVITE sip:a SIP/2.0", "1 INVITE", "multipart/mixed;boundary=x", "", SDP),
            Sdp::Skipped(SdpUnfiltered::Multipart)
        );
        assert_eq!(
            verdict("INVITE sip:a SIP/2.0", "1 INVITE", "application/sdp", "Content-Encoding: gzip\r\n", SDP),
            Sdp::Skipped(SdpUnfiltered::Encoded)
        );
        let all_gone = SDP.replace("0 18", "18");
        assert_eq!(verdict("INVITE sip:a SIP/2.0", "1 INVITE", "application/sdp", "", &all_gone), Sdp::NoCodecLeft);
        let off = Hygiene::default();
        let text = format!("INVITE sip:a SIP/2.0\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}", SDP.len());
        assert_eq!(off.sdp(&scan(text.as_bytes(), Framing::Stream).unwrap().complete().unwrap()), Sdp::Unchanged);
    }

    #[test]
    fn patterns_by_direction() {
        let h = Hygiene::default();
        let m = scan(b"OPTIONS sip:a SIP/2.0\r\nX-Internal-Foo: 1\r\nl: 0\r\n\r\n", Framing::Stream)
            .unwrap()
            .complete()
            .unwrap();
        assert!(h.strip(false).any_in(&m), "kept from devices");
        assert!(!h.strip(true).any_in(&m), "the core may see it");
    }
}
