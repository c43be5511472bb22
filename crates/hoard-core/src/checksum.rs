//! Content checksums that borg's `list --format` offers besides the cryptographic ones Node has:
//! `{xxh64}` (XXH64 with seed 0).

/// A streaming XXH64 with seed 0: [`update`](Xxh64::update) with the bytes in order, then
/// [`hex_digest`](Xxh64::hex_digest).
pub struct Xxh64(xxhash_rust::xxh64::Xxh64);

impl Default for Xxh64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Xxh64 {
    /// A hasher over no bytes yet.
    pub fn new() -> Self {
        Self(xxhash_rust::xxh64::Xxh64::new(0))
    }

    /// Adds `data` to what is hashed.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The hash of everything added so far as 16 hex digits, most significant first (Python's
    /// `hexdigest`, which borg prints).
    pub fn hex_digest(&self) -> String {
        format!("{:016x}", self.0.digest())
    }
}

#[cfg(test)]
mod tests {
    use super::Xxh64;

    fn of(pieces: &[&[u8]]) -> String {
        let mut h = Xxh64::new();
        for p in pieces {
            h.update(p);
        }
        h.hex_digest()
    }

    #[test]
    fn reference_values() {
        // From the XXH64 reference implementation (xxhsum -H1).
        assert_eq!(of(&[b""]), "ef46db3751d8e999");
        assert_eq!(of(&[b"a"]), "d24ec4f1a98c6e5b");
        assert_eq!(of(&[b"abc"]), "44bc2cf5ad770999");
    }

    #[test]
    fn pieces_hash_as_one() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = of(&[&data]);
        for cut in [0, 1, 31, 32, 33, 500, 999, 1000] {
            assert_eq!(of(&[&data[..cut], &data[cut..]]), whole, "cut at {cut}");
        }
    }
}
