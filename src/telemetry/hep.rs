//! The HEP v3 encoder (Homer's capture protocol), pure: what was captured
//! (`Meta`) and the SIP bytes in, one HEP3 packet appended to a buffer the
//! caller reuses. Layout: `"HEP3"`, total length (u16, network order), then
//! chunks of `vendor u16, type u16, length u16 (header included), value`;
//! every chunk here is vendor 0 (generic). No IO, no clock.

use std::net::{IpAddr, SocketAddr};

/// Largest HEP packet: the total length is a u16.
pub const MAX_PACKET: usize = u16::MAX as usize;

/// IP protocol numbers (chunk 2).
pub const PROTO_UDP: u8 = 17;
pub const PROTO_TCP: u8 = 6;

/// Protocol type SIP (chunk 11).
const PAYLOAD_SIP: u8 = 1;

/// Chunk types (vendor 0).
mod chunk {
    pub const IP_FAMILY: u16 = 1;
    pub const IP_PROTO: u16 = 2;
    pub const SRC_IP4: u16 = 3;
    pub const DST_IP4: u16 = 4;
    pub const SRC_IP6: u16 = 5;
    pub const DST_IP6: u16 = 6;
    pub const SRC_PORT: u16 = 7;
    pub const DST_PORT: u16 = 8;
    pub const TIME_SEC: u16 = 9;
    pub const TIME_USEC: u16 = 10;
    pub const PROTO_TYPE: u16 = 11;
    pub const AGENT_ID: u16 = 12;
    pub const AUTH_KEY: u16 = 14;
    pub const PAYLOAD: u16 = 15;
    pub const CORRELATION_ID: u16 = 17;
}

/// What HEP says about one captured message besides its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Meta<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// `PROTO_UDP` or `PROTO_TCP` (TLS and WebSocket run on TCP).
    pub proto: u8,
    /// Capture time, microseconds since the Unix epoch.
    pub time_us: u64,
    pub agent_id: u32,
    /// Auth key chunk; empty = none.
    pub password: &'a [u8],
    /// Correlation id chunk (the Call-ID); empty = none.
    pub correlation: &'a [u8],
}

/// The packet would exceed `MAX_PACKET`.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

/// Appends one HEP3 packet carrying `payload` to `out` (left as it was on
/// error). Addresses of different families are both written as IPv6
/// (IPv4-mapped), since HEP has one family per packet.
pub fn encode(meta: &Meta<'_>, payload: &[u8], out: &mut Vec<u8>) -> Result<(), TooLarge> {
    let start = out.len();
    out.extend_from_slice(b"HEP3\0\0");
    let (src, dst) = (meta.src.ip(), meta.dst.ip());
    let ips = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ips::V4(s.octets(), d.octets()),
        _ => Ips::V6(v6(src), v6(dst)),
    };
    match ips {
        Ips::V4(s, d) => {
            put(out, chunk::IP_FAMILY, &[2]);
            put(out, chunk::IP_PROTO, &[meta.proto]);
            put(out, chunk::SRC_IP4, &s);
            put(out, chunk::DST_IP4, &d);
        }
        Ips::V6(s, d) => {
            put(out, chunk::IP_FAMILY, &[10]);
            put(out, chunk::IP_PROTO, &[meta.proto]);
            put(out, chunk::SRC_IP6, &s);
            put(out, chunk::DST_IP6, &d);
        }
    }
    put(out, chunk::SRC_PORT, &meta.src.port().to_be_bytes());
    put(out, chunk::DST_PORT, &meta.dst.port().to_be_bytes());
    put(out, chunk::TIME_SEC, &((meta.time_us / 1_000_000) as u32).to_be_bytes());
    put(out, chunk::TIME_USEC, &((meta.time_us % 1_000_000) as u32).to_be_bytes());
    put(out, chunk::PROTO_TYPE, &[PAYLOAD_SIP]);
    put(out, chunk::AGENT_ID, &meta.agent_id.to_be_bytes());
    if !meta.password.is_empty() {
        put(out, chunk::AUTH_KEY, meta.password);
    }
    if !meta.correlation.is_empty() {
        put(out, chunk::CORRELATION_ID, meta.correlation);
    }
    let total = out.len() - start + 6 + payload.len();
    if total > MAX_PACKET || meta.password.len() > MAX_PACKET || meta.correlation.len() > MAX_PACKET {
        out.truncate(start);
        return Err(TooLarge);
    }
    put(out, chunk::PAYLOAD, payload);
    out[start + 4..start + 6].copy_from_slice(&(total as u16).to_be_bytes());
    Ok(())
}

enum Ips {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// One vendor-0 chunk (the caller keeps the total under `MAX_PACKET`, so
/// a chunk's length cannot overflow: longer values are refused before).
fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&((6 + value.len()) as u16).to_be_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta<'a>(src: &str, dst: &str, password: &'a [u8], correlation: &'a [u8]) -> Meta<'a> {
        Meta {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto: PROTO_UDP,
            time_us: 1_700_000_000_123_456,
            agent_id: 0x0102_0304,
            password,
            correlation,
        }
    }

    /// Every byte written out by hand from the HEP3 spec.
    #[test]
    fn ipv4_packet_matches_the_hand_written_layout() {
        let mut out = Vec::new();
        encode(&meta("10.0.0.1:5060", "192.168.1.2:5080", b"pw", b"c1"), b"SIP", &mut out).unwrap();
        #[rustfmt::skip]
        let want: Vec<u8> = [
            &b"HEP3"[..], &[0, 118],
            &[0, 0, 0, 1, 0, 7, 2],                    // IP family: IPv4
            &[0, 0, 0, 2, 0, 7, 17],                   // IP protocol: UDP
            &[0, 0, 0, 3, 0, 10, 10, 0, 0, 1],         // source IPv4
            &[0, 0, 0, 4, 0, 10, 192, 168, 1, 2],      // destination IPv4
            &[0, 0, 0, 7, 0, 8, 0x13, 0xc4],           // source port 5060
            &[0, 0, 0, 8, 0, 8, 0x13, 0xd8],           // destination port 5080
            &[0, 0, 0, 9, 0, 10, 0x65, 0x53, 0xf1, 0x00], // 1700000000 s
            &[0, 0, 0, 10, 0, 10, 0x00, 0x01, 0xe2, 0x40], // 123456 µs
            &[0, 0, 0, 11, 0, 7, 1],                   // protocol type: SIP
            &[0, 0, 0, 12, 0, 10, 1, 2, 3, 4],         // capture agent id
            &[0, 0, 0, 14, 0, 8], b"pw",               // auth key
            &[0, 0, 0, 17, 0, 8], b"c1",               // correlation id
            &[0, 0, 0, 15, 0, 9], b"SIP",              // payload
        ].concat();
        assert_eq!(out, want);
        assert_eq!(out.len(), 118);
    }

    #[test]
    fn optional_chunks_are_left_out_and_the_buffer_is_appended_to() {
        let mut out = b"old".to_vec();
        encode(&meta("10.0.0.1:1", "10.0.0.2:2", b"", b""), b"x", &mut out).unwrap();
        assert_eq!(&out[..3], b"old");
        let p = &out[3..];
        assert_eq!(u16::from_be_bytes([p[4], p[5]]) as usize, p.len());
        // Header 6 + family 7 + proto 7 + ips 20 + ports 16 + times 20 + type 7 + agent 10 + payload 7.
        assert_eq!(p.len(), 100);
        assert_eq!(&p[p.len() - 7..], &[0, 0, 0, 15, 0, 7, b'x']);
    }

    #[test]
    fn ipv6_and_mixed_families_use_the_v6_chunks() {
        let mut out = Vec::new();
        encode(&meta("[2001:db8::1]:5060", "127.0.0.1:9", b"", b""), b"", &mut out).unwrap();
        assert_eq!(&out[6..13], &[0, 0, 0, 1, 0, 7, 10]);
        let src = &out[20..42];
        assert_eq!(&src[..6], &[0, 0, 0, 5, 0, 22]);
        assert_eq!(&src[6..], &"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        let dst = &out[42..64];
        assert_eq!(&dst[..6], &[0, 0, 0, 6, 0, 22]);
        assert_eq!(&dst[6..], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    }

    #[test]
    fn too_large_leaves_the_buffer_untouched() {
        let mut out = b"keep".to_vec();
        let big = vec![b'a'; MAX_PACKET];
        assert_eq!(encode(&meta("10.0.0.1:1", "10.0.0.2:2", b"", b""), &big, &mut out), Err(TooLarge));
        assert_eq!(out, b"keep");
    }
}
