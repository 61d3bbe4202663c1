//! `call`: INVITE (SDP) -> 1xx -> 200 -> ACK -> BYE -> 200 through the
//! target to a UAS. The route set is taken from the 200's Record-Route
//! (reversed); ACK and BYE carry it as Route headers, with the remote
//! target (Contact) as Request-URI, and go to the first route hop
//! (or straight to the Contact when there is no route set; over TCP they
//! always use the operation's connection).

use super::{local_host, push_dec, push_hex, run_id};
use crate::engine::{OpCtx, Scenario, Step};
use crate::report::Fail;
use crate::sipmsg::{comma_split, headers, uri_addr, uri_of, Hdr, Msg};
use crate::template::Template;
use std::net::SocketAddr;

const INVITING: u8 = 0;
const BYE_SENT: u8 = 1;

struct Dialog {
    state: u8,
    buf: Vec<u8>,
}

pub struct Call {
    tpl: Template,
    tcp: bool,
    via_prefix: Vec<u8>,
    from_prefix: Vec<u8>,
    to_prefix: Vec<u8>,
    callid_suffix: Vec<u8>,
    dialogs: Vec<Dialog>,
}

impl Call {
    pub fn new(target: SocketAddr, transport: &str, ruri: &str) -> Call {
        let h = local_host(&target);
        let rid = run_id();
        let tp = super::contact_transport(transport);
        let sdp = "v=0\no=bench 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n".to_string()
        .replace('\n', "\r\n");
        let tpl = Template::new(&format!(
            "INVITE {ruri} SIP/2.0\n\
Via: SIP/2.0/{transport} {h}:{{port}};branch=z9hG4bK{{branch}};rport\n\
Max-Forwards: 70\n\
From: <sip:uac@{h}>;tag={{tag}}\n\
To: <{ruri}>\n\
Call-ID: {{callid}}@sipedge-bench.{rid}\n\
CSeq: {{cseq}} INVITE\n\
Contact: <sip:uac@{h}:{{port}}{tp}>\n\
Content-Type: application/sdp\n\
Content-Length: {{clen}}\n\n{sdp}"
        ));
        Call {
            tpl,
            tcp: transport != "UDP",
            via_prefix: format!("Via: SIP/2.0/{transport} {h}:").into_bytes(),
            from_prefix: format!("From: <sip:uac@{h}>;tag=").into_bytes(),
            to_prefix: format!("To: <{ruri}>;tag=").into_bytes(),
            callid_suffix: format!("@sipedge-bench.{rid}\r\n").into_bytes(),
            dialogs: Vec::new(),
        }
    }

    /// Renders ACK or BYE of the dialog into `out`.
    #[allow(clippy::too_many_arguments)]
    fn write_in_dialog(
        &self,
        out: &mut Vec<u8>,
        method: &[u8],
        rtarget: &[u8],
        routes: &[(usize, usize)],
        raw: &[u8],
        to_tag: &[u8],
        cx: &OpCtx,
        branch: u64,
        cseq: u32,
    ) {
        out.extend_from_slice(method);
        out.push(b' ');
        out.extend_from_slice(rtarget);
        out.extend_from_slice(b" SIP/2.0\r\n");
        out.extend_from_slice(&self.via_prefix);
        push_dec(out, cx.local_port as u64);
        out.extend_from_slice(b";branch=z9hG4bK");
        push_hex(out, branch, 16);
        out.extend_from_slice(b";rport\r\nMax-Forwards: 70\r\n");
        for &(a, b) in routes.iter().rev() {
            out.extend_from_slice(b"Route: ");
            out.extend_from_slice(&raw[a..b]);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(&self.from_prefix);
        push_hex(out, cx.op as u64, 8);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.to_prefix);
        out.extend_from_slice(to_tag);
        out.extend_from_slice(b"\r\nCall-ID: ");
        push_hex(out, cx.call_id(), 16);
        out.extend_from_slice(&self.callid_suffix);
        out.extend_from_slice(b"CSeq: ");
        push_dec(out, cseq as u64);
        out.push(b' ');
        out.extend_from_slice(method);
        out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    }

    fn on_invite_ok(&mut self, cx: &mut OpCtx, m: &Msg) -> Step {
        if m.contact_uri.is_empty() || m.to_tag.is_empty() {
            return Step::Fail(Fail::Protocol);
        }
        // Record-Route entries as offsets into the message, in order.
        let mut rr = [(0usize, 0usize); 16];
        let mut n = 0;
        let base = m.raw.as_ptr() as usize;
        for h in headers(m.raw, m.headers_start).filter(|h| h.kind == Hdr::RecordRoute) {
            for v in comma_split(h.value) {
                if n < rr.len() {
                    let a = v.as_ptr() as usize - base;
                    rr[n] = (a, a + v.len());
                    n += 1;
                }
            }
        }
        let routes = &rr[..n];
        // route set = RR reversed; first hop = last RR entry
        let hop = if self.tcp {
            cx.target
        } else if n > 0 {
            let (a, b) = routes[n - 1];
            uri_addr(uri_of(&m.raw[a..b])).unwrap_or(cx.target)
        } else {
            uri_addr(m.contact_uri).unwrap_or(cx.target)
        };
        let slot = cx.slot as usize;
        let mut buf = std::mem::take(&mut self.dialogs[slot].buf);
        for (method, cseq) in [(&b"ACK"[..], m.cseq_num), (&b"BYE"[..], m.cseq_num + 1)] {
            let br = cx.new_txn();
            buf.clear();
            self.write_in_dialog(&mut buf, method, m.contact_uri, routes, m.raw, m.to_tag, cx, br, cseq);
            cx.tx.send(cx.conn, hop, &buf);
        }
        self.dialogs[slot].buf = buf;
        self.dialogs[slot].state = BYE_SENT;
        Step::Pending
    }
}

impl Scenario for Call {
    fn name(&self) -> &'static str {
        "call"
    }
    fn start(&mut self, cx: &mut OpCtx) {
        let s = cx.slot as usize;
        while self.dialogs.len() <= s {
            self.dialogs.push(Dialog { state: INVITING, buf: Vec::with_capacity(1024) });
        }
        self.dialogs[s].state = INVITING;
        super::send_new_transaction(cx, &mut self.tpl);
    }
    fn on_response(&mut self, cx: &mut OpCtx, m: &Msg) -> Step {
        let state = self.dialogs[cx.slot as usize].state;
        match (state, m.cseq_method, m.status) {
            (INVITING, b"INVITE", 100..=199) => Step::Pending,
            (INVITING, b"INVITE", 200..=299) => self.on_invite_ok(cx, m),
            (BYE_SENT, b"BYE", 100..=199) => Step::Pending,
            (BYE_SENT, b"BYE", 200..=299) => Step::Done,
            (_, b"INVITE", _) | (_, b"BYE", _) if m.status >= 300 => Step::Fail(Fail::Status(m.status)),
            _ => Step::Pending,
        }
    }
}
