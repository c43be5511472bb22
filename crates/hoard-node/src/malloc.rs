//! glibc's allocator, tuned once when the addon loads.
//!
//! glibc serves an allocation above its mmap threshold with a mapping of its own that goes back to
//! the system when freed; below it, from a heap arena that keeps the memory. By default the
//! threshold is dynamic: freeing one mapped 8 MiB pack raises it to 8 MiB, after which every
//! pack and chunk buffer comes from the arenas, and a backup's peak memory grows by tens of MiB.
//! A fixed threshold of 4 MiB keeps packs mapped (returned as soon as they are stored) while
//! chunk-sized buffers, reused per thread, stay in the arenas.
//!
//! glibc also gives each new thread an arena of its own (up to 8 per core), which keeps what was
//! freed in it for that thread alone. `create`'s walk thread reads every directory, and what it
//! allocates is freed later, mostly by V8 collecting the Buffers it handed over: in an arena of
//! its own that memory stayed resident (peak RSS of a 2 GB create 168 to 173 MB instead of 155
//! to 158). At most 2 arenas make the threads share what is freed (155 and 157 MB, at the same
//! CPU time).

// The one call below is glibc's `mallopt`, for which Rust has no safe wrapper.
#![allow(unsafe_code)]

/// The fixed threshold: above the average chunk (2 MiB), below a pack.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 4 << 20;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    /// glibc's `int mallopt(int param, int value)`.
    fn mallopt(param: i32, value: i32) -> i32;
}

/// Most arenas (see the module docs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENA_MAX: i32 = 2;

/// Fixes glibc's mmap threshold and arena count (see the module docs); elsewhere it does nothing.
#[napi_derive::module_init]
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's `M_MMAP_THRESHOLD` parameter number (malloc.h).
        const M_MMAP_THRESHOLD: i32 = -3;
        /// glibc's `M_ARENA_MAX` parameter number (malloc.h).
        const M_ARENA_MAX: i32 = -8;
        // SAFETY: mallopt takes two plain integers and has no memory-safety preconditions; it
        // runs once, while the addon loads, before any of hoard's threads allocate. A refusal
        // (return 0) leaves glibc's default in place, which is only slower to give memory back.
        // Arenas made before (Node's own threads) stay; later threads share them.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            mallopt(M_ARENA_MAX, ARENA_MAX);
        }
    }
}

/// Gives the free pages inside glibc's arenas back to the system (`malloc_trim(0)`); returns
/// whether any went (see hoard-core's `free_memory`).
#[napi_derive::napi]
pub fn trim_memory() -> bool {
    hoard_core::free_memory::give_back()
}
