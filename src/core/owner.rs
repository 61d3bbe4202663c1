//! Who owns what across shards, in one place.
//!
//! Responses to requests a shard sends upstream must reach the shard that
//! holds the transaction. The design: every shard sends from its own socket
//! of the listener (so the source address is the edge's well-known address
//! and port, which carriers whitelist and often answer to regardless of
//! Via), and writes its shard number into the Via branch it generates:
//! `z9hG4bK-<shard hex>-<unique>`. Over UDP the listener's reuseport
//! program reads that branch and hands the response to that shard's socket
//! (`server.steer_responses`, `shard/steer_bpf.rs`); where it cannot (turned
//! off, or a response it could not scan) the kernel's hash picks a shard,
//! which reads the branch of the top Via and, when the branch names another
//! shard, hands the message over the mesh (one hop, owned bytes). The
//! program's reading of the branch must follow `write_branch`. Over TCP the
//! connection is owned by the shard that opened it, so its responses arrive
//! on the right shard already.

use crate::sip::Via;

/// RFC 3261 magic cookie.
pub const COOKIE: &[u8] = b"z9hG4bK";

/// Writes a branch owned by `shard` with a unique `seq` into `out`.
pub fn write_branch(shard: u16, seq: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    out.extend_from_slice(COOKIE);
    let _ = write!(out, "-{shard:x}-{seq:x}");
}

/// The `seq` of a branch `write_branch(shard, seq)` wrote, spelled exactly
/// so (another shard's, or the same number written another way: None).
pub fn branch_seq(branch: &[u8], shard: u16) -> Option<u64> {
    let (_, seq) = branch_parts(branch)?;
    let seq = u64::from_str_radix(std::str::from_utf8(seq).ok()?, 16).ok()?;
    let mut again = Vec::with_capacity(branch.len());
    write_branch(shard, seq, &mut again);
    (again == branch).then_some(seq)
}

/// The shard named by a branch written by `write_branch`, if any.
pub fn branch_shard(branch: &[u8]) -> Option<u16> {
    let (shard, _) = branch_parts(branch)?;
    if shard.is_empty() || shard.len() > 4 {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(shard).ok()?, 16).ok()
}

/// The shard and the number of a branch in `write_branch`'s shape, as
/// written (hex, unchecked).
fn branch_parts(branch: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = branch.strip_prefix(COOKIE)?.strip_prefix(b"-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    Some((&rest[..dash], &rest[dash + 1..]))
}

/// The shard that owns the transaction a response belongs to, from its top
/// Via (parsed once, by `sip::check_response`, for the owner check and the
/// transaction lookup alike).
pub fn response_owner(top_via: &Via<'_>) -> Option<u16> {
    branch_shard(top_via.branch()?)
}

/// FNV-1a over `parts`, one after the other: the edge's one cheap,
/// stable hash (To tags, transaction keys of RFC 2543 peers, upstream
/// choice by Call-ID).
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    parts.iter().flat_map(|p| p.iter()).fold(0xcbf29ce484222325, |h, &c| (h ^ c as u64).wrapping_mul(0x100000001b3))
}

/// The shard that owns an address-of-record: FNV-1a over the lower-cased AOR.
pub fn shard_of(aor: &[u8], shards: usize) -> usize {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in aor {
        h ^= b.to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % shards.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_round_trips_the_shard() {
        for shard in [0u16, 1, 9, 15, 255, 4095] {
            let mut b = Vec::new();
            write_branch(shard, 0xdead_beef, &mut b);
            assert_eq!(branch_shard(&b), Some(shard));
        }
    }

    #[test]
    fn a_branch_gives_back_its_number_only_as_written() {
        let mut b = Vec::new();
        write_branch(3, 0x8fb5_db5b_0004, &mut b);
        assert_eq!(branch_seq(&b, 3), Some(0x8fb5_db5b_0004));
        assert_eq!(branch_seq(&b, 4), None, "another shard's");
        for other in
            [&b"z9hG4bK-3-08fb5db5b0004"[..], b"z9hG4bK-3-8FB5DB5B0004", b"z9hG4bK-3-+8fb5", b"z9hG4bK-3-", b"z9hG4bKx"]
        {
            assert_eq!(branch_seq(other, 3), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn foreign_branches_name_no_shard() {
        for b in [&b"z9hG4bK776asdhds"[..], b"z9hG4bK", b"z9hG4bK--1", b"z9hG4bK-zz-1", b"abc-1-2", b"z9hG4bK-12345-1"]
        {
            assert_eq!(branch_shard(b), None, "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn shard_of_is_case_insensitive_and_in_range() {
        assert_eq!(shard_of(b"sip:Alice@Example.com", 7), shard_of(b"sip:alice@example.com", 7));
        for i in 0..1000u32 {
            assert!(shard_of(format!("sip:{i}@x").as_bytes(), 4) < 4);
        }
        assert_eq!(shard_of(b"anything", 1), 0);
    }
}
