//! WebSocket clients (RFC 7118) as the core sees them, sans-IO on the
//! proxy harness of `proxy_tests.rs` with two shards: a browser registers
//! on the connection shard 1 accepted (no Content-Length, Contact host
//! `*.invalid`), requests for it are looked up on the AOR's shard and reach
//! it only over that connection (through the mesh), the dialog is
//! record-routed twice (WS one side, UDP the other) and its in-dialog
//! requests come back to the connection by the alias that names the flow,
//! or, with topology hiding, by the sealed token that carries it.

use super::proxy_tests::{config, Call, Net, CORE, DOMAIN, EDGE_RR};
use super::*;
use crate::core::{FlowId, Origin, Transport};
use crate::sip::HeaderName as H;

/// The edge's WebSocket listener (listener 1), and its Record-Route.
const WS_EDGE: &str = "192.0.2.1:8080";
const WS_RR: &str = "<sip:192.0.2.1:8080;transport=ws;lr>";
/// The browser's public address, its connection, and the Contact it invents.
const BROWSER: &str = "198.51.100.7:50123";
const FLOW: FlowId = FlowId { shard: 1, conn: 7 };
const CONTACT: &str = "sip:k3l2@df7jal23ls0d.invalid;transport=ws";

/// The proxy harness's edge plus a `ws` listener.
fn ws_config() -> EdgeConfig {
    let mut cfg = config();
    cfg.listeners.push(Listener::new(Transport::Ws, WS_EDGE.parse().unwrap(), ""));
    cfg.local_ports.push(8080);
    cfg
}

fn on_connection() -> Origin {
    Origin { transport: Transport::Ws, listener: 1, peer: BROWSER.parse().unwrap(), flow: Some(FLOW) }
}

/// The browser (a user shard 0 owns) registers on its connection; its AOR.
fn register_browser(net: &mut Net) -> String {
    let user = user_on_shard_0();
    // What JsSIP sends: a Via and Contact host under .invalid, outbound, no Content-Length.
    let register = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\nMax-Forwards: 69\r\n\
         To: <sip:{user}@{DOMAIN}>\r\nFrom: <sip:{user}@{DOMAIN}>;tag=w1\r\nCall-ID: ws-reg-1\r\nCSeq: 1 REGISTER\r\n\
         Contact: <{CONTACT}>;+sip.instance=\"<urn:uuid:5f1c>\";reg-id=1;expires=600\r\nSupported: path, gruu, outbound\r\n\r\n"
    );
    net.deliver_from(1, on_connection(), register.as_bytes());
    let ok = net.on_flow(FLOW);
    assert_eq!(ok.len(), 1, "{:#?}", net.pending());
    assert_eq!((ok[0].status(), ok[0].shard), (200, 1), "{}", ok[0].text());
    assert!(ok[0].header(H::Contact).contains(CONTACT), "{}", ok[0].text());
    let aor = format!("sip:{user}@{DOMAIN}");
    assert_eq!(net.edges[0].registrations(aor.as_bytes())[0].flow(), Some(FLOW), "the binding records the connection");
    net.mesh.clear();
    aor
}

/// A user whose AOR shard 0 owns, so everything crosses the mesh.
fn user_on_shard_0() -> String {
    (0..).map(|i| format!("web{i}")).find(|u| owner::shard_of(format!("sip:{u}@{DOMAIN}").as_bytes(), 2) == 0).unwrap()
}

#[test]
fn a_browser_is_reached_on_its_connection_and_its_dialog_is_routed_back_to_it() {
    let mut net = Net::shards(ws_config(), 2);
    let aor = register_browser(&mut net);

    // The core calls the browser: looked up on shard 0, written by shard 1, the connection's owner.
    let call = Call::new(CORE, "sip:+15550001@example.com", &aor, "w1");
    net.send(CORE, &call.invite("z9hG4bKw1"));
    let trying = net.one(CORE);
    assert_eq!(trying.status(), 100);
    let mut on_flow = net.on_flow(FLOW);
    assert_eq!(on_flow.len(), 1, "{:#?}", net.pending());
    let inv = on_flow.remove(0);
    assert_eq!(net.mesh, ["0->1 FlowSend"]);
    assert_eq!((inv.method().as_str(), inv.ruri().as_str(), inv.shard), ("INVITE", CONTACT, 1));
    assert!(inv.values(H::Via)[0].starts_with("SIP/2.0/WS 192.0.2.1:8080;branch=z9hG4bK-0-"), "{}", inv.text());
    assert_eq!(inv.values(H::RecordRoute), [WS_RR, EDGE_RR], "UDP in, WS out: two Record-Routes (RFC 5658)");
    net.quiet();
    net.mesh.clear();

    // Its answer comes in on the connection (shard 1) and goes home to shard 0, then to the core.
    net.deliver_from(1, on_connection(), &inv.reply(200, "b1", &[("Contact", &format!("<{CONTACT}>"))]));
    let answer = net.one(CORE);
    assert_eq!(answer.status(), 200);
    let remote_target = crate::sip::parse_name_addr(answer.header(H::Contact).as_bytes()).unwrap().uri_raw.to_vec();
    let remote_target = String::from_utf8(remote_target).unwrap();
    assert_eq!(remote_target, format!("{CONTACT};alias=198.51.100.7~50123~5~1~7"), "the alias names the flow");

    // The core's BYE follows its route set (both of the edge's Record-Routes) and reaches the connection.
    let dialog = call.in_dialog(&answer);
    let routes = format!("{EDGE_RR}, {WS_RR}");
    net.send(CORE, &dialog.request("BYE", &remote_target, "z9hG4bKw1bye", 2, &[("Route", &routes)]));
    let bye = net.on_flow(FLOW);
    assert_eq!(bye.len(), 1, "{:#?}\n{:?}", net.pending(), net.counters().wire.drops);
    assert_eq!((bye[0].method().as_str(), bye[0].ruri().as_str()), ("BYE", CONTACT), "{}", bye[0].text());
    assert!(bye[0].values(H::Route).is_empty(), "both of the edge's Routes consumed: {}", bye[0].text());
    net.quiet();
}

#[test]
fn a_request_to_a_websocket_contact_without_its_connection_is_dropped_and_counted() {
    let mut net = Net::new(ws_config());
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "w2");
    let alias = format!("{CONTACT};alias=198.51.100.7~50123~5");
    let dialog = Call { to: "<sip:bob@example.com>;tag=b2".into(), ..call };
    net.send(CORE, &dialog.request("BYE", &alias, "z9hG4bKw2", 2, &[("Route", EDGE_RR)]));
    net.take(CORE);
    net.quiet();
    assert_eq!(net.counters().wire.drops.get(Drop::NoOutgoingWebSocket), 1);
}

#[test]
fn with_topology_hiding_the_sealed_token_leads_back_to_the_browsers_connection() {
    let mut cfg = ws_config();
    cfg.proxy.topology_hiding = true;
    cfg.proxy.topology_key = [9; 32];
    let mut net = Net::shards(cfg, 2);
    let aor = register_browser(&mut net);
    let call = Call::new(CORE, "sip:+15550001@example.com", &aor, "w4");
    net.send(CORE, &call.invite("z9hG4bKw4"));
    assert_eq!(net.one(CORE).status(), 100);
    let inv = net.on_flow(FLOW).remove(0);
    net.deliver_from(1, on_connection(), &inv.reply(200, "b4", &[("Contact", &format!("<{CONTACT}>"))]));
    let answer = net.one(CORE);
    let token = crate::sip::parse_name_addr(answer.header(H::Contact).as_bytes()).unwrap().uri_raw.to_vec();
    let token = String::from_utf8(token).unwrap();
    assert!(token.starts_with("sip:192.0.2.1:5060;th=") && !answer.text().contains(".invalid"), "{}", answer.text());
    net.mesh.clear();

    let dialog = call.in_dialog(&answer);
    net.send(CORE, &dialog.request("BYE", &token, "z9hG4bKw4bye", 2, &[]));
    let bye = net.on_flow(FLOW);
    assert_eq!(bye.len(), 1, "{:#?}\n{:?}", net.pending(), net.counters().wire.drops);
    assert_eq!(
        (bye[0].method().as_str(), bye[0].ruri().as_str(), bye[0].shard),
        ("BYE", CONTACT, 1),
        "{}",
        bye[0].text()
    );
    assert_eq!(net.mesh, ["0->1 FlowSend"]);
    net.quiet();
}
