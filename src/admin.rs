//! The admin HTTP listener, on its own plain thread (never on a shard):
//! `GET /metrics` (Prometheus text from metrics-exporter-prometheus plus the
//! merged latency summary), `GET /health` (200 when every shard is
//! serving, saying "degraded" while Redis is away), `GET /registrations/{aor}`
//! (asked of the shard owning the AOR, or of Redis with `[cluster]` on),
//! `POST /reload` (subscribers file, TLS certificates), `GET /bans` and
//! `DELETE /bans/{ip}` (asked of every shard), `GET /limits/{rule}/{key}`
//! (a rate-limit key's tokens, asked of every shard), `GET /cluster` (the store
//! room's view: Redis state, edges alive, queue and journal), `GET /trace`, `POST` and
//! `DELETE /trace/{rule}` (the per-request trace log's rules). It reaches
//! shard state only through `control`.

use crate::control::{Request, Status};
use crossbeam_channel::{bounded, Sender};
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tiny_http::{Header, Response, Server};

/// How long the admin waits for the control thread or a shard.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

pub fn start(
    addr: SocketAddr,
    prom: PrometheusHandle,
    status: Arc<Mutex<Status>>,
    control: Sender<Request>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = Server::http(addr).map_err(|e| std::io::Error::other(format!("admin listener {addr}: {e}")))?;
    std::thread::Builder::new().name("admin".into()).spawn(move || {
        for req in server.incoming_requests() {
            let (shards, store, resolver) = status
                .lock()
                .map(|s| (s.last_seen.len(), s.cluster.clone(), s.resolver.clone()))
                .unwrap_or((1, None, None));
            let answer = bans::route(req.method(), req.url(), shards, &control)
                .or_else(|| limits::route(req.method(), req.url(), shards, &control))
                .or_else(|| registrations::route(req.method(), req.url(), &control, store.as_ref()))
                .or_else(|| trace::route(req.method(), req.url(), &control))
                .or_else(|| dns::route(req.method(), req.url(), resolver.as_ref()));
            let (code, ctype, body) =
                answer.unwrap_or_else(|| route(req.method(), req.url(), &prom, &status, &control));
            let header = Header::from_bytes("Content-Type", ctype).expect("static header");
            let _ = req.respond(Response::from_string(body).with_status_code(code).with_header(header));
        }
    })
}

fn route(
    method: &tiny_http::Method,
    url: &str,
    prom: &PrometheusHandle,
    status: &Mutex<Status>,
    control: &Sender<Request>,
) -> (u16, &'static str, String) {
    use tiny_http::Method::{Get, Post};
    const TEXT: &str = "text/plain; charset=utf-8";
    match (method, url) {
        (Get, "/metrics") => {
            let st = status.lock().unwrap_or_else(|p| p.into_inner());
            st.publish_process();
            prom.run_upkeep();
            let mut body = prom.render();
            body.push_str(&st.latency.render());
            body.push_str(&st.polls.render());
            (200, "text/plain; version=0.0.4", body)
        }
        (Get, "/health") => {
            let st = status.lock().unwrap_or_else(|p| p.into_inner());
            match (st.unhealthy(), st.degraded()) {
                (None, None) => (200, TEXT, "ok\n".into()),
                (None, Some(why)) => (200, TEXT, format!("degraded: {why}\n")),
                (Some(why), _) => (503, TEXT, format!("{why}\n")),
            }
        }
        (Get, path) if path.starts_with("/profiles/match") => {
            let st = status.lock().unwrap_or_else(|p| p.into_inner());
            profile_match(&st.profiles, path)
        }
        (Get, "/cluster") => {
            let st = status.lock().unwrap_or_else(|p| p.into_inner());
            match &st.cluster {
                Some(store) => (200, "application/json", serde_json::to_string(&store.status()).unwrap_or_default()),
                None => (404, TEXT, "[cluster] is off\n".into()),
            }
        }
        (Post, "/reload") => {
            let (tx, rx) = bounded(1);
            if control.send_timeout(Request::Reload { reply: tx }, ANSWER_WAIT).is_err() {
                return (503, TEXT, "control thread busy\n".into());
            }
            match rx.recv_timeout(ANSWER_WAIT) {
                Ok(Ok(msg)) => (200, TEXT, format!("{msg}\n")),
                Ok(Err(msg)) => (422, TEXT, format!("{msg}\n")),
                Err(_) => (503, TEXT, "reload did not finish\n".into()),
            }
        }
        (Get, _) => (404, TEXT, "not found\n".into()),
        _ => (405, TEXT, "method not allowed\n".into()),
    }
}

/// `GET /profiles/match?ua=…&ip=…[&transport=udp]`: which profile a device
/// would get (JSON `{"profile": name}` or `null`), 400 without a valid ip.
fn profile_match(profiles: &crate::core::profile::Profiles, path: &str) -> (u16, &'static str, String) {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| percent_decode(v)))
    };
    let Some(ip) = param("ip").and_then(|ip| ip.parse().ok()) else {
        return (400, "text/plain; charset=utf-8", "ip=ADDRESS is needed (ua= and transport= are optional)\n".into());
    };
    let transport = match param("transport").as_deref().unwrap_or("udp") {
        "tcp" => crate::core::Transport::Tcp,
        "tls" => crate::core::Transport::Tls,
        "ws" => crate::core::Transport::Ws,
        "wss" => crate::core::Transport::Wss,
        _ => crate::core::Transport::Udp,
    };
    let ua = param("ua");
    let name = profiles.matching(ua.as_deref().map(str::as_bytes), ip, transport).map(|i| profiles.0[i].name.clone());
    (200, "application/json", serde_json::json!({ "profile": name }).to_string())
}

mod bans;
mod dns;
mod limits;
mod registrations;
mod trace;

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("alice%40Example.COM"), "alice@Example.COM");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
