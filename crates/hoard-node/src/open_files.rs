//! Pack files kept open for reading byte ranges (see `hoard_core::open_files`).

use std::sync::Arc;

use hoard_core::open_files;
use napi::bindgen_prelude::{Buffer, Either, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{invalid, whole};
use crate::fsmeta::os_path;
use crate::task::{PACKS, queued_promise};

/// Files kept open for reading ranges of them: the few most recently read (a local repository's
/// packs), so that reading ranges of a pack again opens nothing. Closed as newer files push them
/// out, and when this object is collected.
#[napi]
pub struct OpenFiles {
    inner: Arc<open_files::OpenFiles>,
}

#[napi]
impl OpenFiles {
    /// Keeps at most `capacity` files open.
    #[napi(constructor)]
    pub fn new(capacity: f64) -> Result<Self> {
        let capacity = whole(capacity, "capacity", 1 << 16)? as usize;
        Ok(Self {
            inner: Arc::new(open_files::OpenFiles::new(capacity)),
        })
    }

    /// Reads ranges of the file at `path` into `into`, each buffer filled from its offset in
    /// `offsets` (one per buffer), on a thread of its own; resolves to the bytes read into each
    /// (fewer than its length only where the file ends). The buffers must not be used until then.
    #[napi(ts_return_type = "Promise<number[]>")]
    pub fn read_ranges<'e>(
        &self,
        env: &'e Env,
        path: Either<String, Buffer>,
        offsets: Vec<f64>,
        into: Vec<Buffer>,
    ) -> Result<Object<'e>> {
        if offsets.len() != into.len() {
            return Err(invalid("one offset per buffer"));
        }
        let offsets = offsets
            .into_iter()
            .map(|o| whole(o, "offset", 1 << 53))
            .collect::<Result<Vec<_>>>()?;
        let files = Arc::clone(&self.inner);
        let path = os_path(path);
        queued_promise(
            env,
            &PACKS,
            move || {
                let mut into = into;
                let mut ranges: Vec<(u64, &mut [u8])> = offsets
                    .into_iter()
                    .zip(into.iter_mut().map(|b| b.as_mut()))
                    .collect();
                files.read_ranges(&path, &mut ranges)
            },
            |got| Ok(got.into_iter().map(|n| n as f64).collect::<Vec<f64>>()),
        )
    }

    /// Closes the kept descriptor of the file at `path`, if any (a read in progress keeps it
    /// until it ends): for a file deleted or replaced, whose space a kept descriptor would hold.
    #[napi]
    pub fn forget(&self, path: Either<String, Buffer>) {
        self.inner.forget(&os_path(path));
    }

    /// Closes every kept descriptor (as `forget` does each).
    #[napi]
    pub fn clear(&self) {
        self.inner.clear();
    }
}
