//! The server-side scripts (`register.lua`, `assert.lua`, `fetch.lua`) and
//! the translation between the core's words and theirs: a `StoreWrite` or
//! a fetch becomes one script call on the AOR's key; the script's reply
//! becomes a `Written` or a `Fetched`. The semantics are the ones written
//! at the top of `core/location/shared.rs`; the Lua files implement them.

use crate::core::location::shared::{Fetched, StoreWrite, WriteKind, Written};
use crate::core::registrar::Reject;
use redis::{Cmd, Value};

/// One script: its text and its SHA1 (what EVALSHA names).
pub struct Script {
    pub code: &'static str,
    pub sha: String,
}

impl Script {
    fn new(code: &'static str) -> Script {
        Script { code, sha: redis::Script::new(code).get_hash().to_string() }
    }
}

pub struct Scripts {
    pub register: Script,
    pub assert: Script,
    pub fetch: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            register: Script::new(concat!(include_str!("value.lua"), include_str!("register.lua"))),
            assert: Script::new(concat!(include_str!("value.lua"), include_str!("assert.lua"))),
            fetch: Script::new(include_str!("fetch.lua")),
        }
    }
}

impl Scripts {
    pub fn all(&self) -> [&Script; 3] {
        [&self.register, &self.assert, &self.fetch]
    }
}

/// How a script is called: by hash (one Redis, scripts loaded at connect
/// and again on NOSCRIPT) or with its text (Redis Cluster, whose pipelines
/// the client cannot route EVALSHA in; the server caches the compiled text).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Call {
    Sha,
    Text,
}

/// The hash holding an AOR's values. The braces make the whole AOR the
/// Redis Cluster hash tag.
pub fn loc_key(aor: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(aor.len() + 14);
    k.extend_from_slice(b"sipedge:loc:{");
    k.extend_from_slice(aor);
    k.push(b'}');
    k
}

/// This node's index of the AORs it holds bindings of (read back at start).
pub fn index_key(node: &str) -> String {
    format!("sipedge:node:{{{node}}}:aors")
}

/// This node's heartbeat key.
pub fn node_key(node: &str) -> String {
    format!("sipedge:node:{{{node}}}")
}

pub const NODES: &str = "sipedge:nodes";
pub const EPOCH: &str = "sipedge:epoch";
pub const CHANNEL: &str = "sipedge:inval";

fn script_cmd(script: &Script, call: Call, key: &[u8]) -> Cmd {
    let mut c = match call {
        Call::Sha => {
            let mut c = redis::cmd("EVALSHA");
            c.arg(&script.sha);
            c
        }
        Call::Text => {
            let mut c = redis::cmd("EVAL");
            c.arg(script.code);
            c
        }
    };
    c.arg(1).arg(key);
    c
}

/// The script call applying `w`.
pub fn write_cmd(scripts: &Scripts, call: Call, node: &str, w: &StoreWrite) -> Cmd {
    match &w.kind {
        WriteKind::Register { call_id, cseq, wildcard, max_contacts, replace_oldest, contacts } => {
            let mut c = script_cmd(&scripts.register, call, &loc_key(&w.aor));
            c.arg(node)
                .arg(call_id.as_slice())
                .arg(*cseq)
                .arg(u8::from(*wildcard))
                .arg(*max_contacts)
                .arg(u8::from(*replace_oldest));
            for k in contacts {
                c.arg(k.key.as_slice()).arg(k.expires).arg(k.json.as_slice());
            }
            c
        }
        WriteKind::Assert { bindings } => {
            let mut c = script_cmd(&scripts.assert, call, &loc_key(&w.aor));
            c.arg(node);
            for k in bindings {
                c.arg(k.key.as_slice()).arg(k.expires).arg(k.call_id.as_slice()).arg(k.cseq).arg(k.json.as_slice());
            }
            c
        }
    }
}

/// The script call reading `aor`.
pub fn fetch_cmd(scripts: &Scripts, call: Call, aor: &[u8]) -> Cmd {
    script_cmd(&scripts.fetch, call, &loc_key(aor))
}

/// What a reply that is not the scripts' is.
#[derive(Debug)]
pub struct Garbage(pub String);

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

/// `{now, value...}`.
pub fn fetched(reply: Value) -> Result<Fetched, Garbage> {
    let Value::Array(items) = reply else { return Err(Garbage(format!("unexpected reply {reply:?}"))) };
    let mut items = items.into_iter();
    let now = items.next().as_ref().and_then(int).filter(|n| *n > 0);
    let Some(now) = now else { return Err(Garbage("reply without the store's time".into())) };
    let mut values = Vec::new();
    for v in items {
        match v {
            Value::BulkString(b) => values.push(b),
            other => return Err(Garbage(format!("unexpected value {other:?}"))),
        }
    }
    Ok(Fetched { store_now: now as u64, values })
}

/// `{now, value...}` or `{'refused', code}`.
pub fn written(reply: Value) -> Result<Written, Garbage> {
    if let Value::Array(items) = &reply {
        if let [Value::BulkString(tag), code] = items.as_slice() {
            if tag == b"refused" {
                return Ok(Err(refusal(int(code).unwrap_or(500))));
            }
        }
    }
    fetched(reply).map(Ok)
}

/// The reason phrase of a refusal the scripts make (the registrar's own words).
pub fn refusal(code: i64) -> Reject {
    match code {
        403 => Reject::new(403, "Too many registered contacts"),
        500 => Reject::new(500, "Out of order CSeq"),
        _ => Reject::new(500, "Shared location refused the update"),
    }
}

/// The node field of a stored value.
pub fn value_node(value: &[u8]) -> Option<&[u8]> {
    let head = value.split(|&c| c == b'\n').next()?;
    head.split(|&c| c == b' ').nth(3)
}

/// Whether `fetched` holds a value of `node`.
pub fn holds(fetched: &Fetched, node: &str) -> bool {
    fetched.values.iter().any(|v| value_node(v) == Some(node.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse() {
        let ok = Value::Array(vec![Value::Int(7), Value::BulkString(b"1 2 3 a\nc\n{}".to_vec())]);
        assert_eq!(written(ok).unwrap().unwrap().store_now, 7);
        let refused = Value::Array(vec![Value::BulkString(b"refused".to_vec()), Value::Int(403)]);
        assert_eq!(written(refused).unwrap().unwrap_err().code, 403);
        assert!(fetched(Value::Okay).is_err());
        assert!(fetched(Value::Array(vec![])).is_err());
        assert_eq!(value_node(b"1 2 3 edge-a\nc\n{}"), Some(&b"edge-a"[..]));
        assert_eq!(loc_key(b"a@b"), b"sipedge:loc:{a@b}");
    }
}
