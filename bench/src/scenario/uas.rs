//! A stateless UAS for the `call` scenario (in-process or `uas` command):
//! INVITE -> 180 + 200 (SDP, Contact, copies Via/Record-Route/From/To/
//! Call-ID/CSeq), ACK -> nothing, any other request -> 200.

use super::push_dec;
use crate::event_loop::{Net, Role, Tx};
use crate::sipmsg::{self, headers, Hdr, Msg};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct Uas {
    contact_udp: Vec<u8>,
    contact_tcp: Vec<u8>,
    sdp: Vec<u8>,
    pub requests: u64,
}

const TO_TAG: &[u8] = b"b3nchua5";

impl Uas {
    pub fn new(listen: SocketAddr) -> Uas {
        let ip4 = listen.is_ipv4();
        let ipv = if ip4 { "IP4" } else { "IP6" };
        let ip = listen.ip();
        let sdp = format!(
            "v=0\r\no=uas 1 1 IN {ipv} {ip}\r\ns=-\r\nc=IN {ipv} {ip}\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        Uas {
            contact_udp: format!("Contact: <sip:uas@{listen}>\r\n").into_bytes(),
            contact_tcp: format!("Contact: <sip:uas@{listen};transport=tcp>\r\n").into_bytes(),
            sdp: sdp.into_bytes(),
            requests: 0,
        }
    }

    fn respond(&self, out: &mut Vec<u8>, status: &[u8], m: &Msg, with_rr: bool, extra: &[u8], body: &[u8]) {
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(status);
        out.extend_from_slice(b"\r\n");
        for h in headers(m.raw, m.headers_start) {
            match h.kind {
                Hdr::Via | Hdr::From | Hdr::CallId | Hdr::CSeq => {}
                Hdr::RecordRoute if with_rr => {}
                Hdr::To => {
                    out.extend_from_slice(h.line);
                    if m.to_tag.is_empty() {
                        out.extend_from_slice(b";tag=");
                        out.extend_from_slice(TO_TAG);
                    }
                    out.extend_from_slice(b"\r\n");
                    continue;
                }
                _ => continue,
            }
            out.extend_from_slice(h.line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(extra);
        if !body.is_empty() {
            out.extend_from_slice(b"Content-Type: application/sdp\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        push_dec(out, body.len() as u64);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    }

    /// Handles one incoming message; responses go back to `src` (UDP) or
    /// on the same connection (TCP).
    pub fn handle(&mut self, tx: &mut Tx, conn: usize, src: SocketAddr, b: &[u8]) {
        let Ok(m) = sipmsg::parse(b) else { return };
        if m.status != 0 {
            return;
        }
        self.requests += 1;
        // Via transport of the top hop tells how the request came in
        let via = headers(b, m.headers_start).find(|h| h.kind == Hdr::Via).map(|h| h.value).unwrap_or(&[]);
        let tcp = via.len() >= 11 && via[8..11].eq_ignore_ascii_case(b"TCP");
        match m.method {
            b"ACK" => {}
            b"INVITE" => {
                self.respond(tx.begin(), b"180 Ringing", &m, true, &[], &[]);
                tx.commit(conn, src);
                let contact = if tcp { &self.contact_tcp } else { &self.contact_udp };
                let out = tx.begin();
                self.respond(out, b"200 OK", &m, true, contact, &self.sdp);
                tx.commit(conn, src);
            }
            _ => {
                self.respond(tx.begin(), b"200 OK", &m, false, &[], &[]);
                tx.commit(conn, src);
            }
        }
    }
}

/// Adds UDP and TCP listeners for the UAS on `listen` to `net`.
pub fn listen(net: &mut Net, listen: SocketAddr) -> std::io::Result<()> {
    net.add_udp_listener(listen, Role::Uas)?;
    net.add_tcp_listener(listen, Role::Uas)?;
    Ok(())
}

/// Standalone UAS loop (`sipedge-bench uas`).
pub fn serve(addr: SocketAddr, duration: Option<f64>) -> std::io::Result<()> {
    let mut net = Net::new()?;
    listen(&mut net, addr)?;
    let mut uas = Uas::new(addr);
    eprintln!("uas listening on {addr} (udp+tcp)");
    let end = duration.map(|d| Instant::now() + Duration::from_secs_f64(d));
    loop {
        net.poll(100, &mut |tx, c, src, b| uas.handle(tx, c, src, b));
        net.flush();
        if end.is_some_and(|e| Instant::now() >= e) {
            eprintln!("uas handled {} requests", uas.requests);
            return Ok(());
        }
    }
}
