//! Where a request goes next: the next hop named by a URI, and the routes
//! to the core (`[[proxy.route]]`) with their upstreams, weights and health.
//!
//! A route matches on the Request-URI: its host (`domain`, case-insensitive)
//! and the start of its user part (`prefix`); empty matches anything; the
//! first route that matches wins. Its upstreams are tried in a per-request
//! order: the first attempt goes to a healthy upstream picked by weight
//! (a stable hash of the Call-ID, so retransmissions and forks of one call
//! agree), then the others follow in list order, healthy ones first. An
//! upstream is marked down when a request to it or a probe times out, and
//! up again when anything answers.
//!
//! An upstream or a URI host may be a name: its target is then a
//! placeholder until the branch starts and the shard's `core::resolve`
//! names (or the resolver room) give its addresses. A named upstream is
//! not probed and not marked down: its addresses fail over among
//! themselves (RFC 3263 §4.3) and the blocklist keeps a dead one last.

use crate::core::resolve::Dest;
use crate::core::{FlowId, Transport};
use crate::sip::{Scheme, Uri};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Where to send: by which transport, to which address, and on which
/// connection when one is known (a device registered over TCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHop {
    pub transport: Transport,
    pub addr: SocketAddr,
    pub flow: Option<FlowId>,
}

/// The next hop a SIP URI names (§19.1.4 without DNS): its host as an IP
/// literal, its port or 5060, its `transport` parameter or UDP.
pub fn hop_of_uri(uri: &Uri<'_>) -> Option<NextHop> {
    if !uri.is_sip() || uri.scheme == Scheme::Sips {
        return None;
    }
    let host = match uri.host {
        [b'[', mid @ .., b']'] => mid,
        h => h,
    };
    let ip: IpAddr = if host.eq_ignore_ascii_case(b"localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        std::str::from_utf8(host).ok()?.parse().ok()?
    };
    let transport = match uri.param("transport") {
        Some(Some(t)) => Transport::from_uri_param(t)?,
        None => Transport::Udp,
        _ => return None,
    };
    Some(NextHop { transport, addr: SocketAddr::new(ip, uri.port.unwrap_or(5060)), flow: None })
}

/// A route to the core as a shard is given it (`[[proxy.route]]`,
/// translated where shards are built): the Request-URI host (lower-case)
/// and user prefix it matches, empty = any, and its upstreams in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub domain: Vec<u8>,
    pub prefix: Vec<u8>,
    pub upstreams: Vec<RouteUpstream>,
}

/// One upstream of a configured route: where (an address, or a name to
/// resolve), and its share of first attempts (0 = backup only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteUpstream {
    pub transport: Transport,
    pub addr: SocketAddr,
    pub name: Option<Dest>,
    pub weight: u32,
    /// A named TLS upstream's configured `server_name`: the name its
    /// certificate must carry instead of the name itself (None: the name).
    /// A literal upstream's `server_name` the shard reads when it connects.
    pub tls_name: Option<Arc<str>>,
}

/// Where a request goes before DNS: an address, or a name whose addresses
/// come when the branch starts (`hop` is then a placeholder).
pub fn hop_or_name(uri: &Uri<'_>) -> Option<(NextHop, Option<Box<Dest>>)> {
    if let Some(hop) = hop_of_uri(uri) {
        return Some((hop, None));
    }
    let dest = Dest::of_uri(uri)?;
    Some((placeholder(&dest), Some(Box::new(dest))))
}

/// The hop a named target has until it is resolved (never sent to).
pub fn placeholder(dest: &Dest) -> NextHop {
    NextHop { transport: dest.default_transport(), addr: SocketAddr::from(([0, 0, 0, 0], 0)), flow: None }
}

struct RouteEntry {
    domain: Vec<u8>,
    prefix: Vec<u8>,
    /// Indices into `Routes::upstreams`.
    upstreams: Vec<usize>,
    /// Chosen by `select` (the mid-registrar's route is not: only REGISTERs go there).
    selectable: bool,
}

/// One upstream of the core, as this shard sees it.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub hop: NextHop,
    /// A named upstream: resolved per request, never probed.
    pub name: Option<Dest>,
    pub weight: u32,
    pub up: bool,
    /// `RouteUpstream::tls_name`.
    pub tls_name: Option<Arc<str>>,
}

/// The configured routes and the health of their upstreams.
#[derive(Default)]
pub struct Routes {
    routes: Vec<RouteEntry>,
    pub upstreams: Vec<Upstream>,
    /// The core registrar's route (`registrar.mode = "mid"`).
    registrar: Option<usize>,
}

impl Routes {
    /// The configured routes, and the core registrar's upstreams when the
    /// edge is a mid-registrar (probed and failed over like any others).
    pub fn new(cfg: &[Route], registrar: &[RouteUpstream]) -> Routes {
        let mut r = Routes::default();
        let core = (!registrar.is_empty()).then(|| Route {
            domain: Vec::new(),
            prefix: Vec::new(),
            upstreams: registrar.to_vec(),
        });
        for (n, route) in cfg.iter().chain(core.as_ref()).enumerate() {
            let mut idx = Vec::new();
            for u in &route.upstreams {
                let hop = match &u.name {
                    Some(d) => placeholder(d),
                    None => NextHop { transport: u.transport, addr: u.addr, flow: None },
                };
                let i =
                    match r.upstreams.iter().position(|x| x.hop == hop && x.name == u.name && x.tls_name == u.tls_name)
                    {
                        Some(i) => i,
                        None => {
                            let (name, tls_name) = (u.name.clone(), u.tls_name.clone());
                            r.upstreams.push(Upstream { hop, name, weight: u.weight, up: true, tls_name });
                            r.upstreams.len() - 1
                        }
                    };
                idx.push(i);
            }
            let selectable = n < cfg.len();
            r.routes.push(RouteEntry {
                domain: route.domain.to_ascii_lowercase(),
                prefix: route.prefix.clone(),
                upstreams: idx,
                selectable,
            });
            if !selectable {
                r.registrar = Some(n);
            }
        }
        r
    }

    /// The core registrar's route, when the edge is a mid-registrar.
    pub fn registrar(&self) -> Option<usize> {
        self.registrar
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The first route matching the Request-URI.
    pub fn select(&self, ruri: &Uri<'_>) -> Option<usize> {
        let user = ruri.user.unwrap_or(if ruri.scheme == Scheme::Tel { ruri.host } else { b"" });
        self.routes.iter().position(|r| {
            r.selectable
                && (r.domain.is_empty() || r.domain.eq_ignore_ascii_case(ruri.host))
                && user.starts_with(&r.prefix)
        })
    }

    /// Upstreams of `route` in the order to try them for a request whose
    /// Call-ID hashes to `hash`.
    pub fn plan(&self, route: usize, hash: u64) -> Vec<usize> {
        let list = &self.routes[route].upstreams;
        let healthy: Vec<usize> = list.iter().copied().filter(|&i| self.upstreams[i].up).collect();
        let total: u64 = healthy.iter().map(|&i| self.upstreams[i].weight as u64).sum();
        let mut order = Vec::with_capacity(list.len());
        if total > 0 {
            let mut pick = hash % total;
            for &i in &healthy {
                let w = self.upstreams[i].weight as u64;
                if pick < w {
                    order.push(i);
                    break;
                }
                pick -= w;
            }
        }
        for &i in healthy.iter().chain(list) {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        order
    }

    /// The upstream a response or timeout came from, by address.
    pub fn find(&self, addr: SocketAddr) -> Option<usize> {
        self.upstreams.iter().position(|u| u.name.is_none() && u.hop.addr == addr)
    }

    /// Records the health of an upstream; true when it changed.
    pub fn mark(&mut self, i: usize, up: bool) -> bool {
        match self.upstreams.get_mut(i) {
            Some(u) if u.up != up => {
                u.up = up;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse_uri;

    /// A route over UDP upstreams given as (address, weight).
    fn route(domain: &str, prefix: &str, upstreams: &[(&str, u32)]) -> Route {
        let upstreams = upstreams
            .iter()
            .map(|(a, w)| RouteUpstream {
                transport: Transport::Udp,
                addr: a.parse().unwrap(),
                name: None,
                weight: *w,
                tls_name: None,
            })
            .collect();
        Route { domain: domain.as_bytes().to_vec(), prefix: prefix.as_bytes().to_vec(), upstreams }
    }

    #[test]
    fn uri_hops() {
        let h = hop_of_uri(&parse_uri(b"sip:bob@10.0.0.1:5080;transport=TCP").unwrap()).unwrap();
        assert_eq!((h.transport, h.addr), (Transport::Tcp, "10.0.0.1:5080".parse().unwrap()));
        let h = hop_of_uri(&parse_uri(b"sip:[2001:db8::1]").unwrap()).unwrap();
        assert_eq!(h.addr, "[2001:db8::1]:5060".parse().unwrap());
        assert!(hop_of_uri(&parse_uri(b"sip:bob@example.com").unwrap()).is_none(), "a name is not a hop");
        let (_, name) = hop_or_name(&parse_uri(b"sip:bob@Example.com;transport=tcp").unwrap()).unwrap();
        assert_eq!(name.unwrap().to_string(), "sip:example.com;transport=tcp");
        assert!(hop_or_name(&parse_uri(b"sip:10.0.0.1").unwrap()).unwrap().1.is_none());
        assert!(hop_of_uri(&parse_uri(b"sip:10.0.0.1;transport=sctp").unwrap()).is_none());
        assert!(hop_of_uri(&parse_uri(b"tel:+123").unwrap()).is_none());
    }

    #[test]
    fn first_matching_route_and_failover_order() {
        let mut r = Routes::new(
            &[
                route("Carrier.example", "", &[("10.0.0.1:5060", 1)]),
                route("", "+1", &[("10.0.0.2:5060", 1), ("10.0.0.3:5060", 0)]),
            ],
            &[],
        );
        fn u(s: &str) -> crate::sip::Uri<'_> {
            parse_uri(s.as_bytes()).unwrap()
        }
        assert_eq!(r.select(&u("sip:x@Carrier.Example")), Some(0));
        assert_eq!(r.select(&u("sip:+15551234@anything")), Some(1));
        assert_eq!(r.select(&u("sip:+44@anything")), None);
        assert_eq!(r.plan(1, 7), vec![1, 2], "weight 0 is backup only");
        assert!(r.mark(1, false));
        assert!(!r.mark(1, false));
        assert_eq!(r.plan(1, 7), vec![2, 1], "a down upstream goes last");
    }

    #[test]
    fn weights_share_first_attempts() {
        let r = Routes::new(&[route("", "", &[("10.0.0.1:5060", 3), ("10.0.0.2:5060", 1)])], &[]);
        let firsts: Vec<usize> =
            (0..4000u64).map(|h| r.plan(0, crate::core::owner::fnv1a(&[&h.to_le_bytes()]))[0]).collect();
        let a = firsts.iter().filter(|&&i| i == 0).count();
        assert!((2700..3300).contains(&a), "{a} of 4000 to the weight-3 upstream");
    }
}
