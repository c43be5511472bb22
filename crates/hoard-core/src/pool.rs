//! hoard-core's own bounded worker pool, so that bulk work never occupies libuv's threads.

use std::sync::OnceLock;

static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();

/// Worker threads: one per core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// The pool, started on first use.
pub fn pool() -> &'static rayon::ThreadPool {
    POOL.get_or_init(|| {
        // Failing to start threads at all leaves nothing useful to do; it does not depend on input.
        #[allow(clippy::expect_used)]
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .thread_name(|i| format!("hoard-worker-{i}"))
            .build()
            .expect("start the hoard worker pool")
    })
}

/// Runs `job` on the pool without waiting for it.
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    pool().spawn(job);
}
