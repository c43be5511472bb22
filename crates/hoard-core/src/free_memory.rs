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

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::give_back;

    /// This process's resident memory in bytes (`/proc/self/statm`'s second field, in pages).
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: usize = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("resident pages");
        pages * 4096
    }

    #[test]
    fn freed_blocks_below_the_top_go_back() {
        // 2,048 blocks of 64 KiB (below any mmap threshold: from this thread's arena), written so
        // they are resident, then one more that stays, so the freed ones are not the arena's top.
        let mut blocks: Vec<Vec<u8>> = (0..2048)
            .map(|i| vec![(i % 251) as u8 + 1; 64 << 10])
            .collect();
        let pin = vec![7u8; 64 << 10];
        blocks.clear();
        blocks.shrink_to_fit();
        let before = resident();
        assert!(give_back());
        let after = resident();
        // 128 MiB were freed; other tests running meanwhile move the count by far less.
        assert!(before > after + (64 << 20), "resident {before} -> {after}");
        assert_eq!(pin[0], 7);
    }
}
