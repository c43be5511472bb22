//! The restore pipeline: blobs fetched by the caller -> open -> decompress -> files.
//!
//! The caller (which owns the storage backend) fetches byte ranges of packs and hands them over
//! with the list of file pieces to write; workers open, check and decompress each chunk and write
//! it at its place, leaving holes for zero chunks when asked to, and set each file's metadata
//! through the descriptor that wrote it.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags};

use rayon::prelude::*;

use crate::backup::CHUNK_TYPE;
use crate::chunk_index::Location;
use crate::codec;
use crate::envelope::{HEADER_LEN, Opener};
use crate::error::{Error, ErrorKind, Result};
use crate::fsmeta::{self, ItemMeta, Op};
use crate::id::ChunkId;
use crate::pool::pool;

mod output;

use output::{Output, Reused, Scratch, with_scratch};

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
    let blob = fetched_blob(locate, fetched, id)?;
    let named = |e: Error| Error::new(e.kind, format!("object {}: {}", hex(id), e.message));
    let frame = opener.open(obj_type, id, blob).map_err(named)?;
    codec::decompress(&frame, limit).map_err(named)
}

/// The sealed bytes of blob `id` among the fetched ranges.
fn fetched_blob<'a>(
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'a>,
    id: &ChunkId,
) -> Result<&'a [u8]> {
    let loc = locate(id).ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("object {} is missing", hex(id)),
        )
    })?;
    fetched
        .blob(loc.pack, loc.offset, loc.length)
        .ok_or_else(|| Error::invalid(format!("object {} was not fetched", hex(id))))
}

/// Opens file chunk `id` in `scratch` (see [`output`]), for writing at file offset `at`: the
/// chunk's bytes lie at the same offset within a 4 KiB block in memory as `at` does in the file,
/// so that its whole blocks can be written directly. Nothing is allocated once `scratch` has grown
/// to the largest chunk; a chunk stored uncompressed is not copied a second time, and an lz4 chunk
/// is decompressed in the buffer it was opened in.
fn open_chunk<'s>(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    id: &ChunkId,
    at: u64,
    scratch: &'s mut Scratch,
) -> Result<&'s [u8]> {
    let blob = fetched_blob(locate, fetched, id)?;
    let named = |e: Error| Error::new(e.kind, format!("object {}: {}", hex(id), e.message));
    let Scratch { sealed, plain } = scratch;
    // Where the plaintext starts such that a stored frame's data lines up with `at`.
    let skew = output::skew_of(at) + crate::direct_write::ALIGN - codec::FRAME_HEADER_LEN;
    let room = sealed.aligned(skew, blob.len().saturating_sub(HEADER_LEN));
    let n = opener.open_in(CHUNK_TYPE, id, blob, room).map_err(named)?;
    let (len, in_place) = {
        let frame = &sealed.placed()[..n];
        let len = codec::frame_len(frame, MAX_CHUNK).map_err(named)?;
        (len, codec::lz4_fits_in_place(frame, len))
    };
    if in_place {
        return sealed.lz4_in_place(n, len).map_err(named);
    }
    let sealed: &'s Reused = sealed;
    let frame = &sealed.placed()[..n];
    if let Some(data) = codec::stored_data(frame, MAX_CHUNK).map_err(named)? {
        return Ok(data);
    }
    let out = plain.aligned(output::skew_of(at), len);
    codec::decompress_to(frame, out).map_err(named)?;
    Ok(out)
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
    /// The file's path, relative to the root it is restored beneath (`item.path`), and, with the
    /// last piece, the metadata to set once the file is whole (see [`fsmeta::restore::apply_to_file`]);
    /// other pieces leave the metadata fields empty.
    pub item: ItemMeta,
    /// The chunks of this piece, in order.
    pub ids: Vec<ChunkId>,
    /// Where the piece starts in the file.
    pub offset: u64,
    /// Whether this is the file's first piece: create it (replacing what is there).
    pub create: bool,
    /// The file's final size, given with its last piece: the file is checked against it (and
    /// extended with a hole to it, for a sparse file ending in one).
    pub final_size: Option<u64>,
    /// Whether all-zero chunks become holes instead of being written.
    pub sparse: bool,
    /// The plaintext length of each chunk, as the item lists them, if known: the chunks of the
    /// piece are then written in parallel, each at its offset (a chunk of another length is an
    /// error), instead of one after another by one worker.
    pub sizes: Option<Vec<u32>>,
}

/// What writing one piece did.
#[derive(Debug)]
pub struct PieceDone {
    /// Bytes of the file the piece covered.
    pub written: u64,
    /// The metadata steps that failed (the contents were written).
    pub warnings: Vec<(Op, Error)>,
}

/// A relative path as messages show it (`error::shown_bytes`).
fn shown(p: &[u8]) -> String {
    crate::error::shown_bytes(p)
}

/// The permission bits a piece's file is created with: 0600, or the file's own permission bits
/// (not set-id or sticky) when the piece is the whole file and the file will keep the owner it
/// gets here (its item's owner is the process's, and the directory's group is the process's, so
/// that neither a setgid directory nor a `grpid` mount gives it another group). Then the file
/// usually needs no `fchmod` (see [`fsmeta::restore::apply_to_file`], which compares): its
/// contents are never readable by anyone its final mode and owner would not let read them.
/// A file written in several pieces is created 0600, since later pieces open it again for
/// writing.
fn create_mode(piece: &FilePiece, own_group: bool, ids: (u32, u32)) -> u32 {
    let item = &piece.item;
    let keeps_owner = item.uid.is_none_or(|u| u == ids.0) && item.gid.is_none_or(|g| g == ids.1);
    match item.mode {
        Some(mode) if piece.create && piece.final_size.is_some() && own_group && keeps_owner => {
            mode & 0o777
        }
        _ => 0o600,
    }
}

/// Opens the file of a piece in its directory: a first piece makes a new empty file of mode
/// `mode` (`O_EXCL`; whatever non-directory was there, a file or a symlink, is unlinked first and
/// the create tried once more), later pieces open it for writing. `O_NOFOLLOW` everywhere: the
/// name is one component, so nothing is ever opened through a symlink.
fn open_piece(dir: BorrowedFd<'_>, name: &CStr, piece: &FilePiece, mode: u32) -> Result<File> {
    let shown_path = || shown(&piece.item.path);
    let os = |e: rustix::io::Errno| {
        Error::io(
            std::path::Path::new(&shown_path()),
            &std::io::Error::from(e),
        )
    };
    let create = || {
        rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
    };
    let fd = if piece.create {
        match create() {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => {
                match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => {
                        return Err(Error::new(
                            ErrorKind::Exists,
                            format!("{}: cannot replace what is there: {e}", shown_path()),
                        ));
                    }
                }
                create().map_err(os)?
            }
            Err(e) => return Err(os(e)),
        }
    } else {
        rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(os)?
    };
    Ok(File::from(fd))
}

/// How a piece's file is made: the permission bits it is created with ([`create_mode`]), and
/// whether its directory has no user-modifiable inode flags (so neither has the new file).
#[derive(Clone, Copy)]
struct Creation {
    mode: u32,
    flags_clear: bool,
}

/// Writes one piece into file `name` of `dir`; with the last piece, sets the file's metadata through the same
/// descriptor.
fn write_piece(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    dir: BorrowedFd<'_>,
    name: &CStr,
    piece: &FilePiece,
    how: Creation,
) -> Result<PieceDone> {
    let file = open_piece(dir, name, piece, how.mode)?;
    fill_piece(opener, locate, fetched, piece, how, &file).inspect_err(|_| {
        // A file cut short (a damaged or missing chunk, a full disk) is not left to pass for the
        // archived one. This extract made it (its first piece, with `O_EXCL`), so nothing of the
        // user's goes with it; the piece's error is what is reported, not this unlink's. Only
        // while the name still holds this very file: another item may have taken the name since.
        let ours = rustix::fs::fstat(&file).ok();
        let there = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok();
        if let (Some(a), Some(b)) = (ours, there)
            && (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
        {
            let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
        }
    })
}

/// Writes `piece` into `file`, its file opened by [`open_piece`]; with its last piece, sets the
/// file's length and metadata.
fn fill_piece(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    piece: &FilePiece,
    how: Creation,
    file: &File,
) -> Result<PieceDone> {
    let io =
        |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", shown(&piece.item.path)));
    // Where the piece ends, and where its last write ended.
    let parallel = match piece.sizes.as_deref() {
        Some(sizes) if sizes.len() == piece.ids.len() && sizes.len() > 1 => {
            write_chunks_parallel(opener, locate, fetched, piece, sizes, file)?
        }
        _ => None,
    };
    let (at, end) = match parallel {
        Some(done) => done,
        None => {
            let mut out = Output::new(file);
            let mut at = piece.offset;
            let mut end = None;
            for id in &piece.ids {
                let len = with_scratch(|scratch| -> Result<u64> {
                    let data = open_chunk(opener, locate, fetched, id, at, scratch)?;
                    end = write_chunk(&mut out, data, at, piece.sparse)
                        .map_err(io)?
                        .or(end);
                    Ok(data.len() as u64)
                })?;
                at += len;
            }
            (at, end)
        }
    };
    let mut warnings = Vec::new();
    if let Some(size) = piece.final_size {
        if size != at {
            return Err(Error::corrupt(format!(
                "{}: the chunks make {at} bytes, the item says {size}",
                shown(&piece.item.path)
            )));
        }
        // The file is new (made by the first piece) and grows only by writes, the last of which
        // ended here: only a sparse file ending in a hole (or a piece that wrote nothing) needs
        // its length set.
        if size > 0 && end != Some(size) {
            file.set_len(size).map_err(io)?;
        }
        warnings = fsmeta::restore::apply_to_file(file.as_fd(), &piece.item, how.flags_clear);
    }
    Ok(PieceDone {
        written: at - piece.offset,
        warnings,
    })
}

/// Writes chunk `data` at `at` (skipping aligned zero blocks if `sparse`); returns where the write
/// ended, if anything was written.
fn write_chunk(
    out: &mut Output<'_>,
    data: &[u8],
    at: u64,
    sparse: bool,
) -> std::io::Result<Option<u64>> {
    if sparse {
        write_sparse(out, data, at)
    } else if data.is_empty() {
        Ok(None)
    } else {
        out.write(data, at)?;
        Ok(Some(at + data.len() as u64))
    }
}

/// A second descriptor of `file`, for writing, opened through `/proc/self/fd`: the same file
/// whatever is at its name by now (unlike opening the name again), and only if its mode lets this
/// process write it. `None` where it cannot be opened.
fn reopen(file: &File) -> Option<File> {
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .ok()
        .map(File::from)
}

/// Writes the chunks of `piece`, of plaintext lengths `sizes`, on the pool, each at its offset,
/// dealt in turn to as many lanes as the pool has threads (at most one per chunk), each lane with
/// a descriptor of its own: `file` and others from [`reopen`] (`O_DIRECT` is set per open file,
/// so two writers sharing one would turn it off under each other's direct writes). Returns where
/// the piece ends and where its last write ended, or `None`, having written nothing, where no
/// second descriptor could be opened (the caller then writes the chunks one after another). A
/// chunk of another length than `sizes` says is an error.
fn write_chunks_parallel(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    piece: &FilePiece,
    sizes: &[u32],
    file: &File,
) -> Result<Option<(u64, Option<u64>)>> {
    let lanes = pool().current_num_threads().min(piece.ids.len());
    let others: Vec<File> = (1..lanes).map_while(|_| reopen(file)).collect();
    if others.is_empty() {
        return Ok(None);
    }
    let files: Vec<&File> = std::iter::once(file).chain(&others).collect();
    let mut starts = Vec::with_capacity(sizes.len());
    let mut at = piece.offset;
    for &size in sizes {
        starts.push(at);
        at += u64::from(size);
    }
    let shown_path = shown(&piece.item.path);
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{shown_path}: {e}"));
    let lane_count = files.len();
    let ends = pool().install(|| {
        files
            .par_iter()
            .enumerate()
            .map(|(lane, own)| -> Result<Option<u64>> {
                let mut out = Output::new(own);
                let mut end = None;
                for i in (lane..piece.ids.len()).step_by(lane_count) {
                    let (Some(id), Some(&at), Some(&size)) =
                        (piece.ids.get(i), starts.get(i), sizes.get(i))
                    else {
                        break;
                    };
                    let wrote = with_scratch(|scratch| -> Result<Option<u64>> {
                        let data = open_chunk(opener, locate, fetched, id, at, scratch)?;
                        if data.len() != size as usize {
                            return Err(Error::corrupt(format!(
                                "{shown_path}: chunk {} has {} bytes, the item says {size}",
                                hex(id),
                                data.len()
                            )));
                        }
                        write_chunk(&mut out, data, at, piece.sparse).map_err(io)
                    })?;
                    end = end.max(wrote);
                }
                Ok(end)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(Some((at, ends.into_iter().flatten().max())))
}

/// Blocks of zeros at least this long (and aligned to it in the file) become holes.
const HOLE_BLOCK: u64 = 64 << 10;

/// Writes `data` at `at`, skipping aligned all-zero blocks so that they stay holes; returns where
/// the last write ended, if anything was written (a hole at the end is made by the caller
/// setting the file's length). Runs of blocks that are not all zeros go in one write.
fn write_sparse(out: &mut Output<'_>, data: &[u8], at: u64) -> std::io::Result<Option<u64>> {
    let end = at + data.len() as u64;
    let mut pos = at;
    let mut written = None;
    // Where the run of data blocks waiting to be written starts.
    let mut run: Option<u64> = None;
    while pos < end {
        let stop = ((pos / HOLE_BLOCK) + 1) * HOLE_BLOCK;
        let stop = stop.min(end);
        let part = &data[(pos - at) as usize..(stop - at) as usize];
        if part.iter().any(|&b| b != 0) {
            run.get_or_insert(pos);
        } else if let Some(from) = run.take() {
            out.write(&data[(from - at) as usize..(pos - at) as usize], from)?;
            written = Some(pos);
        }
        pos = stop;
    }
    if let Some(from) = run {
        out.write(&data[(from - at) as usize..], from)?;
        written = Some(end);
    }
    Ok(written)
}

/// Files of one batch in one directory from which that directory's flags are read (see
/// [`Parents::open`]).
const FLAGS_READ_FROM: usize = 3;

/// Whether the directory `dir` (opened `O_PATH`) has no user-modifiable inode flags; false where
/// it cannot be opened for reading or has no flags to read.
fn dir_flags_clear(dir: &OwnedFd) -> bool {
    rustix::fs::openat(
        dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .is_ok_and(|d| fsmeta::restore::flags_clear(d.as_fd()))
}

/// The parent directories of a batch's pieces, each opened once beneath the root (as
/// [`fsmeta::resolve_parent`] does: no `..`, no absolute path, no symlink on the way).
struct Parents {
    /// Each distinct parent directory, or the error opening it.
    dirs: Vec<Result<OwnedFd>>,
    /// Per directory: whether its group is the process's effective group (`fstat`), so that a
    /// file made in it gets that group whatever the setgid bit and mount options say.
    own_group: Vec<bool>,
    /// Per directory: whether it has no user-modifiable inode flags, so that neither have the
    /// files made in it ([`fsmeta::restore::flags_clear`]).
    flags_clear: Vec<bool>,
    /// Per piece: its directory's index in `dirs` and its name, or why its path is refused.
    places: Vec<Result<(usize, CString)>>,
}

impl Parents {
    fn open(root: BorrowedFd<'_>, pieces: &[FilePiece], egid: u32) -> Self {
        let use_openat2 = fsmeta::beneath::have_openat2();
        let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut dirs = Vec::new();
        let places: Vec<Result<(usize, CString)>> = pieces
            .iter()
            .map(|p| {
                let rel = &p.item.path;
                let comps = fsmeta::beneath::components(rel)?;
                let (last, parents) = comps
                    .split_last()
                    .ok_or_else(|| Error::invalid("the path names no entry"))?;
                let name =
                    CString::new(*last).map_err(|_| Error::invalid("a path holds a NUL byte"))?;
                let key = parents.join(&b'/');
                let index = match seen.get(&key) {
                    Some(&i) => i,
                    None => {
                        dirs.push(fsmeta::beneath::open_dir(root, parents, rel, use_openat2));
                        seen.insert(key, dirs.len() - 1);
                        dirs.len() - 1
                    }
                };
                Ok((index, name))
            })
            .collect();
        let own_group = dirs
            .iter()
            .map(|d| {
                d.as_ref()
                    .is_ok_and(|d| rustix::fs::fstat(d).is_ok_and(|st| st.st_gid == egid))
            })
            .collect();
        // Reading a directory's flags takes an open of it for reading (the kept descriptor is
        // `O_PATH`), an `ioctl` and a close: worth it only for a directory that several of the
        // batch's files go to, each of which then needs no `ioctl` of its own.
        let mut files_in = vec![0usize; dirs.len()];
        for (i, _) in places.iter().flatten() {
            if let Some(n) = files_in.get_mut(*i) {
                *n += 1;
            }
        }
        let flags_clear = dirs
            .iter()
            .zip(&files_in)
            .map(|(d, &n)| n >= FLAGS_READ_FROM && d.as_ref().is_ok_and(dir_flags_clear))
            .collect();
        Self {
            dirs,
            own_group,
            flags_clear,
            places,
        }
    }

    /// Where piece `i` goes: its directory, name, whether the directory has the process's group
    /// and whether it has no user-modifiable flags, or `None` if its directory would not open
    /// (the caller resolves it again, for the piece's own error).
    fn place(&self, i: usize) -> Result<Option<(BorrowedFd<'_>, &CStr, bool, bool)>> {
        let (index, name) = match self.places.get(i) {
            Some(Ok(p)) => p,
            Some(Err(e)) => return Err(e.clone()),
            None => return Err(Error::invalid("no such piece")),
        };
        Ok(match self.dirs.get(*index) {
            Some(Ok(dir)) => Some((
                dir.as_fd(),
                name.as_c_str(),
                self.own_group.get(*index).copied().unwrap_or(false),
                self.flags_clear.get(*index).copied().unwrap_or(false),
            )),
            _ => None,
        })
    }
}

/// Writes every piece beneath the directory `root` on the worker pool; one result per piece, in
/// order. Pieces of one file must go in separate calls, in order. Each parent directory is
/// resolved once per call.
pub fn write_pieces(
    opener: &Opener,
    locate: &(impl Fn(&ChunkId) -> Option<Location> + Sync),
    fetched: &Fetched<'_>,
    root: &[u8],
    pieces: &[FilePiece],
) -> Result<Vec<Result<PieceDone>>> {
    let root = fsmeta::open_root(root)?;
    let root = root.as_fd();
    let ids = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    let parents = Parents::open(root, pieces, ids.1);
    Ok(pool().install(|| {
        pieces
            .par_iter()
            .enumerate()
            .map(|(i, p)| match parents.place(i)? {
                Some((dir, name, own_group, flags_clear)) => {
                    let mode = create_mode(p, own_group, ids);
                    let how = Creation { mode, flags_clear };
                    write_piece(opener, locate, fetched, dir, name, p, how)
                }
                None => {
                    let parent = fsmeta::resolve_parent(root, &p.item.path)?;
                    let dir = parent.dir.as_fd();
                    let how = Creation {
                        mode: 0o600,
                        flags_clear: false,
                    };
                    write_piece(opener, locate, fetched, dir, &parent.name, p, how)
                }
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests;
