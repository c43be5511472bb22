//! Reading: opening metadata objects and writing file contents from pack ranges the caller
//! fetched, and reading packs' tables of contents.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use hoard_core::restore::{self, Fetched, FilePiece};
use hoard_core::{index_object, pack};
use napi::bindgen_prelude::{Buffer, Either, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::chunk_index::{ChunkIndex, ids_of, lock};
use crate::error::{IntoNapi, array32, obj_type, whole};
use crate::key::Key;
use crate::task::spawn_promise;
use crate::writer::PackToc;

/// Bytes of a pack that the caller fetched.
#[napi(object)]
pub struct FetchedRange {
    /// The pack's number in the chunk index.
    pub pack: u32,
    /// Where the bytes start in the pack.
    pub offset: u32,
    /// The bytes.
    pub data: Buffer,
}

/// One piece of a file to restore. Pieces of one file go in separate calls, in order.
#[napi(object)]
pub struct RestorePiece {
    /// The file's path (a Buffer for names that are not UTF-8).
    pub path: Either<String, Buffer>,
    /// The chunk ids of this piece, 32 bytes each, in order.
    pub ids: Buffer,
    /// Where the piece starts in the file.
    pub offset: f64,
    /// Whether this is the first piece: the file is created (mode 0600) or truncated.
    pub create: bool,
    /// The file's final size, with its last piece.
    pub final_size: Option<f64>,
    /// Whether all-zero chunks become holes.
    pub sparse: bool,
}

/// What restoring a piece did.
#[napi(object)]
pub struct RestoreResult {
    /// Bytes of the file this piece covered.
    pub written: f64,
    /// The stable error code, if it failed.
    pub error_code: Option<String>,
    /// The error's message.
    pub error_message: Option<String>,
}

/// A pack's table of contents, as an index object lists it.
#[napi(object)]
pub struct PackContents {
    /// The entries, as in `PackOut.toc`.
    pub toc: Buffer,
    /// How many blobs.
    pub count: u32,
    /// Where the table starts (the end of the blobs).
    pub blobs_end: f64,
}

fn path_of(p: Either<String, Buffer>) -> PathBuf {
    match p {
        Either::A(s) => PathBuf::from(s),
        Either::B(b) => PathBuf::from(std::ffi::OsStr::from_bytes(&b)),
    }
}

fn owned_ranges(ranges: Vec<FetchedRange>) -> Vec<(u32, u32, Buffer)> {
    ranges
        .into_iter()
        .map(|r| (r.pack, r.offset, r.data))
        .collect()
}

/// Opens metadata objects (e.g. trees) of `objType` from fetched ranges; resolves to their
/// plaintexts, in the order of `ids`. Each may be at most `limit` bytes.
#[napi(ts_return_type = "Promise<Buffer[]>")]
pub fn read_objects<'e>(
    env: &'e Env,
    key: &Key,
    index: &ChunkIndex,
    type_: f64,
    ids: Buffer,
    ranges: Vec<FetchedRange>,
    limit: f64,
) -> Result<Object<'e>> {
    let t = obj_type(type_)?;
    let limit = whole(limit, "limit", 1 << 32)? as usize;
    let ids = ids_of(&ids)?;
    let k = Arc::clone(&key.inner);
    let ix = Arc::clone(&index.inner);
    let owned = owned_ranges(ranges);
    spawn_promise(
        env,
        move || {
            let fetched = Fetched::new(owned.iter().map(|(p, o, d)| (*p, *o, &d[..])).collect());
            let index = lock(&ix);
            ids.iter()
                .map(|id| restore::open_blob(&k.opener, &index, &fetched, t, id, limit))
                .collect::<hoard_core::Result<Vec<_>>>()
        },
        |v| Ok(v.into_iter().map(Buffer::from).collect::<Vec<_>>()),
    )
}

/// Writes file pieces from fetched ranges, in parallel; one result per piece.
#[napi(ts_return_type = "Promise<RestoreResult[]>")]
pub fn restore_pieces<'e>(
    env: &'e Env,
    key: &Key,
    index: &ChunkIndex,
    pieces: Vec<RestorePiece>,
    ranges: Vec<FetchedRange>,
) -> Result<Object<'e>> {
    let mut plan = Vec::with_capacity(pieces.len());
    for p in pieces {
        plan.push(FilePiece {
            ids: ids_of(&p.ids)?,
            offset: whole(p.offset, "offset", 1 << 53)?,
            create: p.create,
            final_size: p
                .final_size
                .map(|s| whole(s, "final size", 1 << 53))
                .transpose()?,
            sparse: p.sparse,
            path: path_of(p.path),
        });
    }
    let k = Arc::clone(&key.inner);
    let ix = Arc::clone(&index.inner);
    let owned = owned_ranges(ranges);
    spawn_promise(
        env,
        move || {
            let fetched = Fetched::new(owned.iter().map(|(p, o, d)| (*p, *o, &d[..])).collect());
            let index = lock(&ix);
            Ok(restore::write_pieces(&k.opener, &index, &fetched, &plan))
        },
        |results| {
            Ok(results
                .into_iter()
                .map(|r| match r {
                    Ok(n) => RestoreResult {
                        written: n as f64,
                        error_code: None,
                        error_message: None,
                    },
                    Err(e) => RestoreResult {
                        written: 0.0,
                        error_code: Some(e.kind.code().to_string()),
                        error_message: Some(e.message),
                    },
                })
                .collect::<Vec<_>>())
        },
    )
}

/// Where a pack's table of contents lies, from its last 12 bytes and its size: [start, length].
#[napi]
pub fn pack_toc_range(trailer: Buffer, pack_size: f64) -> Result<Vec<f64>> {
    let size = whole(pack_size, "pack size", u64::from(u32::MAX))? as usize;
    let (start, len) = pack::toc_range(&trailer, size).napi()?;
    Ok(vec![start as f64, len as f64])
}

/// Opens index object `id`: the packs it lists, each with its table entries as `PackOut.toc`
/// carries them.
#[napi(ts_return_type = "Promise<PackToc[]>")]
pub fn open_index_object<'e>(
    env: &'e Env,
    key: &Key,
    id: Buffer,
    sealed: Buffer,
) -> Result<Object<'e>> {
    let id = array32(&id, "index object id")?;
    let k = Arc::clone(&key.inner);
    spawn_promise(
        env,
        move || index_object::open(&k.opener, &id, &sealed),
        |packs| {
            Ok(packs
                .into_iter()
                .map(|p| PackToc {
                    id: Buffer::from(p.id.to_vec()),
                    toc: Buffer::from(pack::encode_toc(&p.entries).split_off(1)),
                })
                .collect::<Vec<_>>())
        },
    )
}

/// Opens the sealed table of contents of pack `packId`, which starts at `start`.
#[napi(ts_return_type = "Promise<PackContents>")]
pub fn open_pack_toc<'e>(
    env: &'e Env,
    key: &Key,
    pack_id: Buffer,
    sealed: Buffer,
    start: f64,
) -> Result<Object<'e>> {
    let id = array32(&pack_id, "pack id")?;
    let start = whole(start, "start", u64::from(u32::MAX))? as usize;
    let k = Arc::clone(&key.inner);
    spawn_promise(
        env,
        move || pack::open_toc(&k.opener, &id, &sealed, start),
        move |entries| {
            Ok(PackContents {
                count: entries.len() as u32,
                toc: Buffer::from(pack::encode_toc(&entries).split_off(1)),
                blobs_end: start as f64,
            })
        },
    )
}
