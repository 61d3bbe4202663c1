//! Transactions after their final answer, packed in `core::proxy::lingering`
//! (`edge::linger`): they do what the live ones did. A retransmitted request
//! gets the same final answer byte for byte (or is absorbed), a branch's
//! retransmitted answer is absorbed, ACKed again or relayed again, the
//! timers still run (Timer G resends, J, K, I, L end them), and the counts
//! (`transactions`, `timers_pending`) follow them out.

use super::*;
use crate::core::counters::Drop;

const CONTACT: &str = "sip:bob@203.0.113.10:5062";

/// A call from the core to Bob, answered: (its dialog, the remote target,
/// the INVITE as Bob got it, the 200 as the core got it).
fn answered(net: &mut Net, id: &str) -> (Call, String, Sent, Sent) {
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", id);
    net.send(CORE, &call.invite(&format!("z9hG4bK{id}")));
    let inv = trying_then_forwarded(net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(200, "b", &[("Contact", &format!("<{CONTACT}>"))]));
    let ok = net.one(CORE);
    assert_eq!(ok.status(), 200);
    let target = String::from_utf8(parse_name_addr(ok.header(H::Contact).as_bytes()).unwrap().uri_raw.to_vec());
    net.quiet();
    (call.in_dialog(&ok), target.unwrap(), inv, ok)
}

fn lingering(net: &Net) -> (usize, usize) {
    let e = &net.edges[0];
    (e.proxy.txs.len(), e.proxy.lingering.len())
}

fn no_match(net: &Net) -> u64 {
    net.counters().wire.drops.get(Drop::NoMatchingTransaction)
}

#[test]
fn a_retransmitted_bye_gets_the_same_200_byte_for_byte_until_timer_j_ends_its_transaction() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    let (dialog, target, _, _) = answered(&mut net, "l1");
    assert_eq!(lingering(&net), (0, 1), "the answered INVITE lingers, packed");
    let bye = dialog.request("BYE", &target, "z9hG4bKl1b", 2, &[("Route", EDGE_RR)]);
    net.send(CORE, &bye);
    let fwd = net.one(BOB_1);
    let answer = fwd.reply(200, "b", &[]);
    net.send(BOB_1, &answer);
    let ok = net.one(CORE);
    assert_eq!(lingering(&net), (0, 2));
    let e = &net.edges[0];
    assert_eq!((e.transactions(), e.timers_pending(), e.proxy.wheel.len()), (2, 2, 0), "one entry each, none live");

    // The BYE again: the same 200, nothing goes to Bob.
    let retransmissions = net.counters().proxy.retransmissions;
    net.advance(T1);
    net.send(CORE, &bye);
    assert_eq!(net.one(CORE).bytes, ok.bytes, "byte for byte");
    net.quiet();
    assert_eq!(net.counters().proxy.retransmissions, retransmissions + 1);

    // Bob's 200 again, while Timer K runs: absorbed.
    net.send(BOB_1, &answer);
    net.quiet();
    assert_eq!(no_match(&net), 0);
    // After Timer K (T4) the client transaction is gone: no match, as when it was live.
    net.advance(10 * T1);
    net.send(BOB_1, &answer);
    net.quiet();
    assert_eq!(no_match(&net), 1);
    assert_eq!(lingering(&net), (0, 2), "the server transaction goes on");
    net.send(CORE, &bye);
    assert_eq!(net.one(CORE).bytes, ok.bytes, "still answered after Timer K");

    // Timer J (64·T1 from the 200) ends it; the INVITE's Timer L, as long, too.
    net.advance(64 * T1);
    let e = &net.edges[0];
    assert_eq!((e.transactions(), e.timers_pending(), e.proxy.lingering.keys()), (0, 0, 0));
    // Now the BYE is a new request: forwarded again.
    net.send(CORE, &bye);
    assert_eq!(net.one(BOB_1).method(), "BYE");
    net.quiet();
}

#[test]
fn a_retransmitted_486_from_the_branch_is_acked_again_and_not_relayed_twice() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "l2");
    let invite = call.invite("z9hG4bKl2");
    net.send(CORE, &invite);
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(180, "b", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    let busy = inv.reply(486, "b", &[]);
    net.send(BOB_1, &busy);
    let ack = net.one(BOB_1);
    assert_hop_ack(&ack, &inv, "b");
    let relayed = net.one(CORE);
    assert_eq!(relayed.status(), 486);
    assert_eq!(lingering(&net), (0, 1), "waiting for the ACK, packed");

    // Bob did not get the ACK: his 486 again gets the same ACK, the caller nothing.
    net.send(BOB_1, &busy);
    assert_eq!(net.one(BOB_1).bytes, ack.bytes);
    net.quiet();
    // The caller's INVITE again, before its ACK: the 486 again.
    net.send(CORE, &invite);
    assert_eq!(net.one(CORE).bytes, relayed.bytes);
    net.quiet();
    // Timer G resends it too (T1 after it went).
    net.advance(T1);
    assert_eq!(net.one(CORE).bytes, relayed.bytes, "Timer G");
    net.quiet();

    // The caller's ACK is the edge's (hop by hop): absorbed, and so are its
    // retransmissions and the INVITE's (Confirmed).
    let ack_in = call.in_dialog(&relayed).request("ACK", "sip:bob@example.com", "z9hG4bKl2", 1, &[]);
    net.send(CORE, &ack_in);
    net.send(CORE, &ack_in);
    net.send(CORE, &invite);
    net.advance(2 * T1);
    net.quiet();
    assert_eq!(net.edges[0].transactions(), 1);
    // Bob's 486 once more: still ACKed (Timer D runs while the transaction does).
    net.send(BOB_1, &busy);
    assert_eq!(net.one(BOB_1).bytes, ack.bytes);
    net.quiet();

    // Timer I (T4) ends the transaction, its client side with it.
    net.advance(10 * T1);
    let e = &net.edges[0];
    assert_eq!((e.transactions(), e.timers_pending()), (0, 0));
    net.send(BOB_1, &busy);
    net.quiet();
    assert_eq!(no_match(&net), 1, "no transaction left for it: dropped, not relayed");
}

#[test]
fn a_retransmitted_2xx_is_relayed_again_through_the_transaction_and_invite_retransmissions_are_absorbed() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    let (_, _, inv, ok) = answered(&mut net, "l3");
    let two_hundred = inv.reply(200, "b", &[("Contact", &format!("<{CONTACT}>"))]);
    // The 2xx again (Bob missed the ACK): relayed as the first one was,
    // NAT alias and all, once per copy.
    for _ in 0..2 {
        net.send(BOB_1, &two_hundred);
        assert_eq!(net.one(CORE).bytes, ok.bytes);
        net.quiet();
    }
    // The INVITE again (Accepted): absorbed; a CANCEL now: 200, nothing else.
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "l3");
    net.send(CORE, &call.invite("z9hG4bKl3"));
    net.quiet();
    net.send(CORE, &call.cancel("z9hG4bKl3"));
    assert_eq!(net.one(CORE).status(), 200);
    net.quiet();
    assert_eq!((net.counters().proxy.branches, net.counters().proxy.cancels_sent), (1, 0));

    // Timer L ends it (Timer C of its branch, 180 s away, leaves nothing behind).
    net.advance(64 * T1);
    let e = &net.edges[0];
    assert_eq!((e.transactions(), e.timers_pending()), (0, 0));
    assert_eq!((e.proxy.wheel.next_due(), e.proxy.lingering.next_due()), (None, None), "no timer left");
    // A 2xx after that is relayed without a transaction (by its Via).
    net.send(BOB_1, &two_hundred);
    let late = net.one(CORE);
    assert_eq!(late.status(), 200);
    assert_ne!(late.bytes, ok.bytes, "no transaction: no NAT alias");
    net.quiet();
}

#[test]
fn topology_hiding_puts_the_cores_vias_back_on_a_2xx_relayed_while_the_transaction_lingers() {
    let mut net = Net::new(hiding_config());
    let (_, inv) = core_invites_bob_through_hiding(&mut net, "l4");
    let two_hundred = inv.reply(200, "bob1", &[("Contact", "<sip:bob@192.168.1.10:5062>")]);
    net.send(BOB_1, &two_hundred);
    assert_eq!(net.one(PBX).values(H::Via), PBX_VIAS);
    assert_eq!(lingering(&net), (0, 1), "lingering, the core's request kept in it");
    net.send(BOB_1, &two_hundred);
    let again = net.one(PBX);
    assert_eq!(again.status(), 200);
    assert_eq!(again.values(H::Via), PBX_VIAS, "the core's Vias, from the request packed with it");
    assert_eq!(again.values(H::RecordRoute), [PBX_RR]);
    assert!(!again.text().contains("192.168.1.10"), "{}", again.text());
    net.quiet();
}

#[test]
fn a_cancelled_call_lingers_with_its_cancel_and_both_keys_find_it() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "l5");
    net.send(CORE, &call.invite("z9hG4bKl5"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(180, "b", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    net.send(CORE, &call.cancel("z9hG4bKl5"));
    assert_eq!(net.one(CORE).status(), 200);
    let cancel = net.one(BOB_1);
    let cancel_ok = cancel.reply(200, "b", &[]);
    net.send(BOB_1, &cancel_ok);
    let terminated = inv.reply(487, "b", &[]);
    net.send(BOB_1, &terminated);
    let ack = net.one(BOB_1);
    assert_eq!(net.one(CORE).status(), 487);
    assert_eq!(lingering(&net), (0, 1));
    // Both the CANCEL's 200 and the 487 again: absorbed, and ACKed again.
    net.send(BOB_1, &cancel_ok);
    net.quiet();
    net.send(BOB_1, &terminated);
    assert_eq!(net.one(BOB_1).bytes, ack.bytes);
    net.quiet();
    assert_eq!(no_match(&net), 0);
}
