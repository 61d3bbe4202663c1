//! A small byte codec for records packed into one exactly sized allocation
//! (the proxy's lingering transactions, `core::proxy::lingering`): LEB128
//! integers (a deadline in milliseconds takes 6 bytes, a response code 2),
//! length-prefixed bytes, and what a transaction sends to (`Origin`, a
//! transport, a socket address: IPv4 in 7 bytes, IPv6 with its flow info
//! and scope id, a connection).
//!
//! Writing never fails. Reading returns None on anything short or
//! malformed and never panics, so a reader of bytes its own writer made can
//! treat None as "cannot happen", and bad bytes cannot crash it.

use crate::core::{FlowId, Origin, Transport};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Appends to a byte buffer.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// The bytes written, in an allocation of exactly their length.
    pub fn finish(self) -> Box<[u8]> {
        self.buf.into_boxed_slice()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// An unsigned integer, LEB128: 7 bits a byte, low bits first.
    pub fn uint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// `bytes` with their length first.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.uint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// `bytes` as they are: the reader must know their length.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// An optional value as 0 (None) or the value plus one.
    pub fn opt(&mut self, v: Option<u64>) {
        self.uint(v.map_or(0, |v| v.saturating_add(1)));
    }

    pub fn transport(&mut self, t: Transport) {
        self.u8(t.proto_number());
    }

    pub fn addr(&mut self, a: SocketAddr) {
        match a {
            SocketAddr::V4(a) => {
                self.u8(4);
                self.raw(&a.ip().octets());
                self.raw(&a.port().to_le_bytes());
            }
            SocketAddr::V6(a) => {
                self.u8(6);
                self.raw(&a.ip().octets());
                self.raw(&a.port().to_le_bytes());
                self.uint(u64::from(a.flowinfo()));
                self.uint(u64::from(a.scope_id()));
            }
        }
    }

    pub fn flow(&mut self, f: Option<FlowId>) {
        match f {
            None => self.u8(0),
            Some(f) => {
                self.u8(1);
                self.uint(u64::from(f.shard));
                self.uint(u64::from(f.conn));
            }
        }
    }

    pub fn origin(&mut self, o: &Origin) {
        self.transport(o.transport);
        self.uint(u64::from(o.listener));
        self.addr(o.peer);
        self.flow(o.flow);
    }
}

/// Reads what a [`Writer`] wrote, in the same order.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// Nothing left to read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (&v, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(v)
    }

    pub fn uint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// An integer that must fit `T` (a `u16`, a `u32`).
    pub fn small<T: TryFrom<u64>>(&mut self) -> Option<T> {
        T::try_from(self.uint()?).ok()
    }

    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.uint()?).ok()?;
        self.raw(n)
    }

    pub fn raw(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (v, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(v)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.raw(N)?.try_into().ok()
    }

    pub fn opt(&mut self) -> Option<Option<u64>> {
        Some(self.uint()?.checked_sub(1))
    }

    pub fn transport(&mut self) -> Option<Transport> {
        Transport::from_proto_number(self.u8()?)
    }

    pub fn addr(&mut self) -> Option<SocketAddr> {
        match self.u8()? {
            4 => {
                let ip = Ipv4Addr::from(self.array::<4>()?);
                Some(SocketAddr::new(IpAddr::V4(ip), u16::from_le_bytes(self.array()?)))
            }
            6 => {
                let ip = Ipv6Addr::from(self.array::<16>()?);
                let port = u16::from_le_bytes(self.array()?);
                let (flowinfo, scope) = (self.small()?, self.small()?);
                Some(SocketAddr::V6(SocketAddrV6::new(ip, port, flowinfo, scope)))
            }
            _ => None,
        }
    }

    pub fn flow(&mut self) -> Option<Option<FlowId>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(FlowId { shard: self.small()?, conn: self.small()? })),
            _ => None,
        }
    }

    pub fn origin(&mut self) -> Option<Origin> {
        Some(Origin { transport: self.transport()?, listener: self.small()?, peer: self.addr()?, flow: self.flow()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_seven_bits_a_byte_and_come_back() {
        let values = [0, 1, 127, 128, 300, 16_383, 16_384, 1_700_000_000_000, u64::MAX];
        let mut w = Writer::new();
        for v in values {
            w.uint(v);
        }
        w.opt(None);
        w.opt(Some(0));
        w.opt(Some(5060));
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        for v in values {
            assert_eq!(r.uint(), Some(v));
        }
        assert_eq!((r.opt(), r.opt(), r.opt()), (Some(None), Some(Some(0)), Some(Some(5060))));
        assert!(r.is_empty());
        let mut w = Writer::new();
        w.uint(1_700_000_000_000);
        assert_eq!(w.len(), 6, "a deadline in unix milliseconds");
    }

    #[test]
    fn origins_come_back_exactly_ipv4_in_a_few_bytes() {
        let v4 = Origin { transport: Transport::Udp, listener: 0, peer: "10.0.0.5:5060".parse().unwrap(), flow: None };
        let v6 = Origin {
            transport: Transport::Tls,
            listener: 300,
            peer: SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 5061, 7, 3)),
            flow: Some(FlowId { shard: 2, conn: 70_000 }),
        };
        let mut w = Writer::new();
        w.origin(&v4);
        assert_eq!(w.len(), 10, "transport, listener, family, 4 + 2 address bytes, no flow");
        w.origin(&v6);
        w.bytes(b"SIP/2.0 200 OK\r\n");
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.origin(), Some(v4));
        assert_eq!(r.origin(), Some(v6));
        assert_eq!(r.bytes(), Some(&b"SIP/2.0 200 OK\r\n"[..]));
        assert!(r.is_empty());
    }

    #[test]
    fn short_or_malformed_input_reads_as_none() {
        let mut w = Writer::new();
        w.origin(&Origin { transport: Transport::Tcp, listener: 1, peer: "[::1]:5060".parse().unwrap(), flow: None });
        w.bytes(b"abc");
        let bytes = w.finish();
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            assert!(r.origin().is_none() || r.bytes().is_none(), "cut at {cut}");
        }
        assert_eq!(Reader::new(&[0xff; 11]).uint(), None, "more than 64 bits");
        assert_eq!(Reader::new(&[9]).addr(), None, "no such family");
        assert_eq!(Reader::new(&[4]).transport(), None, "no such transport");
        assert_eq!(Reader::new(&[0x80, 0x80, 0x04]).small::<u16>(), None, "too big for a u16");
    }
}
