//! The sealed blob envelope: every object hoard stores is one of these (layout in docs/format.md).
//!
//! ```text
//! 0   1  envelope version (1)
//! 1   1  suite byte (see `Suite`)
//! 2  16  session id
//! 18  8  nonce counter, little endian
//! 26  n  body: ciphertext (AEAD suites) or plaintext (checksum and MAC suites)
//! .. 16  tag: AEAD tag, or the first 16 bytes of BLAKE3 over AAD || plaintext
//! AAD = the 26 header bytes || object type (1 byte) || chunk id (32 bytes)
//! ```
//!
//! Each writer seals under a session key, HKDF-SHA256(salt = session id, ikm = encryption subkey),
//! so nonces need no coordination between writers or with older copies of a repository: the random
//! 128-bit session id makes each session's key new, and the counter makes each nonce unique in it.

use std::sync::atomic::{AtomicU64, Ordering};

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, ErrorKind};
use crate::id::ChunkId;
use crate::keys::{Suite, expand};

/// The envelope version written now.
pub const VERSION: u8 = 1;
/// Bytes before the body.
pub const HEADER_LEN: usize = 26;
/// Bytes after the body.
pub const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Blobs one session may seal; a writer starts a new session after that.
pub const SESSION_LIMIT: u64 = 1 << 32;

enum SessionKey {
    Aead(Box<LessSafeKey>),
    Mac([u8; 32]),
    Checksum,
}

fn session_key(suite: Suite, enc_key: &[u8; 32], session_id: &[u8; 16]) -> SessionKey {
    let derive = || {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, session_id).extract(enc_key);
        expand(&prk, &[b"hoard/1 session ", suite.name().as_bytes()])
    };
    let aead_key = |alg: &'static aead::Algorithm| {
        // Both algorithms take 32-byte keys, which is what `derive` returns.
        #[allow(clippy::expect_used)]
        let unbound = UnboundKey::new(alg, &derive()).expect("32-byte AEAD key");
        SessionKey::Aead(Box::new(LessSafeKey::new(unbound)))
    };
    match suite {
        Suite::Aes256Gcm => aead_key(&aead::AES_256_GCM),
        Suite::ChaCha20Poly1305 => aead_key(&aead::CHACHA20_POLY1305),
        Suite::Authenticated => SessionKey::Mac(derive()),
        Suite::Plaintext => SessionKey::Checksum,
    }
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&counter.to_le_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(header: &[u8], obj_type: u8, id: &ChunkId) -> [u8; HEADER_LEN + 1 + 32] {
    let mut a = [0u8; HEADER_LEN + 33];
    a[..HEADER_LEN].copy_from_slice(header);
    a[HEADER_LEN] = obj_type;
    a[HEADER_LEN + 1..].copy_from_slice(id);
    a
}

fn mac_tag(key: Option<&[u8; 32]>, aad: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
    let mut h = match key {
        Some(k) => blake3::Hasher::new_keyed(k),
        None => blake3::Hasher::new(),
    };
    h.update(aad);
    h.update(body);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&h.finalize().as_bytes()[..TAG_LEN]);
    tag
}

fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A writer's sealing state: one session key and a nonce counter. Shared by all worker threads of
/// a writer; the atomic counter gives each blob its own nonce.
pub struct Session {
    suite: Suite,
    id: [u8; 16],
    key: SessionKey,
    counter: AtomicU64,
}

impl Session {
    /// A session with a fresh random id.
    pub fn new(suite: Suite, enc_key: &[u8; 32]) -> Result<Self, Error> {
        let mut id = [0u8; 16];
        SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| Error::new(ErrorKind::Io, "the system random source failed"))?;
        Ok(Self::with_id(suite, enc_key, id))
    }

    /// A session with the given id (tests and tools; writers use [`Session::new`]).
    pub fn with_id(suite: Suite, enc_key: &[u8; 32], id: [u8; 16]) -> Self {
        Self {
            suite,
            id,
            key: session_key(suite, enc_key, &id),
            counter: AtomicU64::new(0),
        }
    }

    /// The session id written in each blob.
    pub fn id(&self) -> [u8; 16] {
        self.id
    }

    /// The suite this session seals with.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Seals `plaintext` as an object of `obj_type` with chunk id `id`.
    pub fn seal(&self, obj_type: u8, id: &ChunkId, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.seal_parts(obj_type, id, &[plaintext])
    }

    /// Seals the concatenation of `parts` (e.g. a compression frame's header and body) without
    /// joining them first: they are copied once, into the blob, and encrypted there.
    pub fn seal_parts(
        &self,
        obj_type: u8,
        id: &ChunkId,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, Error> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(OVERHEAD + len);
        out.resize(HEADER_LEN, 0);
        for p in parts {
            out.extend_from_slice(p);
        }
        let (header, tag) = self.seal_detached(obj_type, id, &mut out[HEADER_LEN..])?;
        out[..HEADER_LEN].copy_from_slice(&header);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Seals `body` where it lies (encrypting it in place for the AEAD suites) and returns the
    /// header and tag that go before and after it: a writer that owns the buffer writes the three
    /// pieces without copying the body at all.
    pub fn seal_detached(
        &self,
        obj_type: u8,
        id: &ChunkId,
        body: &mut [u8],
    ) -> Result<([u8; HEADER_LEN], [u8; TAG_LEN]), Error> {
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        if counter >= SESSION_LIMIT {
            return Err(Error::new(
                ErrorKind::SessionExhausted,
                "session has sealed its limit of blobs; start a new session",
            ));
        }
        let mut header = [0u8; HEADER_LEN];
        header[0] = VERSION;
        header[1] = self.suite as u8;
        header[2..18].copy_from_slice(&self.id);
        header[18..26].copy_from_slice(&counter.to_le_bytes());
        let aad = aad(&header, obj_type, id);
        let tag = match &self.key {
            SessionKey::Aead(key) => {
                let tag = key
                    .seal_in_place_separate_tag(nonce(counter), Aad::from(&aad), body)
                    .map_err(|_| Error::invalid("plaintext too large to seal"))?;
                let mut t = [0u8; TAG_LEN];
                t.copy_from_slice(tag.as_ref());
                t
            }
            SessionKey::Mac(k) => mac_tag(Some(k), &aad, body),
            SessionKey::Checksum => mac_tag(None, &aad, body),
        };
        Ok((header, tag))
    }
}

/// Opens sealed blobs of one suite under one encryption subkey.
pub struct Opener {
    suite: Suite,
    enc_key: [u8; 32],
}

impl Opener {
    /// An opener that accepts only `suite` (a repository fixes its suite; any other is a downgrade).
    pub fn new(suite: Suite, enc_key: &[u8; 32]) -> Self {
        Self {
            suite,
            enc_key: *enc_key,
        }
    }

    /// The suite this opener accepts.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Checks and opens `blob`, which must be an object of `obj_type` with chunk id `id`.
    pub fn open(&self, obj_type: u8, id: &ChunkId, blob: &[u8]) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; blob.len().saturating_sub(HEADER_LEN)];
        let n = self.open_in(obj_type, id, blob, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Opens `blob` as [`Opener::open`] does, into the start of `buf` (at least the blob's length
    /// less [`HEADER_LEN`]; a buffer the caller reuses), and returns the plaintext's length.
    pub fn open_in(
        &self,
        obj_type: u8,
        id: &ChunkId,
        blob: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        if blob.len() < OVERHEAD {
            return Err(Error::corrupt(format!(
                "blob of {} bytes is shorter than the envelope",
                blob.len()
            )));
        }
        let (header, rest) = blob.split_at(HEADER_LEN);
        if header[0] != VERSION {
            return Err(Error::corrupt(format!(
                "unknown envelope version {}",
                header[0]
            )));
        }
        let suite = Suite::from_byte(header[1])
            .ok_or_else(|| Error::corrupt(format!("unknown suite byte {:#04x}", header[1])))?;
        if suite != self.suite {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "blob is sealed with {suite}, but this repository uses {}",
                    self.suite
                ),
            ));
        }
        let buf = buf
            .get_mut(..rest.len())
            .ok_or_else(|| Error::invalid("the buffer to open a blob in is too small"))?;
        let mut session_id = [0u8; 16];
        session_id.copy_from_slice(&header[2..18]);
        let mut ctr = [0u8; 8];
        ctr.copy_from_slice(&header[18..26]);
        let counter = u64::from_le_bytes(ctr);
        let aad = aad(header, obj_type, id);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let auth_failed = || {
            Error::new(
                ErrorKind::Integrity,
                "blob failed authentication (corrupted, wrong key, or not the object asked for)",
            )
        };
        match session_key(suite, &self.enc_key, &session_id) {
            SessionKey::Aead(key) => {
                buf.copy_from_slice(rest);
                key.open_in_place(nonce(counter), Aad::from(&aad), buf)
                    .map(|plain| plain.len())
                    .map_err(|_| auth_failed())
            }
            SessionKey::Mac(k) if tags_equal(&mac_tag(Some(&k), &aad, body), tag) => {
                buf[..body.len()].copy_from_slice(body);
                Ok(body.len())
            }
            SessionKey::Checksum if tags_equal(&mac_tag(None, &aad, body), tag) => {
                buf[..body.len()].copy_from_slice(body);
                Ok(body.len())
            }
            _ => Err(auth_failed()),
        }
    }
}

#[cfg(test)]
mod tests;
