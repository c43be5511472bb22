//! Giving back the memory pages of a reused buffer that it will not need again soon.

// The one call below is the system's `madvise`, for which Rust has no safe wrapper.
#![allow(unsafe_code)]

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// Page size assumed for rounding (a larger real page size only makes the call free less).
const PAGE: usize = 4096;

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// The C library's `int madvise(void *addr, size_t length, int advice)`.
    fn madvise(addr: *mut std::ffi::c_void, length: usize, advice: i32) -> i32;
}

/// Frees the whole pages of `buf` from byte `from` on, keeping the buffer: they read as zeros
/// until written again, and take memory only once written. Extract's fetch buffers use this after
/// a batch that filled them further than usual (one large chunk), so each does not keep that many
/// pages for the rest of the run. Does nothing where it is not supported.
#[napi]
pub fn discard_pages(mut buf: Buffer, from: u32) {
    #[cfg(target_os = "linux")]
    {
        /// Linux's `MADV_DONTNEED` (asm-generic/mman-common.h).
        const MADV_DONTNEED: i32 = 4;
        let bytes: &mut [u8] = &mut buf;
        let base = bytes.as_mut_ptr() as usize;
        let end = base + bytes.len();
        let start = (base + (from as usize).min(bytes.len())).next_multiple_of(PAGE);
        let stop = end - end % PAGE;
        if start < stop {
            // SAFETY: [start, stop) is whole pages inside `bytes`, which we hold mutably (no other
            // reference into it from Rust), so no allocator metadata or other object lies in them.
            // MADV_DONTNEED on private anonymous memory only replaces the contents with zeros on
            // the next touch; the mapping stays valid. A failure (e.g. memory that is not
            // private anonymous) leaves the pages as they were, which is only less thrifty.
            unsafe {
                madvise(start as *mut std::ffi::c_void, stop - start, MADV_DONTNEED);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (&mut buf, from);
}
