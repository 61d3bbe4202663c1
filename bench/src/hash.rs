//! Minimal MD5 (RFC 1321) and SHA-256 (FIPS 180-4) used by HTTP/SIP digest
//! authentication. Self-contained so the bench adds no crypto dependencies;
//! both are tested against the standard test vectors.

/// Incremental hasher interface shared by MD5 and SHA-256.
pub trait Hasher {
    fn update(&mut self, data: &[u8]);
    /// Finishes and writes the lowercase hex digest into `out` (32 or 64 bytes).
    fn finish_hex(self, out: &mut [u8]) -> usize;
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn to_hex(bytes: &[u8], out: &mut [u8]) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    bytes.len() * 2
}

/// Shared 64-byte block buffering.
struct Block {
    buf: [u8; 64],
    fill: usize,
    total: u64,
}

impl Block {
    fn new() -> Self {
        Block { buf: [0; 64], fill: 0, total: 0 }
    }
    fn update(&mut self, mut data: &[u8], mut compress: impl FnMut(&[u8; 64])) {
        self.total += data.len() as u64;
        if self.fill > 0 {
            let n = (64 - self.fill).min(data.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
            if self.fill < 64 {
                return;
            }
            let b = self.buf;
            compress(&b);
            self.fill = 0;
        }
        while data.len() >= 64 {
            compress(data[..64].try_into().unwrap());
            data = &data[64..];
        }
        self.buf[..data.len()].copy_from_slice(data);
        self.fill = data.len();
    }
    /// Pads; `len_le` selects little-endian (MD5) or big-endian (SHA) bit length.
    fn pad(&mut self, len_le: bool, mut compress: impl FnMut(&[u8; 64])) {
        let bits = self.total.wrapping_mul(8);
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        let padlen = if self.fill < 56 { 56 - self.fill } else { 120 - self.fill };
        let lenb = if len_le { bits.to_le_bytes() } else { bits.to_be_bytes() };
        pad[padlen..padlen + 8].copy_from_slice(&lenb);
        let total = self.total;
        self.update(&pad[..padlen + 8], &mut compress);
        self.total = total;
        debug_assert_eq!(self.fill, 0);
    }
}

pub struct Md5 {
    st: [u32; 4],
    blk: Block,
}

const MD5_S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
    21,
];

fn md5_k() -> &'static [u32; 64] {
    static K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
        0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
        0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
        0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
        0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
        0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
        0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    &K
}

fn md5_compress(st: &mut [u32; 4], block: &[u8; 64]) {
    let k = md5_k();
    let mut m = [0u32; 16];
    for i in 0..16 {
        m[i] = u32::from_le_bytes(block[4 * i..4 * i + 4].try_into().unwrap());
    }
    let (mut a, mut b, mut c, mut d) = (st[0], st[1], st[2], st[3]);
    for i in 0..64 {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
        a = d;
        d = c;
        c = b;
        b = b.wrapping_add(f.rotate_left(MD5_S[i]));
    }
    st[0] = st[0].wrapping_add(a);
    st[1] = st[1].wrapping_add(b);
    st[2] = st[2].wrapping_add(c);
    st[3] = st[3].wrapping_add(d);
}

impl Md5 {
    pub fn new() -> Self {
        Md5 { st: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476], blk: Block::new() }
    }
}

impl Hasher for Md5 {
    fn update(&mut self, data: &[u8]) {
        let st = &mut self.st;
        self.blk.update(data, |b| md5_compress(st, b));
    }
    fn finish_hex(mut self, out: &mut [u8]) -> usize {
        let st = &mut self.st;
        self.blk.pad(true, |b| md5_compress(st, b));
        let mut bytes = [0u8; 16];
        for i in 0..4 {
            bytes[4 * i..4 * i + 4].copy_from_slice(&self.st[i].to_le_bytes());
        }
        to_hex(&bytes, out)
    }
}

pub struct Sha256 {
    st: [u32; 8],
    blk: Block,
}

static SHA_K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

fn sha_compress(st: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for i in 0..16 {
        w[i] = u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap());
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
    }
    let mut h = *st;
    for i in 0..64 {
        let s1 = h[4].rotate_right(6) ^ h[4].rotate_right(11) ^ h[4].rotate_right(25);
        let ch = (h[4] & h[5]) ^ (!h[4] & h[6]);
        let t1 = h[7].wrapping_add(s1).wrapping_add(ch).wrapping_add(SHA_K[i]).wrapping_add(w[i]);
        let s0 = h[0].rotate_right(2) ^ h[0].rotate_right(13) ^ h[0].rotate_right(22);
        let maj = (h[0] & h[1]) ^ (h[0] & h[2]) ^ (h[1] & h[2]);
        let t2 = s0.wrapping_add(maj);
        h[7] = h[6];
        h[6] = h[5];
        h[5] = h[4];
        h[4] = h[3].wrapping_add(t1);
        h[3] = h[2];
        h[2] = h[1];
        h[1] = h[0];
        h[0] = t1.wrapping_add(t2);
    }
    for i in 0..8 {
        st[i] = st[i].wrapping_add(h[i]);
    }
}

impl Sha256 {
    pub fn new() -> Self {
        Sha256 {
            st: [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19],
            blk: Block::new(),
        }
    }
}

impl Hasher for Sha256 {
    fn update(&mut self, data: &[u8]) {
        let st = &mut self.st;
        self.blk.update(data, |b| sha_compress(st, b));
    }
    fn finish_hex(mut self, out: &mut [u8]) -> usize {
        let st = &mut self.st;
        self.blk.pad(false, |b| sha_compress(st, b));
        let mut bytes = [0u8; 32];
        for i in 0..8 {
            bytes[4 * i..4 * i + 4].copy_from_slice(&self.st[i].to_be_bytes());
        }
        to_hex(&bytes, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(s: &[u8]) -> String {
        let mut h = Md5::new();
        h.update(s);
        let mut o = [0u8; 64];
        let n = h.finish_hex(&mut o);
        String::from_utf8(o[..n].to_vec()).unwrap()
    }
    fn sha(s: &[u8]) -> String {
        let mut h = Sha256::new();
        // feed in odd pieces to exercise buffering
        for c in s.chunks(7) {
            h.update(c);
        }
        let mut o = [0u8; 64];
        let n = h.finish_hex(&mut o);
        String::from_utf8(o[..n].to_vec()).unwrap()
    }

    #[test]
    fn md5_vectors() {
        assert_eq!(md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5(b"message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
        assert_eq!(
            md5(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn sha256_vectors() {
        assert_eq!(sha(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            sha(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }
}
