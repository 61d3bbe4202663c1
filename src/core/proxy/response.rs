//! The response half: §16.7 step 3, taking our Via off a response before it
//! goes upstream. Only the top Via value goes; every other byte is copied.

use super::{default_port, host_eq};
use crate::sip::{parse_via, Editor, HeaderName, Message};

/// RFC 3261 §16.7 step 3: check that the top Via value of the response
/// `msg` was sent by `hop_host:hop_port` (host case-insensitive, an absent
/// port meaning 5060, or 5061 over TLS) and append to `out` the response
/// without that one value — its line removed when it stood alone, or just
/// the value when it was first of a comma list (`Via: ours, theirs`,
/// compact `v:` and folded lines alike).
///
/// `Err` (nothing written) when `msg` is not a response, has no Via, its
/// top Via does not parse or is not ours, or no Via would be left: the
/// last case is a response to a request this element originated, which
/// §16.7 step 3 says must not be forwarded.
pub fn strip_top_via(msg: &Message<'_>, hop_host: &[u8], hop_port: u16, out: &mut Vec<u8>) -> Result<(), &'static str> {
    if msg.is_request() {
        return Err("not a response");
    }
    let mut vias = msg.values(HeaderName::Via);
    let (top, _) = vias.next().ok_or("no Via")?;
    let via = parse_via(top).map_err(|_| "top Via does not parse")?;
    let tls = via.transport.eq_ignore_ascii_case(b"TLS");
    if via.port.unwrap_or(default_port(tls)) != hop_port || !host_eq(via.host, hop_host) {
        return Err("top Via is not ours");
    }
    if vias.next().is_none() {
        return Err("no Via left: the response is for this element");
    }
    let mut e = Editor::new(msg);
    e.remove_first_value(HeaderName::Via);
    e.write(out);
    Ok(())
}
