//! Recompression (`recreate --recompress`): chunks already stored are opened, decompressed and
//! compressed again with a writer's codec, and the new copy is stored by that writer as a
//! replacing blob under the same id (ids are over the plaintext, so they do not change). The old
//! copy stays valid until compact drops it.

use rayon::prelude::*;

use crate::backup::{CHUNK_TYPE, Writer};
use crate::chunk_index::Location;
use crate::codec;
use crate::envelope::Opener;
use crate::error::{Error, Result};
use crate::id::ChunkId;
use crate::pool::pool;
use crate::restore::{Fetched, MAX_CHUNK, hex};

/// borg's `--recompress` modes that do work (`never` does not call in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only chunks whose codec differs from the one the writer's spec picks for their data (the
    /// level is not considered).
    IfDifferent,
    /// Every chunk, e.g. to change the level.
    Always,
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Chunks stored again.
    pub recompressed: u64,
    /// Chunks left as they were.
    pub kept: u64,
    /// Stored bytes of the recompressed chunks' old copies.
    pub old_stored: u64,
    /// Stored bytes of their new copies.
    pub new_stored: u64,
}

impl Totals {
    fn add(self, o: Totals) -> Totals {
        Totals {
            recompressed: self.recompressed + o.recompressed,
            kept: self.kept + o.kept,
            old_stored: self.old_stored + o.old_stored,
            new_stored: self.new_stored + o.new_stored,
        }
    }
}

/// Recompresses one chunk (see the module docs).
fn one(
    writer: &Writer,
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    id: &ChunkId,
    mode: Mode,
) -> Result<Totals> {
    let named = |e: Error| Error::new(e.kind, format!("chunk {}: {}", hex(id), e.message));
    let loc = locate(id).ok_or_else(|| Error::corrupt(format!("chunk {} is missing", hex(id))))?;
    let blob = fetched
        .blob(loc.pack, loc.offset, loc.length)
        .ok_or_else(|| Error::invalid(format!("chunk {} was not fetched", hex(id))))?;
    let old = opener.open(CHUNK_TYPE, id, blob).map_err(named)?;
    // An obfuscated chunk under an obfuscating spec keeps its codec: no need to build a padded
    // frame (up to 20 MiB) only to compare its first byte.
    if mode == Mode::IfDifferent
        && matches!(writer.codec(), codec::Codec::Obfuscate(..))
        && codec::frame_codec(&old).map_err(named)?.0 == "obfuscate"
    {
        return Ok(Totals {
            kept: 1,
            ..Totals::default()
        });
    }
    let data = codec::decompress(&old, MAX_CHUNK).map_err(named)?;
    let new = codec::compress_frame(writer.codec(), &data).map_err(named)?;
    if mode == Mode::IfDifferent && new.parts()[0].first() == old.first() {
        return Ok(Totals {
            kept: 1,
            ..Totals::default()
        });
    }
    let n = writer.store_replacing(CHUNK_TYPE, id, data.len(), &new)?;
    Ok(Totals {
        recompressed: 1,
        old_stored: u64::from(loc.length),
        new_stored: u64::from(n),
        ..Totals::default()
    })
}

/// Recompresses the chunks `ids` (each once: the caller passes no id twice) from the fetched
/// pack ranges, on the worker pool. `locate` gives their current places (a snapshot, not a
/// lock held across the pool).
pub fn recompress_chunks(
    writer: &Writer,
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    ids: &[ChunkId],
    mode: Mode,
) -> Result<Totals> {
    pool().install(|| {
        ids.par_iter()
            .map(|id| one(writer, opener, locate, fetched, id, mode))
            .try_reduce(Totals::default, |a, b| Ok(a.add(b)))
    })
}

#[cfg(test)]
mod tests;
