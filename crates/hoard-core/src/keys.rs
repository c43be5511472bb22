//! Cipher suites and the subkeys derived from a master key by HKDF-SHA256.

use std::fmt;
use std::str::FromStr;

use ring::hkdf;

use crate::error::Error;

/// How blobs are protected. The byte value is written in every blob header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Suite {
    /// No key: plaintext with an unkeyed BLAKE3 checksum (`none` mode still detects corruption).
    Plaintext = 0x00,
    /// Plaintext with a keyed BLAKE3 MAC (`authenticated` mode).
    Authenticated = 0x01,
    /// AES-256-GCM.
    Aes256Gcm = 0x02,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305 = 0x03,
}

impl Suite {
    /// Every suite, in the order `benchmark cpu` prints them.
    pub const ALL: [Self; 4] = [
        Self::Plaintext,
        Self::Authenticated,
        Self::Aes256Gcm,
        Self::ChaCha20Poly1305,
    ];

    /// The suite's name as written in configs and output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext-blake3",
            Self::Authenticated => "blake3-mac",
            Self::Aes256Gcm => "aes-256-gcm",
            Self::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }

    /// The suite whose header byte is `b`.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u8 == b)
    }

    /// Whether the suite keeps the plaintext secret.
    pub fn encrypts(self) -> bool {
        matches!(self, Self::Aes256Gcm | Self::ChaCha20Poly1305)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| Error::invalid(format!("unknown cipher suite {s:?}")))
    }
}

/// Checks that `suite` and the chunk id `algorithm` go together: a keyed suite needs keyed ids,
/// since unkeyed ids would let anyone who holds a file confirm that a repository stores it.
pub fn check_pairing(suite: Suite, algorithm: crate::id::IdAlgorithm) -> Result<(), Error> {
    use crate::id::IdAlgorithm::{Blake3, Sha256};
    if suite != Suite::Plaintext && matches!(algorithm, Blake3 | Sha256) {
        return Err(Error::invalid(format!(
            "{suite} needs keyed chunk ids (keyed-blake3 or hmac-sha256), not {algorithm}"
        )));
    }
    Ok(())
}

/// The purposes a master key is split into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Sealing blobs (session keys are derived from this).
    Encryption,
    /// Chunk ids.
    ChunkId,
    /// The chunker's table.
    Chunker,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Self::Encryption => "encryption",
            Self::ChunkId => "chunk-id",
            Self::Chunker => "chunker",
        }
    }
}

/// Shortest master key accepted.
pub const MIN_MASTER_LEN: usize = 32;

/// The three subkeys of a master key under one suite.
#[derive(Clone)]
pub struct Subkeys {
    /// Sealing blobs.
    pub encryption: [u8; 32],
    /// Chunk ids.
    pub chunk_id: [u8; 32],
    /// The chunker's table seed.
    pub chunker: [u8; 32],
}

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA256 expand of `prk` with `info`, 32 bytes.
pub(crate) fn expand(prk: &hkdf::Prk, info: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // Expanding 32 bytes is far below HKDF-SHA256's limit of 255 * 32, and Len32 asks exactly for
    // `out.len()`, so neither call can fail.
    #[allow(clippy::expect_used)]
    prk.expand(info, Len32)
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF expand of 32 bytes");
    out
}

/// One subkey of `master`: HKDF-SHA256 with info `hoard/1 <purpose> <suite>`.
pub fn subkey(master: &[u8], purpose: Purpose, suite: Suite) -> Result<[u8; 32], Error> {
    if master.len() < MIN_MASTER_LEN {
        return Err(Error::invalid(format!(
            "master key must be at least {MIN_MASTER_LEN} bytes, got {}",
            master.len()
        )));
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"hoard master key").extract(master);
    Ok(expand(
        &prk,
        &[
            b"hoard/1 ",
            purpose.label().as_bytes(),
            b" ",
            suite.name().as_bytes(),
        ],
    ))
}

/// All subkeys of `master` under `suite`.
pub fn subkeys(master: &[u8], suite: Suite) -> Result<Subkeys, Error> {
    Ok(Subkeys {
        encryption: subkey(master, Purpose::Encryption, suite)?,
        chunk_id: subkey(master, Purpose::ChunkId, suite)?,
        chunker: subkey(master, Purpose::Chunker, suite)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subkeys_differ_by_purpose_suite_and_master() {
        let m = [9u8; 64];
        let a = subkeys(&m, Suite::Aes256Gcm).expect("subkeys");
        let c = subkeys(&m, Suite::ChaCha20Poly1305).expect("subkeys");
        assert_ne!(a.encryption, a.chunk_id);
        assert_ne!(a.chunk_id, a.chunker);
        assert_ne!(a.encryption, c.encryption);
        let other = subkeys(&[8u8; 64], Suite::Aes256Gcm).expect("subkeys");
        assert_ne!(a.encryption, other.encryption);
        // Deterministic.
        assert_eq!(
            a.chunker,
            subkeys(&m, Suite::Aes256Gcm).expect("subkeys").chunker
        );
    }

    #[test]
    fn keyed_suites_need_keyed_ids() {
        use crate::id::IdAlgorithm;
        for suite in Suite::ALL {
            for algo in IdAlgorithm::ALL {
                let keyed = matches!(algo, IdAlgorithm::KeyedBlake3 | IdAlgorithm::HmacSha256);
                assert_eq!(
                    check_pairing(suite, algo).is_ok(),
                    keyed || suite == Suite::Plaintext
                );
            }
        }
    }

    #[test]
    fn short_master_keys_are_refused() {
        assert!(subkeys(&[0u8; 31], Suite::Aes256Gcm).is_err());
        for s in Suite::ALL {
            assert_eq!(Suite::from_byte(s as u8), Some(s));
            assert_eq!(s.name().parse::<Suite>(), Ok(s));
        }
        assert_eq!(Suite::from_byte(0x7f), None);
    }
}
