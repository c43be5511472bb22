//! Chunker parameters and cutting a buffer (files are cut through `Key`).

use hoard_core::chunker::{Chunker, ChunkerParams};
use napi::bindgen_prelude::{Buffer, Object, Uint32Array};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, array32};
use crate::task::spawn_promise;

/// The canonical form of a `--chunker-params` spec; throws on a bad spec.
#[napi]
pub fn parse_chunker_params(spec: String) -> Result<String> {
    spec.parse::<ChunkerParams>().napi().map(|p| p.to_string())
}

/// Cuts `data` as one whole stream with the chunker `spec` and table `seed` (32 bytes); resolves
/// to the chunk lengths.
#[napi(ts_return_type = "Promise<Uint32Array>")]
pub fn chunk_buffer(env: &Env, spec: String, seed: Buffer, data: Buffer) -> Result<Object<'_>> {
    let params: ChunkerParams = spec.parse().napi()?;
    let seed = array32(&seed, "seed")?;
    spawn_promise(
        env,
        move || {
            let lens = Chunker::new(&params, &seed).cut_all(&data);
            // Chunks are at most 2^23 bytes.
            Ok(lens.into_iter().map(|l| l as u32).collect::<Vec<u32>>())
        },
        |v| Ok(Uint32Array::new(v)),
    )
}
