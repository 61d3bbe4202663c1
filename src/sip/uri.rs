//! Request-URI and header URIs: splits sip/sips (RFC 3261 §19.1), tel
//! (RFC 3966) and any other scheme into borrowed parts. No unescaping: `%xx`
//! stays as written (compare escaped forms or unescape at the use site).

use super::params::find_param;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: Scheme,
    /// The scheme as written (e.g. "SIP", "soap.beep").
    pub scheme_raw: &'a [u8],
    pub user: Option<&'a [u8]>,
    pub password: Option<&'a [u8]>,
    /// sip/sips: host (IPv6 with brackets). tel: the number. Other: the
    /// whole scheme-specific part.
    pub host: &'a [u8],
    pub port: Option<u16>,
    /// Raw ";a=b;c" (empty when none).
    pub params: &'a [u8],
    /// Raw text after '?' (empty when none).
    pub headers: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriError {
    Empty,
    Scheme,
    /// Whitespace, control characters, quotes or `<>` inside.
    BadChar,
    User,
    Host,
    Port,
}

impl<'a> Uri<'a> {
    /// Case-insensitive URI parameter: `Some(None)` for a flag like `;lr`.
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        find_param(self.params, name)
    }
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }
}

#[inline]
fn bad_char(c: u8) -> bool {
    c <= 0x20 || c == 0x7f || matches!(c, b'<' | b'>' | b'"')
}

/// Port: 1–5 digits, ≤ 65535.
pub(crate) fn parse_port(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u32 = 0;
    for &c in b {
        n = n * 10 + (c - b'0') as u32;
    }
    u16::try_from(n).ok()
}

/// Characters of a host name or IPv4 address: alphanumerics, `-`, `.`, `_`.
#[inline]
pub(crate) fn is_host_char(c: u8) -> bool {
    HOST[c as usize]
}

static HOST: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        c += 1;
    }
    t
};

/// Host name / IPv4 / bracketed IPv6 (characters only; no DNS-label rules).
pub(crate) fn host_valid(h: &[u8]) -> bool {
    if h.is_empty() {
        return false;
    }
    if h[0] == b'[' {
        return h.len() > 2
            && h[h.len() - 1] == b']'
            && h[1..h.len() - 1].iter().all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            && h[1..h.len() - 1].contains(&b':');
    }
    h.iter().all(|&c| is_host_char(c))
}

/// `(host, port, rest)` of a `host[:port]` prefix.
pub(crate) type HostPort<'a> = (&'a [u8], Option<u16>, &'a [u8]);

/// Split `host[:port]` at the start of `b`; returns (host, port, rest).
pub(crate) fn split_hostport(b: &[u8]) -> Result<HostPort<'_>, UriError> {
    let host_end = if b.first() == Some(&b'[') {
        let end = b.iter().position(|&c| c == b']').ok_or(UriError::Host)? + 1;
        if !host_valid(&b[..end]) {
            return Err(UriError::Host);
        }
        end
    } else {
        // One pass: the host runs to the first `:`, `;` or `?` and must be
        // host characters all the way, so stopping at the first non-host
        // character is enough when that character is one of the three.
        let end = b.iter().position(|&c| !is_host_char(c)).unwrap_or(b.len());
        if end == 0 || (end < b.len() && !matches!(b[end], b':' | b';' | b'?')) {
            return Err(UriError::Host);
        }
        end
    };
    let host = &b[..host_end];
    let mut rest = &b[host_end..];
    let mut port = None;
    if rest.first() == Some(&b':') {
        let pe = rest.iter().position(|&c| matches!(c, b';' | b'?')).unwrap_or(rest.len());
        port = Some(parse_port(&rest[1..pe]).ok_or(UriError::Port)?);
        rest = &rest[pe..];
    }
    Ok((host, port, rest))
}

/// Parse a URI as it appears on the request line or inside `<>`.
/// RFC 1123 host name: dot-separated labels of letters, digits and
/// hyphens, not starting or ending with a hyphen, and not all-numeric at
/// the top (so `10.0.0.1` is not a name).
/// `s` as a host name is compared: without a trailing dot, lower-cased;
/// None when it is not one (see [`is_host_name`]).
pub fn host_name(s: &str) -> Option<String> {
    let h = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    is_host_name(&h).then_some(h)
}

pub fn is_host_name(host: &str) -> bool {
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(ok_label)
        && !host.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|c| c.is_ascii_digit()))
}

pub fn parse_uri(b: &[u8]) -> Result<Uri<'_>, UriError> {
    if b.is_empty() {
        return Err(UriError::Empty);
    }
    // `fold`, not `any`: no early exit, so the scan is vectorised.
    if b.iter().fold(false, |bad, &c| bad | bad_char(c)) {
        return Err(UriError::BadChar);
    }
    let colon = b.iter().position(|&c| c == b':').ok_or(UriError::Scheme)?;
    let scheme_raw = &b[..colon];
    if scheme_raw.is_empty()
        || !scheme_raw[0].is_ascii_alphabetic()
        || !scheme_raw.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(UriError::Scheme);
    }
    let scheme = if scheme_raw.eq_ignore_ascii_case(b"sip") {
        Scheme::Sip
    } else if scheme_raw.eq_ignore_ascii_case(b"sips") {
        Scheme::Sips
    } else if scheme_raw.eq_ignore_ascii_case(b"tel") {
        Scheme::Tel
    } else {
        Scheme::Other
    };
    let rest = &b[colon + 1..];
    if rest.is_empty() {
        return Err(UriError::Host);
    }
    let mut uri =
        Uri { scheme, scheme_raw, user: None, password: None, host: rest, port: None, params: &[], headers: &[] };
    match scheme {
        Scheme::Other => Ok(uri),
        Scheme::Tel => {
            let (num, params) = match rest.iter().position(|&c| c == b';') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, &rest[rest.len()..]),
            };
            if num.is_empty() {
                return Err(UriError::Host);
            }
            uri.host = num;
            uri.params = params;
            Ok(uri)
        }
        Scheme::Sip | Scheme::Sips => {
            // userinfo ends at the first '@' (user may contain ; ? / , etc).
            let mut hp = rest;
            if let Some(at) = rest.iter().position(|&c| c == b'@') {
                let ui = &rest[..at];
                let (user, pw) = match ui.iter().position(|&c| c == b':') {
                    Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                    None => (ui, None),
                };
                if user.is_empty() {
                    return Err(UriError::User);
                }
                uri.user = Some(user);
                uri.password = pw;
                hp = &rest[at + 1..];
            }
            let (host, port, tail) = split_hostport(hp)?;
            uri.host = host;
            uri.port = port;
            let (params, headers) = match tail.iter().position(|&c| c == b'?') {
                Some(i) => (&tail[..i], &tail[i + 1..]),
                None => (tail, &tail[tail.len()..]),
            };
            if !super::params::params_valid(params) {
                return Err(UriError::Host);
            }
            uri.params = params;
            uri.headers = headers;
            Ok(uri)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(is_host_name("a-b.example"));
        assert!(is_host_name("_sip._udp.example"));
        assert!(!is_host_name("-a.example"));
        assert!(!is_host_name("a..example"));
        assert!(!is_host_name("10.0.0.1"));
        assert!(!is_host_name("a b"));
    }

    #[test]
    fn sip_full() {
        let u = parse_uri(b"sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"pw"[..]));
        assert_eq!(u.host, b"[2001:db8::1]");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.param("TRANSPORT"), Some(Some(&b"tcp"[..])));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.param("maddr"), None);
        assert_eq!(u.headers, b"subject=x");
    }

    #[test]
    fn weird_users() {
        let u = parse_uri(b"sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(u.host, b"example.com");
        let u = parse_uri(b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(u.user, Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..]));
        assert_eq!(u.host, b"example.com");
    }

    #[test]
    fn rejects() {
        assert_eq!(parse_uri(b"<sip:a@b>").unwrap_err(), UriError::BadChar);
        assert_eq!(parse_uri(b"sip:a@b; lr").unwrap_err(), UriError::BadChar);
        assert_eq!(parse_uri(b"sip:2001:db8::10").unwrap_err(), UriError::Port);
        assert_eq!(parse_uri(b"sip:a@b:70000").unwrap_err(), UriError::Port);
        assert_eq!(parse_uri(b"sip:a@b:").unwrap_err(), UriError::Port);
        assert_eq!(parse_uri(b"sip:a@").unwrap_err(), UriError::Host);
        assert_eq!(parse_uri(b"sip:").unwrap_err(), UriError::Host);
        assert_eq!(parse_uri(b"nocolon").unwrap_err(), UriError::Scheme);
        assert_eq!(parse_uri(b"").unwrap_err(), UriError::Empty);
    }

    #[test]
    fn other_schemes() {
        let u = parse_uri(b"tel:+1-201-555-0123;phone-context=x").unwrap();
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(u.host, b"+1-201-555-0123");
        assert_eq!(u.param("phone-context"), Some(Some(&b"x"[..])));
        let u = parse_uri(b"soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme, Scheme::Other);
        assert_eq!(u.scheme_raw, b"soap.beep");
        let u = parse_uri(b"[2001:db8::10:5070]");
        assert!(u.is_err());
        let u = parse_uri(b"sip:[2001:db8::10]:5070").unwrap();
        assert_eq!(u.port, Some(5070));
    }
}
