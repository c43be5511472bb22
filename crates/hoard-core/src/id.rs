//! Chunk ids: a MAC of the plaintext under the chunk-id subkey (or a plain hash without a key).

use std::fmt;
use std::str::FromStr;

use ring::hmac;

use crate::error::Error;

/// Bytes in every chunk id.
pub const ID_LEN: usize = 32;

/// A chunk id.
pub type ChunkId = [u8; ID_LEN];

/// How chunk ids are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdAlgorithm {
    /// BLAKE3 in keyed mode (the default for keyed repositories).
    KeyedBlake3,
    /// HMAC-SHA256 (borg 1.x's choice; fast where SHA extensions exist).
    HmacSha256,
    /// Unkeyed BLAKE3, for unencrypted repositories.
    Blake3,
    /// Unkeyed SHA-256, for unencrypted repositories (borg's `none` mode).
    Sha256,
}

impl IdAlgorithm {
    /// Every algorithm, in the order `benchmark cpu` prints them.
    pub const ALL: [Self; 4] = [
        Self::KeyedBlake3,
        Self::HmacSha256,
        Self::Blake3,
        Self::Sha256,
    ];

    /// The algorithm's name as written in specs and configs.
    pub fn name(self) -> &'static str {
        match self {
            Self::KeyedBlake3 => "keyed-blake3",
            Self::HmacSha256 => "hmac-sha256",
            Self::Blake3 => "blake3",
            Self::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for IdAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IdAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| Error::invalid(format!("unknown id algorithm {s:?}")))
    }
}

/// Computes chunk ids with one algorithm and key.
#[derive(Clone)]
pub struct IdHasher {
    algorithm: IdAlgorithm,
    key: [u8; 32],
    hmac: hmac::Key,
}

impl IdHasher {
    /// A hasher for `algorithm` under `key` (ignored by the unkeyed algorithms).
    pub fn new(algorithm: IdAlgorithm, key: &[u8; 32]) -> Self {
        Self {
            algorithm,
            key: *key,
            hmac: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The algorithm in use.
    pub fn algorithm(&self) -> IdAlgorithm {
        self.algorithm
    }

    /// The id of `data`.
    pub fn id(&self, data: &[u8]) -> ChunkId {
        let mut out = [0u8; ID_LEN];
        match self.algorithm {
            IdAlgorithm::KeyedBlake3 => out = *blake3::keyed_hash(&self.key, data).as_bytes(),
            IdAlgorithm::Blake3 => out = *blake3::hash(data).as_bytes(),
            IdAlgorithm::HmacSha256 => out.copy_from_slice(hmac::sign(&self.hmac, data).as_ref()),
            IdAlgorithm::Sha256 => {
                out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_answers() {
        // RFC 4231 test case 2 uses a short key; ours are 32 bytes, so check SHA-256 and HMAC
        // against the published vectors for "abc" and a 32-byte key of 0x0b.
        let unkeyed = IdHasher::new(IdAlgorithm::Sha256, &[0u8; 32]);
        assert_eq!(
            hex(&unkeyed.id(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let b3 = IdHasher::new(IdAlgorithm::Blake3, &[0u8; 32]);
        assert_eq!(
            hex(&b3.id(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let hm = IdHasher::new(IdAlgorithm::HmacSha256, &[0x0b; 32]);
        // HMAC-SHA256(key = 0x0b * 32, "Hi There"), as computed by Python's hmac module.
        assert_eq!(
            hex(&hm.id(b"Hi There")),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }

    #[test]
    fn keyed_ids_depend_on_the_key_and_unkeyed_do_not() {
        for algo in IdAlgorithm::ALL {
            let a = IdHasher::new(algo, &[1; 32]).id(b"chunk");
            let b = IdHasher::new(algo, &[2; 32]).id(b"chunk");
            let keyed = matches!(algo, IdAlgorithm::KeyedBlake3 | IdAlgorithm::HmacSha256);
            assert_eq!(a != b, keyed, "{algo}");
            assert_eq!(algo.name().parse::<IdAlgorithm>(), Ok(algo));
        }
    }
}
