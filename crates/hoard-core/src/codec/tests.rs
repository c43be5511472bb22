use super::*;

fn text(len: usize) -> Vec<u8> {
    let words = [
        "backup ",
        "archive ",
        "chunk ",
        "repository ",
        "deduplicate ",
        "borg ",
        "hoard\n",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x = 12345u32;
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
    }
    out.truncate(len);
    out
}

fn random(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(b"random")
        .finalize_xof()
        .fill(&mut out);
    out
}

fn codec(spec: &str) -> Codec {
    spec.parse().expect("valid spec")
}

const SPECS: [&str; 12] = [
    "none",
    "lz4",
    "zstd",
    "zstd,1",
    "zstd,22",
    "zlib",
    "zlib,0",
    "zlib,9",
    "lzma",
    "lzma,0",
    "auto,zstd,10",
    "auto,lzma",
];

#[test]
fn round_trip_every_codec() {
    for spec in SPECS {
        for data in [vec![], vec![7u8], text(100_000), random(100_000)] {
            let f = compress(codec(spec), &data).expect("compress");
            assert!(
                f.len() <= data.len() + FRAME_HEADER_LEN,
                "{spec} grew the data"
            );
            assert_eq!(
                decompress(&f, DEFAULT_LIMIT).expect("decompress"),
                data,
                "{spec}"
            );
        }
    }
}

#[test]
fn compressible_data_shrinks_and_frames_name_their_codec() {
    let t = text(200_000);
    for (spec, name) in [
        ("lz4", "lz4"),
        ("zstd,3", "zstd"),
        ("zlib,6", "zlib"),
        ("lzma,6", "lzma"),
    ] {
        let f = compress(codec(spec), &t).expect("compress");
        assert!(f.len() < t.len() / 2, "{spec}: {}", f.len());
        assert_eq!(frame_codec(&f).expect("frame").0, name);
    }
    // Incompressible data is stored as is.
    let f = compress(codec("zstd,3"), &random(50_000)).expect("compress");
    assert_eq!(frame_codec(&f).expect("frame").0, "none");
}

#[test]
fn auto_follows_borgs_heuristic() {
    // Compressible: the expensive codec wins.
    let f = compress(codec("auto,lzma,6"), &text(200_000)).expect("compress");
    assert_eq!(frame_codec(&f).expect("frame").0, "lzma");
    // Incompressible: lz4 says so, and the data is stored.
    let f = compress(codec("auto,lzma,6"), &random(200_000)).expect("compress");
    assert_eq!(frame_codec(&f).expect("frame").0, "none");
}

#[test]
fn zlib_frames_are_plain_zlib_streams() {
    let t = text(10_000);
    let f = compress(codec("zlib,6"), &t).expect("compress");
    let mut d = flate2::read::ZlibDecoder::new(&f[FRAME_HEADER_LEN..]);
    let mut out = vec![];
    std::io::Read::read_to_end(&mut d, &mut out).expect("independent inflate");
    assert_eq!(out, t);
}

#[test]
fn specs_parse_print_and_reject() {
    for (spec, canon) in [
        ("lz4", "lz4"),
        ("zstd", "zstd,3"),
        ("zstd,19", "zstd,19"),
        ("zlib", "zlib,6"),
        ("lzma,9", "lzma,9"),
        ("auto,zstd", "auto,zstd,3"),
        ("auto,lz4", "auto,lz4"),
    ] {
        assert_eq!(codec(spec).to_string(), canon);
    }
    for bad in [
        "",
        "gzip",
        "zstd,0",
        "zstd,23",
        "zlib,10",
        "lzma,x",
        "lz4,1",
        "auto",
        "auto,none",
        "auto,auto,lz4",
        "zstd,3,4",
    ] {
        assert_eq!(
            bad.parse::<Codec>().map_err(|e| e.kind),
            Err(ErrorKind::InvalidArgument),
            "{bad:?}"
        );
    }
}

#[test]
fn obfuscate_specs_parse_print_and_reject() {
    for (spec, canon) in [
        ("obfuscate,110,none", "obfuscate,110,none"),
        ("obfuscate, 3 ,zstd", "obfuscate,3,zstd,3"),
        ("obfuscate,1,lz4", "obfuscate,1,lz4"),
        ("obfuscate,123,zlib,9", "obfuscate,123,zlib,9"),
        ("obfuscate,250,auto,zstd,5", "obfuscate,250,auto,zstd,5"),
        ("obfuscate,6,auto,lz4", "obfuscate,6,auto,lz4"),
    ] {
        assert_eq!(codec(spec).to_string(), canon);
        assert_eq!(codec(canon), codec(spec));
    }
    for bad in [
        "obfuscate",
        "obfuscate,110",
        "obfuscate,0,lz4",
        "obfuscate,7,lz4",
        "obfuscate,109,lz4",
        "obfuscate,124,lz4",
        "obfuscate,251,lz4",
        "obfuscate,x,lz4",
        "obfuscate,110,gzip",
        "obfuscate,110,zstd,3,4",
        "obfuscate,1,obfuscate,1,lz4",
        "auto,obfuscate,3,lz4",
    ] {
        assert_eq!(
            bad.parse::<Codec>().map_err(|e| e.kind),
            Err(ErrorKind::InvalidArgument),
            "{bad:?}"
        );
    }
    // An error in the codec after SPEC names the whole spec.
    let e = "obfuscate,1,lz4,1"
        .parse::<Codec>()
        .expect_err("lz4 has no level");
    assert!(
        e.message.starts_with("compression \"obfuscate,1,lz4,1\": "),
        "{}",
        e.message
    );
}

#[test]
fn metadata_codecs_are_obfuscated_as_the_data_is() {
    let outer = codec("obfuscate,250,lz4");
    assert_eq!(
        codec("zstd,3").obfuscated_as(outer),
        codec("obfuscate,250,zstd,3")
    );
    assert_eq!(
        codec("none").obfuscated_as(outer),
        codec("obfuscate,250,none")
    );
    assert_eq!(codec("zstd,3").obfuscated_as(codec("lz4")), codec("zstd,3"));
    assert_eq!(
        codec("obfuscate,1,lz4").obfuscated_as(outer),
        codec("obfuscate,1,lz4")
    );
}

#[test]
fn obfuscate_pads_as_borg_does() {
    // SPEC 1 to 6: the frame times 10^SPEC / 1000 / max(r, 0.0001).
    assert_eq!(padding(1, 1000, 1.0), 10);
    assert_eq!(padding(2, 1000, 0.5), 200);
    assert_eq!(padding(1, 1000, 0.0), 100_000);
    // SPEC 110 to 123: up to 2^(SPEC - 100) bytes.
    assert_eq!(padding(110, 5, 0.5), 512);
    assert_eq!(padding(110, 5, 0.0), 0);
    assert!(padding(123, 5, 0.999_999) < 8 << 20);
    // Never past 20 MiB less 1 KiB in all.
    assert_eq!(padding(6, 1 << 20, 0.5), OBFUSCATED_MAX - (1 << 20));
    assert_eq!(padding(123, OBFUSCATED_MAX, 0.9), 0);
    // Padmé: up to the next length whose low E - S bits are zero.
    assert_eq!(padding(250, 1000, 0.3), 24);
    assert_eq!(padding(250, 1, 0.3), 0);
    assert_eq!(padding(250, 2, 0.3), 0);
    for n in (2usize..200_000).step_by(7) {
        let padded = n + padding(250, n, 0.0);
        let e = usize::BITS - 1 - n.leading_zeros();
        let low = e - (u32::BITS - e.leading_zeros());
        assert_eq!(padded % (1 << low), 0, "{n}");
        assert!(padded - n < 1 << low, "{n}");
        assert!(padded as f64 <= n as f64 * 1.12 + 1.0, "{n}");
    }
}

#[test]
fn obfuscated_frames_round_trip_and_are_padded() {
    let mut buf = Vec::new();
    for inner in ["none", "lz4", "zstd,3", "zlib,6", "lzma,1", "auto,zstd,3"] {
        for spec in [1u16, 6, 110, 123, 250] {
            let c = codec(&format!("obfuscate,{spec},{inner}"));
            for data in [random(300_000), text(200_000), vec![], vec![7u8]] {
                let f = compress(c, &data).expect("compress");
                assert_eq!(frame_codec(&f).expect("codec").0, "obfuscate");
                assert_eq!(decompress(&f, DEFAULT_LIMIT).expect("decompress"), data);
                // The inner frame is the one the wrapped codec makes.
                let plain = compress(codec(inner), &data).expect("compress");
                let k = u32::from_le_bytes([f[6], f[7], f[8], f[9]]) as usize;
                assert_eq!(&f[10..10 + k], &plain[..], "{spec},{inner}");
                let n = 10 + k;
                assert!(f[n..].iter().all(|&b| b == 0));
                match spec {
                    250 => assert_eq!(f.len(), n + padding(250, n, 0.0)),
                    110 => assert!(f.len() < n + 1024),
                    6 if n < 20_000 => assert!(f.len() >= n * 1000, "{} {n}", f.len()),
                    _ => assert!(f.len() <= OBFUSCATED_MAX.max(n)),
                }
                let m = compress_frame_in(c, &data, &mut buf).expect("compress");
                assert_eq!(&buf[..10 + k], &f[..10 + k]);
                assert_eq!(
                    decompress(&buf[..m], DEFAULT_LIMIT).expect("decompress"),
                    data
                );
            }
        }
    }
}

#[test]
fn damaged_obfuscated_frames_are_errors() {
    let data = text(5000);
    let f = compress(codec("obfuscate,110,lz4"), &data).expect("compress");
    let k = u32::from_le_bytes([f[6], f[7], f[8], f[9]]) as usize;
    // Cut anywhere before the end of the inner frame.
    for cut in 0..10 + k {
        assert!(decompress(&f[..cut], DEFAULT_LIMIT).is_err(), "cut {cut}");
    }
    // An inner length past the payload.
    let mut long = f.clone();
    long[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        decompress(&long, DEFAULT_LIMIT).map_err(|e| e.kind),
        Err(ErrorKind::Corrupt)
    );
    // An inner frame that declares another length than the outer one.
    let mut other = f.clone();
    other[12] ^= 1;
    assert_eq!(
        decompress(&other, DEFAULT_LIMIT).map_err(|e| e.kind),
        Err(ErrorKind::Corrupt)
    );
    // Obfuscate inside obfuscate.
    let mut nested = f.clone();
    nested[10] = 5;
    assert_eq!(
        decompress(&nested, DEFAULT_LIMIT).map_err(|e| e.kind),
        Err(ErrorKind::Corrupt)
    );
}

#[test]
fn corrupt_frames_are_errors_not_panics() {
    for spec in SPECS {
        let f = compress(codec(spec), &text(5000)).expect("compress");
        // Every truncation, and every byte flipped in the first 300, fails cleanly or (where the
        // codec cannot tell) yields data of the declared length.
        for cut in 0..f.len() {
            assert!(
                decompress(&f[..cut], DEFAULT_LIMIT).is_err(),
                "{spec} cut {cut}"
            );
        }
        for i in 0..f.len().min(300) {
            let mut bad = f.clone();
            bad[i] ^= 0x55;
            if let Ok(out) = decompress(&bad, DEFAULT_LIMIT) {
                assert!(out.len() <= DEFAULT_LIMIT);
            }
        }
    }
}

#[test]
fn declared_sizes_over_the_limit_are_refused_before_allocating() {
    let mut f = compress(codec("lz4"), &text(1000)).expect("compress");
    f[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        decompress(&f, DEFAULT_LIMIT).map_err(|e| e.kind),
        Err(ErrorKind::TooLarge)
    );
    // A frame that expands past its declared length is an error too.
    let big = compress(codec("zstd,3"), &vec![0u8; 1 << 20]).expect("compress");
    let mut lying = big.clone();
    lying[2..6].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(
        decompress(&lying, DEFAULT_LIMIT).map_err(|e| e.kind),
        Err(ErrorKind::Corrupt)
    );
    assert_eq!(
        decompress(&big, 1000).map_err(|e| e.kind),
        Err(ErrorKind::TooLarge)
    );
}

#[test]
fn stored_frames_borrow_the_input_and_join_like_compress() {
    let r = random(10_000);
    let f = compress_frame(codec("lz4"), &r).expect("frame");
    assert!(matches!(f, Frame::Stored(_, d) if std::ptr::eq(d.as_ptr(), r.as_ptr())));
    assert_eq!(f.len(), r.len() + FRAME_HEADER_LEN);
    assert_eq!(f.into_vec(), compress(codec("lz4"), &r).expect("compress"));
    let t = text(10_000);
    let f = compress_frame(codec("zstd,3"), &t).expect("frame");
    assert!(matches!(f, Frame::Whole(_)));
    assert_eq!(
        decompress(&f.parts().concat(), DEFAULT_LIMIT).expect("decompress"),
        t
    );
}

#[test]
fn lz4_frames_are_liblz4_blocks_that_lz4_flex_decodes_and_smaller_than_its_own() {
    // Real data: this crate's own sources, and the first 2 MiB of this test's executable (on
    // machine code liblz4 is about 0.3% tighter; on source text the two come out within a few
    // dozen bytes either way, so text alone would hang on the lines of the day).
    let exe = std::fs::read(std::env::current_exe().expect("exe")).expect("read exe");
    let data = [
        &include_bytes!("../codec.rs")[..],
        include_bytes!("../backup.rs"),
        include_bytes!("../pack.rs"),
        include_bytes!("tests.rs"),
        &exe[..exe.len().min(2 << 20)],
    ]
    .concat();
    let f = compress(codec("lz4"), &data).expect("compress");
    assert_eq!(f[0], ID_LZ4);
    let payload = &f[FRAME_HEADER_LEN..];
    let flex = lz4_flex::block::compress(&data);
    assert!(
        payload.len() < flex.len(),
        "{} >= {}",
        payload.len(),
        flex.len()
    );
    assert_eq!(
        lz4_flex::block::decompress(payload, data.len()).expect("lz4_flex decodes it"),
        data
    );
    assert_eq!(decompress(&f, DEFAULT_LIMIT).expect("decompress"), data);
}

#[test]
fn frames_written_in_a_reused_buffer_are_those_compress_makes() {
    // One buffer for every codec and input, large inputs first, so that later frames are written
    // over the leftovers of earlier ones.
    let mut buf = Vec::new();
    for spec in SPECS {
        for data in [
            random(300_000),
            text(200_000),
            vec![],
            vec![7u8],
            text(1_000),
        ] {
            let n = compress_frame_in(codec(spec), &data, &mut buf).expect("compress");
            let expected = compress(codec(spec), &data).expect("compress");
            assert_eq!(&buf[..n], &expected[..], "{spec}, {} bytes", data.len());
            assert_eq!(
                decompress(&buf[..n], DEFAULT_LIMIT).expect("decompress"),
                data,
                "{spec}"
            );
        }
    }
}

/// The frame lz4 gives without the sample test: liblz4's block where it is smaller, else none.
fn lz4_whole(data: &[u8]) -> Vec<u8> {
    let block = lz4::block::compress(data, None, false).expect("lz4");
    if block.len() < data.len() {
        [&[ID_LZ4, 0][..], &(data.len() as u32).to_le_bytes(), &block].concat()
    } else {
        [&[ID_NONE, 0][..], &(data.len() as u32).to_le_bytes(), data].concat()
    }
}

/// Random data in which `len` bytes of text start at `at`.
fn random_with_text(total: usize, at: usize, len: usize) -> Vec<u8> {
    let mut d = random(total);
    d[at..at + len].copy_from_slice(&text(len));
    d
}

#[test]
fn incompressible_chunks_skip_lz4_and_are_stored_as_they_were() {
    let mut buf = Vec::new();
    for len in [SAMPLED_MIN, SAMPLED_MIN + 1, 2 << 20, (8 << 20) - 3] {
        let d = random(len);
        assert!(looks_incompressible(&d), "{len}");
        // What lz4 on the whole chunk decided: stored as is.
        let whole = lz4_whole(&d);
        assert_eq!(whole[0], ID_NONE);
        assert_eq!(compress(Codec::Lz4, &d).expect("compress"), whole);
        let n = compress_frame_in(Codec::Lz4, &d, &mut buf).expect("compress");
        assert_eq!(&buf[..n], &whole[..]);
        assert_eq!(decompress(&buf[..n], len).expect("decompress"), d);
        // auto's lz4 test agrees.
        assert_eq!(compress(codec("auto,zstd,3"), &d).expect("auto"), whole);
    }
}

#[test]
fn data_that_compresses_anywhere_a_sample_falls_is_compressed_as_before() {
    let total = 2 << 20;
    let mut buf = Vec::new();
    // Text at the start, the end, and between the first samples, twice the spacing long: more
    // than the distance between two samples plus a sample, so one lies wholly inside it.
    let span = 2 * SAMPLE_SPACING;
    for at in [0, total - span, 12_345, SAMPLE_SPACING / 2] {
        let d = random_with_text(total, at, span);
        assert!(!looks_incompressible(&d), "{at}");
        let whole = lz4_whole(&d);
        assert_eq!(whole[0], ID_LZ4, "{at}");
        assert_eq!(compress(Codec::Lz4, &d).expect("compress"), whole);
        let n = compress_frame_in(Codec::Lz4, &d, &mut buf).expect("compress");
        assert_eq!(&buf[..n], &whole[..]);
        assert_eq!(decompress(&buf[..n], total).expect("decompress"), d);
    }
    // Text, and short inputs, which are never sampled (random ones are tried and stored as is).
    for d in [
        text(3 << 20),
        text(SAMPLED_MIN),
        random(SAMPLED_MIN - 1),
        random(1000),
    ] {
        assert!(!looks_incompressible(&d));
        assert_eq!(compress(Codec::Lz4, &d).expect("compress"), lz4_whole(&d));
    }
}

#[test]
fn text_between_the_samples_is_what_the_test_can_miss() {
    // Shorter than the spacing and between two samples: lz4 on the whole would shrink it, but
    // the samples see only random bytes, so it is stored as is (and still round-trips).
    let total = 1 << 20;
    let samples = total / SAMPLE_SPACING;
    let step = (total - SAMPLE_LEN) / (samples - 1);
    let d = random_with_text(total, SAMPLE_LEN + 100, step - SAMPLE_LEN - 200);
    assert!(looks_incompressible(&d));
    assert_eq!(lz4_whole(&d)[0], ID_LZ4);
    let frame = compress(Codec::Lz4, &d).expect("compress");
    assert_eq!(frame[0], ID_NONE);
    assert_eq!(decompress(&frame, total).expect("decompress"), d);
}

#[test]
fn lz4_blocks_of_lz4_flex_decode_and_a_wrong_declared_length_is_an_error() {
    // Repositories written before compression moved to liblz4 hold lz4_flex's blocks.
    for data in [text(200_000), random(70_000), vec![0u8; 1 << 20], vec![9u8]] {
        let block = lz4_flex::block::compress(&data);
        let mut frame = vec![ID_LZ4, 0];
        frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
        frame.extend_from_slice(&block);
        assert_eq!(decompress(&frame, DEFAULT_LIMIT).expect("decodes"), data);
        let mut out = vec![0u8; data.len()];
        decompress_to(&frame, &mut out).expect("decodes in place");
        assert!(out == data);
        // A header that claims one byte more or less than the block holds.
        for claim in [data.len() + 1, data.len() - 1] {
            frame[2..6].copy_from_slice(&(claim as u32).to_le_bytes());
            let e = decompress(&frame, DEFAULT_LIMIT).expect_err("wrong length");
            assert_eq!(e.kind, ErrorKind::Corrupt, "{}", e.message);
        }
    }
}

#[test]
fn lz4_blocks_decompress_in_place_to_what_they_decompress_to_out_of_place() {
    // Text; one byte repeated (lz4's highest ratio, the least margin to spare); random data with
    // text in it (literals next to matches); at lengths around the margin's steps of 256.
    let mut inputs = vec![
        vec![7u8; 1 << 20],
        random_with_text(300_000, 100_000, 60_000),
    ];
    for len in [1, 31, 32, 255, 256, 257, 4096, 65_535, 65_536, 1_000_003] {
        inputs.push(text(len));
        inputs.push(vec![0u8; len]);
    }
    let mut decoded = 0;
    for data in &inputs {
        let blocks = [
            lz4::block::compress(data, None, false).expect("lz4"),
            lz4_flex::block::compress(data),
        ];
        for block in blocks {
            let mut frame = vec![ID_LZ4, 0];
            frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
            frame.extend_from_slice(&block);
            if block.len() >= data.len() {
                assert!(!lz4_fits_in_place(&frame, data.len()), "{}", data.len());
                continue;
            }
            assert!(lz4_fits_in_place(&frame, data.len()));
            let room = data.len() + lz4_in_place_margin(data.len());
            let mut buf = vec![0xA5u8; room];
            buf[room - block.len()..].copy_from_slice(&block);
            lz4_in_place(&mut buf, block.len(), data.len()).expect("in place");
            assert!(buf[..data.len()] == data[..], "{} bytes", data.len());
            decoded += 1;
            // A byte less room is refused before anything is decoded.
            let mut short = vec![0u8; room - 1];
            short[room - 1 - block.len()..].copy_from_slice(&block);
            let e = lz4_in_place(&mut short, block.len(), data.len()).expect_err("short");
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
            // A declared length a byte off either way is corrupt data.
            for claim in [data.len() + 1, data.len() - 1] {
                if block.len() >= claim {
                    continue;
                }
                let room = claim + lz4_in_place_margin(claim);
                let mut buf = vec![0u8; room];
                buf[room - block.len()..].copy_from_slice(&block);
                let e = lz4_in_place(&mut buf, block.len(), claim).expect_err("wrong length");
                assert_eq!(e.kind, ErrorKind::Corrupt, "{}", e.message);
            }
        }
    }
    assert!(decoded >= 30, "{decoded}");
    // Frames of other codecs, and those whose payload is not shorter, are not for it.
    let z = compress(codec("zstd"), &text(10_000)).expect("zstd");
    assert!(!lz4_fits_in_place(&z, 10_000));
    assert!(!lz4_fits_in_place(&[ID_LZ4, 0, 3, 0, 0, 0, 1, 2, 3], 3));
}
