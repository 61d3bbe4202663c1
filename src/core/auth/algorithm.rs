//! Digest algorithms (RFC 7616, RFC 8760): the `algorithm=` token and
//! the one hash operation digest needs, `H(p0 ":" p1 ":" ...)` as lowercase
//! hex. `-sess` variants are not supported (SIP phones do not use
//! them), so their tokens are unknown here.
//!
//! Also owns the small hex helpers the rest of `auth` shares.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

/// A digest algorithm this server can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
    Sha512_256,
}

impl Algorithm {
    /// Every algorithm, strongest first: the order of preference RFC 8760
    /// asks a server to list its challenges in.
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha512_256, Algorithm::Sha256, Algorithm::Md5];

    /// The `algorithm=` token as written in challenges.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512_256 => "SHA-512-256",
        }
    }

    /// Parses an `algorithm=` token, ASCII case-insensitively. An absent
    /// `algorithm` parameter means MD5; that default is the caller's.
    pub fn from_token(b: &[u8]) -> Option<Algorithm> {
        [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256]
            .into_iter()
            .find(|a| a.token().as_bytes().eq_ignore_ascii_case(b))
    }

    /// Length in hex characters of this algorithm's digests.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 | Algorithm::Sha512_256 => 64,
        }
    }

    /// Index 0..3, for per-algorithm tables.
    pub(crate) fn index(self) -> usize {
        match self {
            Algorithm::Md5 => 0,
            Algorithm::Sha256 => 1,
            Algorithm::Sha512_256 => 2,
        }
    }

    /// Writes the lowercase hex of `H(parts[0] ":" parts[1] ":" ...)` to the
    /// front of `out` and returns its length (32 for MD5, 64 otherwise).
    pub fn hash_hex(self, parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
        match self {
            Algorithm::Md5 => joined::<Md5>(parts, out),
            Algorithm::Sha256 => joined::<Sha256>(parts, out),
            Algorithm::Sha512_256 => joined::<Sha512_256>(parts, out),
        }
    }
}

fn joined<D: Digest>(parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
    let d = h.finalize();
    hex_encode(&d, &mut out[..]);
    d.len() * 2
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes the lowercase hex of `bytes` to the front of `out`
/// (`out.len() >= 2 * bytes.len()`).
pub(crate) fn hex_encode(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
}

/// Value of one hex digit, either case.
pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `hex` (even length, either case) into the front of `out`; `None`
/// if a character is not hex or `out` is too short.
pub(crate) fn hex_decode(hex: &[u8], out: &mut [u8]) -> Option<usize> {
    if hex.len() & 1 != 0 || hex.len() / 2 > out.len() {
        return None;
    }
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = hex_val(pair[0])? << 4 | hex_val(pair[1])?;
    }
    Some(hex.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hh(alg: Algorithm, parts: &[&[u8]]) -> String {
        let mut out = [0u8; 64];
        let n = alg.hash_hex(parts, &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn tokens_round_trip_case_insensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_token(a.token().as_bytes()), Some(a));
            assert_eq!(Algorithm::from_token(a.token().to_ascii_lowercase().as_bytes()), Some(a));
        }
        assert_eq!(Algorithm::from_token(b"sha-512-256"), Some(Algorithm::Sha512_256));
        assert_eq!(Algorithm::from_token(b"MD5-sess"), None);
        assert_eq!(Algorithm::from_token(b"SHA256"), None);
        assert_eq!(Algorithm::from_token(b""), None);
    }

    #[test]
    fn known_digests_joined_with_colons() {
        // Well-known empty-input digests.
        assert_eq!(hh(Algorithm::Md5, &[b""]), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hh(Algorithm::Sha256, &[b""]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            hh(Algorithm::Sha512_256, &[b""]),
            "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a"
        );
        // MD5("a:b") == H("a","b")
        assert_eq!(hh(Algorithm::Md5, &[b"a", b"b"]), hh(Algorithm::Md5, &[b"a:b"]));
        assert_ne!(hh(Algorithm::Md5, &[b"a", b"b"]), hh(Algorithm::Md5, &[b"ab"]));
        assert_eq!(hh(Algorithm::Md5, &[b"a", b"b"]).len(), Algorithm::Md5.hex_len());
        assert_eq!(hh(Algorithm::Sha512_256, &[b"x"]).len(), Algorithm::Sha512_256.hex_len());
    }

    #[test]
    fn hex_helpers() {
        let mut buf = [0u8; 4];
        assert_eq!(hex_decode(b"00fFa1", &mut buf), Some(3));
        assert_eq!(&buf[..3], &[0x00, 0xff, 0xa1]);
        assert_eq!(hex_decode(b"0g", &mut buf), None);
        assert_eq!(hex_decode(b"abc", &mut buf), None);
        assert_eq!(hex_decode(b"0011223344", &mut buf), None);
        let mut out = [0u8; 6];
        hex_encode(&[0x00, 0xff, 0xa1], &mut out);
        assert_eq!(&out, b"00ffa1");
    }
}
