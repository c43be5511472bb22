//! `FilesCache`: the files cache of one repository as a JS class.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hoard_core::files_cache::{self, Mode};
use napi::bindgen_prelude::Object;
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, whole};
use crate::task::spawn_promise;

/// What each file's path last held, so that unchanged files are not read again. Give it to a
/// `Writer`; save it after the archive is committed.
#[napi]
pub struct FilesCache {
    pub(crate) inner: Arc<Mutex<files_cache::FilesCache>>,
}

fn lock(m: &Mutex<files_cache::FilesCache>) -> std::sync::MutexGuard<'_, files_cache::FilesCache> {
    // Cache updates insert or remove whole entries; a panic elsewhere leaves it consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn settings(mode: &str, ttl: f64, start_ns: f64) -> Result<(Mode, u8, i64)> {
    let mode: Mode = mode.parse().napi()?;
    let ttl = whole(ttl, "files cache ttl", 254)? as u8;
    // Milliseconds-precise start times as ns fit in f64's exact range only approximately;
    // the race guard needs no more than that.
    Ok((mode, ttl, start_ns as i64))
}

#[napi]
impl FilesCache {
    /// An empty cache with borg's `--files-cache` mode (e.g. `ctime,size,inode`), dropping
    /// entries unseen for `ttl` runs, for a run that started at `startNs` (ns since the epoch).
    #[napi(constructor)]
    pub fn new(mode: String, ttl: f64, start_ns: f64) -> Result<Self> {
        let (mode, ttl, start) = settings(&mode, ttl, start_ns)?;
        Ok(Self {
            inner: Arc::new(Mutex::new(files_cache::FilesCache::new(mode, ttl, start))),
        })
    }

    /// Reads a cache saved by `save` (a damaged one is `HOARD_CORRUPT`).
    #[napi(ts_return_type = "Promise<FilesCache>")]
    pub fn load(
        env: &Env,
        path: String,
        mode: String,
        ttl: f64,
        start_ns: f64,
    ) -> Result<Object<'_>> {
        let (mode, ttl, start) = settings(&mode, ttl, start_ns)?;
        spawn_promise(
            env,
            move || files_cache::FilesCache::load(&PathBuf::from(path), mode, ttl, start),
            |c| {
                Ok(FilesCache {
                    inner: Arc::new(Mutex::new(c)),
                })
            },
        )
    }

    /// Writes the cache to `path` atomically.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save<'e>(&self, env: &'e Env, path: String) -> Result<Object<'e>> {
        let inner = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || lock(&inner).save(&PathBuf::from(path)),
            |()| Ok(()),
        )
    }

    /// Entries held.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        lock(&self.inner).len() as u32
    }
}
