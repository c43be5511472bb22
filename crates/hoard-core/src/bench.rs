//! The measurements behind `hoard benchmark cpu`: one primitive over a buffer, repeated.
//!
//! Like borg's `benchmark cpu`, each run works on a 10 MB buffer (random, or text-like for the
//! compression rows that say so), single-threaded, and reports the wall time of the repetitions
//! after one untimed warm-up run.

use std::str::FromStr;
use std::time::Instant;

use crate::chunker::{Chunker, ChunkerParams};
use crate::codec::{Codec, compress, compress_frame, decompress};
use crate::envelope::Session;
use crate::error::Error;
use crate::id::{IdAlgorithm, IdHasher};
use crate::kdf::{KdfParams, argon2id};
use crate::keys::Suite;

/// Bytes in the buffer one repetition works on (borg's `random_10M`).
pub const BUFFER_LEN: usize = 10_000_000;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `chunker:SPEC`: cut the buffer.
    Chunker(ChunkerParams),
    /// `id:ALGORITHM`: compute the buffer's chunk id.
    Id(IdAlgorithm),
    /// `seal:SUITE`: seal the buffer as one blob, in place (as the pipeline seals a chunk it owns).
    Seal(Suite),
    /// `kdf:argon2id`: derive a key with the default costs (the amount is a count of runs).
    Kdf,
    /// `compress:SPEC`: compress the buffer into a frame (borrowing it where it is stored as is,
    /// as the backup pipeline does).
    Compress(Codec),
    /// `decompress:SPEC`: decompress the buffer's frame.
    Decompress(Codec),
}

impl FromStr for Workload {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (kind, spec) = s
            .split_once(':')
            .ok_or_else(|| Error::invalid(format!("benchmark item {s:?}: expected KIND:SPEC")))?;
        Ok(match kind {
            "chunker" => Self::Chunker(spec.parse()?),
            "id" => Self::Id(spec.parse()?),
            "seal" => Self::Seal(spec.parse()?),
            "kdf" if spec == "argon2id" => Self::Kdf,
            "compress" => Self::Compress(spec.parse()?),
            "decompress" => Self::Decompress(spec.parse()?),
            _ => return Err(Error::invalid(format!("unknown benchmark item {s:?}"))),
        })
    }
}

/// The content of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Pseudo-random bytes (incompressible).
    Random,
    /// Words and lines of text (compresses 3-5x with lz4).
    Text,
}

/// `len` bytes of `content`, the same on every run.
pub fn sample(content: Content, len: usize) -> Vec<u8> {
    match content {
        Content::Random => {
            let mut out = vec![0u8; len];
            blake3::Hasher::new()
                .update(b"hoard benchmark")
                .finalize_xof()
                .fill(&mut out);
            out
        }
        Content::Text => {
            const WORDS: [&str; 16] = [
                "the ",
                "backup ",
                "of ",
                "archive ",
                "and ",
                "chunk ",
                "to ",
                "repository ",
                "is ",
                "deduplicated ",
                "files ",
                "compressed, ",
                "key ",
                "encrypted. ",
                "data ",
                "\n",
            ];
            let mut out = Vec::with_capacity(len + 16);
            let mut x = 0x2545_f491_4f6c_dd1du64;
            while out.len() < len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.extend_from_slice(WORDS[(x >> 60) as usize].as_bytes());
            }
            out.truncate(len);
            out
        }
    }
}

/// What one measurement found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Bytes processed (for `kdf`, the number of derivations).
    pub amount: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Runs `workload` over `amount` bytes (derivations, for `kdf`) of `content`.
pub fn measure(workload: Workload, content: Content, amount: u64) -> Result<Measurement, Error> {
    let key = [0x5a; 32];
    if workload == Workload::Kdf {
        let start = Instant::now();
        for _ in 0..amount {
            argon2id(b"mypassphrase", &[b'S'; 16], KdfParams::default())?;
        }
        return Ok(Measurement {
            amount,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let len = usize::try_from(amount)
        .map_or(BUFFER_LEN, |a| a.min(BUFFER_LEN))
        .max(1);
    let reps = amount.div_ceil(len as u64).max(1);
    let data = sample(content, len);
    let mut job: Box<dyn FnMut() -> Result<(), Error>> = match workload {
        Workload::Chunker(p) => {
            let seed = key;
            Box::new(move || {
                let cuts = Chunker::new(&p, &seed).cut_all(&data);
                std::hint::black_box(cuts);
                Ok(())
            })
        }
        Workload::Id(a) => {
            let h = IdHasher::new(a, &key);
            Box::new(move || {
                std::hint::black_box(h.id(&data));
                Ok(())
            })
        }
        Workload::Seal(s) => {
            let session = Session::new(s, &key)?;
            let mut body = data;
            Box::new(move || {
                std::hint::black_box(session.seal_detached(0, &key, &mut body)?);
                Ok(())
            })
        }
        Workload::Compress(c) => Box::new(move || {
            std::hint::black_box(compress_frame(c, &data)?);
            Ok(())
        }),
        Workload::Decompress(c) => {
            let frame = compress(c, &data)?;
            Box::new(move || {
                std::hint::black_box(decompress(&frame, BUFFER_LEN)?);
                Ok(())
            })
        }
        Workload::Kdf => unreachable!("handled above"),
    };
    // One untimed run first: thread-local buffers and codec contexts are made on first use.
    job()?;
    let start = Instant::now();
    for _ in 0..reps {
        job()?;
    }
    Ok(Measurement {
        amount: reps * len as u64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_item_runs() {
        for item in [
            "chunker:buzhash,19,23,21,4095",
            "chunker:fastcdc,19,23,21",
            "chunker:fixed,1048576",
            "id:keyed-blake3",
            "seal:aes-256-gcm",
            "compress:zstd,3",
            "decompress:lz4",
        ] {
            let w: Workload = item.parse().expect("item");
            let m = measure(w, Content::Text, 3_000_000).expect("measure");
            assert_eq!(m.amount, 3_000_000, "{item}");
            assert!(m.seconds > 0.0);
        }
        assert!("nope:1".parse::<Workload>().is_err());
        assert!("chunker:nope".parse::<Workload>().is_err());
    }

    #[test]
    fn text_compresses_and_random_does_not() {
        let t = compress(Codec::Lz4, &sample(Content::Text, 1 << 20)).expect("lz4");
        assert!(t.len() < (1 << 20) / 2);
        let r = compress(Codec::Lz4, &sample(Content::Random, 1 << 20)).expect("lz4");
        assert!(r.len() > 1 << 20);
    }
}
