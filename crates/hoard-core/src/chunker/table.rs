//! Rolling-hash tables derived from the chunker seed (a secret subkey in keyed repositories).

/// 256 words for `purpose`, taken from BLAKE3's keyed output stream under `seed`.
fn derive(seed: &[u8; 32], purpose: &str, out: &mut [u8]) {
    let mut hasher = blake3::Hasher::new_keyed(seed);
    hasher.update(purpose.as_bytes());
    hasher.finalize_xof().fill(out);
}

/// The Buzhash table: 256 32-bit words.
pub fn buzhash_table(seed: &[u8; 32]) -> [u32; 256] {
    let mut bytes = [0u8; 256 * 4];
    derive(seed, "hoard chunker table buzhash", &mut bytes);
    let mut table = [0u32; 256];
    for (word, b) in table.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    table
}

/// The Gear table: 256 64-bit words.
pub fn gear_table(seed: &[u8; 32]) -> [u64; 256] {
    let mut bytes = [0u8; 256 * 8];
    derive(seed, "hoard chunker table gear", &mut bytes);
    let mut table = [0u64; 256];
    for (word, b) in table.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        *word = u64::from_le_bytes(w);
    }
    table
}
