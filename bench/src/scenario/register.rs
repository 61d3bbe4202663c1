//! `register` and `register-auth`: REGISTER of one user per operation
//! (users cycle through the users list, one pre-rendered template each).
//! With auth, a 401/407 challenge is answered with a digest
//! Authorization/Proxy-Authorization (MD5 or SHA-256, qop=auth) and the
//! operation succeeds on the final 2xx.

use super::{expect_2xx, local_host, run_id};
use crate::digest::{self, Creds};
use crate::engine::{OpCtx, Scenario, Step};
use crate::report::Fail;
use crate::sipmsg::{headers, Hdr, Msg};
use crate::template::{Field, Template};
use std::net::SocketAddr;
use std::path::Path;

#[derive(Clone)]
pub struct User {
    pub name: String,
    pub password: String,
}

/// Reads `username password` or `username:password` lines (# comments ok).
pub fn parse_users(text: &str) -> Vec<User> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (u, p) = l.split_once(|c: char| c == ':' || c.is_whitespace())?;
            Some(User { name: u.trim().to_string(), password: p.trim().to_string() })
        })
        .collect()
}

pub fn load_users(file: Option<&Path>, count: usize) -> std::io::Result<Vec<User>> {
    match file {
        Some(p) => Ok(parse_users(&std::fs::read_to_string(p)?)),
        None => {
            Ok((0..count.max(1)).map(|i| User { name: format!("u{i:05}"), password: format!("pw{i:05}") }).collect())
        }
    }
}

pub struct Register {
    auth: bool,
    users: Vec<User>,
    tpls: Vec<Template>,
    ruri: String,
    next_user: usize,
    slot_user: Vec<u32>,
    slot_phase: Vec<u8>,
    scratch: Vec<u8>,
}

impl Register {
    pub fn new(target: SocketAddr, transport: &str, domain: &str, users: Vec<User>, auth: bool) -> Register {
        let h = local_host(&target);
        let rid = run_id();
        let ruri = format!("sip:{domain}");
        let tpls = users
            .iter()
            .map(|u| {
                Template::new(&format!(
                    "REGISTER {ruri} SIP/2.0\n\
Via: SIP/2.0/{transport} {h}:{{port}};branch=z9hG4bK{{branch}};rport\n\
Max-Forwards: 70\n\
From: <sip:{u}@{domain}>;tag={{tag}}\n\
To: <sip:{u}@{domain}>\n\
Call-ID: {{callid}}@sipedge-bench.{rid}\n\
CSeq: {{cseq}} REGISTER\n\
Contact: <sip:{u}@{h}:{{port}}{tp}>\n\
Expires: 3600\n\
Content-Length: 0\n\n",
                    u = u.name,
                    tp = super::contact_transport(transport),
                ))
            })
            .collect();
        Register {
            auth,
            users,
            tpls,
            ruri,
            next_user: 0,
            slot_user: Vec::new(),
            slot_phase: Vec::new(),
            scratch: Vec::with_capacity(1024),
        }
    }

    fn ensure(&mut self, slot: usize) {
        if slot >= self.slot_user.len() {
            let n = (slot + 1).max(self.slot_user.len() * 2);
            self.slot_user.resize(n, 0);
            self.slot_phase.resize(n, 0);
        }
    }

    fn answer_challenge(&mut self, cx: &mut OpCtx, m: &Msg) -> Step {
        let (want, hdr_name): (Hdr, &[u8]) = if m.status == 407 {
            (Hdr::ProxyAuthenticate, b"Proxy-Authorization")
        } else {
            (Hdr::WwwAuthenticate, b"Authorization")
        };
        // prefer SHA-256 when several challenges are offered
        let mut best = None;
        for h in headers(m.raw, m.headers_start).filter(|h| h.kind == want) {
            if let Some(c) = digest::parse_challenge(h.value) {
                let sha = c.algorithm == Some(digest::Algorithm::Sha256);
                if best.is_none() || sha {
                    best = Some(c);
                }
            }
        }
        let Some(ch) = best else { return Step::Fail(Fail::Protocol) };
        let s = cx.slot as usize;
        let u = &self.users[self.slot_user[s] as usize];
        let b = cx.new_txn();
        let mut cnonce = [0u8; 16];
        for (i, c) in cnonce.iter_mut().enumerate() {
            *c = b"0123456789abcdef"[((b >> (4 * (15 - i))) & 15) as usize];
        }
        self.scratch.clear();
        digest::write_authorization(
            &mut self.scratch,
            hdr_name,
            &ch,
            &Creds {
                username: u.name.as_bytes(),
                password: u.password.as_bytes(),
                method: b"REGISTER",
                uri: self.ruri.as_bytes(),
                cnonce: &cnonce,
                nc: b"00000001",
            },
        );
        let t = &mut self.tpls[self.slot_user[s] as usize];
        t.set(Field::Branch, b);
        t.set(Field::CallId, cx.call_id());
        t.set(Field::Tag, cx.op as u64);
        t.set(Field::CSeq, 2);
        t.set(Field::Port, cx.local_port as u64);
        t.write_with_extra(cx.tx.begin(), &self.scratch);
        cx.tx.commit(cx.conn, cx.target);
        self.slot_phase[s] = 1;
        Step::Pending
    }
}

impl Scenario for Register {
    fn name(&self) -> &'static str {
        if self.auth {
            "register-auth"
        } else {
            "register"
        }
    }
    fn start(&mut self, cx: &mut OpCtx) {
        let s = cx.slot as usize;
        self.ensure(s);
        let ui = self.next_user;
        self.next_user = (self.next_user + 1) % self.users.len();
        self.slot_user[s] = ui as u32;
        self.slot_phase[s] = 0;
        super::send_new_transaction(cx, &mut self.tpls[ui]);
    }
    fn on_response(&mut self, cx: &mut OpCtx, m: &Msg) -> Step {
        let s = cx.slot as usize;
        if self.auth && self.slot_phase[s] == 0 {
            return match m.status {
                100..=199 => Step::Pending,
                401 | 407 => self.answer_challenge(cx, m),
                c => Step::Fail(Fail::Status(c)),
            };
        }
        expect_2xx(m.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_formats() {
        let u = parse_users("# c\nalice secret\nbob:pa ss\n\n  carol\tx  \n");
        assert_eq!(u.len(), 3);
        assert_eq!((u[0].name.as_str(), u[0].password.as_str()), ("alice", "secret"));
        assert_eq!((u[1].name.as_str(), u[1].password.as_str()), ("bob", "pa ss"));
        assert_eq!((u[2].name.as_str(), u[2].password.as_str()), ("carol", "x"));
    }
}
