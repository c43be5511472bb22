//! `Repacker`: compact's copying of live blobs from old packs into new ones, as a JS class.

use std::sync::{Arc, Mutex, MutexGuard};

use hoard_core::{envelope, pack, repack};
use napi::bindgen_prelude::{Buffer, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::chunk_index::lock;
use crate::error::{IntoNapi, array32, whole};
use crate::key::Key;
use crate::marks::{Marks, state};
use crate::task::spawn_promise;
use crate::writer::{PackOut, pack_out};

/// What copying one old pack did.
#[napi(object, object_from_js = false)]
pub struct RepackResult {
    /// New packs that filled up meanwhile, to be stored (their `toc` goes into an index object).
    pub packs: Vec<PackOut>,
    /// Live blobs copied.
    pub blobs: f64,
    /// Their stored bytes.
    pub bytes: f64,
}

fn inner(m: &Mutex<repack::Repacker>) -> MutexGuard<'_, repack::Repacker> {
    // A failed copy leaves the pack being filled as it was before the call.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Copies the live blobs of old packs, verbatim, into new packs sealed under a new session.
#[napi]
pub struct Repacker {
    key: Arc<crate::key::KeyInner>,
    inner: Arc<Mutex<repack::Repacker>>,
}

#[napi]
impl Repacker {
    /// A repacker for the repository of `key`; a new pack is closed once it holds `packSize`
    /// bytes (default 8 MiB).
    #[napi(constructor)]
    pub fn new(key: &Key, pack_size: Option<f64>) -> Result<Self> {
        let size = match pack_size {
            Some(v) => whole(v, "pack size", 1 << 31)? as usize,
            None => 8 << 20,
        };
        let k = &key.inner;
        let session = envelope::Session::new(k.suite, &k.encryption).napi()?;
        Ok(Self {
            key: Arc::clone(k),
            inner: Arc::new(Mutex::new(repack::Repacker::new(session, size))),
        })
    }

    /// Copies the live blobs (per `marks` and its chunk index) of old pack `packId`, given whole
    /// as `pack`. The pack's own sealed table of contents says what it holds, so a damaged or
    /// swapped pack fails here, before anything of it is copied.
    #[napi(ts_return_type = "Promise<RepackResult>")]
    pub fn copy_live<'e>(
        &self,
        env: &'e Env,
        marks: &Marks,
        pack_id: Buffer,
        pack: Buffer,
    ) -> Result<Object<'e>> {
        let id = array32(&pack_id, "pack id")?;
        let key = Arc::clone(&self.key);
        let index = Arc::clone(&marks.index);
        let m = Arc::clone(&marks.inner);
        let r = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || {
                let entries = pack::read_toc(&key.opener, &id, &pack)?;
                // The index first, then the marks, as `Marks` takes them.
                let live = {
                    let index = lock(&index);
                    state(&m).live_entries(&index, &id, &entries)
                };
                let bytes: u64 = live.iter().map(|e| u64::from(e.length)).sum();
                let packs = inner(&r).copy(&pack, &live)?;
                Ok((packs, live.len(), bytes))
            },
            |(packs, blobs, bytes)| {
                Ok(RepackResult {
                    packs: packs.into_iter().map(pack_out).collect(),
                    blobs: blobs as f64,
                    bytes: bytes as f64,
                })
            },
        )
    }

    /// Copies the blobs that `toc` (as in `PackToc`, e.g. what `salvagePack` found good) lists
    /// out of `pack`, a whole old pack, verbatim (`check --repair`). Nothing is opened: the
    /// caller verified them.
    #[napi(ts_return_type = "Promise<RepackResult>")]
    pub fn copy_blobs<'e>(&self, env: &'e Env, pack: Buffer, toc: Buffer) -> Result<Object<'e>> {
        let entries = crate::check::entries_of(&toc)?;
        let r = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || {
                let bytes: u64 = entries.iter().map(|e| u64::from(e.length)).sum();
                let packs = inner(&r).copy(&pack, &entries)?;
                Ok((packs, entries.len(), bytes))
            },
            |(packs, blobs, bytes)| {
                Ok(RepackResult {
                    packs: packs.into_iter().map(pack_out).collect(),
                    blobs: blobs as f64,
                    bytes: bytes as f64,
                })
            },
        )
    }

    /// Closes the pack being filled: resolves to it, or null if it holds nothing.
    #[napi(ts_return_type = "Promise<PackOut | null>")]
    pub fn finish<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        let r = Arc::clone(&self.inner);
        spawn_promise(env, move || inner(&r).finish(), |p| Ok(p.map(pack_out)))
    }
}
