//! The lookup table of the chunk index and the files cache: an open-addressing table of entry
//! numbers. Its owner keeps the entries themselves, numbered from 0 in the order they were
//! added; the table keeps only their u32 numbers, in slots probed linearly from each key's
//! 64-bit hash, at a load between 0.67 and 0.85 (4.7 to 6 bytes an entry).

/// A slot that holds no entry.
const EMPTY: u32 = u32::MAX;

/// The table (see the module docs).
pub(crate) struct SlotTable {
    slots: Vec<u32>,
}

/// The table hash of a key that is a cryptographic hash or MAC (a chunk id, a path's BLAKE3):
/// its first 8 bytes, which are uniform. The key has at least 8 bytes.
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    let mut h = [0u8; 8];
    h.copy_from_slice(&key[..8]);
    u64::from_le_bytes(h)
}

/// Lemire's multiply-shift: maps a uniform 64-bit hash onto `0..n` without a division.
fn slot_of(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

impl SlotTable {
    /// A table with room for `n` entries before it grows.
    pub(crate) fn with_room(n: usize) -> Self {
        Self {
            slots: vec![EMPTY; (n * 3 / 2).max(16)],
        }
    }

    /// The slot of the entry that `is` accepts, or the empty slot where such an entry belongs.
    /// `hash` is the key's hash; `is` is asked of each entry number met on the way.
    pub(crate) fn find(
        &self,
        hash: u64,
        mut is: impl FnMut(u32) -> bool,
    ) -> std::result::Result<usize, usize> {
        let n = self.slots.len();
        let mut s = slot_of(hash, n);
        loop {
            let v = self.slots[s];
            if v == EMPTY {
                return Err(s);
            }
            if is(v) {
                return Ok(s);
            }
            s = if s + 1 == n { 0 } else { s + 1 };
        }
    }

    /// The entry number in `slot` (one that [`SlotTable::find`] found).
    pub(crate) fn at(&self, slot: usize) -> u32 {
        self.slots[slot]
    }

    /// Puts entry `entry` in the empty `slot` that [`SlotTable::find`] returned, now that the
    /// owner holds `len` entries; past a load of 0.85 the table grows and places every entry
    /// again by `hash_of` its number.
    pub(crate) fn fill(
        &mut self,
        slot: usize,
        entry: u32,
        len: usize,
        hash_of: impl Fn(u32) -> u64,
    ) {
        self.slots[slot] = entry;
        if len * 20 > self.slots.len() * 17 {
            let n = (len * 3 / 2).max(16);
            let mut slots = vec![EMPTY; n];
            for i in 0..len as u32 {
                // n > len: the probe meets an empty slot.
                let mut s = slot_of(hash_of(i), n);
                while slots[s] != EMPTY {
                    s = if s + 1 == n { 0 } else { s + 1 };
                }
                slots[s] = i;
            }
            self.slots = slots;
        }
    }

    /// Bytes the table holds.
    pub(crate) fn memory(&self) -> usize {
        self.slots.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_entry_across_growth_and_collisions() {
        // Keys with equal hashes probe past each other; the table grows from 16 slots.
        let keys: Vec<u64> = (0..5000u64)
            .map(|i| (i % 700).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let mut t = SlotTable::with_room(0);
        for (i, &k) in keys.iter().enumerate() {
            let Err(s) = t.find(k, |_| false) else {
                panic!("found before added")
            };
            t.fill(s, i as u32, i + 1, |e| keys[e as usize]);
            assert!(t.memory() >= (i + 1) * 4 * 20 / 17, "load past 0.85 at {i}");
        }
        for (i, &k) in keys.iter().enumerate() {
            let s = t.find(k, |e| e as usize == i).expect("added");
            assert_eq!(t.at(s), i as u32);
        }
        // A hash no entry has ends at an empty slot.
        assert!(t.find(12345, |e| keys[e as usize] == 12345).is_err());
        assert!(t.memory() <= keys.len() * 4 * 3 / 2 + 64);
    }
}
