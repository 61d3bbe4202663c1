//! Building challenge values for WWW-Authenticate (401, registrar) and
//! Proxy-Authenticate (407, proxy) headers (RFC 3261 §22.1, RFC 7616 §3.3).
//!
//! One value per algorithm; the caller writes each as its own header, in
//! order of preference, strongest first (RFC 8760; `Algorithm::ALL` is in
//! that order), so that old phones that understand only MD5 skip the
//! SHA-2 ones and new ones pick the strongest. `qop="auth"` is always
//! offered: the verifier requires it. `opaque` and `userhash` are not sent
//! (the nonce is stateless, and username hashing is not supported).

use super::algorithm::Algorithm;

/// Appends `Digest realm="<realm>", nonce="<nonce>", algorithm=<TOKEN>,
/// qop="auth"[, stale=true]` to `out`. `realm` and `nonce` are quoted,
/// with `"` and `\` escaped.
pub fn write_challenge(realm: &[u8], nonce: &[u8], alg: Algorithm, stale: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Digest realm=\"");
    quote_into(realm, out);
    out.extend_from_slice(b"\", nonce=\"");
    quote_into(nonce, out);
    out.extend_from_slice(b"\", algorithm=");
    out.extend_from_slice(alg.token().as_bytes());
    out.extend_from_slice(b", qop=\"auth\"");
    if stale {
        out.extend_from_slice(b", stale=true");
    }
}

fn quote_into(v: &[u8], out: &mut Vec<u8>) {
    for &c in v {
        if c == b'"' || c == b'\\' {
            out.push(b'\\');
        }
        // CR/LF would split the header: never emit them.
        if c != b'\r' && c != b'\n' {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::credentials::unq;
    use super::*;

    #[test]
    fn exact_bytes_per_algorithm_and_stale() {
        let mut out = Vec::new();
        write_challenge(b"example.com", b"0123", Algorithm::Sha256, false, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "Digest realm=\"example.com\", nonce=\"0123\", algorithm=SHA-256, qop=\"auth\""
        );
        out.clear();
        write_challenge(b"example.com", b"0123", Algorithm::Md5, true, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "Digest realm=\"example.com\", nonce=\"0123\", algorithm=MD5, qop=\"auth\", stale=true"
        );
        // Appends, does not clear.
        write_challenge(b"r", b"n", Algorithm::Sha512_256, false, &mut out);
        assert!(out.ends_with(b"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256, qop=\"auth\""));
    }

    #[test]
    fn realm_is_escaped_and_unescapes_back() {
        let mut out = Vec::new();
        write_challenge(b"we\"ird\\realm\r\n", b"n", Algorithm::Md5, false, &mut out);
        let s = std::str::from_utf8(&out).unwrap();
        assert!(s.starts_with(r#"Digest realm="we\"ird\\realm", nonce="n""#), "{}", s);
        let inner = &out[b"Digest realm=\"".len()..out.len() - b"\", nonce=\"n\", algorithm=MD5, qop=\"auth\"".len()];
        assert_eq!(&*unq(inner), b"we\"ird\\realm");
    }
}
