//! What `hoard check` needs from the core: index objects opened to their pack lists, packs'
//! layouts and structure checked against those lists, and every blob of a pack verified. Each
//! call covers one index object or one pack, never one blob.

use std::sync::Arc;

use hoard_core::check;
use hoard_core::index_object;
use hoard_core::pack::{self, TocEntry};
use napi::bindgen_prelude::{Buffer, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, array32};
use crate::key::Key;
use crate::task::spawn_promise;
use crate::writer::PackToc;

/// Where a pack's parts lie according to its table.
#[napi(object)]
pub struct PackLayout {
    /// Where the blobs end and the sealed table of contents starts.
    pub blobs_end: f64,
    /// The sealed table's length.
    pub toc_length: f64,
    /// The pack's length.
    pub size: f64,
}

/// A blob that failed `verifyPackBlobs`.
#[napi(object)]
pub struct BlobProblem {
    /// Its offset in the pack.
    pub offset: u32,
    /// Its length.
    pub length: u32,
    /// Its object type.
    pub obj_type: u32,
    /// Its id.
    pub id: Buffer,
    /// The stable error code (`HOARD_INTEGRITY`, `HOARD_CORRUPT`, ...).
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// Table entries given as in `PackToc.toc` (a u32 LE count, then the entries).
pub(crate) fn entries_of(toc: &[u8]) -> Result<Vec<TocEntry>> {
    let mut t = Vec::with_capacity(1 + toc.len());
    t.push(1);
    t.extend_from_slice(toc);
    pack::decode_toc(&t, pack::MAX_PACK).napi()
}

fn toc_bytes(entries: &[TocEntry]) -> Vec<u8> {
    pack::encode_toc(entries).split_off(1)
}

/// Opens index object `id`; resolves to the packs it lists, with their tables as in `PackToc`.
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
                    toc: Buffer::from(toc_bytes(&p.entries)),
                })
                .collect::<Vec<_>>())
        },
    )
}

/// The layout of a pack whose table is `toc` (as in `PackToc`); blobs that do not follow each
/// other from the magic on are `HOARD_CORRUPT`.
#[napi]
pub fn pack_layout(toc: Buffer) -> Result<PackLayout> {
    let l = check::layout(&entries_of(&toc)?).napi()?;
    Ok(PackLayout {
        blobs_end: l.blobs_end as f64,
        toc_length: l.toc_len as f64,
        size: l.pack_len as f64,
    })
}

/// Checks pack `packId` against `toc`, the table its index object lists: `head` is the pack's
/// first 8 bytes, `tail` a read from the layout's `blobsEnd` of `tocLength + 13` bytes. Resolves
/// to one message per problem (empty for a sound pack).
#[napi(ts_return_type = "Promise<string[]>")]
pub fn check_pack_structure<'e>(
    env: &'e Env,
    key: &Key,
    pack_id: Buffer,
    head: Buffer,
    tail: Buffer,
    toc: Buffer,
) -> Result<Object<'e>> {
    let id = array32(&pack_id, "pack id")?;
    let listed = entries_of(&toc)?;
    let k = Arc::clone(&key.inner);
    spawn_promise(
        env,
        move || {
            Ok(check::check_structure(
                &k.opener, &id, &head, &tail, &listed,
            ))
        },
        Ok,
    )
}

/// Opens every blob that `toc` lists in the whole pack `pack`, on the worker pool; resolves to
/// the blobs that failed, in table order.
#[napi(ts_return_type = "Promise<BlobProblem[]>")]
pub fn verify_pack_blobs<'e>(
    env: &'e Env,
    key: &Key,
    pack: Buffer,
    toc: Buffer,
) -> Result<Object<'e>> {
    let listed = entries_of(&toc)?;
    let k = Arc::clone(&key.inner);
    spawn_promise(
        env,
        move || Ok(check::verify_blobs(&k.opener, &k.ids, &pack, &listed)),
        |found| Ok(found.into_iter().map(blob_problem).collect::<Vec<_>>()),
    )
}

/// What `salvagePack` found in one pack.
#[napi(object)]
pub struct PackSalvage {
    /// Problems of the pack's structure and table (empty, with no `bad` blob, for a sound pack).
    pub problems: Vec<String>,
    /// Where the table used came from: `pack` (its own), `index` (its index object's listing),
    /// `scan` (its own, found past a damaged trailer) or `none` (nothing can be saved).
    pub source: String,
    /// The blobs that verified, as a table in `PackToc` form: what a repair copies.
    pub good: Buffer,
    /// How many blobs `good` holds.
    pub good_count: u32,
    /// The blobs that failed: what a repair drops.
    pub bad: Vec<BlobProblem>,
}

fn blob_problem(p: check::BlobProblem) -> BlobProblem {
    BlobProblem {
        offset: p.entry.offset,
        length: p.entry.length,
        obj_type: u32::from(p.entry.obj_type),
        id: Buffer::from(p.entry.id.to_vec()),
        code: p.error.kind.code().to_string(),
        message: p.error.message,
    }
}

/// Salvages pack `packId`, given whole as `pack` (`check --repair`): the blobs of its own table,
/// else of `listed` (the table its index object lists, as in `PackToc`, or null), else of a table
/// found by scanning its tail, each opened and checked as `verifyPackBlobs` does.
#[napi(ts_return_type = "Promise<PackSalvage>")]
pub fn salvage_pack<'e>(
    env: &'e Env,
    key: &Key,
    pack_id: Buffer,
    pack: Buffer,
    listed: Option<Buffer>,
) -> Result<Object<'e>> {
    let id = array32(&pack_id, "pack id")?;
    let listed = listed.map(|t| entries_of(&t)).transpose()?;
    let k = Arc::clone(&key.inner);
    spawn_promise(
        env,
        move || {
            Ok(check::salvage::salvage(
                &k.opener,
                &k.ids,
                &id,
                &pack,
                listed.as_deref(),
            ))
        },
        |s| {
            Ok(PackSalvage {
                problems: s.problems,
                source: s.source.name().to_string(),
                good: Buffer::from(toc_bytes(&s.good)),
                good_count: s.good.len() as u32,
                bad: s.bad.into_iter().map(blob_problem).collect(),
            })
        },
    )
}
