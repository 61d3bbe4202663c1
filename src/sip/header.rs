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

/// Lower-case `src` into `dst`; `None` when it does not fit.
#[inline]
fn lower<'b>(src: &[u8], dst: &'b mut [u8; 24]) -> Option<&'b [u8]> {
    if src.len() > dst.len() {
        return None;
    }
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s.to_ascii_lowercase();
    }
    Some(&dst[..src.len()])
}

impl HeaderName {
    /// Case-insensitive lookup, compact forms included. Unknown → `Other`.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        use HeaderName::*;
        let mut tmp = [0u8; 24];
        let Some(l) = lower(name, &mut tmp) else { return Other };
        match l {
            b"v" | b"via" => Via,
            b"f" | b"from" => From,
            b"t" | b"to" => To,
            b"i" | b"call-id" => CallId,
            b"cseq" => CSeq,
            b"max-forwards" => MaxForwards,
            b"m" | b"contact" => Contact,
            b"route" => Route,
            b"record-route" => RecordRoute,
            b"expires" => Expires,
            b"l" | b"content-length" => ContentLength,
            b"c" | b"content-type" => ContentType,
            b"require" => Require,
            b"proxy-require" => ProxyRequire,
            b"k" | b"supported" => Supported,
            b"allow" => Allow,
            b"user-agent" => UserAgent,
            b"server" => Server,
            b"path" => Path,
            b"authorization" => Authorization,
            b"proxy-authorization" => ProxyAuthorization,
            b"www-authenticate" => WwwAuthenticate,
            b"proxy-authenticate" => ProxyAuthenticate,
            b"o" | b"event" => Event,
            b"date" => Date,
            b"min-expires" => MinExpires,
            b"accept" => Accept,
            b"unsupported" => Unsupported,
            b"retry-after" => RetryAfter,
            b"s" | b"subject" => Subject,
            b"u" | b"allow-events" => AllowEvents,
            b"r" | b"refer-to" => ReferTo,
            b"b" | b"referred-by" => ReferredBy,
            b"x" | b"session-expires" => SessionExpires,
            b"y" | b"identity" => Identity,
            b"e" | b"content-encoding" => ContentEncoding,
            b"service-route" => ServiceRoute,
            b"subscription-state" => SubscriptionState,
            b"warning" => Warning,
            b"authentication-info" => AuthenticationInfo,
            b"p-asserted-identity" => PAssertedIdentity,
            b"rseq" => RSeq,
            b"rack" => RAck,
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

/// RFC 3261 `token` character.
#[inline]
pub(crate) fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

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
