//! The admin HTTP listener, on its own plain thread (never on a shard):
//! `GET /metrics` (Prometheus text from metrics-exporter-prometheus plus the
//! merged latency summary) and `GET /health` (200 when every shard is
//! serving). It reads shard state only through `control::Status`.

use crate::control::Status;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tiny_http::{Header, Response, Server};

pub fn start(addr: SocketAddr, prom: PrometheusHandle, status: Arc<Mutex<Status>>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = Server::http(addr).map_err(|e| std::io::Error::other(format!("admin listener {addr}: {e}")))?;
    std::thread::Builder::new().name("admin".into()).spawn(move || {
        for req in server.incoming_requests() {
            let (code, ctype, body) = route(req.method(), req.url(), &prom, &status);
            let header = Header::from_bytes("Content-Type", ctype).expect("static header");
            let _ = req.respond(Response::from_string(body).with_status_code(code).with_header(header));
        }
    })
}

fn route(method: &tiny_http::Method, url: &str, prom: &PrometheusHandle, status: &Mutex<Status>) -> (u16, &'static str, String) {
    use tiny_http::Method::Get;
    const TEXT: &str = "text/plain; charset=utf-8";
    match (method, url) {
        (Get, "/metrics") => {
            let st = status.lock().unwrap_or_else(|p| p.into_inner());
            st.publish_process();
            prom.run_upkeep();
            let mut body = prom.render();
            body.push_str(&st.latency.render());
            (200, "text/plain; version=0.0.4", body)
        }
        (Get, "/health") => {
            let st = status.lock().unwrap_or_else(|p| p.into_inner());
            match st.unhealthy() {
                None => (200, TEXT, "ok\n".into()),
                Some(why) => (503, TEXT, format!("{why}\n")),
            }
        }
        (Get, _) => (404, TEXT, "not found\n".into()),
        _ => (405, TEXT, "method not allowed\n".into()),
    }
}
