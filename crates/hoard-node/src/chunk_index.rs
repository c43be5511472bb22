//! `ChunkIndex`: the client's chunk index (chunk id -> pack, offset, length) as a JS class.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use hoard_core::chunk_index::{self, PENDING};
use hoard_core::index_object;
use napi::bindgen_prelude::{Buffer, Object, Uint32Array};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{array32, invalid, whole};
use crate::key::Key;
use crate::task::spawn_promise;

/// The chunk index: every blob the repository's index objects list, plus those this process
/// stored. Shared with the writers made from it.
#[napi]
pub struct ChunkIndex {
    pub(crate) inner: Arc<Mutex<chunk_index::ChunkIndex>>,
    meta: Vec<u8>,
}

/// Where blobs lie: one entry per id asked for; pack `0xffffffff` means missing or not yet
/// stored.
#[napi(object)]
pub struct Locations {
    /// The pack number of each blob (see `ChunkIndex.packId`).
    pub packs: Uint32Array,
    /// The blob's offset in its pack.
    pub offsets: Uint32Array,
    /// The blob's length.
    pub lengths: Uint32Array,
}

pub(crate) fn lock(m: &Mutex<chunk_index::ChunkIndex>) -> MutexGuard<'_, chunk_index::ChunkIndex> {
    // Index updates swap or push whole values; a panic elsewhere leaves the table consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Splits concatenated 32-byte ids.
pub(crate) fn ids_of(ids: &[u8]) -> Result<Vec<[u8; 32]>> {
    if !ids.len().is_multiple_of(32) {
        return Err(invalid(format!(
            "ids must be 32 bytes each, got {} bytes",
            ids.len()
        )));
    }
    Ok(ids
        .chunks_exact(32)
        .map(|c| {
            let mut a = [0u8; 32];
            a.copy_from_slice(c);
            a
        })
        .collect())
}

#[napi]
impl ChunkIndex {
    /// An empty index.
    #[napi(constructor)]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(chunk_index::ChunkIndex::new())),
            meta: Vec::new(),
        }
    }

    /// Reads an index saved by `save` (a damaged file is `HOARD_CORRUPT`); its `meta` is the
    /// bytes given to `save`.
    #[napi(ts_return_type = "Promise<ChunkIndex>")]
    pub fn load(env: &Env, path: String) -> Result<Object<'_>> {
        spawn_promise(
            env,
            move || chunk_index::ChunkIndex::load(&PathBuf::from(path)),
            |(ix, meta)| {
                Ok(ChunkIndex {
                    inner: Arc::new(Mutex::new(ix)),
                    meta,
                })
            },
        )
    }

    /// Writes the index and `meta` to `path` atomically.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save<'e>(&self, env: &'e Env, path: String, meta: Buffer) -> Result<Object<'e>> {
        let inner = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || lock(&inner).save(&PathBuf::from(path), &meta),
            |()| Ok(()),
        )
    }

    /// The bytes saved with the index (empty for a new one).
    #[napi(getter)]
    pub fn meta(&self) -> Buffer {
        Buffer::from(self.meta.clone())
    }

    /// Entries in the index.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        lock(&self.inner).len() as u32
    }

    /// The sum of the stored lengths of all blobs.
    #[napi(getter)]
    pub fn stored_bytes(&self) -> f64 {
        lock(&self.inner).stored_bytes() as f64
    }

    /// The sum of the plaintext lengths of all blobs (borg's `unique_size`).
    #[napi(getter)]
    pub fn plain_bytes(&self) -> f64 {
        lock(&self.inner).plain_bytes() as f64
    }

    /// Bytes of memory the table holds.
    #[napi(getter)]
    pub fn memory(&self) -> f64 {
        lock(&self.inner).memory() as f64
    }

    /// The id of pack number `n`.
    #[napi]
    pub fn pack_id(&self, n: f64) -> Result<Buffer> {
        let n = whole(n, "pack number", u64::from(u32::MAX))? as usize;
        lock(&self.inner)
            .packs()
            .get(n)
            .map(|p| Buffer::from(p.to_vec()))
            .ok_or_else(|| invalid(format!("no pack number {n}")))
    }

    /// Opens index object `id` and adds its blobs (a replacing one moves blobs the index has to
    /// its places); resolves to how many were new.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn add_index_object<'e>(
        &self,
        env: &'e Env,
        key: &Key,
        id: Buffer,
        sealed: Buffer,
    ) -> Result<Object<'e>> {
        let id = array32(&id, "index object id")?;
        let inner = Arc::clone(&self.inner);
        let k = Arc::clone(&key.inner);
        spawn_promise(
            env,
            move || {
                let (packs, replacing) = index_object::open_flagged(&k.opener, &id, &sealed)?;
                Ok(index_object::add_as(&mut lock(&inner), &packs, replacing) as u32)
            },
            Ok,
        )
    }

    /// Where each of `ids` (32 bytes each, concatenated) lies.
    #[napi]
    pub fn locate(&self, ids: Buffer) -> Result<Locations> {
        let ids = ids_of(&ids)?;
        let ix = lock(&self.inner);
        let (mut packs, mut offsets, mut lengths) = (
            Vec::with_capacity(ids.len()),
            Vec::with_capacity(ids.len()),
            Vec::with_capacity(ids.len()),
        );
        for id in &ids {
            let loc = ix.get(id).unwrap_or(chunk_index::Location {
                pack: PENDING,
                offset: 0,
                length: 0,
            });
            packs.push(loc.pack);
            offsets.push(loc.offset);
            lengths.push(loc.length);
        }
        Ok(Locations {
            packs: Uint32Array::new(packs),
            offsets: Uint32Array::new(offsets),
            lengths: Uint32Array::new(lengths),
        })
    }

    /// Whether every one of `ids` is in the index (and stored).
    #[napi]
    pub fn has_all(&self, ids: Buffer) -> Result<bool> {
        let ids = ids_of(&ids)?;
        let ix = lock(&self.inner);
        Ok(ids
            .iter()
            .all(|id| ix.get(id).is_some_and(|l| l.pack != PENDING)))
    }
}

impl Default for ChunkIndex {
    fn default() -> Self {
        Self::new()
    }
}
