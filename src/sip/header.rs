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
        // Dispatch on length, then one case-insensitive comparison per
        // candidate: no copy, no long chain of comparisons.
        let candidates: &[(&[u8], HeaderName)] = match name.len() {
            1 => {
                return match name[0].to_ascii_lowercase() {
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
                }
            }
            2 => &[(b"to", To)],
            3 => &[(b"via", Via)],
            4 => &[(b"from", From), (b"cseq", CSeq), (b"path", Path), (b"date", Date), (b"rseq", RSeq), (b"rack", RAck)],
            5 => &[(b"route", Route), (b"allow", Allow), (b"event", Event)],
            6 => &[(b"server", Server), (b"accept", Accept)],
            7 => &[(b"call-id", CallId), (b"contact", Contact), (b"expires", Expires), (b"require", Require), (b"subject", Subject), (b"warning", Warning)],
            8 => &[(b"refer-to", ReferTo), (b"identity", Identity)],
            9 => &[(b"supported", Supported)],
            10 => &[(b"user-agent", UserAgent)],
            11 => &[(b"min-expires", MinExpires), (b"unsupported", Unsupported), (b"retry-after", RetryAfter), (b"referred-by", ReferredBy)],
            12 => &[(b"max-forwards", MaxForwards), (b"record-route", RecordRoute), (b"content-type", ContentType), (b"allow-events", AllowEvents)],
            13 => &[(b"proxy-require", ProxyRequire), (b"authorization", Authorization), (b"service-route", ServiceRoute)],
            14 => &[(b"content-length", ContentLength)],
            15 => &[(b"session-expires", SessionExpires)],
            16 => &[(b"www-authenticate", WwwAuthenticate), (b"content-encoding", ContentEncoding)],
            18 => &[(b"proxy-authenticate", ProxyAuthenticate), (b"subscription-state", SubscriptionState)],
            19 => &[(b"proxy-authorization", ProxyAuthorization), (b"authentication-info", AuthenticationInfo), (b"p-asserted-identity", PAssertedIdentity)],
            _ => return Other,
        };
        candidates.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, h)| *h).unwrap_or(Other)
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
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~');
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
