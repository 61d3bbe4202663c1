//! Parsing the value of an Authorization or Proxy-Authorization header
//! (RFC 3261 §25.1 `credentials`, RFC 7616 §3.4) into borrowed views.
//!
//! Zero-copy: every field is a slice of the input. A quoted value is the
//! text between its quotes with any backslash escapes left in place (the
//! verifier unescapes the rare value that has one, see [`unq`]). Accepted
//! leniently, as deployed phones need: scheme and parameter names in any
//! case, LWS (including folded lines) around `=` and `,`, empty list
//! elements, `algorithm`/`qop`/`userhash` quoted or not. Unknown
//! parameters are skipped. A repeated known parameter, a missing required
//! one (`username`, `realm`, `nonce`, `uri`, `response`), an unterminated
//! quote or an `nc` that is not 8 hex digits is `Malformed`.

use std::borrow::Cow;

use super::algorithm::{hex_val, Algorithm};

/// Digest credentials, borrowed from the header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub username: &'a [u8],
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    pub uri: &'a [u8],
    pub response: &'a [u8],
    /// `None` when absent, which means MD5.
    pub algorithm: Option<Algorithm>,
    pub cnonce: Option<&'a [u8]>,
    pub nc: Option<u32>,
    pub qop: Option<&'a [u8]>,
    pub opaque: Option<&'a [u8]>,
    /// RFC 7616 `userhash=true`: `username` is `H(user:realm)`.
    pub userhash: bool,
}

/// Why a header value is not usable Digest credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredError {
    /// Another scheme (Basic, or RFC 4475 regaut01's "NoOneKnowsThisScheme").
    NotDigest,
    Malformed(&'static str),
    /// `algorithm=` names one this server does not implement (e.g. `MD5-sess`).
    UnknownAlgorithm,
}

/// The unescaped form of a quoted value (RFC 3261 `quoted-pair`): borrowed
/// when it has no backslash, which is the common case.
pub fn unq(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut v = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            i += 1;
        }
        v.push(raw[i]);
        i += 1;
    }
    Cow::Owned(v)
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips SP, HTAB and CRLF/LF (folded lines).
    fn lws(&mut self) {
        while let Some(c) = self.peek() {
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn token(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// A token or a quoted string (returned without quotes, escapes kept),
    /// with whether it was quoted.
    fn value(&mut self) -> Result<(&'a [u8], bool), CredError> {
        if self.peek() != Some(b'"') {
            let t = self.token();
            if t.is_empty() {
                return Err(CredError::Malformed("empty parameter value"));
            }
            return Ok((t, false));
        }
        self.i += 1;
        let start = self.i;
        loop {
            match self.peek() {
                None => return Err(CredError::Malformed("unterminated quoted string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    if self.i + 1 >= self.s.len() {
                        return Err(CredError::Malformed("unterminated quoted string"));
                    }
                    self.i += 2;
                }
                Some(_) => self.i += 1,
            }
        }
        let v = &self.s[start..self.i];
        self.i += 1;
        Ok((v, true))
    }
}

fn set<'a>(slot: &mut Option<&'a [u8]>, v: &'a [u8], dup: &'static str) -> Result<(), CredError> {
    if slot.replace(v).is_some() {
        return Err(CredError::Malformed(dup));
    }
    Ok(())
}

fn parse_nc(v: &[u8]) -> Option<u32> {
    if v.len() != 8 {
        return None;
    }
    v.iter().try_fold(0u32, |acc, &c| Some(acc << 4 | hex_val(c)? as u32))
}

/// Parses an Authorization / Proxy-Authorization header value.
pub fn parse_credentials(value: &[u8]) -> Result<Credentials<'_>, CredError> {
    let mut c = Cursor { s: value, i: 0 };
    c.lws();
    let scheme = c.token();
    if scheme.is_empty() {
        return Err(CredError::Malformed("missing auth scheme"));
    }
    if !scheme.eq_ignore_ascii_case(b"Digest") {
        return Err(CredError::NotDigest);
    }
    if c.peek().is_some() && !matches!(c.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        // "Digestive realm=..." or "Digest,": not our scheme token.
        return Err(CredError::NotDigest);
    }

    let (mut username, mut realm, mut nonce, mut uri, mut response) = (None, None, None, None, None);
    let (mut algorithm, mut cnonce, mut nc, mut qop, mut opaque, mut userhash) = (None, None, None, None, None, None);

    loop {
        c.lws();
        match c.peek() {
            None => break,
            Some(b',') => {
                c.i += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = c.token();
        if name.is_empty() {
            return Err(CredError::Malformed("expected parameter name"));
        }
        c.lws();
        if c.peek() != Some(b'=') {
            return Err(CredError::Malformed("expected `=` after parameter name"));
        }
        c.i += 1;
        c.lws();
        let (v, _quoted) = c.value()?;
        c.lws();
        match c.peek() {
            None | Some(b',') => {}
            Some(_) => return Err(CredError::Malformed("expected `,` between parameters")),
        }
        let lname = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if lname("username") {
            set(&mut username, v, "duplicate username")?;
        } else if lname("realm") {
            set(&mut realm, v, "duplicate realm")?;
        } else if lname("nonce") {
            set(&mut nonce, v, "duplicate nonce")?;
        } else if lname("uri") {
            set(&mut uri, v, "duplicate uri")?;
        } else if lname("response") {
            set(&mut response, v, "duplicate response")?;
        } else if lname("algorithm") {
            set(&mut algorithm, v, "duplicate algorithm")?;
        } else if lname("cnonce") {
            set(&mut cnonce, v, "duplicate cnonce")?;
        } else if lname("nc") {
            set(&mut nc, v, "duplicate nc")?;
        } else if lname("qop") {
            set(&mut qop, v, "duplicate qop")?;
        } else if lname("opaque") {
            set(&mut opaque, v, "duplicate opaque")?;
        } else if lname("userhash") {
            set(&mut userhash, v, "duplicate userhash")?;
        }
        // Anything else is an auth-param we do not use.
    }

    let algorithm = match algorithm {
        None => None,
        Some(a) => Some(Algorithm::from_token(a).ok_or(CredError::UnknownAlgorithm)?),
    };
    let nc = match nc {
        None => None,
        Some(v) => Some(parse_nc(v).ok_or(CredError::Malformed("nc must be 8 hex digits"))?),
    };
    let userhash = match userhash {
        None => false,
        Some(v) if v.eq_ignore_ascii_case(b"true") => true,
        Some(v) if v.eq_ignore_ascii_case(b"false") => false,
        Some(_) => return Err(CredError::Malformed("userhash must be true or false")),
    };
    Ok(Credentials {
        username: username.ok_or(CredError::Malformed("missing username"))?,
        realm: realm.ok_or(CredError::Malformed("missing realm"))?,
        nonce: nonce.ok_or(CredError::Malformed("missing nonce"))?,
        uri: uri.ok_or(CredError::Malformed("missing uri"))?,
        response: response.ok_or(CredError::Malformed("missing response"))?,
        algorithm,
        cnonce,
        nc,
        qop,
        opaque,
        userhash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Credentials<'_> {
        parse_credentials(s.as_bytes()).unwrap_or_else(|e| panic!("{:?} for {}", e, s))
    }

    #[test]
    fn linphone_style() {
        let c = p("Digest realm=\"sip.example.com\", nonce=\"abc123\", algorithm=SHA-256, opaque=\"+GNywA==\", \
                   username=\"alice\",  uri=\"sip:sip.example.com\", \
                   response=\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", \
                   cnonce=\"Xj9h3sO1tN2p\", nc=0000000a, qop=auth");
        assert_eq!(c.username, b"alice");
        assert_eq!(c.realm, b"sip.example.com");
        assert_eq!(c.nonce, b"abc123");
        assert_eq!(c.uri, b"sip:sip.example.com");
        assert_eq!(c.response.len(), 64);
        assert_eq!(c.algorithm, Some(Algorithm::Sha256));
        assert_eq!(c.opaque, Some(&b"+GNywA=="[..]));
        assert_eq!(c.cnonce, Some(&b"Xj9h3sO1tN2p"[..]));
        assert_eq!(c.nc, Some(10));
        assert_eq!(c.qop, Some(&b"auth"[..]));
        assert!(!c.userhash);
    }

    #[test]
    fn zoiper_style_quoted_tokens_and_unknown_params() {
        let c = p("Digest username=\"1001\",realm=\"pbx.local\",nonce=\"n\",uri=\"sip:pbx.local;transport=UDP\",\
                   response=\"6629fae49393a05397450978507c4ef1\",cnonce=\"c\",nc=00000001,qop=\"auth\",\
                   algorithm=\"MD5\",x-vendor=\"zoiper\"");
        assert_eq!(c.username, b"1001");
        assert_eq!(c.uri, b"sip:pbx.local;transport=UDP");
        assert_eq!(c.qop, Some(&b"auth"[..]));
        assert_eq!(c.algorithm, Some(Algorithm::Md5));
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.opaque, None);
    }

    #[test]
    fn odd_spacing_case_and_folding() {
        let c =
            p("  dIGEST   USERNAME = \"bob\" ,\r\n\tRealm=\"r\" ,, NONCE=\"n\",uri =\"sip:r\"\t,Response= \"00\" ,\
                   ALGORITHM=sha-512-256 , NC = FFFFFFFF , UserHash=TRUE ,");
        assert_eq!(c.username, b"bob");
        assert_eq!(c.realm, b"r");
        assert_eq!(c.nonce, b"n");
        assert_eq!(c.uri, b"sip:r");
        assert_eq!(c.response, b"00");
        assert_eq!(c.algorithm, Some(Algorithm::Sha512_256));
        assert_eq!(c.nc, Some(u32::MAX));
        assert!(c.userhash);
        assert_eq!(c.qop, None);
        assert_eq!(c.cnonce, None);
    }

    #[test]
    fn quoted_values_keep_escapes_and_commas() {
        let c = p(r#"Digest username="a\"b\\c", realm="r, with comma", nonce="n", uri="sip:x", response="00""#);
        assert_eq!(c.username, br#"a\"b\\c"#);
        assert_eq!(&*unq(c.username), br#"a"b\c"#);
        assert!(matches!(unq(c.realm), Cow::Borrowed(_)));
        assert_eq!(c.realm, b"r, with comma");
    }

    #[test]
    fn other_schemes_are_not_digest() {
        // RFC 4475 §3.1.2.x regaut01
        assert_eq!(parse_credentials(b"NoOneKnowsThisScheme opaque-data=here").unwrap_err(), CredError::NotDigest);
        assert_eq!(parse_credentials(b"Basic YWxhZGRpbjpvcGVuc2VzYW1l").unwrap_err(), CredError::NotDigest);
        assert_eq!(parse_credentials(b"Digestive username=\"a\"").unwrap_err(), CredError::NotDigest);
        assert_eq!(parse_credentials(b"").unwrap_err(), CredError::Malformed("missing auth scheme"));
        assert_eq!(parse_credentials(b"  \"Digest\"").unwrap_err(), CredError::Malformed("missing auth scheme"));
    }

    #[test]
    fn missing_or_broken_params_are_malformed() {
        let full = "username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"00\"";
        assert!(parse_credentials(format!("Digest {}", full).as_bytes()).is_ok());
        for name in ["username", "realm", "nonce", "uri", "response"] {
            let without: Vec<&str> = full.split(", ").filter(|kv| !kv.starts_with(&format!("{}=", name))).collect();
            let v = format!("Digest {}", without.join(", "));
            match parse_credentials(v.as_bytes()) {
                Err(CredError::Malformed(m)) => assert_eq!(m, format!("missing {}", name)),
                other => panic!("{}: {:?}", v, other),
            }
        }
        let bad = |extra: &str| parse_credentials(format!("Digest {}, {}", full, extra).as_bytes()).unwrap_err();
        assert_eq!(bad("nc=1"), CredError::Malformed("nc must be 8 hex digits"));
        assert_eq!(bad("nc=0000000g"), CredError::Malformed("nc must be 8 hex digits"));
        assert_eq!(bad("nc=000000001"), CredError::Malformed("nc must be 8 hex digits"));
        assert_eq!(bad("username=\"again\""), CredError::Malformed("duplicate username"));
        assert_eq!(bad("opaque=\"unterminated"), CredError::Malformed("unterminated quoted string"));
        assert_eq!(bad("opaque=\"ends in backslash\\"), CredError::Malformed("unterminated quoted string"));
        assert_eq!(bad("qop"), CredError::Malformed("expected `=` after parameter name"));
        assert_eq!(bad("qop="), CredError::Malformed("empty parameter value"));
        assert_eq!(bad("qop=auth auth-int"), CredError::Malformed("expected `,` between parameters"));
        assert_eq!(bad("userhash=maybe"), CredError::Malformed("userhash must be true or false"));
        assert_eq!(bad("=x"), CredError::Malformed("expected parameter name"));
        assert_eq!(bad("algorithm=MD5-sess"), CredError::UnknownAlgorithm);
        assert_eq!(bad("algorithm=\"SHA-1\""), CredError::UnknownAlgorithm);
        assert_eq!(parse_credentials(b"Digest").unwrap_err(), CredError::Malformed("missing username"));
    }
}
