//! Index objects (`index/<id>`): the tables of contents of a set of packs, in one sealed object
//! of type 4 whose id is the index object's own (random) id. The client's chunk index is the
//! union of the index objects the repository lists.
//!
//! Plaintext (inside a compression frame): version byte 1, a u32 LE pack count, then per pack its
//! id (32 bytes), a u32 LE entry count and that many table entries (docs/format.md, section
//! 10.8). Version byte 2 marks a *replacing* index object (recreate's recompressed chunks): its
//! places win over those other index objects give for the same ids.

use crate::chunk_index::{ChunkIndex, Location};
use crate::codec::{self, Codec};
use crate::envelope::{Opener, Session};
use crate::error::{Error, Result};
use crate::id::{ChunkId, ID_LEN};
use crate::pack::{ENTRY_LEN, TocEntry};

/// The object type byte of index objects.
pub const INDEX_TYPE: u8 = 4;
/// The largest plaintext an index object may declare (1 GiB).
pub const MAX_INDEX: usize = 1 << 30;

/// One pack as an index object lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedPack {
    /// The pack id.
    pub id: ChunkId,
    /// Its blobs.
    pub entries: Vec<TocEntry>,
}

/// The version byte of an ordinary index object.
const VERSION: u8 = 1;
/// The version byte of a replacing index object.
const VERSION_REPLACING: u8 = 2;

/// The plaintext of an index object listing `packs`.
pub fn encode(packs: &[IndexedPack]) -> Vec<u8> {
    encode_as(packs, false)
}

/// The plaintext of an index object listing `packs`, replacing other places of its blobs when
/// `replacing` is set.
pub fn encode_as(packs: &[IndexedPack], replacing: bool) -> Vec<u8> {
    let n: usize = packs.iter().map(|p| p.entries.len()).sum();
    let mut out = Vec::with_capacity(5 + packs.len() * 36 + n * ENTRY_LEN);
    out.push(if replacing {
        VERSION_REPLACING
    } else {
        VERSION
    });
    out.extend_from_slice(&(packs.len() as u32).to_le_bytes());
    for p in packs {
        out.extend_from_slice(&p.id);
        let toc = crate::pack::encode_toc(&p.entries);
        // The table's own version byte is dropped; its count and entries follow the pack id.
        out.extend_from_slice(&toc[1..]);
    }
    out
}

/// Parses an index object's plaintext.
pub fn decode(plain: &[u8]) -> Result<Vec<IndexedPack>> {
    decode_flagged(plain).map(|(packs, _)| packs)
}

/// Parses an index object's plaintext; also says whether it is a replacing one.
pub fn decode_flagged(plain: &[u8]) -> Result<(Vec<IndexedPack>, bool)> {
    let bad = || Error::corrupt("index object is malformed");
    if plain.len() < 5 || (plain[0] != VERSION && plain[0] != VERSION_REPLACING) {
        return Err(bad());
    }
    let replacing = plain[0] == VERSION_REPLACING;
    let u32_at = |at: usize| -> Result<usize> {
        let b = plain.get(at..at + 4).ok_or_else(bad)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = u32_at(1)?;
    let mut at = 5;
    let mut out = Vec::with_capacity(count.min(plain.len() / 36));
    for _ in 0..count {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(plain.get(at..at + ID_LEN).ok_or_else(bad)?);
        let n = u32_at(at + ID_LEN)?;
        let start = at + ID_LEN;
        let end = start + 4 + n.checked_mul(ENTRY_LEN).ok_or_else(bad)?;
        let body = plain.get(start..end).ok_or_else(bad)?;
        let mut toc = Vec::with_capacity(1 + body.len());
        toc.push(1);
        toc.extend_from_slice(body);
        let entries = crate::pack::decode_toc(&toc, crate::pack::MAX_PACK)?;
        out.push(IndexedPack { id, entries });
        at = end;
    }
    if at != plain.len() {
        return Err(bad());
    }
    Ok((out, replacing))
}

/// Seals an index object with id `id` listing `packs`.
pub fn seal(session: &Session, id: &ChunkId, packs: &[IndexedPack]) -> Result<Vec<u8>> {
    seal_as(session, id, packs, false)
}

/// Seals an index object with id `id` listing `packs`, a replacing one when `replacing` is set.
pub fn seal_as(
    session: &Session,
    id: &ChunkId,
    packs: &[IndexedPack],
    replacing: bool,
) -> Result<Vec<u8>> {
    let frame = codec::compress(Codec::None, &encode_as(packs, replacing))?;
    session.seal(INDEX_TYPE, id, &frame)
}

/// Opens index object `id`.
pub fn open(opener: &Opener, id: &ChunkId, sealed: &[u8]) -> Result<Vec<IndexedPack>> {
    open_flagged(opener, id, sealed).map(|(packs, _)| packs)
}

/// Opens index object `id`; also says whether it is a replacing one.
pub fn open_flagged(
    opener: &Opener,
    id: &ChunkId,
    sealed: &[u8],
) -> Result<(Vec<IndexedPack>, bool)> {
    let frame = opener.open(INDEX_TYPE, id, sealed)?;
    decode_flagged(&codec::decompress(&frame, MAX_INDEX)?)
}

/// Adds every blob of `packs` to `index`; returns how many were new.
pub fn add_to(index: &mut ChunkIndex, packs: &[IndexedPack]) -> usize {
    add_as(index, packs, false)
}

/// Adds every blob of `packs` to `index`, moving blobs it has already to the places `packs`
/// give when `replacing` is set; returns how many were new.
pub fn add_as(index: &mut ChunkIndex, packs: &[IndexedPack], replacing: bool) -> usize {
    let mut added = 0;
    for p in packs {
        let pack = index.add_pack(&p.id);
        for e in &p.entries {
            let loc = Location {
                pack,
                offset: e.offset,
                length: e.length,
            };
            let new = if replacing {
                index.replace(&e.id, loc, e.plain)
            } else {
                index.insert(&e.id, loc, e.plain)
            };
            if new {
                added += 1;
            }
        }
    }
    added
}
