//! SDP filter vectors (static and dynamic payloads, T.38, disabled
//! streams, every codec removed, LF-only bodies) and properties: the output
//! always re-parses, keeps every line that is not a removed codec's, and is
//! a fixed point.

use super::*;
use proptest::prelude::*;

fn filter(codecs: &[&str]) -> CodecFilter {
    CodecFilter::new(codecs, &["audio"])
}

fn voice() -> CodecFilter {
    filter(&["PCMU", "PCMA", "G722", "opus", "telephone-event"])
}

/// `lines` joined with CRLF, a CRLF after the last.
fn sdp(lines: &[&str]) -> Vec<u8> {
    lines.iter().flat_map(|l| [l.as_bytes(), b"\r\n"].concat()).collect()
}

fn filtered(body: &[u8], f: &CodecFilter) -> (String, usize) {
    let out = filter_codecs(body, f).expect("a codec left").expect("something removed");
    (String::from_utf8(out.body).unwrap(), out.removed)
}

const SESSION: [&str; 5] = ["v=0", "o=- 20518 0 IN IP4 203.0.113.1", "s=-", "c=IN IP4 203.0.113.1", "t=0 0"];

fn with_session(media: &[&str]) -> Vec<u8> {
    sdp(&[&SESSION[..], media].concat())
}

#[test]
fn static_payloads_outside_the_list_go_with_their_rtpmap() {
    let body = with_session(&[
        "m=audio 49170 RTP/AVP 0 8 18",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=ptime:20",
        "a=sendrecv",
    ]);
    let (out, removed) = filtered(&body, &filter(&["PCMU", "PCMA"]));
    assert_eq!(
        out.as_bytes(),
        with_session(&[
            "m=audio 49170 RTP/AVP 0 8",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=ptime:20",
            "a=sendrecv"
        ])
    );
    assert_eq!(removed, 1);
}

#[test]
fn static_payloads_are_known_by_number_without_rtpmap() {
    let body = with_session(&["m=audio 49170 RTP/AVP 18 0 8 9", "a=sendrecv"]);
    let (out, removed) = filtered(&body, &filter(&["pcma", "G722"]));
    assert_eq!(out.as_bytes(), with_session(&["m=audio 49170 RTP/AVP 8 9", "a=sendrecv"]));
    assert_eq!(removed, 2);
}

#[test]
fn dynamic_payloads_are_named_by_rtpmap_and_lose_fmtp_and_rtcp_fb() {
    let body = with_session(&[
        "m=audio 5004 UDP/TLS/RTP/SAVPF 111 96 9 0 8 101",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:96 iLBC/8000",
        "a=fmtp:96 mode=30",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:* ccm fir",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=rtcp-mux",
    ]);
    let (out, removed) = filtered(&body, &voice());
    assert_eq!(
        out.as_bytes(),
        with_session(&[
            "m=audio 5004 UDP/TLS/RTP/SAVPF 111 9 0 8 101",
            "a=rtpmap:111 opus/48000/2",
            "a=rtcp-fb:111 transport-cc",
            "a=fmtp:111 minptime=10;useinbandfec=1",
            "a=rtcp-fb:* ccm fir",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=rtcp-mux",
        ])
    );
    assert_eq!(removed, 1);
}

#[test]
fn a_rtpmap_renames_a_static_number() {
    // Odd but legal: 18 mapped to PCMU.
    let body = with_session(&["m=audio 4000 RTP/AVP 18", "a=rtpmap:18 PCMU/8000"]);
    assert_eq!(filter_codecs(&body, &filter(&["PCMU"])), Ok(None));
}

#[test]
fn t38_image_stream_is_left_untouched() {
    let t38 = [
        "m=image 49172 udptl t38",
        "a=T38FaxVersion:0",
        "a=T38MaxBitRate:14400",
        "a=T38FaxRateManagement:transferredTCF",
        "a=T38FaxUdpEC:t38UDPRedundancy",
    ];
    let body = with_session(&t38);
    assert_eq!(filter_codecs(&body, &filter(&["PCMU"])), Ok(None));
}

#[test]
fn audio_plus_t38_keeps_the_fax_stream_and_an_audio_codec() {
    let body = with_session(&[
        "m=audio 49170 RTP/AVP 18 8",
        "a=rtpmap:18 G729/8000",
        "m=image 49172 udptl t38",
        "a=T38FaxVersion:0",
        "a=T38FaxUdpEC:t38UDPRedundancy",
    ]);
    let (out, removed) = filtered(&body, &voice());
    assert_eq!(
        out.as_bytes(),
        with_session(&[
            "m=audio 49170 RTP/AVP 8",
            "m=image 49172 udptl t38",
            "a=T38FaxVersion:0",
            "a=T38FaxUdpEC:t38UDPRedundancy"
        ])
    );
    assert_eq!(removed, 1);
}

#[test]
fn every_codec_removed_is_an_error() {
    let body = with_session(&["m=audio 49170 RTP/AVP 18 4", "a=rtpmap:18 G729/8000", "a=rtpmap:4 G723/8000"]);
    assert_eq!(filter_codecs(&body, &voice()), Err(NoCodecLeft));
    // telephone-event and comfort noise carry no voice of their own.
    let body = with_session(&["m=audio 49170 RTP/AVP 18 101 13", "a=rtpmap:101 telephone-event/8000"]);
    assert_eq!(filter_codecs(&body, &filter(&["PCMU", "telephone-event", "CN"])), Err(NoCodecLeft));
    // One audio stream keeping a codec does not save another that keeps none.
    let body = with_session(&["m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 18"]);
    assert_eq!(filter_codecs(&body, &voice()), Err(NoCodecLeft));
}

#[test]
fn a_disabled_stream_is_left_alone() {
    let body = with_session(&["m=audio 0 RTP/AVP 18", "a=rtpmap:18 G729/8000", "m=audio 4000 RTP/AVP 0 18"]);
    let (out, _) = filtered(&body, &voice());
    assert_eq!(
        out.as_bytes(),
        with_session(&["m=audio 0 RTP/AVP 18", "a=rtpmap:18 G729/8000", "m=audio 4000 RTP/AVP 0"])
    );
}

#[test]
fn video_is_filtered_only_when_configured() {
    let body = with_session(&[
        "m=audio 4000 RTP/AVP 0",
        "m=video 4002 RTP/AVP 96 97",
        "a=rtpmap:96 H264/90000",
        "a=fmtp:96 profile-level-id=42e01f",
        "a=rtpmap:97 VP8/90000",
    ]);
    assert_eq!(filter_codecs(&body, &voice()), Ok(None));
    let f = CodecFilter::new(&["PCMU", "H264"], &["audio", "video"]);
    let (out, removed) = filtered(&body, &f);
    assert_eq!(
        out.as_bytes(),
        with_session(&[
            "m=audio 4000 RTP/AVP 0",
            "m=video 4002 RTP/AVP 96",
            "a=rtpmap:96 H264/90000",
            "a=fmtp:96 profile-level-id=42e01f"
        ])
    );
    assert_eq!(removed, 1);
}

#[test]
fn lf_line_endings_and_a_missing_last_newline_are_kept() {
    let body = b"v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\nm=audio 4000 RTP/AVP 0 18\r\na=rtpmap:18 G729/8000\na=sendrecv";
    let f = filter(&["PCMU"]);
    let out = filter_codecs(body, &f).unwrap().unwrap();
    assert_eq!(out.body, b"v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\nm=audio 4000 RTP/AVP 0\r\na=sendrecv");
}

#[test]
fn unknown_dynamic_payloads_and_odd_lines_are_kept() {
    // 97 has no rtpmap: nobody can say what it is, so it stays.
    let body =
        with_session(&["m=audio 4000 RTP/AVP 97 18", "a=fmtp:97 mode=20", "a=rtpmap:bogus", "a=rtpmap:18 G729/8000"]);
    let (out, _) = filtered(&body, &filter(&["PCMU"]));
    assert_eq!(out.as_bytes(), with_session(&["m=audio 4000 RTP/AVP 97", "a=fmtp:97 mode=20", "a=rtpmap:bogus"]));
}

#[test]
fn nothing_to_remove_or_filter_off_is_none() {
    let body = with_session(&["m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000"]);
    assert_eq!(filter_codecs(&body, &voice()), Ok(None));
    assert_eq!(filter_codecs(&body, &CodecFilter::default()), Ok(None));
    assert!(CodecFilter::default().is_off());
    assert_eq!(filter_codecs(b"", &voice()), Ok(None));
    assert_eq!(filter_codecs(b"not an sdp at all", &voice()), Ok(None));
}

// ---------------------------------------------------------------- properties

/// Codecs a generated offer draws from: (payload type, rtpmap name or none
/// for a static one written without rtpmap, fmtp, rtcp-fb).
const POOL: [(u8, Option<&str>, bool, bool); 9] = [
    (0, None, false, false),
    (8, Some("PCMA/8000"), false, false),
    (9, Some("G722/8000"), false, false),
    (18, Some("G729/8000"), true, false),
    (4, None, false, false),
    (96, Some("iLBC/8000"), true, true),
    (101, Some("telephone-event/8000"), true, false),
    (111, Some("opus/48000/2"), true, true),
    (13, Some("CN/8000"), false, false),
];
const NAMES: [&str; 8] = ["PCMU", "PCMA", "G722", "G729", "G723", "iLBC", "telephone-event", "opus"];

#[derive(Clone, Debug)]
enum Section {
    Audio { port: u16, codecs: Vec<usize>, extra: Vec<String> },
    Image,
    Video,
}

fn section() -> impl Strategy<Value = Section> {
    prop_oneof![
        4 => (prop_oneof![Just(0u16), 1024u16..65000], proptest::sample::subsequence((0..POOL.len()).collect::<Vec<_>>(), 1..POOL.len()), proptest::collection::vec("a=x[a-z]{0,7}(:[a-z0-9 ]{0,10})?", 0..3))
            .prop_map(|(port, codecs, extra)| Section::Audio { port, codecs, extra }),
        1 => Just(Section::Image),
        1 => Just(Section::Video),
    ]
}

fn render(sections: &[Section], eol: &str) -> Vec<u8> {
    let mut lines: Vec<String> = SESSION.iter().map(|s| s.to_string()).collect();
    for s in sections {
        match s {
            Section::Audio { port, codecs, extra } => {
                let pts: Vec<String> = codecs.iter().map(|&i| POOL[i].0.to_string()).collect();
                lines.push(format!("m=audio {port} RTP/AVP {}", pts.join(" ")));
                for &i in codecs {
                    let (pt, map, fmtp, fb) = POOL[i];
                    if let Some(m) = map {
                        lines.push(format!("a=rtpmap:{pt} {m}"));
                    }
                    if fmtp {
                        lines.push(format!("a=fmtp:{pt} x=1"));
                    }
                    if fb {
                        lines.push(format!("a=rtcp-fb:{pt} nack"));
                    }
                }
                lines.extend(extra.iter().cloned());
            }
            Section::Image => lines.extend(["m=image 5000 udptl t38".to_string(), "a=T38FaxVersion:0".to_string()]),
            Section::Video => {
                lines.extend(["m=video 5002 RTP/AVP 96".to_string(), "a=rtpmap:96 VP8/90000".to_string()])
            }
        }
    }
    lines.iter().flat_map(|l| [l.as_bytes(), eol.as_bytes()].concat()).collect()
}

/// An independent reading of an SDP: per media section, its `m=` formats
/// and the payload types its rtpmap/fmtp/rtcp-fb lines name.
fn reparse(body: &[u8]) -> Vec<(Vec<String>, Vec<u8>)> {
    let text = std::str::from_utf8(body).unwrap();
    let mut out: Vec<(Vec<String>, Vec<u8>)> = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty()) {
        assert!(line.len() > 2 && line.as_bytes()[1] == b'=', "not type=value: {line:?}");
        if let Some(m) = line.strip_prefix("m=") {
            let f: Vec<&str> = m.split(' ').collect();
            assert!(f.len() >= 4, "m= line with no format: {line:?}");
            out.push((f[3..].iter().map(|s| s.to_string()).collect(), Vec::new()));
        } else if let Some(pt) = attribute_pt(line.as_bytes()) {
            out.last_mut().expect("media attribute inside a section").1.push(pt);
        }
    }
    out
}

/// The encoding name of a POOL entry.
fn pool_name(i: usize) -> &'static str {
    match POOL[i] {
        (_, Some(m), _, _) => m.split('/').next().unwrap(),
        (0, None, _, _) => "PCMU",
        (4, None, _, _) => "G723",
        _ => unreachable!(),
    }
}

/// Whether the filter must refuse the offer: an active audio section loses
/// a codec and keeps none that carries voice.
fn loses_every_codec(sections: &[Section], allow: &[&str]) -> bool {
    let allowed = |i: usize| allow.iter().any(|a| a.eq_ignore_ascii_case(pool_name(i)));
    sections.iter().any(|s| match s {
        Section::Audio { port, codecs, .. } if *port != 0 && !allow.is_empty() => {
            let voice = codecs.iter().any(|&i| allowed(i) && !["telephone-event", "CN"].contains(&pool_name(i)));
            !voice && codecs.iter().any(|&i| !allowed(i))
        }
        _ => false,
    })
}

proptest! {
    #[test]
    fn output_reparses_keeps_every_other_line_and_is_a_fixed_point(
        sections in proptest::collection::vec(section(), 1..4),
        allow in proptest::sample::subsequence(NAMES.to_vec(), 0..NAMES.len()),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let body = render(&sections, eol);
        let f = filter(&allow);
        let result = filter_codecs(&body, &f);
        prop_assert_eq!(result.is_err(), loses_every_codec(&sections, &allow));
        if let Ok(Some(out)) = result {
            prop_assert!(out.removed > 0);
            let before = reparse(&body);
            let after = reparse(&out.body);
            prop_assert_eq!(before.len(), after.len());
            let mut removed = 0;
            for ((fb, _), (fa, attrs)) in before.iter().zip(&after) {
                // Formats only go, in order; every attribute left names a format left.
                prop_assert!(fa.iter().all(|x| fb.contains(x)));
                removed += fb.len() - fa.len();
                for pt in attrs {
                    prop_assert!(fa.contains(&pt.to_string()), "attribute for a removed pt {}", pt);
                }
            }
            prop_assert_eq!(removed, out.removed);
            // The output is the input, line for line and ending for ending,
            // with the m= lines rewritten and the removed codecs' lines gone.
            let text = String::from_utf8(body.clone()).unwrap();
            let out_text = String::from_utf8(out.body.clone()).unwrap();
            let mut m_lines = out_text.split_inclusive('\n').filter(|l| l.starts_with("m="));
            let mut expected = String::new();
            let mut section: Option<usize> = None;
            for line in text.split_inclusive('\n') {
                if line.starts_with("m=") {
                    section = Some(section.map_or(0, |s| s + 1));
                    let m = m_lines.next().unwrap();
                    prop_assert_eq!(m.splitn(4, ' ').take(3).collect::<Vec<_>>(), line.splitn(4, ' ').take(3).collect::<Vec<_>>());
                    expected.push_str(m);
                    continue;
                }
                let trimmed = line.trim_end_matches(['\r', '\n']);
                if let (Some(s), Some(pt)) = (section, attribute_pt(trimmed.as_bytes())) {
                    let pt = pt.to_string();
                    if before[s].0.contains(&pt) && !after[s].0.contains(&pt) {
                        continue;
                    }
                }
                expected.push_str(line);
            }
            prop_assert_eq!(expected, out_text);
            prop_assert_eq!(filter_codecs(&out.body, &f), Ok(None), "filtering twice changes nothing");
        }
    }
}
