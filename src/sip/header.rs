//! Header names: the closed set of names the edge cares about, their compact
//! forms (RFC 3261 §7.3.3 and later extensions), canonical spellings, and
//! which of them are comma-separated lists. Everything else is `Other` and
//! passes through untouched.

/// A header name the edge knows by heart; anything else is `Other`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[repr(u8)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    Contact,
    Route,
    RecordRoute,
    Expires,
    ContentLength,
    ContentType,
    Require,
    ProxyRequire,
    Supported,
    Allow,
    UserAgent,
    Server,
    Path,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    Event,
    Date,
    MinExpires,
    Accept,
    Unsupported,
    RetryAfter,
    // additions beyond the brief
    Subject,
    AllowEvents,
    ReferTo,
    ReferredBy,
    SessionExpires,
    Identity,
    ContentEncoding,
    ServiceRoute,
    SubscriptionState,
    Warning,
    AuthenticationInfo,
    PAssertedIdentity,
    RSeq,
    RAck,
    Other,
}

impl HeaderName {
    /// Case-insensitive lookup, compact forms included. Unknown → `Other`.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        use HeaderName::*;
        // Dispatch on length and first letter, then one case-insensitive
        // comparison, word at a time, against the (rarely two) candidates.
        let Some(&first) = name.first() else { return Other };
        macro_rules! pick {
            ($($lit:literal => $h:expr),+) => {{
                $(if eq_folded(name, $lit) { return $h; })+
                Other
            }};
        }
        match (name.len(), first | 0x20) {
            (1, c) => match c {
                b'b' => ReferredBy,
                b'c' => ContentType,
                b'e' => ContentEncoding,
                b'f' => From,
                b'i' => CallId,
                b'k' => Supported,
                b'l' => ContentLength,
                b'm' => Contact,
                b'o' => Event,
                b'r' => ReferTo,
                b's' => Subject,
                b't' => To,
                b'u' => AllowEvents,
                b'v' => Via,
                b'x' => SessionExpires,
                b'y' => Identity,
                _ => Other,
            },
            (2, b't') => pick!(b"to" => To),
            (3, b'v') => pick!(b"via" => Via),
            (4, b'f') => pick!(b"from" => From),
            (4, b'c') => pick!(b"cseq" => CSeq),
            (4, b'p') => pick!(b"path" => Path),
            (4, b'd') => pick!(b"date" => Date),
            (4, b'r') => pick!(b"rseq" => RSeq, b"rack" => RAck),
            (5, b'r') => pick!(b"route" => Route),
            (5, b'a') => pick!(b"allow" => Allow),
            (5, b'e') => pick!(b"event" => Event),
            (6, b's') => pick!(b"server" => Server),
            (6, b'a') => pick!(b"accept" => Accept),
            (7, b'c') => pick!(b"call-id" => CallId, b"contact" => Contact),
            (7, b'e') => pick!(b"expires" => Expires),
            (7, b'r') => pick!(b"require" => Require),
            (7, b's') => pick!(b"subject" => Subject),
            (7, b'w') => pick!(b"warning" => Warning),
            (8, b'r') => pick!(b"refer-to" => ReferTo),
            (8, b'i') => pick!(b"identity" => Identity),
            (9, b's') => pick!(b"supported" => Supported),
            (10, b'u') => pick!(b"user-agent" => UserAgent),
            (11, b'm') => pick!(b"min-expires" => MinExpires),
            (11, b'u') => pick!(b"unsupported" => Unsupported),
            (11, b'r') => pick!(b"retry-after" => RetryAfter, b"referred-by" => ReferredBy),
            (12, b'm') => pick!(b"max-forwards" => MaxForwards),
            (12, b'r') => pick!(b"record-route" => RecordRoute),
            (12, b'c') => pick!(b"content-type" => ContentType),
            (12, b'a') => pick!(b"allow-events" => AllowEvents),
            (13, b'p') => pick!(b"proxy-require" => ProxyRequire),
            (13, b'a') => pick!(b"authorization" => Authorization),
            (13, b's') => pick!(b"service-route" => ServiceRoute),
            (14, b'c') => pick!(b"content-length" => ContentLength),
            (15, b's') => pick!(b"session-expires" => SessionExpires),
            (16, b'w') => pick!(b"www-authenticate" => WwwAuthenticate),
            (16, b'c') => pick!(b"content-encoding" => ContentEncoding),
            (18, b'p') => pick!(b"proxy-authenticate" => ProxyAuthenticate),
            (18, b's') => pick!(b"subscription-state" => SubscriptionState),
            (19, b'p') => {
                pick!(b"proxy-authorization" => ProxyAuthorization, b"p-asserted-identity" => PAssertedIdentity)
            }
            (19, b'a') => pick!(b"authentication-info" => AuthenticationInfo),
            _ => Other,
        }
    }

    /// Canonical spelling ("Call-ID", "CSeq", "WWW-Authenticate" ...).
    /// `Other` has no name of its own and yields "".
    pub fn canonical(self) -> &'static str {
        use HeaderName::*;
        match self {
            Via => "Via",
            From => "From",
            To => "To",
            CallId => "Call-ID",
            CSeq => "CSeq",
            MaxForwards => "Max-Forwards",
            Contact => "Contact",
            Route => "Route",
            RecordRoute => "Record-Route",
            Expires => "Expires",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            Require => "Require",
            ProxyRequire => "Proxy-Require",
            Supported => "Supported",
            Allow => "Allow",
            UserAgent => "User-Agent",
            Server => "Server",
            Path => "Path",
            Authorization => "Authorization",
            ProxyAuthorization => "Proxy-Authorization",
            WwwAuthenticate => "WWW-Authenticate",
            ProxyAuthenticate => "Proxy-Authenticate",
            Event => "Event",
            Date => "Date",
            MinExpires => "Min-Expires",
            Accept => "Accept",
            Unsupported => "Unsupported",
            RetryAfter => "Retry-After",
            Subject => "Subject",
            AllowEvents => "Allow-Events",
            ReferTo => "Refer-To",
            ReferredBy => "Referred-By",
            SessionExpires => "Session-Expires",
            Identity => "Identity",
            ContentEncoding => "Content-Encoding",
            ServiceRoute => "Service-Route",
            SubscriptionState => "Subscription-State",
            Warning => "Warning",
            AuthenticationInfo => "Authentication-Info",
            PAssertedIdentity => "P-Asserted-Identity",
            RSeq => "RSeq",
            RAck => "RAck",
            Other => "",
        }
    }

    /// Comma-separated multi-value header (RFC 3261 §7.3.1).
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Via | Contact
                | Route
                | RecordRoute
                | Require
                | ProxyRequire
                | Supported
                | Allow
                | Accept
                | Unsupported
                | Path
                | AllowEvents
                | ContentEncoding
                | ServiceRoute
                | Warning
                | PAssertedIdentity
        )
    }
}

/// `name` equals `lower` (lowercase letters and `-` only) ignoring ASCII
/// case, compared eight bytes at a time: a letter position matches exactly
/// its two cases (OR-ing 0x20 maps only `A`..`Z` onto `a`..`z`), a `-`
/// position only `-`.
#[inline(always)]
fn eq_folded<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    #[inline(always)]
    fn eq_word(x: u64, p: u64) -> bool {
        // 0x20 wherever the pattern has a letter (bit 0x40 set), 0 at `-`.
        (x | ((p & 0x4040_4040_4040_4040) >> 1)) == p
    }
    #[inline(always)]
    fn word(b: &[u8], i: usize) -> u64 {
        u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
    }
    if name.len() != N {
        return false;
    }
    if N < 8 {
        let (mut x, mut p) = ([0u8; 8], [0u8; 8]);
        x[..N].copy_from_slice(name);
        p[..N].copy_from_slice(lower);
        eq_word(u64::from_le_bytes(x), u64::from_le_bytes(p))
    } else {
        let mut i = 0;
        while i + 8 < N {
            if !eq_word(word(name, i), word(lower, i)) {
                return false;
            }
            i += 8;
        }
        eq_word(word(name, N - 8), word(lower, N - 8))
    }
}

/// RFC 3261 `token` character.
#[inline]
pub(crate) fn is_token(c: u8) -> bool {
    TOKEN[c as usize]
}

/// `token` characters as a table: one load per byte on the hot path.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~');
        c += 1;
    }
    t
};

/// Linear white space inside a (possibly folded) header value.
#[inline]
pub(crate) fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trim LWS (folding included) from both ends.
pub(crate) fn trim_lws(b: &[u8]) -> &[u8] {
    let mut s = 0;
    let mut e = b.len();
    while s < e && is_lws(b[s]) {
        s += 1;
    }
    while e > s && is_lws(b[e - 1]) {
        e -= 1;
    }
    &b[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case() {
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"V"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"cAlL-iD"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"I"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_bytes(b"k"), HeaderName::Supported);
        assert_eq!(HeaderName::from_bytes(b"o"), HeaderName::Event);
        assert_eq!(HeaderName::from_bytes(b"x"), HeaderName::SessionExpires);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"a-very-long-header-name-beyond-buffer"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b""), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"z"), HeaderName::Other);
    }

    #[test]
    fn matches_naive_lookup() {
        let all = [
            "via",
            "from",
            "to",
            "call-id",
            "cseq",
            "max-forwards",
            "contact",
            "route",
            "record-route",
            "expires",
            "content-length",
            "content-type",
            "require",
            "proxy-require",
            "supported",
            "allow",
            "user-agent",
            "server",
            "path",
            "authorization",
            "proxy-authorization",
            "www-authenticate",
            "proxy-authenticate",
            "event",
            "date",
            "min-expires",
            "accept",
            "unsupported",
            "retry-after",
            "subject",
            "allow-events",
            "refer-to",
            "referred-by",
            "session-expires",
            "identity",
            "content-encoding",
            "service-route",
            "subscription-state",
            "warning",
            "authentication-info",
            "p-asserted-identity",
            "rseq",
            "rack",
        ];
        for n in all {
            let h = HeaderName::from_bytes(n.as_bytes());
            assert_ne!(h, HeaderName::Other, "{n}");
            assert!(h.canonical().eq_ignore_ascii_case(n), "{n}");
            assert_eq!(HeaderName::from_bytes(n.to_ascii_uppercase().as_bytes()), h);
            // one byte off anywhere (including to a non-letter that folds onto
            // a letter or `-`) is no match
            for i in 0..n.len() {
                for c in [0x0du8, b'_', b'@', b'[', b'^', b'.', b'~', b'x'] {
                    let mut v = n.as_bytes().to_vec();
                    if v[i].eq_ignore_ascii_case(&c) {
                        continue;
                    }
                    v[i] = c;
                    let want = all
                        .iter()
                        .find(|m| m.as_bytes().eq_ignore_ascii_case(&v))
                        .map(|m| HeaderName::from_bytes(m.as_bytes()))
                        .unwrap_or(HeaderName::Other);
                    assert_eq!(HeaderName::from_bytes(&v), want, "{:?}", String::from_utf8_lossy(&v));
                }
            }
        }
    }

    #[test]
    fn canonical_roundtrip() {
        for n in [
            HeaderName::Via,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::WwwAuthenticate,
            HeaderName::RecordRoute,
            HeaderName::RAck,
        ] {
            assert_eq!(HeaderName::from_bytes(n.canonical().as_bytes()), n);
        }
        assert_eq!(HeaderName::CallId.canonical(), "Call-ID");
    }

    #[test]
    fn lists() {
        assert!(HeaderName::Via.is_list());
        assert!(HeaderName::Route.is_list());
        assert!(!HeaderName::From.is_list());
        assert!(!HeaderName::Authorization.is_list());
        assert!(!HeaderName::Other.is_list());
    }
}
