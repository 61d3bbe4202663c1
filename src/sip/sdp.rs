//! SDP codec filtering (RFC 4566 session descriptions, RFC 3264 offers and
//! answers, RFC 3551 static payload types): removes the payload types of
//! codecs outside an allow-list from the filtered media sections, with
//! their `a=rtpmap:`, `a=fmtp:` and `a=rtcp-fb:` lines. Pure: bytes in,
//! bytes out.
//!
//! What is filtered: `m=` sections whose media type is configured (audio by
//! default), whose port is not 0 (a disabled stream is left as it is) and
//! whose transport is RTP (`RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF` ...;
//! T.38's `udptl` and anything else are not). A payload type is named by its
//! `a=rtpmap:` in the section, else by its static number (0 PCMU, 8 PCMA,
//! 9 G722, 18 G729 ...); one with no name at all (a dynamic number without
//! rtpmap) is kept. Every other line, the session part and other sections
//! are copied byte for byte, and line endings (CRLF or LF) are kept; only a
//! changed `m=` line is rewritten (its formats single-space separated).
//!
//! A filtered section that would be left with no codec carrying media —
//! nothing, or only `telephone-event`, `CN`, `red`, `rtx`, `ulpfec`,
//! `flexfec` — makes the whole body [`NoCodecLeft`]. When nothing is
//! removed the filter allocates nothing.

use std::fmt;

/// Which codecs may cross the edge, in which media sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodecFilter {
    /// Encoding names allowed, lowercase. Empty: the filter is off.
    codecs: Vec<Box<[u8]>>,
    /// Media types filtered, lowercase ("audio", "video").
    media: Vec<Box<[u8]>>,
}

impl CodecFilter {
    /// A filter allowing `codecs` (encoding names, any case) in sections of
    /// the `media` types. No codecs: off.
    pub fn new<C: AsRef<str>, M: AsRef<str>>(codecs: &[C], media: &[M]) -> CodecFilter {
        let lower = |s: &str| s.to_ascii_lowercase().into_bytes().into_boxed_slice();
        CodecFilter {
            codecs: codecs.iter().map(|c| lower(c.as_ref())).collect(),
            media: media.iter().map(|m| lower(m.as_ref())).collect(),
        }
    }

    /// Off when no codec is configured: bodies are not looked at.
    pub fn is_off(&self) -> bool {
        self.codecs.is_empty()
    }

    fn allows(&self, encoding: &[u8]) -> bool {
        self.codecs.iter().any(|c| c.eq_ignore_ascii_case(encoding))
    }

    fn filters(&self, media: &[u8]) -> bool {
        self.media.iter().any(|m| m.eq_ignore_ascii_case(media))
    }
}

/// A filtered media section would have no codec left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoCodecLeft;

impl fmt::Display for NoCodecLeft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no codec left")
    }
}

/// A body with codecs removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filtered {
    pub body: Vec<u8>,
    /// Payload types removed from `m=` lines, over every section.
    pub removed: usize,
}

/// Filters `body` (an SDP) through `filter`: `Ok(None)` when nothing is
/// removed (or the filter is off), the new body otherwise.
pub fn filter_codecs(body: &[u8], filter: &CodecFilter) -> Result<Option<Filtered>, NoCodecLeft> {
    if filter.is_off() {
        return Ok(None);
    }
    let mut removed = 0;
    for s in sections(body) {
        removed += removals(s, filter)?.count_ones() as usize;
    }
    if removed == 0 {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(body.len());
    for s in sections(body) {
        match removals(s, filter)? {
            0 => out.extend_from_slice(s),
            mask => write_section(s, mask, &mut out),
        }
    }
    Ok(Some(Filtered { body: out, removed }))
}

/// Payload types carrying no media of their own: a section left with only
/// these has lost every codec.
const AUXILIARY: [&[u8]; 6] = [b"telephone-event", b"cn", b"red", b"rtx", b"ulpfec", b"flexfec"];

/// RFC 3551 static payload types that have a name (tables 4 and 5).
fn static_name(pt: u8) -> Option<&'static [u8]> {
    Some(match pt {
        0 => b"PCMU",
        3 => b"GSM",
        4 => b"G723",
        5 | 6 | 16 | 17 => b"DVI4",
        7 => b"LPC",
        8 => b"PCMA",
        9 => b"G722",
        10 | 11 => b"L16",
        12 => b"QCELP",
        13 => b"CN",
        14 => b"MPA",
        15 => b"G728",
        18 => b"G729",
        25 => b"CelB",
        26 => b"JPEG",
        28 => b"nv",
        31 => b"H261",
        32 => b"MPV",
        33 => b"MP2T",
        34 => b"H263",
        _ => return None,
    })
}

/// The body cut before every `m=` line: the session part (possibly empty),
/// then one slice per media section, line endings included.
fn sections(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < body.len() {
            let end = next_media_line(body, start + 1);
            let s = &body[start..end];
            start = end;
            if !s.is_empty() {
                return Some(s);
            }
        }
        None
    })
}

/// Offset of the first line starting at or after `from` that is an `m=`
/// line, or the body's length.
fn next_media_line(body: &[u8], from: usize) -> usize {
    let mut at = from;
    while at < body.len() {
        let nl = match memchr::memchr(b'\n', &body[at - 1..]) {
            Some(i) => at - 1 + i,
            None => return body.len(),
        };
        if body[nl + 1..].starts_with(b"m=") {
            return nl + 1;
        }
        at = nl + 2;
    }
    body.len()
}

/// Lines with their endings: (text without CR/LF, the whole line).
fn lines(s: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    s.split_inclusive(|&c| c == b'\n').map(|l| {
        let t = l.strip_suffix(b"\n").unwrap_or(l);
        (t.strip_suffix(b"\r").unwrap_or(t), l)
    })
}

/// An `m=` line: media type, port, transport, and the formats as written.
struct MediaLine<'a> {
    media: &'a [u8],
    port: &'a [u8],
    proto: &'a [u8],
    /// Everything after the transport (leading space included).
    formats: &'a [u8],
    /// `m=<media> <port> <proto>`.
    head: &'a [u8],
}

fn media_line(text: &[u8]) -> Option<MediaLine<'_>> {
    let rest = text.strip_prefix(b"m=")?;
    let mut fields = rest.splitn(4, |&c| c == b' ');
    let (media, port, proto) = (fields.next()?, fields.next()?, fields.next()?);
    let head_len = 2 + media.len() + port.len() + proto.len() + 2;
    Some(MediaLine { media, port, proto, formats: &text[head_len..], head: &text[..head_len] })
}

impl MediaLine<'_> {
    /// Whether this section's codecs are filtered at all.
    fn filtered_by(&self, f: &CodecFilter) -> bool {
        let port = self.port.split(|&c| c == b'/').next().unwrap_or_default();
        let rtp = self.proto.windows(4).any(|w| w.eq_ignore_ascii_case(b"RTP/"));
        f.filters(self.media) && rtp && port != b"0"
    }

    /// The format tokens, and the payload type of each numeric one.
    fn formats(&self) -> impl Iterator<Item = (&[u8], Option<u8>)> {
        self.formats.split(|&c| c == b' ').filter(|t| !t.is_empty()).map(|t| (t, payload_type(t)))
    }
}

/// A payload type number, 0..=127.
fn payload_type(t: &[u8]) -> Option<u8> {
    if t.is_empty() || t.len() > 3 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = t.iter().fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'));
    (n < 128).then_some(n as u8)
}

/// The payload type an attribute line is about, for the attributes that
/// go with a payload type: `a=rtpmap:PT ...`, `a=fmtp:PT ...`, `a=rtcp-fb:PT ...`.
fn attribute_pt(text: &[u8]) -> Option<u8> {
    let rest = [&b"a=rtpmap:"[..], b"a=fmtp:", b"a=rtcp-fb:"].iter().find_map(|p| text.strip_prefix(*p))?;
    let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
    payload_type(&rest[..end])
}

/// `a=rtpmap:PT NAME/rate...`: the payload type and encoding name.
fn rtpmap(text: &[u8]) -> Option<(u8, &[u8])> {
    let rest = text.strip_prefix(b"a=rtpmap:")?;
    let sp = rest.iter().position(|&c| c == b' ')?;
    let pt = payload_type(&rest[..sp])?;
    let enc = &rest[sp + 1..];
    let end = enc.iter().position(|&c| c == b'/').unwrap_or(enc.len());
    Some((pt, enc[..end].trim_ascii()))
}

fn bit(pt: u8) -> u128 {
    1u128 << pt
}

/// The payload types to remove from one section (a bit per number), or
/// NoCodecLeft. 0 for the session part and sections not filtered.
fn removals(section: &[u8], f: &CodecFilter) -> Result<u128, NoCodecLeft> {
    let Some(m) = lines(section).next().and_then(|(t, _)| media_line(t)) else { return Ok(0) };
    if !m.filtered_by(f) {
        return Ok(0);
    }
    let (mut mapped, mut denied, mut auxiliary) = (0u128, 0u128, 0u128);
    for (text, _) in lines(section).skip(1) {
        if let Some((pt, name)) = rtpmap(text) {
            mapped |= bit(pt);
            if !f.allows(name) {
                denied |= bit(pt);
            }
            if AUXILIARY.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                auxiliary |= bit(pt);
            }
        }
    }
    let (mut remove, mut media_left) = (0u128, false);
    for (_, pt) in m.formats() {
        let Some(pt) = pt else {
            media_left = true; // not a payload type number: not ours to judge
            continue;
        };
        let (gone, aux) = if mapped & bit(pt) != 0 {
            (denied & bit(pt) != 0, auxiliary & bit(pt) != 0)
        } else {
            match static_name(pt) {
                Some(name) => (!f.allows(name), pt == 13),
                None => (false, false), // no name: kept
            }
        };
        if gone {
            remove |= bit(pt);
        } else if !aux {
            media_left = true;
        }
    }
    if remove != 0 && !media_left {
        return Err(NoCodecLeft);
    }
    Ok(remove)
}

/// Writes a section without the payload types in `remove`.
fn write_section(section: &[u8], remove: u128, out: &mut Vec<u8>) {
    for (i, (text, line)) in lines(section).enumerate() {
        if i == 0 {
            let m = media_line(text).expect("a filtered section starts with its m= line");
            out.extend_from_slice(m.head);
            for (t, pt) in m.formats() {
                if pt.is_none_or(|pt| remove & bit(pt) == 0) {
                    out.push(b' ');
                    out.extend_from_slice(t);
                }
            }
            out.extend_from_slice(&line[text.len()..]);
        } else if attribute_pt(text).is_none_or(|pt| remove & bit(pt) == 0) {
            out.extend_from_slice(line);
        }
    }
}

#[cfg(test)]
mod tests;
