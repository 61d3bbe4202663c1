//! `GET /registrations/{aor}`: what an operator typed (`alice@example.com`,
//! `sip:alice@Example.COM:5060`, percent-encoded or not) becomes the AOR the
//! registrar stores, through the core's one normaliser
//! (`core::registrar::request::aor_of`: scheme and host lower-cased, port
//! and parameters dropped); the control thread asks the shard owning it,
//! and the bindings it answers with are rendered here as JSON.

use crate::control::Request;
use crate::core::location::shared::{decode_all, Fetched};
use crate::core::location::Binding;
use crate::core::registrar::request::aor_of_typed;
use crate::services::store::StoreHandle;
use crossbeam_channel::{bounded, Sender};

type Answer = (u16, &'static str, String);

/// The answer when the request is about registrations, else None. With
/// `[cluster]` on, the shared store answers for the whole cluster.
pub fn route(
    method: &tiny_http::Method,
    url: &str,
    control: &Sender<Request>,
    cluster: Option<&StoreHandle>,
) -> Option<Answer> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let path = url.strip_prefix("/registrations/").filter(|_| *method == tiny_http::Method::Get)?;
    let Some(aor) = aor_of_typed(&super::percent_decode(path)) else {
        return Some((400, TEXT, "not an address-of-record (user@host or sip:user@host)\n".into()));
    };
    if let Some(store) = cluster {
        return Some(match store.registrations(&aor) {
            Ok(fetched) => (200, "application/json", shared_json(&aor, &fetched)),
            Err(e) => (503, TEXT, format!("the shared location did not answer: {e}\n")),
        });
    }
    let (tx, rx) = bounded(1);
    if control.send_timeout(Request::Registrations { aor: aor.clone(), reply: tx }, super::ANSWER_WAIT).is_err() {
        return Some((503, TEXT, "control thread busy\n".into()));
    }
    Some(match rx.recv_timeout(super::ANSWER_WAIT) {
        Ok(bindings) => (200, "application/json", registrations_json(&aor, &bindings)),
        Err(_) => (503, TEXT, "the owning shard did not answer\n".into()),
    })
}

/// The JSON body of `GET /registrations/{aor}`.
pub fn registrations_json(aor: &[u8], bindings: &[Binding]) -> String {
    let list: Vec<serde_json::Value> = bindings.iter().map(binding_json).collect();
    serde_json::json!({ "aor": String::from_utf8_lossy(aor), "bindings": list }).to_string()
}

/// The same for the whole cluster: each binding names the edge holding it
/// (times on this edge's clock).
fn shared_json(aor: &[u8], fetched: &Fetched) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (list, bad) = decode_all(fetched, now);
    let list: Vec<serde_json::Value> = list
        .iter()
        .map(|b| {
            let mut v = binding_json(&b.binding);
            v["node"] = b.node.clone().into();
            v
        })
        .collect();
    serde_json::json!({ "aor": String::from_utf8_lossy(aor), "bindings": list, "unreadable": bad }).to_string()
}

fn binding_json(b: &Binding) -> serde_json::Value {
    serde_json::json!({
        "contact": String::from_utf8_lossy(b.contact()),
        "source": b.source().to_string(),
        "transport": b.transport().label(),
        "flow": b.flow().map(|f| format!("{}:{}", f.shard, f.conn)),
        "expires_at": b.expires_at(),
        "q": b.q() as f64 / 1000.0,
        "call_id": String::from_utf8_lossy(b.call_id()),
        "cseq": b.cseq(),
        "path": b.path().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>(),
        "instance": b.instance().map(|i| String::from_utf8_lossy(i).into_owned()),
        "reg_id": b.reg_id(),
        "user_agent": b.user_agent().map(|u| String::from_utf8_lossy(u).into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Edge, Input, Origin, Output, Packet, Transport};

    #[test]
    fn typed_aors_normalise_as_register_does() {
        let aor = |s: &str| aor_of_typed(&super::super::percent_decode(s)).map(|a| String::from_utf8(a).unwrap());
        for typed in [
            "alice@example.com",
            "alice%40Example.COM",
            "alice@host:5060",
            "sip:alice@Example.com:5060;transport=tcp",
            "SIP:alice@example.com",
        ] {
            let want = if typed.contains("host") { "sip:alice@host" } else { "sip:alice@example.com" };
            assert_eq!(aor(typed).as_deref(), Some(want), "{typed}");
        }
        assert_eq!(aor("sips:bob@h").as_deref(), Some("sips:bob@h"));
        assert_eq!(aor("Bob@H").as_deref(), Some("sip:Bob@h"), "the user part keeps its case");
        assert_eq!(aor("tel:+15551234"), None);
        assert_eq!(aor(""), None);
    }

    /// A phone registers `alice@host:5060` (port in its To); the operator
    /// asks for it as typed, and the shard's lookup finds the binding.
    #[test]
    fn the_shard_finds_what_the_admin_asks_for() {
        let text = "[[listen]]\ntransport = \"udp\"\naddr = \"127.0.0.1:5060\"\n[registrar]\ndomains = [\"host\"]\n[auth]\nenabled = false\n";
        let config = crate::config::Config::parse(text, "t.toml").unwrap();
        let mut edge = Edge::new(crate::shard::build::edge_config(&config, 0, 1, None), 1_000_000, 0);
        let register = "REGISTER sip:host SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa1;rport\r\n\
                        From: <sip:alice@Host:5060>;tag=f1\r\nTo: <sip:alice@Host:5060>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n\
                        Max-Forwards: 70\r\nContact: <sip:alice@10.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n";
        let origin =
            Origin { transport: Transport::Udp, listener: 0, peer: "10.0.0.1:5070".parse().unwrap(), flow: None };
        let mut out = Vec::new();
        edge.handle(1_000_000, Input::Packet(Packet { origin, bytes: register.as_bytes() }), &mut out);
        assert!(matches!(&out[..], [Output::Send { bytes, .. }] if bytes.starts_with(b"SIP/2.0 200 ")), "{out:?}");
        let aor = aor_of_typed("alice@host:5060").unwrap();
        assert_eq!(crate::core::owner::shard_of(&aor, 1), 0);
        let bindings = edge.registrations(&aor).to_vec();
        assert_eq!(bindings.len(), 1, "the lookup by the typed AOR finds the binding");
        let json: serde_json::Value = serde_json::from_str(&registrations_json(&aor, &bindings)).unwrap();
        assert_eq!(
            (json["aor"].as_str(), json["bindings"][0]["contact"].as_str()),
            (Some("sip:alice@host"), Some("sip:alice@10.0.0.1:5070"))
        );
    }
}
