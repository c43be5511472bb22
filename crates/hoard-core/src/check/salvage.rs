//! What `hoard check --repair` saves of a pack (docs/format.md, section 10.13): the blobs of a
//! table that authenticates (the pack's own; else the one its index object lists; else a table
//! found by scanning the pack's tail), each blob opened and checked as `--verify-data` does.
//! Blobs that fail are dropped; the caller copies the good ones into a new pack.
//!
//! A blob does not record its own length, type or id (the last two are associated data of its
//! seal), so a pack cannot be walked blob by blob without a table: a pack whose own table and
//! every listing of it are lost is lost with it.

use rayon::prelude::*;

use super::{BlobProblem, layout, sealed_toc_len, verify_blob};
use crate::envelope::Opener;
use crate::error::{Error, Result};
use crate::id::{ChunkId, IdHasher};
use crate::pack::{self, MAGIC, TRAILER_LEN, TocEntry};
use crate::pool::pool;

/// Where the table that salvage used came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSource {
    /// The pack's own table, found through its trailer.
    Pack,
    /// The table an index object lists for the pack (the pack's own did not open).
    Index,
    /// The pack's own table, found by scanning its tail (its trailer is damaged).
    Scan,
    /// No table: nothing of the pack can be saved.
    None,
}

impl TableSource {
    /// The name used across the boundary and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pack => "pack",
            Self::Index => "index",
            Self::Scan => "scan",
            Self::None => "none",
        }
    }
}

/// What salvage found in one pack.
#[derive(Debug)]
pub struct Salvage {
    /// Problems of the pack's structure and table, one message each (empty for a sound one).
    pub problems: Vec<String>,
    /// Where the table came from.
    pub source: TableSource,
    /// The blobs that verified, in table order: what a repair keeps.
    pub good: Vec<TocEntry>,
    /// The blobs that failed, in table order: what a repair drops.
    pub bad: Vec<BlobProblem>,
}

impl Salvage {
    /// Whether the pack is sound: nothing to drop, nothing to rewrite.
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty() && self.bad.is_empty()
    }
}

/// The pack's own table, through its trailer (the magic is not required).
fn own_table(opener: &Opener, pack_id: &ChunkId, data: &[u8]) -> Result<Vec<TocEntry>> {
    let trailer = data
        .len()
        .checked_sub(TRAILER_LEN)
        .and_then(|s| data.get(s..))
        .ok_or_else(|| Error::corrupt("is shorter than a pack's trailer"))?;
    let (start, len) = pack::toc_range(trailer, data.len())?;
    let sealed = data
        .get(start..start + len)
        .ok_or_else(|| Error::corrupt("the table of contents lies outside the pack"))?;
    pack::open_toc(opener, pack_id, sealed, start)
}

/// Finds the pack's own table without its trailer: a table of `n` entries has a known sealed
/// length, so for each `n` the table would start at a known place before the 12 trailer bytes.
/// Only places that begin like an envelope of the repository's suite are opened.
pub fn scan_toc(opener: &Opener, pack_id: &ChunkId, data: &[u8]) -> Option<Vec<TocEntry>> {
    let end = data.len().checked_sub(TRAILER_LEN)?;
    let suite = opener.suite() as u8;
    for n in 0usize.. {
        let Some(start) = end
            .checked_sub(sealed_toc_len(n))
            .filter(|s| *s >= MAGIC.len())
        else {
            break;
        };
        if data.get(start) != Some(&1) || data.get(start + 1) != Some(&suite) {
            continue;
        }
        if let Ok(t) = pack::open_toc(opener, pack_id, &data[start..end], start) {
            return Some(t);
        }
    }
    None
}

/// Salvages pack `pack_id`, given whole as `data`; `listed` is the table an index object lists
/// for it, if one does. Every blob of the table used is opened and checked on the worker pool.
pub fn salvage(
    opener: &Opener,
    ids: &IdHasher,
    pack_id: &ChunkId,
    data: &[u8],
    listed: Option<&[TocEntry]>,
) -> Salvage {
    let mut problems = Vec::new();
    if data.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        problems.push("does not start with the pack magic".to_string());
    }
    let (source, table) = match own_table(opener, pack_id, data) {
        Ok(t) => {
            if listed.is_some_and(|l| l != t.as_slice()) {
                problems.push("table of contents differs from its index object".to_string());
            }
            match layout(&t) {
                Err(e) => problems.push(format!("table of contents: {}", e.message)),
                Ok(l) if l.pack_len != data.len() => problems.push(format!(
                    "is {} bytes, its table of contents implies {}",
                    data.len(),
                    l.pack_len
                )),
                Ok(_) => {}
            }
            (TableSource::Pack, t)
        }
        Err(e) => {
            problems.push(format!("table of contents: {}", e.message));
            if let Some(l) = listed {
                (TableSource::Index, l.to_vec())
            } else if let Some(t) = scan_toc(opener, pack_id, data) {
                (TableSource::Scan, t)
            } else {
                (TableSource::None, Vec::new())
            }
        }
    };
    let checked: Vec<(TocEntry, Option<Error>)> = pool().install(|| {
        table
            .par_iter()
            .map(|e| (*e, verify_blob(opener, ids, data, e).err()))
            .collect()
    });
    let mut good = Vec::with_capacity(checked.len());
    let mut bad = Vec::new();
    for (entry, err) in checked {
        match err {
            None => good.push(entry),
            Some(error) => bad.push(BlobProblem { entry, error }),
        }
    }
    Salvage {
        problems,
        source,
        good,
        bad,
    }
}

#[cfg(test)]
#[path = "salvage_tests.rs"]
mod tests;
