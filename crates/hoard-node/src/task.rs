//! Running work on hoard-core's pool and settling a promise with the result.

use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::{Env, Result};

use crate::error::to_napi;

/// Runs `job` on the worker pool; the promise resolves with `finish(result)` on the JS thread.
pub fn spawn_promise<T, R, J, F>(env: &Env, job: J, finish: F) -> Result<Object<'_>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
    J: FnOnce() -> hoard_core::Result<T> + Send + 'static,
    F: FnOnce(T) -> Result<R> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    hoard_core::pool::spawn(move || match job() {
        Ok(value) => deferred.resolve(move |_env| finish(value)),
        Err(e) => deferred.reject(to_napi(e)),
    });
    Ok(promise)
}
