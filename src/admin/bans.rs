//! `GET /bans` and `DELETE /bans/{ip}`: every shard holds every ban, so the
//! control thread asks each one and this merges the answers (one entry per
//! address: ip, reason, expires_at in unix seconds, the shard that decided).

use crate::control::Request;
use crate::core::protect::Ban;
use crossbeam_channel::{bounded, Sender};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

type Answer = (u16, &'static str, String);

/// The answer when the request is about bans, else None.
pub fn route(method: &tiny_http::Method, url: &str, shards: usize, control: &Sender<Request>) -> Option<Answer> {
    use tiny_http::Method::{Delete, Get};
    const TEXT: &str = "text/plain; charset=utf-8";
    match (method, url) {
        (Get, "/bans") => {
            let (tx, rx) = bounded(shards.max(1));
            if control.send_timeout(Request::Bans { reply: tx }, super::ANSWER_WAIT).is_err() {
                return Some((503, TEXT, "control thread busy\n".into()));
            }
            let deadline = Instant::now() + super::ANSWER_WAIT;
            let mut all: Vec<Ban> = Vec::new();
            for _ in 0..shards {
                match rx.recv_deadline(deadline) {
                    Ok(bans) => all.extend(bans),
                    Err(_) => return Some((503, TEXT, "a shard did not answer\n".into())),
                }
            }
            Some((200, "application/json", bans_json(&all)))
        }
        (Delete, path) if path.starts_with("/bans/") => {
            let Ok(ip) = super::percent_decode(&path["/bans/".len()..]).parse::<IpAddr>() else {
                return Some((400, TEXT, "not an IP address\n".into()));
            };
            let (tx, rx) = bounded(shards.max(1));
            if control.send_timeout(Request::Unban { ip, reply: tx }, super::ANSWER_WAIT).is_err() {
                return Some((503, TEXT, "control thread busy\n".into()));
            }
            let deadline = Instant::now() + super::ANSWER_WAIT;
            let mut lifted = false;
            for _ in 0..shards {
                match rx.recv_deadline(deadline) {
                    Ok(had) => lifted |= had,
                    Err(_) => return Some((503, TEXT, "a shard did not answer\n".into())),
                }
            }
            Some(if lifted {
                log::warn!(target: crate::telemetry::ban_log::TARGET, "unban {ip}: lifted through the admin API");
                (200, TEXT, format!("lifted the ban of {ip}\n"))
            } else {
                (404, TEXT, format!("{ip} is not banned\n"))
            })
        }
        _ => None,
    }
}

/// One entry per address (the latest expiry when shards differ), sorted by address.
pub fn bans_json(bans: &[Ban]) -> String {
    let mut by_ip: BTreeMap<IpAddr, Ban> = BTreeMap::new();
    for b in bans {
        by_ip
            .entry(b.ip)
            .and_modify(|e| {
                if b.expires_at_ms > e.expires_at_ms {
                    *e = *b
                }
            })
            .or_insert(*b);
    }
    let list: Vec<serde_json::Value> = by_ip
        .values()
        .map(|b| serde_json::json!({ "ip": b.ip.to_string(), "reason": b.reason.label(), "expires_at": b.expires_at_ms / 1000, "shard": b.shard }))
        .collect();
    serde_json::json!({ "bans": list }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protect::BanReason;

    #[test]
    fn merged_one_per_address() {
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let a = Ban { ip, reason: BanReason::Flood, expires_at_ms: 5_000, shard: 1 };
        let b = Ban { expires_at_ms: 9_000, ..a };
        let j: serde_json::Value = serde_json::from_str(&bans_json(&[a, b, a])).unwrap();
        assert_eq!(j["bans"].as_array().unwrap().len(), 1);
        assert_eq!(j["bans"][0]["expires_at"], 9);
        assert_eq!(j["bans"][0]["reason"], "flood");
        assert_eq!(j["bans"][0]["shard"], 1);
    }
}
