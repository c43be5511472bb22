//! Passphrase key derivation and subkeys.

use hoard_core::kdf::{self, KdfParams};
use hoard_core::keys::{self, Purpose, Suite};
use napi::bindgen_prelude::{Buffer, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, invalid, whole};
use crate::task::spawn_promise;

/// argon2id costs (whole numbers; see hoard-core's `KdfParams::check` for their ranges).
#[napi(object)]
pub struct Argon2Params {
    /// Passes over memory.
    pub time_cost: f64,
    /// Memory in KiB.
    pub memory_kib: f64,
    /// Lanes.
    pub parallelism: f64,
}

/// argon2id's default costs (3 passes over 64 MiB in 4 lanes), or the cheapest ones when `weak`.
#[napi]
pub fn argon2_params(weak: bool) -> Argon2Params {
    let p = if weak {
        KdfParams::testonly_weak()
    } else {
        KdfParams::default()
    };
    Argon2Params {
        time_cost: f64::from(p.time_cost),
        memory_kib: f64::from(p.memory_kib),
        parallelism: f64::from(p.parallelism),
    }
}

/// Derives a 32-byte key-encryption key from a passphrase and a salt (at least 8 bytes).
#[napi(js_name = "argon2id", ts_return_type = "Promise<Buffer>")]
pub fn argon2id(
    env: &Env,
    passphrase: Buffer,
    salt: Buffer,
    params: Argon2Params,
) -> Result<Object<'_>> {
    let cost = |v: f64, what: &str| -> Result<u32> {
        // `whole` bounds it to u32::MAX.
        whole(v, what, u64::from(u32::MAX)).map(|x| x as u32)
    };
    let p = KdfParams {
        time_cost: cost(params.time_cost, "timeCost")?,
        memory_kib: cost(params.memory_kib, "memoryKib")?,
        parallelism: cost(params.parallelism, "parallelism")?,
    };
    p.check().napi()?;
    spawn_promise(
        env,
        move || kdf::argon2id(&passphrase, &salt, p),
        |k| Ok(Buffer::from(k.to_vec())),
    )
}

/// One subkey of a master key: HKDF-SHA256 with info `hoard/1 <purpose> <suite>`, where purpose
/// is `encryption`, `chunk-id` or `chunker`.
#[napi]
pub fn derive_subkey(master: Buffer, purpose: String, suite: String) -> Result<Buffer> {
    let purpose = match purpose.as_str() {
        "encryption" => Purpose::Encryption,
        "chunk-id" => Purpose::ChunkId,
        "chunker" => Purpose::Chunker,
        other => return Err(invalid(format!("unknown subkey purpose {other:?}"))),
    };
    let suite: Suite = suite.parse().napi()?;
    keys::subkey(&master, purpose, suite)
        .napi()
        .map(|k| Buffer::from(k.to_vec()))
}
