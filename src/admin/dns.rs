//! `GET /dns/{name}`: what the edge would do with a name now — the first
//! query RFC 3263 makes for it, and the candidates the resolver room
//! finds (priority, weight, transport, port, addresses) with their TTL, or
//! why there are none. `{name}` is a host (`core.example.net`), a
//! `host:port`, or a percent-encoded SIP URI (`sips:trunk.example`,
//! `sip:core.example.net;transport=tcp`). Each shard's blocklist is its
//! own and is not shown here (`sipedge_dns_blocklisted_targets`).

use crate::core::resolve::select::{self, Step};
use crate::core::resolve::{Dest, Failure};
use crate::services::resolver::ResolverHandle;
use serde_json::json;

type Answer = (u16, &'static str, String);

/// The answer when the request is about DNS, else None.
pub fn route(method: &tiny_http::Method, url: &str, resolver: Option<&ResolverHandle>) -> Option<Answer> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let name = url.strip_prefix("/dns/").filter(|_| *method == tiny_http::Method::Get)?;
    let Some(dest) = dest_of(&super::percent_decode(name)) else {
        return Some((400, TEXT, "not a host name, host:port or sip:/sips: URI with a host name\n".into()));
    };
    let Some(resolver) = resolver else { return Some((503, TEXT, "the resolver is not running\n".into())) };
    let first = match select::first(&dest) {
        Step::Naptr => "NAPTR".to_string(),
        Step::Srv(q) => format!("SRV {}", q[0].name),
        Step::Addr { .. } => "A/AAAA".to_string(),
    };
    let body = match resolver.describe(dest.clone()) {
        Ok(r) => {
            let candidates: Vec<_> = r
                .candidates
                .iter()
                .map(|c| {
                    json!({
                        "priority": c.priority,
                        "weight": c.weight,
                        "transport": c.transport.label(),
                        "port": c.port,
                        "addrs": c.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({ "name": dest.to_string(), "first_query": first, "ttl_ms": r.ttl_ms, "candidates": candidates })
        }
        Err(f) => {
            let (code, reason) = f.answer();
            let ttl = if let Failure::NotFound { ttl_ms } = f { Some(ttl_ms) } else { None };
            json!({ "name": dest.to_string(), "first_query": first, "error": f.label(),
                    "negative_ttl_ms": ttl, "requests_get": format!("{code} {reason}") })
        }
    };
    Some((200, "application/json", body.to_string()))
}

/// A name as an operator types it.
fn dest_of(s: &str) -> Option<Dest> {
    let lower = s.to_ascii_lowercase();
    let uri = if lower.starts_with("sip:") || lower.starts_with("sips:") { s.to_string() } else { format!("sip:{s}") };
    Dest::of_uri(&crate::sip::parse_uri(uri.as_bytes()).ok()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_as_typed() {
        assert_eq!(super::dest_of("core.example.net").unwrap().to_string(), "sip:core.example.net");
        assert_eq!(super::dest_of("core.example.net:5080").unwrap().port, Some(5080));
        assert!(super::dest_of("sips:trunk.example").unwrap().secure);
        assert!(super::dest_of("10.0.0.1").is_none());
        assert!(super::dest_of("bad name").is_none());
    }
}
