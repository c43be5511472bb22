//! Compression: `compress`, `decompress`, `parseCompression`.

use hoard_core::codec::{self, Codec};
use napi::bindgen_prelude::{Buffer, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, whole};
use crate::task::spawn_promise;

/// The canonical form of a `--compression` spec (e.g. `zstd` -> `zstd,3`); throws on a bad spec.
#[napi]
pub fn parse_compression(spec: String) -> Result<String> {
    spec.parse::<Codec>().napi().map(|c| c.to_string())
}

/// Compresses `data` with `spec` into a self-describing frame (docs/format.md).
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn compress(env: &Env, spec: String, data: Buffer) -> Result<Object<'_>> {
    let codec: Codec = spec.parse().napi()?;
    spawn_promise(
        env,
        move || codec::compress(codec, &data),
        |v| Ok(Buffer::from(v)),
    )
}

/// Decompresses a frame, refusing more than `limit` bytes (a whole number up to 2^32 - 1;
/// default 64 MiB).
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn decompress(env: &Env, frame: Buffer, limit: Option<f64>) -> Result<Object<'_>> {
    let limit = match limit {
        // A frame cannot declare more than u32::MAX bytes, so larger limits add nothing.
        Some(l) => whole(l, "limit", u64::from(u32::MAX))? as usize,
        None => codec::DEFAULT_LIMIT,
    };
    spawn_promise(
        env,
        move || codec::decompress(&frame, limit),
        |v| Ok(Buffer::from(v)),
    )
}
