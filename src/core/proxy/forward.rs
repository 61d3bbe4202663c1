//! The request half of §16.6: what changes between the request a proxy
//! receives and the copy it sends to one target. Owns the route
//! preprocessing (§16.4), Max-Forwards, Record-Route, Path-as-Route, our Via
//! and the loop check; everything else is copied byte for byte.

use super::{default_port, Hop, Refuse};
use crate::core::owner::{branch_shard, write_branch};
use crate::sip::via::push_decimal;
use crate::sip::{parse_name_addr, parse_uri, parse_via, Editor, HeaderName, Message};

/// How §16.4 route preprocessing treats a request, worked out without
/// writing anything: lets the caller learn the effective Request-URI and
/// the next hop before it picks a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutePlan<'a> {
    /// Strict router upstream: the Request-URI is a URI this edge
    /// record-routed, so the last Route value's URI becomes the Request-URI
    /// (and that value is removed). `None` otherwise.
    pub request_uri: Option<&'a [u8]>,
    /// Leading Route values naming this edge, removed (two after a double
    /// Record-Route).
    pub popped: usize,
    /// Route values in the request.
    pub routes: usize,
    /// The first Route value left after the removals (raw name-addr): where
    /// the request goes next unless Path values are put in front of it.
    pub next_route: Option<&'a [u8]>,
}

impl RoutePlan<'_> {
    /// Whether the last Route value is taken away (strict-router repair).
    pub fn drops_last(&self) -> bool {
        self.request_uri.is_some()
    }
}

const BAD_ROUTE: Refuse = Refuse::BadRoute("Bad Route header");

/// §16.4: strict-router repair, then removal of the leading Route values
/// that point at this edge (host and port of either listener; `lr` or not).
pub fn route_plan<'a>(msg: &Message<'a>, hop: &Hop<'_>) -> Result<RoutePlan<'a>, Refuse> {
    let routes = msg.values(HeaderName::Route).count();
    let mut request_uri = None;
    if routes > 0 {
        if let Some(ruri) = request_uri_of(msg) {
            // Only a URI we record-route (no user part) counts as "ours":
            // `sip:alice@edge` is a request *to* a user of the edge.
            if parse_uri(ruri).is_ok_and(|u| u.user.is_none() && hop.uri_is_us(&u)) {
                let (last, _) = msg.values(HeaderName::Route).nth(routes - 1).ok_or(BAD_ROUTE)?;
                request_uri = Some(parse_name_addr(last).map_err(|_| BAD_ROUTE)?.uri_raw);
            }
        }
    }
    let left = routes - usize::from(request_uri.is_some());
    let mut popped = 0;
    let mut next_route = None;
    for (v, _) in msg.values(HeaderName::Route).take(left) {
        if hop.route_is_us(v).map_err(|_| BAD_ROUTE)? {
            popped += 1;
        } else {
            next_route = Some(v);
            break;
        }
    }
    Ok(RoutePlan { request_uri, popped, routes, next_route })
}

fn request_uri_of<'a>(msg: &Message<'a>) -> Option<&'a [u8]> {
    match msg.start {
        crate::sip::scan::StartLine::Request { uri, .. } => Some(uri),
        _ => None,
    }
}

/// Max-Forwards value: 1 to 9 digits.
fn parse_max_forwards(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |n, &c| n * 10 + (c - b'0') as u32))
}

fn is_tls(transport: &[u8]) -> bool {
    transport.eq_ignore_ascii_case(b"TLS") || transport.eq_ignore_ascii_case(b"WSS")
}

/// §16.3 step 4, simple form: some Via was sent by one of our listeners
/// with a branch that [`write_branch`] made.
fn looped(msg: &Message<'_>, hop: &Hop<'_>) -> bool {
    msg.values(HeaderName::Via).any(|(v, _)| {
        parse_via(v).is_ok_and(|via| {
            hop.is_us(via.host, via.port.unwrap_or(default_port(is_tls(via.transport))))
                && via.branch().and_then(branch_shard).is_some()
        })
    })
}

fn push_record_route(s: &mut Vec<u8>, transport: &str, host: &[u8], port: u16) {
    s.extend_from_slice(b"<sip:");
    s.extend_from_slice(host);
    s.push(b':');
    push_decimal(s, port as u64);
    s.extend_from_slice(b";transport=");
    s.extend(transport.bytes().map(|c| c.to_ascii_lowercase()));
    s.extend_from_slice(b";lr>");
}

/// RFC 3261 §16.6 for one target: appends to `out` the copy of `msg` to send.
///
/// In order: Max-Forwards 0 → [`Refuse::TooManyHops`] (a bad value → 400),
/// loop → [`Refuse::Loop`], route preprocessing ([`route_plan`]; a Route
/// value we must look at that does not parse → 400). Then the copy:
/// - Request-URI := `target_uri`, except after a strict router upstream,
///   where the last Route value's URI is restored as the Request-URI and
///   `target_uri` is ignored (see [`RoutePlan::request_uri`]);
/// - leading Route values naming this edge removed, with or without `lr`;
/// - Max-Forwards decremented in place, or `Max-Forwards: 70` added;
/// - on top, in this order: our Via
///   `SIP/2.0/<transport> host:port;branch=<write_branch(shard, seq)>;rport`;
///   Record-Route when `hop.record_route`: `<sip:host:port;transport=t;lr>`,
///   and when the transport, host or port of the inbound listener differs,
///   two lines (RFC 5658): the outbound URI on top (the downstream side
///   reaches it first), the inbound one below it (pushed inbound first, then
///   outbound); then one `Route:` line per `path` value, verbatim and in
///   order, ahead of every existing Route.
///
/// Loop check (documented simplification of §16.3 step 4): the request is
/// refused as a loop when any of its Vias has sent-by equal to one of our
/// listeners (`host:port` or `in_host:in_port`) and a branch made by
/// `write_branch`. A legitimate spiral back through the edge is therefore
/// refused too; telling the two apart needs a request hash in the branch.
/// The sender's Via line with its first value stamped for `src`, when that
/// changes it (a sent-by other than the source address, or an empty rport):
/// the line's index and its new value (the other values of the line kept).
fn stamped_top_via(msg: &Message<'_>, src: std::net::SocketAddr, force_rport: bool) -> Option<(usize, Vec<u8>)> {
    let line = msg.position(HeaderName::Via)?;
    let value = msg.headers()[line].value;
    let first = crate::sip::split_list(msg.buf, value).next()?;
    let via = crate::sip::parse_via(first.of(msg.buf)).ok()?;
    let force = force_rport && via.param("rport").is_none();
    if !force && !crate::sip::wants_stamp(&via, src.ip()) {
        return None; // the common case on a relay: nothing to write, nothing allocated
    }
    // Stamped as if the sender had asked for rport (RFC 3581 §4).
    let asked;
    let sent = match force {
        true => {
            asked = [first.of(msg.buf), b";rport"].concat();
            &asked[..]
        }
        false => first.of(msg.buf),
    };
    let mut out = Vec::with_capacity(value.len() + 32);
    out.extend_from_slice(&msg.buf[value.start as usize..first.start as usize]);
    crate::sip::write_stamped_via(sent, src.ip(), src.port(), &mut out);
    out.extend_from_slice(&msg.buf[first.end as usize..value.end as usize]);
    (out.as_slice() != value.of(msg.buf)).then_some((line, out))
}

pub fn forward_request(
    msg: &Message<'_>,
    target_uri: &[u8],
    path: &[&[u8]],
    hop: &Hop<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Refuse> {
    if !msg.is_request() {
        return Err(Refuse::BadRoute("Not a request"));
    }
    let buf = msg.buf;
    let max_forwards = match msg.position(HeaderName::MaxForwards) {
        Some(i) => {
            let n = parse_max_forwards(msg.headers()[i].value.of(buf)).ok_or(Refuse::BadRoute("Bad Max-Forwards"))?;
            if n == 0 {
                return Err(Refuse::TooManyHops);
            }
            Some((i, n - 1))
        }
        None => None,
    };
    if looped(msg, hop) {
        return Err(Refuse::Loop);
    }
    let plan = route_plan(msg, hop)?;

    // Every inserted byte lives in one scratch buffer, cut up afterwards.
    let mut s = Vec::with_capacity(192);
    s.extend_from_slice(b"SIP/2.0/");
    s.extend_from_slice(hop.transport.as_bytes());
    s.push(b' ');
    s.extend_from_slice(hop.host);
    s.push(b':');
    push_decimal(&mut s, hop.port as u64);
    s.extend_from_slice(b";branch=");
    write_branch(hop.shard, hop.seq, &mut s);
    s.extend_from_slice(b";rport");
    let via_end = s.len();
    let double = !hop.transport.eq_ignore_ascii_case(hop.in_transport)
        || !super::host_eq(hop.host, hop.in_host)
        || hop.port != hop.in_port;
    if hop.record_route {
        push_record_route(&mut s, hop.transport, hop.host, hop.port);
    }
    let rr_out_end = s.len();
    if hop.record_route && double {
        push_record_route(&mut s, hop.in_transport, hop.in_host, hop.in_port);
    }
    let rr_in_end = s.len();
    if let Some((_, n)) = max_forwards {
        push_decimal(&mut s, n as u64);
    }
    let s = &s[..];
    let stamped = hop.source.and_then(|src| stamped_top_via(msg, src, hop.force_rport));

    let mut e = Editor::new(msg);
    e.set_request_uri(plan.request_uri.unwrap_or(target_uri));
    if let Some((line, value)) = &stamped {
        e.replace_value(*line, value);
    }
    e.insert_header_first("Via", &s[..via_end]);
    if rr_out_end > via_end {
        e.insert_header_first("Record-Route", &s[via_end..rr_out_end]);
    }
    if rr_in_end > rr_out_end {
        e.insert_header_first("Record-Route", &s[rr_out_end..rr_in_end]);
    }
    for p in path {
        e.insert_header_first("Route", p);
    }
    match max_forwards {
        Some((i, _)) => e.replace_value(i, &s[rr_in_end..]),
        None => e.insert_header_first("Max-Forwards", b"70"),
    }
    drop_routes(&mut e, msg, &plan);
    e.write(out);
    Ok(())
}

/// Remove the first `plan.popped` Route values and, after a strict router,
/// the last one. The Editor can pop leading values but not trailing ones, so
/// each Route line is rewritten here as the contiguous run of its values
/// that stay, sliced from the original bytes (nothing re-spelled).
fn drop_routes<'a>(e: &mut Editor<'a>, msg: &'a Message<'a>, plan: &RoutePlan<'_>) {
    let last = if plan.drops_last() { plan.routes.checked_sub(1) } else { None };
    if plan.popped == 0 && last.is_none() {
        return;
    }
    let buf = msg.buf;
    let mut g = 0usize; // global index of the next Route value
    for (i, h) in msg.headers().iter().enumerate() {
        if h.name != HeaderName::Route {
            continue;
        }
        let (mut first, mut end, mut all, mut any) = (0usize, 0usize, true, false);
        for v in crate::sip::scan::split_list(buf, h.value) {
            let keep = g >= plan.popped && Some(g) != last;
            g += 1;
            if keep {
                if !any {
                    first = v.start as usize;
                }
                end = v.end as usize;
                any = true;
            } else {
                all = false;
            }
        }
        if all {
            continue;
        }
        if any {
            e.replace_value(i, &buf[first..end]);
        } else {
            e.remove_header_line(i);
        }
    }
}
