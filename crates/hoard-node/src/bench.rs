//! The measurements behind `hoard benchmark cpu`.

use hoard_core::bench::{self, Content, Workload};
use napi::bindgen_prelude::Object;
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, invalid};
use crate::task::spawn_promise;

/// One measurement.
#[napi(object)]
pub struct Measurement {
    /// Bytes processed (for `kdf:argon2id`, derivations).
    pub amount: f64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Measures `item` (`chunker:SPEC`, `id:ALGO`, `seal:SUITE`, `kdf:argon2id`, `compress:SPEC`,
/// `decompress:SPEC`) over `amount` bytes of `content` (`random` or `text`), single-threaded (but
/// for the KDF's lanes), on the worker pool.
#[napi(ts_return_type = "Promise<Measurement>")]
pub fn benchmark_cpu(env: &Env, item: String, content: String, amount: f64) -> Result<Object<'_>> {
    let workload: Workload = item.parse().napi()?;
    let content = match content.as_str() {
        "random" => Content::Random,
        "text" => Content::Text,
        other => return Err(invalid(format!("unknown content {other:?}"))),
    };
    if !(amount.is_finite() && amount >= 1.0) {
        return Err(invalid("amount must be at least 1"));
    }
    // Saturating conversion; amounts are far below 2^53.
    let amount = amount as u64;
    spawn_promise(
        env,
        move || bench::measure(workload, content, amount),
        |m| {
            Ok(Measurement {
                amount: m.amount as f64,
                seconds: m.seconds,
            })
        },
    )
}

/// Threads in hoard-core's worker pool.
#[napi]
pub fn worker_threads() -> u32 {
    u32::try_from(hoard_core::pool::threads()).unwrap_or(u32::MAX)
}
