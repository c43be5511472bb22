//! Reading: opening metadata objects and writing file contents from pack ranges the caller
//! fetched, and reading packs' tables of contents.

use std::sync::Arc;

use hoard_core::fsmeta::ItemMeta;
use hoard_core::restore::{self, Fetched, FilePiece};
use napi::bindgen_prelude::{Buffer, Either, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::chunk_index::{ChunkIndex, ids_of, lock};
use crate::error::{obj_type, whole};
use crate::fsmeta::{FileAttrs, MetadataWarning, item_meta, metadata_warning};
use crate::key::Key;
use crate::task::{READ, queued_promise, spawn_promise};

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
#[napi(object, object_to_js = false)]
pub struct RestorePiece {
    /// The file's path relative to the root (a Buffer for names that are not UTF-8).
    pub path: Either<String, Buffer>,
    /// The chunk ids of this piece, 32 bytes each, in order.
    pub ids: Buffer,
    /// Where the piece starts in the file.
    pub offset: f64,
    /// Whether this is the first piece: the file is created (mode 0600), replacing what is there.
    pub create: bool,
    /// The file's final size, with its last piece.
    pub final_size: Option<f64>,
    /// Whether all-zero chunks become holes.
    pub sparse: bool,
    /// The plaintext length of each chunk as the item lists them, 4 bytes each in the machine's
    /// byte order (a `Uint32Array`'s bytes): the piece's chunks are then written in parallel.
    pub sizes: Option<Buffer>,
    /// With the last piece: the metadata to set once the file is whole, through the descriptor
    /// that wrote it, in `applyMetadata`'s order.
    pub attrs: Option<FileAttrs>,
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
    /// The metadata steps that failed (the contents were written); `index` is the piece's.
    pub warnings: Option<Vec<MetadataWarning>>,
}

fn bytes_of(p: Either<String, Buffer>) -> Vec<u8> {
    match p {
        Either::A(s) => s.into_bytes(),
        Either::B(b) => b.to_vec(),
    }
}

pub(crate) fn owned_ranges(ranges: Vec<FetchedRange>) -> Vec<(u32, u32, Buffer)> {
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
    // On the read thread, not the pool: an extract reads the trees it walks while the pool
    // writes a batch of files, and a job queued on the pool would wait for the whole batch.
    queued_promise(
        env,
        &READ,
        move || {
            let fetched = Fetched::new(owned.iter().map(|(p, o, d)| (*p, *o, &d[..])).collect());
            let locs = restore::snapshot(&lock(&ix), &ids);
            let locate = |id: &[u8; 32]| locs.get(id).copied();
            ids.iter()
                .map(|id| restore::open_blob(&k.opener, &locate, &fetched, t, id, limit))
                .collect::<hoard_core::Result<Vec<_>>>()
        },
        |v| Ok(v.into_iter().map(Buffer::from).collect::<Vec<_>>()),
    )
}

/// Writes file pieces beneath the directory `root` from fetched ranges, in parallel; one result
/// per piece. Nothing is written through a symlink or outside `root`.
#[napi(ts_return_type = "Promise<RestoreResult[]>")]
pub fn restore_pieces<'e>(
    env: &'e Env,
    key: &Key,
    index: &ChunkIndex,
    root: Either<String, Buffer>,
    pieces: Vec<RestorePiece>,
    ranges: Vec<FetchedRange>,
) -> Result<Object<'e>> {
    let mut plan = Vec::with_capacity(pieces.len());
    for p in pieces {
        let path = bytes_of(p.path);
        plan.push(FilePiece {
            item: match p.attrs {
                Some(a) => item_meta(path, a)?,
                None => ItemMeta {
                    path,
                    ..ItemMeta::default()
                },
            },
            ids: ids_of(&p.ids)?,
            offset: whole(p.offset, "offset", 1 << 53)?,
            create: p.create,
            final_size: p
                .final_size
                .map(|s| whole(s, "final size", 1 << 53))
                .transpose()?,
            sparse: p.sparse,
            sizes: p.sizes.map(|b| {
                b.as_chunks::<4>()
                    .0
                    .iter()
                    .map(|w| u32::from_ne_bytes(*w))
                    .collect()
            }),
        });
    }
    let root = bytes_of(root);
    let k = Arc::clone(&key.inner);
    let ix = Arc::clone(&index.inner);
    let owned = owned_ranges(ranges);
    spawn_promise(
        env,
        move || {
            let fetched = Fetched::new(owned.iter().map(|(p, o, d)| (*p, *o, &d[..])).collect());
            let locs = restore::snapshot(&lock(&ix), plan.iter().flat_map(|p| p.ids.iter()));
            let locate = |id: &[u8; 32]| locs.get(id).copied();
            restore::write_pieces(&k.opener, &locate, &fetched, &root, &plan)
        },
        |results| {
            Ok(results
                .into_iter()
                .enumerate()
                .map(|(i, r)| match r {
                    Ok(done) => RestoreResult {
                        written: done.written as f64,
                        error_code: None,
                        error_message: None,
                        warnings: (!done.warnings.is_empty()).then(|| {
                            done.warnings
                                .into_iter()
                                .map(|(op, e)| metadata_warning(i, op, e))
                                .collect()
                        }),
                    },
                    Err(e) => RestoreResult {
                        written: 0.0,
                        error_code: Some(e.kind.code().to_string()),
                        error_message: Some(e.message),
                        warnings: None,
                    },
                })
                .collect::<Vec<_>>())
        },
    )
}
