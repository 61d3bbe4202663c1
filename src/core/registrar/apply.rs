//! Applying a `RegisterOp` to the location table, on the shard that owns
//! the address-of-record (RFC 3261 §10.3 steps 6–8). Validation first,
//! changes after: a refused request leaves every binding as it was.
//!
//! A request from the same Call-ID with a lower CSeq than a stored binding
//! is refused with 500 (the registrar's state is newer than the request).
//! An equal CSeq is a retransmission of a request already applied: it is
//! answered with the current bindings and changes nothing (a stateful
//! transaction layer absorbs these once it exists).

use super::{BindingView, ContactChange, RegisterOp, RegistrarConfig, Reject};
use crate::core::location::{Binding, ContactKey, Location, NewBinding};

pub fn apply(loc: &mut Location, op: &RegisterOp, cfg: &RegistrarConfig) -> Result<Vec<BindingView>, Reject> {
    let existing = loc.get(&op.aor);
    // One pass over (contact, binding) pairs: which stored bindings the
    // request names (touched), which of those it removes, and how many
    // contacts are new (RFC 3261 §10.3 step 7, RFC 5626 instance + reg-id).
    let mut touched = vec![op.wildcard; existing.len()];
    let mut removed = vec![false; existing.len()];
    let mut added = 0;
    for c in &op.contacts {
        let nb = new_binding(op, c, &[]);
        let key = ContactKey::of(nb.contact);
        let mut named = false;
        for (i, b) in existing.iter().enumerate() {
            if b.is_replaced_by(&nb, key) {
                named = true;
                touched[i] = true;
                removed[i] |= c.expires == 0;
            }
        }
        added += usize::from(c.expires > 0 && !named);
    }
    let mut retransmission = false;
    for (b, _) in existing.iter().zip(&touched).filter(|(_, t)| **t) {
        if b.call_id() == op.call_id.as_slice() {
            if op.cseq < b.cseq() {
                return Err(Reject::new(500, "Out of order CSeq"));
            }
            retransmission |= op.cseq == b.cseq();
        }
    }
    if retransmission {
        return Ok(snapshot(loc, op));
    }
    if op.wildcard {
        loc.remove_all(&op.aor);
        return Ok(snapshot(loc, op));
    }
    // Only removals that name a stored binding make room.
    let total = (existing.len() + added).saturating_sub(removed.iter().filter(|r| **r).count());
    let mut evict: Vec<Vec<u8>> = Vec::new();
    let max = op.max_contacts as usize;
    if total > max {
        if !cfg.replace_oldest {
            return Err(Reject::new(403, "Too many registered contacts"));
        }
        let mut others: Vec<&Binding> = existing.iter().zip(&touched).filter(|(_, t)| !**t).map(|(b, _)| b).collect();
        others.sort_by_key(|b| b.updated());
        evict = others.iter().take(total - max).map(|b| b.contact().to_vec()).collect();
    }
    for contact in &evict {
        loc.remove(&op.aor, contact);
    }
    let path: Vec<&[u8]> = op.path.iter().map(Vec::as_slice).collect();
    for c in &op.contacts {
        if c.expires == 0 {
            // The binding a removal names is found as an update finds it:
            // by instance + reg-id when both are given (RFC 5626 §6).
            match (&c.instance, c.reg_id) {
                (Some(instance), Some(reg_id)) => loc.remove_instance(&op.aor, instance, reg_id),
                _ => loc.remove(&op.aor, &c.uri),
            };
        } else if loc.upsert(&op.aor, new_binding(op, c, &path)).is_err() {
            return Err(Reject::new(400, "Contact too large"));
        }
    }
    Ok(snapshot(loc, op))
}

fn new_binding<'a>(op: &'a RegisterOp, c: &'a ContactChange, path: &'a [&'a [u8]]) -> NewBinding<'a> {
    NewBinding {
        contact: &c.uri,
        q: c.q,
        expires_at: op.now + c.expires as u64,
        call_id: &op.call_id,
        cseq: op.cseq,
        source: op.source,
        transport: op.transport,
        flow: op.flow,
        path,
        instance: c.instance.as_deref(),
        reg_id: c.reg_id,
        user_agent: op.user_agent.as_deref(),
        updated: op.now,
    }
}

/// The AOR's bindings as the 200 lists them (expired ones left out even
/// if the wheel has not reached them yet).
pub fn snapshot(loc: &Location, op: &RegisterOp) -> Vec<BindingView> {
    loc.get(&op.aor)
        .iter()
        .filter(|b| b.expires_at() > op.now)
        .map(|b| BindingView { contact: b.contact().to_vec(), expires_at: b.expires_at(), q: b.q() })
        .collect()
}
