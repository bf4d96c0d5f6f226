//! A small, allocation-free string hash for the fixed tables.

/// Mixes the bytes eight at a time (the tail zero-padded, the length
/// folded in first), then a 64-bit finaliser so that the low bits used
/// to pick a slot are well mixed.
///
/// Eight bytes a step rather than one: a conversation id of 27 bytes is
/// hashed on every `record`, and the byte loop was a tenth of its cost.
pub(crate) fn hash_str(s: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;

    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut w = [0u8; 8];
        w[..tail.len()].copy_from_slice(tail);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }

    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_inputs_spread() {
        // Prefixes, zero padding and near neighbours all differ.
        let inputs = [
            "",
            "a",
            "a\0",
            "ab",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "conv_2025-12-28_jh_abc12345",
            "conv_2025-12-28_jh_abc12346",
        ];
        let hashes: Vec<u64> = inputs.iter().map(|s| hash_str(s)).collect();
        for (i, a) in hashes.iter().enumerate() {
            for (j, b) in hashes.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{:?} and {:?}", inputs[i], inputs[j]);
            }
        }

        // Sequential ids fill the low bits evenly.
        let mut seen = [0u32; 64];
        for i in 0..64_000 {
            seen[(hash_str(&format!("c{i}")) & 63) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }
}
