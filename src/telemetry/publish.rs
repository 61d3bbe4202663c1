//! Metric names, and publication of one shard's plain counters to the
//! `metrics` recorder (absolute values, labelled by shard) on its tick.
//! The list here is the list in the README.
//!
//! Every reason of a family is published from the first flush on, at 0
//! until counted (`Reason::all`, nested families included), so `rate()` and
//! alerts see a series before its first increment. Where the core and the
//! shard count under one name (drops, mesh messages), both are published:
//! their reason labels differ, their plain counts are added. The shard's
//! own figures come in as neutral structs (`Io`, `TcpStats`) over any reason
//! family: telemetry does not name shard types.

use crate::core::counters::{RegistrarStats, WireStats};
use crate::core::Transport;
use crate::reason::{Reason, Tally};
use metrics::{counter, gauge};

/// TCP connection figures of one shard.
pub struct TcpStats<'a, Refused: Reason, Closed: Reason> {
    pub open: usize,
    pub accepted: u64,
    pub opened: u64,
    pub refused: &'a Tally<Refused>,
    pub closed: &'a Tally<Closed>,
}

/// What one shard counts of its own I/O (beside the core's counters).
pub struct Io<'a, D: Reason> {
    pub drops: &'a Tally<D>,
    pub udp_batches: u64,
    pub keepalives: u64,
    pub mesh_sent: u64,
    pub mesh_received: u64,
    pub mesh_dropped: u64,
}

pub fn shard<D: Reason, R: Reason, C: Reason>(id: u16, c: &WireStats, io: &Io<'_, D>, tcp: &TcpStats<'_, R, C>) {
    let s = id.to_string();
    for t in Transport::ALL {
        for (k, kind) in ["request", "response"].into_iter().enumerate() {
            let v = c.received[t.index()][k];
            counter!("sipedge_messages_received_total", "shard" => s.clone(), "transport" => t.label(), "kind" => kind)
                .absolute(v);
        }
    }
    for (m, n) in c.requests.iter() {
        counter!("sipedge_requests_received_total", "shard" => s.clone(), "method" => m.label()).absolute(n);
    }
    for (code, n) in c.sent_codes() {
        counter!("sipedge_responses_sent_total", "shard" => s.clone(), "code" => code.to_string()).absolute(n);
    }
    reasons("sipedge_malformed_total", &s, &c.malformed);
    reasons("sipedge_drops_total", &s, &c.drops);
    reasons("sipedge_drops_total", &s, io.drops);
    counter!("sipedge_responses_home_total", "shard" => s.clone()).absolute(c.responses_home);
    counter!("sipedge_responses_forwarded_total", "shard" => s.clone()).absolute(c.responses_forwarded);
    counter!("sipedge_mesh_sent_total", "shard" => s.clone()).absolute(c.mesh_sent + io.mesh_sent);
    counter!("sipedge_mesh_received_total", "shard" => s.clone()).absolute(c.mesh_received + io.mesh_received);
    counter!("sipedge_mesh_dropped_total", "shard" => s.clone()).absolute(io.mesh_dropped);
    counter!("sipedge_keepalives_total", "shard" => s.clone()).absolute(io.keepalives);
    counter!("sipedge_udp_batches_total", "shard" => s.clone()).absolute(io.udp_batches);
    gauge!("sipedge_tcp_connections", "shard" => s.clone()).set(tcp.open as f64);
    counter!("sipedge_tcp_accepted_total", "shard" => s.clone()).absolute(tcp.accepted);
    counter!("sipedge_tcp_opened_total", "shard" => s.clone()).absolute(tcp.opened);
    reasons("sipedge_tcp_refused_total", &s, tcp.refused);
    reasons("sipedge_tcp_closed_total", &s, tcp.closed);
}

/// Registrar figures of one shard.
pub fn registrar(id: u16, c: &RegistrarStats, active: usize) {
    let s = id.to_string();
    gauge!("sipedge_registrations_active", "shard" => s.clone()).set(active as f64);
    for (code, n) in c.results.iter() {
        counter!("sipedge_register_results_total", "shard" => s.clone(), "code" => code.label()).absolute(n);
    }
    reasons("sipedge_auth_failures_total", &s, &c.auth_failures);
    counter!("sipedge_register_lost_total", "shard" => s.clone()).absolute(c.lost);
}

/// The shared location as one shard sees it (`[cluster]` on).
pub fn cluster(id: u16, c: &crate::core::edge::cluster::ClusterState, n: &crate::core::edge::cluster::ClusterStats) {
    let s = id.to_string();
    gauge!("sipedge_cluster_degraded", "shard" => s.clone()).set(if c.store_up { 0.0 } else { 1.0 });
    gauge!("sipedge_cluster_journal_depth", "shard" => s.clone()).set(c.journal_depth() as f64);
    gauge!("sipedge_cluster_cached_aors", "shard" => s.clone()).set(c.cached() as f64);
    let counts = [
        ("sipedge_cluster_store_writes_total", n.store_writes),
        ("sipedge_cluster_store_fetches_total", n.store_fetches),
        ("sipedge_cluster_store_refusals_total", n.store_refusals),
        ("sipedge_cluster_served_from_memory_total", n.served_from_memory),
        ("sipedge_cluster_cache_hits_total", n.cache_hits),
        ("sipedge_cluster_cache_misses_total", n.cache_misses),
        ("sipedge_cluster_cache_invalidations_total", n.invalidations),
        ("sipedge_cluster_cache_flushes_total", n.cache_flushes),
        ("sipedge_cluster_inter_edge_hops_total", n.inter_edge_hops),
        ("sipedge_cluster_dead_edge_bindings_skipped_total", n.dead_skipped),
        ("sipedge_cluster_bad_values_total", n.bad_values),
        ("sipedge_cluster_replays_total", n.replays),
        ("sipedge_cluster_journal_overflows_total", n.journal_overflows),
        ("sipedge_cluster_bindings_restored_total", n.restored),
    ];
    for (name, v) in counts {
        counter!(name, "shard" => s.clone()).absolute(v);
    }
}

/// Requests per profile of one shard, and the NAT keepalives it sends for
/// profiles: (addresses kept alive, keepalives sent, addresses refused).
pub fn profiles(id: u16, names: &[&str], counts: &[u64], keepalives: (usize, u64, u64)) {
    let s = id.to_string();
    gauge!("sipedge_nat_keepalive_peers", "shard" => s.clone()).set(keepalives.0 as f64);
    counter!("sipedge_nat_keepalives_sent_total", "shard" => s.clone()).absolute(keepalives.1);
    counter!("sipedge_nat_keepalive_peers_refused_total", "shard" => s.clone()).absolute(keepalives.2);
    for (name, n) in names.iter().zip(counts) {
        counter!("sipedge_profile_requests_total", "shard" => s.clone(), "profile" => name.to_string()).absolute(*n);
    }
}

/// The mid-registrar of one shard (`registrar.mode = "mid"`).
pub fn mid(id: u16, n: &crate::core::edge::mid::MidStats, upstream_active: usize) {
    let s = id.to_string();
    gauge!("sipedge_mid_upstream_registrations", "shard" => s.clone()).set(upstream_active as f64);
    let counts = [
        ("sipedge_mid_absorbed_total", n.absorbed),
        ("sipedge_mid_forwarded_total", n.forwarded),
        ("sipedge_mid_accepted_total", n.accepted),
        ("sipedge_mid_refused_total", n.refused),
        ("sipedge_mid_core_failures_total", n.core_failures),
        ("sipedge_mid_deregistrations_total", n.deregistrations),
    ];
    for (name, v) in counts {
        counter!(name, "shard" => s.clone()).absolute(v);
    }
}

/// Handshakes of one shard that failed: TLS by cause, WebSocket upgrades
/// refused by reason.
pub fn handshakes<T: Reason, W: Reason>(id: u16, tls_failures: &Tally<T>, ws_refused: &Tally<W>) {
    let s = id.to_string();
    reasons("sipedge_tls_handshake_failures_total", &s, tls_failures);
    reasons("sipedge_ws_handshakes_refused_total", &s, ws_refused);
}

/// Proxy figures of one shard.
pub fn proxy(id: u16, c: &crate::core::counters::ProxyStats, in_progress: usize, timers: usize) {
    let s = id.to_string();
    gauge!("sipedge_transactions_active", "shard" => s.clone()).set(in_progress as f64);
    gauge!("sipedge_timers_pending", "shard" => s.clone()).set(timers as f64);
    for (name, v) in [
        ("sipedge_transactions_total", c.transactions),
        ("sipedge_branches_total", c.branches),
        ("sipedge_relayed_total", c.relayed),
        ("sipedge_retransmissions_total", c.retransmissions),
        ("sipedge_branch_timeouts_total", c.branch_timeouts),
        ("sipedge_failovers_total", c.failovers),
        ("sipedge_cancels_sent_total", c.cancels_sent),
        ("sipedge_proxy_challenges_total", c.challenges),
        ("sipedge_probes_sent_total", c.probes_sent),
        ("sipedge_upstream_changes_total", c.upstream_changes),
        ("sipedge_flow_failures_total", c.flow_failures),
        ("sipedge_sdp_codecs_removed_total", c.sdp_codecs_removed),
        ("sipedge_sdp_rejected_total", c.sdp_rejected),
        ("sipedge_headers_removed_total", c.headers_removed),
    ] {
        counter!(name, "shard" => s.clone()).absolute(v);
    }
    reasons("sipedge_sdp_unfiltered_total", &s, &c.sdp_unfiltered);
}

/// What one shard keeps of names (`core::resolve::names`) and what its
/// resolved targets did.
pub fn dns(
    id: u16,
    n: &crate::core::resolve::names::NameStats,
    names: usize,
    blocked: usize,
    p: &crate::core::counters::ProxyStats,
) {
    let s = id.to_string();
    gauge!("sipedge_dns_cached_names", "shard" => s.clone()).set(names as f64);
    gauge!("sipedge_dns_blocklisted_targets", "shard" => s.clone()).set(blocked as f64);
    for (result, v) in [("hit", n.hits), ("miss", n.misses), ("stale", n.stale_served), ("failed", n.failed)] {
        counter!("sipedge_dns_cache_total", "shard" => s.clone(), "result" => result).absolute(v);
    }
    for (name, v) in [
        ("sipedge_dns_waits_merged_total", n.merged),
        ("sipedge_dns_refreshes_total", n.refreshes),
        ("sipedge_dns_evicted_total", n.evicted),
        ("sipedge_dns_blocklisted_total", n.blocklisted),
        ("sipedge_dns_failed_targets_total", p.dns_failed_targets),
    ] {
        counter!(name, "shard" => s.clone()).absolute(v);
    }
    for (reason, v) in ["timeout", "503"].into_iter().zip(p.dns_failovers) {
        counter!("sipedge_dns_failovers_total", "shard" => s.clone(), "reason" => reason).absolute(v);
    }
}

/// Protection figures of one shard: rate-limit hits by rule, bans it
/// decided (active, by reason, and in total), scanner drops, size refusals
/// and requests moved from UDP to TCP.
pub fn protect<'a>(
    id: u16,
    p: &crate::core::protect::ProtectStats,
    rules: impl Iterator<Item = &'a str>,
    active: &Tally<crate::core::protect::BanReason>,
) {
    let s = id.to_string();
    for (rule, n) in rules.zip(&p.rule_hits) {
        counter!("sipedge_ratelimit_hits_total", "shard" => s.clone(), "rule" => rule.to_string()).absolute(*n);
    }
    for (reason, n) in active.iter() {
        gauge!("sipedge_bans_active", "shard" => s.clone(), "reason" => reason.label()).set(n as f64);
    }
    reasons("sipedge_bans_total", &s, &p.bans_total);
    reasons("sipedge_oversize_total", &s, &p.oversize);
    counter!("sipedge_scanner_drops_total", "shard" => s.clone()).absolute(p.scanner_drops);
    counter!("sipedge_udp_to_tcp_total", "shard" => s.clone()).absolute(p.udp_to_tcp);
    for (kind, n) in [("ask", p.lease_asks), ("grant", p.lease_grants), ("return", p.lease_returns)] {
        counter!("sipedge_ratelimit_lease_messages_total", "shard" => s.clone(), "kind" => kind).absolute(n);
    }
    counter!("sipedge_flood_reports_total", "shard" => s.clone()).absolute(p.flood_reports);
}

fn reasons<R: Reason>(name: &'static str, shard: &str, r: &Tally<R>) {
    for (reason, n) in r.iter() {
        counter!(name, "shard" => shard.to_string(), "reason" => reason.label()).absolute(n);
    }
}

/// One shard's HEP capture figures (read at scrape time: the sender thread
/// counts what it sends).
pub fn hep(id: u16, stats: &super::hep_sender::Stats) {
    let s = id.to_string();
    counter!("sipedge_hep_sent_total", "shard" => s.clone())
        .absolute(stats.sent.load(std::sync::atomic::Ordering::Relaxed));
    for (reason, n) in stats.dropped() {
        counter!("sipedge_hep_dropped_total", "shard" => s.clone(), "reason" => reason.label()).absolute(n);
    }
}
