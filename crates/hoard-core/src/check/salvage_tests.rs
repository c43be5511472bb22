use super::*;
use crate::check::tests::{ENC, hasher, sample_pack};
use crate::check::verify_blobs;
use crate::envelope::Session;
use crate::keys::Suite;
use crate::pack::FinishedPack;
use crate::repack::Repacker;

/// A blob apart from its place: type, id, stored and plaintext length.
type Blob = (u8, ChunkId, u32, u32);

fn blobs(entries: &[TocEntry]) -> Vec<Blob> {
    entries
        .iter()
        .map(|e| (e.obj_type, e.id, e.length, e.plain))
        .collect()
}

/// Copies the good blobs into new packs, as `check --repair` does, and checks that each new pack
/// reads back with its own table and that every blob in it verifies; returns the blobs copied.
fn repack_and_verify(suite: Suite, data: &[u8], good: &[TocEntry]) -> Vec<Blob> {
    let opener = Opener::new(suite, &ENC);
    let mut r = Repacker::new(Session::new(suite, &ENC).expect("session"), 1 << 20);
    let mut packs: Vec<FinishedPack> = r.copy(data, good).expect("copy");
    packs.extend(r.finish().expect("finish"));
    let mut copied = Vec::new();
    for p in &packs {
        let toc = pack::read_toc(&opener, &p.id, &p.data).expect("new table");
        assert!(
            verify_blobs(&opener, &hasher(suite), &p.data, &toc).is_empty(),
            "a repacked blob fails"
        );
        let s = salvage(&opener, &hasher(suite), &p.id, &p.data, Some(&toc));
        assert!(s.is_sound(), "{:?}", s.problems);
        copied.extend(blobs(&toc));
    }
    copied
}

/// Whether the blob `e` covers byte `at`.
fn covers(e: &TocEntry, at: usize) -> bool {
    (e.offset as usize..(e.offset + e.length) as usize).contains(&at)
}

#[test]
fn a_sound_pack_is_sound_with_or_without_its_listing() {
    for suite in Suite::ALL {
        let p = sample_pack(suite, [2; 32]);
        let opener = Opener::new(suite, &ENC);
        for listed in [Some(p.entries.as_slice()), None] {
            let s = salvage(&opener, &hasher(suite), &p.id, &p.data, listed);
            assert!(s.is_sound(), "{suite}: {:?}", s.problems);
            assert_eq!(s.source, TableSource::Pack);
            assert_eq!(s.good, p.entries);
        }
    }
}

#[test]
fn every_flipped_byte_loses_at_most_the_blob_it_lies_in_and_every_survivor_verifies() {
    for suite in [Suite::Aes256Gcm, Suite::Plaintext] {
        let p = sample_pack(suite, [3; 32]);
        let opener = Opener::new(suite, &ENC);
        let lay = layout(&p.entries).expect("layout");
        for at in 0..p.data.len() {
            let mut bad = p.data.clone();
            bad[at] ^= 0x01;
            let want: Vec<TocEntry> = p
                .entries
                .iter()
                .copied()
                .filter(|e| !covers(e, at))
                .collect();
            // With its index object's listing, only the blob holding the byte is lost.
            let s = salvage(&opener, &hasher(suite), &p.id, &bad, Some(&p.entries));
            assert!(!s.is_sound(), "{suite}: a flip at {at} went unnoticed");
            assert_eq!(s.good, want, "{suite}: flip at {at}");
            assert_eq!(repack_and_verify(suite, &bad, &s.good), blobs(&want));
            // Without it, a damaged table loses the pack; a damaged trailer is scanned past.
            let s = salvage(&opener, &hasher(suite), &p.id, &bad, None);
            assert!(!s.is_sound(), "{suite}: a flip at {at} went unnoticed");
            let in_toc = (lay.blobs_end..lay.blobs_end + lay.toc_len).contains(&at);
            if in_toc {
                assert_eq!(s.source, TableSource::None, "{suite}: flip at {at}");
                assert!(s.good.is_empty());
            } else {
                assert_eq!(s.good, want, "{suite}: flip at {at}");
                let trailer = at >= lay.blobs_end + lay.toc_len;
                let source = if trailer {
                    TableSource::Scan
                } else {
                    TableSource::Pack
                };
                assert_eq!(s.source, source, "{suite}: flip at {at}");
            }
            assert_eq!(repack_and_verify(suite, &bad, &s.good), blobs(&s.good));
        }
    }
}

#[test]
fn a_cut_pack_keeps_what_its_listing_still_covers() {
    let suite = Suite::ChaCha20Poly1305;
    let p = sample_pack(suite, [4; 32]);
    let opener = Opener::new(suite, &ENC);
    for len in 0..p.data.len() {
        let cut = &p.data[..len];
        let s = salvage(&opener, &hasher(suite), &p.id, cut, Some(&p.entries));
        assert!(!s.is_sound(), "cut at {len}");
        let want: Vec<TocEntry> = p
            .entries
            .iter()
            .copied()
            .filter(|e| (e.offset + e.length) as usize <= len)
            .collect();
        assert_eq!(s.good, want, "cut at {len}");
        assert_eq!(repack_and_verify(suite, cut, &s.good), blobs(&want));
    }
}

#[test]
fn another_packs_table_is_not_taken() {
    let suite = Suite::Aes256Gcm;
    let p = sample_pack(suite, [5; 32]);
    let opener = Opener::new(suite, &ENC);
    // Under another pack id the pack's own table does not open, and scanning finds nothing.
    let s = salvage(&opener, &hasher(suite), &[6; 32], &p.data, None);
    assert_eq!(s.source, TableSource::None);
    assert!(s.good.is_empty());
    assert!(!s.problems.is_empty());
}
