//! Calls one after another at a steady rate on the virtual clock (the
//! network of `proxy_tests`): what finished transactions leave behind. A
//! transaction's timers are one wheel entry at its earliest deadline
//! (`core::proxy::wake`), so the wheel never holds more entries than there
//! are transactions, and once the calls stop and the transactions have
//! lingered their 64·T1 both are empty, Timer C's 180 s included. And what
//! a lingering transaction costs in memory, all tables included.

use super::*;

const CONTACT: &str = "sip:bob@203.0.113.10:5062";

/// One whole call through the edge, answered at once: INVITE, 180, 200,
/// ACK, BYE, 200. Each message is checked to arrive where it should.
fn call(net: &mut Net, n: u32) {
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", &format!("steady-{n}"));
    net.send(CORE, &call.invite(&format!("z9hG4bKs{n}")));
    let inv = trying_then_forwarded(net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(180, "b", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    net.send(BOB_1, &inv.reply(200, "b", &[("Contact", &format!("<{CONTACT}>"))]));
    let ok = net.one(CORE);
    assert_eq!(ok.status(), 200);
    let target = parse_name_addr(ok.header(H::Contact).as_bytes()).unwrap().uri_raw.to_vec();
    let target = String::from_utf8(target).unwrap();
    let dialog = call.in_dialog(&ok);
    net.send(CORE, &dialog.request("ACK", &target, &format!("z9hG4bKs{n}a"), 1, &[("Route", EDGE_RR)]));
    assert_eq!(net.one(BOB_1).method(), "ACK");
    net.send(CORE, &dialog.request("BYE", &target, &format!("z9hG4bKs{n}b"), 2, &[("Route", EDGE_RR)]));
    let bye = net.one(BOB_1);
    net.send(BOB_1, &bye.reply(200, "b", &[]));
    assert_eq!(net.one(CORE).status(), 200);
    net.quiet();
}

#[test]
fn a_forwarded_invite_asks_for_a_wake_at_its_first_retransmission_rounded_up_to_a_slot() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    net.advance(5);
    assert_eq!(net.edges[0].take_wake(), None);
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "wake");
    net.send(CORE, &call.invite("z9hG4bKwake"));
    trying_then_forwarded(&mut net, CORE, BOB_1);
    // Timer A: T1 after the INVITE went out at +5 ms, rounded up to the 10 ms slot.
    let at = NOW * 1000 + 5 + T1;
    assert_eq!(net.edges[0].take_wake(), Some(at.next_multiple_of(10)));
    assert_eq!(net.edges[0].take_wake(), None, "asked once");
    assert_eq!(net.edges[0].next_deadline(), at.next_multiple_of(10));
    assert_eq!(net.edges[0].timers_pending(), 1, "one entry for the transaction, not one per timer");
    net.advance(T1 + 5);
    assert_eq!(net.one(BOB_1).method(), "INVITE", "retransmitted");
}

#[test]
fn completed_calls_leave_no_timer_behind_at_a_steady_rate() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    // 100 calls a second for 20 s; each transaction lingers 64·T1 = 3.2 s.
    let mut most = (0, 0);
    for n in 0..2_000 {
        call(&mut net, n);
        net.advance(10);
        let e = &net.edges[0];
        assert_eq!((e.proxy.txs.len(), e.proxy.wheel.len()), (0, 0), "call {n}: all linger, no live timer left");
        assert_eq!(e.timers_pending(), e.proxy.lingering.len(), "one entry a lingering transaction");
        assert!(
            e.timers_pending() <= e.transactions(),
            "call {n}: {} timers, {} transactions",
            e.timers_pending(),
            e.transactions()
        );
        most = (most.0.max(e.transactions()), most.1.max(e.timers_pending()));
    }
    // Two transactions a call (INVITE, BYE), each kept 3.2 s after its answer.
    assert!(most.0 <= 2 * 100 * 33, "transactions at most {}", most.0);
    assert!(most.1 >= 600, "the calls did linger: {most:?}");
    // Quiet: everything lingers out, and the wheel empties with it (Timer C
    // of every call was 180 s away when its call ended).
    net.advance(4_000);
    let e = &net.edges[0];
    assert_eq!((e.transactions(), e.timers_pending()), (0, 0));
    assert_eq!(e.proxy.servers.len() + e.proxy.clients.len() + e.proxy.lingering.keys(), 0, "no key left");
    net.quiet();
}

#[test]
fn a_completed_transaction_keeps_little_more_than_its_keys_state_and_final_answer() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    let before = crate::heap_probe::live();
    // No time passes: every transaction lingers (64·T1), completed.
    for n in 0..2_000 {
        call(&mut net, n);
    }
    let e = &net.edges[0];
    let txs = e.transactions();
    assert_eq!(txs, 4_000, "an INVITE and a BYE per call");
    let bytes = (crate::heap_probe::live() - before) as usize;
    // Packed records (the BYE's 200 in them, kept for its retransmissions,
    // RFC 3261 §17.2.2), their indexes, and the rest (wheel slots, tables).
    let (records, indexes) = (e.proxy.lingering.record_bytes(), e.proxy.lingering.index_bytes());
    eprintln!(
        "lingering transaction: {} bytes each: records {}, indexes {}, the rest {} ({} transactions, {} bytes)",
        bytes / txs,
        records / txs,
        indexes / txs,
        (bytes - records - indexes) / txs,
        txs,
        bytes
    );
    assert_eq!((e.proxy.txs.len(), e.proxy.lingering.len()), (0, 4_000), "all of them lingering");
    // Measured 289 (see `Tx`; 282 before the index entries kept 32 bits of
    // their hash); 1,257 before a quiet transaction was packed
    // into `lingering`, 2,382 before the branch's target was freed on
    // completion and the branches' `Vec` sized exactly.
    assert!(bytes / txs <= 300, "{} bytes per transaction", bytes / txs);
}

#[test]
fn a_cancelled_call_leaves_no_key_behind_when_its_transaction_ends_before_the_cancel() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, CONTACT);
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "cancelled");
    net.send(CORE, &call.invite("z9hG4bKcx"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(180, "b", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    net.send(CORE, &call.cancel("z9hG4bKcx"));
    assert_eq!(net.one(CORE).status(), 200, "the CANCEL answered");
    let cancel = net.one(BOB_1);
    assert_eq!(cancel.method(), "CANCEL");
    net.send(BOB_1, &cancel.reply(200, "b", &[]));
    net.send(BOB_1, &inv.reply(487, "b", &[]));
    assert_eq!(net.one(BOB_1).method(), "ACK");
    let terminated = net.one(CORE);
    assert_eq!(terminated.status(), 487);
    net.send(CORE, &call.in_dialog(&terminated).request("ACK", "sip:bob@example.com", "z9hG4bKcx", 1, &[]));
    net.quiet();
    // The INVITE's Timer I and the branch CANCEL's Timer K (both T4) end
    // together: the transaction goes first, and takes the CANCEL's key with it.
    net.advance(4_000);
    let e = &net.edges[0];
    assert_eq!((e.transactions(), e.timers_pending()), (0, 0));
    assert_eq!((e.proxy.servers.len(), e.proxy.clients.len(), e.proxy.lingering.keys()), (0, 0, 0), "no key left");
}
