//! Scenarios: each renders its requests from pre-built templates and
//! advances an operation on matching responses.

pub mod call;
pub mod options;
pub mod register;
pub mod uas;

use std::net::SocketAddr;

/// Host part we put in Via/Contact for a local socket talking to `target`.
pub fn local_host(target: &SocketAddr) -> &'static str {
    if target.is_ipv4() {
        "127.0.0.1"
    } else {
        "[::1]"
    }
}

/// The Contact URI parameter naming a stream transport (`TCP`, `TLS`; none for UDP).
pub fn contact_transport(via_transport: &str) -> &'static str {
    match via_transport {
        "TCP" => ";transport=tcp",
        "TLS" => ";transport=tls",
        _ => "",
    }
}

/// Random-ish run id so Call-IDs differ between runs.
pub fn run_id() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:08x}", (t.as_nanos() as u64 ^ (std::process::id() as u64) << 32) as u32)
}

pub fn push_hex(out: &mut Vec<u8>, v: u64, width: usize) {
    for i in (0..width).rev() {
        out.push(b"0123456789abcdef"[((v >> (4 * i)) & 15) as usize]);
    }
}

pub fn push_dec(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 20];
    let mut n = v;
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Classifies a final status for a simple "expect 2xx" transaction.
pub fn expect_2xx(status: u16) -> crate::engine::Step {
    use crate::engine::Step;
    use crate::report::Fail;
    match status {
        100..=199 => Step::Pending,
        200..=299 => Step::Done,
        c => Step::Fail(Fail::Status(c)),
    }
}

/// Starts a new transaction from a request template: fresh branch, Call-ID,
/// From tag, CSeq 1 and Via port, then sends it on the operation's socket.
pub fn send_new_transaction(cx: &mut crate::engine::OpCtx, t: &mut crate::template::Template) {
    use crate::template::Field;
    let b = cx.new_txn();
    t.set(Field::Branch, b);
    t.set(Field::CallId, cx.call_id());
    t.set(Field::Tag, cx.op as u64);
    t.set(Field::CSeq, 1);
    t.set(Field::Port, cx.local_port as u64);
    cx.tx.send(cx.conn, cx.target, t.bytes());
}
