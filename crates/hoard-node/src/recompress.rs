//! `Writer.recompressChunks`: recreate's recompression of stored chunks (hoard-core's
//! `recompress`), fed with pack ranges the caller fetched.

use std::sync::Arc;

use hoard_core::recompress;
use hoard_core::restore::{self, Fetched};
use napi::bindgen_prelude::{Buffer, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::chunk_index::{ChunkIndex, ids_of, lock};
use crate::key::Key;
use crate::reader::{FetchedRange, owned_ranges};
use crate::task::spawn_promise;
use crate::writer::Writer;

/// What `Writer.recompressChunks` did.
#[napi(object)]
pub struct RecompressTotals {
    /// Chunks stored again.
    pub recompressed: f64,
    /// Chunks left as they were.
    pub kept: f64,
    /// Stored bytes of the recompressed chunks' old copies.
    pub old_stored: f64,
    /// Stored bytes of their new copies.
    pub new_stored: f64,
}

#[napi]
impl Writer {
    /// Recompresses stored chunks `ids` (32 bytes each, no id twice) with this writer's codec,
    /// from the pack ranges the caller fetched for them: each is opened and decompressed and,
    /// `always` or when the codec the spec picks for its data differs from the stored one, stored
    /// again as a replacing copy under the same id (`index` then places it there). Pack the
    /// writer's output with replacing index objects.
    #[napi(ts_return_type = "Promise<RecompressTotals>")]
    pub fn recompress_chunks<'e>(
        &self,
        env: &'e Env,
        key: &Key,
        index: &ChunkIndex,
        ids: Buffer,
        ranges: Vec<FetchedRange>,
        always: bool,
    ) -> Result<Object<'e>> {
        let ids = ids_of(&ids)?;
        let w = Arc::clone(&self.inner);
        let k = Arc::clone(&key.inner);
        let ix = Arc::clone(&index.inner);
        let owned = owned_ranges(ranges);
        let mode = if always {
            recompress::Mode::Always
        } else {
            recompress::Mode::IfDifferent
        };
        spawn_promise(
            env,
            move || {
                let fetched =
                    Fetched::new(owned.iter().map(|(p, o, d)| (*p, *o, &d[..])).collect());
                let locs = restore::snapshot(&lock(&ix), &ids);
                let locate = |id: &[u8; 32]| locs.get(id).copied();
                recompress::recompress_chunks(&w, &k.opener, &locate, &fetched, &ids, mode)
            },
            |t| {
                Ok(RecompressTotals {
                    recompressed: t.recompressed as f64,
                    kept: t.kept as f64,
                    old_stored: t.old_stored as f64,
                    new_stored: t.new_stored as f64,
                })
            },
        )
    }
}
