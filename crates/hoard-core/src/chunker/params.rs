//! Parsing and printing chunker parameters in borg's syntax.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The largest chunk any chunker may emit: 2^23 bytes, as in borg.
pub const MAX_CHUNK_EXP: u8 = 23;

/// Chunker parameters, as given to `--chunker-params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkerParams {
    /// `buzhash,CHUNK_MIN_EXP,CHUNK_MAX_EXP,HASH_MASK_BITS,HASH_WINDOW_SIZE` (borg's default
    /// algorithm; the bare four-number form means this too).
    Buzhash {
        /// Chunks are at least 2^min_exp bytes (except the last).
        min_exp: u8,
        /// Chunks are at most 2^max_exp bytes.
        max_exp: u8,
        /// A cut is made where the low `mask_bits` bits of the rolling hash are zero.
        mask_bits: u8,
        /// Bytes in the rolling window (odd, as borg requires).
        window: u32,
    },
    /// `fastcdc,CHUNK_MIN_EXP,CHUNK_MAX_EXP,HASH_MASK_BITS[,NC_LEVEL]`: a keyed Gear hash with
    /// normalized chunking around 2^mask_bits.
    FastCdc {
        /// Chunks are at least 2^min_exp bytes (except the last).
        min_exp: u8,
        /// Chunks are at most 2^max_exp bytes.
        max_exp: u8,
        /// The normal (expected) chunk size is 2^mask_bits.
        mask_bits: u8,
        /// Normalization level 0..=3: how much harder a cut is below the normal size.
        nc_level: u8,
    },
    /// `fixed,BLOCK_SIZE[,HEADER_SIZE]`: blocks of one size after an optional header.
    Fixed {
        /// Bytes per block.
        block_size: u32,
        /// Bytes of the first chunk (0: no header chunk).
        header_size: u32,
    },
}

impl Default for ChunkerParams {
    fn default() -> Self {
        Self::Buzhash {
            min_exp: 19,
            max_exp: 23,
            mask_bits: 21,
            window: 4095,
        }
    }
}

fn num<T: FromStr>(spec: &str, field: &str, what: &str) -> Result<T, Error> {
    field.trim().parse().map_err(|_| {
        Error::invalid(format!(
            "chunker params {spec:?}: {what} must be a number, got {field:?}"
        ))
    })
}

fn check_exps(spec: &str, min_exp: u8, max_exp: u8, mask_bits: u8) -> Result<(), Error> {
    if !(6 <= min_exp && min_exp <= mask_bits && mask_bits <= max_exp && max_exp <= MAX_CHUNK_EXP) {
        return Err(Error::invalid(format!(
            "chunker params {spec:?}: need 6 <= CHUNK_MIN_EXP <= HASH_MASK_BITS <= CHUNK_MAX_EXP <= {MAX_CHUNK_EXP}"
        )));
    }
    Ok(())
}

impl FromStr for ChunkerParams {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        if spec == "default" {
            return Ok(Self::default());
        }
        let fields: Vec<&str> = spec.split(',').collect();
        let (algo, rest) = match fields[0].trim() {
            a @ ("buzhash" | "fastcdc" | "fixed") => (a, &fields[1..]),
            _ => ("buzhash", &fields[..]),
        };
        match (algo, rest.len()) {
            ("buzhash", 4) => {
                let min_exp = num(spec, rest[0], "CHUNK_MIN_EXP")?;
                let max_exp = num(spec, rest[1], "CHUNK_MAX_EXP")?;
                let mask_bits = num(spec, rest[2], "HASH_MASK_BITS")?;
                let window: u32 = num(spec, rest[3], "HASH_WINDOW_SIZE")?;
                check_exps(spec, min_exp, max_exp, mask_bits)?;
                if window.is_multiple_of(2) || window > (1u32 << max_exp) {
                    return Err(Error::invalid(format!(
                        "chunker params {spec:?}: HASH_WINDOW_SIZE must be odd and at most the maximum chunk size"
                    )));
                }
                Ok(Self::Buzhash {
                    min_exp,
                    max_exp,
                    mask_bits,
                    window,
                })
            }
            ("fastcdc", 3 | 4) => {
                let min_exp = num(spec, rest[0], "CHUNK_MIN_EXP")?;
                let max_exp = num(spec, rest[1], "CHUNK_MAX_EXP")?;
                let mask_bits = num(spec, rest[2], "HASH_MASK_BITS")?;
                let nc_level = match rest.get(3) {
                    Some(f) => num(spec, f, "NC_LEVEL")?,
                    None => 2,
                };
                check_exps(spec, min_exp, max_exp, mask_bits)?;
                if nc_level > 3 {
                    return Err(Error::invalid(format!(
                        "chunker params {spec:?}: NC_LEVEL must be 0 to 3"
                    )));
                }
                Ok(Self::FastCdc {
                    min_exp,
                    max_exp,
                    mask_bits,
                    nc_level,
                })
            }
            ("fixed", 1 | 2) => {
                let block_size: u32 = num(spec, rest[0], "BLOCK_SIZE")?;
                let header_size: u32 = match rest.get(1) {
                    Some(f) => num(spec, f, "HEADER_SIZE")?,
                    None => 0,
                };
                let max = 1u32 << MAX_CHUNK_EXP;
                if !(64..=max).contains(&block_size) || header_size > max {
                    return Err(Error::invalid(format!(
                        "chunker params {spec:?}: BLOCK_SIZE must be 64 to {max}, HEADER_SIZE at most {max}"
                    )));
                }
                Ok(Self::Fixed {
                    block_size,
                    header_size,
                })
            }
            _ => Err(Error::invalid(format!(
                "chunker params {spec:?}: expected buzhash,MIN_EXP,MAX_EXP,MASK_BITS,WINDOW or \
                 fastcdc,MIN_EXP,MAX_EXP,MASK_BITS[,NC_LEVEL] or fixed,BLOCK_SIZE[,HEADER_SIZE]"
            ))),
        }
    }
}

impl fmt::Display for ChunkerParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Buzhash {
                min_exp,
                max_exp,
                mask_bits,
                window,
            } => write!(f, "buzhash,{min_exp},{max_exp},{mask_bits},{window}"),
            Self::FastCdc {
                min_exp,
                max_exp,
                mask_bits,
                nc_level,
            } => write!(f, "fastcdc,{min_exp},{max_exp},{mask_bits},{nc_level}"),
            Self::Fixed {
                block_size,
                header_size: 0,
            } => write!(f, "fixed,{block_size}"),
            Self::Fixed {
                block_size,
                header_size,
            } => write!(f, "fixed,{block_size},{header_size}"),
        }
    }
}
