//! The `[hygiene]` table: what relayed messages lose at the edge. The SDP
//! codec allow-list (with the media types it applies to) and the header
//! name patterns removed towards devices and towards the core. Every value
//! is checked while it is read: an encoding name that is not one, or a
//! header pattern that is malformed or would remove a header SIP needs, is
//! refused with its line and key.

use crate::sip::HeaderPattern;
use serde::{de, Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hygiene {
    /// Encoding names allowed in SDP bodies (`"PCMU"`, `"opus"`,
    /// `"telephone-event"`); empty = no codec filtering.
    pub codecs: Vec<Codec>,
    /// Media sections whose codecs are filtered.
    pub media: Vec<Media>,
    /// Header patterns removed from what the edge relays to devices (peers
    /// outside `proxy.trusted`).
    pub strip_to_devices: Vec<HeaderPattern>,
    /// Header patterns removed from what the edge relays to the core.
    pub strip_to_core: Vec<HeaderPattern>,
}

impl Default for Hygiene {
    fn default() -> Self {
        Hygiene {
            codecs: Vec::new(),
            media: vec![Media::Audio],
            strip_to_devices: vec![HeaderPattern::parse("X-Internal-*").expect("valid")],
            strip_to_core: Vec::new(),
        }
    }
}

/// A media type whose codecs may be filtered (`m=image` and the rest never are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    Audio,
    Video,
}

impl Media {
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Audio => "audio",
            Media::Video => "video",
        }
    }
}

/// An RTP encoding name as `a=rtpmap:` writes it (RFC 4855 media subtype):
/// 1 to 32 letters, digits, `-`, `.`, `_` or `+`, starting with a letter or
/// digit, and no clock rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec(pub String);

impl<'de> Deserialize<'de> for Codec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let plausible = (1..=32).contains(&s.len())
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'+'));
        if !plausible {
            let hint = if s.contains('/') { " (the name only, without clock rate or channels)" } else { "" };
            return Err(de::Error::custom(format!(
                "`{s}` is not an RTP encoding name such as \"PCMU\" or \"telephone-event\"{hint}"
            )));
        }
        Ok(Codec(s))
    }
}

impl<'de> Deserialize<'de> for HeaderPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HeaderPattern::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Media};

    const ONE_LISTENER: &str = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n";

    #[test]
    fn defaults_match_the_embedded_file() {
        let c = Config::embedded();
        assert_eq!(c.hygiene, super::Hygiene::default());
        assert!(c.hygiene.codecs.is_empty(), "codec filtering is off by default");
        assert_eq!(c.hygiene.media, [Media::Audio]);
    }

    #[test]
    fn codecs_patterns_and_media_are_read() {
        let text = format!("{ONE_LISTENER}[hygiene]\ncodecs = [\"PCMU\", \"opus\", \"telephone-event\", \"AMR-WB\"]\nmedia = [\"audio\", \"video\"]\nstrip_to_core = [\"User-Agent\"]\n");
        let c = Config::parse(&text, "t.toml").unwrap();
        let names: Vec<&str> = c.hygiene.codecs.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["PCMU", "opus", "telephone-event", "AMR-WB"]);
        assert_eq!(c.hygiene.media, [Media::Audio, Media::Video]);
        assert!(c.hygiene.strip_to_core[0].matches_name(b"user-agent"));
        assert_eq!(c.hygiene.strip_to_devices.len(), 1, "the default kept");
    }

    #[test]
    fn bad_values_name_their_line_and_key() {
        let err = |t: &str| Config::parse(&format!("{ONE_LISTENER}[hygiene]\n{t}\n"), "t.toml").unwrap_err();
        let e = err("codecs = [\"PCMU\", \"G729/8000\"]");
        assert_eq!((e.line, e.key.as_str()), (5, "hygiene.codecs[1]"), "{e}");
        assert!(e.message.contains("without clock rate"), "{e}");
        for bad in ["\"\"", "\"PC MU\"", "\"-x\"", "\"ÄÖ\""] {
            let e = err(&format!("codecs = [{bad}]"));
            assert_eq!(e.key, "hygiene.codecs[0]", "{bad}: {e}");
        }
        let e = err("\nstrip_to_devices = [\"X-Internal-*\", \"Via\"]");
        assert_eq!((e.line, e.key.as_str()), (6, "hygiene.strip_to_devices[1]"), "{e}");
        assert!(e.message.contains("SIP needs"), "{e}");
        let e = err("strip_to_core = [\"X-*-y\"]");
        assert_eq!(e.key, "hygiene.strip_to_core[0]", "{e}");
        let e = err("media = [\"image\"]");
        assert_eq!(e.key, "hygiene.media[0]", "{e}");
        let e = err("codec = []");
        assert!(e.message.contains("codec"), "unknown keys are refused: {e}");
    }
}
