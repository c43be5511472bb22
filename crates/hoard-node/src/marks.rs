//! `Marks`: which blobs of a chunk index are referenced, and by whom, as a JS class.

use std::sync::{Arc, Mutex, MutexGuard};

use hoard_core::chunk_index;
use hoard_core::marks::{self, Mark};
use napi::Result;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::chunk_index::{ChunkIndex, ids_of, lock};
use crate::error::{IntoNapi, array32, whole};
use crate::writer::{PackToc, toc_entries};

/// Blobs and their stored bytes.
#[napi(object)]
pub struct BlobTotals {
    /// How many blobs.
    pub blobs: f64,
    /// Their stored length (envelopes included).
    pub bytes: f64,
}

/// Totals of marked blobs by owner.
#[napi(object)]
pub struct MarkTotals {
    /// Per owner `0..owners`: the blobs that owner alone marked.
    pub owners: Vec<BlobTotals>,
    /// The blobs two or more owners marked.
    pub shared: BlobTotals,
}

/// How much of one pack is live.
#[napi(object)]
pub struct PackUsage {
    /// Every blob the pack's table lists.
    pub all: BlobTotals,
    /// The live ones: marked, and the copy the chunk index places in this pack.
    pub live: BlobTotals,
}

fn totals(t: marks::BlobTotals) -> BlobTotals {
    BlobTotals {
        blobs: t.blobs as f64,
        bytes: t.bytes as f64,
    }
}

/// The marks, locked (after the chunk index, when both are needed).
pub(crate) fn state(m: &Mutex<marks::Marks>) -> MutexGuard<'_, marks::Marks> {
    // Marking changes one state at a time; a panic elsewhere leaves the table consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks over one chunk index: 0 unmarked, or the one owner (e.g. archive) that marked a blob, or
/// shared. Compact marks every archive's trees and chunks to find dead blobs; `info` and `delete
/// --stats` give each archive its own owner to find the blobs only it references.
#[napi]
pub struct Marks {
    pub(crate) index: Arc<Mutex<chunk_index::ChunkIndex>>,
    pub(crate) inner: Arc<Mutex<marks::Marks>>,
}

#[napi]
impl Marks {
    /// No blob of `index` marked. The index must not lose entries while the marks are used.
    #[napi(constructor)]
    pub fn new(index: &ChunkIndex) -> Self {
        Self {
            index: Arc::clone(&index.inner),
            inner: Arc::new(Mutex::new(marks::Marks::new())),
        }
    }

    /// Marks `ids` (32 bytes each, concatenated) as referenced by `owner`; one byte per id: 1 when
    /// its state changed (a tree to descend into), 0 when not, 2 when the index lacks it.
    #[napi]
    pub fn mark(&self, ids: Buffer, owner: f64) -> Result<Buffer> {
        let ids = ids_of(&ids)?;
        let owner = whole(owner, "owner", u64::from(marks::MAX_OWNER))? as u32;
        let index = lock(&self.index);
        let mut m = state(&self.inner);
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(match m.mark(&index, id, owner).napi()? {
                Mark::Unchanged => 0,
                Mark::Changed => 1,
                Mark::Unknown => 2,
            });
        }
        Ok(Buffer::from(out))
    }

    /// Totals of the marked blobs: per owner `0..owners`, and shared.
    #[napi]
    pub fn totals(&self, owners: f64) -> Result<MarkTotals> {
        let owners = whole(owners, "owners", u64::from(marks::MAX_OWNER) + 1)? as usize;
        // Always the index first, then the marks: one lock order for every caller.
        let index = lock(&self.index);
        let t = state(&self.inner).totals(&index, owners);
        Ok(MarkTotals {
            owners: t.owners.into_iter().map(totals).collect(),
            shared: totals(t.shared),
        })
    }

    /// How much of each of `packs` (tables as an index object lists them) is live.
    #[napi]
    pub fn pack_usage(&self, packs: Vec<PackToc>) -> Result<Vec<PackUsage>> {
        let index = lock(&self.index);
        let m = state(&self.inner);
        let mut out = Vec::with_capacity(packs.len());
        for p in &packs {
            let u = m.pack_usage(&index, &array32(&p.id, "pack id")?, &toc_entries(&p.toc)?);
            out.push(PackUsage {
                all: totals(u.all),
                live: totals(u.live),
            });
        }
        Ok(out)
    }
}
