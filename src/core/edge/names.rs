//! Branches to names (RFC 3263 §4.3): a target given by name is resolved
//! when its branch would start. Known addresses expand into targets tried
//! in order, each a new branch when the one before answers 503, times out
//! or cannot be written to; the failover state is the transaction's own
//! (`Tx::pending`), never the cache's. An unknown name parks the
//! transaction among the name's waiters (`core::resolve::Names`) while one
//! `Ask::Resolve` goes out; the answer resumes every waiter. A name that
//! fails, and has nothing stale to offer, fails its target: the next one
//! is tried, or the request gets its final answer (503, or 404 for a name
//! that does not exist). CANCEL and ACK follow their branch's address.

use super::step::Ctx;
use super::waiting::Parked;
use super::{Edge, Output};
use crate::core::ask::Ask;
use crate::core::proxy::route::NextHop;
use crate::core::proxy::state::{ProxyState, Target, Tx};
use crate::core::proxy::table::Id;
use crate::core::resolve::{Dest, Failure, Lookup, Resolved};
use crate::sip::{HeaderName, Message};
use std::net::SocketAddr;
use std::sync::Arc;

impl Edge {
    /// Sends the lookups the last step needed (one per name, merged).
    pub(super) fn ask_names(&mut self, out: &mut Vec<Output>) {
        for dest in self.proxy.names.take_asks() {
            let wait = self.proxy.cfg.dns_wait_ms;
            let token = self.waiting.park(Parked::Resolve(dest.clone()), self.now_ms, self.now_ms + wait);
            out.push(Output::Ask { token, ask: Ask::Resolve(dest) });
        }
    }

    /// The resolver's answer for `dest` (a failure when it could not be
    /// reached or took too long): every transaction waiting goes on.
    pub(super) fn on_resolved(&mut self, dest: &Dest, result: Result<Resolved, Failure>, out: &mut Vec<Output>) {
        let waiters = self.proxy.names.answered(self.now_ms, dest, result);
        for id in waiters {
            self.step(id, out, |p, cx, tx| p.resume_named(cx, id, tx));
        }
    }
}

impl ProxyState {
    /// Starts a branch to `template`'s name `dest`, or waits for it.
    pub(super) fn start_named(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, template: Target, dest: Dest) {
        match self.names.lookup(cx.now_ms, &dest, id) {
            Lookup::Targets(list) => {
                // Over TLS the certificate must carry the name resolved
                // (RFC 5922 §4), not the address it gave.
                let host: Arc<str> = dest.host.as_str().into();
                let mut expanded = list.into_iter().map(|(transport, addr)| Target {
                    hop: NextHop { transport, addr, flow: None },
                    inside: template.inside || self.cfg.trusts(addr.ip()),
                    resolved: true,
                    tls_name: template.tls_name.clone().or_else(|| Some(host.clone())),
                    ..template.clone()
                });
                let Some(first) = expanded.next() else {
                    return self.name_failed(cx, id, tx, Failure::NotFound { ttl_ms: 0 });
                };
                let rest: Vec<Target> = expanded.collect();
                for t in rest.into_iter().rev() {
                    tx.pending.push_front(t);
                }
                self.start_branch(cx, id, tx, first)
            }
            Lookup::Wait => tx.pending.push_front(Target { name: Some(Box::new(dest)), ..template }),
            Lookup::Failed(f) => self.name_failed(cx, id, tx, f),
        }
    }

    /// The name a transaction waited for is answered: its target starts
    /// again (now known, or failed), unless the request was answered meanwhile.
    fn resume_named(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx) {
        if tx.server.is_final() {
            return;
        }
        if tx.cancelled {
            return self.answer_locally(cx, id, tx, 487, "Request Terminated");
        }
        if let Some(next) = tx.pending.pop_front() {
            self.start_branch(cx, id, tx, next);
        }
    }

    /// A target's name gave no address: the next target, or the final answer.
    fn name_failed(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, failure: Failure) {
        cx.counters.proxy.dns_failed_targets += 1;
        if let Some(next) = tx.pending.pop_front() {
            cx.counters.proxy.failovers += 1;
            return self.start_branch(cx, id, tx, next);
        }
        if tx.best.is_none() && tx.branches.iter().all(|b| b.final_code.is_some()) {
            let (code, reason) = failure.answer();
            return self.answer_locally(cx, id, tx, code, reason);
        }
        self.finish_if_settled(cx, id, tx);
    }

    /// A resolved target at `addr` failed: 503 (`msg`'s Retry-After, if
    /// any, says for how long) or no answer at all (None: timeout, transport
    /// error). It goes to the back of every other request's order for a while.
    pub(super) fn blocklist_failed(
        &mut self,
        cx: &mut Ctx<'_>,
        addr: SocketAddr,
        code: u16,
        msg: Option<&Message<'_>>,
    ) {
        let retry_after = msg.and_then(|m| m.header(HeaderName::RetryAfter)).and_then(retry_after_secs);
        let reason = match (code, msg) {
            (_, None) => 0,
            (503, Some(_)) => 1,
            _ => return,
        };
        cx.counters.proxy.dns_failovers[reason] += 1;
        self.names.block(cx.now_ms, addr, retry_after.map(|s| s * 1000));
    }
}

/// The delta-seconds of a Retry-After value (`120 (maintenance);duration=60`).
fn retry_after_secs(v: &[u8]) -> Option<u64> {
    let digits: Vec<u8> =
        v.iter().copied().skip_while(u8::is_ascii_whitespace).take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_after_values() {
        assert_eq!(super::retry_after_secs(b" 120 (maintenance);duration=60"), Some(120));
        assert_eq!(super::retry_after_secs(b"x"), None);
    }
}
