//! name-addr / addr-spec values (From, To, Contact, Route, Record-Route,
//! RFC 3261 §20.10/§25.1): optional display name, the URI (bracketed or not),
//! and the header parameters after it. An addr-spec without `<>` takes no URI
//! parameters: everything after its first `;` is header parameters.

use super::header::{is_lws, is_token, trim_lws};
use super::params::{find_param, params_valid, quoted_end};
use super::uri::{parse_uri, Uri, UriError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// As written: a quoted string with its quotes, or the bare tokens.
    pub display: Option<&'a [u8]>,
    pub uri_raw: &'a [u8],
    pub uri: Uri<'a>,
    /// Header parameters after the URI (or after '>'), raw, starting at LWS or ';'.
    pub params: &'a [u8],
    pub bracketed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrError {
    Empty,
    UnterminatedQuote,
    BadDisplayName,
    MissingAngle,
    Uri(UriError),
    Params,
}

impl<'a> NameAddr<'a> {
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        find_param(self.params, name)
    }
    /// The `tag` parameter value (None if absent or a bare flag).
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.param("tag").flatten()
    }
}

pub fn parse_name_addr(b: &[u8]) -> Result<NameAddr<'_>, AddrError> {
    let b = trim_lws(b);
    if b.is_empty() {
        return Err(AddrError::Empty);
    }
    let (display, lt) = if b[0] == b'"' {
        let qe = quoted_end(b, 0).ok_or(AddrError::UnterminatedQuote)?;
        let mut p = qe;
        while p < b.len() && is_lws(b[p]) {
            p += 1;
        }
        if p >= b.len() || b[p] != b'<' {
            return Err(AddrError::MissingAngle);
        }
        (Some(&b[..qe]), Some(p))
    } else if let Some(lt) = b.iter().position(|&c| c == b'<') {
        let d = trim_lws(&b[..lt]);
        if !d.iter().all(|&c| is_token(c) || is_lws(c)) {
            return Err(AddrError::BadDisplayName);
        }
        (if d.is_empty() { None } else { Some(d) }, Some(lt))
    } else {
        (None, None)
    };
    let (uri_raw, params, bracketed) = match lt {
        Some(lt) => {
            let gt = b[lt..].iter().position(|&c| c == b'>').ok_or(AddrError::MissingAngle)? + lt;
            (&b[lt + 1..gt], &b[gt + 1..], true)
        }
        None => {
            if b.contains(&b'"') {
                return Err(AddrError::UnterminatedQuote);
            }
            let semi = b.iter().position(|&c| c == b';').unwrap_or(b.len());
            (trim_lws(&b[..semi]), &b[semi..], false)
        }
    };
    let uri = parse_uri(uri_raw).map_err(AddrError::Uri)?;
    if !params_valid(params) {
        return Err(AddrError::Params);
    }
    Ok(NameAddr { display, uri_raw, uri, params, bracketed })
}

/// `Contact: *` (RFC 3261 §10.2.2).
pub fn is_star_contact(b: &[u8]) -> bool {
    trim_lws(b) == b"*"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::uri::Scheme;

    #[test]
    fn forms() {
        let a = parse_name_addr(b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8")
            .unwrap();
        assert_eq!(a.display, Some(&b"\"J Rosenberg \\\\\\\"\""[..]));
        assert_eq!(a.uri.host, b"example.com");
        assert_eq!(a.tag(), Some(&b"98asjd8"[..]));
        assert!(a.bracketed);

        let a = parse_name_addr(b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(a.uri_raw, b"sip:vivekg@chair-dnrc.example.com");
        assert_eq!(a.tag(), Some(&b"1918181833n"[..]));
        assert!(!a.bracketed);

        let a = parse_name_addr(b"sip:+1@gw;user=phone").unwrap();
        assert_eq!(a.uri.param("user"), None);
        assert_eq!(a.param("user"), Some(Some(&b"phone"[..])));

        let a = parse_name_addr(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display, Some(&b"caller"[..]));
        assert_eq!(a.tag(), Some(&b"323"[..]));

        let a = parse_name_addr(b"<http://www.example.com>;tag=3").unwrap();
        assert_eq!(a.uri.scheme, Scheme::Other);
    }

    #[test]
    fn rejects() {
        assert_eq!(
            parse_name_addr(b"\"Mr. J. User <sip:j.user@example.com>").unwrap_err(),
            AddrError::UnterminatedQuote
        );
        assert_eq!(
            parse_name_addr(b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43").unwrap_err(),
            AddrError::BadDisplayName
        );
        assert!(matches!(parse_name_addr(b"\"Watson, Thomas\" < sip:t.watson@example.org >"), Err(AddrError::Uri(_))));
        assert_eq!(parse_name_addr(b"<sip:a@b").unwrap_err(), AddrError::MissingAngle);
        assert_eq!(parse_name_addr(b"<sip:a@b>;;").unwrap_err(), AddrError::Params);
        assert_eq!(parse_name_addr(b"<sip:a@b> x").unwrap_err(), AddrError::Params);
        assert_eq!(parse_name_addr(b"  ").unwrap_err(), AddrError::Empty);
    }

    #[test]
    fn star() {
        assert!(is_star_contact(b" * "));
        assert!(!is_star_contact(b"<sip:*@a>"));
    }
}
