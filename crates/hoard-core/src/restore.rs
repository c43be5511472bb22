//! The restore pipeline: blobs fetched by the caller -> open -> decompress -> files.
//!
//! The caller (which owns the storage backend) fetches byte ranges of packs and hands them over
//! with the list of file pieces to write; workers open, check and decompress each chunk and write
//! it at its place, leaving holes for zero chunks when asked to.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;

use rustix::fs::{AtFlags, Mode, OFlags};

use rayon::prelude::*;

use crate::backup::CHUNK_TYPE;
use crate::chunk_index::Location;
use crate::codec;
use crate::envelope::Opener;
use crate::error::{Error, ErrorKind, Result};
use crate::fsmeta;
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
/// `locate` says where a blob lies; callers pass a snapshot taken from the chunk index (never a
/// lock held across the worker pool: a worker waiting on it could be the one holding it).
pub fn open_blob(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    obj_type: u8,
    id: &ChunkId,
    limit: usize,
) -> Result<Vec<u8>> {
    let name = || hex(id);
    let loc = locate(id)
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

/// A snapshot of where `ids` lie, taken from `index` at once, for [`open_blob`] and
/// [`write_pieces`].
pub fn snapshot<'a>(
    index: &crate::chunk_index::ChunkIndex,
    ids: impl IntoIterator<Item = &'a ChunkId>,
) -> HashMap<ChunkId, Location> {
    ids.into_iter()
        .filter_map(|id| index.get(id).map(|l| (*id, l)))
        .collect()
}

/// Lowercase hex of an id.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// One piece of one file to write.
pub struct FilePiece {
    /// The file's path, relative to the root it is restored beneath.
    pub path: Vec<u8>,
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

/// Lossy text of a relative path, for messages.
fn shown(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

/// Opens the file of a piece beneath `root`: a first piece replaces whatever non-directory is
/// there (a file, a symlink) by a new empty file of mode 0600; later pieces open it for writing.
/// Nothing is ever opened through a symlink (see [`fsmeta::open_beneath`]).
fn open_piece(root: BorrowedFd<'_>, piece: &FilePiece) -> Result<File> {
    let name = || shown(&piece.path);
    let fd = if piece.create {
        let parent = fsmeta::resolve_parent(root, &piece.path)?;
        match rustix::fs::unlinkat(&parent.dir, parent.name.as_c_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Exists,
                    format!("{}: cannot replace what is there: {e}", name()),
                ));
            }
        }
        rustix::fs::openat(
            &parent.dir,
            parent.name.as_c_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::io(std::path::Path::new(&name()), &std::io::Error::from(e)))?
    } else {
        fsmeta::open_beneath(root, &piece.path, OFlags::WRONLY, Mode::empty())?
    };
    Ok(File::from(fd))
}

/// Writes one piece beneath `root`.
fn write_piece(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    root: BorrowedFd<'_>,
    piece: &FilePiece,
) -> Result<u64> {
    let file = open_piece(root, piece)?;
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", shown(&piece.path)));
    let mut at = piece.offset;
    for id in &piece.ids {
        let data = open_blob(opener, locate, fetched, CHUNK_TYPE, id, MAX_CHUNK)?;
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
                shown(&piece.path)
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

/// Writes every piece beneath the directory `root` on the worker pool; one result (bytes
/// written) per piece, in order. Pieces of one file must go in separate calls, in order.
pub fn write_pieces(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    root: &[u8],
    pieces: &[FilePiece],
) -> Result<Vec<Result<u64>>> {
    let root = fsmeta::open_root(root)?;
    let root = root.as_fd();
    Ok(pool().install(|| {
        pieces
            .par_iter()
            .map(|p| write_piece(opener, locate, fetched, root, p))
            .collect()
    }))
}
