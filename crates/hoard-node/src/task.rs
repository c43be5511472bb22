//! Running work on hoard-core's pool and settling a promise with the result.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};

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
    settle_on(env, job, finish, |run| {
        hoard_core::pool::spawn(run);
        Ok(())
    })
}

/// Like [`spawn_promise`], but runs `job` on a thread of its own: for small jobs that the pool's
/// workers may be waiting for (a writer's workers wait for the caller to take packs; the caller
/// must be able to seal an index object meanwhile, or neither side moves).
pub fn thread_promise<T, R, J, F>(env: &Env, job: J, finish: F) -> Result<Object<'_>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
    J: FnOnce() -> hoard_core::Result<T> + Send + 'static,
    F: FnOnce(T) -> Result<R> + Send + 'static,
{
    settle_on(env, job, finish, |run| {
        std::thread::Builder::new()
            .name("hoard-task".into())
            .spawn(run)
            .map(|_| ())
            .map_err(|e| {
                to_napi(Error::new(
                    ErrorKind::Io,
                    format!("cannot start a thread: {e}"),
                ))
            })
    })
}

/// A job for a kept thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// One kept thread that runs its jobs in call order, started (named `name`) by the first
/// [`queued_promise`] on it, and started again if it is gone.
pub struct Queue {
    name: &'static str,
    jobs: Mutex<Option<Sender<Job>>>,
}

impl Queue {
    const fn new(name: &'static str) -> Self {
        Self {
            name,
            jobs: Mutex::new(None),
        }
    }
}

/// The "hoard-walk" thread: the metadata reads of `create`'s walk (a batch of directory scans
/// per call). On the pool, a scan would wait until the workers had finished the batch of files
/// they were storing, and the walk, which waits for each scan, could not run ahead to give them
/// the next one.
pub static WALK: Queue = Queue::new("hoard-walk");

/// The "hoard-read" thread: opening metadata objects (`readObjects`) while the pool writes a
/// batch of files, where a job queued on the pool would wait for the whole batch. One thread
/// kept for them, not one started per call: an extract of /usr/lib reads trees in some 5,000
/// calls.
pub static READ: Queue = Queue::new("hoard-read");

/// The "hoard-packs" thread: reading ranges of a local repository's packs
/// (`OpenFiles.readRanges`), one call per pack and batch instead of an open, a read per range
/// and a close through libuv's threads.
pub static PACKS: Queue = Queue::new("hoard-packs");

/// Like [`spawn_promise`], but runs `job` on `queue`'s one thread, jobs in call order.
pub fn queued_promise<'e, T, R, J, F>(
    env: &'e Env,
    queue: &'static Queue,
    job: J,
    finish: F,
) -> Result<Object<'e>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
    J: FnOnce() -> hoard_core::Result<T> + Send + 'static,
    F: FnOnce(T) -> Result<R> + Send + 'static,
{
    settle_on(env, job, finish, |run| on_queue(queue, run))
}

/// Hands `run` to the thread of `queue`, starting it on first use.
fn on_queue(queue: &Queue, run: Job) -> Result<()> {
    let mut thread = queue
        .jobs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A thread that is gone (it cannot panic: every job is caught) is started again.
    let run = match thread.as_ref() {
        Some(tx) => match tx.send(run) {
            Ok(()) => return Ok(()),
            Err(back) => back.0,
        },
        None => run,
    };
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name(queue.name.into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })
        .map_err(|e| {
            to_napi(Error::new(
                ErrorKind::Io,
                format!("cannot start a thread: {e}"),
            ))
        })?;
    tx.send(run).map_err(|_| {
        to_napi(Error::new(
            ErrorKind::Internal,
            format!("the {} thread stopped at once", queue.name),
        ))
    })?;
    *thread = Some(tx);
    Ok(())
}

/// Runs `job` through `start` and settles a promise with its outcome.
fn settle_on<'e, T, R, J, F>(
    env: &'e Env,
    job: J,
    finish: F,
    start: impl FnOnce(Box<dyn FnOnce() + Send + 'static>) -> Result<()>,
) -> Result<Object<'e>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
    J: FnOnce() -> hoard_core::Result<T> + Send + 'static,
    F: FnOnce(T) -> Result<R> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    start(Box::new(move || {
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
    }))?;
    Ok(promise)
}
