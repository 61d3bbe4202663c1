//! A call to a user whose bindings another shard holds, when the answer
//! does not come as it should (on the virtual network of `proxy_tests`):
//! the owner cannot be reached (a full mesh queue: `Answer::Unreachable`,
//! 500 at once), never answers (500 after 5 s), or answers after the
//! caller's transaction ended (the parked lookup was cancelled with it, so
//! the late answer finds nothing).

use super::*;

/// A user of `DOMAIN` whose AOR shard 1 of 2 owns, registered at BOB_1.
fn user_on_shard_1(net: &mut Net) -> String {
    let user = (0..)
        .map(|i| format!("user{i}"))
        .find(|u| owner::shard_of(format!("sip:{u}@{DOMAIN}").as_bytes(), 2) == 1)
        .unwrap();
    net.register(&user, BOB_1, &format!("sip:{user}@203.0.113.10:40000"));
    net.mesh.clear();
    format!("sip:{user}@{DOMAIN}")
}

#[test]
fn a_lookup_whose_owner_cannot_be_reached_is_answered_500_at_once() {
    let mut net = Net::shards(config(), 2);
    let aor = user_on_shard_1(&mut net);
    net.asks = Asks::Unreachable;
    let call = Call::new(CORE, "sip:+15550001@example.com", &aor, "l1");
    net.send(CORE, &call.invite("z9hG4bKl1"));
    let answers = net.take(CORE);
    assert_eq!(answers.iter().map(Sent::status).collect::<Vec<_>>(), [100, 500]);
    assert_eq!(answers[1].text().lines().next(), Some("SIP/2.0 500 Location Lookup Failed"));
    assert_eq!(net.mesh, ["0->1 Ask Lookup"]);
    assert_eq!(net.counters().wire.drops.get(Drop::LocationLookupLost), 1);
    assert!(net.edges[0].waiting.is_empty());
    net.quiet();
}

#[test]
fn a_lookup_nobody_answers_is_answered_500_after_5s_and_the_late_answer_is_ignored() {
    let mut net = Net::shards(config(), 2);
    let aor = user_on_shard_1(&mut net);
    net.asks = Asks::Hold;
    let call = Call::new(CORE, "sip:+15550001@example.com", &aor, "l2");
    net.send(CORE, &call.invite("z9hG4bKl2"));
    assert_eq!(net.one(CORE).status(), 100);
    assert_eq!(net.edges[0].waiting.len(), 1);
    net.advance(4_990);
    net.quiet();
    net.advance(10);
    assert_eq!(net.one(CORE).text().lines().next(), Some("SIP/2.0 500 Location Lookup Failed"));
    assert_eq!(net.counters().wire.drops.get(Drop::LocationLookupLost), 1);
    assert!(net.edges[0].waiting.is_empty());
    // The owner answers at last: nothing is waiting for it any more.
    net.release();
    assert_eq!(net.mesh, ["0->1 Ask Lookup", "1->0 Answer Located"]);
    net.quiet();
}

#[test]
fn a_transaction_that_ends_while_its_lookup_waits_cancels_the_lookup() {
    let mut net = Net::shards(config(), 2);
    let aor = user_on_shard_1(&mut net);
    net.asks = Asks::Hold;
    let call = Call::new(CORE, "sip:+15550001@example.com", &aor, "l3");
    net.send(CORE, &call.invite("z9hG4bKl3"));
    assert_eq!(net.one(CORE).status(), 100);

    // CANCEL while the lookup waits: 200, and the INVITE ends as 487.
    net.send(CORE, &call.cancel("z9hG4bKl3"));
    let answers = net.take(CORE);
    assert_eq!(answers.iter().map(Sent::status).collect::<Vec<_>>(), [200, 487]);
    let ack = call.in_dialog(&answers[1]).request("ACK", &aor, "z9hG4bKl3", 1, &[]);
    net.send(CORE, &ack);
    assert_eq!(net.edges[0].waiting.len(), 1, "parked until the transaction ends");
    // Timer I (T4) ends the transaction, and its parked lookup with it.
    net.advance(10 * T1 + 10);
    assert_eq!(net.edges[0].transactions(), 0);
    assert!(net.edges[0].waiting.is_empty());
    // The owner's late answer finds nothing; nothing expires later either.
    net.release();
    net.advance(5_000);
    assert_eq!(net.counters().wire.drops.get(Drop::LocationLookupLost), 0);
    assert_eq!(net.counters().proxy.branches, 0);
    net.quiet();
}
