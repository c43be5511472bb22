//! free_memory::give_back, in a test binary of its own: resident memory is the whole process's,
//! and cargo runs test binaries one after another, so no other test allocates meanwhile.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::hint::black_box;

use hoard_core::free_memory::give_back;

/// This process's resident memory in bytes (`/proc/self/statm`'s second field, in pages of
/// 4 KiB: the page size of x86-64 Linux, the one target hoard ships for).
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
    black_box(&blocks);
    let pin = black_box(vec![7u8; 64 << 10]);
    blocks.clear();
    blocks.shrink_to_fit();
    let before = resident();
    assert!(give_back());
    let after = resident();
    // 128 MiB were freed below the top; glibc keeps them until give_back.
    assert!(before > after + (64 << 20), "resident {before} -> {after}");
    assert_eq!(pin[0], 7);
}
