//! One Via value (RFC 3261 §20.42, RFC 3581 rport): sent-protocol, sent-by
//! and parameters, tolerant of LWS and folding around `/`, `:`, `;` and `=`.
//! Also the server-side stamping of `received`/`rport` (§18.2.1, RFC 3581 §4)
//! done by copying every other byte as it was.

use std::io::Write as _;
use std::net::IpAddr;

use super::header::{is_lws, is_token};
use super::params::{find_param, ParamIter};
use super::uri::{host_valid, is_host_char, parse_port};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// "SIP/2.0" as written: from the protocol name to the version; may
    /// contain LWS when the sender put some around '/'. See `name`/`version`.
    pub protocol: &'a [u8],
    pub name: &'a [u8],
    pub version: &'a [u8],
    /// "UDP" as written (case preserved).
    pub transport: &'a [u8],
    /// IPv6 with brackets.
    pub host: &'a [u8],
    pub port: Option<u16>,
    /// Raw parameters, starting at LWS or ';' (empty when none).
    pub params: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViaError {
    Protocol,
    Transport,
    Host,
    Port,
    Params,
}

impl<'a> Via<'a> {
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        find_param(self.params, name)
    }
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.param("branch").flatten()
    }
    /// `Some(None)`: rport present without a (valid) value; `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| v.and_then(parse_port))
    }
    pub fn received(&self) -> Option<&'a [u8]> {
        self.param("received").flatten()
    }
    /// Protocol name is SIP and version 2.0 (case-insensitive).
    pub fn is_sip2(&self) -> bool {
        self.name.eq_ignore_ascii_case(b"SIP") && self.version == b"2.0"
    }
    /// Branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(b"z9hG4bK"))
    }
}

#[inline]
fn skip_lws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && is_lws(b[p]) {
        p += 1;
    }
    p
}

#[inline]
fn token_end(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && is_token(b[p]) {
        p += 1;
    }
    p
}

pub fn parse_via(b: &[u8]) -> Result<Via<'_>, ViaError> {
    let mut p = skip_lws(b, 0);
    let ns = p;
    p = token_end(b, p);
    let name = &b[ns..p];
    p = skip_lws(b, p);
    if name.is_empty() || b.get(p) != Some(&b'/') {
        return Err(ViaError::Protocol);
    }
    p = skip_lws(b, p + 1);
    let vs = p;
    p = token_end(b, p);
    let version = &b[vs..p];
    let protocol = &b[ns..p];
    p = skip_lws(b, p);
    if version.is_empty() || b.get(p) != Some(&b'/') {
        return Err(ViaError::Protocol);
    }
    p = skip_lws(b, p + 1);
    let ts = p;
    p = token_end(b, p);
    let transport = &b[ts..p];
    if transport.is_empty() || p >= b.len() || !is_lws(b[p]) {
        return Err(ViaError::Transport);
    }
    p = skip_lws(b, p);
    let hs = p;
    if b.get(p) == Some(&b'[') {
        p = b[p..].iter().position(|&c| c == b']').ok_or(ViaError::Host)? + p + 1;
    } else {
        p += b[p..].iter().position(|&c| !is_host_char(c)).unwrap_or(b.len() - p);
    }
    let host = &b[hs..p];
    if !host_valid(host) {
        return Err(ViaError::Host);
    }
    let mut port = None;
    let q = skip_lws(b, p);
    if b.get(q) == Some(&b':') {
        let ps = skip_lws(b, q + 1);
        let mut pe = ps;
        while pe < b.len() && b[pe].is_ascii_digit() {
            pe += 1;
        }
        port = Some(parse_port(&b[ps..pe]).ok_or(ViaError::Port)?);
        p = pe;
    }
    let params = &b[p..];
    if !ParamIter::new(params).all(|r| r.is_ok()) {
        return Err(ViaError::Params);
    }
    Ok(Via { protocol, name, version, transport, host, port, params })
}

/// Append `n` in decimal (what `write!(out, "{n}")` does, without going
/// through the formatting machinery).
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut d = [0u8; 20];
    let mut i = d.len();
    loop {
        i -= 1;
        d[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&d[i..]);
}

/// Append an address as `Display` writes it (dotted quad for IPv4).
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            push_decimal(out, o[0] as u64);
            for x in &o[1..] {
                out.push(b'.');
                push_decimal(out, *x as u64);
            }
        }
        IpAddr::V6(_) => {
            let _ = write!(out, "{ip}");
        }
    }
}

/// Does the sent-by host equal `ip` (textually as an address, brackets ignored)?
fn host_is(host: &[u8], ip: IpAddr) -> bool {
    let h = if host.first() == Some(&b'[') && host.len() >= 2 { &host[1..host.len() - 1] } else { host };
    std::str::from_utf8(h).ok().and_then(|s| s.parse::<IpAddr>().ok()) == Some(ip)
}

/// RFC 3261 §18.2.1 + RFC 3581 §4: write `via_value` with `received=<src ip>`
/// when the sent-by host differs from `src_ip` or rport is present, and an
/// empty `rport` filled in with `src_port`. An existing `received` is replaced
/// in place (or dropped when no longer due). Everything else is copied as it
/// was. A value that does not parse is copied unchanged.
pub fn write_stamped_via(via_value: &[u8], src_ip: IpAddr, src_port: u16, out: &mut Vec<u8>) {
    match parse_via(via_value) {
        Ok(via) => write_stamped_parsed(via_value, &via, src_ip, src_port, out),
        Err(_) => out.extend_from_slice(via_value),
    }
}

/// Does stamping for `src_ip` touch `via`: rport asked, or a sent-by other
/// than the source address (then `received` is due)?
pub fn wants_stamp(via: &Via<'_>, src_ip: IpAddr) -> bool {
    via.param("rport").is_some() || !host_is(via.host, src_ip)
}

/// Is `via` what [`parse_via`] makes of `via_value`? True when it spans the
/// very same bytes (from the first non-LWS byte to the end), so a parse of
/// `via_value` would give it back; [`write_stamped_parsed`] can then take it.
pub(crate) fn parsed_from(via: &Via<'_>, via_value: &[u8]) -> bool {
    std::ptr::eq(via.protocol.as_ptr(), via_value[skip_lws(via_value, 0)..].as_ptr())
        && std::ptr::eq(via.params.as_ptr_range().end, via_value.as_ptr_range().end)
}

/// [`write_stamped_via`] with the parse already done: `via` must come from
/// `parse_via(via_value)` (see [`parsed_from`]).
pub(crate) fn write_stamped_parsed(via_value: &[u8], via: &Via<'_>, src_ip: IpAddr, src_port: u16, out: &mut Vec<u8>) {
    let need_received = wants_stamp(via, src_ip);
    let pstart = via_value.len() - via.params.len();
    out.extend_from_slice(&via_value[..pstart]);
    let ps = via.params;
    let mut wrote_received = false;
    let mut last = 0;
    for p in ParamIter::new(ps).flatten() {
        let name = &ps[p.name.0..p.name.1];
        // bytes between params (none normally) are kept
        out.extend_from_slice(&ps[last..p.whole.0]);
        last = p.whole.1;
        if name.eq_ignore_ascii_case(b"received") {
            if need_received && !wrote_received {
                out.extend_from_slice(&ps[p.whole.0..p.name.1]);
                out.push(b'=');
                push_ip(out, src_ip);
                wrote_received = true;
            }
            continue;
        }
        if name.eq_ignore_ascii_case(b"rport") {
            match p.value {
                None => {
                    out.extend_from_slice(&ps[p.whole.0..p.whole.1]);
                    out.push(b'=');
                    push_decimal(out, src_port as u64);
                }
                Some((vs, ve)) if vs == ve => {
                    out.extend_from_slice(&ps[p.whole.0..vs]);
                    push_decimal(out, src_port as u64);
                }
                Some(_) => out.extend_from_slice(&ps[p.whole.0..p.whole.1]),
            }
            continue;
        }
        out.extend_from_slice(&ps[p.whole.0..p.whole.1]);
    }
    out.extend_from_slice(&ps[last..]);
    if need_received && !wrote_received {
        out.extend_from_slice(b";received=");
        push_ip(out, src_ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_torture() {
        let v = parse_via(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.name, b"SIP");
        assert_eq!(v.version, b"2.0");
        assert!(v.is_sip2());
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"192.0.2.2");
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        let v = parse_via(b"SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239").unwrap();
        assert_eq!(v.branch(), Some(&b"z9hG4bK30239"[..]));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn ipv6_and_port() {
        let v =
            parse_via(b"SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111;received=[2001:db8::9:255]").unwrap();
        assert_eq!(v.host, b"[2001:db8::9:1]");
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.received(), Some(&b"[2001:db8::9:255]"[..]));
        let v = parse_via(b"SIP/2.0/UDP h : 5060 ;rport").unwrap();
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.rport(), Some(None));
    }

    #[test]
    fn rejects() {
        assert_eq!(parse_via(b"SIP/2.0/UDP 192.0.2.15;;").unwrap_err(), ViaError::Params);
        assert_eq!(parse_via(b"SIP/2.0 192.0.2.15").unwrap_err(), ViaError::Protocol);
        assert_eq!(parse_via(b"SIP/2.0/UDP").unwrap_err(), ViaError::Transport);
        assert_eq!(parse_via(b"SIP/2.0/UDP h:99999").unwrap_err(), ViaError::Port);
        assert_eq!(parse_via(b"SIP/2.0/UDP h junk").unwrap_err(), ViaError::Params);
        assert_eq!(parse_via(b"SIP/2.0/UDP ;branch=1").unwrap_err(), ViaError::Host);
    }

    fn stamp(v: &str, ip: &str, port: u16) -> String {
        let mut out = Vec::new();
        write_stamped_via(v.as_bytes(), ip.parse().unwrap(), port, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimal_and_ip_as_display() {
        for n in [0u64, 7, 10, 99, 100, 5060, 65535, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        for ip in ["0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.100.9", "2001:db8::1", "::ffff:1.2.3.4"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string().into_bytes());
        }
    }

    #[test]
    fn parsed_from_only_the_same_bytes() {
        let b = b" SIP/2.0/UDP h;rport ";
        let v = &b[..b.len() - 1];
        let via = parse_via(v).unwrap();
        assert!(parsed_from(&via, v));
        assert!(!parsed_from(&via, &b[..]));
        #[allow(clippy::unnecessary_to_owned)] // the point: equal bytes at another address
        let copy = v.to_vec();
        assert!(!parsed_from(&via, &copy));
        let mut a = Vec::new();
        let mut c = Vec::new();
        write_stamped_parsed(v, &via, "192.0.2.1".parse().unwrap(), 9, &mut a);
        write_stamped_via(v, "192.0.2.1".parse().unwrap(), 9, &mut c);
        assert_eq!(a, c);
    }

    #[test]
    fn stamping() {
        assert_eq!(
            stamp("SIP/2.0/UDP 10.0.0.1:5060;branch=z9", "10.0.0.1", 5060),
            "SIP/2.0/UDP 10.0.0.1:5060;branch=z9"
        );
        assert_eq!(
            stamp("SIP/2.0/UDP host.example:5060;branch=z9", "192.0.2.1", 5060),
            "SIP/2.0/UDP host.example:5060;branch=z9;received=192.0.2.1"
        );
        assert_eq!(
            stamp("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9", "192.0.2.1", 4000),
            "SIP/2.0/UDP 10.0.0.1:5060;rport=4000;branch=z9;received=192.0.2.1"
        );
        assert_eq!(
            stamp("SIP/2.0/UDP 10.0.0.1 ; received=1.2.3.4 ;branch=z9;rport=", "192.0.2.1", 7),
            "SIP/2.0/UDP 10.0.0.1 ; received=192.0.2.1 ;branch=z9;rport=7"
        );
        assert_eq!(stamp("SIP/2.0/UDP 10.0.0.1;received=9.9.9.9", "10.0.0.1", 7), "SIP/2.0/UDP 10.0.0.1");
        assert_eq!(
            stamp("SIP/2.0/UDP [2001:db8::1];rport", "2001:db8::1", 9),
            "SIP/2.0/UDP [2001:db8::1];rport=9;received=2001:db8::1"
        );
        assert_eq!(stamp("garbage", "10.0.0.1", 7), "garbage");
    }
}
