//! The classic BPF programs a listener's reuseport group runs
//! (SO_ATTACH_REUSEPORT_CBPF) to pick which shard's socket the kernel hands
//! a packet to. The program returns the socket's index in the group, which
//! is its shard's number (shards bind in order, `sockets.rs`); an index past
//! the group makes the kernel fall back to its hash (and to SO_INCOMING_CPU
//! where that is set).
//!
//! Two parts, either or both:
//! - **responses by branch** (`server.steer_responses`, UDP): a datagram
//!   that starts with `SIP/` is a response; the program finds the first
//!   `z9hG4bK` in it (the top Via's branch, in practice) and, when it goes
//!   on as `write_branch` writes it (`-`, 1 to 4 lower-case hex digits of
//!   the shard, `-`), returns that shard. Responses from one
//!   upstream all share one address pair, so the hash would hand every one
//!   of them to one shard, which then forwards most of them over the mesh;
//!   this way each reaches the shard that holds its transaction directly.
//!   A branch that is not ours, or a response too short or too odd to
//!   scan, falls through to the next part: a wrong guess costs one mesh
//!   hop, never a lost message, since the receiving shard still checks
//!   ownership (`core::owner`).
//! - **the receiving CPU** (`server.steering = "cbpf"`): the shard on the
//!   CPU that received the packet.
//!
//! Packet offsets are from the start of the UDP payload (the kernel pulls
//! the UDP header before it runs the program). A load past the end of the
//! packet would end the program with 0, i.e. shard 0, so every load is
//! guarded by a length check first.

use libc::sock_filter;

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;
/// Bytes of a response scanned for the branch, at most: the top Via
/// follows the status line, within the first hundred bytes or so.
const SCAN_MAX: usize = 512;
/// Offsets checked between two length checks.
const CHUNK: usize = 32;
/// What must follow a scanned offset for its loads to stay in the packet:
/// `z9hG4bK-` (8), four hex digits and the dash after them.
const TAIL: usize = 16;
/// Instructions kept for everything of the branch part but the scan: its
/// checks before the scan and the reading of the shard number after it.
const BRANCH_READ_INSNS: usize = 128;
/// Back to the kernel's hash.
const FALLBACK: u32 = u32::MAX;

const SIP_SLASH: u32 = u32::from_be_bytes(*b"SIP/");
const Z9HG: u32 = u32::from_be_bytes(*b"z9hG");
const FOUR_BK_DASH: u32 = u32::from_be_bytes(*b"4bK-");

/// The program for a reuseport group, or None when it needs none.
/// `cpus[i]` is shard `i`'s CPU; `by_cpu`: `server.steering = "cbpf"`;
/// `responses`: steer UDP responses by branch.
pub fn program(cpus: &[usize], by_cpu: bool, responses: bool) -> Option<Vec<sock_filter>> {
    if !by_cpu && !responses {
        return None;
    }
    let mut a = Asm::default();
    let requests = a.label();
    if responses {
        let cpu_part = if by_cpu { 2 * cpus.len() + 2 } else { 1 };
        let room = MAX_INSNS.saturating_sub(cpu_part + BRANCH_READ_INSNS);
        let window = (room / (4 * CHUNK + 3) * CHUNK).min(SCAN_MAX);
        branch_scan(&mut a, cpus.len(), window, requests);
    }
    a.bind(requests);
    if by_cpu {
        cpu_table(&mut a, cpus);
    } else {
        a.ret_k(FALLBACK);
    }
    Some(a.finish())
}

/// If the packet is a response whose first `z9hG` goes on as `4bK-`, 1 to 4
/// lower-case hex digits and a dash naming a shard below `shards`, returns
/// that shard; otherwise jumps to `miss`.
fn branch_scan(a: &mut Asm, shards: usize, window: usize, miss: Label) {
    let found = a.label();
    // Responses only, long enough for a status line, a Via and a branch.
    a.ld_len();
    a.jump_unless_ge((CHUNK + TAIL) as u32, miss);
    a.ld_word_abs(0);
    a.jump_unless_eq(SIP_SLASH, miss);
    // First "z9hG" at offset i: X = i, go to `found`. Every chunk of
    // offsets first checks that the packet holds its last offset's tail.
    for start in (0..window).step_by(CHUNK) {
        if start > 0 {
            a.ld_len();
            a.jump_unless_ge((start + CHUNK + TAIL) as u32, miss);
        }
        for i in start..start + CHUNK {
            a.ld_word_abs(i as u32);
            a.push(jmp(libc::BPF_JEQ, Z9HG, 0, 2));
            a.push(stmt(libc::BPF_LDX | libc::BPF_W | libc::BPF_IMM, i as u32));
            a.ja(found);
        }
    }
    a.ja(miss);

    // X = offset of "z9hG". M[0]: the shard so far; M[1]: the digit; M[2]: X.
    a.bind(found);
    a.push(stmt(libc::BPF_STX, 2));
    a.push(stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_IND, 4));
    a.jump_unless_eq(FOUR_BK_DASH, miss);
    a.push(stmt(libc::BPF_LD | libc::BPF_IMM, 0));
    a.push(stmt(libc::BPF_ST, 0));
    let done = a.label();
    for k in 0..4u32 {
        a.push(stmt(libc::BPF_LDX | libc::BPF_W | libc::BPF_MEM, 2));
        a.push(stmt(libc::BPF_LD | libc::BPF_B | libc::BPF_IND, 8 + k));
        if k > 0 {
            // the dash after at least one digit ends the number
            a.push(jmp(libc::BPF_JEQ, b'-' as u32, 0, 1));
            a.ja(done);
        }
        hex_digit(a, miss);
        // M[0] = M[0] * 16 + digit
        a.push(stmt(libc::BPF_ST, 1));
        a.push(stmt(libc::BPF_LDX | libc::BPF_W | libc::BPF_MEM, 1));
        a.push(stmt(libc::BPF_LD | libc::BPF_MEM, 0));
        a.push(stmt(libc::BPF_ALU | libc::BPF_LSH | libc::BPF_K, 4));
        a.push(stmt(libc::BPF_ALU | libc::BPF_ADD | libc::BPF_X, 0));
        a.push(stmt(libc::BPF_ST, 0));
    }
    // four digits: the dash must follow
    a.push(stmt(libc::BPF_LDX | libc::BPF_W | libc::BPF_MEM, 2));
    a.push(stmt(libc::BPF_LD | libc::BPF_B | libc::BPF_IND, 12));
    a.jump_unless_eq(b'-' as u32, miss);
    a.bind(done);
    a.push(stmt(libc::BPF_LD | libc::BPF_MEM, 0));
    a.push(jmp(libc::BPF_JGE, shards as u32, 0, 1));
    a.ja(miss);
    a.push(stmt(libc::BPF_RET | libc::BPF_A, 0));
}

/// A = the value of the lower-case hex digit in A; not one: jump to `miss`.
fn hex_digit(a: &mut Asm, miss: Label) {
    let have = a.label();
    a.push(stmt(libc::BPF_ST, 1));
    a.push(stmt(libc::BPF_ALU | libc::BPF_SUB | libc::BPF_K, b'0' as u32));
    a.push(jmp(libc::BPF_JGT, 9, 1, 0)); // unsigned: below '0' wraps high
    a.ja(have);
    a.push(stmt(libc::BPF_LD | libc::BPF_MEM, 1));
    a.push(stmt(libc::BPF_ALU | libc::BPF_SUB | libc::BPF_K, b'a' as u32));
    a.push(jmp(libc::BPF_JGT, 5, 0, 1));
    a.ja(miss);
    a.push(stmt(libc::BPF_ALU | libc::BPF_ADD | libc::BPF_K, 10));
    a.bind(have);
}

/// Returns the first shard on the CPU that received the packet: `ld #cpu;
/// ret a` when shard `i` runs on CPU `i` for every shard, else a table of
/// CPU → shard; a CPU without a shard returns an index past the group.
fn cpu_table(a: &mut Asm, cpus: &[usize]) {
    a.push(stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32));
    if cpus.iter().enumerate().all(|(i, &c)| i == c) {
        a.push(stmt(libc::BPF_RET | libc::BPF_A, 0));
        return;
    }
    let mut seen = Vec::new();
    for (shard, &cpu) in cpus.iter().enumerate() {
        if seen.contains(&cpu) {
            continue;
        }
        seen.push(cpu);
        a.push(jmp(libc::BPF_JEQ, cpu as u32, 0, 1));
        a.ret_k(shard as u32);
    }
    a.ret_k(FALLBACK);
}

fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jmp(op: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code: (libc::BPF_JMP | op | libc::BPF_K) as u16, jt, jf, k }
}

#[derive(Clone, Copy)]
struct Label(usize);

/// Instructions with forward jumps to labels: conditional jumps only skip
/// one or two instructions (their offsets are 8 bits), anything further is
/// a `ja` (32 bits), patched when the program is finished.
#[derive(Default)]
struct Asm {
    code: Vec<sock_filter>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }
    fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.code.len());
    }
    fn push(&mut self, i: sock_filter) {
        self.code.push(i);
    }
    fn ja(&mut self, l: Label) {
        self.fixups.push((self.code.len(), l));
        self.push(stmt(libc::BPF_JMP | libc::BPF_JA, 0));
    }
    fn ret_k(&mut self, k: u32) {
        self.push(stmt(libc::BPF_RET | libc::BPF_K, k));
    }
    fn ld_len(&mut self) {
        self.push(stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_LEN, 0));
    }
    fn ld_word_abs(&mut self, offset: u32) {
        self.push(stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset));
    }
    fn jump_unless_eq(&mut self, k: u32, l: Label) {
        self.push(jmp(libc::BPF_JEQ, k, 1, 0));
        self.ja(l);
    }
    fn jump_unless_ge(&mut self, k: u32, l: Label) {
        self.push(jmp(libc::BPF_JGE, k, 1, 0));
        self.ja(l);
    }
    fn finish(mut self) -> Vec<sock_filter> {
        for (at, l) in self.fixups {
            let to = self.labels[l.0].expect("every label is bound");
            self.code[at].k = (to - at - 1) as u32;
        }
        debug_assert!(self.code.len() <= MAX_INSNS);
        self.code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::owner::write_branch;

    /// A classic BPF interpreter for what this file emits, as the kernel
    /// runs it: a load past the packet's end ends the program with 0.
    fn run(prog: &[sock_filter], packet: &[u8], cpu: u32) -> u32 {
        let (mut pc, mut a, mut x, mut m) = (0usize, 0u32, 0u32, [0u32; 16]);
        let load = |off: u32, size: usize| -> Option<u32> {
            let off = off as usize;
            let b = packet.get(off..off + size)?;
            Some(b.iter().fold(0u32, |v, &c| v << 8 | c as u32))
        };
        loop {
            let i = prog[pc];
            let (code, k) = (i.code as u32, i.k);
            pc += 1;
            let class = code & 0x07;
            match class {
                libc::BPF_LD | libc::BPF_LDX => {
                    let size = match code & 0x18 {
                        libc::BPF_W => 4,
                        libc::BPF_H => 2,
                        _ => 1,
                    };
                    let v = match code & 0xe0 {
                        libc::BPF_IMM => k,
                        libc::BPF_LEN => packet.len() as u32,
                        libc::BPF_MEM => m[k as usize],
                        libc::BPF_ABS if k == (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32 => cpu,
                        libc::BPF_ABS => match load(k, size) {
                            Some(v) => v,
                            None => return 0,
                        },
                        libc::BPF_IND => match load(x.wrapping_add(k), size) {
                            Some(v) => v,
                            None => return 0,
                        },
                        other => panic!("load mode {other:#x}"),
                    };
                    if class == libc::BPF_LD {
                        a = v
                    } else {
                        x = v
                    }
                }
                libc::BPF_ST => m[k as usize] = a,
                libc::BPF_STX => m[k as usize] = x,
                libc::BPF_ALU => {
                    let v = if code & 0x08 == libc::BPF_X { x } else { k };
                    a = match code & 0xf0 {
                        libc::BPF_ADD => a.wrapping_add(v),
                        libc::BPF_SUB => a.wrapping_sub(v),
                        libc::BPF_LSH => a << v,
                        other => panic!("alu {other:#x}"),
                    };
                }
                libc::BPF_JMP => {
                    let taken = match code & 0xf0 {
                        libc::BPF_JA => {
                            pc += k as usize;
                            continue;
                        }
                        libc::BPF_JEQ => a == k,
                        libc::BPF_JGT => a > k,
                        libc::BPF_JGE => a >= k,
                        other => panic!("jump {other:#x}"),
                    };
                    pc += if taken { i.jt as usize } else { i.jf as usize };
                }
                libc::BPF_RET => return if code & 0x18 == libc::BPF_A { a } else { k },
                other => panic!("class {other:#x}"),
            }
        }
    }

    fn response(branch: &[u8]) -> Vec<u8> {
        let mut r = b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=".to_vec();
        r.extend_from_slice(branch);
        r.extend_from_slice(b";received=192.0.2.10\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK-2-1\r\n");
        r.extend_from_slice(b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n");
        r
    }

    fn ours(shard: u16, seq: u64) -> Vec<u8> {
        let mut b = Vec::new();
        write_branch(shard, seq, &mut b);
        b
    }

    #[test]
    fn a_response_goes_to_the_shard_its_top_via_branch_names() {
        let prog = program(&[0, 1, 2, 3], false, true).unwrap();
        for shard in 0..4 {
            assert_eq!(run(&prog, &response(&ours(shard, 0x1234abcd)), 0), shard as u32);
        }
        // Many shards: up to four hex digits, every one read.
        let cpus: Vec<usize> = (0..1024).collect();
        let prog = program(&cpus, false, true).unwrap();
        for shard in [0x0, 0x9, 0xa, 0xf, 0x10, 0x1ff, 0x3ff] {
            assert_eq!(run(&prog, &response(&ours(shard, 7)), 0), shard as u32);
        }
    }

    #[test]
    fn anything_else_falls_back_to_the_hash() {
        let prog = program(&[0, 1, 2, 3], false, true).unwrap();
        // requests, even with a branch of our shape
        let req = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-1-1\r\n\r\n".repeat(3);
        assert_eq!(run(&prog, &req, 0), FALLBACK);
        // a shard past the group, someone else's branch, a bad digit, five digits, no dash
        for b in [&b"z9hG4bK-4-1"[..], b"z9hG4bK776asdhds", b"z9hG4bK-x-1", b"z9hG4bK-A-1", b"z9hG4bK-00001-1"] {
            assert_eq!(run(&prog, &response(b), 0), FALLBACK, "{}", String::from_utf8_lossy(b));
        }
        assert_eq!(run(&prog, &response(b"z9hG4bK--1"), 0), FALLBACK);
        // keepalives and runts: no load past the end (which would mean shard 0)
        for p in [&b"\r\n\r\n"[..], b"", b"SIP/", b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-1-"] {
            assert_eq!(run(&prog, p, 0), FALLBACK, "{}", String::from_utf8_lossy(p));
        }
        // a branch past the scanned window
        let mut late = b"SIP/2.0 200 OK\r\nX: ".to_vec();
        late.extend(std::iter::repeat_n(b'a', SCAN_MAX));
        late.extend_from_slice(&response(&ours(1, 1)));
        assert_eq!(run(&prog, &late, 0), FALLBACK);
    }

    #[test]
    fn every_length_and_offset_is_read_within_the_packet() {
        // The branch at every offset of the window, each packet cut at every
        // length: never shard 0 by a failed load, and found whenever whole.
        let prog = program(&[0, 1, 2, 3], false, true).unwrap();
        for pad in (0..SCAN_MAX - 4).step_by(5) {
            let mut p = b"SIP/".to_vec();
            p.extend(std::iter::repeat_n(b' ', pad));
            p.extend_from_slice(&ours(3, 0xbeef));
            p.extend_from_slice(b"\r\nCall-ID: 0123456789abcdef0123456789abcdef\r\n");
            for len in 0..=p.len() {
                let got = run(&prog, &p[..len], 0);
                assert!(got == 3 || got == FALLBACK, "pad {pad} len {len}: {got}");
            }
            assert_eq!(run(&prog, &p, 0), 3, "pad {pad}");
        }
    }

    #[test]
    fn with_cpu_steering_requests_go_by_cpu_and_responses_by_branch() {
        let prog = program(&[4, 6, 4], true, true).unwrap();
        assert!(prog.len() <= MAX_INSNS);
        let req = b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-2-1\r\n\r\n";
        assert_eq!(run(&prog, req, 6), 1);
        assert_eq!(run(&prog, &response(&ours(2, 9)), 6), 2);
        assert_eq!(run(&prog, &response(b"z9hG4bKother"), 4), 0);
        // 1024 shards on distinct CPUs with both parts still fit the kernel's limit.
        let many: Vec<usize> = (0..1024).map(|i| 4095 - i).collect();
        let prog = program(&many, true, true).unwrap();
        assert!(prog.len() <= MAX_INSNS, "{}", prog.len());
        assert_eq!(run(&prog, &response(&ours(700, 1)), 0), 700);
        assert_eq!(run(&prog, req, 4095 - 700), 700);
    }

    #[test]
    fn cpu_steering_alone() {
        let prog = program(&[0, 1, 2, 3], true, false).unwrap();
        assert_eq!(prog.len(), 2, "ld #cpu; ret a");
        assert_eq!((run(&prog, b"", 2), run(&prog, b"", 7)), (2, 7));
        // server.cores = [4, 6], three shards round-robin: CPU 4 has shards 0 and 2.
        let prog = program(&[4, 6, 4], true, false).unwrap();
        assert_eq!((run(&prog, b"", 4), run(&prog, b"", 6)), (0, 1));
        assert_eq!(run(&prog, b"", 0), FALLBACK, "a CPU without a shard: the kernel hashes");
        assert!(program(&[0, 1], false, false).is_none());
    }
}
