//! Sparse files: finding holes and leaving them.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::super::*;
use super::TempDir;
use crate::ErrorKind;

/// Allocated bytes of `path`.
fn allocated(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

#[test]
fn segments_find_data_and_holes() {
    let t = TempDir::new("segments");
    let path = t.path().join("sparse");
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(&[1u8; 4096]).unwrap();
    f.seek(SeekFrom::Start(1 << 20)).unwrap();
    f.write_all(&[2u8; 8192]).unwrap();
    f.set_len((1 << 20) + 8192 + (1 << 20)).unwrap();
    let f = fs::File::open(&path).unwrap();
    let segs = segments(&f).unwrap();
    if segs.len() == 1 {
        println!("note: this file system does not report holes; skipping");
        return;
    }
    let want = [
        Segment {
            offset: 0,
            len: 4096,
            data: true,
        },
        Segment {
            offset: 4096,
            len: (1 << 20) - 4096,
            data: false,
        },
        Segment {
            offset: 1 << 20,
            len: 8192,
            data: true,
        },
        Segment {
            offset: (1 << 20) + 8192,
            len: 1 << 20,
            data: false,
        },
    ];
    assert_eq!(segs, want);

    let dense = t.path().join("dense");
    fs::write(&dense, vec![3u8; 10_000]).unwrap();
    let segs = segments(fs::File::open(&dense).unwrap()).unwrap();
    assert_eq!(
        segs,
        vec![Segment {
            offset: 0,
            len: 10_000,
            data: true
        }]
    );
    let empty = t.path().join("empty");
    fs::write(&empty, b"").unwrap();
    assert!(
        segments(fs::File::open(&empty).unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sparse_writer_leaves_holes_and_reads_back_the_same() {
    let t = TempDir::new("writer");
    // 4 MiB: data, a 1 MiB zero run, data with small zero gaps, 1 MiB of trailing zeros.
    let mut want = vec![0u8; 4 << 20];
    for (i, b) in want.iter_mut().enumerate().take(1 << 20) {
        *b = (i % 251) as u8 + 1;
    }
    for (i, b) in want.iter_mut().enumerate().skip(2 << 20).take(1 << 20) {
        // Zero gaps of 100 bytes every 1000: too short to skip.
        *b = if i % 1000 < 100 {
            0
        } else {
            (i % 13) as u8 + 1
        };
    }
    let path = t.path().join("restored");
    let f = fs::File::create(&path).unwrap();
    let mut w = SparseWriter::new(&f).unwrap();
    // Chunks at unaligned boundaries, out of order.
    let cuts = [
        0usize,
        777,
        5000,
        1_048_000,
        2_000_001,
        2_100_000,
        3_500_000,
        4 << 20,
    ];
    let mut pieces: Vec<(usize, usize)> = cuts.windows(2).map(|c| (c[0], c[1])).collect();
    pieces.reverse();
    for (a, b) in pieces {
        w.write_at(a as u64, &want[a..b]).unwrap();
    }
    let written = w.written();
    w.finish(want.len() as u64).unwrap();
    drop(f);

    let mut got = Vec::new();
    fs::File::open(&path)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "contents differ");
    // Only the 2 MiB of data (block-rounded) was written.
    assert!(written <= (2 << 20) + 8 * 4096, "{written}");
    assert!(written >= 2 << 20);
    let dense = t.path().join("dense");
    fs::write(&dense, &want).unwrap();
    let (a, d) = (allocated(&path), allocated(&dense));
    assert!(d >= 4 << 20, "dense file allocates it all: {d}");
    assert!(
        a <= (2 << 20) + (256 << 10),
        "sparse file allocates only its data: {a} of {d}"
    );
}

#[test]
fn sparse_writer_of_all_zeros_allocates_nothing_and_refuses_a_non_empty_file() {
    let t = TempDir::new("zeros");
    let path = t.path().join("z");
    let f = fs::File::create(&path).unwrap();
    let mut w = SparseWriter::new(&f).unwrap();
    w.write_at(0, &vec![0u8; 1 << 20]).unwrap();
    assert_eq!(w.written(), 0);
    w.finish(3 << 20).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 3 << 20);
    assert_eq!(allocated(&path), 0);

    fs::write(&path, b"old").unwrap();
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    let e = SparseWriter::new(&f).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
}
