//! `options`: one OPTIONS transaction addressed to the server itself;
//! success is a 2xx (or any reply with --expect-any).

use super::{expect_2xx, local_host, run_id};
use crate::engine::{OpCtx, Scenario, Step};
use crate::sipmsg::Msg;
use crate::template::Template;
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
        super::send_new_transaction(cx, &mut self.tpl);
    }
    fn on_response(&mut self, _cx: &mut OpCtx, m: &Msg) -> Step {
        expect_2xx(m.status)
    }
}
