//! Location table and binding tests.

use super::*;

const AOR: &[u8] = b"sip:+4915112345678@example.com";
const CONTACT: &[u8] = b"sip:+4915112345678@198.51.100.7:49152;transport=udp;ob";
const CALL_ID: &[u8] = b"a84b4c76e66710a84b4c76e66710abcd";
const UA: &[u8] = b"Linphone/5.2.5 (Android 13)";

fn nb(contact: &[u8], expires_at: u64) -> NewBinding<'_> {
    NewBinding {
        contact,
        q: 1000,
        expires_at,
        call_id: CALL_ID,
        cseq: 1,
        source: "198.51.100.7:49152".parse().unwrap(),
        transport: Transport::Udp,
        flow: None,
        path: &[],
        instance: None,
        reg_id: None,
        user_agent: Some(UA),
        updated: 1000,
    }
}

#[test]
fn layout_stays_small() {
    assert!(std::mem::size_of::<Binding>() <= 72, "{}", std::mem::size_of::<Binding>());
    assert!(std::mem::size_of::<Bindings>() <= 72, "{}", std::mem::size_of::<Bindings>());
}

#[test]
fn upsert_new_then_refresh_keeps_one_binding() {
    let mut loc = Location::new(1000);
    assert_eq!(loc.upsert(AOR, nb(CONTACT, 4600)), Ok(Upserted::Added));
    let got = loc.get(AOR);
    assert_eq!(got.len(), 1);
    let b = &got[0];
    assert_eq!(b.aor(), AOR);
    assert_eq!(b.contact(), CONTACT);
    assert_eq!(b.call_id(), CALL_ID);
    assert_eq!(b.q(), 1000);
    assert_eq!(b.expires_at(), 4600);
    assert_eq!(b.source(), "198.51.100.7:49152".parse::<SocketAddr>().unwrap());
    assert_eq!(b.transport(), Transport::Udp);
    assert_eq!(b.flow(), None);
    assert_eq!(b.path().count(), 0);
    assert_eq!(b.instance(), None);
    assert_eq!(b.reg_id(), None);
    assert_eq!(b.user_agent(), Some(UA));
    assert_eq!(b.updated(), 1000);

    // Refresh: same contact, differently cased scheme and host.
    let mut r = nb(b"SIP:+4915112345678@198.51.100.7:49152;transport=udp;ob", 5000);
    r.cseq = 2;
    r.updated = 1400;
    assert_eq!(loc.upsert(AOR, r), Ok(Upserted::Updated));
    let b = &loc.get(AOR)[0];
    assert_eq!((b.cseq(), b.expires_at(), b.updated()), (2, 5000, 1400));
    assert_eq!((loc.aors(), loc.bindings()), (1, 1));
    assert_eq!(loc.user_agents(), 1);

    // Same contact from a new (IPv6) source: the string block is rebuilt.
    let mut r6 = nb(CONTACT, 5000);
    r6.source = "[2001:db8::1]:5060".parse().unwrap();
    assert_eq!(loc.upsert(AOR, r6), Ok(Upserted::Updated));
    let b = &loc.get(AOR)[0];
    assert_eq!((b.aor(), b.contact(), b.call_id()), (AOR, CONTACT, CALL_ID));
    assert_eq!(b.source(), "[2001:db8::1]:5060".parse::<SocketAddr>().unwrap());
    let mut r4 = nb(CONTACT, 5000);
    r4.source = "192.0.2.44:5070".parse().unwrap();
    loc.upsert(AOR, r4).unwrap();
    assert_eq!(loc.get(AOR)[0].source(), "192.0.2.44:5070".parse::<SocketAddr>().unwrap());
    assert_eq!(loc.get(AOR)[0].contact(), CONTACT);

    // A different user part is a different contact.
    assert_eq!(
        loc.upsert(AOR, nb(b"sip:+4915112345679@198.51.100.7:49152;transport=udp;ob", 5000)),
        Ok(Upserted::Added)
    );
    assert_eq!((loc.aors(), loc.bindings()), (1, 2));
}

#[test]
fn replace_by_instance_and_reg_id() {
    let mut loc = Location::new(0);
    let inst: &[u8] = b"\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
    let mut a = nb(b"sip:alice@192.0.2.1:5060;transport=tcp", 3600);
    a.instance = Some(inst);
    a.reg_id = Some(1);
    a.transport = Transport::Tcp;
    a.flow = Some(FlowId { shard: 3, conn: 77 });
    let path: [&[u8]; 2] = [b"<sip:edge1.example.com;lr;ob>", b"<sip:p2.example.com;lr>"];
    a.path = &path;
    assert_eq!(loc.upsert(b"sip:alice@example.com", a), Ok(Upserted::Added));
    // Same instance, other reg-id: a second flow of the same device.
    let mut b2 = a;
    b2.contact = b"sip:alice@192.0.2.1:5062;transport=tcp";
    b2.reg_id = Some(2);
    assert_eq!(loc.upsert(b"sip:alice@example.com", b2), Ok(Upserted::Added));
    // New contact address (NAT rebinding), same instance + reg-id 1: replaces.
    let mut a2 = a;
    a2.contact = b"sip:alice@203.0.113.9:41000;transport=tcp";
    a2.flow = Some(FlowId { shard: 3, conn: 99 });
    a2.path = &[];
    assert_eq!(loc.upsert(b"sip:alice@example.com", a2), Ok(Upserted::Updated));
    let got = loc.get(b"sip:alice@example.com");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].contact(), b"sip:alice@203.0.113.9:41000;transport=tcp");
    assert_eq!(got[0].flow(), Some(FlowId { shard: 3, conn: 99 }));
    assert_eq!(got[0].path().count(), 0);
    assert_eq!(got[0].instance(), Some(inst));
    assert_eq!(got[1].reg_id(), Some(2));
    assert_eq!(got[1].path().collect::<Vec<_>>(), path.to_vec());
    assert_eq!(loc.bindings(), 2);
    assert!(!loc.remove_instance(b"sip:alice@example.com", inst, 3));
    assert!(loc.remove_instance(b"sip:alice@example.com", inst, 1));
    assert_eq!(loc.get(b"sip:alice@example.com")[0].reg_id(), Some(2));
    assert_eq!(loc.bindings(), 1);
}

#[test]
fn remove_and_remove_all() {
    let mut loc = Location::new(0);
    loc.upsert(AOR, nb(b"sip:a@192.0.2.1", 100)).unwrap();
    loc.upsert(AOR, nb(b"sip:b@192.0.2.1", 100)).unwrap();
    loc.upsert(AOR, nb(b"sip:c@192.0.2.1", 100)).unwrap();
    loc.upsert(b"sip:other@example.com", nb(b"sip:o@192.0.2.1", 100)).unwrap();
    assert_eq!((loc.aors(), loc.bindings()), (2, 4));
    assert!(loc.remove(AOR, b"sip:b@192.0.2.1"));
    assert!(!loc.remove(AOR, b"sip:b@192.0.2.1"));
    assert!(!loc.remove(b"sip:nobody@example.com", b"sip:b@192.0.2.1"));
    assert!(!loc.remove(AOR, b"sip:A@192.0.2.1"), "user part is case-sensitive");
    assert!(loc.remove(AOR, b"sip:a@192.0.2.1"));
    assert_eq!(loc.get(AOR).len(), 1);
    assert_eq!((loc.aors(), loc.bindings()), (2, 2));
    assert_eq!(loc.remove_all(AOR), 1);
    assert_eq!(loc.remove_all(AOR), 0);
    assert!(loc.get(AOR).is_empty());
    assert_eq!((loc.aors(), loc.bindings()), (1, 1));
    // A removed AOR's stale timers do no harm, also once its slot is reused.
    loc.upsert(b"sip:new@example.com", nb(b"sip:n@192.0.2.1", 500)).unwrap();
    assert_eq!(loc.expire(100), 1); // sip:other only
    assert_eq!(loc.get(b"sip:new@example.com").len(), 1);
    assert_eq!(loc.expire(499), 0);
    assert_eq!(loc.expire(500), 1);
    assert_eq!((loc.aors(), loc.bindings(), loc.timers()), (0, 0, 0));
}

#[test]
fn expiry_fires_within_the_second_through_the_wheel() {
    let mut loc = Location::new(1_700_000_000);
    let t0 = 1_700_000_000u64;
    for k in 0..300u64 {
        let aor = format!("sip:+49151{k:08}@example.com");
        let contact = format!("sip:+49151{k:08}@198.51.100.7:{}", 1024 + k);
        loc.upsert(aor.as_bytes(), nb(contact.as_bytes(), t0 + 1 + k * 37 % 5000)).unwrap();
    }
    assert_eq!(loc.bindings(), 300);
    let mut seen = 0;
    for now in t0..=t0 + 5100 {
        let gone = loc.expire(now);
        // Exactly those with expires_at == now go at `now`.
        let due = (0..300u64).filter(|k| t0 + 1 + k * 37 % 5000 == now).count();
        assert_eq!(gone, due, "now={now}");
        seen += gone;
    }
    assert_eq!(seen, 300);
    assert_eq!((loc.aors(), loc.bindings(), loc.timers()), (0, 0, 0));
}

#[test]
fn refresh_is_lazily_cancelled_and_shorter_refresh_wins() {
    let mut loc = Location::new(0);
    loc.upsert(AOR, nb(CONTACT, 100)).unwrap();
    loc.upsert(AOR, nb(CONTACT, 200)).unwrap(); // refresh: later
    assert_eq!(loc.timers(), 2);
    assert_eq!(loc.expire(150), 0); // old entry fired, binding still due later
    assert_eq!(loc.get(AOR)[0].expires_at(), 200);
    loc.upsert(AOR, nb(CONTACT, 160)).unwrap(); // refresh: sooner
    assert_eq!(loc.expire(159), 0);
    assert_eq!(loc.expire(160), 1);
    assert_eq!(loc.expire(300), 0); // the 200 entry is stale now
    assert_eq!(loc.timers(), 0);
    // Already expired at insertion: goes on the next expire.
    loc.upsert(AOR, nb(CONTACT, 250)).unwrap();
    assert_eq!(loc.expire(300), 1);
}

#[test]
fn drained_table_gives_memory_back_and_stale_timers_stay_harmless() {
    let mut loc = Location::new(0);
    for k in 0..2000u64 {
        loc.upsert(format!("sip:u{k}@e").as_bytes(), nb(b"sip:x@192.0.2.1", 100 + k % 3)).unwrap();
    }
    for k in 0..2000u64 {
        assert_eq!(loc.remove_all(format!("sip:u{k}@e").as_bytes()), 1);
    }
    assert_eq!(loc.slots.capacity(), 0);
    assert_eq!(loc.timers(), 2000);
    loc.upsert(b"sip:late@e", nb(b"sip:x@192.0.2.1", 500)).unwrap();
    assert_eq!(loc.expire(102), 0, "stale entries of slot 0 fire on the new AOR, which is not due");
    assert_eq!(loc.get(b"sip:late@e").len(), 1);
    assert_eq!(loc.expire(500), 1);
    assert_eq!(loc.timers(), 0);
}

#[test]
fn long_gap_expires_everything_due() {
    let mut loc = Location::new(0);
    for k in 0..50u64 {
        let aor = format!("sip:u{k}@example.com");
        loc.upsert(aor.as_bytes(), nb(b"sip:x@192.0.2.1", 10 + k * 1000)).unwrap();
    }
    assert_eq!(loc.expire(30_000), 30); // gap of several revolutions
    assert_eq!(loc.bindings(), 20);
    assert_eq!(loc.expire(100_000), 20);
}

#[test]
fn multi_contact_aor_expires_each_binding_on_time() {
    let mut loc = Location::new(0);
    loc.upsert(AOR, nb(b"sip:a@192.0.2.1", 10)).unwrap();
    loc.upsert(AOR, nb(b"sip:b@192.0.2.1", 20)).unwrap();
    loc.upsert(AOR, nb(b"sip:c@192.0.2.1", 30)).unwrap();
    assert_eq!(loc.expire(10), 1);
    assert_eq!(
        loc.get(AOR).iter().map(|b| b.contact()).collect::<Vec<_>>(),
        [&b"sip:b@192.0.2.1"[..], b"sip:c@192.0.2.1"]
    );
    assert_eq!(loc.expire(29), 1);
    assert_eq!(loc.expire(30), 1);
    assert_eq!((loc.aors(), loc.bindings()), (0, 0));
}

#[test]
fn uri_comparison() {
    assert!(uri_eq(b"sip:alice@Example.COM;transport=udp", b"SIP:alice@example.com;transport=udp"));
    assert!(!uri_eq(b"sip:Alice@example.com", b"sip:alice@example.com"));
    assert!(!uri_eq(b"sip:alice@example.com;transport=UDP", b"sip:alice@example.com;transport=udp"));
    assert!(uri_eq(b"sip:[2001:DB8::1]:5060", b"sip:[2001:db8::1]:5060"));
    assert!(uri_eq(b"sips:EXAMPLE.com?subject=A@B", b"sips:example.com?subject=A@B"));
    assert!(!uri_eq(b"sips:example.com?subject=A@B", b"sips:example.com?subject=a@b"));
    assert!(!uri_eq(b"sip:a@b:5060", b"sip:a@b:5061"));
    assert!(uri_eq(b"opaque", b"opaque"));
}

#[test]
fn equal_contacts_have_equal_keys_and_refresh_one_binding() {
    let same: [(&[u8], &[u8]); 4] = [
        (b"sip:alice@Example.COM;transport=udp", b"SIP:alice@example.com;transport=udp"),
        (b"sip:[2001:DB8::1]:5060", b"sip:[2001:db8::1]:5060"),
        (b"sips:EXAMPLE.com?subject=A@B", b"sips:example.com?subject=A@B"),
        (b"opaque", b"opaque"),
    ];
    for (a, b) in same {
        assert!(uri_eq(a, b));
        assert_eq!(ContactKey::of(a), ContactKey::of(b), "{}", String::from_utf8_lossy(a));
    }
    // What the key is for: bindings that differ only in port or user case.
    assert_ne!(ContactKey::of(b"sip:a@b:5060"), ContactKey::of(b"sip:a@b:5061"));
    assert_ne!(ContactKey::of(b"sip:Alice@b"), ContactKey::of(b"sip:alice@b"));
    let mut loc = Location::new(0);
    assert_eq!(loc.upsert(AOR, nb(b"sip:alice@Example.COM:5060", 10)), Ok(Upserted::Added));
    assert_eq!(loc.upsert(AOR, nb(b"sip:alice@example.com:5060", 20)), Ok(Upserted::Updated));
    assert_eq!(loc.upsert(AOR, nb(b"sip:alice@example.com:5061", 20)), Ok(Upserted::Added));
    assert_eq!(loc.bindings(), 2);
    assert_eq!(loc.get(AOR)[0].contact_key(), ContactKey::of(b"sip:alice@EXAMPLE.com:5060"));
}

#[test]
fn update_time_is_kept_in_seconds_until_2106() {
    let mut b = nb(CONTACT, 10);
    b.updated = 4_102_444_800; // 2100-01-01
    assert_eq!(Binding::from_new(AOR, &b).unwrap().updated(), 4_102_444_800);
    b.updated = u64::MAX;
    assert_eq!(Binding::from_new(AOR, &b).unwrap().updated(), u64::from(u32::MAX));
}

#[test]
fn too_large_is_refused_without_side_effects() {
    let mut loc = Location::new(0);
    let big = vec![b'x'; 70_000];
    assert_eq!(loc.upsert(AOR, nb(&big, 10)), Err(TooLarge));
    let path: [&[u8]; 1] = [&big];
    let mut b = nb(CONTACT, 10);
    b.path = &path;
    assert_eq!(loc.upsert(AOR, b), Err(TooLarge));
    assert_eq!((loc.aors(), loc.bindings(), loc.timers()), (0, 0, 0));
}

#[test]
fn user_agents_are_interned_and_swept() {
    let mut loc = Location::new(0);
    for k in 0..3000u64 {
        let aor = format!("sip:u{k}@example.com");
        let ua = format!("UA/{}", k % 3);
        let mut b = nb(b"sip:x@192.0.2.1", 10);
        b.user_agent = Some(ua.as_bytes());
        loc.upsert(aor.as_bytes(), b).unwrap();
    }
    assert_eq!(loc.user_agents(), 3);
    let a = &loc.get(b"sip:u0@example.com")[0];
    let b = &loc.get(b"sip:u3@example.com")[0];
    assert!(Arc::ptr_eq(a.user_agent.as_ref().unwrap(), b.user_agent.as_ref().unwrap()));
    assert_eq!(loc.expire(10), 3000);
    for k in 0..2000u64 {
        let aor = format!("sip:v{k}@example.com");
        let ua = format!("Other/{k}");
        let mut b = nb(b"sip:x@192.0.2.1", 20);
        b.user_agent = Some(ua.as_bytes());
        loc.upsert(aor.as_bytes(), b).unwrap();
    }
    assert!(loc.user_agents() <= 2000 + 3 && loc.user_agents() >= 2000);
    assert_eq!(loc.expire(20), 2000);
    for k in 0..1100u64 {
        let ua = format!("Third/{k}");
        let mut b = nb(b"sip:x@192.0.2.1", 30);
        b.user_agent = Some(ua.as_bytes());
        loc.upsert(format!("sip:w{k}@e").as_bytes(), b).unwrap();
    }
    assert!(loc.user_agents() < 2000, "unused ones were swept: {}", loc.user_agents());
}

#[test]
fn serde_round_trip() {
    let inst: &[u8] = b"\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";
    let path: [&[u8]; 2] = [b"<sip:edge1.example.com;lr;ob>", &[0xff, 0x00, b'x']];
    let b = NewBinding {
        contact: CONTACT,
        q: 500,
        expires_at: 4600,
        call_id: CALL_ID,
        cseq: 42,
        source: "[2001:db8::7]:5061".parse().unwrap(),
        transport: Transport::Tcp,
        flow: Some(FlowId { shard: 5, conn: 123_456 }),
        path: &path,
        instance: Some(inst),
        reg_id: Some(1),
        user_agent: Some(UA),
        updated: 1000,
    };
    let mut loc = Location::new(0);
    loc.upsert(AOR, b).unwrap();
    let original = loc.get(AOR)[0].clone();
    let json = serde_json::to_string(&original).unwrap();
    assert!(json.contains("\"contact\":\"sip:+4915112345678@198.51.100.7:49152;transport=udp;ob\""), "{json}");
    assert!(json.contains("\"transport\":\"tcp\""), "{json}");
    let back: Binding = serde_json::from_str(&json).unwrap();
    assert_eq!(back, original);
    assert_eq!(format!("{back:?}"), format!("{original:?}"));
    // And into another table, where the user agent is interned again.
    let mut other = Location::new(0);
    assert_eq!(other.upsert_binding(AOR, &back), Ok(Upserted::Added));
    assert_eq!(other.get(AOR)[0], original);
    // IPv4, no options.
    loc.upsert(b"sip:b@example.com", nb(CONTACT, 10)).unwrap();
    let v4 = loc.get(b"sip:b@example.com")[0].clone();
    let back: Binding = serde_json::from_str(&serde_json::to_string(&v4).unwrap()).unwrap();
    assert_eq!(back, v4);
    assert!(serde_json::from_str::<Binding>(&json.replace("\"tcp\"", "\"carrier-pigeon\"")).is_err());
}

#[test]
fn aors_sharing_a_32_bit_hash_stay_apart() {
    let mut loc = Location::new(0);
    // Birthday search for two AORs whose index hash collides (~80k tries).
    let mut seen = HashMap::new();
    let (a, b) = (0u64..5_000_000)
        .find_map(|k| {
            let aor = format!("sip:{k}@e");
            seen.insert(loc.hash32(aor.as_bytes()), aor.clone()).map(|other| (other, aor))
        })
        .expect("a 32-bit collision");
    let (a, b) = (a.as_bytes(), b.as_bytes());
    loc.upsert(a, nb(b"sip:a@192.0.2.1", 10)).unwrap();
    loc.upsert(b, nb(b"sip:b@192.0.2.1", 20)).unwrap();
    assert_eq!(loc.overflow.len(), 1);
    assert_eq!(loc.get(a)[0].contact(), b"sip:a@192.0.2.1");
    assert_eq!(loc.get(b)[0].contact(), b"sip:b@192.0.2.1");
    assert_eq!(loc.remove_all(a), 1); // the indexed one goes, the overflowed stays
    assert!(loc.get(a).is_empty());
    assert_eq!(loc.get(b)[0].contact(), b"sip:b@192.0.2.1");
    loc.upsert(a, nb(b"sip:a2@192.0.2.1", 30)).unwrap(); // back into the index
    assert_eq!(loc.get(a)[0].contact(), b"sip:a2@192.0.2.1");
    assert_eq!(loc.upsert(b, nb(b"sip:b@192.0.2.1", 40)), Ok(Upserted::Updated));
    assert_eq!(loc.expire(20), 0);
    assert_eq!(loc.expire(30), 1);
    assert_eq!(loc.get(b)[0].expires_at(), 40);
    assert_eq!(loc.expire(40), 1);
    assert_eq!((loc.aors(), loc.bindings()), (0, 0));
}

#[test]
fn matches_a_naive_model_under_random_operations() {
    // Deterministic LCG; a naive model of (aor -> [(contact, expires_at)]).
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let aors: Vec<String> = (0..20).map(|k| format!("sip:user{k}@example.com")).collect();
    let contacts: Vec<String> = (0..5).map(|k| format!("sip:c{k}@192.0.2.{k}:5060")).collect();
    let mut now = 1_000u64;
    let mut loc = Location::new(now);
    let mut model: HashMap<usize, Vec<(usize, u64)>> = HashMap::new();
    for step in 0..30_000 {
        let a = rnd(20) as usize;
        let c = rnd(5) as usize;
        match rnd(10) {
            0..=4 => {
                let at = now + rnd(60);
                let added = loc.upsert(aors[a].as_bytes(), nb(contacts[c].as_bytes(), at)).unwrap();
                let list = model.entry(a).or_default();
                match list.iter_mut().find(|(mc, _)| *mc == c) {
                    Some(e) => {
                        e.1 = at;
                        assert_eq!(added, Upserted::Updated);
                    }
                    None => {
                        list.push((c, at));
                        assert_eq!(added, Upserted::Added);
                    }
                }
            }
            5 => {
                let list = model.entry(a).or_default();
                let pos = list.iter().position(|(mc, _)| *mc == c);
                assert_eq!(loc.remove(aors[a].as_bytes(), contacts[c].as_bytes()), pos.is_some());
                if let Some(pos) = pos {
                    list.remove(pos);
                }
            }
            6 if rnd(10) == 0 => {
                let n = model.remove(&a).map_or(0, |l| l.len());
                assert_eq!(loc.remove_all(aors[a].as_bytes()), n);
            }
            _ => {
                now += if rnd(200) == 0 { 5_000 + rnd(5_000) } else { rnd(8) };
                let mut n = 0;
                for list in model.values_mut() {
                    let before = list.len();
                    list.retain(|&(_, at)| at > now);
                    n += before - list.len();
                }
                assert_eq!(loc.expire(now), n, "step {step}");
            }
        }
        model.retain(|_, l| !l.is_empty());
        for (k, aor) in aors.iter().enumerate() {
            let got: Vec<(&[u8], u64)> =
                loc.get(aor.as_bytes()).iter().map(|b| (b.contact(), b.expires_at())).collect();
            let want: Vec<(&[u8], u64)> =
                model.get(&k).map_or(vec![], |l| l.iter().map(|&(c, at)| (contacts[c].as_bytes(), at)).collect());
            assert_eq!(got, want, "step {step}, {aor}");
        }
        assert_eq!(loc.aors(), model.len());
        assert_eq!(loc.bindings(), model.values().map(Vec::len).sum::<usize>());
    }
}

#[test]
fn many_aors_stay_exact() {
    // 200k AORs: a few collisions of the 32-bit index expected.
    let mut loc = Location::new(0);
    let n = 200_000u64;
    for k in 0..n {
        let aor = format!("sip:{k}@e");
        loc.upsert(aor.as_bytes(), nb(b"sip:x@192.0.2.1", 10 + k % 7)).unwrap();
    }
    assert_eq!(loc.aors(), n as usize);
    for k in (0..n).step_by(997) {
        assert_eq!(loc.get(format!("sip:{k}@e").as_bytes()).len(), 1);
    }
    assert!(loc.get(b"sip:nobody@e").is_empty());
    for k in (0..n).filter(|k| k % 2 == 0) {
        assert_eq!(loc.remove_all(format!("sip:{k}@e").as_bytes()), 1);
    }
    for k in 0..n {
        assert_eq!(loc.get(format!("sip:{k}@e").as_bytes()).len(), (k % 2) as usize, "k={k}");
    }
    assert_eq!(loc.expire(20), (n / 2) as usize);
    assert_eq!((loc.aors(), loc.bindings()), (0, 0));
    assert!(loc.index.is_empty() && loc.overflow.is_empty());
}
