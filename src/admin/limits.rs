//! `GET /limits/{rule}/{key}`: a rate-limit key's tokens as the edge holds
//! them. The bucket is on the key's owner shard and other shards hold
//! leases of it, so the control thread asks every shard and this adds up
//! the answers: `owner` (shard), `tokens` (in the owner's bucket; a key
//! not tracked has a full one), `leased` (spread over the other shards,
//! each in `leases`).

use crate::control::Request;
use crate::core::protect::KeyView;
use crossbeam_channel::{bounded, Sender};
use std::time::Instant;

type Answer = (u16, &'static str, String);

/// The answer when the request is about limits, else None.
pub fn route(method: &tiny_http::Method, url: &str, shards: usize, control: &Sender<Request>) -> Option<Answer> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let rest = url.strip_prefix("/limits/").filter(|_| *method == tiny_http::Method::Get)?;
    let Some((rule, key)) = rest.split_once('/').filter(|(r, k)| !r.is_empty() && !k.is_empty()) else {
        return Some((400, TEXT, "GET /limits/{rule}/{key}\n".into()));
    };
    let (rule, key) = (super::percent_decode(rule), super::percent_decode(key));
    let (tx, rx) = bounded(shards.max(1));
    let ask = Request::Limit { rule: rule.clone(), key: key.clone(), reply: tx };
    if control.send_timeout(ask, super::ANSWER_WAIT).is_err() {
        return Some((503, TEXT, "control thread busy\n".into()));
    }
    let deadline = Instant::now() + super::ANSWER_WAIT;
    let mut views = Vec::with_capacity(shards);
    for _ in 0..shards {
        match rx.recv_deadline(deadline) {
            Ok(Some(v)) => views.push(v),
            Ok(None) => return Some((404, TEXT, format!("no rule {rule:?}, or {key:?} is not one of its keys\n"))),
            Err(_) => return Some((503, TEXT, "a shard did not answer\n".into())),
        }
    }
    Some((200, "application/json", limit_json(&rule, &key, &views)))
}

/// Every shard's view of one key, added up.
pub fn limit_json(rule: &str, key: &str, views: &[KeyView]) -> String {
    let owner = views.iter().find(|v| v.owner);
    let leases: Vec<serde_json::Value> = views
        .iter()
        .filter(|v| !v.owner && v.tokens > 0.0)
        .map(|v| serde_json::json!({ "shard": v.shard, "tokens": v.tokens }))
        .collect();
    let leased: f64 = views.iter().filter(|v| !v.owner).map(|v| v.tokens).sum();
    serde_json::json!({
        "rule": rule,
        "key": key,
        "owner": owner.map(|v| v.shard),
        "tokens": owner.map_or(0.0, |v| (v.tokens * 1000.0).floor() / 1000.0),
        "leased": leased,
        "leases": leases,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_tokens_and_leases_added_up() {
        let views = [
            KeyView { shard: 0, owner: false, tokens: 5.0 },
            KeyView { shard: 1, owner: true, tokens: 7.25 },
            KeyView { shard: 2, owner: false, tokens: 0.0 },
            KeyView { shard: 3, owner: false, tokens: 3.0 },
        ];
        let j: serde_json::Value = serde_json::from_str(&limit_json("per-ip", "192.0.2.1", &views)).unwrap();
        assert_eq!(j["owner"], 1);
        assert_eq!(j["tokens"], 7.25);
        assert_eq!(j["leased"], 8.0);
        assert_eq!(j["leases"].as_array().unwrap().len(), 2);
        assert_eq!(j["leases"][1]["shard"], 3);
    }
}
