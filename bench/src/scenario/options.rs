//! `options`: one OPTIONS transaction addressed to the server itself;
//! success is a 2xx (or any reply with --expect-any).

use super::{expect_2xx, local_host, run_id};
use crate::engine::{OpCtx, Scenario, Step};
use crate::sipmsg::Msg;
use crate::template::{Field, Template};
use std::net::SocketAddr;

pub struct Options {
    tpl: Template,
}

impl Options {
    pub fn new(target: SocketAddr, transport: &str) -> Options {
        let h = local_host(&target);
        let tpl = Template::new(&format!(
            "OPTIONS sip:{target} SIP/2.0\n\
Via: SIP/2.0/{transport} {h}:{{port}};branch=z9hG4bK{{branch}};rport\n\
Max-Forwards: 70\n\
From: <sip:bench@{h}>;tag={{tag}}\n\
To: <sip:{target}>\n\
Call-ID: {{callid}}@sipedge-bench.{rid}\n\
CSeq: {{cseq}} OPTIONS\n\
Contact: <sip:bench@{h}:{{port}}>\n\
Accept: application/sdp\n\
Content-Length: 0\n\n",
            rid = run_id()
        ));
        Options { tpl }
    }
}

impl Scenario for Options {
    fn name(&self) -> &'static str {
        "options"
    }
    fn start(&mut self, cx: &mut OpCtx) {
        let b = cx.new_txn();
        let t = &mut self.tpl;
        t.set(Field::Branch, b);
        t.set(Field::CallId, cx.call_id());
        t.set(Field::Tag, cx.op as u64);
        t.set(Field::CSeq, 1);
        t.set(Field::Port, cx.local_port as u64);
        cx.tx.send(cx.conn, cx.target, t.bytes());
    }
    fn on_response(&mut self, _cx: &mut OpCtx, m: &Msg) -> Step {
        expect_2xx(m.status)
    }
}
