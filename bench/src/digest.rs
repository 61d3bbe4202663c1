//! Digest access authentication client side (RFC 2617 / RFC 7616 / RFC 8760):
//! challenge parsing and `response` computation for MD5 and SHA-256 with
//! qop=auth (or legacy no-qop), plus rendering of the Authorization header.

use crate::hash::{Hasher, Md5, Sha256};
use crate::sipmsg::{comma_split, trim};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }
}

/// A parsed `Digest` challenge (borrows from the message).
#[derive(Debug, Default, Clone, Copy)]
pub struct Challenge<'a> {
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    pub opaque: &'a [u8],
    pub algorithm: Option<Algorithm>,
    /// qop=auth offered
    pub qop_auth: bool,
}

/// Parses `Digest realm="..", nonce="..", ...`. Returns None for other
/// schemes or unsupported algorithms (e.g. -sess variants).
pub fn parse_challenge(v: &[u8]) -> Option<Challenge<'_>> {
    let v = trim(v);
    if v.len() < 7 || !v[..6].eq_ignore_ascii_case(b"digest") || !(v[6] == b' ' || v[6] == b'\t') {
        return None;
    }
    let mut c = Challenge { algorithm: Some(Algorithm::Md5), ..Default::default() };
    for item in comma_split(&v[7..]) {
        let eq = match item.iter().position(|&b| b == b'=') {
            Some(p) => p,
            None => continue,
        };
        let k = trim(&item[..eq]);
        let mut val = trim(&item[eq + 1..]);
        if val.len() >= 2 && val[0] == b'"' && val[val.len() - 1] == b'"' {
            val = &val[1..val.len() - 1];
        }
        if k.eq_ignore_ascii_case(b"realm") {
            c.realm = val;
        } else if k.eq_ignore_ascii_case(b"nonce") {
            c.nonce = val;
        } else if k.eq_ignore_ascii_case(b"opaque") {
            c.opaque = val;
        } else if k.eq_ignore_ascii_case(b"algorithm") {
            c.algorithm = if val.eq_ignore_ascii_case(b"md5") {
                Some(Algorithm::Md5)
            } else if val.eq_ignore_ascii_case(b"sha-256") {
                Some(Algorithm::Sha256)
            } else {
                None
            };
        } else if k.eq_ignore_ascii_case(b"qop") {
            c.qop_auth = val.split(|&b| b == b',').any(|q| trim(q).eq_ignore_ascii_case(b"auth"));
        }
    }
    c.algorithm?;
    Some(c)
}

fn hash_parts(alg: Algorithm, parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
    fn go<H: Hasher>(mut h: H, parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                h.update(b":");
            }
            h.update(p);
        }
        h.finish_hex(out)
    }
    match alg {
        Algorithm::Md5 => go(Md5::new(), parts, out),
        Algorithm::Sha256 => go(Sha256::new(), parts, out),
    }
}

/// Inputs of one response computation.
pub struct Creds<'a> {
    pub username: &'a [u8],
    pub password: &'a [u8],
    pub method: &'a [u8],
    pub uri: &'a [u8],
    /// Client nonce and nonce count (used when qop=auth).
    pub cnonce: &'a [u8],
    pub nc: &'a [u8],
}

/// Computes the hex `response` into `out`, returning its length.
/// qop=auth: H(H(A1):nonce:nc:cnonce:auth:H(A2)); no qop: H(H(A1):nonce:H(A2)).
pub fn response(ch: &Challenge, cr: &Creds, out: &mut [u8; 64]) -> usize {
    let alg = ch.algorithm.unwrap_or(Algorithm::Md5);
    let mut ha1 = [0u8; 64];
    let n1 = hash_parts(alg, &[cr.username, ch.realm, cr.password], &mut ha1);
    let mut ha2 = [0u8; 64];
    let n2 = hash_parts(alg, &[cr.method, cr.uri], &mut ha2);
    if ch.qop_auth {
        hash_parts(alg, &[&ha1[..n1], ch.nonce, cr.nc, cr.cnonce, b"auth", &ha2[..n2]], out)
    } else {
        hash_parts(alg, &[&ha1[..n1], ch.nonce, &ha2[..n2]], out)
    }
}

/// Appends `<hdr_name>: Digest ...\r\n` to `out`.
pub fn write_authorization(out: &mut Vec<u8>, hdr_name: &[u8], ch: &Challenge, cr: &Creds) {
    let alg = ch.algorithm.unwrap_or(Algorithm::Md5);
    let mut resp = [0u8; 64];
    let n = response(ch, cr, &mut resp);
    debug_assert_eq!(n, alg.hex_len());
    out.extend_from_slice(hdr_name);
    out.extend_from_slice(b": Digest username=\"");
    out.extend_from_slice(cr.username);
    out.extend_from_slice(b"\", realm=\"");
    out.extend_from_slice(ch.realm);
    out.extend_from_slice(b"\", nonce=\"");
    out.extend_from_slice(ch.nonce);
    out.extend_from_slice(b"\", uri=\"");
    out.extend_from_slice(cr.uri);
    out.extend_from_slice(b"\", response=\"");
    out.extend_from_slice(&resp[..n]);
    out.extend_from_slice(b"\", algorithm=");
    out.extend_from_slice(alg.name().as_bytes());
    if ch.qop_auth {
        out.extend_from_slice(b", qop=auth, nc=");
        out.extend_from_slice(cr.nc);
        out.extend_from_slice(b", cnonce=\"");
        out.extend_from_slice(cr.cnonce);
        out.push(b'"');
    }
    if !ch.opaque.is_empty() {
        out.extend_from_slice(b", opaque=\"");
        out.extend_from_slice(ch.opaque);
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(ch: &Challenge, cr: &Creds) -> String {
        let mut o = [0u8; 64];
        let n = response(ch, cr, &mut o);
        String::from_utf8(o[..n].to_vec()).unwrap()
    }

    #[test]
    fn rfc2617_section_3_5() {
        let ch = parse_challenge(
            b"Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(ch.algorithm, Some(Algorithm::Md5));
        assert!(ch.qop_auth);
        let cr = Creds {
            username: b"Mufasa",
            password: b"Circle Of Life",
            method: b"GET",
            uri: b"/dir/index.html",
            cnonce: b"0a4f113b",
            nc: b"00000001",
        };
        assert_eq!(resp(&ch, &cr), "6629fae49393a05397450978507c4ef1");
    }

    fn rfc7616_creds() -> Creds<'static> {
        Creds {
            username: b"Mufasa",
            password: b"Circle of Life",
            method: b"GET",
            uri: b"/dir/index.html",
            cnonce: b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: b"00000001",
        }
    }

    #[test]
    fn rfc7616_section_3_9_1_md5() {
        let ch = parse_challenge(b"Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"").unwrap();
        assert_eq!(resp(&ch, &rfc7616_creds()), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256() {
        let ch = parse_challenge(b"Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"").unwrap();
        assert_eq!(ch.algorithm, Some(Algorithm::Sha256));
        assert_eq!(resp(&ch, &rfc7616_creds()), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        let mut out = Vec::new();
        write_authorization(&mut out, b"Authorization", &ch, &rfc7616_creds());
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("Authorization: Digest username=\"Mufasa\", realm=\"http-auth@example.org\""));
        assert!(s.contains("response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""));
        assert!(s.contains(
            "algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\""
        ));
        assert!(s.ends_with("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"\r\n"));
    }

    #[test]
    fn rejects_other_schemes_and_sess() {
        assert!(parse_challenge(b"Basic realm=\"x\"").is_none());
        assert!(parse_challenge(b"Digest realm=\"x\", nonce=\"n\", algorithm=MD5-sess").is_none());
        let ch = parse_challenge(b"Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert!(!ch.qop_auth);
    }
}
