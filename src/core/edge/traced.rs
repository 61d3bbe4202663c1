//! The edge's side of the per-request trace (`core::trace`): responses the
//! edge sends for requests it answers itself, and a proxied transaction's
//! first final answer, become `Output::Trace` records when a rule matches.
//! With no rule the cost is one emptiness check per final answer. The
//! edge's own answers get their sender's profile header rules here too.

use super::step::Ctx;
use super::{send_response, Edge, Output};
use crate::core::proxy::state::Tx;
use crate::core::trace::Trace;
use crate::core::Origin;
use crate::sip::{self, Essentials, Message, Stored};

impl Edge {
    /// Sends a response built for a request from `origin` (`ess`: its
    /// essentials, when it had them) that arrived at `since_ms`, with the
    /// header rules of the sender's profile; a final one is traced when a
    /// rule matches.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: Option<&Essentials<'_>>,
        since_ms: u64,
        code: u16,
        mut bytes: Vec<u8>,
        out: &mut Vec<Output>,
    ) {
        let profile = self.profile_of(origin, msg).map(|i| &self.cfg.profiles.0[i as usize]);
        if let Some(p) = profile.filter(|p| p.edits_headers()) {
            bytes = super::relay::profile_headers(&mut self.counters, &bytes, p);
        }
        send_response(&mut self.counters, origin, code, bytes, out);
        if code >= 200 && !self.trace.is_empty() {
            let ess = ess.and_then(|e| Trace::of(&self.trace, self.cfg.shard, origin, e, code, self.now_ms - since_ms));
            out.extend(ess.map(|t| Output::Trace(Box::new(t))));
        }
    }

    /// Replaces what the operator traces.
    pub fn set_trace(&mut self, filter: std::sync::Arc<crate::core::trace::TraceFilter>) {
        self.trace = filter;
    }
}

/// The transaction's first final answer, for the trace log when a rule
/// matches (the request is re-checked only then).
pub(super) fn trace_final(cx: &mut Ctx<'_>, tx: &mut Tx, code: u16) {
    let Some(started) = tx.started_ms.take() else { return };
    if cx.trace.is_empty() {
        return;
    }
    let Some(msg) = tx.request.as_ref().map(Stored::view) else { return };
    let Ok(ess) = sip::check_request(&msg) else { return };
    let duration = cx.now_ms.saturating_sub(started);
    if let Some(t) = Trace::of(cx.trace, cx.shard, tx.origin, &ess, code, duration) {
        cx.out.push(Output::Trace(Box::new(t)));
    }
}
