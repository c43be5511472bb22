//! What `hoard check` asks of packs: where a pack's parts must lie according to the table an
//! index object lists for it, whether its head and tail agree with that table, and (for
//! `--verify-data`) whether every blob it lists opens, decompresses to its listed length and,
//! for content-addressed blobs, matches its id.
//!
//! A pack is `MAGIC`, its blobs back to back in table order, the sealed table of contents (a
//! frame of codec none), the table's length and `END_MAGIC` (docs/format.md, section 10.7), so
//! the table alone fixes every offset and the pack's size.

use rayon::prelude::*;

use crate::codec::FRAME_HEADER_LEN;
use crate::envelope::{OVERHEAD, Opener};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{ChunkId, IdHasher};
use crate::pack::{self, ENTRY_LEN, MAGIC, TRAILER_LEN, TocEntry};
use crate::pool::pool;

pub mod salvage;

/// Object types whose id is the chunk id of their plaintext: chunks (0) and trees (1).
const CONTENT_ADDRESSED: [u8; 2] = [0, 1];
/// The most a blob may decompress to when verified (trees may reach 256 MiB).
pub const MAX_BLOB: usize = 256 << 20;

/// Where a pack's parts lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Where the blobs end and the table of contents starts.
    pub blobs_end: usize,
    /// The sealed table's length.
    pub toc_len: usize,
    /// The whole pack's length.
    pub pack_len: usize,
}

/// The length of a sealed table of contents of `count` entries.
pub fn sealed_toc_len(count: usize) -> usize {
    OVERHEAD + FRAME_HEADER_LEN + 5 + count * ENTRY_LEN
}

/// The layout of a pack whose blobs are `entries`; they must follow the magic back to back, in
/// order, as writers put them.
pub fn layout(entries: &[TocEntry]) -> Result<Layout> {
    let mut at = MAGIC.len();
    for e in entries {
        if e.offset as usize != at {
            return Err(Error::corrupt(format!(
                "the table lists a blob at offset {} where one at {at} was expected",
                e.offset
            )));
        }
        at += e.length as usize;
    }
    let toc_len = sealed_toc_len(entries.len());
    Ok(Layout {
        blobs_end: at,
        toc_len,
        pack_len: at + toc_len + TRAILER_LEN,
    })
}

/// Checks a pack's structure against `listed`, the table its index object gives: `head` is the
/// pack's first bytes (at least the magic); `tail` is what a read from the layout's `blobs_end`
/// for `toc_len + TRAILER_LEN + 1` bytes returned, so that a longer pack shows as one byte too
/// many. Returns one message per problem found, empty for a sound pack.
pub fn check_structure(
    opener: &Opener,
    pack_id: &ChunkId,
    head: &[u8],
    tail: &[u8],
    listed: &[TocEntry],
) -> Vec<String> {
    let mut problems = Vec::new();
    if head.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        problems.push("does not start with the pack magic".to_string());
    }
    let lay = match layout(listed) {
        Ok(l) => l,
        Err(e) => {
            problems.push(format!("its index object is malformed: {}", e.message));
            return problems;
        }
    };
    let want = lay.toc_len + TRAILER_LEN;
    if tail.len() < want {
        problems.push(format!(
            "is {} bytes, shorter than the {} bytes its index object implies",
            lay.blobs_end + tail.len(),
            lay.pack_len
        ));
        return problems;
    }
    if tail.len() > want {
        problems.push(format!(
            "is longer than the {} bytes its index object implies",
            lay.pack_len
        ));
    }
    match pack::toc_range(&tail[lay.toc_len..want], lay.pack_len) {
        Err(e) => problems.push(format!("trailer: {}", e.message)),
        Ok((start, _)) if start != lay.blobs_end => problems.push(format!(
            "trailer puts the table of contents at {start}, its index object at {}",
            lay.blobs_end
        )),
        Ok(_) => {}
    }
    match pack::open_toc(opener, pack_id, &tail[..lay.toc_len], lay.blobs_end) {
        Err(e) => problems.push(format!("table of contents: {}", e.message)),
        Ok(toc) if toc != listed => {
            problems.push("table of contents differs from its index object".to_string());
        }
        Ok(_) => {}
    }
    problems
}

/// A blob that failed verification.
#[derive(Debug)]
pub struct BlobProblem {
    /// The blob as the table lists it.
    pub entry: TocEntry,
    /// What is wrong with it.
    pub error: Error,
}

fn verify_blob(opener: &Opener, ids: &IdHasher, data: &[u8], e: &TocEntry) -> Result<()> {
    let start = e.offset as usize;
    let blob = data
        .get(start..start + e.length as usize)
        .ok_or_else(|| Error::corrupt("lies outside the pack"))?;
    let frame = opener.open(e.obj_type, &e.id, blob)?;
    let plain = crate::codec::decompress(&frame, (e.plain as usize).min(MAX_BLOB))?;
    if plain.len() != e.plain as usize {
        return Err(Error::corrupt(format!(
            "decompresses to {} bytes, the table says {}",
            plain.len(),
            e.plain
        )));
    }
    if CONTENT_ADDRESSED.contains(&e.obj_type) && ids.id(&plain) != e.id {
        return Err(Error::new(
            ErrorKind::Integrity,
            "does not match its id (its plaintext hashes to another id)",
        ));
    }
    Ok(())
}

/// Opens every blob of the pack `data` that `entries` lists, on the worker pool: each must
/// authenticate as its type and id, decompress to its listed length and, for chunks and trees,
/// hash to its id. Returns the blobs that failed, in table order.
pub fn verify_blobs(
    opener: &Opener,
    ids: &IdHasher,
    data: &[u8],
    entries: &[TocEntry],
) -> Vec<BlobProblem> {
    let results: Vec<Option<BlobProblem>> = pool().install(|| {
        entries
            .par_iter()
            .map(|e| {
                verify_blob(opener, ids, data, e)
                    .err()
                    .map(|error| BlobProblem { entry: *e, error })
            })
            .collect()
    });
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
