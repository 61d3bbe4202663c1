//! Where configuration becomes the core's settings, once per shard start:
//! `[proxy]` and `[hygiene]` → `ProxyConfig` (routes and trusted networks
//! as core types), `[protect]` → `ProtectConfig`, `[registrar]` →
//! `RegistrarConfig`, the listeners → `EdgeConfig`. The core never reads
//! `config`; this is the one place that knows both.
//!
//! The tests here also hold the core's test fixtures (`Default` impls that
//! exist only under `cfg(test)`) to the embedded default, so a fixture
//! cannot drift from `default.toml` unnoticed.

use crate::config::{
    Config, DigestAlgorithm, Family, Forking, LimitAction, LimitKey, NatMode, OnMaxContacts, RegistrarMode, Throttle,
    UpstreamAddr,
};
use crate::core::auth::Algorithm;
use crate::core::profile::{Nat, Profile, Profiles};
use crate::core::protect::{Action, ProtectConfig, Rule, RuleKey, Scanners, Trip};
use crate::core::proxy::hygiene::Hygiene;
use crate::core::proxy::route::{Route, RouteUpstream};
use crate::core::proxy::state::ProxyConfig;
use crate::core::registrar::mid::MidConfig;
use crate::core::registrar::{RegistrarConfig, Terms};
use crate::core::resolve::{Dest, NamesConfig};
use crate::core::transaction::Timers;
use crate::core::{edge, AuthConfig, EdgeConfig};

/// Shard `shard` of `shards`'s core settings (digest settings are shared
/// by every shard and made by the control thread).
pub fn edge_config(config: &Config, shard: u16, shards: u16, auth: Option<AuthConfig>) -> EdgeConfig {
    let mut cfg = EdgeConfig {
        shard,
        shards,
        local_hosts: Vec::new(),
        local_ports: Vec::new(),
        max_message_bytes: config.limits.max_message_bytes.get() as usize,
        registrar: registrar_config(&config.registrar),
        auth,
        listeners: Vec::new(),
        proxy: ProxyConfig {
            registrar_upstreams: registrar_upstreams(&config.registrar),
            ..proxy_config(&config.proxy, &config.hygiene, &config.dns)
        },
        protect: protect_config(config),
        cluster: cluster_config(&config.cluster),
        profiles: profiles(config),
    };
    for l in &config.listen {
        cfg.local_hosts.extend(edge::local_hosts(l.addr, &l.advertise));
        cfg.local_ports.push(l.addr.port());
        cfg.listeners.push(edge::Listener::new(l.transport.into(), l.addr, &l.advertise));
    }
    cfg
}

/// A digest algorithm as the core names it.
pub fn algorithm(a: DigestAlgorithm) -> Algorithm {
    match a {
        DigestAlgorithm::Md5 => Algorithm::Md5,
        DigestAlgorithm::Sha256 => Algorithm::Sha256,
        DigestAlgorithm::Sha512_256 => Algorithm::Sha512_256,
    }
}

/// `[[profile]]` as the core matches it (User-Agent substrings lower-cased).
pub fn profiles(config: &Config) -> Profiles {
    Profiles(
        config
            .profile
            .iter()
            .map(|p| Profile {
                name: p.name.clone(),
                user_agent: p.user_agent.iter().map(|s| s.to_ascii_lowercase().into_bytes()).collect(),
                sources: p.sources.clone(),
                transports: p.transports.iter().map(|&t| t.into()).collect(),
                auth_algorithms: p.auth_algorithms.iter().map(|&a| algorithm(a)).collect(),
                map_answers: p
                    .map_answers
                    .iter()
                    .flat_map(|(m, map)| {
                        map.iter().map(|(from, to)| (m.0.as_bytes().to_vec(), from.0, to.get() as u16))
                    })
                    .collect(),
                strip_headers: crate::sip::HeaderPatterns::new(p.strip_headers.clone()),
                add_headers: p.add_headers.iter().map(|(n, v)| (n.clone(), v.as_bytes().to_vec())).collect(),
                terms: p.sets_terms().then(|| {
                    let r = &config.registrar;
                    let (default, min, max) = p.expiry(r);
                    Terms {
                        default_expires: default as u32,
                        min_expires: min as u32,
                        max_expires: max as u32,
                        max_contacts: p.max_contacts.unwrap_or(r.max_contacts).get() as u32,
                        flow_timer: p.flow_timer_secs.unwrap_or(r.flow_timer_secs).get() as u32,
                    }
                }),
                nat: match p.nat {
                    NatMode::Auto => Nat::Auto,
                    NatMode::Always => Nat::Always,
                    NatMode::Never => Nat::Never,
                },
                keepalive_secs: p.keepalive_secs.map_or(0, |k| k.get() as u32),
            })
            .collect(),
    )
}

/// The core's view of `[cluster]`; None when off. A REGISTER or lookup
/// waits four Redis deadlines (a batch queued behind another) and a margin
/// before the edge serves it from memory.
fn cluster_config(c: &crate::config::Cluster) -> Option<edge::cluster::ClusterConfig> {
    let peer = c.peer_addr.filter(|_| c.enabled)?;
    Some(edge::cluster::ClusterConfig {
        node: c.node.0.clone(),
        peer,
        wait_ms: c.redis_timeout_ms.get() * 4 + 50,
        journal: c.journal.get() as usize,
        cache_entries: c.cache_entries.get() as usize,
        cache_ms: c.cache_secs.get() * 1000,
        reassert_per_sec: c.reassert_rate.get() as u32,
    })
}

/// The core's proxy settings from `[proxy]` and `[hygiene]` (the control
/// thread has put a random topology key in when none is configured).
fn proxy_config(p: &crate::config::Proxy, h: &crate::config::Hygiene, d: &crate::config::Dns) -> ProxyConfig {
    ProxyConfig {
        record_route: p.record_route,
        serial: p.forking == Forking::Serial,
        max_branches: p.max_branches.get() as usize,
        timers: Timers { t1: p.t1_ms.get(), t2: p.t2_ms.get(), t4: p.t4_ms.get() },
        trusted: p.trusted.clone(),
        authenticate: p.authenticate.iter().map(|m| m.as_bytes().to_vec()).collect(),
        failover_on: p.failover_on.iter().map(|c| c.get() as u16).collect(),
        map_answers: p.map_answers.iter().map(|(from, to)| (from.0, to.get() as u16)).collect(),
        topology_hiding: p.topology_hiding,
        topology_key: p.topology_key.0.unwrap_or_default(),
        probe_interval_ms: p.probe_interval_secs.get() * 1000,
        timer_c_ms: p.invite_timeout_secs.get() * 1000,
        routes: p.route.iter().map(route).collect(),
        registrar_upstreams: Vec::new(),
        names: NamesConfig {
            stale_ms: d.stale_secs.get() * 1000,
            failure_ms: d.failure_ms.get(),
            entries: d.cache_entries.get() as usize,
            blocklist_ms: d.blocklist_secs.get() * 1000,
            prefer_v6: d.prefer == Family::Ipv6,
        },
        dns_wait_ms: dns_wait_ms(d),
        hygiene: Hygiene {
            codecs: crate::sip::sdp::CodecFilter::new(
                &h.codecs.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
                &h.media.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            ),
            to_devices: crate::sip::HeaderPatterns::new(h.strip_to_devices.clone()),
            to_core: crate::sip::HeaderPatterns::new(h.strip_to_core.clone()),
        },
    }
}

/// How long a request waits for a name: the resolver's budget, and a
/// margin for its answer to come back.
pub fn dns_wait_ms(d: &crate::config::Dns) -> u64 {
    d.budget_ms.get() + 250
}

/// One `[[proxy.route]]` as the core matches it (domain lower-cased).
fn route(r: &crate::config::Route) -> Route {
    Route {
        domain: r.domain.to_ascii_lowercase().into_bytes(),
        prefix: r.prefix.as_bytes().to_vec(),
        upstreams: r.upstreams.iter().map(|u| upstream(u, u.weight.get() as u32)).collect(),
    }
}

/// An upstream as the core reaches it: an address, or a name.
fn upstream(u: &crate::config::Upstream, weight: u32) -> RouteUpstream {
    let (addr, name) = match &u.addr {
        UpstreamAddr::Addr(a) => (*a, None),
        UpstreamAddr::Name(n) => {
            let dest = Dest { transport: u.transport.map(Into::into).or(n.transport), ..n.clone() };
            (std::net::SocketAddr::from(([0, 0, 0, 0], 0)), Some(dest))
        }
    };
    // A literal upstream's server_name the shard reads from config when it
    // connects (also for in-dialog requests, which carry no target name).
    let tls_name = (name.is_some() && !u.server_name.is_empty()).then(|| u.server_name.as_str().into());
    RouteUpstream { transport: u.transport().into(), addr, name, weight, tls_name }
}

/// The core's protection settings from `[protect]` (the edge adds
/// `proxy.trusted` to the allowlist itself).
fn protect_config(c: &Config) -> ProtectConfig {
    let p = &c.protect;
    let trip = |count: u64, window: u64, ban: u64| {
        (count > 0).then_some(Trip { count: count as u32, window_ms: window * 1000, ban_ms: ban * 1000 })
    };
    // `[protect]`'s rules, then each profile's, scoped to its devices.
    let scoped = c.profile.iter().enumerate().flat_map(|(i, pr)| pr.limit.iter().map(move |l| rule(l, Some(i as u16))));
    let rules = p.limit.iter().map(|l| rule(l, None)).chain(scoped).collect();
    ProtectConfig {
        // Exempt profiles are matched by their sources alone (checked at load).
        allow: p
            .allow
            .iter()
            .chain(c.profile.iter().filter(|p| p.exempt_from_protection).flat_map(|p| &p.sources))
            .copied()
            .collect(),
        scanners: Scanners::new(&p.scanners),
        flood: trip(p.flood.requests.get(), p.flood.window_secs.get(), p.flood.ban_secs.get()),
        auth_failures: trip(p.auth_ban.failures.get(), p.auth_ban.window_secs.get(), p.auth_ban.ban_secs.get()),
        rules,
        max_size: p.max_size.iter().map(|(m, n)| (m.0.as_bytes().to_vec(), n.get() as usize)).collect(),
        udp_mtu: match p.udp_mtu.get() {
            0 => usize::MAX,
            n => n as usize,
        },
    }
}

/// One `[[protect.limit]]` (or a profile's `limit`) as the core checks it.
fn rule(l: &crate::config::Limit, profile: Option<u16>) -> Rule {
    Rule {
        name: l.name.clone(),
        key: match l.key {
            LimitKey::Ip => RuleKey::Ip,
            LimitKey::Aor => RuleKey::Aor,
            LimitKey::Event => RuleKey::Event,
            LimitKey::UserAgent => RuleKey::UserAgent,
            LimitKey::Global => RuleKey::Global,
        },
        methods: l.methods.iter().map(|m| m.0.as_bytes().to_vec()).collect(),
        user_agent: l.user_agent.to_ascii_lowercase().into_bytes(),
        event: l.event.to_ascii_lowercase().into_bytes(),
        rate: l.rate.0,
        burst: l.burst.get() as f64,
        action: if l.action == LimitAction::Drop { Action::Drop } else { Action::Reject },
        profile,
    }
}

/// The core's registrar settings from the config table.
fn registrar_config(r: &crate::config::Registrar) -> RegistrarConfig {
    RegistrarConfig {
        domains: r.domains.iter().map(|d| d.to_ascii_lowercase().into_bytes()).collect(),
        terms: Terms {
            default_expires: r.default_expires.get() as u32,
            min_expires: r.min_expires.get() as u32,
            max_expires: r.max_expires.get() as u32,
            max_contacts: r.max_contacts.get() as u32,
            flow_timer: r.flow_timer_secs.get() as u32,
        },
        replace_oldest: r.on_max_contacts == OnMaxContacts::ReplaceOldest,
        mid: (r.mode == RegistrarMode::Mid).then(|| MidConfig {
            device_expires: r.device_expires.get() as u32,
            upstream_expires: r.upstream_expires.get() as u32,
            per_aor: r.throttle == Throttle::Aor,
        }),
    }
}

/// The core registrar a mid-registrar forwards to, in order (the first
/// takes every first attempt, the others are failovers).
fn registrar_upstreams(r: &crate::config::Registrar) -> Vec<RouteUpstream> {
    if r.mode != RegistrarMode::Mid {
        return Vec::new();
    }
    r.upstream.iter().enumerate().map(|(i, u)| upstream(u, u32::from(i == 0))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::net::Cidr;
    use crate::core::Transport;

    /// The core's test fixtures are the embedded default, but for what they
    /// say they leave out.
    #[test]
    fn core_fixtures_agree_with_the_embedded_default() {
        let c = Config::embedded();
        let registrar = registrar_config(&c.registrar);
        assert_eq!(RegistrarConfig { domains: registrar.domains.clone(), ..RegistrarConfig::default() }, registrar);
        let proxy = proxy_config(&c.proxy, &c.hygiene, &c.dns);
        assert_eq!(ProxyConfig { probe_interval_ms: proxy.probe_interval_ms, ..ProxyConfig::default() }, proxy);
        assert_eq!(Timers::default(), proxy.timers);
        assert_eq!(Hygiene::default(), proxy.hygiene);
    }

    #[test]
    fn routes_and_networks_become_core_types() {
        let text = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n\
                    [proxy]\ntrusted = [\"10.0.0.0/8\"]\n\
                    [[proxy.route]]\ndomain = \"Carrier.Example\"\nprefix = \"+1\"\n\
                    upstreams = [{ addr = \"10.0.0.10:5060\" }, { addr = \"10.0.0.11:5061\", transport = \"tls\", weight = 0 }]\n\
                    [protect]\nallow = [\"192.0.2.7\"]\nscanners = []\nudp_mtu = 0\n";
        let c = Config::parse(text, "t.toml").unwrap();
        let e = edge_config(&c, 1, 4, None);
        assert_eq!((e.shard, e.shards, e.listeners.len(), e.local_ports.as_slice()), (1, 4, 1, &[5060][..]));
        assert_eq!(e.proxy.trusted, [Cidr::parse("10.0.0.0/8").unwrap()]);
        let up = |addr: &str, transport, weight| RouteUpstream {
            transport,
            addr: addr.parse().unwrap(),
            name: None,
            weight,
            tls_name: None,
        };
        let want = Route {
            domain: b"carrier.example".to_vec(),
            prefix: b"+1".to_vec(),
            upstreams: vec![up("10.0.0.10:5060", Transport::Udp, 1), up("10.0.0.11:5061", Transport::Tls, 0)],
        };
        assert_eq!(e.proxy.routes, [want]);
        assert_eq!(e.protect.allow, [Cidr::parse("192.0.2.7/32").unwrap()]);
        assert!(!e.protect.scanners.matches(b"friendly-scanner"), "an empty list turns the filter off");
        assert_eq!(e.protect.udp_mtu, usize::MAX, "0: never over TCP");
        let d = edge_config(&Config::embedded(), 0, 1, None);
        assert!(d.protect.scanners.matches(b"friendly-scanner/1.0"), "the default list has the usual scanners");
        assert_eq!(d.protect.flood, Some(Trip { count: 1000, window_ms: 5000, ban_ms: 300_000 }));
    }
}
