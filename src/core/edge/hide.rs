//! Topology hiding (`proxy.topology_hiding`): what a message crossing the
//! edge loses and gains so that devices never see the core.
//!
//! - Every Contact that crosses the edge becomes the edge's own URI with a
//!   sealed `th` parameter ([`crate::core::proxy::token`]) holding the real
//!   Contact, the route set beyond the edge and, for a device, the address
//!   it really sent from (its NAT's public side). In-dialog requests from
//!   either side therefore come to the edge, which opens the token and
//!   sends the request on: no dialog state in memory, so it survives a
//!   restart (with a configured key).
//! - Going from the core to a device, a request loses every Via but the
//!   edge's (the server transaction keeps the original and puts its Vias
//!   back on the answers) and every Record-Route (the route set travels in
//!   the token instead); a response loses its Record-Route the same way.
//! - Going back to the core, a device's response gets the original Vias
//!   and Record-Route of the request it answers.
//!
//! The edge adds no Server or User-Agent header anywhere.

use super::step::Ctx;
use crate::core::proxy::route::NextHop;
use crate::core::proxy::state::ProxyState;
use crate::core::proxy::token::{DialogTarget, PARAM};
use crate::core::Transport;
use crate::sip::{self, parse_name_addr, Editor, Framing, HeaderName, Message, Status};

/// Where a device really is: its address and, on a connection, the flow.
type Source = NextHop;

impl ProxyState {
    /// A forwarded request (our Via on top). `inside_to_outside`: strip the
    /// core's Vias and Record-Route. `source`: the device it came from.
    pub(super) fn hide_request(
        &mut self,
        cx: &Ctx<'_>,
        bytes: &[u8],
        inside_to_outside: bool,
        source: Option<Source>,
    ) -> Vec<u8> {
        let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else { return bytes.to_vec() };
        let routes = if inside_to_outside { record_routes(&msg) } else { Vec::new() };
        let contact = self.sealed_contact(cx, &msg, routes, source);
        let mut e = Editor::new(&msg);
        if inside_to_outside {
            e.remove_header_lines(HeaderName::Via, 1);
            e.remove_header_lines(HeaderName::RecordRoute, 0);
        }
        if let Some((i, v)) = &contact {
            e.replace_value(*i, v);
        }
        let mut out = Vec::with_capacity(bytes.len() + 128);
        e.write(&mut out);
        out
    }

    /// A response with our Via already off. `to_outside`: from the core to
    /// a device (Record-Route goes into the token). `original`: the request
    /// as the core sent it, whose Vias and Record-Route come back. `source`:
    /// the device that answered.
    pub(super) fn hide_response(
        &mut self,
        cx: &Ctx<'_>,
        bytes: &[u8],
        to_outside: bool,
        original: Option<&[u8]>,
        source: Option<Source>,
    ) -> Vec<u8> {
        let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else { return bytes.to_vec() };
        let routes = if to_outside {
            let mut r = record_routes(&msg);
            r.reverse();
            r
        } else {
            Vec::new()
        };
        let contact = self.sealed_contact(cx, &msg, routes, source);
        let orig = original.and_then(|o| sip::scan(o, Framing::Datagram).ok()?.complete());
        let mut e = Editor::new(&msg);
        if to_outside || orig.is_some() {
            e.remove_header_lines(HeaderName::RecordRoute, 0);
        }
        if let Some(o) = &orig {
            for name in [HeaderName::Via, HeaderName::RecordRoute] {
                for h in o.headers().iter().filter(|h| h.name == name) {
                    e.insert_header_first(
                        if name == HeaderName::Via { "Via" } else { "Record-Route" },
                        h.value.of(o.buf),
                    );
                }
            }
        }
        if let Some((i, v)) = &contact {
            e.replace_value(*i, v);
        }
        let mut out = Vec::with_capacity(bytes.len() + 256);
        e.write(&mut out);
        out
    }

    /// The first Contact's line index and its replacement
    /// `<sip:edge;th=TOKEN>` with the original header parameters.
    fn sealed_contact(
        &mut self,
        cx: &Ctx<'_>,
        msg: &Message<'_>,
        routes: Vec<Vec<u8>>,
        source: Option<Source>,
    ) -> Option<(usize, Vec<u8>)> {
        let i = msg.position(HeaderName::Contact)?;
        let (value, _) = msg.values(HeaderName::Contact).next()?;
        let na = parse_name_addr(value).ok()?;
        let target = DialogTarget {
            uri: na.uri_raw.to_vec(),
            routes,
            dest: source.map(|s| (s.transport.proto_number(), s.addr)),
            flow: source.and_then(|s| s.flow),
        };
        let l = cx.listener(0, Transport::Udp);
        let mut v = Vec::with_capacity(200);
        v.extend_from_slice(b"<sip:");
        v.extend_from_slice(&l.host);
        v.extend_from_slice(format!(":{};{PARAM}=", l.port).as_bytes());
        self.token.seal(&target, &mut v);
        v.extend_from_slice(b";lr>");
        v.extend_from_slice(na.params);
        Some((i, v))
    }
}

/// Record-Route values, top to bottom.
fn record_routes(msg: &Message<'_>) -> Vec<Vec<u8>> {
    msg.values(HeaderName::RecordRoute).map(|(v, _)| v.to_vec()).collect()
}
