//! The queries of one lookup, in the order `core::resolve::select` says:
//! NAPTR, the SRV names it leads to (in parallel), the addresses of the
//! SRV targets (in parallel), or straight to A/AAAA. The hickory resolver
//! sends them (its cache keeps TTLs within the configured floor and
//! ceiling); its errors become `Failure`s here. The answer's TTL is the
//! shortest of every record used, within the floor and ceiling.

use super::Settings;
use crate::core::resolve::select::{self, Naptr, Srv, SrvQuery, Step};
use crate::core::resolve::{Candidate, Dest, Failure, Resolved};
use futures_util::future::join_all;
use hickory_resolver::config::{NameServerConfig, NameServerConfigGroup, Protocol, ResolverConfig, ResolverOpts};
use hickory_resolver::error::{ResolveError, ResolveErrorKind};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioAsyncResolver;
use metrics::counter;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub type Resolver = TokioAsyncResolver;

/// The resolver for `[dns]`: its servers (UDP, and TCP for truncated
/// answers), or the system's when none is configured.
pub fn resolver(s: &Settings) -> Resolver {
    let (config, mut opts) = if s.servers.is_empty() {
        hickory_resolver::system_conf::read_system_conf().unwrap_or_else(|e| {
            log::warn!("dns: cannot read the system's resolver settings ({e}); using 127.0.0.1:53");
            (
                ResolverConfig::from_parts(
                    None,
                    Vec::new(),
                    NameServerConfigGroup::from_ips_clear(&[[127, 0, 0, 1].into()], 53, true),
                ),
                ResolverOpts::default(),
            )
        })
    } else {
        let mut group = NameServerConfigGroup::new();
        for &addr in &s.servers {
            group.push(NameServerConfig::new(addr, Protocol::Udp));
            group.push(NameServerConfig::new(addr, Protocol::Tcp));
        }
        (ResolverConfig::from_parts(None, Vec::new(), group), ResolverOpts::default())
    };
    opts.timeout = s.timeout;
    opts.attempts = s.attempts;
    opts.cache_size = s.cache_entries;
    opts.positive_min_ttl = Some(s.ttl_min);
    opts.positive_max_ttl = Some(s.ttl_max);
    opts.negative_max_ttl = Some(s.negative_max);
    opts.use_hosts_file = false;
    opts.ndots = 0;
    opts.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
    TokioAsyncResolver::tokio(config, opts)
}

/// RFC 3263 for `dest`: its candidates, or why there are none.
pub async fn resolve(r: &Resolver, dest: &Dest, s: &Settings) -> Result<Resolved, Failure> {
    if let Some(addrs) = s.statics.get(&dest.host) {
        return Ok(statics(dest, addrs, s));
    }
    let mut ttl = s.ttl_max;
    let queries = match select::first(dest) {
        Step::Addr { transport, port } => {
            let addrs = addresses(r, &dest.host, s, &mut ttl).await?;
            let c = Candidate { priority: 0, weight: 0, transport, port, addrs };
            return Ok(Resolved { candidates: vec![c], ttl_ms: bounded(ttl, s) });
        }
        Step::Srv(q) => q,
        Step::Naptr => match naptr(r, &dest.host, s, &mut ttl).await {
            Ok(records) => Some(select::after_naptr(dest, &records))
                .filter(|q| !q.is_empty())
                .unwrap_or_else(|| select::fallback(dest)),
            Err(Failure::NotFound { .. }) => select::fallback(dest),
            Err(f) => return Err(f),
        },
    };
    let srv_sets = join_all(queries.iter().map(|q| srv(r, q, s))).await;
    let mut targets: Vec<(&SrvQuery, Srv)> = Vec::new();
    let mut failed = None;
    for (q, set) in queries.iter().zip(srv_sets) {
        match set {
            Ok((records, t)) => {
                ttl = ttl.min(t);
                targets.extend(select::usable_srv(records).into_iter().map(|rec| (q, rec)));
            }
            Err(Failure::NotFound { .. }) => {}
            Err(f) => failed = Some(f),
        }
    }
    if targets.is_empty() {
        if let Some(f) = failed {
            return Err(f);
        }
        // No SRV: the host itself, with the defaults (§4.2).
        let addrs = addresses(r, &dest.host, s, &mut ttl).await?;
        let c =
            Candidate { priority: 0, weight: 0, transport: dest.default_transport(), port: dest.default_port(), addrs };
        return Ok(Resolved { candidates: vec![c], ttl_ms: bounded(ttl, s) });
    }
    let mut ttls = Vec::new();
    let addr_sets = join_all(targets.iter().map(|(_, rec)| async {
        let mut t = s.ttl_max;
        let a = addresses(r, &rec.target, s, &mut t).await;
        (a, t)
    }))
    .await;
    let mut candidates = Vec::new();
    let mut last_err = None;
    for ((q, rec), (addrs, t)) in targets.iter().zip(addr_sets) {
        match addrs {
            Ok(addrs) => {
                ttls.push(t);
                candidates.push(Candidate {
                    priority: select::priority(q.rank, rec.priority),
                    weight: rec.weight,
                    transport: q.transport,
                    port: rec.port,
                    addrs,
                });
            }
            Err(f) => last_err = Some(f),
        }
    }
    if candidates.is_empty() {
        return Err(last_err.unwrap_or(Failure::NotFound { ttl_ms: s.failure.as_millis() as u64 }));
    }
    let ttl = ttls.into_iter().fold(ttl, Duration::min);
    Ok(Resolved { candidates, ttl_ms: bounded(ttl, s) })
}

/// A `[dns.static]` name: its addresses in order, the URI's transport.
fn statics(dest: &Dest, addrs: &[std::net::SocketAddr], s: &Settings) -> Resolved {
    let candidates = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| Candidate {
            priority: i as u32,
            weight: 0,
            transport: dest.default_transport(),
            port: dest.port.unwrap_or(a.port()),
            addrs: vec![a.ip()],
        })
        .collect();
    Resolved { candidates, ttl_ms: s.ttl_max.as_millis() as u64 }
}

fn bounded(ttl: Duration, s: &Settings) -> u64 {
    ttl.clamp(s.ttl_min, s.ttl_max).as_millis() as u64
}

fn fqdn(name: &str) -> String {
    format!("{name}.")
}

async fn naptr(r: &Resolver, host: &str, s: &Settings, ttl: &mut Duration) -> Result<Vec<Naptr>, Failure> {
    let lookup = r.lookup(fqdn(host), RecordType::NAPTR).await.map_err(|e| failure(&e, "naptr", s))?;
    count("naptr", "ok");
    *ttl = (*ttl).min(left(lookup.valid_until()));
    Ok(lookup
        .record_iter()
        .filter_map(|rec| match rec.data() {
            Some(RData::NAPTR(n)) => Some(Naptr {
                order: n.order(),
                preference: n.preference(),
                flags: String::from_utf8_lossy(n.flags()).into_owned(),
                service: String::from_utf8_lossy(n.services()).into_owned(),
                replacement: n.replacement().to_utf8(),
            }),
            _ => None,
        })
        .collect())
}

async fn srv(r: &Resolver, q: &SrvQuery, s: &Settings) -> Result<(Vec<Srv>, Duration), Failure> {
    let lookup = r.srv_lookup(fqdn(&q.name)).await.map_err(|e| failure(&e, "srv", s))?;
    count("srv", "ok");
    let ttl = left(lookup.as_lookup().valid_until());
    let records = lookup
        .iter()
        .map(|rec| Srv {
            priority: rec.priority(),
            weight: rec.weight(),
            port: rec.port(),
            target: rec.target().to_utf8(),
        })
        .collect();
    Ok((records, ttl))
}

/// A and AAAA of `host` (CNAMEs followed).
async fn addresses(r: &Resolver, host: &str, s: &Settings, ttl: &mut Duration) -> Result<Vec<IpAddr>, Failure> {
    let lookup = r.lookup_ip(fqdn(host)).await.map_err(|e| failure(&e, "address", s))?;
    count("address", "ok");
    *ttl = (*ttl).min(left(lookup.valid_until()));
    let addrs: Vec<IpAddr> = lookup.iter().collect();
    if addrs.is_empty() {
        return Err(Failure::NotFound { ttl_ms: s.failure.as_millis() as u64 });
    }
    Ok(addrs)
}

fn left(valid_until: Instant) -> Duration {
    valid_until.saturating_duration_since(Instant::now())
}

fn count(kind: &'static str, result: &'static str) {
    counter!("sipedge_dns_lookups_total", "type" => kind, "result" => result).increment(1);
}

/// What a hickory error means for the edge.
fn failure(e: &ResolveError, kind: &'static str, s: &Settings) -> Failure {
    let f = match e.kind() {
        ResolveErrorKind::NoRecordsFound { response_code, negative_ttl, .. }
            if matches!(*response_code, ResponseCode::NXDomain | ResponseCode::NoError) =>
        {
            let ttl = negative_ttl.map(|t| Duration::from_secs(u64::from(t))).unwrap_or(s.failure);
            Failure::NotFound { ttl_ms: ttl.min(s.negative_max).as_millis() as u64 }
        }
        ResolveErrorKind::Timeout => Failure::Timeout,
        ResolveErrorKind::Proto(p) if matches!(p.kind(), hickory_resolver::proto::error::ProtoErrorKind::Timeout) => {
            Failure::Timeout
        }
        _ => Failure::ServerFailed,
    };
    count(kind, f.label());
    f
}
