use proptest::prelude::*;

use super::table::{buzhash_table, gear_table};
use super::{Chunker, ChunkerParams};

fn data(len: usize, tag: &str) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(tag.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

fn params(spec: &str) -> ChunkerParams {
    spec.parse().expect("valid spec")
}

const SEED: [u8; 32] = [7u8; 32];

/// Buzhash from its definition: the hash of each window computed from scratch.
fn naive_buzhash(data: &[u8], min: usize, max: usize, mask_bits: u8, w: usize) -> Vec<usize> {
    let t = buzhash_table(&SEED);
    let mask = (1u32 << mask_bits) - 1;
    let hash = |win: &[u8]| {
        win.iter().enumerate().fold(0u32, |h, (i, &b)| {
            h ^ t[b as usize].rotate_left(((w - 1 - i) % 32) as u32)
        })
    };
    let mut lens = vec![];
    let mut s = 0;
    while s < data.len() {
        let rest = &data[s..];
        let lo = min.max(w);
        let cut = (lo..=max.min(rest.len()))
            .find(|&e| hash(&rest[e - w..e]) & mask == 0)
            .unwrap_or(max.min(rest.len()));
        lens.push(cut);
        s += cut;
    }
    lens
}

/// FastCDC from its definition: each position's Gear hash over the 64 bytes before it.
fn naive_fastcdc(data: &[u8], min: usize, max: usize, bits: u8, nc: u8) -> Vec<usize> {
    let g = gear_table(&SEED);
    let top = |b: u8| u64::MAX << (64 - u32::from(b));
    let normal = 1usize << bits;
    let mut lens = vec![];
    let mut s = 0;
    while s < data.len() {
        let rest = &data[s..];
        let cut = (min..=max.min(rest.len()))
            .find(|&e| {
                let h = rest[e - 64..e]
                    .iter()
                    .fold(0u64, |h, &b| (h << 1).wrapping_add(g[b as usize]));
                let mask = if e <= normal {
                    top(bits + nc)
                } else {
                    top(bits - nc)
                };
                h & mask == 0
            })
            .unwrap_or(max.min(rest.len()));
        lens.push(cut);
        s += cut;
    }
    lens
}

#[test]
fn buzhash_matches_its_definition() {
    let d = data(300_000, "buzhash-def");
    for (spec, min, max, bits, w) in [
        ("buzhash,10,16,12,63", 1024, 65536, 12, 63),
        // One seed, windows rotating the leaving byte by 31, 1 and 31 bits: each its own tables.
        ("buzhash,10,16,12,65", 1024, 65536, 12, 65),
        ("buzhash,6,14,8,255", 64, 16384, 8, 255),
        ("buzhash,12,12,12,31", 4096, 4096, 12, 31),
    ] {
        let fast = Chunker::new(&params(spec), &SEED).cut_all(&d);
        assert_eq!(fast, naive_buzhash(&d, min, max, bits, w), "{spec}");
    }
}

#[test]
fn fastcdc_matches_its_definition() {
    let d = data(300_000, "fastcdc-def");
    for (spec, min, max, bits, nc) in [
        ("fastcdc,10,16,12,2", 1024, 65536, 12, 2),
        ("fastcdc,6,14,8,0", 64, 16384, 8, 0),
        ("fastcdc,8,13,11,3", 256, 8192, 11, 3),
    ] {
        let fast = Chunker::new(&params(spec), &SEED).cut_all(&d);
        assert_eq!(fast, naive_fastcdc(&d, min, max, bits, nc), "{spec}");
    }
}

#[test]
fn default_params_cut_sizes_are_in_bounds_and_average_near_target() {
    let d = data(64 << 20, "sizes");
    for (spec, lo, hi) in [
        ("buzhash,19,23,21,4095", 1.5e6, 4.0e6),
        ("fastcdc,19,23,21", 1.5e6, 4.0e6),
    ] {
        let lens = Chunker::new(&params(spec), &SEED).cut_all(&d);
        assert_eq!(lens.iter().sum::<usize>(), d.len());
        let (last, body) = lens.split_last().expect("chunks");
        assert!(*last <= 1 << 23);
        assert!(
            body.iter().all(|&l| (1 << 19..=1 << 23).contains(&l)),
            "{spec}"
        );
        let avg = d.len() as f64 / lens.len() as f64;
        assert!(avg > lo && avg < hi, "{spec}: average chunk {avg}");
    }
}

#[test]
fn the_seed_changes_the_cut_points() {
    let d = data(4 << 20, "seeds");
    for spec in ["buzhash,10,16,12,63", "fastcdc,10,16,12"] {
        let a = Chunker::new(&params(spec), &[1u8; 32]).cut_all(&d);
        let b = Chunker::new(&params(spec), &[2u8; 32]).cut_all(&d);
        assert_ne!(a, b, "{spec}");
    }
}

#[test]
fn an_insertion_shifts_only_nearby_cuts() {
    let d = data(2 << 20, "shift");
    let mut e = d.clone();
    e.splice(1000..1000, *b"inserted");
    for spec in ["buzhash,10,16,12,63", "fastcdc,10,16,12"] {
        let ends = |lens: Vec<usize>| {
            lens.iter()
                .scan(0usize, |s, l| {
                    *s += l;
                    Some(*s)
                })
                .collect::<std::collections::HashSet<_>>()
        };
        let a = ends(Chunker::new(&params(spec), &SEED).cut_all(&d));
        let b: std::collections::HashSet<usize> =
            ends(Chunker::new(&params(spec), &SEED).cut_all(&e))
                .into_iter()
                .map(|x| x - 8)
                .collect();
        let shared = a.intersection(&b).count();
        assert!(
            shared * 10 >= a.len() * 9,
            "{spec}: {shared} of {}",
            a.len()
        );
    }
}

#[test]
fn fixed_blocks_with_and_without_header() {
    let d = data(1000, "fixed");
    assert_eq!(
        Chunker::new(&params("fixed,256"), &SEED).cut_all(&d),
        vec![256, 256, 256, 232]
    );
    assert_eq!(
        Chunker::new(&params("fixed,256,100"), &SEED).cut_all(&d),
        vec![100, 256, 256, 256, 132]
    );
    assert!(
        Chunker::new(&params("fixed,256"), &SEED)
            .cut_all(&[])
            .is_empty()
    );
}

#[test]
fn cut_points_are_pinned() {
    // Cut points are part of deduplication: an unnoticed change would store everything anew.
    let d = data(1 << 20, "pinned");
    let seed = *blake3::hash(b"pinned seed").as_bytes();
    let digest = |spec: &str| {
        let lens = Chunker::new(&params(spec), &seed).cut_all(&d);
        let text: Vec<String> = lens.iter().map(ToString::to_string).collect();
        blake3::hash(text.join(",").as_bytes()).to_hex()[..16].to_string()
    };
    assert_eq!(digest("buzhash,12,16,14,4095"), PINNED_BUZHASH);
    assert_eq!(digest("fastcdc,12,16,14"), PINNED_FASTCDC);
}

const PINNED_BUZHASH: &str = "d6e97cf67becfb40";
const PINNED_FASTCDC: &str = "87700823946f1d79";

#[test]
fn params_parse_and_print() {
    for (spec, canon) in [
        ("default", "buzhash,19,23,21,4095"),
        ("19,23,21,4095", "buzhash,19,23,21,4095"),
        ("buzhash,10,23,16,4095", "buzhash,10,23,16,4095"),
        ("fastcdc,19,23,21", "fastcdc,19,23,21,2"),
        ("fastcdc,16,20,18,0", "fastcdc,16,20,18,0"),
        ("fixed,4194304", "fixed,4194304"),
        ("fixed,4096,512", "fixed,4096,512"),
    ] {
        assert_eq!(params(spec).to_string(), canon);
    }
    for bad in [
        "",
        "buzhash",
        "buzhash,19,23,21,4096",
        "buzhash,19,24,21,4095",
        "buzhash,22,20,21,4095",
        "buzhash,5,23,21,31",
        "buzhash,x,23,21,4095",
        "fastcdc,19,23,21,4",
        "fixed,63",
        "fixed,9000000",
        "rabin,1,2,3",
    ] {
        let err = bad.parse::<ChunkerParams>().expect_err(bad);
        assert_eq!(err.kind, crate::ErrorKind::InvalidArgument, "{bad}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The same cuts whatever sizes the input arrives in.
    #[test]
    fn streaming_gives_the_same_cuts(
        spec in prop::sample::select(vec![
            "buzhash,10,16,12,63", "buzhash,6,12,8,4095", "fastcdc,10,16,12", "fastcdc,6,10,8,1",
            "fixed,1000", "fixed,1000,37",
        ]),
        len in 0usize..200_000,
        splits in prop::collection::vec(1usize..70_000, 1..40),
    ) {
        let d = data(len, "stream");
        let whole = Chunker::new(&params(spec), &SEED).cut_all(&d);
        let mut chunker = Chunker::new(&params(spec), &SEED);
        let (mut lens, mut start, mut end) = (vec![], 0usize, 0usize);
        let mut pieces = splits.iter().cycle();
        loop {
            let eof = end == d.len();
            while let Some(l) = chunker.find_cut(&d[start..end], eof) {
                lens.push(l);
                start += l;
            }
            if eof {
                break;
            }
            end = (end + pieces.next().copied().unwrap_or(1)).min(d.len());
        }
        prop_assert_eq!(lens, whole);
    }
}

/// Buzhash tests four window ends a step: cuts at every place in a step, and in the bytes left
/// after the last whole step, are the definition's.
#[test]
fn buzhash_cuts_at_every_place_of_its_steps() {
    let d = data(200_000, "buzhash-steps");
    let (min, w) = (64, 61);
    let fast = Chunker::new(&params("buzhash,6,12,6,61"), &SEED).cut_all(&d);
    assert_eq!(fast, naive_buzhash(&d, min, 4096, 6, w));
    // Where the scan starts (at `lo`), every residue of the cut offset modulo 4 occurs.
    let mut seen = [false; 4];
    for &len in &fast[..fast.len() - 1] {
        seen[(len - min.max(w)) % 4] = true;
    }
    assert_eq!(seen, [true; 4]);
}
