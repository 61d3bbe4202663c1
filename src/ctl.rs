//! `sipedge ctl`: the command line's side of the admin API, for people. One
//! plain HTTP/1.0 request to a running edge's `[admin] addr` with short
//! timeouts, the answer shown as a table (or, with `--json`, as the API
//! gave it). Also the client `users` uses to make an edge reload.

use crate::cli::{CtlAction, TraceAction};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `method path` to the admin API at `addr`: (status, body), or why no edge answered.
pub fn call(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, String), String> {
    let fail = |e: std::io::Error| format!("no edge answered on {addr} ({e})");
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(fail)?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n").map_err(fail)?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(fail)?;
    let code =
        text.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("{addr} did not answer HTTP"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((code, body))
}

/// Runs one `ctl` action against `addr`. Exit 0 when the edge did what was
/// asked, 1 when it answered no, 2 when no edge answered.
pub fn run(addr: SocketAddr, json: bool, action: CtlAction) -> ExitCode {
    let (method, path) = match &action {
        CtlAction::Health => ("GET", "/health".to_string()),
        CtlAction::Reload => ("POST", "/reload".to_string()),
        CtlAction::Registrations { aor } => ("GET", format!("/registrations/{}", encode(aor))),
        CtlAction::Bans { lift: None } => ("GET", "/bans".to_string()),
        CtlAction::Bans { lift: Some(ip) } => ("DELETE", format!("/bans/{ip}")),
        CtlAction::Trace { action: TraceAction::List } => ("GET", "/trace".to_string()),
        CtlAction::Trace { action: TraceAction::Add { rule } } => ("POST", format!("/trace/{}", encode(rule))),
        CtlAction::Trace { action: TraceAction::Remove { rule } } => ("DELETE", format!("/trace/{}", encode(rule))),
    };
    let (code, body) = match call(addr, method, &path) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("sipedge ctl: {e}");
            return ExitCode::from(2);
        }
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let v = || serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default();
    let shown = match &action {
        _ if code != 200 || json => body.clone(),
        CtlAction::Registrations { .. } => registrations_table(&v(), now),
        CtlAction::Bans { lift: None } => bans_table(&v(), now),
        CtlAction::Trace { .. } => trace_list(&v()),
        _ => body.clone(),
    };
    if code == 200 {
        print!("{shown}");
        ExitCode::SUCCESS
    } else {
        eprint!("{shown}");
        ExitCode::from(1)
    }
}

/// Percent-encodes what a path segment cannot hold as it is.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' | b':' | b'+' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `in 1h02m`, `in 45s`, `expired`.
fn remaining(at: u64, now: u64) -> String {
    match at.checked_sub(now) {
        None | Some(0) => "expired".into(),
        Some(s) if s >= 3600 => format!("in {}h{:02}m", s / 3600, s / 60 % 60),
        Some(s) if s >= 60 => format!("in {}m{:02}s", s / 60, s % 60),
        Some(s) => format!("in {s}s"),
    }
}

/// The table of `GET /registrations/{aor}`.
pub fn registrations_table(v: &serde_json::Value, now: u64) -> String {
    let aor = v["aor"].as_str().unwrap_or("?");
    let bindings = v["bindings"].as_array().cloned().unwrap_or_default();
    if bindings.is_empty() {
        return format!("{aor}: no bindings\n");
    }
    let mut out = format!("{aor}: {} binding{}\n", bindings.len(), if bindings.len() == 1 { "" } else { "s" });
    let rows: Vec<[String; 6]> = bindings
        .iter()
        .map(|b| {
            let s = |k: &str| b[k].as_str().unwrap_or("-").to_string();
            [
                s("contact"),
                s("transport"),
                s("source"),
                remaining(b["expires_at"].as_u64().unwrap_or(0), now),
                format!("{}", b["q"].as_f64().unwrap_or(1.0)),
                s("user_agent"),
            ]
        })
        .collect();
    out.push_str(&table(["CONTACT", "TRANSPORT", "SOURCE", "EXPIRES", "Q", "USER-AGENT"], &rows));
    out
}

/// The table of `GET /bans`.
pub fn bans_table(v: &serde_json::Value, now: u64) -> String {
    let bans = v["bans"].as_array().cloned().unwrap_or_default();
    if bans.is_empty() {
        return "no bans\n".into();
    }
    let rows: Vec<[String; 3]> = bans
        .iter()
        .map(|b| {
            [
                b["ip"].as_str().unwrap_or("?").to_string(),
                b["reason"].as_str().unwrap_or("?").to_string(),
                remaining(b["expires_at"].as_u64().unwrap_or(0), now),
            ]
        })
        .collect();
    table(["IP", "REASON", "LIFTED"], &rows)
}

/// The trace rules in force, one a line.
pub fn trace_list(v: &serde_json::Value) -> String {
    let rules = v["trace"].as_array().cloned().unwrap_or_default();
    if rules.is_empty() {
        return "tracing nothing\n".into();
    }
    rules.iter().map(|r| format!("tracing {}\n", r.as_str().unwrap_or("?"))).collect()
}

/// Left-aligned columns, two spaces apart.
fn table<const N: usize>(head: [&str; N], rows: &[[String; N]]) -> String {
    let width: Vec<usize> =
        (0..N).map(|i| rows.iter().map(|r| r[i].len()).chain([head[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: Vec<&str>| {
        let mut l: String = cells.iter().zip(&width).map(|(c, w)| format!("{c:w$}  ")).collect();
        l.truncate(l.trim_end().len());
        l + "\n"
    };
    let mut out = line(head.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_as_a_table() {
        let v = serde_json::json!({ "aor": "sip:alice@example.com", "bindings": [
            { "contact": "sip:alice@192.0.2.1:5060", "transport": "udp", "source": "192.0.2.1:5060", "expires_at": 1_000_125, "q": 1.0, "user_agent": "baresip" },
            { "contact": "sip:alice@192.0.2.2:5062;transport=tcp", "transport": "tcp", "source": "192.0.2.2:40000", "expires_at": 1_003_700, "q": 0.5, "user_agent": null } ] });
        assert_eq!(
            registrations_table(&v, 1_000_000),
            "sip:alice@example.com: 2 bindings\n\
             CONTACT                                 TRANSPORT  SOURCE           EXPIRES   Q    USER-AGENT\n\
             sip:alice@192.0.2.1:5060                udp        192.0.2.1:5060   in 2m05s  1    baresip\n\
             sip:alice@192.0.2.2:5062;transport=tcp  tcp        192.0.2.2:40000  in 1h01m  0.5  -\n"
        );
        assert_eq!(
            registrations_table(&serde_json::json!({ "aor": "sip:bob@h", "bindings": [] }), 0),
            "sip:bob@h: no bindings\n"
        );
    }

    #[test]
    fn bans_as_a_table() {
        let v =
            serde_json::json!({ "bans": [{ "ip": "192.0.2.9", "reason": "flood", "expires_at": 100, "shard": 0 }] });
        assert_eq!(bans_table(&v, 40), "IP         REASON  LIFTED\n192.0.2.9  flood   in 1m00s\n");
        assert_eq!(bans_table(&serde_json::json!({ "bans": [] }), 0), "no bans\n");
    }

    #[test]
    fn aors_are_encoded_for_the_path() {
        assert_eq!(encode("sip:alice@example.com"), "sip:alice@example.com");
        assert_eq!(encode("a b/c?%"), "a%20b%2Fc%3F%25");
    }
}
