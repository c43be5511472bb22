//! `list --format`'s `{xxh64}` for JavaScript: a streaming hasher over hoard-core's.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// A streaming XXH64 (seed 0): `update` with the content's pieces in order, then `hexDigest`.
#[napi]
pub struct Xxh64(hoard_core::checksum::Xxh64);

#[napi]
impl Xxh64 {
    /// A hasher over no bytes yet.
    #[napi(constructor)]
    pub fn new() -> Self {
        Self(hoard_core::checksum::Xxh64::new())
    }

    /// Adds `data` to what is hashed.
    #[napi]
    pub fn update(&mut self, data: Buffer) {
        self.0.update(&data);
    }

    /// The hash so far as 16 hex digits (Python's `hexdigest`).
    #[napi]
    pub fn hex_digest(&self) -> String {
        self.0.hex_digest()
    }
}
