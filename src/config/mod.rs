//! Configuration: the TOML schema, its embedded default, and loading with
//! errors that name the file, line, column and key.
//!
//! Every check runs inside deserialization (enums, address parsing, bounded
//! integers), so every error carries the span of the offending value and the
//! path of its key; unknown keys are errors. A config that loads is valid.

mod bounded;
mod cluster;
mod dns;
mod hep;
mod hygiene;
mod method;
mod profile;
mod protect;
mod proxy;
mod schema;

pub use bounded::Bounded;
pub use cluster::{Cluster, NodeName, RedisUrls};
pub use dns::{Dns, Family, HostName, UpstreamAddr};
pub use hep::{AorPattern, Collector, Hep, Ratio};
pub use hygiene::{Codec, Hygiene, Media};
pub use method::MethodName;
pub use profile::{NatMode, Profile};
pub use protect::{AuthBan, Flood, Limit, LimitAction, LimitKey, Protect, Rate};
pub use proxy::{Cidr, Code, Forking, Proxy, Route, Upstream};
pub use schema::*;

use std::fmt;
use std::path::Path;

/// The embedded default configuration, every key commented.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// A configuration that could not be loaded: where, which key, and why.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: key `{}`: {}", self.file, self.line, self.column, self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The embedded default.
    pub fn embedded() -> Config {
        Config::parse(DEFAULT_TOML, "<embedded default>").expect("embedded default config is valid")
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, &file)
    }

    /// Parses and validates TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::new(text);
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = inner.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError { file: file.to_string(), line, column, key, message: inner.message().to_string() }
        })?;
        cfg.cross_checks(text, file)?;
        Ok(cfg)
    }

    /// Checks that relate several keys to each other.
    fn cross_checks(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let at = |pos: usize, key: String, message: String| {
            let (line, column) = line_col(text, pos);
            ConfigError { file: file.to_string(), line, column, key, message }
        };
        let listen_at = |i: usize| nth_table(text, "[[listen]]", i);
        // One socket per (UDP or TCP, address): two TCP-based listeners on
        // one address would share its connections by SO_REUSEPORT.
        for (i, l) in self.listen.iter().enumerate() {
            if let Some(first) =
                self.listen[..i].iter().find(|o| o.addr == l.addr && o.transport.is_tcp() == l.transport.is_tcp())
            {
                let message = if first.transport == l.transport {
                    format!("duplicate listener {} {}", l.transport.as_str(), l.addr)
                } else {
                    format!(
                        "listeners {} and {} share the TCP socket {}",
                        first.transport.as_str(),
                        l.transport.as_str(),
                        l.addr
                    )
                };
                return Err(at(listen_at(i), format!("listen[{i}]"), message));
            }
        }
        let r = &self.registrar;
        if !(r.min_expires.get() <= r.default_expires.get() && r.default_expires.get() <= r.max_expires.get()) {
            let pos = text.find("[registrar]").unwrap_or(0);
            return Err(at(pos, "registrar".into(), "need min_expires <= default_expires <= max_expires".into()));
        }
        for (i, r) in self.proxy.route.iter().enumerate() {
            let pos = nth_table(text, "[[proxy.route]]", i);
            if let Some(j) =
                r.upstreams.iter().position(|u| u.transport() != Transport::Tls && !u.server_name.is_empty())
            {
                return Err(at(
                    pos,
                    format!("proxy.route[{i}].upstreams[{j}].server_name"),
                    "server_name belongs to tls upstreams only".into(),
                ));
            }
            if r.upstreams.is_empty() {
                return Err(at(
                    pos,
                    format!("proxy.route[{i}].upstreams"),
                    "a route needs at least one upstream".into(),
                ));
            }
            if let Some(j) = r.upstreams.iter().position(|u| u.transport().is_websocket()) {
                let message = "the edge opens no WebSocket connections: an upstream is udp, tcp or tls".into();
                return Err(at(pos, format!("proxy.route[{i}].upstreams[{j}].transport"), message));
            }
            for (j, u) in r.upstreams.iter().enumerate() {
                if let (UpstreamAddr::Name(n), Some(t)) = (&u.addr, u.transport) {
                    if n.transport.is_some_and(|nt| nt != t.into()) {
                        let message = "the URI's transport parameter and the transport key disagree".into();
                        return Err(at(pos, format!("proxy.route[{i}].upstreams[{j}].transport"), message));
                    }
                }
            }
        }
        let dns = &self.dns;
        let timer_b_ms = 64 * self.proxy.t1_ms.get();
        if dns.budget_ms.get() > timer_b_ms {
            let message = format!("a lookup's budget must end before Timer B (64·T1 = {timer_b_ms} ms): lower it");
            return Err(at(text.find("[dns]").unwrap_or(0), "dns.budget_ms".into(), message));
        }
        if dns.ttl_min_secs.get() > dns.ttl_max_secs.get() {
            let message = "need ttl_min_secs <= ttl_max_secs".into();
            return Err(at(text.find("[dns]").unwrap_or(0), "dns.ttl_min_secs".into(), message));
        }
        for (i, l) in self.listen.iter().enumerate() {
            if !l.transport.is_tls() && !l.client_ca.is_empty() {
                return Err(at(
                    listen_at(i),
                    format!("listen[{i}].client_ca"),
                    "client_ca belongs to tls and wss listeners only".into(),
                ));
            }
            if l.transport.is_tls() == l.certificates.is_empty() {
                let message = if l.certificates.is_empty() {
                    format!("a {} listener needs certificates", l.transport.as_str())
                } else {
                    "certificates belong to tls and wss listeners only".into()
                };
                return Err(at(listen_at(i), format!("listen[{i}].certificates"), message));
            }
        }
        if self.tls.client_cert.is_empty() != self.tls.client_key.is_empty() {
            let key = if self.tls.client_cert.is_empty() { "tls.client_cert" } else { "tls.client_key" };
            return Err(at(
                text.find("[tls]").unwrap_or(0),
                key.into(),
                "client_cert and client_key go together".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, l) in self.protect.limit.iter().enumerate() {
            let pos = nth_table(text, "[[protect.limit]]", i);
            if l.name.is_empty() || !names.insert(l.name.as_str()) {
                return Err(at(pos, format!("protect.limit[{i}].name"), "every limit needs a name of its own".into()));
            }
        }
        let reg_at = || text.find("[registrar]").unwrap_or(0);
        if r.mode == RegistrarMode::Mid {
            if r.upstream.is_empty() {
                return Err(at(
                    reg_at(),
                    "registrar.upstream".into(),
                    "mode = \"mid\" needs the core registrar".into(),
                ));
            }
            if r.device_expires.get() >= r.upstream_expires.get() {
                let message = "device_expires must be shorter than upstream_expires".into();
                return Err(at(reg_at(), "registrar.device_expires".into(), message));
            }
            if let Some(j) = r.upstream.iter().position(|u| u.transport().is_websocket()) {
                let message = "the edge opens no WebSocket connections: an upstream is udp, tcp or tls".into();
                return Err(at(reg_at(), format!("registrar.upstream[{j}].transport"), message));
            }
            if let Some(j) = r.upstream.iter().position(|u| u.addr.literal().is_none()) {
                let message = "the core registrar is an IP:port (names are resolved for routes only)".into();
                return Err(at(reg_at(), format!("registrar.upstream[{j}].addr"), message));
            }
            if self.cluster.enabled {
                let message = "a mid-registrar sharing its location through [cluster] is not built yet".into();
                return Err(at(reg_at(), "registrar.mode".into(), message));
            }
        }
        let mut profile_names = std::collections::HashSet::new();
        let mut profile_limits = 0;
        for (i, p) in self.profile.iter().enumerate() {
            let pos = nth_table(text, "[[profile]]", i);
            if let Some((key, message)) = p.problem(&self.auth.algorithms, &self.registrar) {
                return Err(at(pos, format!("profile[{i}].{key}"), message));
            }
            for (j, l) in p.limit.iter().enumerate() {
                if l.name.is_empty() || !names.insert(l.name.as_str()) {
                    let pos = nth_table(text, "[[profile.limit]]", profile_limits).max(pos);
                    let message = "every limit needs a name of its own, [protect]'s included".into();
                    return Err(at(pos, format!("profile[{i}].limit[{j}].name"), message));
                }
                profile_limits += 1;
            }
            if !profile_names.insert(p.name.as_str()) {
                return Err(at(pos, format!("profile[{i}].name"), format!("a second profile named {:?}", p.name)));
            }
        }
        let cluster_at = || text.find("[cluster]").unwrap_or(0);
        if let Some((key, message)) = self.cluster.missing() {
            return Err(at(cluster_at(), key.into(), message.into()));
        }
        if let Some(peer) = self.cluster.peer_addr.filter(|_| self.cluster.enabled) {
            let bound = self.listen.iter().any(|l| {
                l.transport == Transport::Udp
                    && l.addr.port() == peer.port()
                    && (l.addr.ip() == peer.ip() || l.addr.ip().is_unspecified())
            });
            if !bound {
                let message = format!("no udp listener is bound at {peer}: other edges could not reach this one");
                return Err(at(cluster_at(), "cluster.peer_addr".into(), message));
            }
            if self.proxy.topology_key.0.is_none() {
                let message = "a cluster needs one topology_key on every edge (edges open each other's tokens)";
                return Err(at(text.find("[proxy]").unwrap_or(0), "proxy.topology_key".into(), message.into()));
            }
        }
        if self.listen.is_empty() {
            return Err(ConfigError {
                file: file.to_string(),
                line: 1,
                column: 1,
                key: "listen".into(),
                message: "at least one [[listen]] table is needed".into(),
            });
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map(|p| offset - p).unwrap_or(offset + 1);
    (line, column)
}

/// Byte offset of the `n`th occurrence of a table header (0 when absent).
fn nth_table(text: &str, header: &str, n: usize) -> usize {
    text.match_indices(header).nth(n).map(|(p, _)| p).unwrap_or(0)
}

#[cfg(test)]
mod tests;
