//! Running work on hoard-core's pool and settling a promise with the result.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hoard_core::{Error, ErrorKind};
use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::{Env, Result};

use crate::error::to_napi;

/// Runs `job` on the worker pool; the promise resolves with `finish(result)` on the JS thread.
/// A panic in `job` rejects the promise with `HOARD_INTERNAL` instead of leaving it unsettled.
pub fn spawn_promise<T, R, J, F>(env: &Env, job: J, finish: F) -> Result<Object<'_>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
    J: FnOnce() -> hoard_core::Result<T> + Send + 'static,
    F: FnOnce(T) -> Result<R> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    hoard_core::pool::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::new(
                ErrorKind::Internal,
                format!("a native task panicked: {what}"),
            ))
        });
        match outcome {
            Ok(value) => deferred.resolve(move |_env| finish(value)),
            Err(e) => deferred.reject(to_napi(e)),
        }
    });
    Ok(promise)
}
