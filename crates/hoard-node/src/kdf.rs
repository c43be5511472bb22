//! Passphrase key derivation and subkeys.

use hoard_core::kdf::{self, KdfParams};
use hoard_core::keys::{self, Purpose, Suite};
use napi::bindgen_prelude::{Buffer, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, invalid};
use crate::task::spawn_promise;

/// argon2id costs.
#[napi(object)]
pub struct Argon2Params {
    /// Passes over memory.
    pub time_cost: u32,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// argon2id's default costs (3 passes over 64 MiB, one lane), or the cheapest ones when `weak`.
#[napi]
pub fn argon2_params(weak: bool) -> Argon2Params {
    let p = if weak {
        KdfParams::testonly_weak()
    } else {
        KdfParams::default()
    };
    Argon2Params {
        time_cost: p.time_cost,
        memory_kib: p.memory_kib,
        parallelism: p.parallelism,
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
    let p = KdfParams {
        time_cost: params.time_cost,
        memory_kib: params.memory_kib,
        parallelism: params.parallelism,
    };
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
