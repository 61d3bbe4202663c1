//! Message hygiene on what the edge relays (`[hygiene]`; which messages and
//! which patterns is decided in `core::proxy::hygiene`), and its counters.
//!
//! - A request's SDP is filtered once, when its transaction starts; every
//!   branch forwards the filtered copy. A request whose SDP would keep no
//!   codec in a stream is answered `488 Not Acceptable Here` by its server
//!   transaction (so its ACK is absorbed there and nothing goes on).
//! - An answer (18x/2xx) or a 2xx's ACK cannot be refused: one whose SDP
//!   would keep no codec is relayed unchanged and counted
//!   (`sdp_unfiltered{reason="no codec left"}`). The offer it answers went
//!   through the filter, so only an answerer breaking RFC 3264 (or a late
//!   offer in a 200 the caller's side cannot use) sends one; turning it
//!   into a failure would mean ending a dialog the far end believes
//!   established (ACK and BYE on its behalf), which an edge should not do.
//! - Header patterns are removed from every relayed request by where its
//!   target is (inside: `strip_to_core`; a device: `strip_to_devices`) and
//!   from every relayed response by where the transaction's sender is.

use crate::core::counters::Counters;
use crate::core::proxy::hygiene::Sdp;
use crate::core::proxy::hygiene::SdpUnfiltered;
use crate::core::proxy::state::ProxyState;
use crate::sip::sdp::NoCodecLeft;
use crate::sip::{Editor, Message};

impl ProxyState {
    /// `msg`'s body through the codec filter: `Ok(None)` to relay it as it
    /// is, the filtered body, or no codec left. Counts removals and skips.
    pub(super) fn sdp_body(&self, counters: &mut Counters, msg: &Message<'_>) -> Result<Option<Vec<u8>>, NoCodecLeft> {
        match self.cfg.hygiene.sdp(msg) {
            Sdp::Unchanged => Ok(None),
            Sdp::Filtered(f) => {
                counters.proxy.sdp_codecs_removed += f.removed as u64;
                Ok(Some(f.body))
            }
            Sdp::NoCodecLeft => Err(NoCodecLeft),
            Sdp::Skipped(why) => {
                counters.proxy.sdp_unfiltered.add(why);
                Ok(None)
            }
        }
    }

    /// As [`Self::sdp_body`] for a message that cannot be refused (an
    /// answer, an ACK): with no codec left it is relayed unchanged, counted.
    pub(super) fn sdp_body_relayed(&self, counters: &mut Counters, msg: &Message<'_>) -> Option<Vec<u8>> {
        self.sdp_body(counters, msg).unwrap_or_else(|NoCodecLeft| {
            counters.proxy.sdp_unfiltered.add(SdpUnfiltered::NoCodecLeft);
            None
        })
    }

    /// A request with its SDP filtered, whole (`Ok(None)`: unchanged).
    pub(super) fn filtered_request(
        &self,
        counters: &mut Counters,
        msg: &Message<'_>,
    ) -> Result<Option<Vec<u8>>, NoCodecLeft> {
        Ok(self.sdp_body(counters, msg)?.map(|body| with_body(msg, &body)))
    }

    /// Marks for removal the header lines of the patterns for the
    /// direction the message goes (`to_inside`: the core), counted.
    pub(super) fn strip_headers(&self, counters: &mut Counters, e: &mut Editor<'_>, to_inside: bool) {
        let n = e.remove_matching(self.cfg.hygiene.strip(to_inside));
        counters.proxy.headers_removed += n as u64;
    }
}

/// `msg` with `body` (and its Content-Length), every other byte as it came.
pub(super) fn with_body(msg: &Message<'_>, body: &[u8]) -> Vec<u8> {
    let mut e = Editor::new(msg);
    e.set_body(body);
    let mut out = Vec::with_capacity(msg.buf.len() + 16);
    e.write(&mut out);
    out
}
