//! The restore pipeline: blobs fetched by the caller -> open -> decompress -> files.
//!
//! The caller (which owns the storage backend) fetches byte ranges of packs and hands them over
//! with the list of file pieces to write; workers open, check and decompress each chunk and write
//! it at its place, leaving holes for zero chunks when asked to.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

use rayon::prelude::*;

use crate::backup::CHUNK_TYPE;
use crate::chunk_index::ChunkIndex;
use crate::codec;
use crate::envelope::Opener;
use crate::error::{Error, ErrorKind, Result};
use crate::id::ChunkId;
use crate::pool::pool;

/// The most a chunk may decompress to (the chunkers cut at most 2^23 bytes; fixed blocks of up
/// to 64 MiB are allowed).
pub const MAX_CHUNK: usize = 64 << 20;

/// Byte ranges of packs that the caller fetched: (pack number, offset, bytes).
pub struct Fetched<'a> {
    ranges: Vec<(u32, u32, &'a [u8])>,
}

impl<'a> Fetched<'a> {
    /// Ranges in any order; they are sorted here.
    pub fn new(mut ranges: Vec<(u32, u32, &'a [u8])>) -> Self {
        ranges.sort_unstable_by_key(|r| (r.0, r.1));
        Self { ranges }
    }

    /// The bytes of the blob at (pack, offset, length), if a fetched range holds them.
    pub fn blob(&self, pack: u32, offset: u32, length: u32) -> Option<&'a [u8]> {
        let i = self
            .ranges
            .partition_point(|r| (r.0, r.1) <= (pack, offset))
            .checked_sub(1)?;
        let (p, o, data) = self.ranges[i];
        if p != pack {
            return None;
        }
        let start = (offset - o) as usize;
        data.get(start..start + length as usize)
    }
}

/// Opens the blob `id` of `obj_type` from the fetched ranges, returning its plaintext.
pub fn open_blob(
    opener: &Opener,
    index: &ChunkIndex,
    fetched: &Fetched<'_>,
    obj_type: u8,
    id: &ChunkId,
    limit: usize,
) -> Result<Vec<u8>> {
    let name = || hex(id);
    let loc = index
        .get(id)
        .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("object {} is missing", name())))?;
    let blob = fetched
        .blob(loc.pack, loc.offset, loc.length)
        .ok_or_else(|| Error::invalid(format!("object {} was not fetched", name())))?;
    let frame = opener
        .open(obj_type, id, blob)
        .map_err(|e| Error::new(e.kind, format!("object {}: {}", name(), e.message)))?;
    codec::decompress(&frame, limit)
        .map_err(|e| Error::new(e.kind, format!("object {}: {}", name(), e.message)))
}

/// Lowercase hex of an id.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// One piece of one file to write.
pub struct FilePiece {
    /// The file's path.
    pub path: PathBuf,
    /// The chunks of this piece, in order.
    pub ids: Vec<ChunkId>,
    /// Where the piece starts in the file.
    pub offset: u64,
    /// Whether this is the file's first piece: create (or truncate) it.
    pub create: bool,
    /// The file's final size, given with its last piece: the file is cut (or extended with a
    /// hole) to it.
    pub final_size: Option<u64>,
    /// Whether all-zero chunks become holes instead of being written.
    pub sparse: bool,
}

/// Writes one piece. `O_NOFOLLOW`: a file is never written through a symlink in its last component.
fn write_piece(
    opener: &Opener,
    index: &ChunkIndex,
    fetched: &Fetched<'_>,
    piece: &FilePiece,
) -> Result<u64> {
    let io = |e: std::io::Error| Error::io(&piece.path, &e);
    let file: File = if piece.create {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&piece.path)
            .map_err(io)?
    } else {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&piece.path)
            .map_err(io)?
    };
    let mut at = piece.offset;
    for id in &piece.ids {
        let data = open_blob(opener, index, fetched, CHUNK_TYPE, id, MAX_CHUNK)?;
        if piece.sparse {
            write_sparse(&file, &data, at).map_err(io)?;
        } else {
            file.write_all_at(&data, at).map_err(io)?;
        }
        at += data.len() as u64;
    }
    if let Some(size) = piece.final_size {
        if size != at {
            return Err(Error::corrupt(format!(
                "{}: the chunks make {at} bytes, the item says {size}",
                piece.path.display()
            )));
        }
        file.set_len(size).map_err(io)?;
    }
    Ok(at - piece.offset)
}

/// Blocks of zeros at least this long (and aligned to it in the file) become holes.
const HOLE_BLOCK: u64 = 64 << 10;

/// Writes `data` at `at`, skipping aligned all-zero blocks so that they stay holes (the file is
/// cut to its final size at the end, so a hole at the end is kept too).
fn write_sparse(file: &File, data: &[u8], at: u64) -> std::io::Result<()> {
    let end = at + data.len() as u64;
    let mut pos = at;
    while pos < end {
        let next = ((pos / HOLE_BLOCK) + 1) * HOLE_BLOCK;
        let stop = next.min(end);
        let part = &data[(pos - at) as usize..(stop - at) as usize];
        if part.iter().any(|&b| b != 0) {
            file.write_all_at(part, pos)?;
        }
        pos = stop;
    }
    Ok(())
}

/// Writes every piece on the worker pool; one result (bytes written) per piece, in order.
pub fn write_pieces(
    opener: &Opener,
    index: &ChunkIndex,
    fetched: &Fetched<'_>,
    pieces: &[FilePiece],
) -> Vec<Result<u64>> {
    pool().install(|| {
        pieces
            .par_iter()
            .map(|p| write_piece(opener, index, fetched, p))
            .collect()
    })
}
