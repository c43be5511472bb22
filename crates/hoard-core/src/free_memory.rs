//! Giving the allocator's free memory back to the system.
//!
//! glibc returns memory to the system only from the top of an arena (and whole blocks above its
//! mmap threshold). What the walk, the worker threads and V8's collected Buffers free below the
//! top stays resident, unused, until `malloc_trim` hands those pages back (`madvise`).

// The one call below is glibc's `malloc_trim`, for which Rust has no safe wrapper.
#![allow(unsafe_code)]

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    /// glibc's `int malloc_trim(size_t pad)`.
    fn malloc_trim(pad: usize) -> i32;
}

/// Gives the free pages inside every glibc arena back to the system (`malloc_trim(0)`); returns
/// whether any went. Elsewhere it does nothing and returns false.
pub fn give_back() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a plain size and has no memory-safety preconditions; glibc
        // locks each arena while it walks it, so other threads may allocate meanwhile.
        unsafe { malloc_trim(0) != 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
